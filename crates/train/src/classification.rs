//! The classification learner model: any classifier of the zoo with cross-entropy loss.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
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
    /// Factor of the loss in the backward pass only (1 = none; see [`ScaledLoss`]).
    pub loss_scale: f64,
    /// Training steps (counted per device) during which only the classifier is updated
    /// (see [`FreezeBackbone`]).
    pub frozen_steps: usize,
    /// Training steps taken, shared by the clones of this model.
    #[module(skip)]
    steps: Arc<AtomicUsize>,
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
            loss_scale: 1.0,
            frozen_steps: 0,
            steps: Arc::new(AtomicUsize::new(0)),
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
        let mut grads = scaled_backward(&output.loss, self.loss_scale);
        let step = self.steps.fetch_add(1, Ordering::Relaxed);
        let grads = match self.model.classifier() {
            // The backbone's gradients are dropped: the optimiser steps the classifier only.
            Some(head) if step < self.frozen_steps => {
                GradientsParams::from_module(&mut grads, head)
            }
            _ => GradientsParams::from_grads(grads, self),
        };
        TrainOutput {
            grads,
            item: output,
        }
    }
}

/// A learner model that can train its classifier alone for a while (fine-tuning's usual
/// first phase).
pub trait FreezeBackbone {
    /// Only the classifier is updated until `frozen_steps` training steps have been taken;
    /// `steps_taken` have been already (a resumed run).
    fn with_frozen_backbone(self, frozen_steps: usize, steps_taken: usize) -> Self;
}

impl FreezeBackbone for ClassificationModel {
    fn with_frozen_backbone(mut self, frozen_steps: usize, steps_taken: usize) -> Self {
        self.frozen_steps = frozen_steps;
        self.steps = Arc::new(AtomicUsize::new(steps_taken));
        self
    }
}

impl ScaledLoss for ClassificationModel {
    fn with_loss_scale(mut self, scale: f64) -> Self {
        self.loss_scale = scale;
        self
    }
}

/// A learner model whose gradients can be scaled: burn-train's multi-device strategy sums the
/// gradients of its devices, so each device's loss is scaled by 1/devices to average them.
pub trait ScaledLoss {
    /// With the backward pass of `scale × loss` (metrics still see the loss itself).
    fn with_loss_scale(self, scale: f64) -> Self;
}

/// The gradients of `scale × loss` (of `loss` itself, untouched, when `scale` is 1).
pub fn scaled_backward(loss: &burn::tensor::Tensor<1>, scale: f64) -> burn::tensor::Gradients {
    if scale == 1.0 {
        loss.backward()
    } else {
        (loss.clone() * scale).backward()
    }
}

impl InferenceStep for ClassificationModel {
    type Input = ClassificationBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ClassificationBatch) -> ClassificationOutput {
        self.forward_step(batch)
    }
}
