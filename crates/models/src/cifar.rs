//! CIFAR ResNets (He et al. 2015, §4.2): a 3×3 stem, three stages of `n` basic blocks with
//! 16/32/64 channels, global average pool and a classifier — `6n + 2` weighted layers. Shortcut
//! option A (zero-padding identity) or B (projection), the pre-activation variant (He et al.
//! 2016), and the plain twin with the same layers and no skip.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::error::{ModelError, ensure_positive};
use crate::fold::{fold_each, fold_optional};
#[cfg(feature = "interop")]
use crate::interop::TorchLayout;
use crate::layers::{FeatureShape, LayerCost, batch_norm, chain_cost, conv3x3};
use crate::params::trainable_params;
use crate::registry::{
    Architecture, Family, Model, ModelConfig, ModelOutput, ZooModel, parse_depth,
};
use crate::resnet::{BasicBlock, BasicBlockConfig, ShortcutOption};
use crate::summary::{StageSummary, stage};

/// Configuration of a [`CifarResNet`].
#[derive(Config, Debug, PartialEq)]
pub struct CifarResNetConfig {
    /// Weighted layers, `6n + 2` (20, 32, 44, 56, 110, 1202...).
    pub depth: usize,
    /// Classes of the classifier.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Channels of the input image.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Option A (the paper's CIFAR choice), B, C, or `Plain` for the plain twin.
    #[config(default = "ShortcutOption::A")]
    pub shortcut: ShortcutOption,
    /// Pre-activation blocks (He et al. 2016, "Identity Mappings in Deep Residual Networks").
    #[config(default = false)]
    pub preact: bool,
    /// Channels of the three stages.
    #[config(default = "[16, 32, 64]")]
    pub widths: [usize; 3],
    /// Start each block's last batch-norm γ at zero.
    #[config(default = false)]
    pub zero_init_residual: bool,
    /// Batch norms everywhere (the paper's network); `false` removes every one, for the
    /// gradient experiment.
    #[config(default = true)]
    pub batch_norm: bool,
}

impl CifarResNetConfig {
    /// Blocks per stage, `n = (depth − 2) / 6`, or an error naming the valid depths.
    pub fn blocks_per_stage(&self) -> Result<usize, ModelError> {
        if self.depth < 8 || !(self.depth - 2).is_multiple_of(6) {
            let below = if self.depth >= 8 {
                (self.depth - 2) / 6 * 6 + 2
            } else {
                8
            };
            return Err(ModelError::InvalidDepth {
                family: "cifar-resnet".into(),
                depth: self.depth,
                expected: format!(
                    "depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, 1202...); nearest: {}, {}",
                    below,
                    below + 6
                ),
            });
        }
        Ok((self.depth - 2) / 6)
    }

    /// Checks every value that [`Self::init`] would otherwise panic on.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.blocks_per_stage()?;
        let family = "cifar-resnet";
        ensure_positive(family, "num_classes", self.num_classes)?;
        ensure_positive(family, "in_channels", self.in_channels)?;
        for w in self.widths {
            ensure_positive(family, "widths", w)?;
        }
        Ok(())
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If [`Self::validate`] fails.
    pub fn init(&self, device: &Device) -> CifarResNet {
        let n = match self
            .blocks_per_stage()
            .and_then(|n| self.validate().map(|_| n))
        {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        let mut in_planes = self.widths[0];
        let mut make_stage = |planes: usize, stride: usize| -> Vec<BasicBlock> {
            (0..n)
                .map(|i| {
                    let block = BasicBlockConfig::new(in_planes, planes)
                        .with_stride(if i == 0 { stride } else { 1 })
                        .with_shortcut(self.shortcut)
                        .with_preact(self.preact)
                        .with_zero_init_residual(self.zero_init_residual)
                        .with_batch_norm(self.batch_norm)
                        .init(device);
                    in_planes = planes;
                    block
                })
                .collect()
        };
        let layer1 = make_stage(self.widths[0], 1);
        let layer2 = make_stage(self.widths[1], 2);
        let layer3 = make_stage(self.widths[2], 2);
        CifarResNet {
            conv1: conv3x3(self.in_channels, self.widths[0], 1, 1, device),
            bn1: (!self.preact && self.batch_norm).then(|| batch_norm(self.widths[0], device)),
            layer1,
            layer2,
            layer3,
            bn: (self.preact && self.batch_norm).then(|| batch_norm(self.widths[2], device)),
            fc: LinearConfig::new(self.widths[2], self.num_classes).init(device),
        }
    }
}

/// A CIFAR ResNet (or its plain twin).
#[derive(Module, Debug)]
pub struct CifarResNet {
    /// 3×3 stem convolution `in_channels → 16`.
    pub conv1: Conv2d,
    /// Stem batch norm (post-activation networks only).
    pub bn1: Option<BatchNorm>,
    /// Stage 1: `n` blocks, 16 channels, 32×32.
    pub layer1: Vec<BasicBlock>,
    /// Stage 2: `n` blocks, 32 channels, 16×16.
    pub layer2: Vec<BasicBlock>,
    /// Stage 3: `n` blocks, 64 channels, 8×8.
    pub layer3: Vec<BasicBlock>,
    /// Final batch norm before pooling (pre-activation networks only).
    pub bn: Option<BatchNorm>,
    /// Classifier `64 → num_classes`.
    pub fc: Linear,
}

fn run_stage(blocks: &[BasicBlock], x: Tensor<4>) -> Tensor<4> {
    blocks.iter().fold(x, |x, block| block.forward(x))
}

impl CifarResNet {
    /// Stem convolution, then batch norm and ReLU in post-activation networks (ReLU alone when
    /// built without batch norm, so that network is the same one minus its batch norms);
    /// pre-activation networks start their first block on the bare convolution.
    fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv1.forward(x);
        let preact = self.layer1.first().is_some_and(|block| block.preact);
        match &self.bn1 {
            Some(bn) => relu(bn.forward(x)),
            None if preact => x,
            None => relu(x),
        }
    }

