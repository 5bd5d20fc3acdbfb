//! U-Net (Ronneberger et al. 2015) as the seed builds it: an encoder of double-conv blocks
//! (3×3 conv → BN → ReLU, twice) with 2×2 max pooling, a bottleneck, and a decoder that
//! upsamples (transposed convolution, or bilinear + 1×1), concatenates the encoder's skip
//! features, and applies a double-conv block; a 1×1 convolution gives the logits.
//!
//! Any input size works: the input is zero-padded to a multiple of `2^depth` and the output is
//! cropped back, so a 500×500 image gives a 500×500 mask.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions, PadMode};
use burn::tensor::{Device, Tensor};

use crate::error::{ModelError, ensure_positive};
use crate::fold::{fold_each, fold_optional};
#[cfg(feature = "interop")]
use crate::interop::TorchLayout;
use crate::layers::{FeatureShape, LayerCost, batch_norm, chain_cost, maybe_norm};
use crate::params::trainable_params;
use crate::registry::{Architecture, Family, Model, ModelConfig, ModelOutput, Task, ZooModel};
use crate::summary::{StageSummary, stage};

/// Configuration of a [`UNet`]. `UNetConfig::new(3, 1)` is the seed's network: 64…1024
/// channels, four levels, transposed-convolution upsampling, 31,043,521 parameters.
#[derive(Config, Debug, PartialEq)]
pub struct UNetConfig {
    /// Channels of the input image.
    pub in_channels: usize,
    /// Output channels (1 for binary segmentation logits, `C` for `C` classes).
    pub out_channels: usize,
    /// Channels of the first level; level `i` has `base_width · 2^i`.
    #[config(default = 64)]
    pub base_width: usize,
    /// Number of down-sampling levels (4 in the paper).
    #[config(default = 4)]
    pub depth: usize,
    /// Upsample with bilinear interpolation + 1×1 convolution instead of a 2×2 transposed
    /// convolution.
    #[config(default = false)]
    pub bilinear: bool,
}

impl UNetConfig {
    /// Checks every value that [`Self::init`] would otherwise panic on.
    pub fn validate(&self) -> Result<(), ModelError> {
        let family = "unet";
        ensure_positive(family, "in_channels", self.in_channels)?;
        ensure_positive(family, "out_channels", self.out_channels)?;
        ensure_positive(family, "base_width", self.base_width)?;
        if self.depth == 0 || self.depth > 8 {
            return Err(ModelError::InvalidDepth {
                family: family.into(),
                depth: self.depth,
                expected: "between 1 and 8 levels".into(),
            });
        }
        Ok(())
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If [`Self::validate`] fails.
    pub fn init(&self, device: &Device) -> UNet {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let width = |level: usize| self.base_width << level;
        let encoders = (0..self.depth)
            .map(|i| {
                let input = if i == 0 {
                    self.in_channels
                } else {
                    width(i - 1)
                };
                DoubleConv::new(input, width(i), device)
            })
            .collect();
        let ups = (0..self.depth)
            .map(|i| {
                let (from, to) = (width(i + 1), width(i));
                if self.bilinear {
                    Upsample::Bilinear(plain_conv(from, to, 1, device))
                } else {
                    Upsample::Transposed(
                        ConvTranspose2dConfig::new([from, to], [2, 2])
                            .with_stride([2, 2])
                            .init(device),
                    )
                }
            })
            .collect();
        let decoders = (0..self.depth)
            .map(|i| DoubleConv::new(width(i + 1), width(i), device))
            .collect();
        UNet {
            encoders,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            bottleneck: DoubleConv::new(width(self.depth - 1), width(self.depth), device),
            ups,
            decoders,
            out: plain_conv(self.base_width, self.out_channels, 1, device),
        }
    }
}

/// A convolution with bias and PyTorch's default initialisation, as the seed's U-Net uses.
fn plain_conv(in_channels: usize, out_channels: usize, kernel: usize, device: &Device) -> Conv2d {
    let pad = kernel / 2;
    Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .init(device)
}

/// `(3×3 conv → BN → ReLU) × 2` — the seed's `conv_block` (`enc1.0`, `enc1.1`, `enc1.3`, `enc1.4`).
#[derive(Module, Debug)]
pub struct DoubleConv {
    /// First 3×3 convolution `in → out` (with bias).
    pub conv1: Conv2d,
    /// Batch norm after `conv1`; `None` once folded into it ([`DoubleConv::fold_batch_norm`]).
    pub bn1: Option<BatchNorm>,
    /// Second 3×3 convolution `out → out` (with bias).
    pub conv2: Conv2d,
    /// Batch norm after `conv2`; `None` once folded into it.
    pub bn2: Option<BatchNorm>,
}

impl DoubleConv {
    fn new(in_channels: usize, out_channels: usize, device: &Device) -> Self {
        Self {
            conv1: plain_conv(in_channels, out_channels, 3, device),
            bn1: Some(batch_norm(out_channels, device)),
            conv2: plain_conv(out_channels, out_channels, 3, device),
            bn2: Some(batch_norm(out_channels, device)),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, in, height, width]` → `[batch, out, height, width]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(maybe_norm(self.bn1.as_ref(), self.conv1.forward(x)));
        relu(maybe_norm(self.bn2.as_ref(), self.conv2.forward(x)))
    }

