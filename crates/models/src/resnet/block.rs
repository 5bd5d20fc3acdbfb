//! Residual blocks: [`BasicBlock`] (two 3×3 convolutions) and [`Bottleneck`] (1×1 → 3×3 → 1×1,
//! expansion 4, torchvision's "v1.5" with the stride on the 3×3), each with a [`Shortcut`] that
//! may be turned off to build the *plain* twin of a residual network.

use burn::config::Config;
use burn::module::Module;
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::{MaxPoolOptions, PadMode};
use burn::tensor::{Device, Tensor};

use crate::fold::fold_optional;
use crate::layers::{
    FeatureShape, LayerCost, batch_norm, chain_cost, conv1x1, conv3x3, maybe_norm, zero_gamma,
};

/// What a block adds to the output of its residual branch.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Shortcut {
    /// `x` itself (input and output shapes agree).
    Identity,
    /// He et al. option A: `x` subsampled by the stride and zero-padded with new channels;
    /// parameter-free.
    ZeroPad,
    /// He et al. option B/C: a strided 1×1 convolution (and batch norm) that maps `x` to the
    /// output shape.
    Projection,
    /// No shortcut: the *plain* block, `y = F(x)`.
    None,
}

/// How a network picks each block's [`Shortcut`] (He et al. 2015, §4.1).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ShortcutOption {
    /// Identity where shapes agree, zero-padding identity where they change (parameter-free).
    A,
    /// Identity where shapes agree, projection where they change (torchvision's choice).
    B,
    /// Projection in every block.
    C,
    /// No shortcuts at all: the plain network with the same layers.
    Plain,
}

impl ShortcutOption {
    /// The shortcut of a block that maps `in_channels` to `out_channels` with `stride`.
    pub fn resolve(self, in_channels: usize, out_channels: usize, stride: usize) -> Shortcut {
        let same_shape = in_channels == out_channels && stride == 1;
        match self {
            ShortcutOption::A if same_shape => Shortcut::Identity,
            ShortcutOption::A => Shortcut::ZeroPad,
            ShortcutOption::B if same_shape => Shortcut::Identity,
            ShortcutOption::B | ShortcutOption::C => Shortcut::Projection,
            ShortcutOption::Plain => Shortcut::None,
        }
    }

    /// Whether the blocks add a shortcut at all.
    pub fn is_residual(self) -> bool {
        self != ShortcutOption::Plain
    }
}

/// The projection shortcut: a strided 1×1 convolution followed by a batch norm (torchvision's
/// `downsample`; pre-activation blocks use the convolution alone).
#[derive(Module, Debug)]
pub struct Projection {
    /// 1×1 convolution `[out, in, 1, 1]` with the block's stride.
    pub conv: Conv2d,
    /// Batch norm over the output channels (absent in pre-activation blocks).
    pub bn: Option<BatchNorm>,
}

