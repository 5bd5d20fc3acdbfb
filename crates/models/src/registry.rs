//! Names → configurations, for the command line and for experiment scripts.
//!
//! ```text
//! resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d wide_resnet50_2 plain18 plain34
//! cifar-resnet<D> cifar-resnet<D>-b cifar-plain<D> cifar-preresnet<D>     (D = 6n+2: 20, 32, 44, 56, 110...)
//! densenet121 densenet161 densenet169 densenet201 cifar-densenet40 cifar-densenet-bc100
//! unet highway-mlp highway-conv
//! highway-mlp<D> plain-mlp<D>     (D highway layers of width 50 / plain layers of width 71)
//! ```

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::cifar::{CifarResNet, CifarResNetConfig};
use crate::densenet::{DenseNet, DenseNetConfig};
use crate::error::ModelError;
use crate::highway::{HighwayConv, HighwayConvConfig, HighwayMlp, HighwayMlpConfig};
use crate::init::WeightInit;
use crate::layers::FeatureShape;
use crate::params::trainable_params;
use crate::resnet::{ResNet, ResNetConfig, ShortcutOption};
use crate::summary::{ModelSummary, StageSummary};
use crate::unet::{UNet, UNetConfig};

/// Fixed names of the registry (the CIFAR ResNet families take any valid depth `<D>`).
pub const FIXED_NAMES: [&str; 18] = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "wide_resnet50_2",
    "plain18",
    "plain34",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "cifar-densenet40",
    "cifar-densenet-bc100",
    "unet",
    "highway-mlp",
    "highway-conv",
];

/// Families that take a depth as a suffix: `6n + 2` for the ResNets, `3n + 4` for DenseNet and
/// `6n + 4` for DenseNet-BC (growth rate 12), any number of layers for the MLPs of Srivastava et
/// al.'s depth experiment (Fig. 1).
pub const CIFAR_FAMILIES: [&str; 8] = [
    "cifar-resnet<D>",
    "cifar-resnet<D>-b",
    "cifar-plain<D>",
    "cifar-preresnet<D>",
    "cifar-densenet<D>",
    "cifar-densenet-bc<D>",
    "highway-mlp<D>",
    "plain-mlp<D>",
];

/// Width of the highway layers of `highway-mlp<D>` (Srivastava et al. 2015, §3.1). Both MLP
/// families start their input layer and transforms from He-normal (fan-in), which keeps a ReLU
/// layer's output at the scale of its input, so a deep plain twin does not fail merely from a
/// shrinking initialisation.
pub const HIGHWAY_MLP_WIDTH: usize = 50;
/// The initial transform-gate bias of `highway-mlp<D>`: `−max(2, ln D)` (−2.3 at 10 layers,
/// −4.6 at 100). A gate opens `T ≈ e^b` of each layer at the start, so the input reaches the
/// last of `D` layers scaled by about `(1 − 1/D)^D ≈ 1/e` instead of vanishing; Srivastava et al.
/// tuned this bias per depth (between −1 and −10) and note that deeper networks need more
/// negative ones.
pub fn highway_gate_bias(depth: usize) -> f64 {
    -(depth.max(1) as f64).ln().max(2.0)
}

/// Width of the layers of `plain-mlp<D>`: 71 units give `71·71 + 71 = 5112` parameters a
/// layer, as many as a highway layer of 50 (`2·(50·50 + 50) = 5100`: transform and gate), the
/// paper's way of comparing the two at equal size.
pub const PLAIN_MLP_WIDTH: usize = 71;

/// Every name of the registry, with the CIFAR families at their paper depths.
pub fn all_names() -> Vec<String> {
    let mut names: Vec<String> = FIXED_NAMES.iter().map(|s| s.to_string()).collect();
    for depth in [20, 32, 44, 56, 110] {
        names.push(format!("cifar-resnet{depth}"));
    }
    names.push("cifar-resnet20-b".into());
    for depth in [20, 56] {
        names.push(format!("cifar-plain{depth}"));
    }
    names.push("cifar-preresnet110".into());
    for depth in [10, 20, 50, 100] {
        names.push(format!("highway-mlp{depth}"));
        names.push(format!("plain-mlp{depth}"));
    }
    names
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
}