    /// Each stage's output.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, 32, 32]`
    /// - outputs: `[batch, 16, 32, 32]`, `[batch, 32, 16, 16]`, `[batch, 64, 8, 8]`
    pub fn forward_features(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = self.stem(x);
        let mut out = Vec::with_capacity(3);
        for stage in [&self.layer1, &self.layer2, &self.layer3] {
            x = run_stage(stage, x);
            out.push(x.clone());
        }
        out
    }

    /// Pooling and classifier on the last stage's output.
    ///
    /// # Shapes
    /// - `features`: `[batch, 64, h, w]` → `[batch, num_classes]`
    pub fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        let x = match &self.bn {
            Some(bn) => relu(bn.forward(features)),
            None => features,
        };
        let pooled = x.mean_dims(&[2, 3]).flatten(1, 3);
        self.fc.forward(pooled)
    }

    /// Every batch norm that follows a convolution folded into it, for eval-mode inference
    /// ([`crate::fold`]): the stem's and each block's (see [`BasicBlock::fold_batch_norm`]);
    /// the final `bn` of a pre-activation network stays.
    pub fn fold_batch_norm(mut self) -> Self {
        (self.conv1, self.bn1) = fold_optional(self.conv1, self.bn1);
        for stage in [&mut self.layer1, &mut self.layer2, &mut self.layer3] {
            fold_each(stage, BasicBlock::fold_batch_norm);
        }
        self
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, height, width]` → `[batch, num_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = [&self.layer1, &self.layer2, &self.layer3]
            .into_iter()
            .fold(self.stem(x), |x, stage| run_stage(stage, x));
        self.forward_head(x)
    }

    /// Every weighted layer in forward order (stem conv, each block's convolutions, classifier
    /// excluded), for per-layer analyses such as gradient norms.
    pub fn convolutions(&self) -> Vec<&Conv2d> {
        let mut convs = vec![&self.conv1];
        for block in self.layer1.iter().chain(&self.layer2).chain(&self.layer3) {
            convs.push(&block.conv1);
            convs.push(&block.conv2);
        }
        convs
    }

    /// Stage-by-stage output shape, parameters and FLOPs for one input of shape `input`.
    pub fn summary(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError> {
        let in_channels = self.conv1.weight.shape().dims::<4>()[1];
        if input[0] != in_channels || input[1] < 4 || input[2] < 4 {
            return Err(ModelError::input(
                "cifar-resnet",
                input,
                format!("{in_channels} channels and at least 4×4 pixels"),
            ));
        }
        let (mut shape, flops) = self.conv1.cost(input);
        let mut stages = vec![stage(
            "stem",
            shape,
            trainable_params(&self.conv1) + self.bn1.as_ref().map_or(0, trainable_params),
            flops,
        )];
        for (name, blocks) in [
            ("layer1", &self.layer1),
            ("layer2", &self.layer2),
            ("layer3", &self.layer3),
        ] {
            let (next, flops) = chain_cost(shape, blocks.iter().map(|b| b as &dyn LayerCost));
            stages.push(stage(name, next, trainable_params(blocks), flops));
            shape = next;
        }
        let (out, flops) = self.fc.cost(shape);
        let head_params = trainable_params(&self.fc) + self.bn.as_ref().map_or(0, trainable_params);
        stages.push(stage("avgpool+fc", out, head_params, flops));
        Ok(stages)
    }
}