impl Projection {
    fn new(
        in_channels: usize,
        out_channels: usize,
        stride: usize,
        with_bn: bool,
        device: &Device,
    ) -> Self {
        Self {
            conv: conv1x1(in_channels, out_channels, stride, device),
            bn: with_bn.then(|| batch_norm(out_channels, device)),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, in, height, width]` → `[batch, out, height / stride, width / stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        maybe_norm(self.bn.as_ref(), self.conv.forward(x))
    }

    /// The batch norm folded into the convolution (eval-mode inference; [`crate::fold`]).
    pub fn fold_batch_norm(self) -> Self {
        let (conv, bn) = fold_optional(self.conv, self.bn);
        Self { conv, bn }
    }
}

/// Option A's parameter-free shortcut: keep every `stride`-th pixel, then zero-pad the channel
/// axis symmetrically to `out_channels` (as in the reference CIFAR implementations).
///
/// # Shapes
/// - `x`: `[batch, in, height, width]` → `[batch, out_channels, ⌈height / stride⌉, ⌈width / stride⌉]`
pub fn zero_pad_shortcut(x: Tensor<4>, out_channels: usize, stride: usize) -> Tensor<4> {
    let x = if stride > 1 {
        // A 1×1 max pool with stride s is exactly `x[:, :, ::s, ::s]`.
        max_pool2d(x, MaxPoolOptions::new([1, 1]).with_stride([stride, stride]))
    } else {
        x
    };
    let in_channels = x.dims()[1];
    if out_channels <= in_channels {
        return x;
    }
    let extra = out_channels - in_channels;
    let before = extra / 2;
    x.pad(
        [(before, extra - before), (0, 0), (0, 0)],
        PadMode::Constant(0.0),
    )
}

/// Builds the projection a block needs for `kind` (none unless [`Shortcut::Projection`]).
fn downsample_for(
    kind: Shortcut,
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    preact: bool,
    device: &Device,
) -> Option<Projection> {
    (kind == Shortcut::Projection)
        .then(|| Projection::new(in_channels, out_channels, stride, !preact, device))
}

/// Applies the shortcut `kind` to `x` (the block input, or its pre-activation for projections
/// in pre-activation blocks); `None` for a plain block.
fn apply_shortcut(
    kind: Shortcut,
    downsample: Option<&Projection>,
    x: Tensor<4>,
    out_channels: usize,
    stride: usize,
) -> Option<Tensor<4>> {
    match kind {
        Shortcut::Identity => Some(x),
        Shortcut::ZeroPad => Some(zero_pad_shortcut(x, out_channels, stride)),
        Shortcut::Projection => downsample.map(|p| p.forward(x)),
        Shortcut::None => None,
    }
}

fn downsample_cost(downsample: Option<&Projection>, out: FeatureShape) -> u64 {
    downsample
        .map(|p| p.conv.weight.shape().num_elements() as u64 * (out[1] * out[2]) as u64)
        .unwrap_or(0)
}

fn add_shortcut(branch: Tensor<4>, shortcut: Option<Tensor<4>>) -> Tensor<4> {
    match shortcut {
        Some(s) => branch + s,
        None => branch,
    }
}

/// Configuration of a [`BasicBlock`].
#[derive(Config, Debug, PartialEq)]
pub struct BasicBlockConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Stride of the first 3×3 convolution (and of the shortcut).
    #[config(default = 1)]
    pub stride: usize,
    /// How the shortcut is chosen.
    #[config(default = "ShortcutOption::B")]
    pub shortcut: ShortcutOption,
    /// Pre-activation ordering (He et al. 2016): BN → ReLU → conv, no ReLU after the addition.
    #[config(default = false)]
    pub preact: bool,
    /// Start the last batch norm's γ at zero, so that the block starts as its shortcut.
    #[config(default = false)]
    pub zero_init_residual: bool,
    /// Batch norms in the block (and its projection); `false` builds the block without any,
    /// for experiments on what normalisation does.
    #[config(default = true)]
    pub batch_norm: bool,
}

impl BasicBlockConfig {
    /// Builds the block on `device`.
    pub fn init(&self, device: &Device) -> BasicBlock {
        let (i, o, s) = (self.in_channels, self.out_channels, self.stride);
        let bn = self.batch_norm;
        let bn2 = batch_norm(o, device);
        let zero_last = self.zero_init_residual && !self.preact;
        let shortcut = self.shortcut.resolve(i, o, s);
        BasicBlock {
            conv1: conv3x3(i, o, s, 1, device),
            bn1: bn.then(|| batch_norm(if self.preact { i } else { o }, device)),
            conv2: conv3x3(o, o, 1, 1, device),
            bn2: bn.then(|| if zero_last { zero_gamma(bn2) } else { bn2 }),
            downsample: downsample_for(shortcut, i, o, s, self.preact || !bn, device),
            shortcut,
            stride: s,
            preact: self.preact,
        }
    }
}

