//! The two tasks of a run behind one trait, [`RunTask`]: what the opened data fixes in the model
//! and in `config.json`, how the model is checked against the data, the learner and its fit, and
//! what is written after it. [`crate::run`] is written once over it.

use burn::module::Module;
use burn::tensor::Device;
use skipnet_data::batch::{ClassificationBatcher, SegmentationBatcher};
use skipnet_data::registry::DatasetSpec;
use skipnet_data::registry::{ClassificationSplits, SegmentationSplits, Splits};
use skipnet_models::layers::FeatureShape;
use skipnet_models::{Model, Task};

use crate::classification::ClassificationModel;
use crate::error::{Result, TrainError};
use crate::evaluate::{Evaluation, classify_all, evaluate_segmenter, task_mismatch};
use crate::fit::{Fit, fit_classifier, fit_segmenter};
use crate::folder::{ModelRecipe, RunConfig, RunFolder};
use crate::history::EpochRecord;
use crate::metric::MetricKey;
use crate::segmentation::{SegmentationModel, write_overlays};

/// Validation images drawn as overlays after a U-Net run.
pub const OVERLAY_IMAGES: usize = 8;

/// What a task (its opened data) brings to a run.
pub(crate) trait RunTask {
    /// The model's input `[channels, height, width]` (height and width 0: any size) and its
    /// number of outputs, as the data fixes them.
    fn model_shape(&self) -> (FeatureShape, usize);

    /// The model as the data needs it: `model`'s architecture with the data's input channels
    /// (or flattened input size) and outputs.
    fn resolve(&self, model: &skipnet_models::ModelConfig) -> skipnet_models::ModelConfig {
        let (input, outputs) = self.model_shape();
        model.clone().with_input(input).with_num_classes(outputs)
    }

    /// What the data adds to `config.json` besides the model: items, and for a classifier its
    /// input, normalisation and class names.
    fn record(&self, config: &mut RunConfig);

    /// An error now, not mid-epoch, when the data does not fit `model` (input too small, or of
    /// the wrong shape).
    fn check_input(&self, model: &Model, arch: &str) -> Result<()>;

    /// The `[channels, height, width]` of the inputs the model trains on (for a segmenter the
    /// smallest: its crop, or its first training image), for timing a step before a run.
    fn step_input(&self) -> FeatureShape;

    /// `3000 train / 500 valid, 10 classes`, for the line that starts the run.
    fn describe(&self) -> String;

    /// Trains `model` and hands back the history and the model in inference mode.
    fn fit(&self, model: Model, device: &Device, fit: &Fit) -> Result<(Vec<EpochRecord>, Model)>;

    /// Scores `model` (in inference mode) on the validation split: a classifier's accuracy
    /// and confusion, a U-Net's pixel and object scores against the Otsu baseline (see
    /// [`crate::evaluate_model`]); a model of the other task is an error.
    fn evaluate(
        &self,
        model: &Model,
        recipe: &ModelRecipe,
        data: &DatasetSpec,
    ) -> Result<Evaluation>;

    /// What a finished run writes besides the model (nothing by default).
    fn after_fit(&self, _model: &Model, _folder: &RunFolder) -> Result<()> {
        Ok(())
    }
}

/// The task of opened data.
pub(crate) fn task_of(splits: &Splits) -> &dyn RunTask {
    match splits {
        Splits::Classification(splits) => splits,
        Splits::Segmentation(splits) => splits,
    }
}

impl RunTask for ClassificationSplits {
    fn model_shape(&self) -> (FeatureShape, usize) {
        (self.input, self.num_classes)
    }

    fn record(&self, config: &mut RunConfig) {
        config.input = Some(self.input);
        config.normalization = Some(self.normalization.clone());
        config.classes = Some(self.class_names.clone());
        [config.train_items, config.valid_items] = [self.train.len(), self.valid.len()];
    }

    fn check_input(&self, model: &Model, arch: &str) -> Result<()> {
        model.summary(arch, self.input)?;
        Ok(())
    }

    fn step_input(&self) -> FeatureShape {
        self.input
    }

