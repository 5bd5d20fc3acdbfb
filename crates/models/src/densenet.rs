//! DenseNet (Huang et al. 2017): dense blocks in which every layer sees the concatenation of all
//! earlier feature maps, joined by transitions. The ImageNet models follow torchvision
//! (`densenet121/161/169/201`); the CIFAR models follow the paper (DenseNet-40 with k = 12 and no
//! bottleneck, DenseNet-BC-100 with k = 12).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::error::{ModelError, ensure_positive};
use crate::fold::{fold_each, fold_optional};
#[cfg(feature = "interop")]
use crate::interop::TorchLayout;
use crate::layers::{FeatureShape, LayerCost, batch_norm, conv1x1, conv2d, conv3x3, maybe_norm};
use crate::params::trainable_params;
use crate::registry::{
    Architecture, Family, Model, ModelConfig, ModelOutput, Named, ZooModel, parse_depth,
};
use crate::summary::{StageSummary, stage};

/// The stem of a DenseNet.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum DenseStem {
    /// ImageNet: 7×7 / stride-2 convolution, batch norm, ReLU, 3×3 / stride-2 max pool.
    ImageNet,
    /// CIFAR: a single 3×3 convolution.
    Cifar,
}

/// Configuration of a [`DenseNet`].
#[derive(Config, Debug, PartialEq)]
pub struct DenseNetConfig {
    /// Growth rate `k`: channels each dense layer adds.
    pub growth_rate: usize,
    /// Dense layers per block (`[6, 12, 24, 16]` for DenseNet-121).
    pub block_config: Vec<usize>,
    /// Channels of the stem convolution.
    pub num_init_features: usize,
    /// Bottleneck width factor: the 1×1 convolution outputs `bn_size · k` channels; 0 disables
    /// the bottleneck (plain BN-ReLU-3×3 layers, as DenseNet-40).
    #[config(default = 4)]
    pub bn_size: usize,
    /// Fraction of channels a transition keeps (θ; 0.5 for DenseNet-BC, 1.0 for DenseNet).
    #[config(default = 0.5)]
    pub compression: f64,
    /// The stem.
    #[config(default = "DenseStem::ImageNet")]
    pub stem: DenseStem,
    /// Classes of the classifier.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Channels of the input image.
    #[config(default = 3)]
    pub in_channels: usize,
}

impl DenseNetConfig {
    /// DenseNet-121: k = 32, blocks `[6, 12, 24, 16]`, 64 stem channels.
    pub fn densenet121() -> Self {
        Self::new(32, vec![6, 12, 24, 16], 64)
    }
    /// DenseNet-161: k = 48, blocks `[6, 12, 36, 24]`, 96 stem channels.
    pub fn densenet161() -> Self {
        Self::new(48, vec![6, 12, 36, 24], 96)
    }
    /// DenseNet-169: k = 32, blocks `[6, 12, 32, 32]`, 64 stem channels.
    pub fn densenet169() -> Self {
        Self::new(32, vec![6, 12, 32, 32], 64)
    }
    /// DenseNet-201: k = 32, blocks `[6, 12, 48, 32]`, 64 stem channels.
    pub fn densenet201() -> Self {
        Self::new(32, vec![6, 12, 48, 32], 64)
    }
    /// DenseNet (L = 40, k = 12) for CIFAR: three blocks of 12 plain layers, no compression.
    pub fn cifar_densenet40() -> Self {
        Self::cifar(40, 12, false).expect("40 is a valid DenseNet depth")
    }
    /// DenseNet-BC (L = 100, k = 12) for CIFAR: three blocks of 16 bottleneck layers, θ = 0.5.
    pub fn cifar_densenet_bc100() -> Self {
        Self::cifar(100, 12, true).expect("100 is a valid DenseNet-BC depth")
    }

