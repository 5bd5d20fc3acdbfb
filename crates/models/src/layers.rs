//! Small building blocks shared by every architecture: torchvision-style convolution constructors
//! and the shape/FLOP arithmetic used by [`crate::summary`].

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d};
use burn::nn::pool::{AvgPool2d, MaxPool2d};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// Shape of one sample as it flows through a network: `[channels, height, width]`.
/// Vector features (after flattening) are written `[features, 1, 1]`.
pub type FeatureShape = [usize; 3];

/// He-normal initialisation in fan-out mode, as torchvision initialises every convolution
/// (`kaiming_normal_(mode="fan_out", nonlinearity="relu")`).
pub(crate) fn he_normal_fan_out() -> Initializer {
    Initializer::KaimingNormal {
        gain: std::f64::consts::SQRT_2,
        fan_out_only: true,
    }
}

/// A square convolution with symmetric zero padding, initialised as torchvision does.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv2d(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    groups: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_groups(groups)
        .with_bias(bias)
        .with_initializer(he_normal_fan_out())
        .init(device)
}

/// 3×3 convolution, padding 1, no bias (it is always followed by a batch norm).
pub(crate) fn conv3x3(
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    conv2d(
        in_channels,
        out_channels,
        3,
        stride,
        1,
        groups,
        false,
        device,
    )
}

/// 1×1 convolution, no padding, no bias.
pub(crate) fn conv1x1(
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    device: &Device,
) -> Conv2d {
    conv2d(in_channels, out_channels, 1, stride, 0, 1, false, device)
}

/// Batch norm with PyTorch's defaults (ε = 1e-5, momentum 0.1), γ = 1 and β = 0.
pub(crate) fn batch_norm(num_features: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(num_features).init(device)
}

/// `bn(x)`, or `x` where the network has no batch norm there (built without, or folded into
/// the convolution before it: [`crate::fold`]).
pub(crate) fn maybe_norm(bn: Option<&BatchNorm>, x: Tensor<4>) -> Tensor<4> {
    match bn {
        Some(bn) => bn.forward(x),
        None => x,
    }
}

/// Sets a batch norm's scale γ to zero, so that the branch it closes starts as the zero map
/// (torchvision's `zero_init_residual`).
pub(crate) fn zero_gamma(mut bn: BatchNorm) -> BatchNorm {
    let device = bn.gamma.val().device();
    let [n] = bn.gamma.shape().dims();
    bn.gamma = Param::from_tensor(Tensor::zeros([n], &device));
    bn
}

fn pool_out(size: usize, kernel: usize, stride: usize, pad: usize, dilation: usize) -> usize {
    let span = dilation * (kernel - 1) + 1;
    if size + 2 * pad < span {
        0
    } else {
        (size + 2 * pad - span) / stride + 1
    }
}

fn explicit_pad(padding: &PaddingConfig2d, kernel: [usize; 2]) -> [usize; 2] {
    match padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, _, _) => [*top, *left],
        PaddingConfig2d::Same => [(kernel[0] - 1) / 2, (kernel[1] - 1) / 2],
    }
}

/// Shape propagation and cost counting, mirroring a module's `forward` for one sample.
///
/// FLOPs are counted as torchvision and most papers count them: multiply-accumulates of
/// convolutions and fully connected layers (one MAC = one "FLOP"); normalisation, activations,
/// pooling and additions are free.
pub trait LayerCost {
    /// Output shape and multiply-accumulate count for one sample of shape `input`.
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64);
}

impl LayerCost for Conv2d {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        let [out_channels, _, kh, kw] = self.weight.shape().dims();
        let [ph, pw] = explicit_pad(&self.padding, [kh, kw]);
        let h = pool_out(input[1], kh, self.stride[0], ph, self.dilation[0]);
        let w = pool_out(input[2], kw, self.stride[1], pw, self.dilation[1]);
        let weights = self.weight.shape().num_elements() as u64;
        ([out_channels, h, w], weights * (h * w) as u64)
    }
}

impl LayerCost for ConvTranspose2d {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        let [_, out_per_group, kh, kw] = self.weight.shape().dims();
        let out_channels = out_per_group * self.groups;
        let h = (input[1] - 1) * self.stride[0] + self.dilation[0] * (kh - 1) + 1
            - 2 * self.padding[0]
            + self.padding_out[0];
        let w = (input[2] - 1) * self.stride[1] + self.dilation[1] * (kw - 1) + 1
            - 2 * self.padding[1]
            + self.padding_out[1];
        // Every input pixel is multiplied by the whole kernel once.
        let weights = self.weight.shape().num_elements() as u64;
        ([out_channels, h, w], weights * (input[1] * input[2]) as u64)
    }
}

impl LayerCost for Linear {
    fn cost(&self, _input: FeatureShape) -> (FeatureShape, u64) {
        // Burn stores the weight as `[d_input, d_output]`.
        let [_, d_output] = self.weight.shape().dims();
        let weights = self.weight.shape().num_elements() as u64;
        ([d_output, 1, 1], weights)
    }
}

impl LayerCost for MaxPool2d {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        let [ph, pw] = explicit_pad(&self.padding, self.kernel_size);
        let h = pool_out(input[1], self.kernel_size[0], self.stride[0], ph, 1);
        let w = pool_out(input[2], self.kernel_size[1], self.stride[1], pw, 1);
        ([input[0], h, w], 0)
    }
}

impl LayerCost for AvgPool2d {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        let [ph, pw] = explicit_pad(&self.padding, self.kernel_size);
        let h = pool_out(input[1], self.kernel_size[0], self.stride[0], ph, 1);
        let w = pool_out(input[2], self.kernel_size[1], self.stride[1], pw, 1);
        ([input[0], h, w], 0)
    }
}

/// Runs `layers` one after another, adding up their costs.
pub(crate) fn chain_cost<'a, I>(input: FeatureShape, layers: I) -> (FeatureShape, u64)
where
    I: IntoIterator<Item = &'a dyn LayerCost>,
{
    layers
        .into_iter()
        .fold((input, 0), |(shape, flops), layer| {
            let (next, f) = layer.cost(shape);
            (next, flops + f)
        })
}
