//! What the backward-kernel tests share (`tch_backward.rs`, `flex_training_kernels.rs`): seeded
//! tensors, the convolution and batch-norm cases run through Burn's autodiff exactly as a
//! training step runs them, a whole network's per-parameter gradients, and the comparisons.
#![allow(dead_code)] // each test file uses part of it

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::module::{batch_norm_train, conv2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use skipnet_models::{Model, ModelConfig, UNetConfig};

/// Deterministic values in [-1, 1) from a seed (the same on every device).
pub fn values(seed: u64, count: usize) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

pub fn tensor<const D: usize>(seed: u64, shape: [usize; D], device: &Device) -> Tensor<D> {
    let count = shape.iter().product();
    Tensor::from_data(TensorData::new(values(seed, count), shape), device)
}

pub fn flat<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Largest |a − b| over the largest |b| (at least 1): the per-operation check.
pub fn max_relative_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let max_diff = a
        .iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    max_diff / scale
}

/// Per-operation tolerance: largest |tested − reference| over the largest |reference| value
/// (at least 1; a sum over a 3×3×64 window of a 32×32 map reaches tens, where f32 reorderings
/// differ in the 6th digit).
pub const TOLERANCE: f32 = 1e-4;

/// Asserts [`max_relative_diff`]`(tested, reference) ≤ TOLERANCE`.
pub fn assert_close(what: &str, tested: &[f32], reference: &[f32]) {
    let relative = max_relative_diff(tested, reference);
    assert!(
        relative <= TOLERANCE,
        "{what}: max |tested − reference| = {relative:.2e} of the largest reference value"
    );
}

/// ‖a − b‖ / ‖b‖ (0 when both are zero): the per-parameter check of whole networks.
pub fn relative_l2(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let diff: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let norm: f64 = b.iter().map(|v| (*v as f64).powi(2)).sum();
    if diff == 0.0 {
        0.0
    } else {
        (diff / norm).sqrt()
    }
}

pub struct ConvCase {
    pub batch: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    pub size: [usize; 2],
    pub kernel: [usize; 2],
    pub options: ConvOptions<2>,
}

#[allow(clippy::too_many_arguments)]
pub fn conv_case(
    batch: usize,
    channels: [usize; 2],
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [(usize, usize); 2],
    dilation: [usize; 2],
    groups: usize,
) -> ConvCase {
    ConvCase {
        batch,
        in_channels: channels[0],
        out_channels: channels[1],
        size,
        kernel,
        options: ConvOptions {
            stride,
            padding,
            dilation,
            groups,
        },
    }
}

/// Listed shapes: a CIFAR ResNet 3×3 layer and a stage's strided first layer, a strided 1×1
/// projection on an odd map, a 7×7 stem, grouped (ResNeXt), depthwise, dilated, non-square
/// kernel and stride, asymmetric padding ("same" for an even kernel), and no padding at a
/// stride that leaves rows unused.
pub fn listed_conv_cases() -> Vec<ConvCase> {
    vec![
        conv_case(
            4,
            [16, 16],
            [32, 32],
            [3, 3],
            [1, 1],
            [(1, 1); 2],
            [1, 1],
            1,
        ),
        conv_case(
            4,
            [16, 32],
            [32, 32],
            [3, 3],
            [2, 2],
            [(1, 1); 2],
            [1, 1],
            1,
        ),
        conv_case(3, [8, 16], [15, 15], [1, 1], [2, 2], [(0, 0); 2], [1, 1], 1),
        conv_case(2, [3, 8], [33, 29], [7, 7], [2, 2], [(3, 3); 2], [1, 1], 1),
        conv_case(2, [8, 16], [11, 13], [3, 3], [1, 1], [(1, 1); 2], [1, 1], 4),
        conv_case(2, [6, 6], [9, 9], [3, 3], [1, 1], [(1, 1); 2], [1, 1], 6),
        conv_case(2, [4, 5], [17, 17], [3, 3], [1, 1], [(2, 2); 2], [2, 2], 1),
        conv_case(
            2,
            [3, 4],
            [10, 12],
            [3, 5],
            [2, 1],
            [(1, 1), (0, 0)],
            [1, 2],
            1,
        ),
        conv_case(
            2,
            [3, 4],
            [8, 9],
            [2, 2],
            [1, 1],
            [(0, 1), (1, 0)],
            [1, 1],
            1,
        ),
        conv_case(2, [4, 4], [10, 10], [3, 3], [3, 3], [(0, 0); 2], [1, 1], 1),
    ]
}

