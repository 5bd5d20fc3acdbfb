//! One-to-one renames between skipnet's parameter paths and the PyTorch key layouts users
//! have: torchvision (ResNet, ResNeXt, Wide ResNet, DenseNet, including DenseNet's legacy
//! `norm.1` keys), the common public CIFAR ResNet code (`shortcut.0`, `linear`), the seed's
//! U-Net (`enc1.0`, `up4`, `dec4`, `out`) and the Highway reference modules of
//! `scripts/make_parity_fixtures.py`.
//!
//! Paths are compared without enum variant names (`layer1.0.conv1`, not
//! `layer1.0.Basic.conv1`), as burn-store's `skip_enum_variants` does.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::registry::Model;

/// The PyTorch key layout a model family is exchanged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TorchLayout {
    /// torchvision's `ResNet` (also ResNeXt, Wide ResNet and the plain twins).
    TorchvisionResNet,
    /// torchvision's `DenseNet` (the CIFAR DenseNets use the same names without `norm0`).
    TorchvisionDenseNet,
    /// The common CIFAR ResNet layout (`conv1`, `bn1`, `layerN.i`, `shortcut.0/1`, `linear`).
    CifarResNet,
    /// The seed's U-Net (`enc{i}.{0,1,3,4}`, `bottleneck.*`, `up{i}`, `dec{i}.*`, `out`).
    SeedUNet {
        /// Bilinear upsampling: `up{i}` is `Sequential(Upsample, Conv2d)`, so `up{i}.1`.
        bilinear: bool,
    },
    /// The Highway MLP reference (`input`, `layers.i.transform`, `layers.i.gate`, `classifier`).
    HighwayMlp,
    /// PyTorch modules named as skipnet names its own: the convolutional Highway reference and
    /// the CIFAR Wide ResNet of `scripts/make_parity_fixtures.py`.
    Skipnet,
}

impl TorchLayout {
    /// The layout `model` is exchanged in.
    pub fn of(model: &Model) -> Self {
        model.zoo().torch_layout()
    }

    /// skipnet's path for the PyTorch key `key` (`None`: a key that holds no parameter, such as
    /// batch norm's `num_batches_tracked`).
    pub fn to_skipnet(self, key: &str) -> Option<String> {
        if key.ends_with(".num_batches_tracked") {
            return None;
        }
        let key = key.to_string();
        Some(match self {
            TorchLayout::TorchvisionResNet => rewrite(&key, &*TORCHVISION_DOWNSAMPLE),
            TorchLayout::CifarResNet => {
                // Accept both the CIFAR layout and torchvision's names for the same parts.
                let key = rewrite(&key, &*CIFAR_SHORTCUT);
                let key = rewrite(&key, &*TORCHVISION_DOWNSAMPLE);
                rewrite(&key, &*LINEAR_TO_FC)
            }
            TorchLayout::TorchvisionDenseNet => {
                let key = rewrite(&key, &*DENSENET_LEGACY);
                rewrite(&key, &*DENSENET_TO_SKIPNET)
            }
            TorchLayout::SeedUNet { .. } => rewrite(&key, &*UNET_TO_SKIPNET),
            TorchLayout::HighwayMlp => rewrite(&key, &*HIGHWAY_GATE_TO_SKIPNET),
            TorchLayout::Skipnet => key,
        })
    }

    /// The PyTorch key for skipnet's path `path`.
    pub fn to_torch(self, path: &str) -> String {
        let path = path.to_string();
        match self {
            TorchLayout::TorchvisionResNet => rewrite(&path, &*DOWNSAMPLE_TO_TORCHVISION),
            TorchLayout::CifarResNet => {
                let path = rewrite(&path, &*DOWNSAMPLE_TO_CIFAR);
                rewrite(&path, &*FC_TO_LINEAR)
            }
            TorchLayout::TorchvisionDenseNet => rewrite(&path, &*DENSENET_TO_TORCH),
            TorchLayout::SeedUNet { bilinear } => {
                let path = rewrite(&path, &*UNET_TO_TORCH);
                if bilinear {
                    rewrite(&path, &*UP_TO_SEQUENTIAL)
                } else {
                    path
                }
            }
            TorchLayout::HighwayMlp => rewrite(&path, &*HIGHWAY_GATE_TO_TORCH),
            TorchLayout::Skipnet => path,
        }
    }
}

/// A regex and what its match becomes.
struct Rule {
    pattern: Regex,
    replace: fn(&Captures) -> String,
}

impl Rule {
    fn new(pattern: &str, replace: fn(&Captures) -> String) -> Self {
        Self {
            pattern: Regex::new(pattern).expect("the rename patterns are valid regexes"),
            replace,
        }
    }
}

/// Applies every rule in order (each to the result of the previous ones).
fn rewrite(key: &str, rules: &[Rule]) -> String {
    rules.iter().fold(key.to_string(), |key, rule| {
        rule.pattern
            .replace(&key, |c: &Captures| (rule.replace)(c))
            .into_owned()
    })
}