    /// Both batch norms folded into their convolutions (eval-mode inference; [`crate::fold`]).
    pub fn fold_batch_norm(mut self) -> Self {
        (self.conv1, self.bn1) = fold_optional(self.conv1, self.bn1);
        (self.conv2, self.bn2) = fold_optional(self.conv2, self.bn2);
        self
    }
}

impl LayerCost for DoubleConv {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        chain_cost(input, [&self.conv1 as &dyn LayerCost, &self.conv2])
    }
}

/// How the decoder doubles the resolution (and halves the channels).
#[derive(Module, Debug)]
pub enum Upsample {
    /// 2×2 / stride-2 transposed convolution (the paper's "up-convolution").
    Transposed(ConvTranspose2d),
    /// Bilinear ×2 interpolation followed by a 1×1 convolution.
    Bilinear(Conv2d),
}

impl Upsample {
    /// # Shapes
    /// - `x`: `[batch, 2c, height, width]` → `[batch, c, 2·height, 2·width]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Upsample::Transposed(up) => up.forward(x),
            Upsample::Bilinear(conv) => {
                let [_, _, h, w] = x.dims();
                let options = InterpolateOptions::new(InterpolateMode::Bilinear)
                    .with_align_corners(false)
                    .with_output_size([2 * h, 2 * w]);
                conv.forward(interpolate(x, options))
            }
        }
    }
}

impl LayerCost for Upsample {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        match self {
            Upsample::Transposed(up) => up.cost(input),
            Upsample::Bilinear(conv) => conv.cost([input[0], 2 * input[1], 2 * input[2]]),
        }
    }
}

/// A U-Net. Level `i` (0-based) of the encoder, upsampler and decoder is the seed's
/// `enc{i+1}`, `up{i+1}` and `dec{i+1}`.
#[derive(Module, Debug)]
pub struct UNet {
    /// Encoder blocks, shallowest first.
    pub encoders: Vec<DoubleConv>,
    /// 2×2 max pool between levels.
    pub pool: MaxPool2d,
    /// The deepest block.
    pub bottleneck: DoubleConv,
    /// Upsamplers, shallowest first (`ups[i]` maps level `i+1` to level `i`).
    pub ups: Vec<Upsample>,
    /// Decoder blocks, shallowest first.
    pub decoders: Vec<DoubleConv>,
    /// 1×1 output convolution (with bias).
    pub out: Conv2d,
}

impl UNet {
    /// Every batch norm folded into the convolution before it, for eval-mode inference
    /// ([`crate::fold`]): both of each encoder, decoder and the bottleneck.
    pub fn fold_batch_norm(mut self) -> Self {
        fold_each(&mut self.encoders, DoubleConv::fold_batch_norm);
        fold_each(&mut self.decoders, DoubleConv::fold_batch_norm);
        self.bottleneck = self.bottleneck.fold_batch_norm();
        self
    }