/// What a model maps an image to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// `[batch, num_classes]` logits.
    Classification,
    /// `[batch, out_channels, height, width]` per-pixel logits.
    Segmentation,
}

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

fn unknown(name: &str) -> ModelError {
    let close = suggestions(name);
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    };
    let mut valid: Vec<String> = FIXED_NAMES.iter().map(|s| s.to_string()).collect();
    valid.extend(CIFAR_FAMILIES.iter().map(|s| s.to_string()));
    ModelError::UnknownArchitecture {
        name: name.to_string(),
        hint,
        valid: valid.join(", "),
    }
}

fn parse_depth(name: &str, digits: &str) -> Result<usize, ModelError> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 6 {
        return Err(unknown(name));
    }
    digits.parse().map_err(|_| unknown(name))
}

impl ModelConfig {
    /// The configuration registered under `name`, with the paper's defaults (1000 ImageNet
    /// classes, 10 CIFAR classes, 3 input channels; U-Net 3 → 1).
    pub fn from_name(name: &str) -> Result<Self, ModelError> {
        let config = match name {
            "resnet18" => Self::ResNet(ResNetConfig::resnet18()),
            "resnet34" => Self::ResNet(ResNetConfig::resnet34()),
            "resnet50" => Self::ResNet(ResNetConfig::resnet50()),
            "resnet101" => Self::ResNet(ResNetConfig::resnet101()),
            "resnet152" => Self::ResNet(ResNetConfig::resnet152()),
            "resnext50_32x4d" => Self::ResNet(ResNetConfig::resnext50_32x4d()),
            "wide_resnet50_2" => Self::ResNet(ResNetConfig::wide_resnet50_2()),
            "plain18" => Self::ResNet(ResNetConfig::plain18()),
            "plain34" => Self::ResNet(ResNetConfig::plain34()),
            "densenet121" => Self::DenseNet(DenseNetConfig::densenet121()),
            "densenet161" => Self::DenseNet(DenseNetConfig::densenet161()),
            "densenet169" => Self::DenseNet(DenseNetConfig::densenet169()),
            "densenet201" => Self::DenseNet(DenseNetConfig::densenet201()),
            "cifar-densenet40" => Self::DenseNet(DenseNetConfig::cifar_densenet40()),
            "cifar-densenet-bc100" => Self::DenseNet(DenseNetConfig::cifar_densenet_bc100()),
            "unet" => Self::UNet(UNetConfig::new(3, 1)),
            "highway-mlp" => Self::HighwayMlp(HighwayMlpConfig::new(784)),
            "highway-conv" => Self::HighwayConv(HighwayConvConfig::new()),
            _ if name.starts_with("highway-mlp") || name.starts_with("plain-mlp") => {
                let (digits, gated, width) = match name.strip_prefix("highway-mlp") {
                    Some(d) => (d, true, HIGHWAY_MLP_WIDTH),
                    None => (&name["plain-mlp".len()..], false, PLAIN_MLP_WIDTH),
                };
                let depth = parse_depth(name, digits)?;
                let config = HighwayMlpConfig::new(784)
                    .with_depth(depth)
                    .with_width(width)
                    .with_gated(gated)
                    .with_gate_bias(highway_gate_bias(depth))
                    .with_init(Some(WeightInit::He));
                config.validate()?;
                Self::HighwayMlp(config)
            }
            _ if name.starts_with("cifar-densenet") => {
                let (digits, bc) = match name.strip_prefix("cifar-densenet-bc") {
                    Some(d) => (d, true),
                    None => (&name["cifar-densenet".len()..], false),
                };
                Self::DenseNet(DenseNetConfig::cifar(parse_depth(name, digits)?, 12, bc)?)
            }
            _ => {
                let (base, shortcut) = match name.strip_suffix("-b") {
                    Some(base) => (base, ShortcutOption::B),
                    None => (name, ShortcutOption::A),
                };
                let (depth, shortcut, preact) = if let Some(d) = base.strip_prefix("cifar-resnet") {
                    (parse_depth(name, d)?, shortcut, false)
                } else if let Some(d) = base.strip_prefix("cifar-preresnet") {
                    (parse_depth(name, d)?, shortcut, true)
                } else if let Some(d) = name.strip_prefix("cifar-plain") {
                    (parse_depth(name, d)?, ShortcutOption::Plain, false)
                } else {
                    return Err(unknown(name));
                };
                let config = CifarResNetConfig::new(depth)
                    .with_shortcut(shortcut)
                    .with_preact(preact);
                config.validate()?;
                Self::CifarResNet(config)
            }
        };
        Ok(config)
    }

