//! Scoring a finished run on a dataset: the model as saved in its run folder, the input
//! preparation its `config.json` records.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use skipnet_data::batch::ClassificationBatcher;
use skipnet_data::registry::{DatasetSpec, Splits, open};
use skipnet_models::{Model, Task};

use crate::backend::Backend;
use crate::classification::ClassificationModel;
use crate::error::{Result, TrainError};
use crate::folder::RunFolder;
use crate::segmentation::{MaskScore, score_masks};

/// Images per forward pass when scoring a classifier.
pub const EVAL_BATCH: usize = 64;

/// Scores of a model on a dataset's validation split.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Items scored.
    pub items: usize,
    /// `(metric, value)`, with the keys of `metrics.csv`: `loss` and `accuracy` (%) for a
    /// classifier; `dice`, `iou` and `pixel_accuracy` (%, pooled over all pixels) for U-Net.
    pub metrics: Vec<(String, f64)>,
}

impl Evaluation {
    /// The value of `metric` (NaN when not scored).
    pub fn get(&self, metric: &str) -> f64 {
        self.metrics
            .iter()
            .find(|(name, _)| name == metric)
            .map_or(f64::NAN, |(_, v)| *v)
    }
}

/// Loads the final model of `run` on `backend` and scores it on the validation split of
/// `data`, prepared as the run prepared its own data (the recorded normalisation).
pub fn evaluate(run: &RunFolder, data: &DatasetSpec, backend: Backend) -> Result<Evaluation> {
    let device = backend.device()?;
    let (model, recipe) = run.load_model(&device)?;
    match (open(data)?, model) {
        (Splits::Segmentation(splits), Model::UNet(unet)) => {
            let counts = score_masks(&unet, splits.valid.as_ref(), usize::MAX, None)?;
            let pooled = counts.iter().fold([0.0; 4], |mut sum, c| {
                for (s, v) in sum.iter_mut().zip(c) {
                    *s += v;
                }
                sum
            });
            Ok(Evaluation {
                items: counts.len(),
                metrics: vec![
                    ("dice".into(), MaskScore::Dice.from_counts(pooled)),
                    ("iou".into(), MaskScore::IoU.from_counts(pooled)),
                    (
                        "pixel_accuracy".into(),
                        MaskScore::PixelAccuracy.from_counts(pooled),
                    ),
                ],
            })
        }
        (Splits::Classification(splits), model) if model.task() == Task::Classification => {
            let input = recipe.input.unwrap_or(splits.input);
            if input != splits.input {
                return Err(TrainError::invalid(
                    "dataset for the model",
                    format!(
                        "{} was trained on {input:?} inputs, {} has {:?}",
                        run.path().display(),
                        data.kind,
                        splits.input
                    ),
                ));
            }
            let normalization = recipe.normalization.unwrap_or(splits.normalization);
            let batcher = ClassificationBatcher::new(normalization, input[0]);
            let classifier = ClassificationModel::new(model, 0.0)?;
            let valid = splits.valid;
            let (mut loss_sum, mut correct) = (0.0f64, 0usize);
            for start in (0..valid.len()).step_by(EVAL_BATCH) {
                let items = (start..(start + EVAL_BATCH).min(valid.len()))
                    .map(|i| {
                        valid.get(i).map_err(|e| {
                            TrainError::invalid("validation item", format!("{i}: {e}"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let count = items.len();
                let output = classifier.forward_step(batcher.batch(items, &device));
                let loss: f64 = output.loss.into_scalar::<f32>() as f64;
                let hits: i64 = output
                    .output
                    .argmax(1)
                    .flatten::<1>(0, 1)
                    .equal(output.targets)
                    .int()
                    .sum()
                    .into_scalar::<i64>();
                loss_sum += loss * count as f64;
                correct += hits as usize;
            }
            let n = valid.len().max(1) as f64;
            Ok(Evaluation {
                items: valid.len(),
                metrics: vec![
                    ("loss".into(), loss_sum / n),
                    ("accuracy".into(), 100.0 * correct as f64 / n),
                ],
            })
        }
        (splits, model) => Err(TrainError::invalid(
            "dataset for the model",
            format!(
                "{} holds a {} model; {} is a dataset of another task ({} items)",
                run.path().display(),
                model.family(),
                data.kind,
                splits.lens()[1]
            ),
        )),
    }
}