    fn evaluate(
        &self,
        model: &Model,
        recipe: &ModelRecipe,
        data: &DatasetSpec,
    ) -> Result<Evaluation> {
        match model.task() {
            Task::Classification => classify_all(model, recipe, data, self),
            Task::Segmentation => Err(task_mismatch(model, data, self.valid.len())),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} train / {} valid, {} classes",
            self.train.len(),
            self.valid.len(),
            self.num_classes
        )
    }

    fn fit(&self, model: Model, device: &Device, fit: &Fit) -> Result<(Vec<EpochRecord>, Model)> {
        let seed = fit.spec.seed();
        let result = fit_classifier(
            ClassificationModel::new(model, fit.spec.label_smoothing)?,
            self.num_classes,
            self.train.clone(),
            self.valid.clone(),
            ClassificationBatcher::with_preprocessing(self.preprocessing.clone(), true, seed),
            ClassificationBatcher::with_preprocessing(self.preprocessing.clone(), false, seed),
            device,
            fit,
        )?;
        Ok((result.history, result.model.model.valid()))
    }
}

impl RunTask for SegmentationSplits {
    fn model_shape(&self) -> (FeatureShape, usize) {
        // One output channel: binary mask logits.
        ([self.channels, 0, 0], 1)
    }

    fn record(&self, config: &mut RunConfig) {
        [config.train_items, config.valid_items] = [self.train.len(), self.valid.len()];
    }

    fn check_input(&self, model: &Model, _arch: &str) -> Result<()> {
        let Model::UNet(net) = model else {
            return Err(TrainError::invalid(
                "`model`",
                format!("a {} model cannot segment", model.family()),
            ));
        };
        net.check_input(self.step_input())?;
        Ok(())
    }

    fn step_input(&self) -> FeatureShape {
        // The smallest image the network will see: the crop, or the first training image.
        let side = match self.crop {
            Some(crop) => [crop, crop],
            None => self
                .train
                .get(0)
                .map(|item| [item.image.height, item.image.width])
                .unwrap_or([0, 0]),
        };
        [self.channels, side[0], side[1]]
    }

    fn evaluate(
        &self,
        model: &Model,
        _recipe: &ModelRecipe,
        data: &DatasetSpec,
    ) -> Result<Evaluation> {
        match model {
            Model::UNet(unet) => evaluate_segmenter(unet, self.valid.as_ref()),
            _ => Err(task_mismatch(model, data, self.valid.len())),
        }
    }

    fn describe(&self) -> String {
        format!("{} train / {} valid", self.train.len(), self.valid.len())
    }

    fn fit(&self, model: Model, device: &Device, fit: &Fit) -> Result<(Vec<EpochRecord>, Model)> {
        let Model::UNet(net) = model else {
            unreachable!("check_input accepted only a U-Net")
        };
        let result = fit_segmenter(
            SegmentationModel::new(net),
            self.train.clone(),
            self.valid.clone(),
            SegmentationBatcher::new(self.channels)
                .with_augmentation(self.crop.map(|s| [s, s]), fit.spec.seed())
                .with_border_weight(fit.spec.border()),
            SegmentationBatcher::new(self.channels).with_instances(),
            device,
            fit,
        )?;
        Ok((result.history, Model::UNet(result.model.unet.valid())))
    }

    /// Validation overlays, and the objects of the validation images against the Otsu
    /// baseline on the same images (`validation.json`).
    fn after_fit(&self, model: &Model, folder: &RunFolder) -> Result<()> {
        let Model::UNet(unet) = model else {
            unreachable!("fit returns a U-Net")
        };
        let overlays = write_overlays(
            unet,
            self.valid.as_ref(),
            OVERLAY_IMAGES,
            &folder.overlays_dir(),
        )?;
        println!(
            "overlays: {overlays} images in {}",
            folder.overlays_dir().display()
        );
        let eval = evaluate_segmenter(unet, self.valid.as_ref())?;
        let path = folder.path().join("validation.json");
        let text = serde_json::to_string_pretty(&eval.to_json())
            .map_err(|e| TrainError::file(&path, format!("cannot serialise: {e}")))?;
        crate::history::write_atomically(&path, text.as_bytes())
            .map_err(|e| TrainError::file(&path, format!("cannot write: {e}")))?;
        println!(
            "validation objects ({} images): F1@0.5 {:.2} %, DSB2018 {:.2} %  |  Otsu \
             baseline: Dice {:.2} %, F1@0.5 {:.2} %, DSB2018 {:.2} %  ({})",
            eval.items,
            eval.value(MetricKey::F1IoU50),
            eval.value(MetricKey::Dsb2018),
            eval.otsu(MetricKey::Dice),
            eval.otsu(MetricKey::F1IoU50),
            eval.otsu(MetricKey::Dsb2018),
            path.display()
        );
        Ok(())
    }
}