/// The two-layer residual block of ResNet-18/34 and the CIFAR ResNets.
///
/// Post-activation (default): `y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.
/// Pre-activation: `y = conv2(relu(bn2(conv1(relu(bn1(x)))))) + shortcut(x)`.
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// 3×3 convolution `in → out`, strided.
    pub conv1: Conv2d,
    /// Batch norm after `conv1` (before it, over `in` channels, in pre-activation blocks);
    /// absent in a block built without batch norm.
    pub bn1: Option<BatchNorm>,
    /// 3×3 convolution `out → out`.
    pub conv2: Conv2d,
    /// Batch norm after `conv2` (before it in pre-activation blocks).
    pub bn2: Option<BatchNorm>,
    /// The projection shortcut (torchvision's `downsample`), for [`Shortcut::Projection`] only.
    pub downsample: Option<Projection>,
    /// Which shortcut the block adds.
    #[module(skip)]
    pub shortcut: Shortcut,
    /// Stride of the block.
    pub stride: usize,
    /// Whether the block is pre-activation.
    pub preact: bool,
}

impl BasicBlock {
    fn apply_shortcut(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        let out_channels = self.conv2.weight.shape().dims::<4>()[0];
        apply_shortcut(
            self.shortcut,
            self.downsample.as_ref(),
            x,
            out_channels,
            self.stride,
        )
    }

    /// # Shapes
    /// - `x`: `[batch, in, height, width]` → `[batch, out, ⌈height / stride⌉, ⌈width / stride⌉]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.preact {
            let pre = relu(maybe_norm(self.bn1.as_ref(), x.clone()));
            let shortcut = self.apply_shortcut(match self.shortcut {
                Shortcut::Projection => pre.clone(),
                _ => x,
            });
            let out = self.conv1.forward(pre);
            let out = self.conv2.forward(relu(maybe_norm(self.bn2.as_ref(), out)));
            add_shortcut(out, shortcut)
        } else {
            let shortcut = match self.shortcut {
                Shortcut::None => None,
                _ => self.apply_shortcut(x.clone()),
            };
            let out = relu(maybe_norm(self.bn1.as_ref(), self.conv1.forward(x)));
            let out = maybe_norm(self.bn2.as_ref(), self.conv2.forward(out));
            relu(add_shortcut(out, shortcut))
        }
    }
}

impl BasicBlock {
    /// Every batch norm that follows a convolution folded into it (eval-mode inference;
    /// [`crate::fold`]): `bn1` and `bn2` in a post-activation block; in a pre-activation block
    /// `bn2` (after `conv1`), while `bn1`, which a ReLU separates from `conv1`, stays.
    pub fn fold_batch_norm(mut self) -> Self {
        if self.preact {
            (self.conv1, self.bn2) = fold_optional(self.conv1, self.bn2);
        } else {
            (self.conv1, self.bn1) = fold_optional(self.conv1, self.bn1);
            (self.conv2, self.bn2) = fold_optional(self.conv2, self.bn2);
        }
        self.downsample = self.downsample.map(Projection::fold_batch_norm);
        self
    }
}

impl LayerCost for BasicBlock {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        let (out, flops) = chain_cost(input, [&self.conv1 as &dyn LayerCost, &self.conv2]);
        let shortcut = downsample_cost(self.downsample.as_ref(), out);
        (out, flops + shortcut)
    }
}

/// Configuration of a [`Bottleneck`] block.
#[derive(Config, Debug, PartialEq)]
pub struct BottleneckConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Planes: the block outputs `planes * 4` channels.
    pub planes: usize,
    /// Stride of the 3×3 convolution (torchvision v1.5) and of the shortcut.
    #[config(default = 1)]
    pub stride: usize,
    /// Groups of the 3×3 convolution (32 for ResNeXt-50 32×4d).
    #[config(default = 1)]
    pub groups: usize,
    /// Width per group (64 for ResNet, 4 for ResNeXt 32×4d, 128 for Wide ResNet-50-2).
    #[config(default = 64)]
    pub base_width: usize,
    /// How the shortcut is chosen.
    #[config(default = "ShortcutOption::B")]
    pub shortcut: ShortcutOption,
    /// Pre-activation ordering (He et al. 2016).
    #[config(default = false)]
    pub preact: bool,
    /// Start the last batch norm's γ at zero.
    #[config(default = false)]
    pub zero_init_residual: bool,
}

impl BottleneckConfig {
    /// Channel expansion of the last 1×1 convolution.
    pub const EXPANSION: usize = 4;