    /// A CIFAR DenseNet of total depth `depth` (Huang et al. §3): three dense blocks of
    /// `(depth − 4) / 3` layers (halved with bottlenecks), 16 stem channels (2k for BC).
    pub fn cifar(depth: usize, growth_rate: usize, bc: bool) -> Result<Self, ModelError> {
        let per_layer = if bc { 6 } else { 3 };
        if depth < 4 + per_layer || !(depth - 4).is_multiple_of(per_layer) {
            return Err(ModelError::InvalidDepth {
                family: if bc {
                    "cifar-densenet-bc"
                } else {
                    "cifar-densenet"
                }
                .into(),
                depth,
                expected: format!("depth must be {per_layer}n+4 with n >= 1 (e.g. 40, 100, 190)"),
            });
        }
        let n = (depth - 4) / per_layer;
        let (init, bn_size, compression) = if bc {
            (2 * growth_rate, 4, 0.5)
        } else {
            (16, 0, 1.0)
        };
        Ok(Self::new(growth_rate, vec![n; 3], init)
            .with_bn_size(bn_size)
            .with_compression(compression)
            .with_stem(DenseStem::Cifar)
            .with_num_classes(10))
    }

    /// Checks every value that [`Self::init`] would otherwise panic on.
    pub fn validate(&self) -> Result<(), ModelError> {
        let family = "densenet";
        ensure_positive(family, "growth_rate", self.growth_rate)?;
        ensure_positive(family, "num_init_features", self.num_init_features)?;
        ensure_positive(family, "num_classes", self.num_classes)?;
        ensure_positive(family, "in_channels", self.in_channels)?;
        if self.block_config.is_empty() || self.block_config.contains(&0) {
            return Err(ModelError::config(
                family,
                "block_config",
                format!("{:?}", self.block_config),
                "at least one block, each with at least one layer",
            ));
        }
        if !(self.compression > 0.0 && self.compression <= 1.0) {
            return Err(ModelError::config(
                family,
                "compression",
                self.compression,
                "a fraction in (0, 1]",
            ));
        }
        Ok(())
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If [`Self::validate`] fails.
    pub fn init(&self, device: &Device) -> DenseNet {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let k = self.growth_rate;
        let (conv0, norm0, pool0) = match self.stem {
            DenseStem::ImageNet => (
                conv2d(
                    self.in_channels,
                    self.num_init_features,
                    7,
                    2,
                    3,
                    1,
                    false,
                    device,
                ),
                Some(batch_norm(self.num_init_features, device)),
                Some(
                    MaxPool2dConfig::new([3, 3])
                        .with_strides([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(),
                ),
            ),
            DenseStem::Cifar => (
                conv3x3(self.in_channels, self.num_init_features, 1, 1, device),
                None,
                None,
            ),
        };
        let mut channels = self.num_init_features;
        let mut blocks = Vec::new();
        let mut transitions = Vec::new();
        for (i, &layers) in self.block_config.iter().enumerate() {
            let block = DenseBlock {
                layers: (0..layers)
                    .map(|j| DenseLayer::new(channels + j * k, k, self.bn_size, device))
                    .collect(),
            };
            blocks.push(block);
            channels += layers * k;
            if i + 1 < self.block_config.len() {
                let out = ((channels as f64) * self.compression).floor() as usize;
                transitions.push(Transition::new(channels, out, device));
                channels = out;
            }
        }
        DenseNet {
            features: DenseFeatures {
                conv0,
                norm0,
                pool0,
                blocks,
                transitions,
                norm5: batch_norm(channels, device),
            },
            classifier: LinearConfig::new(channels, self.num_classes).init(device),
        }
    }
}

/// One dense layer: `BN → ReLU → 1×1 (bn_size·k) → BN → ReLU → 3×3 (k)`, or without the
/// bottleneck `BN → ReLU → 3×3 (k)`. It outputs only its `k` new channels.
#[derive(Module, Debug)]
pub struct DenseLayer {
    /// Batch norm over the layer's input.
    pub norm1: BatchNorm,
    /// 1×1 bottleneck convolution (absent without bottleneck).
    pub conv1: Option<Conv2d>,
    /// Batch norm before the 3×3 convolution (absent without bottleneck, and once folded into
    /// `conv1` by [`DenseLayer::fold_batch_norm`]).
    pub norm2: Option<BatchNorm>,
    /// 3×3 convolution producing `k` channels.
    pub conv2: Conv2d,
}

impl DenseLayer {
    fn new(in_channels: usize, growth: usize, bn_size: usize, device: &Device) -> Self {
        let inner = bn_size * growth;
        if bn_size == 0 {
            Self {
                norm1: batch_norm(in_channels, device),
                conv1: None,
                norm2: None,
                conv2: conv3x3(in_channels, growth, 1, 1, device),
            }
        } else {
            Self {
                norm1: batch_norm(in_channels, device),
                conv1: Some(conv1x1(in_channels, inner, 1, device)),
                norm2: Some(batch_norm(inner, device)),
                conv2: conv3x3(inner, growth, 1, 1, device),
            }
        }
    }

    /// # Shapes
    /// - `x`: `[batch, in, height, width]` → `[batch, k, height, width]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = relu(self.norm1.forward(x));
        if let Some(conv1) = &self.conv1 {
            x = relu(maybe_norm(self.norm2.as_ref(), conv1.forward(x)));
        }
        self.conv2.forward(x)
    }

    /// `norm2` folded into the bottleneck convolution `conv1` (eval-mode inference;
    /// [`crate::fold`]); `norm1`, between the concatenated input and a ReLU, stays.
    pub fn fold_batch_norm(mut self) -> Self {
        if let Some(conv1) = self.conv1.take() {
            let (conv1, norm2) = fold_optional(conv1, self.norm2.take());
            self.conv1 = Some(conv1);
            self.norm2 = norm2;
        }
        self
    }
}

impl LayerCost for DenseLayer {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        let (shape, f1) = match &self.conv1 {
            Some(conv1) => conv1.cost(input),
            None => (input, 0),
        };
        let (out, f2) = self.conv2.cost(shape);
        (out, f1 + f2)
    }
}

/// A dense block: each layer's output is concatenated to everything before it.
#[derive(Module, Debug)]
pub struct DenseBlock {
    /// The dense layers (torchvision's `denselayer1`, `denselayer2`...).
    pub layers: Vec<DenseLayer>,
}

impl DenseBlock {
    /// # Shapes
    /// - `x`: `[batch, c, height, width]` → `[batch, c + layers·k, height, width]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.layers.iter().fold(x, |features, layer| {
            let new = layer.forward(features.clone());
            Tensor::cat(vec![features, new], 1)
        })
    }
}

