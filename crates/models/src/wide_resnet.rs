//! Wide Residual Networks for CIFAR (Zagoruyko & Komodakis 2016, "Wide Residual Networks"):
//! WRN-`D`-`k` is a 3×3 stem with 16 channels, three stages of `n = (D − 4) / 6` pre-activation
//! basic blocks with `16k`, `32k` and `64k` channels (strides 1, 2, 2), a final batch norm + ReLU,
//! global average pooling and a classifier. Each block is
//!
//! ```text
//! o = relu(bn1(x));  z = conv2(dropout(relu(bn2(conv1(o)))));  out = z + (shortcut(o) or x)
//! ```
//!
//! with a 1×1 convolution as shortcut where the channels or the stride change (it reads the
//! pre-activated `o`, as the authors' code does), and dropout between the two convolutions
//! (the paper's WRN-28-10 with dropout uses 0.3). WRN-28-10 has 36.5 M parameters, WRN-16-8
//! 11.0 M (the paper's Table 4; exact counts in the tests). PyTorch keys are skipnet's names.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::error::{ModelError, ensure_positive};
use crate::fold::{fold_each, fold_optional};
#[cfg(feature = "interop")]
use crate::interop::TorchLayout;
use crate::layers::{
    FeatureShape, LayerCost, batch_norm, chain_cost, conv1x1, conv3x3, maybe_norm,
};
use crate::params::trainable_params;
use crate::registry::{
    Architecture, Family, Model, ModelConfig, ModelOutput, ZooModel, parse_depth,
};
use crate::summary::{StageSummary, stage};

/// Configuration of a [`CifarWideResNet`].
#[derive(Config, Debug, PartialEq)]
pub struct CifarWideResNetConfig {
    /// Depth `D = 6n + 4` (16, 22, 28, 40...): `n` blocks per stage.
    pub depth: usize,
    /// Widening factor `k`: the stages have `16k`, `32k` and `64k` channels.
    pub widen_factor: usize,
    /// Classes of the classifier.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Channels of the input image.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Dropout probability between the two convolutions of every block (0: none; the paper's
    /// runs with dropout use 0.3). Active in training only.
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl CifarWideResNetConfig {
    /// Blocks per stage, `n = (depth − 4) / 6`, or an error naming the valid depths.
    pub fn blocks_per_stage(&self) -> Result<usize, ModelError> {
        if self.depth < 10 || !(self.depth - 4).is_multiple_of(6) {
            return Err(ModelError::InvalidDepth {
                family: FAMILY.id.into(),
                depth: self.depth,
                expected: "depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 40...)".into(),
            });
        }
        Ok((self.depth - 4) / 6)
    }

    /// Channels of the three stages, `[16k, 32k, 64k]`.
    pub fn widths(&self) -> [usize; 3] {
        [16, 32, 64].map(|w| w * self.widen_factor)
    }

    /// Checks every value that [`Self::init`] would otherwise panic on.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.blocks_per_stage()?;
        let family = FAMILY.id;
        ensure_positive(family, "widen_factor", self.widen_factor)?;
        ensure_positive(family, "num_classes", self.num_classes)?;
        ensure_positive(family, "in_channels", self.in_channels)?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ModelError::config(
                family,
                "dropout",
                self.dropout,
                "a probability in [0, 1)",
            ));
        }
        Ok(())
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If [`Self::validate`] fails.
    pub fn init(&self, device: &Device) -> CifarWideResNet {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let n = (self.depth - 4) / 6;
        let mut in_channels = 16;
        let mut make_stage = |out_channels: usize, stride: usize| -> Vec<WideBlock> {
            (0..n)
                .map(|i| {
                    let stride = if i == 0 { stride } else { 1 };
                    let block =
                        WideBlock::new(in_channels, out_channels, stride, self.dropout, device);
                    in_channels = out_channels;
                    block
                })
                .collect()
        };
        let [w1, w2, w3] = self.widths();
        let layer1 = make_stage(w1, 1);
        let layer2 = make_stage(w2, 2);
        let layer3 = make_stage(w3, 2);
        CifarWideResNet {
            conv1: conv3x3(self.in_channels, 16, 1, 1, device),
            layer1,
            layer2,
            layer3,
            bn: batch_norm(w3, device),
            fc: LinearConfig::new(w3, self.num_classes).init(device),
        }
    }
}

