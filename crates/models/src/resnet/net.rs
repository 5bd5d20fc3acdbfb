//! The ImageNet ResNet family (He et al. 2015) as torchvision builds it: ResNet-18/34/50/101/152,
//! ResNeXt-50 32×4d, Wide ResNet-50-2, and the plain twins of ResNet-18/34.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::block::{BasicBlockConfig, BottleneckConfig, ResidualBlock, ShortcutOption};
use crate::error::{ModelError, ensure_positive};
use crate::fold::{fold_each, fold_optional};
#[cfg(feature = "interop")]
use crate::interop::TorchLayout;
use crate::layers::{FeatureShape, LayerCost, batch_norm, chain_cost, conv2d, maybe_norm};
use crate::params::trainable_params;
use crate::registry::{Architecture, Family, Model, ModelConfig, ModelOutput, Named, ZooModel};
use crate::summary::{StageSummary, stage};

/// Which residual block a [`ResNet`] stacks.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// [`super::BasicBlock`]: two 3×3 convolutions, expansion 1.
    Basic,
    /// [`super::Bottleneck`]: 1×1 → 3×3 → 1×1, expansion 4.
    Bottleneck,
}

impl BlockKind {
    /// Output channels per "plane" of the block.
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => BottleneckConfig::EXPANSION,
        }
    }
}

/// Configuration of an ImageNet-style [`ResNet`].
#[derive(Config, Debug, PartialEq)]
pub struct ResNetConfig {
    /// The block every stage stacks.
    pub block: BlockKind,
    /// Blocks per stage (`[2, 2, 2, 2]` for ResNet-18).
    pub layers: [usize; 4],
    /// Classes of the final fully connected layer.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Channels of the input image.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Groups of the bottleneck 3×3 convolutions (ResNeXt).
    #[config(default = 1)]
    pub groups: usize,
    /// Width per group of the bottleneck 3×3 convolutions (64 = plain ResNet).
    #[config(default = 64)]
    pub width_per_group: usize,
    /// Start each block's last batch-norm γ at zero (Goyal et al. 2017).
    #[config(default = false)]
    pub zero_init_residual: bool,
    /// Shortcuts: option B as torchvision, or `Plain` for the plain twin.
    #[config(default = "ShortcutOption::B")]
    pub shortcut: ShortcutOption,
}