// --- The registry row (crate::registry) ------------------------------------------------------

/// The CIFAR ResNet family of the registry: `cifar-resnet<D>` (option A), `-b` / `-c` (options B
/// and C), `cifar-preresnet<D>[-b]` (pre-activation) and `cifar-plain<D>` (the plain twin).
pub const FAMILY: Family = Family {
    id: "cifar-resnet",
    patterns: &[
        "cifar-resnet<D>",
        "cifar-resnet<D>-b",
        "cifar-resnet<D>-c",
        "cifar-plain<D>",
        "cifar-preresnet<D>",
    ],
    listed: &[
        "cifar-resnet20",
        "cifar-resnet32",
        "cifar-resnet44",
        "cifar-resnet56",
        "cifar-resnet110",
        "cifar-resnet20-b",
        "cifar-plain20",
        "cifar-plain56",
        "cifar-preresnet110",
    ],
    parse: parse_name,
};

fn parse_name(name: &str) -> Option<Result<ModelConfig, ModelError>> {
    let (base, shortcut) = match (name.strip_suffix("-b"), name.strip_suffix("-c")) {
        (Some(base), _) => (base, ShortcutOption::B),
        (_, Some(base)) => (base, ShortcutOption::C),
        _ => (name, ShortcutOption::A),
    };
    let (digits, shortcut, preact) = if let Some(d) = base.strip_prefix("cifar-resnet") {
        (d, shortcut, false)
    } else if let Some(d) = base.strip_prefix("cifar-preresnet") {
        (d, shortcut, true)
    } else {
        (
            name.strip_prefix("cifar-plain")?,
            ShortcutOption::Plain,
            false,
        )
    };
    Some(parse_depth(name, digits).and_then(|depth| {
        let config = CifarResNetConfig::new(depth)
            .with_shortcut(shortcut)
            .with_preact(preact);
        config.validate()?;
        Ok(ModelConfig::CifarResNet(config))
    }))
}

impl Architecture for CifarResNetConfig {
    fn name(&self) -> String {
        let depth = self.depth;
        let prefix = if self.preact {
            "cifar-preresnet"
        } else {
            "cifar-resnet"
        };
        match self.shortcut {
            ShortcutOption::Plain => format!("cifar-plain{depth}"),
            ShortcutOption::A => format!("{prefix}{depth}"),
            ShortcutOption::B => format!("{prefix}{depth}-b"),
            ShortcutOption::C => format!("{prefix}{depth}-c"),
        }
    }

    fn paper(&self) -> &'static str {
        if self.preact {
            "He et al. 2016, Identity Mappings in Deep Residual Networks"
        } else if !self.shortcut.is_residual() {
            "He et al. 2015, §4.2 (plain baseline)"
        } else {
            "He et al. 2015, §4.2 (CIFAR-10)"
        }
    }

    fn default_input(&self) -> FeatureShape {
        [self.in_channels, 32, 32]
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn for_classes(&self, num_classes: usize) -> ModelConfig {
        ModelConfig::CifarResNet(self.clone().with_num_classes(num_classes))
    }

    fn for_input(&self, input: FeatureShape) -> ModelConfig {
        ModelConfig::CifarResNet(self.clone().with_in_channels(input[0]))
    }

    fn check(&self) -> Result<(), ModelError> {
        self.validate()
    }

    fn build(&self, device: &Device) -> Model {
        Model::CifarResNet(self.init(device))
    }
}

