//! Highway networks (Srivastava, Greff & Schmidhuber 2015): every layer mixes its transform
//! `H(x)` with its input through a learned transform gate `T(x)`,
//! `y = H(x)·T(x) + x·(1 − T(x))`. The gate bias starts negative (−2 by default) so that a
//! fresh network carries its input forward, which lets plain SGD train 100-layer networks.
//!
//! [`HighwayMlp`] is the fully connected network of the paper; [`HighwayConv`] its
//! convolutional variant for images. With `gated = false` both become their *plain* twin,
//! `y = H(x)`.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

use crate::error::{ModelError, ensure_positive};
use crate::init::WeightInit;
#[cfg(feature = "interop")]
use crate::interop::TorchLayout;
use crate::layers::{FeatureShape, LayerCost, conv2d};
use crate::params::trainable_params;
use crate::registry::{
    Architecture, Family, Model, ModelConfig, ModelOutput, ZooModel, parse_depth,
};
use crate::summary::{StageSummary, stage};

/// Deepest highway network the configs accept.
pub const MAX_HIGHWAY_DEPTH: usize = 1000;

fn check_depth(family: &str, depth: usize) -> Result<(), ModelError> {
    if depth == 0 || depth > MAX_HIGHWAY_DEPTH {
        return Err(ModelError::InvalidDepth {
            family: family.into(),
            depth,
            expected: format!("between 1 and {MAX_HIGHWAY_DEPTH} highway layers"),
        });
    }
    Ok(())
}

fn check_gate_bias(family: &str, gate_bias: f64) -> Result<(), ModelError> {
    if gate_bias.is_finite() {
        Ok(())
    } else {
        Err(ModelError::config(
            family,
            "gate_bias",
            gate_bias,
            "a finite number",
        ))
    }
}

fn with_constant_bias<const D: usize>(
    bias: Option<Param<Tensor<D>>>,
    value: f64,
) -> Option<Param<Tensor<D>>> {
    bias.map(|b| {
        let t = b.val();
        Param::from_tensor(Tensor::full(t.shape(), value, &t.device()))
    })
}

/// The transform gate `T(x) = σ(W_T x + b_T)`, with `b_T` initialised to `gate_bias`.
#[derive(Module, Debug)]
pub struct TransformGate {
    /// The gate's affine map.
    pub linear: Linear,
}

impl TransformGate {
    fn new(width: usize, gate_bias: f64, device: &Device) -> Self {
        let mut linear = LinearConfig::new(width, width).init(device);
        linear.bias = with_constant_bias(linear.bias, gate_bias);
        Self { linear }
    }

    /// # Shapes
    /// - `x`: `[batch, width]` → `[batch, width]`, values in (0, 1)
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        sigmoid(self.linear.forward(x))
    }
}

/// One fully connected highway layer: `y = H(x)·T(x) + x·(1 − T(x))` with `H = relu(W_H x + b_H)`.
#[derive(Module, Debug)]
pub struct HighwayLayer {
    /// The transform `H`'s affine map.
    pub transform: Linear,
    /// The transform gate `T` (absent in the plain twin, where `y = H(x)`).
    pub gate: Option<TransformGate>,
}

impl HighwayLayer {
    /// # Shapes
    /// - `x`: `[batch, width]` → `[batch, width]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = relu(self.transform.forward(x.clone()));
        match &self.gate {
            Some(gate) => {
                let t = gate.forward(x.clone());
                // H·T + x·(1 − T) = x + T·(H − x)
                x.clone() + t * (h - x)
            }
            None => h,
        }
    }
}

/// Configuration of a [`HighwayMlp`].
#[derive(Config, Debug, PartialEq)]
pub struct HighwayMlpConfig {
    /// Input features (784 for a flattened 28×28 image).
    pub in_features: usize,
    /// Classes of the classifier.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Width of every highway layer (50 in the paper's depth experiments).
    #[config(default = 50)]
    pub width: usize,
    /// Number of highway layers.
    #[config(default = 10)]
    pub depth: usize,
    /// Initial transform-gate bias (negative: start by carrying the input).
    #[config(default = -2.0)]
    pub gate_bias: f64,
    /// `false` builds the plain twin, `y = H(x)`, with the same transforms and no gates.
    #[config(default = true)]
    pub gated: bool,
    /// Initialisation of the input layer and the transforms `H` (`None`: Burn's default,
    /// [`WeightInit::TorchDefault`]); gates and classifier always start from Burn's default.
    pub init: Option<WeightInit>,
}