    /// Width of the inner 3×3 convolution, as torchvision computes it.
    pub fn width(&self) -> usize {
        (self.planes * self.base_width / 64) * self.groups
    }

    /// Builds the block on `device`.
    pub fn init(&self, device: &Device) -> Bottleneck {
        let (i, s) = (self.in_channels, self.stride);
        let width = self.width();
        let out = self.planes * Self::EXPANSION;
        let bn3 = batch_norm(if self.preact { width } else { out }, device);
        let zero_last = self.zero_init_residual && !self.preact;
        let shortcut = self.shortcut.resolve(i, out, s);
        Bottleneck {
            conv1: conv1x1(i, width, 1, device),
            bn1: Some(batch_norm(if self.preact { i } else { width }, device)),
            conv2: conv3x3(width, width, s, self.groups, device),
            bn2: Some(batch_norm(width, device)),
            conv3: conv1x1(width, out, 1, device),
            bn3: Some(if zero_last { zero_gamma(bn3) } else { bn3 }),
            downsample: downsample_for(shortcut, i, out, s, self.preact, device),
            shortcut,
            stride: s,
            preact: self.preact,
        }
    }
}

/// The three-layer residual block of ResNet-50/101/152, ResNeXt and Wide ResNet:
/// 1×1 (reduce) → 3×3 (strided, grouped) → 1×1 (expand ×4), each followed by batch norm.
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// 1×1 convolution `in → width`.
    pub conv1: Conv2d,
    /// Batch norm after `conv1` (before it in pre-activation blocks); `None` once folded
    /// into `conv1` ([`Bottleneck::fold_batch_norm`]).
    pub bn1: Option<BatchNorm>,
    /// 3×3 convolution `width → width`, strided and grouped.
    pub conv2: Conv2d,
    /// Batch norm after `conv2` (before it in pre-activation blocks); `None` once folded.
    pub bn2: Option<BatchNorm>,
    /// 1×1 convolution `width → 4·planes`.
    pub conv3: Conv2d,
    /// Batch norm after `conv3` (before it in pre-activation blocks); `None` once folded.
    pub bn3: Option<BatchNorm>,
    /// The projection shortcut (torchvision's `downsample`), for [`Shortcut::Projection`] only.
    pub downsample: Option<Projection>,
    /// Which shortcut the block adds.
    #[module(skip)]
    pub shortcut: Shortcut,
    /// Stride of the block.
    pub stride: usize,
    /// Whether the block is pre-activation.
    pub preact: bool,
}

impl Bottleneck {
    fn apply_shortcut(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        let out_channels = self.conv3.weight.shape().dims::<4>()[0];
        apply_shortcut(
            self.shortcut,
            self.downsample.as_ref(),
            x,
            out_channels,
            self.stride,
        )
    }

    /// # Shapes
    /// - `x`: `[batch, in, height, width]` → `[batch, 4·planes, ⌈height / stride⌉, ⌈width / stride⌉]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.preact {
            let pre = relu(maybe_norm(self.bn1.as_ref(), x.clone()));
            let shortcut = self.apply_shortcut(match self.shortcut {
                Shortcut::Projection => pre.clone(),
                _ => x,
            });
            let out = self.conv1.forward(pre);
            let out = self.conv2.forward(relu(maybe_norm(self.bn2.as_ref(), out)));
            let out = self.conv3.forward(relu(maybe_norm(self.bn3.as_ref(), out)));
            add_shortcut(out, shortcut)
        } else {
            let shortcut = match self.shortcut {
                Shortcut::None => None,
                _ => self.apply_shortcut(x.clone()),
            };
            let out = relu(maybe_norm(self.bn1.as_ref(), self.conv1.forward(x)));
            let out = relu(maybe_norm(self.bn2.as_ref(), self.conv2.forward(out)));
            let out = maybe_norm(self.bn3.as_ref(), self.conv3.forward(out));
            relu(add_shortcut(out, shortcut))
        }
    }
}

