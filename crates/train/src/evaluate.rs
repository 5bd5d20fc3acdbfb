//! Scoring a model on a dataset's validation split, its images prepared as the model's recipe
//! says (the preset and normalisation of its run): top-1, top-5, per-class accuracy and the
//! confusion matrix of a classifier; pooled pixel metrics and instance metrics of U-Net.

use std::path::{Path, PathBuf};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use skipnet_data::batch::ClassificationBatcher;
use skipnet_data::registry::{DatasetKind, DatasetSpec, open};
use skipnet_models::Model;

use crate::backend::Backend;
use crate::error::{Result, TrainError};
use crate::folder::{ModelRecipe, RunFolder};
use crate::instances::{logit_objects, match_instances, summarise};
use crate::metric::MetricKey;
use crate::segmentation::{MaskScore, mask_logits, pixel_class};
use crate::task::task_of;

/// Images per forward pass when scoring a classifier.
pub const EVAL_BATCH: usize = 64;

/// Scores of a model on a dataset's validation split.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Items scored.
    pub items: usize,
    /// `(metric, value)`, with the keys of `metrics.csv`. A classifier: `loss`, `accuracy`
    /// (top-1 %), `top-5_accuracy` (% , more than five classes) and `mean_class_accuracy` (%,
    /// the mean over the classes present). U-Net: `dice`, `iou`, `pixel_accuracy` (%, pooled
    /// over all pixels), `f1_iou50` and `dsb2018` (%, see [`crate::instances`]), and the same
    /// four for the Otsu-threshold baseline on the same images (`otsu_dice`, `otsu_iou`,
    /// `otsu_f1_iou50`, `otsu_dsb2018`).
    pub metrics: Vec<(String, f64)>,
    /// The model's class names, index = label (empty for U-Net).
    pub classes: Vec<String>,
    /// `confusion[truth][prediction]`: items of each true class by predicted class (empty for
    /// U-Net).
    pub confusion: Vec<Vec<u64>>,
}

impl Evaluation {
    /// The value of `metric` (NaN when not scored).
    pub fn get(&self, metric: &str) -> f64 {
        self.metrics
            .iter()
            .find(|(name, _)| name == metric)
            .map_or(f64::NAN, |(_, v)| *v)
    }

    /// The value of `metric` (NaN if this evaluation has none).
    pub fn value(&self, metric: MetricKey) -> f64 {
        self.get(metric.key())
    }

    /// A U-Net evaluation's figure for the Otsu-threshold baseline on the same images (NaN
    /// for a classifier's).
    pub fn otsu(&self, metric: MetricKey) -> f64 {
        self.get(&metric.otsu())
    }

    /// `(class, items, correct)` of every class with items, in label order.
    pub fn per_class(&self) -> Vec<(String, u64, u64)> {
        self.confusion
            .iter()
            .enumerate()
            .filter(|(_, row)| row.iter().sum::<u64>() > 0)
            .map(|(t, row)| (self.classes[t].clone(), row.iter().sum(), row[t]))
            .collect()
    }

    /// `class,items,correct,accuracy` rows (accuracy in %).
    pub fn per_class_csv(&self) -> String {
        let mut out = String::from("class,items,correct,accuracy\n");
        for (name, items, correct) in self.per_class() {
            let accuracy = 100.0 * correct as f64 / items as f64;
            out.push_str(&format!(
                "{},{items},{correct},{accuracy:.4}\n",
                csv_field(&name)
            ));
        }
        out
    }

    /// The confusion matrix as CSV: a header of predicted classes, then one row per true class
    /// (its name first).
    pub fn confusion_csv(&self) -> String {
        let mut out = String::from("truth\\predicted");
        for name in &self.classes {
            out.push(',');
            out.push_str(&csv_field(name));
        }
        out.push('\n');
        for (name, row) in self.classes.iter().zip(&self.confusion) {
            out.push_str(&csv_field(name));
            for count in row {
                out.push_str(&format!(",{count}"));
            }
            out.push('\n');
        }
        out
    }