impl HighwayMlpConfig {
    /// Checks every value that [`Self::init`] would otherwise panic on.
    pub fn validate(&self) -> Result<(), ModelError> {
        let family = "highway-mlp";
        check_depth(family, self.depth)?;
        ensure_positive(family, "in_features", self.in_features)?;
        ensure_positive(family, "num_classes", self.num_classes)?;
        ensure_positive(family, "width", self.width)?;
        check_gate_bias(family, self.gate_bias)
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If [`Self::validate`] fails.
    pub fn init(&self, device: &Device) -> HighwayMlp {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let initializer = self
            .init
            .unwrap_or(WeightInit::TorchDefault)
            .linear_initializer();
        let linear = |d_in: usize, d_out: usize| {
            LinearConfig::new(d_in, d_out)
                .with_initializer(initializer.clone())
                .init(device)
        };
        HighwayMlp {
            input: linear(self.in_features, self.width),
            layers: (0..self.depth)
                .map(|_| HighwayLayer {
                    transform: linear(self.width, self.width),
                    gate: self
                        .gated
                        .then(|| TransformGate::new(self.width, self.gate_bias, device)),
                })
                .collect(),
            classifier: LinearConfig::new(self.width, self.num_classes).init(device),
        }
    }
}

/// A fully connected highway network: input projection + ReLU, `depth` highway layers,
/// linear classifier.
#[derive(Module, Debug)]
pub struct HighwayMlp {
    /// Projection `in_features → width`.
    pub input: Linear,
    /// The highway layers.
    pub layers: Vec<HighwayLayer>,
    /// Classifier `width → num_classes`.
    pub classifier: Linear,
}

impl HighwayMlp {
    /// Class logits.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_features]` → `[batch, num_classes]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = relu(self.input.forward(x));
        let x = self.layers.iter().fold(x, |x, layer| layer.forward(x));
        self.classifier.forward(x)
    }