impl ZooModel for CifarResNet {
    fn family(&self) -> &'static str {
        FAMILY.id
    }

    fn classifier(&self) -> Option<(&'static str, &Linear)> {
        Some(("fc", &self.fc))
    }

    fn forward_output(&self, x: Tensor<4>) -> ModelOutput {
        ModelOutput::Logits(self.forward(x))
    }

    fn stages(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError> {
        self.summary(input)
    }

    #[cfg(feature = "interop")]
    fn torch_layout(&self) -> TorchLayout {
        TorchLayout::CifarResNet
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_all_params_get_grads, device};
    use burn::tensor::Distribution;

    #[test]
    fn depth_must_be_6n_plus_2() {
        for depth in [20, 32, 44, 56, 110, 1202] {
            assert_eq!(
                CifarResNetConfig::new(depth).blocks_per_stage().unwrap(),
                (depth - 2) / 6
            );
        }
        let err = CifarResNetConfig::new(21).validate().unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("invalid depth 21") && msg.contains("nearest: 20, 26"),
            "{msg}"
        );
        assert!(CifarResNetConfig::new(2).validate().is_err());
    }

    #[test]
    fn shapes_for_every_variant() {
        let device = device();
        let x = Tensor::random([2, 3, 32, 32], Distribution::Default, &device);
        for (shortcut, preact) in [
            (ShortcutOption::A, false),
            (ShortcutOption::B, false),
            (ShortcutOption::Plain, false),
            (ShortcutOption::A, true),
            (ShortcutOption::B, true),
        ] {
            let net = CifarResNetConfig::new(8)
                .with_shortcut(shortcut)
                .with_preact(preact)
                .init(&device);
            let features: Vec<_> = net
                .forward_features(x.clone())
                .iter()
                .map(|f| f.dims())
                .collect();
            assert_eq!(
                features,
                vec![[2, 16, 32, 32], [2, 32, 16, 16], [2, 64, 8, 8]]
            );
            assert_eq!(net.forward(x.clone()).dims(), [2, 10]);
        }
    }

    #[test]
    fn without_batch_norm_the_network_is_the_same_minus_its_batch_norms() {
        // Fresh batch norms in inference mode (running mean 0, variance 1, γ 1, β 0) only scale
        // by 1/√(1 + ε): with the same convolutions and classifier both networks must agree,
        // ReLU after the stem included.
        let device = device();
        let x = Tensor::random([2, 3, 32, 32], Distribution::Default, &device);
        for shortcut in [ShortcutOption::A, ShortcutOption::Plain] {
            let config = CifarResNetConfig::new(14).with_shortcut(shortcut);
            let with_bn = config.init(&device);
            let mut without_bn = config.clone().with_batch_norm(false).init(&device);
            without_bn.conv1 = with_bn.conv1.clone();
            without_bn.fc = with_bn.fc.clone();
            let blocks = |net: &CifarResNet| {
                net.layer1
                    .iter()
                    .chain(&net.layer2)
                    .chain(&net.layer3)
                    .map(|b| (b.conv1.clone(), b.conv2.clone()))
                    .collect::<Vec<_>>()
            };
            let convs = blocks(&with_bn);
            for (block, (conv1, conv2)) in without_bn
                .layer1
                .iter_mut()
                .chain(&mut without_bn.layer2)
                .chain(&mut without_bn.layer3)
                .zip(convs)
            {
                block.conv1 = conv1;
                block.conv2 = conv2;
            }
            let a = with_bn.forward(x.clone());
            let b = without_bn.forward(x.clone());
            let stem = without_bn.stem(x.clone());
            let min: f32 = stem.clone().min().into_scalar();
            assert!(min >= 0.0, "the stem output passes a ReLU (min {min})");
            let scale: f32 = b.clone().abs().max().into_scalar();
            let diff: f32 = (a - b).abs().max().into_scalar();
            assert!(
                diff <= 1e-3 * scale,
                "{shortcut:?}: max |Δ| {diff} of {scale}"
            );
        }
    }

    #[test]
    fn layer_count_is_6n_plus_2() {
        let net = CifarResNetConfig::new(50).init(&device());
        // Convolutions plus the classifier.
        assert_eq!(net.convolutions().len() + 1, 50);
    }

    #[test]
    fn backward_reaches_every_parameter() {
        let device = device().autodiff();
        for shortcut in [ShortcutOption::B, ShortcutOption::Plain] {
            let net = CifarResNetConfig::new(8)
                .with_shortcut(shortcut)
                .with_num_classes(5)
                .init(&device);
            let x = Tensor::random([2, 3, 16, 16], Distribution::Default, &device);
            let loss = net.forward(x).powi_scalar(2).mean();
            assert_all_params_get_grads(&net, &loss.backward());
        }
    }
}