impl ResNetConfig {
    /// ResNet-18: basic blocks `[2, 2, 2, 2]`, 11.7 M parameters.
    pub fn resnet18() -> Self {
        Self::new(BlockKind::Basic, [2, 2, 2, 2])
    }
    /// ResNet-34: basic blocks `[3, 4, 6, 3]`, 21.8 M parameters.
    pub fn resnet34() -> Self {
        Self::new(BlockKind::Basic, [3, 4, 6, 3])
    }
    /// ResNet-50: bottlenecks `[3, 4, 6, 3]`, 25.6 M parameters.
    pub fn resnet50() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 6, 3])
    }
    /// ResNet-101: bottlenecks `[3, 4, 23, 3]`, 44.5 M parameters.
    pub fn resnet101() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 23, 3])
    }
    /// ResNet-152: bottlenecks `[3, 8, 36, 3]`, 60.2 M parameters.
    pub fn resnet152() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 8, 36, 3])
    }
    /// ResNeXt-50 32×4d (Xie et al. 2017): 32 groups of width 4.
    pub fn resnext50_32x4d() -> Self {
        Self::resnet50().with_groups(32).with_width_per_group(4)
    }
    /// Wide ResNet-50-2 (Zagoruyko & Komodakis 2016): bottlenecks twice as wide.
    pub fn wide_resnet50_2() -> Self {
        Self::resnet50().with_width_per_group(128)
    }
    /// Plain-18: ResNet-18's layers without any shortcut (He et al. 2015, Table 2).
    pub fn plain18() -> Self {
        Self::resnet18().with_shortcut(ShortcutOption::Plain)
    }
    /// Plain-34: ResNet-34's layers without any shortcut.
    pub fn plain34() -> Self {
        Self::resnet34().with_shortcut(ShortcutOption::Plain)
    }

    /// Checks every value that [`Self::init`] would otherwise panic on.
    pub fn validate(&self) -> Result<(), ModelError> {
        let family = "resnet";
        ensure_positive(family, "num_classes", self.num_classes)?;
        ensure_positive(family, "in_channels", self.in_channels)?;
        ensure_positive(family, "groups", self.groups)?;
        ensure_positive(family, "width_per_group", self.width_per_group)?;
        if self.layers.contains(&0) {
            return Err(ModelError::config(
                family,
                "layers",
                format!("{:?}", self.layers),
                "every stage needs at least one block",
            ));
        }
        if self.block == BlockKind::Basic && (self.groups != 1 || self.width_per_group != 64) {
            return Err(ModelError::config(
                family,
                "groups/width_per_group",
                format!("{}/{}", self.groups, self.width_per_group),
                "basic blocks only support groups = 1 and width_per_group = 64",
            ));
        }
        if self.block == BlockKind::Bottleneck && self.width_per_group * 64 / 64 < 1 {
            return Err(ModelError::config(family, "width_per_group", 0, ">= 1"));
        }
        Ok(())
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If [`Self::validate`] fails.
    pub fn init(&self, device: &Device) -> ResNet {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let mut in_planes = 64;
        let mut make_stage = |planes: usize, blocks: usize, stride: usize| -> Vec<ResidualBlock> {
            (0..blocks)
                .map(|i| {
                    let s = if i == 0 { stride } else { 1 };
                    let block = match self.block {
                        BlockKind::Basic => ResidualBlock::Basic(
                            BasicBlockConfig::new(in_planes, planes)
                                .with_stride(s)
                                .with_shortcut(self.shortcut)
                                .with_zero_init_residual(self.zero_init_residual)
                                .init(device),
                        ),
                        BlockKind::Bottleneck => ResidualBlock::Bottleneck(
                            BottleneckConfig::new(in_planes, planes)
                                .with_stride(s)
                                .with_groups(self.groups)
                                .with_base_width(self.width_per_group)
                                .with_shortcut(self.shortcut)
                                .with_zero_init_residual(self.zero_init_residual)
                                .init(device),
                        ),
                    };
                    in_planes = planes * self.block.expansion();
                    block
                })
                .collect()
        };
        let layer1 = make_stage(64, self.layers[0], 1);
        let layer2 = make_stage(128, self.layers[1], 2);
        let layer3 = make_stage(256, self.layers[2], 2);
        let layer4 = make_stage(512, self.layers[3], 2);
        ResNet {
            conv1: conv2d(self.in_channels, 64, 7, 2, 3, 1, false, device),
            bn1: Some(batch_norm(64, device)),
            maxpool: MaxPoolStem::init(),
            layer1,
            layer2,
            layer3,
            layer4,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(512 * self.block.expansion(), self.num_classes).init(device),
        }
    }
}

/// The stem's 3×3 / stride-2 max pool.
struct MaxPoolStem;

