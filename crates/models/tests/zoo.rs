//! The zoo against torchvision and the papers: exact trainable parameter counts, FLOPs, output
//! shapes through the registry.

use burn::tensor::{Device, Distribution, Tensor};
use skipnet_models::{ModelConfig, Task};

fn device() -> Device {
    Device::flex()
}

fn params(name: &str) -> usize {
    ModelConfig::from_name(name)
        .unwrap()
        .init(&device())
        .unwrap()
        .trainable_params()
}

/// torchvision 0.29 (`sum(p.numel() for p in m.parameters())`) and the papers' definitions.
#[test]
fn imagenet_parameter_counts_match_torchvision() {
    for (name, expected) in [
        ("resnet18", 11_689_512),
        ("resnet34", 21_797_672),
        ("resnet50", 25_557_032),
        ("resnet101", 44_549_160),
        ("resnet152", 60_192_808),
        ("resnext50_32x4d", 25_028_904),
        ("wide_resnet50_2", 68_883_240),
    ] {
        assert_eq!(params(name), expected, "{name}");
    }
}

#[test]
fn densenet_parameter_counts_match_torchvision() {
    for (name, expected) in [
        ("densenet121", 7_978_856),
        ("densenet161", 28_681_000),
        ("densenet169", 14_149_480),
        ("densenet201", 20_013_928),
    ] {
        assert_eq!(params(name), expected, "{name}");
    }
}

#[test]
fn cifar_parameter_counts_match_the_papers() {
    for (name, expected) in [
        ("cifar-resnet20", 269_722),
        ("cifar-resnet32", 464_154),
        ("cifar-resnet44", 658_586),
        ("cifar-resnet56", 853_018),
        ("cifar-resnet110", 1_727_962),
        ("cifar-resnet20-b", 272_474),
        ("cifar-plain56", 853_018),
        ("cifar-densenet40", 1_019_722),
        ("cifar-densenet-bc100", 769_162),
    ] {
        assert_eq!(params(name), expected, "{name}");
    }
}

/// Zagoruyko & Komodakis 2016, Table 4 (CIFAR-10): WRN-40-4 8.9 M, WRN-16-8 11.0 M, WRN-28-10
/// 36.5 M; the exact counts are those of the authors' architecture as
/// `scripts/make_parity_fixtures.py --wrn-counts` builds it in PyTorch.
#[test]
fn wide_resnet_parameter_counts_match_the_paper() {
    for (name, expected) in [
        ("cifar-wrn40-4", 8_949_210),
        ("cifar-wrn16-8", 10_961_370),
        ("cifar-wrn28-10", 36_479_194),
    ] {
        assert_eq!(params(name), expected, "{name}");
    }
}

#[test]
fn unet_parameter_count_matches_the_seed() {
    assert_eq!(params("unet"), 31_043_521);
}

#[test]
fn plain_twins_have_option_a_parameter_counts() {
    for depth in [20, 32, 44] {
        assert_eq!(
            params(&format!("cifar-plain{depth}")),
            params(&format!("cifar-resnet{depth}"))
        );
    }
}

/// torchvision's model cards: ResNet-18 1.81 GFLOPS, ResNet-50 4.09, ResNet-101 7.80,
/// DenseNet-121 2.83 (multiply-accumulates at 224×224).
#[test]
fn flops_match_torchvision_model_cards() {
    let device = device();
    for (name, gflops) in [
        ("resnet18", 1.81),
        ("resnet50", 4.09),
        ("resnet101", 7.80),
        ("densenet121", 2.83),
    ] {
        let model = ModelConfig::from_name(name).unwrap().init(&device).unwrap();
        let summary = model.summary(name, [3, 224, 224]).unwrap();
        let measured = summary.flops as f64 / 1e9;
        assert!(
            (measured - gflops).abs() / gflops < 0.01,
            "{name}: {measured:.3} GFLOPs, torchvision says {gflops}"
        );
        assert_eq!(summary.params, model.trainable_params());
        let stage_params: usize = summary.stages.iter().map(|s| s.params).sum();
        assert_eq!(stage_params, summary.params, "{name}: stages must add up");
    }
}

#[test]
fn summaries_add_up_for_every_family() {
    let device = device();
    for name in [
        "cifar-resnet20",
        "cifar-preresnet20",
        "cifar-resnet20-b",
        "cifar-densenet40",
        "highway-mlp",
        "highway-conv",
        "plain18",
        "cifar-wrn16-8",
    ] {
        let config = ModelConfig::from_name(name).unwrap();
        let input = config.default_input();
        let model = config.init(&device).unwrap();
        let summary = model.summary(name, input).unwrap();
        let stage_params: usize = summary.stages.iter().map(|s| s.params).sum();
        assert_eq!(stage_params, summary.params, "{name}");
        assert!(summary.flops > 0);
    }
    // CIFAR ResNet-20: ~40.8 M multiply-accumulates (He et al. report 41 M).
    let model = ModelConfig::from_name("cifar-resnet20")
        .unwrap()
        .init(&device)
        .unwrap();
    let flops = model.summary("cifar-resnet20", [3, 32, 32]).unwrap().flops;
    assert!((40_000_000..42_000_000).contains(&flops), "{flops}");
    // Inputs that do not fit are errors, not panics.
    let err = model.summary("cifar-resnet20", [1, 32, 32]).unwrap_err();
    assert!(err.to_string().contains("3 channels"), "{err}");
}

/// Every family, built small through the registry, maps a small batch to the right shape.
#[test]
fn output_shapes_through_the_registry() {
    let device = device();
    for (name, input, classes) in [
        ("resnet18", [3, 32, 32], 7),
        ("resnext50_32x4d", [3, 32, 32], 7),
        ("cifar-resnet8", [3, 16, 16], 4),
        ("cifar-plain8", [1, 12, 12], 4),
        ("cifar-preresnet8-b", [3, 9, 9], 4),
        ("cifar-densenet-bc100", [3, 8, 8], 100),
        ("highway-mlp", [1, 6, 6], 3),
        ("highway-conv", [3, 8, 8], 3),
        ("cifar-wrn10-2", [1, 12, 12], 4),
    ] {
        let config = ModelConfig::from_name(name)
            .unwrap()
            .with_input(input)
            .with_num_classes(classes);
        assert_eq!(config.task(), Task::Classification);
        let model = config.init(&device).unwrap();
        let x = Tensor::random(
            [2, input[0], input[1], input[2]],
            Distribution::Default,
            &device,
        );
        let y = model.forward_classification(x).unwrap();
        assert_eq!(y.dims(), [2, classes], "{name}");
    }
    let config = ModelConfig::from_name("unet")
        .unwrap()
        .with_input([1, 0, 0])
        .with_num_classes(2);
    let ModelConfig::UNet(unet) = config else {
        panic!()
    };
    let model = ModelConfig::UNet(unet.with_base_width(4))
        .init(&device)
        .unwrap();
    let x = Tensor::random([1, 1, 37, 21], Distribution::Default, &device);
    assert_eq!(
        model.forward_segmentation(x).unwrap().dims(),
        [1, 2, 37, 21]
    );
}
