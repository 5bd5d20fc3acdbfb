//! Batch-norm folding for inference: a convolution followed by a batch norm becomes one
//! convolution with a bias, so an eval-mode forward pass runs one layer where it ran two.
//!
//! In eval mode a batch norm is the per-channel affine map `y = s·(x − μ) + β` with
//! `s = γ / √(σ² + ε)` over its running statistics, so after a convolution `x = W∗z + b`:
//!
//! ```text
//! W'[o] = s[o] · W[o]          b'[o] = s[o] · (b[o] − μ[o]) + β[o]
//! ```
//!
//! Every model of the zoo has `fold_batch_norm(self) -> Self` (and [`crate::Model`] too): it
//! folds each batch norm that directly follows a convolution — post-activation blocks, stems,
//! projection shortcuts, the batch norm after the first convolution of a pre-activation block,
//! DenseNet's stem and the one after each bottleneck 1×1, both of U-Net's per level — and keeps
//! the others, the batch norms that a ReLU or a concatenation separates from any convolution
//! (pre-activation inputs, DenseNet's `norm1` / transitions / `norm5`), as they are. The folded
//! model computes the same function in eval mode (to float rounding; see the tests) and is for
//! inference only: training it would train a network without those batch norms, and its saved
//! weights would have convolution biases torchvision's layout has no place for.

use burn::module::Param;
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

/// `conv` with `bn` (which follows it, in eval mode) folded into its weight and bias.
///
/// # Shapes
/// - `conv.weight`: `[out, in / groups, kh, kw]`; `bn`: `out` features
pub fn fold_conv_bn(mut conv: Conv2d, bn: BatchNorm) -> Conv2d {
    let weight = conv.weight.val();
    let [out, in_per_group, kh, kw] = weight.dims();
    let [features] = bn.gamma.dims();
    assert_eq!(
        out, features,
        "a batch norm over {features} channels cannot follow a convolution with {out} outputs"
    );
    let device = weight.device();
    let mean = bn.running_mean.value().to_device(&device);
    let variance = bn.running_var.value().to_device(&device);
    let scale = bn.gamma.val().to_device(&device) / (variance + bn.epsilon).sqrt();
    let bias = match conv.bias.take() {
        Some(bias) => bias.val(),
        None => Tensor::zeros([out], &device),
    };
    let folded_bias = (bias - mean) * scale.clone() + bn.beta.val().to_device(&device);
    let folded_weight = weight
        * scale
            .reshape([out, 1, 1, 1])
            .expand([out, in_per_group, kh, kw]);
    conv.weight = Param::from_tensor(folded_weight.detach());
    conv.bias = Some(Param::from_tensor(folded_bias.detach()));
    conv
}

/// Folds `bn` into `conv` where there is one: the convolution, and no batch norm left.
pub(crate) fn fold_optional(conv: Conv2d, bn: Option<BatchNorm>) -> (Conv2d, Option<BatchNorm>) {
    match bn {
        Some(bn) => (fold_conv_bn(conv, bn), None),
        None => (conv, None),
    }
}