    /// Everything as JSON: items, metrics, and per-class accuracy for a classifier.
    pub fn to_json(&self) -> serde_json::Value {
        let metrics: serde_json::Map<String, serde_json::Value> = self
            .metrics
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect();
        let per_class: Vec<serde_json::Value> = self
            .per_class()
            .into_iter()
            .map(|(class, items, correct)| {
                serde_json::json!({
                    "class": class,
                    "items": items,
                    "correct": correct,
                    "accuracy": 100.0 * correct as f64 / items as f64,
                })
            })
            .collect();
        serde_json::json!({
            "items": self.items,
            "metrics": metrics,
            "per_class": per_class,
        })
    }

    /// Writes `confusion.csv`, `confusion.png` (up to [`CONFUSION_PNG_CLASSES`] classes) and
    /// `per_class.csv` of a classifier into `dir`; returns the files written (none for U-Net).
    pub fn write_tables(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        if self.confusion.is_empty() {
            return Ok(Vec::new());
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| TrainError::file(dir, format!("cannot create: {e}")))?;
        let mut written = Vec::new();
        for (name, text) in [
            ("confusion.csv", self.confusion_csv()),
            ("per_class.csv", self.per_class_csv()),
        ] {
            let path = dir.join(name);
            crate::history::write_atomically(&path, text.as_bytes())
                .map_err(|e| TrainError::file(&path, format!("cannot write: {e}")))?;
            written.push(path);
        }
        if self.classes.len() <= CONFUSION_PNG_CLASSES {
            let path = dir.join("confusion.png");
            let title = format!(
                "Confusion matrix: {} items, top-1 {:.2} %",
                self.items,
                self.get("accuracy")
            );
            crate::plots::confusion_matrix(&path, &title, &self.confusion, &self.classes)?;
            written.push(path);
        }
        Ok(written)
    }
}

/// The most classes a confusion-matrix PNG is drawn for (the CSV has any number).
pub const CONFUSION_PNG_CLASSES: usize = 200;

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Loads the final model of `run` on `backend` and scores it on the validation split of
/// `data` (see [`evaluate_model`]).
pub fn evaluate(run: &RunFolder, data: &DatasetSpec, backend: Backend) -> Result<Evaluation> {
    let device = backend.device()?;
    let (model, recipe) = run.load_model(&device)?;
    evaluate_model(&model, &recipe, data)
}

/// Scores `model` (in inference mode, its batch norms folded) on the validation split of
/// `data` — the test split of CIFAR and the IDX datasets, `val/` of an image folder that has
/// one. A classifier's images are prepared by its recipe (preset, input size, normalisation);
/// its class names are matched with the dataset's by name (a dataset class the model does not
/// know is an error).
pub fn evaluate_model(
    model: &Model,
    recipe: &ModelRecipe,
    data: &DatasetSpec,
) -> Result<Evaluation> {
    let mut data = data.clone();
    if let Some(p) = &recipe.preprocessing {
        data.preprocess.get_or_insert(p.preset);
        if data.kind == DatasetKind::Folder {
            data.image_size.get_or_insert(p.input[1]);
        }
        // Only the validation split is scored, and the model brings its normalisation: open
        // the least of the training split (opening measures a normalisation over up to 1,000
        // of its images, decoding each).
        data.train_size = Some(1);
    }
    // Batch norms folded into the convolutions before them: the same eval-mode function with
    // fewer passes (`Model::fold_batch_norm`).
    let model = &model.clone().fold_batch_norm();
    task_of(&open(&data)?).evaluate(model, recipe, &data)
}

/// The error for a model scored on data of another task.
pub(crate) fn task_mismatch(model: &Model, data: &DatasetSpec, items: usize) -> TrainError {
    TrainError::invalid(
        "dataset for the model",
        format!(
            "the model is a {} network; {} is a dataset of another task ({items} items)",
            model.family(),
            data.kind,
        ),
    )
}