impl MaxPoolStem {
    fn init() -> MaxPool2d {
        MaxPool2dConfig::new([3, 3])
            .with_strides([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init()
    }
}

/// An ImageNet ResNet: 7×7 stem, four stages of residual blocks, global average pool, classifier.
/// Field names are torchvision's.
#[derive(Module, Debug)]
pub struct ResNet {
    /// 7×7 / stride-2 stem convolution `in_channels → 64`.
    pub conv1: Conv2d,
    /// Batch norm of the stem; `None` once folded into `conv1` ([`ResNet::fold_batch_norm`]).
    pub bn1: Option<BatchNorm>,
    /// 3×3 / stride-2 max pool.
    pub maxpool: MaxPool2d,
    /// Stage 1: 64 planes, stride 1.
    pub layer1: Vec<ResidualBlock>,
    /// Stage 2: 128 planes, stride 2.
    pub layer2: Vec<ResidualBlock>,
    /// Stage 3: 256 planes, stride 2.
    pub layer3: Vec<ResidualBlock>,
    /// Stage 4: 512 planes, stride 2.
    pub layer4: Vec<ResidualBlock>,
    /// Global average pool.
    pub avgpool: AdaptiveAvgPool2d,
    /// Classifier `512·expansion → num_classes`.
    pub fc: Linear,
}

fn run_stage(blocks: &[ResidualBlock], x: Tensor<4>) -> Tensor<4> {
    blocks.iter().fold(x, |x, block| block.forward(x))
}

fn stage_cost(blocks: &[ResidualBlock], input: FeatureShape) -> (FeatureShape, u64) {
    chain_cost(input, blocks.iter().map(|b| b as &dyn LayerCost))
}

impl ResNet {
    /// The stem: conv1 → bn1 → relu → maxpool.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, height, width]` → `[batch, 64, height / 4, width / 4]`
    pub fn forward_stem(&self, x: Tensor<4>) -> Tensor<4> {
        self.maxpool
            .forward(relu(maybe_norm(self.bn1.as_ref(), self.conv1.forward(x))))
    }

    /// Each stage's output, `layer1` to `layer4`.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, H, W]`
    /// - outputs: `[batch, 64e, H/4, W/4]`, `[batch, 128e, H/8, W/8]`, `[batch, 256e, H/16, W/16]`,
    ///   `[batch, 512e, H/32, W/32]` with `e` the block expansion
    pub fn forward_features(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = self.forward_stem(x);
        let mut features = Vec::with_capacity(4);
        for stage in [&self.layer1, &self.layer2, &self.layer3, &self.layer4] {
            x = run_stage(stage, x);
            features.push(x.clone());
        }
        features
    }

    /// Global average pool and classifier on the last stage's output.
    ///
    /// # Shapes
    /// - `features`: `[batch, 512e, h, w]` → `[batch, num_classes]`
    pub fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        self.fc
            .forward(self.avgpool.forward(features).flatten(1, 3))
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, height, width]` → `[batch, num_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.forward_stem(x);
        let x = [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .into_iter()
            .fold(x, |x, stage| run_stage(stage, x));
        self.forward_head(x)
    }

    /// Every batch norm that follows a convolution folded into it, for eval-mode inference
    /// ([`crate::fold`]): the stem's, each block's and each projection shortcut's.
    pub fn fold_batch_norm(mut self) -> Self {
        (self.conv1, self.bn1) = fold_optional(self.conv1, self.bn1);
        for stage in [
            &mut self.layer1,
            &mut self.layer2,
            &mut self.layer3,
            &mut self.layer4,
        ] {
            fold_each(stage, ResidualBlock::fold_batch_norm);
        }
        self
    }

    /// Stage-by-stage output shape, parameters and FLOPs for one input of shape `input`.
    pub fn summary(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError> {
        let in_channels = self.conv1.weight.shape().dims::<4>()[1];
        if input[0] != in_channels || input[1] < 32 || input[2] < 32 {
            return Err(ModelError::input(
                "resnet",
                input,
                format!("{in_channels} channels and at least 32×32 pixels"),
            ));
        }
        let mut stages = Vec::new();
        let (shape, flops) = chain_cost(input, [&self.conv1 as &dyn LayerCost, &self.maxpool]);
        stages.push(stage(
            "stem",
            shape,
            trainable_params(&self.conv1) + self.bn1.as_ref().map_or(0, trainable_params),
            flops,
        ));
        let mut shape = shape;
        for (name, blocks) in [
            ("layer1", &self.layer1),
            ("layer2", &self.layer2),
            ("layer3", &self.layer3),
            ("layer4", &self.layer4),
        ] {
            let (next, flops) = stage_cost(blocks, shape);
            stages.push(stage(name, next, trainable_params(blocks), flops));
            shape = next;
        }
        let (out, flops) = self.fc.cost([shape[0], 1, 1]);
        stages.push(stage("avgpool+fc", out, trainable_params(&self.fc), flops));
        Ok(stages)
    }
}

// --- The registry row (crate::registry) ------------------------------------------------------

/// The ImageNet ResNets' names and their configurations.
const NAMED: [Named<ResNetConfig>; 9] = [
    ("resnet18", ResNetConfig::resnet18),
    ("resnet34", ResNetConfig::resnet34),
    ("resnet50", ResNetConfig::resnet50),
    ("resnet101", ResNetConfig::resnet101),
    ("resnet152", ResNetConfig::resnet152),
    ("resnext50_32x4d", ResNetConfig::resnext50_32x4d),
    ("wide_resnet50_2", ResNetConfig::wide_resnet50_2),
    ("plain18", ResNetConfig::plain18),
    ("plain34", ResNetConfig::plain34),
];

/// The names of [`NAMED`], in its order.
const NAMES: [&str; NAMED.len()] = {
    let mut names = [""; NAMED.len()];
    let mut i = 0;
    while i < NAMED.len() {
        names[i] = NAMED[i].0;
        i += 1;
    }
    names
};

/// The ImageNet ResNet family of the registry.
pub const FAMILY: Family = Family {
    id: "resnet",
    patterns: &NAMES,
    listed: &NAMES,
    parse: |name| {
        NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, config)| Ok(ModelConfig::ResNet(config())))
    },
};

impl Architecture for ResNetConfig {
    fn name(&self) -> String {
        // The named configuration with this one's structure (classes, input channels and the
        // residual initialisation are not part of a name).
        let same = |named: &ResNetConfig| {
            named.block == self.block
                && named.layers == self.layers
                && named.groups == self.groups
                && named.width_per_group == self.width_per_group
                && named.shortcut.is_residual() == self.shortcut.is_residual()
        };
        NAMED
            .iter()
            .find(|(_, config)| same(&config()))
            .map_or_else(
                || format!("resnet{:?}", self.layers),
                |(n, _)| n.to_string(),
            )
    }