impl Bottleneck {
    /// Every batch norm that follows a convolution folded into it (eval-mode inference;
    /// [`crate::fold`]): all three in a post-activation block; `bn2` and `bn3` (after `conv1`
    /// and `conv2`) in a pre-activation block, whose `bn1` stays.
    pub fn fold_batch_norm(mut self) -> Self {
        if self.preact {
            (self.conv1, self.bn2) = fold_optional(self.conv1, self.bn2);
            (self.conv2, self.bn3) = fold_optional(self.conv2, self.bn3);
        } else {
            (self.conv1, self.bn1) = fold_optional(self.conv1, self.bn1);
            (self.conv2, self.bn2) = fold_optional(self.conv2, self.bn2);
            (self.conv3, self.bn3) = fold_optional(self.conv3, self.bn3);
        }
        self.downsample = self.downsample.map(Projection::fold_batch_norm);
        self
    }
}

impl LayerCost for Bottleneck {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        let (out, flops) = chain_cost(
            input,
            [&self.conv1 as &dyn LayerCost, &self.conv2, &self.conv3],
        );
        let shortcut = downsample_cost(self.downsample.as_ref(), out);
        (out, flops + shortcut)
    }
}

/// Either kind of residual block, so that one network type serves every depth.
// Blocks are built once; boxing the larger variant would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ResidualBlock {
    /// Two 3×3 convolutions.
    Basic(BasicBlock),
    /// 1×1 → 3×3 → 1×1.
    Bottleneck(Bottleneck),
}

impl ResidualBlock {
    /// # Shapes
    /// - `x`: `[batch, in, height, width]` → `[batch, out, height / stride, width / stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            ResidualBlock::Basic(b) => b.forward(x),
            ResidualBlock::Bottleneck(b) => b.forward(x),
        }
    }
}

impl ResidualBlock {
    /// The block with its batch norms folded (eval-mode inference; [`crate::fold`]).
    pub fn fold_batch_norm(self) -> Self {
        match self {
            ResidualBlock::Basic(b) => ResidualBlock::Basic(b.fold_batch_norm()),
            ResidualBlock::Bottleneck(b) => ResidualBlock::Bottleneck(b.fold_batch_norm()),
        }
    }
}

impl LayerCost for ResidualBlock {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        match self {
            ResidualBlock::Basic(b) => b.cost(input),
            ResidualBlock::Bottleneck(b) => b.cost(input),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::trainable_params;
    use crate::test_util::{assert_all_params_get_grads, device};
    use burn::tensor::{Distribution, Tolerance};

    #[test]
    fn basic_block_shapes_for_every_shortcut() {
        let device = device();
        for option in [
            ShortcutOption::A,
            ShortcutOption::B,
            ShortcutOption::C,
            ShortcutOption::Plain,
        ] {
            let block = BasicBlockConfig::new(4, 8)
                .with_stride(2)
                .with_shortcut(option)
                .init(&device);
            let y = block.forward(Tensor::random([2, 4, 7, 7], Distribution::Default, &device));
            assert_eq!(y.dims(), [2, 8, 4, 4], "{option:?}");
            assert_eq!(block.cost([4, 7, 7]).0, [8, 4, 4]);
        }
    }

    #[test]
    fn projection_only_where_needed() {
        let device = device();
        let same = BasicBlockConfig::new(8, 8).init(&device);
        assert_eq!(same.shortcut, Shortcut::Identity);
        assert!(same.downsample.is_none());
        let down = BasicBlockConfig::new(8, 8).with_stride(2).init(&device);
        assert_eq!(down.shortcut, Shortcut::Projection);
        let a = BasicBlockConfig::new(8, 16)
            .with_shortcut(ShortcutOption::A)
            .init(&device);
        assert_eq!(a.shortcut, Shortcut::ZeroPad);
        // Option A adds no parameters: same count as the plain block.
        let plain = BasicBlockConfig::new(8, 16)
            .with_shortcut(ShortcutOption::Plain)
            .init(&device);
        assert_eq!(trainable_params(&a), trainable_params(&plain));
    }