/// A pre-activation basic block of a Wide ResNet, with dropout between its convolutions.
#[derive(Module, Debug)]
pub struct WideBlock {
    /// Batch norm of the input (`in_channels`).
    pub bn1: BatchNorm,
    /// 3×3 convolution `in → out`, with the block's stride.
    pub conv1: Conv2d,
    /// Batch norm after `conv1` (`out_channels`); `None` once folded into `conv1`.
    pub bn2: Option<BatchNorm>,
    /// Dropout before `conv2`.
    pub dropout: Dropout,
    /// 3×3 convolution `out → out`.
    pub conv2: Conv2d,
    /// 1×1 convolution `in → out` with the block's stride, where the shape changes.
    pub shortcut: Option<Conv2d>,
}

impl WideBlock {
    fn new(
        in_channels: usize,
        out_channels: usize,
        stride: usize,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let projects = in_channels != out_channels || stride != 1;
        Self {
            bn1: batch_norm(in_channels, device),
            conv1: conv3x3(in_channels, out_channels, stride, 1, device),
            bn2: Some(batch_norm(out_channels, device)),
            dropout: DropoutConfig::new(dropout).init(),
            conv2: conv3x3(out_channels, out_channels, 1, 1, device),
            shortcut: projects.then(|| conv1x1(in_channels, out_channels, stride, device)),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, in, h, w]` → `[batch, out, h / stride, w / stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let activated = relu(self.bn1.forward(x.clone()));
        let y = self.conv1.forward(activated.clone());
        let y = self.dropout.forward(relu(maybe_norm(self.bn2.as_ref(), y)));
        let z = self.conv2.forward(y);
        match &self.shortcut {
            Some(projection) => z + projection.forward(activated),
            None => z + x,
        }
    }

    /// `bn2` folded into `conv1` (the only batch norm that follows a convolution).
    pub fn fold_batch_norm(mut self) -> Self {
        (self.conv1, self.bn2) = fold_optional(self.conv1, self.bn2);
        self
    }
}

impl LayerCost for WideBlock {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        let (mid, f1) = self.conv1.cost(input);
        let (out, f2) = self.conv2.cost(mid);
        let f3 = self.shortcut.as_ref().map_or(0, |p| p.cost(input).1);
        (out, f1 + f2 + f3)
    }
}

/// A Wide ResNet for CIFAR.
#[derive(Module, Debug)]
pub struct CifarWideResNet {
    /// 3×3 stem convolution `in_channels → 16`.
    pub conv1: Conv2d,
    /// Stage 1: `n` blocks, `16k` channels, full resolution.
    pub layer1: Vec<WideBlock>,
    /// Stage 2: `n` blocks, `32k` channels, half resolution.
    pub layer2: Vec<WideBlock>,
    /// Stage 3: `n` blocks, `64k` channels, quarter resolution.
    pub layer3: Vec<WideBlock>,
    /// Final batch norm (then ReLU) before pooling.
    pub bn: BatchNorm,
    /// Classifier `64k → num_classes`.
    pub fc: Linear,
}

impl CifarWideResNet {
    /// Each stage's output.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, 32, 32]`
    /// - outputs: `[batch, 16k, 32, 32]`, `[batch, 32k, 16, 16]`, `[batch, 64k, 8, 8]`
    pub fn forward_features(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = self.conv1.forward(x);
        let mut out = Vec::with_capacity(3);
        for stage in [&self.layer1, &self.layer2, &self.layer3] {
            x = stage.iter().fold(x, |x, block| block.forward(x));
            out.push(x.clone());
        }
        out
    }

