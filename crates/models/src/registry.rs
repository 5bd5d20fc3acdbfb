//! The zoo as one table: each family of architectures declares once, in its own file, the
//! names it answers to, the names `list` shows and how a name becomes a configuration
//! ([`Family`]), and implements [`Architecture`] for its configuration and [`ZooModel`] for its
//! module. Everything here — [`all_names`], [`ModelConfig::from_name`], [`suggestions`], the
//! error listing valid names, and [`ModelConfig`] / [`Model`] dispatch — is derived from
//! [`FAMILIES`].
//!
//! ```text
//! resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d wide_resnet50_2 plain18 plain34
//! cifar-resnet<D> cifar-resnet<D>-b cifar-plain<D> cifar-preresnet<D>     (D = 6n+2: 20, 32, 44, 56, 110...)
//! cifar-wrn<D>-<k>                                                        (D = 6n+4: 16, 28, 40...; widening k)
//! densenet121 densenet161 densenet169 densenet201 cifar-densenet<D> cifar-densenet-bc<D>
//! unet highway-mlp highway-conv
//! highway-mlp<D> plain-mlp<D>     (D highway layers of width 50 / plain layers of width 71)
//! ```
//!
//! Adding a family: a file with its configuration, module, `FAMILY` constant and the two trait
//! implementations; one row in [`FAMILIES`]; one variant in [`ModelConfig`] and in [`Model`]
//! (the record format needs a concrete type) and their line in [`ModelConfig::architecture`],
//! [`Model::zoo`] and, with batch norms to fold, [`Model::fold_batch_norm`].

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::cifar::{CifarResNet, CifarResNetConfig};
use crate::densenet::{DenseNet, DenseNetConfig};
use crate::error::ModelError;
use crate::highway::{HighwayConv, HighwayConvConfig, HighwayMlp, HighwayMlpConfig};
#[cfg(feature = "interop")]
use crate::interop::TorchLayout;
use crate::layers::FeatureShape;
pub use crate::output::ModelOutput;
use crate::params::trainable_params;
use crate::resnet::{ResNet, ResNetConfig};
use crate::summary::{ModelSummary, StageSummary};
use crate::unet::{UNet, UNetConfig};
use crate::wide_resnet::{CifarWideResNet, CifarWideResNetConfig};

pub use crate::highway::{HIGHWAY_MLP_WIDTH, PLAIN_MLP_WIDTH, highway_gate_bias};

/// One family of the zoo, declared once beside its configuration.
#[derive(Debug)]
pub struct Family {
    /// Short identifier, for messages: `resnet`, `cifar-resnet`, `densenet`...
    pub id: &'static str,
    /// The names and name patterns users can type, as errors show them (`resnet18`,
    /// `cifar-resnet<D>`).
    pub patterns: &'static [&'static str],
    /// The names `cargo xtask list` shows: every fixed name, each pattern at its paper depths.
    pub listed: &'static [&'static str],
    /// The configuration `name` stands for, with the paper's defaults; `None` when `name` is not
    /// this family's (a family's names never overlap another's: see the tests).
    pub parse: fn(&str) -> Option<Result<ModelConfig, ModelError>>,
}