/// Shapes drawn from a seeded generator: groups 1–3, kernels 1–5 per axis, strides 1–3,
/// dilation 1–2, per-side padding 0–2 (often asymmetric), sizes just above the kernel's span.
pub fn random_conv_cases(count: usize) -> Vec<ConvCase> {
    let mut state = 0x5eed_u64;
    let mut draw = |low: usize, high: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        low + (state >> 33) as usize % (high - low + 1)
    };
    (0..count)
        .map(|_| {
            let groups = draw(1, 3);
            let channels = [groups * draw(1, 3), groups * draw(1, 3)];
            let kernel = [draw(1, 5), draw(1, 5)];
            let stride = [draw(1, 3), draw(1, 3)];
            let dilation = [draw(1, 2), draw(1, 2)];
            let padding = [(draw(0, 2), draw(0, 2)), (draw(0, 2), draw(0, 2))];
            let size = std::array::from_fn(|axis| {
                let span = dilation[axis] * (kernel[axis] - 1) + 1;
                span + draw(0, 9)
            });
            conv_case(
                draw(1, 3),
                channels,
                size,
                kernel,
                stride,
                padding,
                dilation,
                groups,
            )
        })
        .collect()
}

pub fn describe(case: &ConvCase) -> String {
    format!(
        "{}×{}×{}×{} k{:?} s{:?} p{:?} d{:?} g{}",
        case.batch,
        case.in_channels,
        case.size[0],
        case.size[1],
        case.kernel,
        case.options.stride,
        case.options.padding,
        case.options.dilation,
        case.options.groups
    )
}

pub const CONV_PARTS: [&str; 4] = ["output", "x gradient", "weight gradient", "bias gradient"];

/// Output, and gradients of x, weight and bias, of `sum(conv2d(x, w, b) · r)` for random `r`.
pub fn conv_gradients(case: &ConvCase, seed: u64, device: &Device) -> [Vec<f32>; 4] {
    let [h, w] = case.size;
    let group_in = case.in_channels / case.options.groups;
    let x = tensor(seed, [case.batch, case.in_channels, h, w], device).require_grad();
    let weight = tensor(
        seed + 1,
        [case.out_channels, group_in, case.kernel[0], case.kernel[1]],
        device,
    )
    .require_grad();
    let bias = tensor(seed + 2, [case.out_channels], device).require_grad();
    let y = conv2d(
        x.clone(),
        weight.clone(),
        Some(bias.clone()),
        case.options.clone(),
    );
    let r = tensor(seed + 3, y.dims(), device);
    let grads = (y.clone() * r).sum().backward();
    [
        flat(y),
        flat(x.grad(&grads).unwrap()),
        flat(weight.grad(&grads).unwrap()),
        flat(bias.grad(&grads).unwrap()),
    ]
}

pub const BATCH_NORM_PARTS: [&str; 6] = [
    "output",
    "mean",
    "variance",
    "x gradient",
    "gamma gradient",
    "beta gradient",
];

/// Output, batch mean and variance, and gradients of x, gamma and beta of training batch norm.
pub fn batch_norm_gradients<const D: usize>(
    shape: [usize; D],
    seed: u64,
    device: &Device,
) -> [Vec<f32>; 6] {
    let channels = shape[1];
    // An offset and spread per channel, so the statistics are not all ~0 and ~1/3.
    let x = (tensor(seed, shape, device) * 3.0 + 0.5).require_grad();
    let gamma = tensor(seed + 1, [channels], device).require_grad();
    let beta = tensor(seed + 2, [channels], device).require_grad();
    let result = batch_norm_train(x.clone(), gamma.clone(), beta.clone(), 1e-5);
    let r = tensor(seed + 3, shape, device);
    let grads = (result.output.clone() * r).sum().backward();
    [
        flat(result.output),
        flat(result.mean),
        flat(result.variance),
        flat(x.grad(&grads).unwrap()),
        flat(gamma.grad(&grads).unwrap()),
        flat(beta.grad(&grads).unwrap()),
    ]
}

/// Every float parameter's gradient, flattened, in visiting order, with its path.
struct GradientVisitor<'a> {
    grads: &'a burn::tensor::Gradients,
    out: Vec<(String, Vec<f32>)>,
    path: Vec<String>,
}

impl ModuleVisitor for GradientVisitor<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = param.val().grad(self.grads) {
            self.out.push((self.path.join("."), flat(grad)));
        }
    }
}

/// A parameter's path and flattened gradient.
pub type ParamGradient = (String, Vec<f32>);

/// Loss and every parameter's gradient of `loss(model(x))` on an autodiff device.
pub fn network_gradients(
    model: &Model,
    x: Tensor<4>,
    loss: impl FnOnce(Tensor<2>) -> Tensor<1>,
) -> (Vec<f32>, Vec<ParamGradient>) {
    let y = match model.forward_classification(x.clone()) {
        Some(logits) => logits,
        None => model.forward_segmentation(x).unwrap().flatten::<2>(1, 3),
    };
    let loss = loss(y);
    let grads = loss.clone().backward();
    let mut visitor = GradientVisitor {
        grads: &grads,
        out: Vec::new(),
        path: Vec::new(),
    };
    model.visit(&mut visitor);
    (flat(loss), visitor.out)
}