/// Replaces every item of `items` by `fold(item)` (a stage of blocks, a block of layers).
pub(crate) fn fold_each<T>(items: &mut Vec<T>, fold: impl FnMut(T) -> T) {
    *items = std::mem::take(items).into_iter().map(fold).collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{batch_norm, conv2d};
    use crate::registry::{Model, ModelConfig};
    use crate::resnet::{BottleneckConfig, ShortcutOption};
    use crate::test_util::device;
    use burn::module::{Module, ModuleMapper, RunningState};
    use burn::tensor::{Device, Distribution};

    fn uniform(channels: usize, low: f64, high: f64, device: &Device) -> Tensor<1> {
        Tensor::random([channels], Distribution::Uniform(low, high), device)
    }

    /// A batch norm with non-trivial γ, β and running statistics.
    fn trained_batch_norm(channels: usize, device: &Device) -> BatchNorm {
        let mut bn = batch_norm(channels, device);
        bn.gamma = Param::from_tensor(uniform(channels, 0.5, 1.5, device));
        bn.beta = Param::from_tensor(uniform(channels, -0.5, 0.5, device));
        bn.running_mean = RunningState::new(uniform(channels, -0.3, 0.3, device));
        bn.running_var = RunningState::new(uniform(channels, 0.2, 2.0, device));
        bn
    }

    /// Gives every batch norm of a model random γ, β, running mean and running variance (as a
    /// trained network has; a fresh one's 1, 0, 0, 1 would hide a wrong fold of any of them).
    struct RandomBatchNorms {
        path: Vec<String>,
    }

    impl ModuleMapper for RandomBatchNorms {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (low, high) = match self.path.last().map(String::as_str) {
                Some("gamma") => (0.5, 1.5),
                Some("beta") => (-0.5, 0.5),
                Some("running_mean") => (-0.3, 0.3),
                Some("running_var") => (0.2, 2.0),
                _ => return param,
            };
            let (id, value, _) = param.consume();
            let random = Tensor::random(
                value.shape(),
                Distribution::Uniform(low, high),
                &value.device(),
            );
            Param::initialized(id, random)
        }
    }

    fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn a_folded_convolution_equals_convolution_then_batch_norm() {
        let device = device();
        for (bias, groups) in [(false, 1), (true, 1), (false, 4)] {
            let conv = conv2d(8, 12, 3, 2, 1, groups, bias, &device);
            let bn = trained_batch_norm(12, &device);
            let x = Tensor::<4>::random([2, 8, 9, 9], Distribution::Normal(0.0, 1.0), &device);
            // A device without autodiff: the batch norm uses its running statistics.
            let reference = bn.forward(conv.forward(x.clone()));
            let folded = fold_conv_bn(conv, bn).forward(x);
            let diff = max_abs_diff(folded, reference);
            assert!(
                diff < 1e-5,
                "bias {bias}, groups {groups}: max |Δ| = {diff}"
            );
        }
    }

    /// Folded vs unfolded outputs of every zoo family (and each block variant: basic and
    /// bottleneck, post- and pre-activation, options A/B, plain, grouped, DenseNet's ImageNet and
    /// CIFAR stems with and without bottleneck layers, U-Net), in eval mode, within 1e-4 of the
    /// output's scale.
    #[test]
    fn folded_models_compute_the_same_outputs() {
        let device = device();
        let cases: [(&str, [usize; 3]); 15] = [
            ("resnet18", [3, 64, 64]),
            ("resnet50", [3, 64, 64]),
            ("resnext50_32x4d", [3, 64, 64]),
            ("plain18", [3, 64, 64]),
            ("cifar-resnet20", [3, 32, 32]),
            ("cifar-resnet20-b", [3, 32, 32]),
            ("cifar-plain20", [3, 32, 32]),
            ("cifar-preresnet20", [3, 32, 32]),
            ("cifar-preresnet20-b", [3, 32, 32]),
            ("densenet121", [3, 64, 64]),
            ("cifar-densenet40", [3, 32, 32]),
            ("cifar-densenet-bc100", [3, 32, 32]),
            ("unet", [3, 48, 48]),
            ("highway-conv", [3, 32, 32]),
            ("highway-mlp10", [1, 28, 28]),
        ];
        for (name, [c, h, w]) in cases {
            let model = ModelConfig::from_name(name).unwrap().init(&device).unwrap();
            let model: Model = model.map(&mut RandomBatchNorms { path: Vec::new() });
            let x = Tensor::<4>::random([2, c, h, w], Distribution::Normal(0.0, 1.0), &device);
            let unfolded = model.clone();
            let folded = model.fold_batch_norm();
            let (reference, output) = match unfolded.forward_segmentation(x.clone()) {
                Some(reference) => (
                    reference.flatten::<2>(1, 3),
                    folded.forward_segmentation(x).unwrap().flatten::<2>(1, 3),
                ),
                None => (
                    unfolded.forward_classification(x.clone()).unwrap(),
                    folded.forward_classification(x).unwrap(),
                ),
            };
            let scale = reference.clone().abs().max().into_scalar::<f32>().max(1.0);
            let diff = max_abs_diff(output, reference);
            assert!(
                diff <= 1e-4 * scale,
                "{name}: max |Δ| = {diff} (outputs up to {scale})"
            );
        }
    }

    #[test]
    fn folding_removes_exactly_the_batch_norms_that_follow_a_convolution() {
        let device = device();
        let count = |model: &Model| {
            let mut n = 0;
            model.visit(&mut CountBatchNorms {
                count: &mut n,
                path: Vec::new(),
            });
            n
        };
        // resnet18: stem 1 + 8 blocks × 2 + 3 projections = 20, all foldable.
        let resnet = ModelConfig::from_name("resnet18")
            .unwrap()
            .init(&device)
            .unwrap();
        assert_eq!(count(&resnet), 20);
        assert_eq!(count(&resnet.fold_batch_norm()), 0);
        // Pre-activation CIFAR ResNet-20: 9 blocks × 2 + the final one; only the 9 after a
        // block's first convolution follow a convolution.
        let pre = ModelConfig::from_name("cifar-preresnet20")
            .unwrap()
            .init(&device)
            .unwrap();
        assert_eq!(count(&pre), 19);
        assert_eq!(count(&pre.fold_batch_norm()), 10);
        // DenseNet-121: norm0 and the 58 layers' norm2 fold; 58 norm1, 3 transitions, norm5 stay.
        let dense = ModelConfig::from_name("densenet121")
            .unwrap()
            .init(&device)
            .unwrap();
        assert_eq!(count(&dense), 1 + 2 * 58 + 3 + 1);
        assert_eq!(count(&dense.fold_batch_norm()), 58 + 3 + 1);
    }

    /// Counts batch norms by their `running_var` buffers.
    struct CountBatchNorms<'a> {
        count: &'a mut usize,
        path: Vec<String>,
    }

    impl burn::module::ModuleVisitor for CountBatchNorms<'_> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            if self.path.last().is_some_and(|p| p == "running_var") {
                *self.count += 1;
            }
        }
    }

    #[test]
    fn a_pre_activation_bottleneck_with_projection_folds_to_the_same_function() {
        let device = device();
        let block = BottleneckConfig::new(16, 8)
            .with_stride(2)
            .with_preact(true)
            .with_shortcut(ShortcutOption::B)
            .init(&device)
            .map(&mut RandomBatchNorms { path: Vec::new() });
        let x = Tensor::<4>::random([2, 16, 9, 9], Distribution::Normal(0.0, 1.0), &device);
        let reference = block.forward(x.clone());
        let folded = block.fold_batch_norm();
        assert!(folded.bn1.is_some() && folded.bn2.is_none() && folded.bn3.is_none());
        let diff = max_abs_diff(folded.forward(x), reference);
        assert!(diff < 1e-4, "max |Δ| = {diff}");
    }
}