/// A registry name and the constructor of its configuration.
pub type Named<C> = (&'static str, fn() -> C);

/// The zoo: every family, in the order `list` shows them.
pub static FAMILIES: &[Family] = &[
    crate::resnet::net::FAMILY,
    crate::cifar::FAMILY,
    crate::wide_resnet::FAMILY,
    crate::densenet::FAMILY,
    crate::unet::FAMILY,
    crate::highway::MLP_FAMILY,
    crate::highway::CONV_FAMILY,
];

/// What every architecture's configuration answers, implemented once per family beside the
/// configuration.
pub trait Architecture {
    /// The registry name of this configuration (`cifar-resnet56`, `resnet50`): the name
    /// [`ModelConfig::from_name`] builds it from, up to the number of classes, the input and the
    /// options no name spells (U-Net's width, a zero-initialised residual, ...).
    fn name(&self) -> String;
    /// The paper that introduced the architecture.
    fn paper(&self) -> &'static str;
    /// Classification or segmentation.
    fn task(&self) -> Task {
        Task::Classification
    }
    /// An ImageNet architecture (ImageNet stem): its images are prepared with the ImageNet
    /// preset unless a run says otherwise.
    fn is_imagenet(&self) -> bool {
        false
    }
    /// The input this architecture is usually trained on, `[channels, height, width]`.
    fn default_input(&self) -> FeatureShape;
    /// The number of classes (output channels for U-Net).
    fn num_classes(&self) -> usize;
    /// The same architecture with `num_classes` outputs.
    fn for_classes(&self, num_classes: usize) -> ModelConfig;
    /// The same architecture for inputs of `[channels, height, width]`.
    fn for_input(&self, input: FeatureShape) -> ModelConfig;
    /// Checks the configuration without building anything.
    fn check(&self) -> Result<(), ModelError>;
    /// Builds the model on `device` (the configuration is checked first by the caller).
    fn build(&self, device: &Device) -> Model;
}

/// What every module of the zoo answers, implemented once per family beside the module.
pub trait ZooModel {
    /// The family identifier ([`Family::id`]).
    fn family(&self) -> &'static str;
    /// The classifier (the last linear layer) and its path (`fc` or `classifier`, as in
    /// torchvision), which fine-tuning replaces; `None` for U-Net.
    fn classifier(&self) -> Option<(&'static str, &Linear)>;
    /// Classification or segmentation.
    fn task(&self) -> Task {
        Task::Classification
    }
    /// The network's output for `x` (`[batch, channels, height, width]`): a classifier's class
    /// logits or a segmenter's per-pixel logits.
    fn forward_output(&self, x: Tensor<4>) -> ModelOutput;
    /// Class logits, `[batch, channels, height, width]` → `[batch, num_classes]`; `None` for
    /// segmentation networks.
    fn forward_classification(&self, x: Tensor<4>) -> Option<Tensor<2>> {
        self.forward_output(x).logits()
    }
    /// Per-pixel logits, `[batch, channels, height, width]` → `[batch, out, height, width]`;
    /// `None` for classifiers.
    fn forward_segmentation(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        self.forward_output(x).mask_logits()
    }
    /// Stage-by-stage output shape, parameters and FLOPs for one input of shape `input`.
    fn stages(&self, input: FeatureShape) -> Result<Vec<StageSummary>, ModelError>;
    /// The PyTorch key layout the family is exchanged in.
    #[cfg(feature = "interop")]
    fn torch_layout(&self) -> TorchLayout;
}

/// Every name `list` shows, family by family.
pub fn all_names() -> Vec<String> {
    FAMILIES
        .iter()
        .flat_map(|family| family.listed.iter().map(|name| name.to_string()))
        .collect()
}

/// Every name and name pattern users can type.
pub fn all_patterns() -> Vec<&'static str> {
    FAMILIES
        .iter()
        .flat_map(|family| family.patterns.iter().copied())
        .collect()
}

/// The family `name` belongs to, if any.
pub fn family_of(name: &str) -> Option<&'static Family> {
    FAMILIES
        .iter()
        .find(|family| (family.parse)(name).is_some())
}

/// The configuration of any model in the zoo.
#[derive(Config, Debug, PartialEq)]
pub enum ModelConfig {
    /// ImageNet ResNet / ResNeXt / Wide ResNet / plain twin.
    ResNet(ResNetConfig),
    /// CIFAR ResNet (options A/B, pre-activation, plain twin).
    CifarResNet(CifarResNetConfig),
    /// DenseNet (ImageNet or CIFAR).
    DenseNet(DenseNetConfig),
    /// U-Net for segmentation.
    UNet(UNetConfig),
    /// Fully connected highway network.
    HighwayMlp(HighwayMlpConfig),
    /// Convolutional highway network.
    HighwayConv(HighwayConvConfig),
    /// Wide ResNet for CIFAR.
    CifarWideResNet(CifarWideResNetConfig),
}

pub use skipnet_core::Task;

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Up to three registry names closest to `name`.
pub fn suggestions(name: &str) -> Vec<String> {
    let mut scored: Vec<(usize, String)> = all_names()
        .into_iter()
        .map(|candidate| (levenshtein(name, &candidate), candidate))
        .collect();
    scored.sort();
    let limit = (name.len() / 2).max(3);
    scored
        .into_iter()
        .filter(|(d, _)| *d <= limit)
        .take(3)
        .map(|(_, n)| n)
        .collect()
}

/// The error for a name no family answers to: the closest names and every valid one.
pub fn unknown(name: &str) -> ModelError {
    let close = suggestions(name);
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    };
    ModelError::UnknownArchitecture {
        name: name.to_string(),
        hint,
        valid: all_patterns().join(", "),
    }
}

/// The depth `digits` of the name `name` (an unknown-name error when it is not a number).
pub(crate) fn parse_depth(name: &str, digits: &str) -> Result<usize, ModelError> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 6 {
        return Err(unknown(name));
    }
    digits.parse().map_err(|_| unknown(name))
}