/// The networks whole-network checks run: a CIFAR ResNet-20 (the network of `cargo xtask
/// train`; training-mode batch norm), ResNet-18 at 64×64 (7×7 stem, max pooling, 1×1
/// projections) and a small U-Net (transposed convolutions, concatenations, biases before batch
/// norm), with their input shapes.
pub fn check_networks() -> Vec<(&'static str, ModelConfig, [usize; 4])> {
    vec![
        (
            "cifar-resnet20",
            ModelConfig::from_name("cifar-resnet20").unwrap(),
            [8, 3, 32, 32],
        ),
        (
            "resnet18",
            ModelConfig::from_name("resnet18").unwrap(),
            [1, 3, 64, 64],
        ),
        (
            "unet",
            ModelConfig::UNet(UNetConfig::new(3, 1).with_base_width(8).with_depth(3)),
            [4, 3, 24, 24],
        ),
    ]
}

/// One training step's loss: cross-entropy on fixed labels for a classifier, `Σ y · r` for a
/// random `r` for a segmenter (whose output is flattened to `[batch, pixels]`).
pub fn step_loss(name: &str, y: Tensor<2>, device: &Device) -> Tensor<1> {
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::tensor::Int;
    if name == "unet" {
        let r = tensor(901, y.dims(), device).cast(y.dtype());
        return (y * r).sum();
    }
    let [batch, classes] = y.dims();
    let labels: Vec<i64> = (0..batch).map(|i| (i * 7 % classes) as i64).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), device);
    CrossEntropyLossConfig::new()
        .init(device)
        .forward(y, labels)
}

/// How two backends' gradients of the same network compare.
pub struct NetworkComparison {
    pub loss: [f32; 2],
    /// The largest per-parameter ‖a − b‖ / ‖b‖ and its parameter.
    pub worst: (f64, String),
    pub parameters: usize,
    /// Parameters whose gradient is analytically zero (below 1e-5 of the network's largest
    /// gradient norm on the reference side: a bias followed by training-mode batch norm).
    pub zero: usize,
}

/// One training step of `config` on `devices[0]` (the kernels under test) and `devices[1]` (the
/// reference) with the same weights and batch, and the per-parameter comparison of the
/// gradients. Panics if a parameter's path or count differs, or if an analytically zero
/// gradient is not that small on the tested side too.
pub fn compare_network(
    name: &str,
    config: &ModelConfig,
    shape: [usize; 4],
    devices: [&Device; 2],
) -> NetworkComparison {
    // Fixed weights (and inputs): a ReLU input or a max-pool pair within rounding of each
    // other can land on either side on two backends and route a gradient elsewhere — a
    // legitimate float difference that moved ResNet-18's stem gradient by ~2e-2 in some f32
    // random inits here — so every check runs on one fixed draw.
    devices[0].seed(7);
    let model = config.init(devices[0]).unwrap();
    let models = [model.clone(), model.fork(devices[1])];
    let results: Vec<_> = models
        .iter()
        .zip(devices)
        .map(|(model, device)| {
            let x = tensor(900, shape, device).cast(model_dtype(model));
            network_gradients(model, x, |y| step_loss(name, y, device))
        })
        .collect();
    let (tested_loss, tested) = &results[0];
    let (reference_loss, reference) = &results[1];
    assert_eq!(tested.len(), reference.len(), "{name}: gradient count");
    assert!(tested.len() > 10, "{name}: {} gradients", tested.len());
    let l2 = |g: &[f32]| g.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
    let scale = reference.iter().map(|(_, g)| l2(g)).fold(0.0f64, f64::max);
    let mut worst = (0.0f64, String::new());
    let mut zero = 0;
    for ((path, a), (other, b)) in tested.iter().zip(reference) {
        assert_eq!(path, other, "{name}: parameter order");
        if l2(b) < 1e-5 * scale {
            zero += 1;
            assert!(
                l2(a) < 1e-5 * scale,
                "{name}: {path}: gradient norm {:.2e} where the reference's is {:.2e} \
                 (network's largest {scale:.2e})",
                l2(a),
                l2(b)
            );
            continue;
        }
        let relative = relative_l2(a, b);
        if relative >= worst.0 {
            worst = (relative, path.clone());
        }
    }
    NetworkComparison {
        loss: [tested_loss[0], reference_loss[0]],
        worst,
        parameters: tested.len(),
        zero,
    }
}

/// The float dtype a model's parameters have (its first parameter's).
fn model_dtype(model: &Model) -> burn::tensor::DType {
    struct First(Option<burn::tensor::DType>);
    impl ModuleVisitor for First {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.get_or_insert(param.val().dtype());
        }
    }
    let mut first = First(None);
    model.visit(&mut first);
    first.0.expect("a model with parameters")
}