    /// Levels of down-sampling.
    pub fn depth(&self) -> usize {
        self.encoders.len()
    }

    /// Input channels the network expects.
    pub fn in_channels(&self) -> usize {
        self.encoders[0].conv1.weight.shape().dims::<4>()[1]
    }

    /// Checks that an input of `[channels, height, width]` fits: the right channel count and at
    /// least `2^depth` pixels on each side, so the bottleneck keeps at least one pixel.
    pub fn check_input(&self, input: FeatureShape) -> Result<(), ModelError> {
        let min = 1usize << self.depth();
        if input[0] != self.in_channels() || input[1] < min || input[2] < min {
            return Err(ModelError::input(
                "unet",
                input,
                format!(
                    "{} channels and at least {min}×{min} pixels for depth {}",
                    self.in_channels(),
                    self.depth()
                ),
            ));
        }
        Ok(())
    }

    /// Per-pixel logits at the input's resolution.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, height, width]` (any size) → `[batch, out_channels, height, width]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [batch, _, height, width] = x.dims();
        let multiple = 1usize << self.depth();
        let pad_h = height.next_multiple_of(multiple) - height;
        let pad_w = width.next_multiple_of(multiple) - width;
        let mut x = if pad_h > 0 || pad_w > 0 {
            x.pad((0, pad_w, 0, pad_h), PadMode::Constant(0.0))
        } else {
            x
        };
        let mut skips = Vec::with_capacity(self.depth());
        for encoder in &self.encoders {
            let features = encoder.forward(x);
            x = self.pool.forward(features.clone());
            skips.push(features);
        }
        x = self.bottleneck.forward(x);
        for ((up, decoder), skip) in self.ups.iter().zip(&self.decoders).zip(skips).rev() {
            x = decoder.forward(Tensor::cat(vec![up.forward(x), skip], 1));
        }
        let logits = self.out.forward(x);
        if pad_h > 0 || pad_w > 0 {
            let channels = logits.dims()[1];
            logits.slice([0..batch, 0..channels, 0..height, 0..width])
        } else {
            logits
        }
    }

    /// Level-by-level output shape, parameters and FLOPs for one input of shape `input`
    /// (padded to a multiple of `2^depth` as [`Self::forward`] does).
    pub fn summary(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError> {
        self.check_input(input)?;
        let multiple = 1usize << self.depth();
        let mut shape = [
            input[0],
            input[1].next_multiple_of(multiple),
            input[2].next_multiple_of(multiple),
        ];
        let mut stages = Vec::new();
        let mut skips = Vec::new();
        for (i, encoder) in self.encoders.iter().enumerate() {
            let (out, flops) = encoder.cost(shape);
            stages.push(stage(
                &format!("enc{}", i + 1),
                out,
                trainable_params(encoder),
                flops,
            ));
            skips.push(out);
            shape = self.pool.cost(out).0;
        }
        let (out, flops) = self.bottleneck.cost(shape);
        stages.push(stage(
            "bottleneck",
            out,
            trainable_params(&self.bottleneck),
            flops,
        ));
        shape = out;
        for (i, (up, decoder)) in self.ups.iter().zip(&self.decoders).enumerate().rev() {
            let (upsampled, up_flops) = up.cost(shape);
            let concat = [upsampled[0] + skips[i][0], upsampled[1], upsampled[2]];
            let (out, dec_flops) = decoder.cost(concat);
            let params = trainable_params(up) + trainable_params(decoder);
            stages.push(stage(
                &format!("up{0}+dec{0}", i + 1),
                out,
                params,
                up_flops + dec_flops,
            ));
            shape = out;
        }
        let (out, flops) = self.out.cost(shape);
        stages.push(stage(
            "out",
            [out[0], input[1], input[2]],
            trainable_params(&self.out),
            flops,
        ));
        Ok(stages)
    }
}

// --- The registry row (crate::registry) ------------------------------------------------------