impl ModelConfig {
    /// The configuration registered under `name`, with the paper's defaults (1000 ImageNet
    /// classes, 10 CIFAR classes, 3 input channels; U-Net 3 → 1).
    pub fn from_name(name: &str) -> Result<Self, ModelError> {
        FAMILIES
            .iter()
            .find_map(|family| (family.parse)(name))
            .unwrap_or_else(|| Err(unknown(name)))
    }

    /// The family's implementation of [`Architecture`] for this configuration.
    pub fn architecture(&self) -> &dyn Architecture {
        match self {
            Self::ResNet(c) => c,
            Self::CifarResNet(c) => c,
            Self::DenseNet(c) => c,
            Self::UNet(c) => c,
            Self::HighwayMlp(c) => c,
            Self::HighwayConv(c) => c,
            Self::CifarWideResNet(c) => c,
        }
    }

    /// The registry name ([`Architecture::name`]).
    pub fn name(&self) -> String {
        self.architecture().name()
    }

    /// Classification or segmentation.
    pub fn task(&self) -> Task {
        self.architecture().task()
    }

    /// The paper that introduced the architecture.
    pub fn paper(&self) -> &'static str {
        self.architecture().paper()
    }

    /// An ImageNet architecture (torchvision's ResNets and DenseNets with the ImageNet stem):
    /// its images are prepared with the ImageNet preset unless a run says otherwise.
    pub fn is_imagenet(&self) -> bool {
        self.architecture().is_imagenet()
    }

    /// The input this architecture is usually trained on, `[channels, height, width]`.
    pub fn default_input(&self) -> FeatureShape {
        self.architecture().default_input()
    }

    /// The number of classes (output channels for U-Net).
    pub fn num_classes(&self) -> usize {
        self.architecture().num_classes()
    }

    /// The same architecture with `num_classes` outputs (output channels for U-Net).
    pub fn with_num_classes(self, num_classes: usize) -> Self {
        self.architecture().for_classes(num_classes)
    }

    /// The same architecture for inputs of `[channels, height, width]` (sets the input
    /// channels, or the flattened input size of a fully connected network).
    pub fn with_input(self, input: FeatureShape) -> Self {
        self.architecture().for_input(input)
    }

    /// Checks the configuration without building anything.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.architecture().check()
    }

    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> Result<Model, ModelError> {
        self.validate()?;
        Ok(self.architecture().build(device))
    }
}

/// Any model of the zoo.
// Variants are whole networks of very different sizes; a model is built once, so boxing would
// buy nothing and would change the module's record layout.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// ImageNet ResNet family.
    ResNet(ResNet),
    /// CIFAR ResNet family.
    CifarResNet(CifarResNet),
    /// DenseNet.
    DenseNet(DenseNet),
    /// U-Net.
    UNet(UNet),
    /// Fully connected highway network.
    HighwayMlp(HighwayMlp),
    /// Convolutional highway network.
    HighwayConv(HighwayConv),
    /// Wide ResNet for CIFAR.
    CifarWideResNet(CifarWideResNet),
}

impl Model {
    /// The family's implementation of [`ZooModel`] for this module.
    pub fn zoo(&self) -> &dyn ZooModel {
        match self {
            Model::ResNet(m) => m,
            Model::CifarResNet(m) => m,
            Model::DenseNet(m) => m,
            Model::UNet(m) => m,
            Model::HighwayMlp(m) => m,
            Model::HighwayConv(m) => m,
            Model::CifarWideResNet(m) => m,
        }
    }