    fn paper(&self) -> &'static str {
        if self.groups > 1 {
            "Xie et al. 2017, Aggregated Residual Transformations (ResNeXt)"
        } else if self.width_per_group > 64 {
            "Zagoruyko & Komodakis 2016, Wide Residual Networks"
        } else if !self.shortcut.is_residual() {
            "He et al. 2015, Deep Residual Learning (plain baseline)"
        } else {
            "He et al. 2015, Deep Residual Learning for Image Recognition"
        }
    }

    fn is_imagenet(&self) -> bool {
        true
    }

    fn default_input(&self) -> FeatureShape {
        [self.in_channels, 224, 224]
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn for_classes(&self, num_classes: usize) -> ModelConfig {
        ModelConfig::ResNet(self.clone().with_num_classes(num_classes))
    }

    fn for_input(&self, input: FeatureShape) -> ModelConfig {
        ModelConfig::ResNet(self.clone().with_in_channels(input[0]))
    }

    fn check(&self) -> Result<(), ModelError> {
        self.validate()
    }

    fn build(&self, device: &Device) -> Model {
        Model::ResNet(self.init(device))
    }
}

impl ZooModel for ResNet {
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
        TorchLayout::TorchvisionResNet
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_all_params_get_grads, device};
    use burn::tensor::Distribution;

    #[test]
    fn forward_and_feature_shapes() {
        let device = device();
        let model = ResNetConfig::resnet18().with_num_classes(7).init(&device);
        let x = Tensor::random([2, 3, 64, 64], Distribution::Default, &device);
        let features = model.forward_features(x.clone());
        let dims: Vec<_> = features.iter().map(|f| f.dims()).collect();
        assert_eq!(
            dims,
            vec![
                [2, 64, 16, 16],
                [2, 128, 8, 8],
                [2, 256, 4, 4],
                [2, 512, 2, 2]
            ]
        );
        assert_eq!(model.forward(x).dims(), [2, 7]);
    }

    #[test]
    fn bottleneck_net_with_grey_input() {
        let device = device();
        let model = ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1])
            .with_in_channels(1)
            .with_num_classes(3)
            .init(&device);
        let x = Tensor::random([1, 1, 40, 40], Distribution::Default, &device);
        let features = model.forward_features(x.clone());
        assert_eq!(features[3].dims(), [1, 2048, 2, 2]);
        assert_eq!(model.forward(x).dims(), [1, 3]);
    }

    #[test]
    fn plain_twin_has_no_projections() {
        let device = device();
        let resnet = ResNetConfig::resnet18().init(&device);
        let plain = ResNetConfig::plain18().init(&device);
        // Three projections (conv 1×1 + bn) disappear: 64→128, 128→256, 256→512.
        let projections = (64 * 128 + 2 * 128) + (128 * 256 + 2 * 256) + (256 * 512 + 2 * 512);
        assert_eq!(
            trainable_params(&resnet) - trainable_params(&plain),
            projections
        );
    }

    #[test]
    fn zero_init_residual_zeroes_last_gamma() {
        let device = device();
        let model = ResNetConfig::resnet50()
            .with_zero_init_residual(true)
            .init(&device);
        let ResidualBlock::Bottleneck(block) = &model.layer3[2] else {
            panic!("resnet50 stacks bottlenecks");
        };
        let sum: f32 = block
            .bn3
            .as_ref()
            .unwrap()
            .gamma
            .val()
            .abs()
            .sum()
            .into_scalar();
        assert_eq!(sum, 0.0);
        let bn2 = block.bn2.as_ref().unwrap();
        let sum: f32 = bn2.gamma.val().sum().into_scalar();
        assert_eq!(sum, bn2.gamma.shape().num_elements() as f32);
    }

    #[test]
    fn invalid_configs_are_errors() {
        let err = ResNetConfig::resnet18()
            .with_groups(32)
            .validate()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("basic blocks only support groups = 1")
        );
        let err = ResNetConfig::new(BlockKind::Basic, [2, 0, 2, 2])
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("at least one block"), "{err}");
        let err = ResNetConfig::resnet18()
            .with_num_classes(0)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("num_classes = 0"), "{err}");
    }

    #[test]
    fn backward_reaches_every_parameter() {
        let device = device().autodiff();
        let model = ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1])
            .with_num_classes(4)
            .init(&device);
        let x = Tensor::random([2, 3, 32, 32], Distribution::Default, &device);
        let loss = model.forward(x).powi_scalar(2).mean();
        assert_all_params_get_grads(&model, &loss.backward());
    }
}
