//! Segmentation training pieces: the U-Net learner model (here), the BCE + Dice loss
//! ([`loss`]), the Dice, IoU, pixel-accuracy and instance metrics ([`metrics`]), and the
//! predictions drawn as overlays ([`render`]).

use std::sync::{Arc, OnceLock};

use burn::module::Module;
use burn::tensor::Tensor;
use burn::train::metric::{Adaptor, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use skipnet_data::batch::SegmentationBatch;
use skipnet_models::UNet;

use crate::classification::{ScaledLoss, scaled_backward};
use crate::instances::InstanceMatch;

pub mod loss;
pub mod metrics;
pub mod render;

pub use loss::{bce_dice_loss, weighted_bce_dice_loss};
pub use metrics::*;
pub use render::{mask_logits, score_masks, write_object_overlays, write_overlays};

/// What one segmentation step yields for the metrics.
#[derive(Debug, Clone)]
pub struct SegmentationOutput {
    /// The loss, `[1]`.
    pub loss: Tensor<1>,
    /// Per-pixel logits, `[batch, 1, height, width]`.
    pub logits: Tensor<4>,
    /// True masks of 0/1, `[batch, 1, height, width]`.
    pub masks: Tensor<4>,
    /// True object ids, row-major `[batch, height, width]`, when the batch carries them.
    pub instances: Option<Arc<Vec<u32>>>,
    /// The images' object matches, computed once by whichever instance metric comes first.
    pub instance_matches: Arc<OnceLock<Vec<InstanceMatch>>>,
}

impl ItemLazy for SegmentationOutput {
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        self.loss.device().flush()?;
        Ok(self)
    }
}

impl Adaptor<LossInput> for SegmentationOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

/// U-Net as a burn-train learner model.
#[derive(Module, Debug)]
pub struct SegmentationModel {
    /// The network.
    pub unet: UNet,
    /// Factor of the loss in the backward pass only (1 = none; see [`ScaledLoss`]).
    pub loss_scale: f64,
}

impl SegmentationModel {
    /// The learner model of `unet`.
    pub fn new(unet: UNet) -> Self {
        Self {
            unet,
            loss_scale: 1.0,
        }
    }

    /// Forward pass and loss of one batch.
    pub fn forward_step(&self, batch: SegmentationBatch) -> SegmentationOutput {
        let logits = self.unet.forward(batch.images);
        let loss = weighted_bce_dice_loss(logits.clone(), batch.masks.clone(), batch.weights);
        SegmentationOutput {
            loss,
            logits,
            masks: batch.masks,
            instances: batch.instances,
            instance_matches: Arc::default(),
        }
    }
}

impl TrainStep for SegmentationModel {
    type Input = SegmentationBatch;
    type Output = SegmentationOutput;

    fn step(&self, batch: SegmentationBatch) -> TrainOutput<SegmentationOutput> {
        let output = self.forward_step(batch);
        TrainOutput::new(self, scaled_backward(&output.loss, self.loss_scale), output)
    }
}

impl ScaledLoss for SegmentationModel {
    fn with_loss_scale(mut self, scale: f64) -> Self {
        self.loss_scale = scale;
        self
    }
}

impl crate::classification::FreezeBackbone for SegmentationModel {
    /// U-Net has no classifier: every parameter always trains (the spec refuses a freeze for
    /// segmentation).
    fn with_frozen_backbone(self, _frozen_steps: usize, _steps_taken: usize) -> Self {
        self
    }
}

impl InferenceStep for SegmentationModel {
    type Input = SegmentationBatch;
    type Output = SegmentationOutput;

    fn step(&self, batch: SegmentationBatch) -> SegmentationOutput {
        self.forward_step(batch)
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::tensor::activation::sigmoid;
    use burn::tensor::{Device, Tolerance};

    fn t(values: [[f32; 4]; 1], device: &Device) -> Tensor<4> {
        Tensor::<2>::from_floats(values, device).reshape([1, 1, 2, 2])
    }

    #[test]
    fn unit_weights_are_the_plain_loss_and_weights_shift_the_emphasis() {
        let device = Device::flex();
        let logits = t([[2.0, -1.0, 0.5, -3.0]], &device);
        let masks = t([[1.0, 1.0, 0.0, 0.0]], &device);
        let plain = bce_dice_loss(logits.clone(), masks.clone());
        let ones = weighted_bce_dice_loss(logits.clone(), masks.clone(), Some(masks.ones_like()));
        plain
            .to_data()
            .assert_approx_eq::<f32>(&ones.to_data(), Tolerance::default());
        // All the weight on the worst pixel (a missed foreground pixel) raises the loss.
        let on_miss = t([[0.0, 1.0, 0.0, 0.0]], &device);
        let weighted = weighted_bce_dice_loss(logits, masks, Some(on_miss));
        let (p, w): (f32, f32) = (plain.into_scalar(), weighted.into_scalar());
        assert!(w > p, "{w} vs {p}");
    }

    #[test]
    fn scores_from_known_counts() {
        let device = Device::flex();
        let logits = t([[5.0, -5.0, 5.0, -5.0]], &device);
        let masks = t([[1.0, 1.0, 0.0, 0.0]], &device);
        let counts = confusion(logits, masks).unwrap();
        assert_eq!(counts, [1.0, 1.0, 1.0, 1.0]);
        assert!((MaskScore::Dice.from_counts(counts) - 50.0).abs() < 1e-9);
        assert!((MaskScore::IoU.from_counts(counts) - 100.0 / 3.0).abs() < 1e-9);
        assert!((MaskScore::PixelAccuracy.from_counts(counts) - 50.0).abs() < 1e-9);
        assert_eq!(MaskScore::Dice.from_counts([0.0, 0.0, 0.0, 4.0]), 100.0);
    }

    #[test]
    fn loss_prefers_the_right_mask_and_punishes_all_background() {
        let device = Device::flex();
        let masks = t([[1.0, 0.0, 0.0, 0.0]], &device);
        let right: f32 =
            bce_dice_loss(t([[8.0, -8.0, -8.0, -8.0]], &device), masks.clone()).into_scalar();
        let background: f32 =
            bce_dice_loss(t([[-8.0, -8.0, -8.0, -8.0]], &device), masks.clone()).into_scalar();
        assert!(right < 0.05, "{right}");
        // All-background has low BCE on 3 of 4 pixels but a Dice term near 1.
        assert!(background > 0.9, "{background}");
        // BCE part matches the textbook formula.
        let x = t([[0.3, -1.2, 2.0, 0.0]], &device);
        let y = t([[1.0, 0.0, 1.0, 0.0]], &device);
        let p = sigmoid(x.clone());
        let reference = (y.clone() * p.clone().log()
            + (y.clone().neg() + 1.0) * (p.clone().neg() + 1.0).log())
        .mean()
        .neg();
        let dice = ((p.clone() * y.clone()).sum() * 2.0 + 1.0) / (p.sum() + y.clone().sum() + 1.0);
        let expected = reference + dice.neg() + 1.0;
        bce_dice_loss(x, y)
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-5));
    }
}