impl LayerCost for DenseBlock {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        self.layers
            .iter()
            .fold((input, 0), |(shape, flops), layer| {
                let (new, f) = layer.cost(shape);
                ([shape[0] + new[0], shape[1], shape[2]], flops + f)
            })
    }
}

/// A transition between dense blocks: `BN → ReLU → 1×1 conv → 2×2 average pool`.
#[derive(Module, Debug)]
pub struct Transition {
    /// Batch norm over the block output.
    pub norm: BatchNorm,
    /// 1×1 convolution compressing the channels.
    pub conv: Conv2d,
    /// 2×2 / stride-2 average pool.
    pub pool: AvgPool2d,
}

impl Transition {
    fn new(in_channels: usize, out_channels: usize, device: &Device) -> Self {
        Self {
            norm: batch_norm(in_channels, device),
            conv: conv1x1(in_channels, out_channels, 1, device),
            pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, in, height, width]` → `[batch, out, height / 2, width / 2]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pool
            .forward(self.conv.forward(relu(self.norm.forward(x))))
    }
}

impl LayerCost for Transition {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        let (shape, flops) = self.conv.cost(input);
        (self.pool.cost(shape).0, flops)
    }
}

/// The feature extractor (torchvision's `features`).
#[derive(Module, Debug)]
pub struct DenseFeatures {
    /// Stem convolution.
    pub conv0: Conv2d,
    /// Stem batch norm (ImageNet stem only; `None` once folded into `conv0` by
    /// [`DenseNet::fold_batch_norm`]).
    pub norm0: Option<BatchNorm>,
    /// Stem max pool (ImageNet stem only).
    pub pool0: Option<MaxPool2d>,
    /// Dense blocks (torchvision's `denseblock1`...).
    pub blocks: Vec<DenseBlock>,
    /// Transitions between blocks (torchvision's `transition1`...).
    pub transitions: Vec<Transition>,
    /// Final batch norm (torchvision's `norm5`).
    pub norm5: BatchNorm,
}