    /// Classification or segmentation.
    pub fn task(&self) -> Task {
        match self {
            Self::UNet(_) => Task::Segmentation,
            _ => Task::Classification,
        }
    }

    /// The paper that introduced the architecture.
    pub fn paper(&self) -> &'static str {
        match self {
            Self::ResNet(c) if c.groups > 1 => {
                "Xie et al. 2017, Aggregated Residual Transformations (ResNeXt)"
            }
            Self::ResNet(c) if c.width_per_group > 64 => {
                "Zagoruyko & Komodakis 2016, Wide Residual Networks"
            }
            Self::ResNet(c) if !c.shortcut.is_residual() => {
                "He et al. 2015, Deep Residual Learning (plain baseline)"
            }
            Self::ResNet(_) => "He et al. 2015, Deep Residual Learning for Image Recognition",
            Self::CifarResNet(c) if c.preact => {
                "He et al. 2016, Identity Mappings in Deep Residual Networks"
            }
            Self::CifarResNet(c) if !c.shortcut.is_residual() => {
                "He et al. 2015, §4.2 (plain baseline)"
            }
            Self::CifarResNet(_) => "He et al. 2015, §4.2 (CIFAR-10)",
            Self::DenseNet(_) => "Huang et al. 2017, Densely Connected Convolutional Networks",
            Self::UNet(_) => "Ronneberger et al. 2015, U-Net",
            Self::HighwayMlp(c) if !c.gated => {
                "Srivastava et al. 2015, Training Very Deep Networks (plain baseline)"
            }
            Self::HighwayMlp(_) | Self::HighwayConv(_) => {
                "Srivastava et al. 2015, Training Very Deep Networks"
            }
        }
    }

    /// An ImageNet architecture (torchvision's ResNets and DenseNets with the ImageNet stem):
    /// its images are prepared with the ImageNet preset unless a run says otherwise.
    pub fn is_imagenet(&self) -> bool {
        match self {
            Self::ResNet(_) => true,
            Self::DenseNet(c) => c.stem == crate::densenet::DenseStem::ImageNet,
            _ => false,
        }
    }

    /// The input this architecture is usually trained on, `[channels, height, width]`.
    pub fn default_input(&self) -> FeatureShape {
        match self {
            Self::ResNet(c) => [c.in_channels, 224, 224],
            Self::DenseNet(c) => match c.stem {
                crate::densenet::DenseStem::ImageNet => [c.in_channels, 224, 224],
                crate::densenet::DenseStem::Cifar => [c.in_channels, 32, 32],
            },
            Self::CifarResNet(c) => [c.in_channels, 32, 32],
            Self::UNet(c) => [c.in_channels, 256, 256],
            Self::HighwayMlp(c) if c.in_features == 784 => [1, 28, 28],
            Self::HighwayMlp(c) => [c.in_features, 1, 1],
            Self::HighwayConv(c) => [c.in_channels, 32, 32],
        }
    }

    /// The number of classes (output channels for U-Net).
    pub fn num_classes(&self) -> usize {
        match self {
            Self::ResNet(c) => c.num_classes,
            Self::CifarResNet(c) => c.num_classes,
            Self::DenseNet(c) => c.num_classes,
            Self::UNet(c) => c.out_channels,
            Self::HighwayMlp(c) => c.num_classes,
            Self::HighwayConv(c) => c.num_classes,
        }
    }

    /// The same architecture with `num_classes` outputs (output channels for U-Net).
    pub fn with_num_classes(self, num_classes: usize) -> Self {
        match self {
            Self::ResNet(c) => Self::ResNet(c.with_num_classes(num_classes)),
            Self::CifarResNet(c) => Self::CifarResNet(c.with_num_classes(num_classes)),
            Self::DenseNet(c) => Self::DenseNet(c.with_num_classes(num_classes)),
            Self::UNet(c) => Self::UNet(UNetConfig {
                out_channels: num_classes,
                ..c
            }),
            Self::HighwayMlp(c) => Self::HighwayMlp(c.with_num_classes(num_classes)),
            Self::HighwayConv(c) => Self::HighwayConv(c.with_num_classes(num_classes)),
        }
    }

    /// The same architecture for inputs of `[channels, height, width]` (sets the input
    /// channels, or the flattened input size of a fully connected network).
    pub fn with_input(self, input: FeatureShape) -> Self {
        let c = input[0];
        match self {
            Self::ResNet(cfg) => Self::ResNet(cfg.with_in_channels(c)),
            Self::CifarResNet(cfg) => Self::CifarResNet(cfg.with_in_channels(c)),
            Self::DenseNet(cfg) => Self::DenseNet(cfg.with_in_channels(c)),
            Self::UNet(cfg) => Self::UNet(UNetConfig {
                in_channels: c,
                ..cfg
            }),
            Self::HighwayMlp(cfg) => Self::HighwayMlp(HighwayMlpConfig {
                in_features: input.iter().product(),
                ..cfg
            }),
            Self::HighwayConv(cfg) => Self::HighwayConv(cfg.with_in_channels(c)),
        }
    }

    /// Checks the configuration without building anything.
    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            Self::ResNet(c) => c.validate(),
            Self::CifarResNet(c) => c.validate(),
            Self::DenseNet(c) => c.validate(),
            Self::UNet(c) => c.validate(),
            Self::HighwayMlp(c) => c.validate(),
            Self::HighwayConv(c) => c.validate(),
        }
    }

    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> Result<Model, ModelError> {
        self.validate()?;
        Ok(match self {
            Self::ResNet(c) => Model::ResNet(c.init(device)),
            Self::CifarResNet(c) => Model::CifarResNet(c.init(device)),
            Self::DenseNet(c) => Model::DenseNet(c.init(device)),
            Self::UNet(c) => Model::UNet(c.init(device)),
            Self::HighwayMlp(c) => Model::HighwayMlp(c.init(device)),
            Self::HighwayConv(c) => Model::HighwayConv(c.init(device)),
        })
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
}