    /// Class logits for images, flattened to `channels·height·width` features.
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, height, width]` → `[batch, num_classes]`
    pub fn forward_image(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward(x.flatten(1, 3))
    }

    /// Input projection, highway layers and classifier, for one input of shape `input`
    /// (flattened).
    pub fn summary(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError> {
        let [in_features, width] = self.input.weight.shape().dims();
        let features: usize = input.iter().product();
        if features != in_features {
            return Err(ModelError::input(
                "highway-mlp",
                input,
                format!("{in_features} features once flattened, got {features}"),
            ));
        }
        let per_layer: u64 = self
            .layers
            .first()
            .map(|l| {
                l.transform.cost([width, 1, 1]).1
                    + l.gate
                        .as_ref()
                        .map_or(0, |g| g.linear.cost([width, 1, 1]).1)
            })
            .unwrap_or(0);
        let (_, input_flops) = self.input.cost([features, 1, 1]);
        let (out, fc_flops) = self.classifier.cost([width, 1, 1]);
        Ok(vec![
            stage(
                "input fc",
                [width, 1, 1],
                trainable_params(&self.input),
                input_flops,
            ),
            stage(
                &format!("highway x{}", self.layers.len()),
                [width, 1, 1],
                trainable_params(&self.layers),
                per_layer * self.layers.len() as u64,
            ),
            stage(
                "classifier fc",
                out,
                trainable_params(&self.classifier),
                fc_flops,
            ),
        ])
    }
}

/// One convolutional highway layer: `H` and `T` are 3×3 convolutions with bias.
#[derive(Module, Debug)]
pub struct HighwayConvLayer {
    /// The transform `H` (followed by ReLU).
    pub transform: Conv2d,
    /// The transform gate `T` (followed by a sigmoid; absent in the plain twin).
    pub gate: Option<Conv2d>,
}

impl HighwayConvLayer {
    fn new(channels: usize, gate_bias: Option<f64>, device: &Device) -> Self {
        let gate = gate_bias.map(|bias| {
            let mut conv = conv2d(channels, channels, 3, 1, 1, 1, true, device);
            conv.bias = with_constant_bias(conv.bias, bias);
            conv
        });
        Self {
            transform: conv2d(channels, channels, 3, 1, 1, 1, true, device),
            gate,
        }
    }

    /// # Shapes
    /// - `x`: `[batch, channels, height, width]` → same
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = relu(self.transform.forward(x.clone()));
        match &self.gate {
            Some(gate) => {
                let t = sigmoid(gate.forward(x.clone()));
                x.clone() + t * (h - x)
            }
            None => h,
        }
    }
}

impl LayerCost for HighwayConvLayer {
    fn cost(&self, input: FeatureShape) -> (FeatureShape, u64) {
        let (out, f) = self.transform.cost(input);
        (out, f + self.gate.as_ref().map_or(0, |g| g.cost(input).1))
    }
}

/// Configuration of a [`HighwayConv`].
#[derive(Config, Debug, PartialEq)]
pub struct HighwayConvConfig {
    /// Channels of the input image.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Classes of the classifier.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Channels of each stage; stages after the first halve the resolution.
    #[config(default = "vec![16, 32, 64]")]
    pub widths: Vec<usize>,
    /// Highway layers per stage.
    #[config(default = 3)]
    pub layers_per_stage: usize,
    /// Initial transform-gate bias.
    #[config(default = -2.0)]
    pub gate_bias: f64,
    /// `false` builds the plain twin.
    #[config(default = true)]
    pub gated: bool,
}

impl HighwayConvConfig {
    /// Checks every value that [`Self::init`] would otherwise panic on.
    pub fn validate(&self) -> Result<(), ModelError> {
        let family = "highway-conv";
        check_depth(family, self.layers_per_stage * self.widths.len().max(1))?;
        ensure_positive(family, "layers_per_stage", self.layers_per_stage)?;
        ensure_positive(family, "in_channels", self.in_channels)?;
        ensure_positive(family, "num_classes", self.num_classes)?;
        if self.widths.is_empty() || self.widths.contains(&0) {
            return Err(ModelError::config(
                family,
                "widths",
                format!("{:?}", self.widths),
                "at least one stage, each with at least one channel",
            ));
        }
        check_gate_bias(family, self.gate_bias)
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If [`Self::validate`] fails.
    pub fn init(&self, device: &Device) -> HighwayConv {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let gate_bias = self.gated.then_some(self.gate_bias);
        HighwayConv {
            stem: conv2d(self.in_channels, self.widths[0], 3, 1, 1, 1, true, device),
            transitions: self
                .widths
                .windows(2)
                .map(|w| conv2d(w[0], w[1], 3, 1, 1, 1, true, device))
                .collect(),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            stages: self
                .widths
                .iter()
                .map(|&c| {
                    (0..self.layers_per_stage)
                        .map(|_| HighwayConvLayer::new(c, gate_bias, device))
                        .collect()
                })
                .collect(),
            fc: LinearConfig::new(*self.widths.last().expect("validated"), self.num_classes)
                .init(device),
        }
    }
}

/// A convolutional highway network: 3×3 stem, stages of highway layers joined by
/// `3×3 conv → ReLU → 2×2 max pool` transitions, global average pool, classifier.
#[derive(Module, Debug)]
pub struct HighwayConv {
    /// 3×3 stem convolution (followed by ReLU).
    pub stem: Conv2d,
    /// Channel-changing convolution entering each stage after the first.
    pub transitions: Vec<Conv2d>,
    /// 2×2 max pool after each transition.
    pub pool: MaxPool2d,
    /// Highway layers of each stage.
    pub stages: Vec<Vec<HighwayConvLayer>>,
    /// Classifier.
    pub fc: Linear,
}

impl HighwayConv {
    /// Class logits.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, height, width]` → `[batch, num_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = relu(self.stem.forward(x));
        for (i, stage) in self.stages.iter().enumerate() {
            if i > 0 {
                x = self.pool.forward(relu(self.transitions[i - 1].forward(x)));
            }
            x = stage.iter().fold(x, |x, layer| layer.forward(x));
        }
        self.fc.forward(x.mean_dims(&[2, 3]).flatten(1, 3))
    }

    /// Stage-by-stage output shape, parameters and FLOPs for one input of shape `input`.
    pub fn summary(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError> {
        let in_channels = self.stem.weight.shape().dims::<4>()[1];
        let min = 1usize << self.transitions.len();
        if input[0] != in_channels || input[1] < min || input[2] < min {
            return Err(ModelError::input(
                "highway-conv",
                input,
                format!("{in_channels} channels and at least {min}×{min} pixels"),
            ));
        }
        let (mut shape, flops) = self.stem.cost(input);
        let mut stages = vec![stage("stem", shape, trainable_params(&self.stem), flops)];
        for (i, layers) in self.stages.iter().enumerate() {
            let mut flops = 0;
            let mut params = trainable_params(layers);
            if i > 0 {
                let (out, f) = self.transitions[i - 1].cost(shape);
                shape = self.pool.cost(out).0;
                flops += f;
                params += trainable_params(&self.transitions[i - 1]);
            }
            let (out, f) = chain_layers(layers, shape);
            shape = out;
            stages.push(stage(&format!("stage{}", i + 1), shape, params, flops + f));
        }
        let (out, flops) = self.fc.cost(shape);
        stages.push(stage("avgpool+fc", out, trainable_params(&self.fc), flops));
        Ok(stages)
    }
}

fn chain_layers(layers: &[HighwayConvLayer], input: FeatureShape) -> (FeatureShape, u64) {
    crate::layers::chain_cost(input, layers.iter().map(|l| l as &dyn LayerCost))
}

// --- The registry rows (crate::registry) -----------------------------------------------------

/// Width of the highway layers of `highway-mlp<D>` (Srivastava et al. 2015, §3.1). Both MLP
/// families start their input layer and transforms from He-normal (fan-in), which keeps a ReLU
/// layer's output at the scale of its input, so a deep plain twin does not fail merely from a
/// shrinking initialisation.
pub const HIGHWAY_MLP_WIDTH: usize = 50;

/// Width of the layers of `plain-mlp<D>`: 71 units give `71·71 + 71 = 5112` parameters a
/// layer, as many as a highway layer of 50 (`2·(50·50 + 50) = 5100`: transform and gate), the
/// paper's way of comparing the two at equal size.
pub const PLAIN_MLP_WIDTH: usize = 71;

/// The initial transform-gate bias of `highway-mlp<D>`: `−max(2, ln D)` (−2.3 at 10 layers,
/// −4.6 at 100). A gate opens `T ≈ e^b` of each layer at the start, so the input reaches the
/// last of `D` layers scaled by about `(1 − 1/D)^D ≈ 1/e` instead of vanishing; Srivastava et al.
/// tuned this bias per depth (between −1 and −10) and note that deeper networks need more
/// negative ones.
pub fn highway_gate_bias(depth: usize) -> f64 {
    -(depth.max(1) as f64).ln().max(2.0)
}

/// The fully connected highway networks of the registry: `highway-mlp` (10 layers of 50, gate
/// bias −2, PyTorch's initialisation) and the depth sweep of Srivastava et al.'s Fig. 1,
/// `highway-mlp<D>` and its equal-size plain twin `plain-mlp<D>`.
pub const MLP_FAMILY: Family = Family {
    id: "highway-mlp",
    patterns: &["highway-mlp", "highway-mlp<D>", "plain-mlp<D>"],
    listed: &[
        "highway-mlp",
        "highway-mlp10",
        "plain-mlp10",
        "highway-mlp20",
        "plain-mlp20",
        "highway-mlp50",
        "plain-mlp50",
        "highway-mlp100",
        "plain-mlp100",
    ],
    parse: parse_mlp_name,
};

fn parse_mlp_name(name: &str) -> Option<Result<ModelConfig, ModelError>> {
    if name == "highway-mlp" {
        return Some(Ok(ModelConfig::HighwayMlp(HighwayMlpConfig::new(784))));
    }
    let (digits, gated, width) = match name.strip_prefix("highway-mlp") {
        Some(d) => (d, true, HIGHWAY_MLP_WIDTH),
        None => (name.strip_prefix("plain-mlp")?, false, PLAIN_MLP_WIDTH),
    };
    Some(parse_depth(name, digits).and_then(|depth| {
        let config = HighwayMlpConfig::new(784)
            .with_depth(depth)
            .with_width(width)
            .with_gated(gated)
            .with_gate_bias(highway_gate_bias(depth))
            .with_init(Some(WeightInit::He));
        config.validate()?;
        Ok(ModelConfig::HighwayMlp(config))
    }))
}

/// The convolutional highway network of the registry, `highway-conv`.
pub const CONV_FAMILY: Family = Family {
    id: "highway-conv",
    patterns: &["highway-conv"],
    listed: &["highway-conv"],
    parse: |name| {
        (name == "highway-conv").then(|| Ok(ModelConfig::HighwayConv(HighwayConvConfig::new())))
    },
};

impl Architecture for HighwayMlpConfig {
    fn name(&self) -> String {
        let he = self.init == Some(WeightInit::He);
        let depth = self.depth;
        if he && self.gated && self.width == HIGHWAY_MLP_WIDTH {
            format!("highway-mlp{depth}")
        } else if he && !self.gated && self.width == PLAIN_MLP_WIDTH {
            format!("plain-mlp{depth}")
        } else {
            MLP_FAMILY.id.to_string()
        }
    }

    fn paper(&self) -> &'static str {
        if self.gated {
            "Srivastava et al. 2015, Training Very Deep Networks"
        } else {
            "Srivastava et al. 2015, Training Very Deep Networks (plain baseline)"
        }
    }

    fn default_input(&self) -> FeatureShape {
        if self.in_features == 784 {
            [1, 28, 28]
        } else {
            [self.in_features, 1, 1]
        }
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn for_classes(&self, num_classes: usize) -> ModelConfig {
        ModelConfig::HighwayMlp(self.clone().with_num_classes(num_classes))
    }

    fn for_input(&self, input: FeatureShape) -> ModelConfig {
        ModelConfig::HighwayMlp(HighwayMlpConfig {
            in_features: input.iter().product(),
            ..self.clone()
        })
    }

    fn check(&self) -> Result<(), ModelError> {
        self.validate()
    }

    fn build(&self, device: &Device) -> Model {
        Model::HighwayMlp(self.init(device))
    }
}

impl ZooModel for HighwayMlp {
    fn family(&self) -> &'static str {
        MLP_FAMILY.id
    }

    fn classifier(&self) -> Option<(&'static str, &Linear)> {
        Some(("classifier", &self.classifier))
    }

    fn forward_output(&self, x: Tensor<4>) -> ModelOutput {
        ModelOutput::Logits(self.forward_image(x))
    }

    fn stages(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError> {
        self.summary(input)
    }

    #[cfg(feature = "interop")]
    fn torch_layout(&self) -> TorchLayout {
        TorchLayout::HighwayMlp
    }
}

impl Architecture for HighwayConvConfig {
    fn name(&self) -> String {
        CONV_FAMILY.id.to_string()
    }

    fn paper(&self) -> &'static str {
        "Srivastava et al. 2015, Training Very Deep Networks"
    }

    fn default_input(&self) -> FeatureShape {
        [self.in_channels, 32, 32]
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn for_classes(&self, num_classes: usize) -> ModelConfig {
        ModelConfig::HighwayConv(self.clone().with_num_classes(num_classes))
    }

    fn for_input(&self, input: FeatureShape) -> ModelConfig {
        ModelConfig::HighwayConv(self.clone().with_in_channels(input[0]))
    }

    fn check(&self) -> Result<(), ModelError> {
        self.validate()
    }

    fn build(&self, device: &Device) -> Model {
        Model::HighwayConv(self.init(device))
    }
}

impl ZooModel for HighwayConv {
    fn family(&self) -> &'static str {
        CONV_FAMILY.id
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
    use burn::tensor::{Distribution, Tolerance};

    #[test]
    fn he_init_keeps_the_scale_of_relu_layers() {
        let device = device();
        let variance = |init: Option<WeightInit>| {
            let net = HighwayMlpConfig::new(16)
                .with_width(256)
                .with_depth(1)
                .with_gated(false)
                .with_init(init)
                .init(&device);
            let w = net.layers[0].transform.weight.val();
            let v: f32 = w.powf_scalar(2.0).mean().into_scalar();
            v as f64 * 256.0
        };
        // fan_in · Var(w): 2 for He, 1/3 for Burn's (and PyTorch's) default.
        assert!((variance(Some(WeightInit::He)) - 2.0).abs() < 0.1);
        assert!((variance(None) - 1.0 / 3.0).abs() < 0.03);
        assert!((variance(Some(WeightInit::TorchDefault)) - 1.0 / 3.0).abs() < 0.03);
    }

    #[test]
    fn gate_bias_starts_negative() {
        let device = device();
        let net = HighwayMlpConfig::new(8).with_depth(2).init(&device);
        let bias = net.layers[1]
            .gate
            .as_ref()
            .unwrap()
            .linear
            .bias
            .as_ref()
            .unwrap()
            .val();
        bias.into_data().assert_approx_eq::<f32>(
            &Tensor::<1>::full([50], -2.0, &device).into_data(),
            Tolerance::absolute(1e-7),
        );
    }

    #[test]
    fn closed_gate_carries_the_input() {
        let device = device();
        // A very negative gate bias closes T: the layer is (nearly) the identity.
        let mut layer = HighwayMlpConfig::new(4)
            .with_width(6)
            .with_depth(1)
            .with_gate_bias(-40.0)
            .init(&device)
            .layers
            .remove(0);
        let x = Tensor::<2>::random([3, 6], Distribution::Default, &device);
        layer
            .forward(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&x.clone().into_data(), Tolerance::absolute(1e-5));
        // Without a gate the layer is relu(W x + b), which is not the identity.
        layer.gate = None;
        let diff: f32 = (layer.forward(x.clone()) - x).abs().max().into_scalar();
        assert!(diff > 1e-3);
    }

    #[test]
    fn hundred_layer_mlp_and_conv_shapes() {
        let device = device();
        let mlp = HighwayMlpConfig::new(3 * 8 * 8)
            .with_depth(100)
            .init(&device);
        let x = Tensor::random([2, 3, 8, 8], Distribution::Default, &device);
        assert_eq!(mlp.forward_image(x.clone()).dims(), [2, 10]);
        assert_eq!(mlp.layers.len(), 100);
        let conv = HighwayConvConfig::new()
            .with_layers_per_stage(1)
            .init(&device);
        assert_eq!(conv.forward(x).dims(), [2, 10]);
        assert!(HighwayMlpConfig::new(4).with_depth(0).validate().is_err());
        assert!(
            HighwayConvConfig::new()
                .with_widths(vec![])
                .validate()
                .is_err()
        );
    }

    #[test]
    fn backward_reaches_every_parameter() {
        let device = device().autodiff();
        let mlp = HighwayMlpConfig::new(12).with_depth(3).init(&device);
        let loss = mlp
            .forward(Tensor::random([4, 12], Distribution::Default, &device))
            .powi_scalar(2)
            .mean();
        assert_all_params_get_grads(&mlp, &loss.backward());
        let conv = HighwayConvConfig::new()
            .with_widths(vec![4, 8])
            .with_layers_per_stage(2)
            .init(&device);
        let loss = conv
            .forward(Tensor::random([2, 3, 8, 8], Distribution::Default, &device))
            .powi_scalar(2)
            .mean();
        assert_all_params_get_grads(&conv, &loss.backward());
    }
}