/// A DenseNet classifier.
#[derive(Module, Debug)]
pub struct DenseNet {
    /// Stem, dense blocks and transitions, final batch norm.
    pub features: DenseFeatures,
    /// Linear classifier.
    pub classifier: Linear,
}

impl DenseNet {
    fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        let f = &self.features;
        // The ImageNet stem is conv0 → norm0 → relu → pool0 (conv0 → relu → pool0 once norm0
        // is folded); the CIFAR stem the convolution alone.
        let x = f.conv0.forward(x);
        let x = match &f.norm0 {
            Some(norm0) => relu(norm0.forward(x)),
            None if f.pool0.is_some() => relu(x),
            None => x,
        };
        match &f.pool0 {
            Some(pool0) => pool0.forward(x),
            None => x,
        }
    }

    /// Every batch norm that follows a convolution folded into it, for eval-mode inference
    /// ([`crate::fold`]): the stem's `norm0` and each dense layer's `norm2`. The others
    /// (each layer's `norm1`, the transitions', `norm5`) follow a concatenation, not a
    /// convolution, and stay.
    pub fn fold_batch_norm(mut self) -> Self {
        let f = &mut self.features;
        // Only in the ImageNet stem (with its max pool, which keeps the ReLU in `stem`).
        if f.pool0.is_some() {
            let conv0 = f.conv0.clone();
            (f.conv0, f.norm0) = fold_optional(conv0, f.norm0.take());
        }
        for block in &mut f.blocks {
            fold_each(&mut block.layers, DenseLayer::fold_batch_norm);
        }
        self
    }

    /// The output of every dense block (before its transition).
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, height, width]`
    /// - outputs: `[batch, c_i, h_i, w_i]`, halving the resolution from one block to the next
    pub fn forward_features(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let f = &self.features;
        let mut x = self.stem(x);
        let mut outputs = Vec::with_capacity(f.blocks.len());
        for (i, block) in f.blocks.iter().enumerate() {
            x = block.forward(x);
            outputs.push(x.clone());
            if let Some(transition) = f.transitions.get(i) {
                x = transition.forward(x);
            }
        }
        outputs
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, height, width]` → `[batch, num_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let f = &self.features;
        let mut x = self.stem(x);
        for (i, block) in f.blocks.iter().enumerate() {
            x = block.forward(x);
            if let Some(transition) = f.transitions.get(i) {
                x = transition.forward(x);
            }
        }
        let x = relu(f.norm5.forward(x));
        self.classifier.forward(x.mean_dims(&[2, 3]).flatten(1, 3))
    }

    /// Stage-by-stage output shape, parameters and FLOPs for one input of shape `input`.
    pub fn summary(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError> {
        let f = &self.features;
        let in_channels = f.conv0.weight.shape().dims::<4>()[1];
        let downsampling = (if f.pool0.is_some() { 4 } else { 1 }) << f.transitions.len();
        if input[0] != in_channels || input[1] < downsampling || input[2] < downsampling {
            return Err(ModelError::input(
                "densenet",
                input,
                format!("{in_channels} channels and at least {downsampling}×{downsampling} pixels"),
            ));
        }
        let (mut shape, flops) = f.conv0.cost(input);
        if let Some(pool0) = &f.pool0 {
            shape = pool0.cost(shape).0;
        }
        let stem_params = trainable_params(&f.conv0) + f.norm0.as_ref().map_or(0, trainable_params);
        let mut stages = vec![stage("stem", shape, stem_params, flops)];
        for (i, block) in f.blocks.iter().enumerate() {
            let (next, flops) = block.cost(shape);
            stages.push(stage(
                &format!("denseblock{}", i + 1),
                next,
                trainable_params(block),
                flops,
            ));
            shape = next;
            if let Some(transition) = f.transitions.get(i) {
                let (next, flops) = transition.cost(shape);
                let name = format!("transition{}", i + 1);
                stages.push(stage(&name, next, trainable_params(transition), flops));
                shape = next;
            }
        }
        let (out, flops) = self.classifier.cost(shape);
        let head = trainable_params(&f.norm5) + trainable_params(&self.classifier);
        stages.push(stage("norm5+fc", out, head, flops));
        Ok(stages)
    }
}

// --- The registry row (crate::registry) ------------------------------------------------------

/// torchvision's DenseNets and the paper's CIFAR ones.
const NAMED: [Named<DenseNetConfig>; 6] = [
    ("densenet121", DenseNetConfig::densenet121),
    ("densenet161", DenseNetConfig::densenet161),
    ("densenet169", DenseNetConfig::densenet169),
    ("densenet201", DenseNetConfig::densenet201),
    ("cifar-densenet40", DenseNetConfig::cifar_densenet40),
    ("cifar-densenet-bc100", DenseNetConfig::cifar_densenet_bc100),
];

/// The DenseNet family of the registry: torchvision's four, and `cifar-densenet<D>` (`3n + 4`)
/// / `cifar-densenet-bc<D>` (`6n + 4`) with growth rate 12.
pub const FAMILY: Family = Family {
    id: "densenet",
    patterns: &[
        "densenet121",
        "densenet161",
        "densenet169",
        "densenet201",
        "cifar-densenet<D>",
        "cifar-densenet-bc<D>",
    ],
    listed: &[
        "densenet121",
        "densenet161",
        "densenet169",
        "densenet201",
        "cifar-densenet40",
        "cifar-densenet-bc100",
    ],
    parse: parse_name,
};

fn parse_name(name: &str) -> Option<Result<ModelConfig, ModelError>> {
    if let Some((_, config)) = NAMED.iter().find(|(n, _)| *n == name) {
        return Some(Ok(ModelConfig::DenseNet(config())));
    }
    let (digits, bc) = match name.strip_prefix("cifar-densenet-bc") {
        Some(d) => (d, true),
        None => (name.strip_prefix("cifar-densenet")?, false),
    };
    Some(
        parse_depth(name, digits)
            .and_then(|depth| DenseNetConfig::cifar(depth, 12, bc))
            .map(ModelConfig::DenseNet),
    )
}

impl Architecture for DenseNetConfig {
    fn name(&self) -> String {
        if self.stem == DenseStem::Cifar {
            let bc = self.bn_size > 0;
            let per_block = self.block_config.first().copied().unwrap_or(0);
            let depth = 4 + 3 * per_block * if bc { 2 } else { 1 };
            return if bc {
                format!("cifar-densenet-bc{depth}")
            } else {
                format!("cifar-densenet{depth}")
            };
        }
        let same = |named: &DenseNetConfig| {
            named.growth_rate == self.growth_rate
                && named.block_config == self.block_config
                && named.num_init_features == self.num_init_features
        };
        NAMED
            .iter()
            .find(|(_, config)| same(&config()))
            .map_or_else(
                || format!("densenet-k{}{:?}", self.growth_rate, self.block_config),
                |(n, _)| n.to_string(),
            )
    }

    fn paper(&self) -> &'static str {
        "Huang et al. 2017, Densely Connected Convolutional Networks"
    }

    fn is_imagenet(&self) -> bool {
        self.stem == DenseStem::ImageNet
    }

    fn default_input(&self) -> FeatureShape {
        match self.stem {
            DenseStem::ImageNet => [self.in_channels, 224, 224],
            DenseStem::Cifar => [self.in_channels, 32, 32],
        }
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn for_classes(&self, num_classes: usize) -> ModelConfig {
        ModelConfig::DenseNet(self.clone().with_num_classes(num_classes))
    }

    fn for_input(&self, input: FeatureShape) -> ModelConfig {
        ModelConfig::DenseNet(self.clone().with_in_channels(input[0]))
    }

    fn check(&self) -> Result<(), ModelError> {
        self.validate()
    }

    fn build(&self, device: &Device) -> Model {
        Model::DenseNet(self.init(device))
    }
}

impl ZooModel for DenseNet {
    fn family(&self) -> &'static str {
        FAMILY.id
    }

    fn classifier(&self) -> Option<(&'static str, &Linear)> {
        Some(("classifier", &self.classifier))
    }

    fn forward_output(&self, x: Tensor<4>) -> ModelOutput {
        ModelOutput::Logits(self.forward(x))
    }

    fn stages(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError> {
        self.summary(input)
    }

    #[cfg(feature = "interop")]
    fn torch_layout(&self) -> TorchLayout {
        TorchLayout::TorchvisionDenseNet
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_all_params_get_grads, device};
    use burn::tensor::Distribution;

    fn tiny(stem: DenseStem, bn_size: usize) -> DenseNetConfig {
        DenseNetConfig::new(4, vec![2, 2, 2], 8)
            .with_bn_size(bn_size)
            .with_stem(stem)
            .with_num_classes(5)
    }

    #[test]
    fn block_concatenates_growth() {
        let device = device();
        let net = tiny(DenseStem::Cifar, 4).init(&device);
        let x = Tensor::random([2, 3, 16, 16], Distribution::Default, &device);
        let dims: Vec<_> = net
            .forward_features(x.clone())
            .iter()
            .map(|f| f.dims())
            .collect();
        // 8 + 2·4 = 16 → ×0.5 = 8 → 16 → 8 → 16.
        assert_eq!(dims, vec![[2, 16, 16, 16], [2, 16, 8, 8], [2, 16, 4, 4]]);
        assert_eq!(net.forward(x).dims(), [2, 5]);
    }

    #[test]
    fn imagenet_stem_and_no_bottleneck() {
        let device = device();
        let net = tiny(DenseStem::ImageNet, 0)
            .with_compression(1.0)
            .init(&device);
        assert!(net.features.blocks[0].layers[0].conv1.is_none());
        let x = Tensor::random([1, 3, 64, 64], Distribution::Default, &device);
        let dims: Vec<_> = net
            .forward_features(x.clone())
            .iter()
            .map(|f| f.dims())
            .collect();
        assert_eq!(dims, vec![[1, 16, 16, 16], [1, 24, 8, 8], [1, 32, 4, 4]]);
        assert_eq!(net.forward(x).dims(), [1, 5]);
    }

    #[test]
    fn cifar_depths_are_checked() {
        assert!(DenseNetConfig::cifar(41, 12, false).is_err());
        let err = DenseNetConfig::cifar(42, 12, true).unwrap_err();
        assert!(err.to_string().contains("6n+4"), "{err}");
        assert_eq!(
            DenseNetConfig::cifar_densenet_bc100().block_config,
            vec![16, 16, 16]
        );
        assert_eq!(
            DenseNetConfig::cifar_densenet40().block_config,
            vec![12, 12, 12]
        );
        assert!(
            DenseNetConfig::densenet121()
                .with_compression(0.0)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn backward_reaches_every_parameter() {
        let device = device().autodiff();
        for bn_size in [0, 4] {
            let net = tiny(DenseStem::Cifar, bn_size).init(&device);
            let x = Tensor::random([2, 3, 8, 8], Distribution::Default, &device);
            let loss = net.forward(x).powi_scalar(2).mean();
            assert_all_params_get_grads(&net, &loss.backward());
        }
    }
}