    /// Final batch norm, ReLU, global average pooling and classifier.
    ///
    /// # Shapes
    /// - `features`: `[batch, 64k, h, w]` → `[batch, num_classes]`
    pub fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        let pooled = relu(self.bn.forward(features))
            .mean_dims(&[2, 3])
            .flatten(1, 3);
        self.fc.forward(pooled)
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, height, width]` → `[batch, num_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = [&self.layer1, &self.layer2, &self.layer3]
            .into_iter()
            .fold(self.conv1.forward(x), |x, stage| {
                stage.iter().fold(x, |x, block| block.forward(x))
            });
        self.forward_head(x)
    }

    /// Each block's `bn2` folded into its `conv1` ([`crate::fold`]); the pre-activation batch
    /// norms (each block's `bn1`, the final `bn`) stay.
    pub fn fold_batch_norm(mut self) -> Self {
        for stage in [&mut self.layer1, &mut self.layer2, &mut self.layer3] {
            fold_each(stage, WideBlock::fold_batch_norm);
        }
        self
    }

    /// Stage-by-stage output shape, parameters and FLOPs for one input of shape `input`.
    pub fn summary(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError> {
        let in_channels = self.conv1.weight.shape().dims::<4>()[1];
        if input[0] != in_channels || input[1] < 4 || input[2] < 4 {
            return Err(ModelError::input(
                FAMILY.id,
                input,
                format!("{in_channels} channels and at least 4×4 pixels"),
            ));
        }
        let (mut shape, flops) = self.conv1.cost(input);
        let mut stages = vec![stage("stem", shape, trainable_params(&self.conv1), flops)];
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
        let head_params = trainable_params(&self.bn) + trainable_params(&self.fc);
        stages.push(stage("bn+avgpool+fc", out, head_params, flops));
        Ok(stages)
    }
}

// --- The registry row (crate::registry) ------------------------------------------------------

/// The Wide ResNets of the registry: `cifar-wrn<D>-<k>`, listed at the paper's CIFAR sizes.
pub const FAMILY: Family = Family {
    id: "cifar-wrn",
    patterns: &["cifar-wrn<D>-<k>"],
    listed: &["cifar-wrn40-4", "cifar-wrn16-8", "cifar-wrn28-10"],
    parse: parse_name,
};

fn parse_name(name: &str) -> Option<Result<ModelConfig, ModelError>> {
    let rest = name.strip_prefix("cifar-wrn")?;
    let (depth, widen) = rest.split_once('-').unwrap_or((rest, ""));
    Some(
        parse_depth(name, depth)
            .and_then(|depth| Ok((depth, parse_depth(name, widen)?)))
            .and_then(|(depth, widen)| {
                let config = CifarWideResNetConfig::new(depth, widen);
                config.validate()?;
                Ok(ModelConfig::CifarWideResNet(config))
            }),
    )
}

impl Architecture for CifarWideResNetConfig {
    fn name(&self) -> String {
        format!("cifar-wrn{}-{}", self.depth, self.widen_factor)
    }

    fn paper(&self) -> &'static str {
        "Zagoruyko & Komodakis 2016, Wide Residual Networks"
    }

    fn default_input(&self) -> FeatureShape {
        [self.in_channels, 32, 32]
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn for_classes(&self, num_classes: usize) -> ModelConfig {
        ModelConfig::CifarWideResNet(self.clone().with_num_classes(num_classes))
    }

    fn for_input(&self, input: FeatureShape) -> ModelConfig {
        ModelConfig::CifarWideResNet(self.clone().with_in_channels(input[0]))
    }

    fn check(&self) -> Result<(), ModelError> {
        self.validate()
    }

    fn build(&self, device: &Device) -> Model {
        Model::CifarWideResNet(self.init(device))
    }
}