/// The U-Net of the registry: `unet`, the seed's network (3 → 1 channels, 64…1024 wide).
pub const FAMILY: Family = Family {
    id: "unet",
    patterns: &["unet"],
    listed: &["unet"],
    parse: |name| (name == "unet").then(|| Ok(ModelConfig::UNet(UNetConfig::new(3, 1)))),
};

impl Architecture for UNetConfig {
    fn name(&self) -> String {
        FAMILY.id.to_string()
    }

    fn paper(&self) -> &'static str {
        "Ronneberger et al. 2015, U-Net"
    }

    fn task(&self) -> Task {
        Task::Segmentation
    }

    fn default_input(&self) -> FeatureShape {
        [self.in_channels, 256, 256]
    }

    fn num_classes(&self) -> usize {
        self.out_channels
    }

    fn for_classes(&self, num_classes: usize) -> ModelConfig {
        ModelConfig::UNet(UNetConfig {
            out_channels: num_classes,
            ..self.clone()
        })
    }

    fn for_input(&self, input: FeatureShape) -> ModelConfig {
        ModelConfig::UNet(UNetConfig {
            in_channels: input[0],
            ..self.clone()
        })
    }

    fn check(&self) -> Result<(), ModelError> {
        self.validate()
    }

    fn build(&self, device: &Device) -> Model {
        Model::UNet(self.init(device))
    }
}

impl ZooModel for UNet {
    fn family(&self) -> &'static str {
        FAMILY.id
    }

    fn classifier(&self) -> Option<(&'static str, &Linear)> {
        None
    }

    fn task(&self) -> Task {
        Task::Segmentation
    }

    fn forward_output(&self, x: Tensor<4>) -> ModelOutput {
        ModelOutput::MaskLogits(self.forward(x))
    }

    fn stages(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError> {
        self.summary(input)
    }

    #[cfg(feature = "interop")]
    fn torch_layout(&self) -> TorchLayout {
        TorchLayout::SeedUNet {
            bilinear: self
                .ups
                .first()
                .is_some_and(|up| matches!(up, Upsample::Bilinear(_))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_all_params_get_grads, device};
    use burn::tensor::Distribution;

    #[test]
    fn output_matches_any_input_size() {
        let device = device();
        let net = UNetConfig::new(3, 2)
            .with_base_width(4)
            .with_depth(3)
            .init(&device);
        for (h, w) in [(16, 16), (17, 23), (9, 31)] {
            let x = Tensor::random([1, 3, h, w], Distribution::Default, &device);
            assert_eq!(net.forward(x).dims(), [1, 2, h, w]);
        }
    }

    #[test]
    fn bilinear_variant_runs() {
        let device = device();
        let net = UNetConfig::new(1, 1)
            .with_base_width(4)
            .with_depth(2)
            .with_bilinear(true)
            .init(&device);
        let x = Tensor::random([2, 1, 13, 11], Distribution::Default, &device);
        assert_eq!(net.forward(x).dims(), [2, 1, 13, 11]);
    }

    #[test]
    fn too_small_inputs_and_bad_depths_are_errors() {
        let device = device();
        let net = UNetConfig::new(3, 1).with_base_width(2).init(&device);
        let err = net.check_input([3, 15, 64]).unwrap_err();
        assert!(
            err.to_string()
                .contains("at least 16×16 pixels for depth 4"),
            "{err}"
        );
        assert!(net.check_input([1, 64, 64]).is_err());
        assert!(net.check_input([3, 16, 16]).is_ok());
        assert!(UNetConfig::new(3, 1).with_depth(0).validate().is_err());
        assert!(UNetConfig::new(3, 1).with_depth(9).validate().is_err());
    }

    #[test]
    fn backward_reaches_every_parameter() {
        let device = device().autodiff();
        for bilinear in [false, true] {
            let net = UNetConfig::new(3, 1)
                .with_base_width(2)
                .with_depth(2)
                .with_bilinear(bilinear)
                .init(&device);
            let x = Tensor::random([2, 3, 9, 9], Distribution::Default, &device);
            let loss = net.forward(x).powi_scalar(2).mean();
            assert_all_params_get_grads(&net, &loss.backward());
        }
    }
}