/// `n` (1-based in PyTorch names) as skipnet's 0-based index, and back.
fn minus_one(s: &str) -> usize {
    s.parse::<usize>().unwrap_or(0).saturating_sub(1)
}
fn plus_one(s: &str) -> usize {
    s.parse::<usize>().unwrap_or(0) + 1
}

/// The conv-block indices of the seed's `Sequential(conv, bn, relu, conv, bn, relu)`.
fn conv_block_part(index: &str) -> &'static str {
    match index {
        "0" => "conv1",
        "1" => "bn1",
        "3" => "conv2",
        "4" => "bn2",
        _ => "unknown",
    }
}
fn conv_block_index(part: &str) -> &'static str {
    match part {
        "conv1" => "0",
        "bn1" => "1",
        "conv2" => "3",
        "bn2" => "4",
        _ => "unknown",
    }
}

static TORCHVISION_DOWNSAMPLE: LazyLock<[Rule; 2]> = LazyLock::new(|| {
    [
        Rule::new(r"\.downsample\.0\.", |_| ".downsample.conv.".into()),
        Rule::new(r"\.downsample\.1\.", |_| ".downsample.bn.".into()),
    ]
});
static DOWNSAMPLE_TO_TORCHVISION: LazyLock<[Rule; 2]> = LazyLock::new(|| {
    [
        Rule::new(r"\.downsample\.conv\.", |_| ".downsample.0.".into()),
        Rule::new(r"\.downsample\.bn\.", |_| ".downsample.1.".into()),
    ]
});
static CIFAR_SHORTCUT: LazyLock<[Rule; 2]> = LazyLock::new(|| {
    [
        Rule::new(r"\.shortcut\.0\.", |_| ".downsample.conv.".into()),
        Rule::new(r"\.shortcut\.1\.", |_| ".downsample.bn.".into()),
    ]
});
static DOWNSAMPLE_TO_CIFAR: LazyLock<[Rule; 2]> = LazyLock::new(|| {
    [
        Rule::new(r"\.downsample\.conv\.", |_| ".shortcut.0.".into()),
        Rule::new(r"\.downsample\.bn\.", |_| ".shortcut.1.".into()),
    ]
});
static LINEAR_TO_FC: LazyLock<[Rule; 1]> =
    LazyLock::new(|| [Rule::new(r"^linear\.", |_| "fc.".into())]);
static FC_TO_LINEAR: LazyLock<[Rule; 1]> =
    LazyLock::new(|| [Rule::new(r"^fc\.", |_| "linear.".into())]);
/// Bilinear U-Nets: `up{i}` is `Sequential(Upsample, Conv2d)` in PyTorch.
static UP_TO_SEQUENTIAL: LazyLock<[Rule; 1]> =
    LazyLock::new(|| [Rule::new(r"^up(\d+)\.", |c| format!("up{}.1.", &c[1]))]);
