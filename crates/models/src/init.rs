//! Weight initialisation schemes, so experiments can compare them on the same architecture.

use burn::config::Config;
use burn::module::{Module, ModuleMapper, Param};
use burn::nn::Initializer;
use burn::tensor::{Distribution, Tensor};

/// How a network's weights start.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum WeightInit {
    /// He (Kaiming) normal, variance `2 / fan`: for convolutions in fan-out mode,
    /// `N(0, 2 / (out_channels · k²))`, what torchvision's ResNets use
    /// (`kaiming_normal_(mode="fan_out", nonlinearity="relu")`) and this crate's default; for
    /// fully connected layers in fan-in mode, `N(0, 2 / in_features)`, which keeps the scale of
    /// a ReLU layer's output.
    He,
    /// PyTorch's and Burn's default for a bare `Conv2d` or `Linear`: Kaiming-uniform with
    /// `a = √5`, `U(−1/√fan_in, 1/√fan_in)` with `fan_in = in_channels / groups · k²` (or
    /// `in_features`). Its variance is a sixth of He's (in fan-in terms), so without batch norm
    /// signals shrink layer by layer.
    TorchDefault,
}

impl WeightInit {
    /// The initializer of a fully connected layer followed by a ReLU.
    pub fn linear_initializer(self) -> Initializer {
        match self {
            WeightInit::He => Initializer::KaimingNormal {
                gain: std::f64::consts::SQRT_2,
                fan_out_only: false,
            },
            WeightInit::TorchDefault => Initializer::KaimingUniform {
                gain: 1.0 / 3f64.sqrt(),
                fan_out_only: false,
            },
        }
    }
}

impl WeightInit {
    /// The command-line spelling: `he` or `torch-default`.
    pub fn name(self) -> &'static str {
        match self {
            WeightInit::He => "he",
            WeightInit::TorchDefault => "torch-default",
        }
    }
}

/// Re-draws every convolution weight (every 4-D parameter `[out, in / groups, kh, kw]`) of
/// `module` from PyTorch's default distribution `U(−1/√fan_in, 1/√fan_in)`, on the device's
/// random stream, as new trainable parameters. Other parameters (biases, batch-norm γ/β, linear
/// layers) are left as they are.
pub fn torch_default_convolutions<M: Module>(module: M) -> M {
    struct Redraw;
    impl ModuleMapper for Redraw {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if D != 4 {
                return param;
            }
            let weight = param.val();
            let dims = weight.shape().dims::<D>();
            let fan_in: usize = dims[1..].iter().product();
            let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
            // A new trainable parameter (as a freshly built layer's), on the same device.
            Param::from_tensor(Tensor::random(
                weight.shape(),
                Distribution::Uniform(-bound, bound),
                &weight.device(),
            ))
        }
    }
    module.map(&mut Redraw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::device;
    use burn::nn::conv::Conv2dConfig;

    #[test]
    fn torch_default_draws_within_the_fan_in_bound_with_uniform_variance() {
        let device = device();
        device.seed(3);
        // Grouped, so fan_in = 8 / 2 · 3 · 3 = 36 and the bound is 1/6.
        let conv = Conv2dConfig::new([8, 64], [3, 3])
            .with_groups(2)
            .with_initializer(burn::nn::Initializer::Constant { value: 9.0 })
            .init(&device);
        let conv = torch_default_convolutions(conv);
        let w = conv.weight.val();
        assert_eq!(w.shape().dims::<4>(), [64, 4, 3, 3]);
        let max: f32 = w.clone().abs().max().into_scalar();
        assert!(max <= 1.0 / 6.0 + 1e-6 && max > 0.15, "max |w| = {max}");
        // U(−b, b) has variance b²/3 = 1/108.
        let var: f32 = w.powf_scalar(2.0).mean().into_scalar();
        assert!((var as f64 * 108.0 - 1.0).abs() < 0.1, "var {var}");
        // The bias (1-D) is not touched.
        let bias: f32 = conv.bias.unwrap().val().mean().into_scalar();
        assert_eq!(bias, 9.0);
    }

    #[test]
    fn redrawn_weights_are_trainable() {
        let device = device().autodiff();
        let conv = torch_default_convolutions(Conv2dConfig::new([2, 3], [3, 3]).init(&device));
        let x = burn::tensor::Tensor::<4>::ones([1, 2, 5, 5], &device);
        let grads = conv.forward(x).sum().backward();
        assert!(conv.weight.val().grad(&grads).is_some());
    }

    #[test]
    fn names_are_the_command_line_spellings() {
        assert_eq!(WeightInit::He.name(), "he");
        assert_eq!(WeightInit::TorchDefault.name(), "torch-default");
    }
}