    #[test]
    fn zero_pad_shortcut_subsamples_and_pads_channels() {
        let device = device();
        let x = Tensor::<1, burn::tensor::Int>::arange(0..16, &device)
            .float()
            .reshape([1, 1, 4, 4]);
        let y = zero_pad_shortcut(x, 3, 2);
        assert_eq!(y.dims(), [1, 3, 2, 2]);
        let expected = Tensor::<4>::from_floats(
            [[
                [[0.0, 0.0], [0.0, 0.0]],
                [[0.0, 2.0], [8.0, 10.0]],
                [[0.0, 0.0], [0.0, 0.0]],
            ]],
            &device,
        );
        y.into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-6));
    }

    /// The seed's "identity is easy": with the last γ at zero, the residual block is the
    /// identity on non-negative input, and the same block without its skip is not.
    #[test]
    fn zero_gamma_block_is_identity_and_plain_twin_is_not() {
        let device = device();
        let x = Tensor::<4>::random([2, 8, 5, 5], Distribution::Uniform(0.0, 3.0), &device);
        for option in [ShortcutOption::A, ShortcutOption::B] {
            let block = BasicBlockConfig::new(8, 8)
                .with_shortcut(option)
                .with_zero_init_residual(true)
                .init(&device);
            let y = block.forward(x.clone());
            y.into_data()
                .assert_approx_eq::<f32>(&x.clone().into_data(), Tolerance::absolute(1e-5));
        }
        let bottleneck = BottleneckConfig::new(32, 8)
            .with_zero_init_residual(true)
            .init(&device);
        let x32 = Tensor::<4>::random([2, 32, 5, 5], Distribution::Uniform(0.0, 3.0), &device);
        bottleneck
            .forward(x32.clone())
            .into_data()
            .assert_approx_eq::<f32>(&x32.into_data(), Tolerance::absolute(1e-5));

        let plain = BasicBlockConfig::new(8, 8)
            .with_shortcut(ShortcutOption::Plain)
            .with_zero_init_residual(true)
            .init(&device);
        let y = plain.forward(x.clone());
        let diff: f32 = (y - x).abs().max().into_scalar();
        assert!(
            diff > 0.1,
            "plain block should not be the identity (max |Δ| = {diff})"
        );
    }

    #[test]
    fn bottleneck_widths_follow_torchvision() {
        let device = device();
        // ResNeXt 32×4d, first stage: width = 64 * 4 / 64 * 32 = 128.
        let cfg = BottleneckConfig::new(64, 64)
            .with_groups(32)
            .with_base_width(4);
        assert_eq!(cfg.width(), 128);
        let block = cfg.init(&device);
        assert_eq!(block.conv2.weight.dims(), [128, 4, 3, 3]);
        assert_eq!(block.conv3.weight.dims(), [256, 128, 1, 1]);
        // Stride sits on the 3×3 (v1.5), not on the first 1×1.
        let strided = BottleneckConfig::new(256, 128).with_stride(2).init(&device);
        assert_eq!(strided.conv1.stride, [1, 1]);
        assert_eq!(strided.conv2.stride, [2, 2]);
        assert!(strided.conv1.bias.is_none() && strided.conv2.bias.is_none());
    }

    #[test]
    fn preact_blocks_run_and_train() {
        let device = device().autodiff();
        for option in [ShortcutOption::A, ShortcutOption::B, ShortcutOption::Plain] {
            let block = BasicBlockConfig::new(4, 8)
                .with_stride(2)
                .with_shortcut(option)
                .with_preact(true)
                .init(&device);
            let x = Tensor::random([2, 4, 6, 6], Distribution::Default, &device);
            let loss = block.forward(x).powi_scalar(2).mean();
            assert_all_params_get_grads(&block, &loss.backward());
        }
        let block = BottleneckConfig::new(8, 4)
            .with_stride(2)
            .with_preact(true)
            .init(&device);
        let x = Tensor::random([2, 8, 6, 6], Distribution::Default, &device);
        let y = block.forward(x);
        assert_eq!(y.dims(), [2, 16, 3, 3]);
        assert_all_params_get_grads(&block, &y.powi_scalar(2).mean().backward());
    }
}