/// Scores `unet` on every item of `data`: pooled Dice, IoU and pixel accuracy, F1 at IoU 0.5
/// and the DSB2018 score of its objects, and the same for the Otsu baseline on the same images
/// (see [`Evaluation::metrics`]).
pub fn evaluate_segmenter(
    unet: &skipnet_models::UNet,
    data: &dyn Dataset<skipnet_data::SegmentationItem>,
) -> Result<Evaluation> {
    let mut pooled = [0.0f64; 4];
    let mut matches = Vec::with_capacity(data.len());
    // The Otsu-threshold baseline on the same images.
    let mut otsu_pooled = [0.0f64; 4];
    let mut otsu_matches = Vec::with_capacity(data.len());
    for i in 0..data.len() {
        let item = data
            .get(i)
            .map_err(|e| TrainError::invalid("validation item", format!("{i}: {e}")))?;
        let (h, w) = (item.image.height, item.image.width);
        let logits = mask_logits(unet, &item)?;
        for (logit, truth) in logits.iter().zip(&item.mask) {
            pooled[pixel_class(*logit > 0.0, *truth != 0)] += 1.0;
        }
        // Objects of the truth: its instance ids, else the mask's components.
        let truth = item.instance_ids();
        let (predicted, _) = logit_objects(&logits, h, w);
        matches.push(match_instances(&truth, &predicted));
        let (otsu, otsu_ids) = skipnet_data::labels::otsu_instances(&item.image);
        for (&on, &t) in otsu.iter().zip(&item.mask) {
            otsu_pooled[pixel_class(on, t != 0)] += 1.0;
        }
        otsu_matches.push(match_instances(&truth, &otsu_ids));
    }
    let [f1, dsb] = summarise(&matches);
    let [otsu_f1, otsu_dsb] = summarise(&otsu_matches);
    Ok(Evaluation {
        items: matches.len(),
        metrics: vec![
            ("dice".into(), MaskScore::Dice.from_counts(pooled)),
            ("iou".into(), MaskScore::IoU.from_counts(pooled)),
            (
                "pixel_accuracy".into(),
                MaskScore::PixelAccuracy.from_counts(pooled),
            ),
            ("f1_iou50".into(), 100.0 * f1),
            ("dsb2018".into(), 100.0 * dsb),
            ("otsu_dice".into(), MaskScore::Dice.from_counts(otsu_pooled)),
            ("otsu_iou".into(), MaskScore::IoU.from_counts(otsu_pooled)),
            ("otsu_f1_iou50".into(), 100.0 * otsu_f1),
            ("otsu_dsb2018".into(), 100.0 * otsu_dsb),
        ],
        classes: Vec::new(),
        confusion: Vec::new(),
    })
}