impl ZooModel for CifarWideResNet {
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
        TorchLayout::Skipnet
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_all_params_get_grads, device};
    use burn::tensor::Distribution;

    #[test]
    fn depth_must_be_6n_plus_4() {
        for depth in [10, 16, 22, 28, 40] {
            let config = CifarWideResNetConfig::new(depth, 2);
            assert_eq!(config.blocks_per_stage().unwrap(), (depth - 4) / 6);
        }
        for depth in [0, 4, 8, 20, 29] {
            let err = CifarWideResNetConfig::new(depth, 2)
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("invalid depth {depth}")), "{err}");
            assert!(err.contains("6n+4"), "{err}");
        }
        let err = CifarWideResNetConfig::new(16, 0).validate().unwrap_err();
        assert!(err.to_string().contains("widen_factor"), "{err}");
        let err = CifarWideResNetConfig::new(16, 1)
            .with_dropout(1.0)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("dropout"), "{err}");
    }

    #[test]
    fn stages_are_16k_32k_64k_wide_at_full_half_and_quarter_resolution() {
        let device = device();
        let net = CifarWideResNetConfig::new(10, 2)
            .with_num_classes(7)
            .init(&device);
        let x = Tensor::random([2, 3, 32, 32], Distribution::Default, &device);
        let dims: Vec<_> = net
            .forward_features(x.clone())
            .iter()
            .map(|f| f.dims())
            .collect();
        assert_eq!(dims, vec![[2, 32, 32, 32], [2, 64, 16, 16], [2, 128, 8, 8]]);
        assert_eq!(net.forward(x).dims(), [2, 7]);
        // Shortcuts project exactly where the shape changes: every first block at k > 1.
        let projected: Vec<bool> = [&net.layer1, &net.layer2, &net.layer3]
            .iter()
            .flat_map(|stage| stage.iter().map(|b| b.shortcut.is_some()))
            .collect();
        assert_eq!(projected, vec![true, true, true]);
        let narrow = CifarWideResNetConfig::new(16, 1).init(&device);
        assert!(narrow.layer1.iter().all(|b| b.shortcut.is_none()));
        assert!(narrow.layer2[0].shortcut.is_some() && narrow.layer2[1].shortcut.is_none());
    }

    #[test]
    fn identity_blocks_add_the_raw_input_and_projections_read_the_activated_one() {
        // With conv2 zeroed, a block's output is its shortcut alone: x itself for an identity
        // block, the projection of relu(bn1(x)) for a projecting one.
        let device = device();
        let x = Tensor::random([1, 4, 6, 6], Distribution::Normal(0.0, 1.0), &device);
        let zero = |mut block: WideBlock| {
            block.conv2.weight = block.conv2.weight.map(|w| w.zeros_like());
            block
        };
        let identity = zero(WideBlock::new(4, 4, 1, 0.0, &device));
        let diff: f32 = (identity.forward(x.clone()) - x.clone())
            .abs()
            .max()
            .into_scalar();
        assert_eq!(diff, 0.0);
        let projecting = zero(WideBlock::new(4, 8, 2, 0.0, &device));
        let expected = projecting
            .shortcut
            .as_ref()
            .unwrap()
            .forward(relu(projecting.bn1.forward(x.clone())));
        let diff: f32 = (projecting.forward(x) - expected).abs().max().into_scalar();
        assert_eq!(diff, 0.0);
    }

    #[test]
    fn folding_keeps_the_function() {
        let device = device();
        let net = CifarWideResNetConfig::new(10, 2).init(&device);
        let x = Tensor::random([2, 3, 16, 16], Distribution::Default, &device);
        let before = net.forward(x.clone());
        let folded = net.fold_batch_norm();
        assert!(folded.layer1[0].bn2.is_none() && folded.layer1[0].conv1.bias.is_some());
        let diff: f32 = (folded.forward(x) - before.clone())
            .abs()
            .max()
            .into_scalar();
        let scale: f32 = before.abs().max().into_scalar();
        assert!(diff <= 1e-4 * scale.max(1.0), "max |Δ| {diff}");
    }

    #[test]
    fn summary_adds_up() {
        let net = CifarWideResNetConfig::new(16, 2).init(&device());
        let stages = net.summary([3, 32, 32]).unwrap();
        let params: usize = stages.iter().map(|s| s.params).sum();
        assert_eq!(params, trainable_params(&net));
        assert_eq!(stages[3].output_shape, vec![128, 8, 8]);
        assert!(net.summary([1, 32, 32]).is_err());
    }

    #[test]
    fn backward_reaches_every_parameter_with_dropout() {
        let device = device().autodiff();
        let net = CifarWideResNetConfig::new(10, 1)
            .with_dropout(0.3)
            .with_num_classes(3)
            .init(&device);
        let x = Tensor::random([2, 3, 8, 8], Distribution::Default, &device);
        let loss = net.forward(x).powi_scalar(2).mean();
        assert_all_params_get_grads(&net, &loss.backward());
    }

    #[test]
    fn names_parse_and_round_trip() {
        for name in [
            "cifar-wrn28-10",
            "cifar-wrn16-8",
            "cifar-wrn40-4",
            "cifar-wrn10-1",
        ] {
            let config = ModelConfig::from_name(name).unwrap();
            assert_eq!(config.name(), name);
        }
        for bad in [
            "cifar-wrn28",
            "cifar-wrn28-",
            "cifar-wrn-10",
            "cifar-wrn28-x",
            "cifar-wrn27-10",
        ] {
            assert!(ModelConfig::from_name(bad).is_err(), "{bad}");
        }
        let err = ModelConfig::from_name("cifar-wrn27-10")
            .unwrap_err()
            .to_string();
        assert!(err.contains("6n+4"), "{err}");
    }
}