impl Model {
    /// The model family, for messages: `resnet`, `cifar-resnet`, `densenet`, `unet`,
    /// `highway-mlp` or `highway-conv`.
    pub fn family(&self) -> &'static str {
        match self {
            Model::ResNet(_) => "resnet",
            Model::CifarResNet(_) => "cifar-resnet",
            Model::DenseNet(_) => "densenet",
            Model::UNet(_) => "unet",
            Model::HighwayMlp(_) => "highway-mlp",
            Model::HighwayConv(_) => "highway-conv",
        }
    }

    /// The path of the classifier (the last linear layer: `fc` or `classifier`, as in
    /// torchvision), which fine-tuning replaces; `None` for U-Net.
    pub fn classifier_path(&self) -> Option<&'static str> {
        match self {
            Model::ResNet(_) | Model::CifarResNet(_) | Model::HighwayConv(_) => Some("fc"),
            Model::DenseNet(_) | Model::HighwayMlp(_) => Some("classifier"),
            Model::UNet(_) => None,
        }
    }

    /// The classifier (the last linear layer at [`Self::classifier_path`]); `None` for U-Net.
    pub fn classifier(&self) -> Option<&burn::nn::Linear> {
        match self {
            Model::ResNet(m) => Some(&m.fc),
            Model::CifarResNet(m) => Some(&m.fc),
            Model::HighwayConv(m) => Some(&m.fc),
            Model::DenseNet(m) => Some(&m.classifier),
            Model::HighwayMlp(m) => Some(&m.classifier),
            Model::UNet(_) => None,
        }
    }

    /// Classification or segmentation.
    pub fn task(&self) -> Task {
        match self {
            Model::UNet(_) => Task::Segmentation,
            _ => Task::Classification,
        }
    }

    /// Class logits of a classifier; `None` for U-Net (use [`Model::forward_segmentation`]).
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, height, width]` → `[batch, num_classes]`
    pub fn forward_classification(&self, x: Tensor<4>) -> Option<Tensor<2>> {
        Some(match self {
            Model::ResNet(m) => m.forward(x),
            Model::CifarResNet(m) => m.forward(x),
            Model::DenseNet(m) => m.forward(x),
            Model::HighwayMlp(m) => m.forward_image(x),
            Model::HighwayConv(m) => m.forward(x),
            Model::UNet(_) => return None,
        })
    }

    /// Per-pixel logits of U-Net; `None` for classifiers.
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, height, width]` → `[batch, out_channels, height, width]`
    pub fn forward_segmentation(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        match self {
            Model::UNet(m) => Some(m.forward(x)),
            _ => None,
        }
    }

    /// Every batch norm that directly follows a convolution folded into that convolution, for
    /// eval-mode inference ([`crate::fold`]): the same function with fewer passes over memory.
    /// Highway networks have no batch norm and come back unchanged. Not for training, and not
    /// for saving as a torchvision state dict (folded convolutions gain biases).
    pub fn fold_batch_norm(self) -> Self {
        match self {
            Model::ResNet(m) => Model::ResNet(m.fold_batch_norm()),
            Model::CifarResNet(m) => Model::CifarResNet(m.fold_batch_norm()),
            Model::DenseNet(m) => Model::DenseNet(m.fold_batch_norm()),
            Model::UNet(m) => Model::UNet(m.fold_batch_norm()),
            Model::HighwayMlp(m) => Model::HighwayMlp(m),
            Model::HighwayConv(m) => Model::HighwayConv(m),
        }
    }

    /// Trainable parameters.
    pub fn trainable_params(&self) -> usize {
        trainable_params(self)
    }

    /// Stage-by-stage summary for one input of shape `input`.
    pub fn summary(&self, arch: &str, input: FeatureShape) -> Result<ModelSummary, ModelError> {
        let stages: Vec<StageSummary> = match self {
            Model::ResNet(m) => m.summary(input)?,
            Model::CifarResNet(m) => m.summary(input)?,
            Model::DenseNet(m) => m.summary(input)?,
            Model::UNet(m) => m.summary(input)?,
            Model::HighwayMlp(m) => m.summary(input)?,
            Model::HighwayConv(m) => m.summary(input)?,
        };
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
    use crate::test_util::device;

    #[test]
    fn every_listed_name_resolves() {
        for name in all_names() {
            let config = ModelConfig::from_name(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
            config.validate().unwrap();
        }
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
        assert!(
            err.contains("cifar-resnet<D>") && err.contains("highway-conv"),
            "{err}"
        );
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