pub(crate) fn classify_all(
    model: &Model,
    recipe: &ModelRecipe,
    data: &DatasetSpec,
    splits: &skipnet_data::registry::ClassificationSplits,
) -> Result<Evaluation> {
    let num_classes = recipe.config.num_classes();
    let preprocessing = recipe
        .preprocessing
        .clone()
        .unwrap_or_else(|| splits.preprocessing.clone());
    if preprocessing.preset != skipnet_data::Preset::Imagenet && splits.input != preprocessing.input
    {
        return Err(TrainError::invalid(
            "dataset for the model",
            format!(
                "the model takes {:?} inputs, {} has {:?}",
                preprocessing.input, data.kind, splits.input
            ),
        ));
    }
    // The dataset's labels in the model's numbering, by class name.
    let classes: Vec<String> = match &recipe.classes {
        Some(names) => names.clone(),
        None if splits.class_names.len() == num_classes => splits.class_names.clone(),
        None => (0..num_classes).map(|i| format!("class {i}")).collect(),
    };
    let label_map: Vec<usize> = if recipe.classes.is_some() {
        splits
            .class_names
            .iter()
            .map(|name| {
                classes.iter().position(|c| c == name).ok_or_else(|| {
                    TrainError::invalid(
                        "dataset for the model",
                        format!(
                            "{} has class '{name}', which the model does not know (its classes: {})",
                            data.kind,
                            classes.join(", ")
                        ),
                    )
                })
            })
            .collect::<Result<_>>()?
    } else if splits.num_classes <= num_classes {
        (0..splits.num_classes).collect()
    } else {
        return Err(TrainError::invalid(
            "dataset for the model",
            format!(
                "{} has {} classes, the model {num_classes}",
                data.kind, splits.num_classes
            ),
        ));
    };
    let device = model_device(model);
    let batcher = ClassificationBatcher::with_preprocessing(preprocessing, false, 0);
    let valid = splits.valid.clone();
    let mut confusion = vec![vec![0u64; num_classes]; num_classes];
    let (mut loss_sum, mut top5) = (0.0f64, 0usize);
    for start in (0..valid.len()).step_by(EVAL_BATCH) {
        let items = (start..(start + EVAL_BATCH).min(valid.len()))
            .map(|i| {
                valid
                    .get(i)
                    .map_err(|e| TrainError::invalid("validation item", format!("{i}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let labels: Vec<usize> = items.iter().map(|item| label_map[item.label]).collect();
        let batch = batcher.batch(items, &device);
        let logits = model
            .forward_classification(batch.images)
            .expect("a classifier")
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| TrainError::Training(format!("cannot read the logits: {e:?}")))?;
        for (row, &truth) in logits.chunks_exact(num_classes).zip(&labels) {
            let max = row.iter().cloned().fold(f32::MIN, f32::max);
            let log_sum = row
                .iter()
                .map(|v| ((v - max) as f64).exp())
                .sum::<f64>()
                .ln();
            loss_sum += log_sum - (row[truth] - max) as f64;
            let predicted = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
                .map_or(0, |(i, _)| i);
            confusion[truth][predicted] += 1;
            // In the top five: fewer than five classes score higher.
            let higher = row.iter().filter(|&&v| v > row[truth]).count();
            if higher < 5 {
                top5 += 1;
            }
        }
    }
    let n = valid.len().max(1) as f64;
    let correct: u64 = (0..num_classes).map(|c| confusion[c][c]).sum();
    let present: Vec<f64> = confusion
        .iter()
        .enumerate()
        .filter(|(_, row)| row.iter().sum::<u64>() > 0)
        .map(|(c, row)| row[c] as f64 / row.iter().sum::<u64>() as f64)
        .collect();
    let mut metrics = vec![
        ("loss".to_string(), loss_sum / n),
        ("accuracy".into(), 100.0 * correct as f64 / n),
    ];
    if num_classes > 5 {
        metrics.push(("top-5_accuracy".into(), 100.0 * top5 as f64 / n));
    }
    metrics.push((
        "mean_class_accuracy".into(),
        100.0 * present.iter().sum::<f64>() / present.len().max(1) as f64,
    ));
    Ok(Evaluation {
        items: valid.len(),
        metrics,
        classes,
        confusion,
    })
}

/// The device a model's parameters live on.
fn model_device(model: &Model) -> burn::tensor::Device {
    use burn::module::Module;
    model
        .devices()
        .into_iter()
        .next()
        .unwrap_or_else(burn::tensor::Device::flex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_name_every_class_and_per_class_accuracy_skips_absent_ones() {
        let eval = Evaluation {
            items: 5,
            metrics: vec![("accuracy".into(), 60.0)],
            classes: vec!["cat".into(), "dog, big".into(), "owl".into()],
            confusion: vec![vec![2, 1, 0], vec![1, 1, 0], vec![0, 0, 0]],
        };
        assert_eq!(
            eval.confusion_csv(),
            "truth\\predicted,cat,\"dog, big\",owl\ncat,2,1,0\n\"dog, big\",1,1,0\nowl,0,0,0\n"
        );
        assert_eq!(
            eval.per_class_csv(),
            "class,items,correct,accuracy\ncat,3,2,66.6667\n\"dog, big\",2,1,50.0000\n"
        );
        let json = eval.to_json();
        assert_eq!(json["per_class"].as_array().unwrap().len(), 2);
        assert_eq!(json["metrics"]["accuracy"], 60.0);
        let dir = tempfile::tempdir().unwrap();
        let files = eval.write_tables(dir.path()).unwrap();
        assert_eq!(files.len(), 3);
        assert!(dir.path().join("confusion.png").is_file());
    }
}