    /// The model family, for messages ([`Family::id`]: `resnet`, `cifar-resnet`, `densenet`,
    /// `unet`, ...).
    pub fn family(&self) -> &'static str {
        self.zoo().family()
    }

    /// The path of the classifier (the last linear layer: `fc` or `classifier`, as in
    /// torchvision), which fine-tuning replaces; `None` for U-Net.
    pub fn classifier_path(&self) -> Option<&'static str> {
        self.zoo().classifier().map(|(path, _)| path)
    }

    /// The classifier (the last linear layer at [`Self::classifier_path`]); `None` for U-Net.
    pub fn classifier(&self) -> Option<&Linear> {
        self.zoo().classifier().map(|(_, linear)| linear)
    }

    /// Classification or segmentation.
    pub fn task(&self) -> Task {
        self.zoo().task()
    }

    /// What the network computes for `x`, typed by task: class logits `[batch, num_classes]`
    /// of a classifier, mask logits `[batch, out_channels, height, width]` of U-Net.
    pub fn forward(&self, x: Tensor<4>) -> ModelOutput {
        self.zoo().forward_output(x)
    }

    /// Class logits of a classifier; `None` for U-Net (use [`Model::forward_segmentation`]).
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, height, width]` → `[batch, num_classes]`
    pub fn forward_classification(&self, x: Tensor<4>) -> Option<Tensor<2>> {
        self.zoo().forward_classification(x)
    }

    /// Per-pixel logits of U-Net; `None` for classifiers.
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, height, width]` → `[batch, out_channels, height, width]`
    pub fn forward_segmentation(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        self.zoo().forward_segmentation(x)
    }

    /// Every batch norm that directly follows a convolution folded into that convolution, for
    /// eval-mode inference ([`crate::fold`]): the same function with fewer passes over memory.
    /// Highway networks have no batch norm and come back unchanged. Not for training, and not
    /// for saving as a torchvision state dict (folded convolutions gain biases).
    pub fn fold_batch_norm(self) -> Self {
        // By value, family by family: folding consumes the module instead of a copy of it.
        match self {
            Model::ResNet(m) => Model::ResNet(m.fold_batch_norm()),
            Model::CifarResNet(m) => Model::CifarResNet(m.fold_batch_norm()),
            Model::DenseNet(m) => Model::DenseNet(m.fold_batch_norm()),
            Model::UNet(m) => Model::UNet(m.fold_batch_norm()),
            Model::CifarWideResNet(m) => Model::CifarWideResNet(m.fold_batch_norm()),
            Model::HighwayMlp(_) | Model::HighwayConv(_) => self,
        }
    }

    /// Trainable parameters.
    pub fn trainable_params(&self) -> usize {
        trainable_params(self)
    }

    /// Stage-by-stage summary for one input of shape `input`.
    pub fn summary(&self, arch: &str, input: FeatureShape) -> Result<ModelSummary, ModelError> {
        let stages = self.zoo().stages(input)?;
        Ok(ModelSummary {
            arch: arch.to_string(),
            input: input.to_vec(),
            flops: stages.iter().map(|s| s.flops).sum(),
            params: self.trainable_params(),
            stages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::WeightInit;
    use crate::resnet::ShortcutOption;
    use crate::test_util::device;

    #[test]
    fn every_listed_name_resolves() {
        for name in all_names() {
            let config = ModelConfig::from_name(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
            config.validate().unwrap();
        }
    }

    #[test]
    fn every_listed_name_belongs_to_exactly_one_family_and_round_trips() {
        for name in all_names() {
            let owners: Vec<&str> = FAMILIES
                .iter()
                .filter(|family| (family.parse)(&name).is_some())
                .map(|family| family.id)
                .collect();
            assert_eq!(owners.len(), 1, "{name}: claimed by {owners:?}");
            let config = ModelConfig::from_name(&name).unwrap();
            assert_eq!(config.name(), name, "the name of {name}'s configuration");
        }
        // Modules report the family that built them.
        let device = crate::test_util::device();
        for name in [
            "cifar-resnet8",
            "cifar-wrn10-1",
            "cifar-densenet40",
            "highway-mlp3",
            "highway-conv",
        ] {
            let model = ModelConfig::from_name(name).unwrap().init(&device).unwrap();
            assert_eq!(
                Some(model.family()),
                family_of(name).map(|f| f.id),
                "{name}"
            );
        }
        // Names at depths no list shows round-trip too.
        for name in [
            "cifar-resnet1202",
            "cifar-resnet32-b",
            "cifar-resnet32-c",
            "cifar-preresnet164",
            "cifar-preresnet20-b",
            "cifar-plain110",
            "cifar-densenet100",
            "cifar-densenet-bc190",
            "highway-mlp7",
            "plain-mlp3",
            "cifar-wrn22-2",
        ] {
            assert_eq!(ModelConfig::from_name(name).unwrap().name(), name);
        }
    }

    #[test]
    fn the_table_lists_every_pattern_once() {
        let patterns = all_patterns();
        let mut unique = patterns.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), patterns.len(), "{patterns:?}");
        let names = all_names();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert_eq!(family_of("cifar-wrn28-10").map(|f| f.id), Some("cifar-wrn"));
        assert!(family_of("vgg16").is_none());
    }

    #[test]
    fn cifar_names_pick_the_variant() {
        let ModelConfig::CifarResNet(c) = ModelConfig::from_name("cifar-resnet1202").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (c.depth, c.shortcut, c.preact),
            (1202, ShortcutOption::A, false)
        );
        let ModelConfig::CifarResNet(c) = ModelConfig::from_name("cifar-resnet32-b").unwrap()
        else {
            panic!()
        };
        assert_eq!(c.shortcut, ShortcutOption::B);
        let ModelConfig::CifarResNet(c) = ModelConfig::from_name("cifar-plain56").unwrap() else {
            panic!()
        };
        assert_eq!(c.shortcut, ShortcutOption::Plain);
        let ModelConfig::CifarResNet(c) = ModelConfig::from_name("cifar-preresnet164").unwrap()
        else {
            panic!()
        };
        assert!(c.preact);
    }

    #[test]
    fn unknown_names_list_valid_ones_and_suggest() {
        let err = ModelConfig::from_name("resnet19").unwrap_err().to_string();
        assert!(err.contains("unknown architecture 'resnet19'"), "{err}");
        assert!(err.contains("did you mean resnet18"), "{err}");
        for pattern in all_patterns() {
            assert!(err.contains(pattern), "{pattern} missing from: {err}");
        }
        let err = ModelConfig::from_name("cifar-resnet21")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("invalid depth 21") && err.contains("6n+2"),
            "{err}"
        );
        let err = ModelConfig::from_name("cifar-resnetxx")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown architecture"), "{err}");
        assert!(ModelConfig::from_name("").is_err());
        assert!(ModelConfig::from_name("cifar-resnet99999999999999999999").is_err());
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = ModelConfig::from_name("cifar-resnet20-b")
            .unwrap()
            .with_num_classes(100);
        let json = serde_json_string(&config);
        let back: ModelConfig = serde_json_from(&json);
        assert_eq!(back.num_classes(), 100);
        assert_eq!(serde_json_string(&back), json);
    }

    fn serde_json_string(config: &ModelConfig) -> String {
        let path = std::env::temp_dir().join(format!("skipnet-model-{}.json", std::process::id()));
        config.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).ok();
        text
    }

    fn serde_json_from(text: &str) -> ModelConfig {
        let path =
            std::env::temp_dir().join(format!("skipnet-model-in-{}.json", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let config = ModelConfig::load(&path).unwrap();
        std::fs::remove_file(&path).ok();
        config
    }

    #[test]
    fn models_dispatch_by_task() {
        let device = device();
        let unet = ModelConfig::UNet(UNetConfig::new(1, 2).with_base_width(2).with_depth(2))
            .init(&device)
            .unwrap();
        let x = Tensor::zeros([1, 1, 8, 8], &device);
        assert!(unet.forward_classification(x.clone()).is_none());
        assert_eq!(
            unet.forward_segmentation(x.clone()).unwrap().dims(),
            [1, 2, 8, 8]
        );
        let mlp = ModelConfig::from_name("highway-mlp")
            .unwrap()
            .with_input([1, 8, 8])
            .init(&device)
            .unwrap();
        assert_eq!(mlp.forward_classification(x).unwrap().dims(), [1, 10]);
    }

    #[test]
    fn depth_sweep_mlps_have_equal_parameters_per_layer() {
        let device = device();
        let params = |name: &str| {
            ModelConfig::from_name(name)
                .unwrap()
                .init(&device)
                .unwrap()
                .trainable_params()
        };
        // Per stacked layer: 2·(50·50 + 50) = 5100 gated, 71·71 + 71 = 5112 plain.
        assert_eq!(params("highway-mlp20") - params("highway-mlp10"), 10 * 5100);
        assert_eq!(params("plain-mlp20") - params("plain-mlp10"), 10 * 5112);
        let ModelConfig::HighwayMlp(plain) = ModelConfig::from_name("plain-mlp100").unwrap() else {
            panic!("plain-mlp100 is an MLP");
        };
        assert_eq!((plain.depth, plain.width, plain.gated), (100, 71, false));
        assert_eq!(plain.init, Some(WeightInit::He));
        let ModelConfig::HighwayMlp(deep) = ModelConfig::from_name("highway-mlp100").unwrap()
        else {
            panic!("highway-mlp100 is an MLP");
        };
        assert!(
            (deep.gate_bias + 100f64.ln()).abs() < 1e-12,
            "{}",
            deep.gate_bias
        );
        assert_eq!(highway_gate_bias(5), -2.0);
        for bad in ["plain-mlp", "highway-mlp0", "plain-mlpx", "highway-mlp5000"] {
            assert!(ModelConfig::from_name(bad).is_err(), "{bad}");
        }
        assert!(
            ModelConfig::from_name("plain-mlp50")
                .unwrap()
                .paper()
                .contains("plain")
        );
    }
}