/// torchvision's `_load_state_dict` fix-up: `denselayer1.norm.1.weight` → `denselayer1.norm1.weight`.
static DENSENET_LEGACY: LazyLock<[Rule; 1]> = LazyLock::new(|| {
    [Rule::new(
        r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.(weight|bias|running_mean|running_var)$",
        |c| format!("{}{}.{}", &c[1], &c[2], &c[3]),
    )]
});
static DENSENET_TO_SKIPNET: LazyLock<[Rule; 2]> = LazyLock::new(|| {
    [
        Rule::new(r"^features\.denseblock(\d+)\.denselayer(\d+)\.", |c| {
            format!(
                "features.blocks.{}.layers.{}.",
                minus_one(&c[1]),
                minus_one(&c[2])
            )
        }),
        Rule::new(r"^features\.transition(\d+)\.", |c| {
            format!("features.transitions.{}.", minus_one(&c[1]))
        }),
    ]
});
static DENSENET_TO_TORCH: LazyLock<[Rule; 2]> = LazyLock::new(|| {
    [
        Rule::new(r"^features\.blocks\.(\d+)\.layers\.(\d+)\.", |c| {
            format!(
                "features.denseblock{}.denselayer{}.",
                plus_one(&c[1]),
                plus_one(&c[2])
            )
        }),
        Rule::new(r"^features\.transitions\.(\d+)\.", |c| {
            format!("features.transition{}.", plus_one(&c[1]))
        }),
    ]
});
static UNET_TO_SKIPNET: LazyLock<[Rule; 4]> = LazyLock::new(|| {
    [
        Rule::new(r"^enc(\d+)\.(\d+)\.", |c| {
            format!("encoders.{}.{}.", minus_one(&c[1]), conv_block_part(&c[2]))
        }),
        Rule::new(r"^dec(\d+)\.(\d+)\.", |c| {
            format!("decoders.{}.{}.", minus_one(&c[1]), conv_block_part(&c[2]))
        }),
        Rule::new(r"^bottleneck\.(\d+)\.", |c| {
            format!("bottleneck.{}.", conv_block_part(&c[1]))
        }),
        // `up{i}.weight` (transposed convolution) or `up{i}.1.weight` (upsample + conv).
        Rule::new(r"^up(\d+)\.(?:1\.)?", |c| {
            format!("ups.{}.", minus_one(&c[1]))
        }),
    ]
});
static UNET_TO_TORCH: LazyLock<[Rule; 4]> = LazyLock::new(|| {
    [
        Rule::new(r"^encoders\.(\d+)\.(\w+)\.", |c| {
            format!("enc{}.{}.", plus_one(&c[1]), conv_block_index(&c[2]))
        }),
        Rule::new(r"^decoders\.(\d+)\.(\w+)\.", |c| {
            format!("dec{}.{}.", plus_one(&c[1]), conv_block_index(&c[2]))
        }),
        Rule::new(r"^bottleneck\.(\w+)\.", |c| {
            format!("bottleneck.{}.", conv_block_index(&c[1]))
        }),
        Rule::new(r"^ups\.(\d+)\.", |c| format!("up{}.", plus_one(&c[1]))),
    ]
});
static HIGHWAY_GATE_TO_SKIPNET: LazyLock<[Rule; 1]> = LazyLock::new(|| {
    [Rule::new(r"^layers\.(\d+)\.gate\.", |c| {
        format!("layers.{}.gate.linear.", &c[1])
    })]
});
static HIGHWAY_GATE_TO_TORCH: LazyLock<[Rule; 1]> = LazyLock::new(|| {
    [Rule::new(r"^layers\.(\d+)\.gate\.linear\.", |c| {
        format!("layers.{}.gate.", &c[1])
    })]
});

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(layout: TorchLayout, torch: &str, skipnet: &str) {
        assert_eq!(
            layout.to_skipnet(torch).as_deref(),
            Some(skipnet),
            "{torch}"
        );
        assert_eq!(layout.to_torch(skipnet), torch, "{skipnet}");
    }

    #[test]
    fn torchvision_resnet_downsample() {
        let l = TorchLayout::TorchvisionResNet;
        round_trip(
            l,
            "layer2.0.downsample.0.weight",
            "layer2.0.downsample.conv.weight",
        );
        round_trip(
            l,
            "layer2.0.downsample.1.running_var",
            "layer2.0.downsample.bn.running_var",
        );
        round_trip(l, "layer4.2.conv3.weight", "layer4.2.conv3.weight");
        assert_eq!(l.to_skipnet("bn1.num_batches_tracked"), None);
    }

    #[test]
    fn cifar_resnet_shortcut_and_linear() {
        let l = TorchLayout::CifarResNet;
        round_trip(
            l,
            "layer3.0.shortcut.0.weight",
            "layer3.0.downsample.conv.weight",
        );
        round_trip(l, "layer3.0.shortcut.1.bias", "layer3.0.downsample.bn.bias");
        round_trip(l, "linear.weight", "fc.weight");
        // torchvision-style names load as well.
        assert_eq!(l.to_skipnet("fc.bias").as_deref(), Some("fc.bias"));
        assert_eq!(
            l.to_skipnet("layer2.0.downsample.1.weight").as_deref(),
            Some("layer2.0.downsample.bn.weight")
        );
    }

    #[test]
    fn densenet_blocks_transitions_and_legacy_keys() {
        let l = TorchLayout::TorchvisionDenseNet;
        round_trip(
            l,
            "features.denseblock1.denselayer12.conv2.weight",
            "features.blocks.0.layers.11.conv2.weight",
        );
        round_trip(
            l,
            "features.transition3.norm.running_mean",
            "features.transitions.2.norm.running_mean",
        );
        round_trip(l, "features.norm5.weight", "features.norm5.weight");
        assert_eq!(
            l.to_skipnet("features.denseblock4.denselayer2.norm.1.running_var")
                .as_deref(),
            Some("features.blocks.3.layers.1.norm1.running_var")
        );
    }

    #[test]
    fn seed_unet_levels() {
        let l = TorchLayout::SeedUNet { bilinear: false };
        round_trip(l, "enc1.0.weight", "encoders.0.conv1.weight");
        round_trip(l, "enc4.4.running_mean", "encoders.3.bn2.running_mean");
        round_trip(l, "dec2.3.bias", "decoders.1.conv2.bias");
        round_trip(l, "bottleneck.1.weight", "bottleneck.bn1.weight");
        round_trip(l, "up4.weight", "ups.3.weight");
        round_trip(l, "out.bias", "out.bias");
        let b = TorchLayout::SeedUNet { bilinear: true };
        round_trip(b, "up1.1.weight", "ups.0.weight");
    }

    #[test]
    fn highway_gate() {
        round_trip(
            TorchLayout::HighwayMlp,
            "layers.7.gate.bias",
            "layers.7.gate.linear.bias",
        );
        round_trip(TorchLayout::HighwayMlp, "input.weight", "input.weight");
        round_trip(
            TorchLayout::Skipnet,
            "stages.1.2.gate.weight",
            "stages.1.2.gate.weight",
        );
    }
}
