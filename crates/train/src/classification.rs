//! The classification learner model: any classifier of the zoo with cross-entropy loss.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use skipnet_data::batch::ClassificationBatch;
use skipnet_models::Model;

use crate::error::TrainError;

/// A zoo classifier as a burn-train learner model.
#[derive(Module, Debug)]
pub struct ClassificationModel {
    /// The network (any classification architecture of the registry).
    pub model: Model,
    /// Label smoothing ε of the cross-entropy (0 = none).
    pub label_smoothing: f64,
}

impl ClassificationModel {
    /// Wraps a classifier of the zoo; U-Net (not a classifier) and a label smoothing outside
    /// `[0, 1)` are errors.
    pub fn new(model: Model, label_smoothing: f64) -> Result<Self, TrainError> {
        if model.task() != skipnet_models::Task::Classification {
            return Err(TrainError::invalid(
                "model",
                "a segmentation model cannot be trained as a classifier",
            ));
        }
        if !(0.0..1.0).contains(&label_smoothing) {
            return Err(TrainError::invalid(
                "label smoothing",
                format!("{label_smoothing} must be in [0, 1)"),
            ));
        }
        Ok(Self {
            model,
            label_smoothing,
        })
    }

    /// Logits, loss and targets of one batch.
    ///
    /// # Panics
    /// Never for a model built by [`Self::new`], which accepts classifiers only.
    pub fn forward_step(&self, batch: ClassificationBatch) -> ClassificationOutput {
        let logits = self
            .model
            .forward_classification(batch.images)
            .expect("ClassificationModel wraps a classifier");
        let mut loss = CrossEntropyLossConfig::new();
        if self.label_smoothing > 0.0 {
            loss = loss.with_smoothing(Some(self.label_smoothing as f32));
        }
        let loss = loss
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput {
            loss,
            output: logits,
            targets: batch.targets,
        }
    }
}

impl TrainStep for ClassificationModel {
    type Input = ClassificationBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ClassificationBatch) -> TrainOutput<ClassificationOutput> {
        let output = self.forward_step(batch);
        TrainOutput::new(self, output.loss.backward(), output)
    }
}

impl InferenceStep for ClassificationModel {
    type Input = ClassificationBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ClassificationBatch) -> ClassificationOutput {
        self.forward_step(batch)
    }
}
