//! `cargo xtask train`'s flags: each one is a field of the library's `SpecOverrides`, a new run's
//! defaults are the library's, and `--config` replays a recorded spec with overrides.

use clap::Parser;
use skipnet_data::DatasetKind;
use skipnet_models::ModelConfig;
use skipnet_train::{
    Backend, OptimizerKind, OptimizerSpec, RunConfig, RunFolder, ScheduleKind, ScheduleSpec,
};

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TrainArgs,
}

fn args(words: &[&str]) -> TrainArgs {
    Cli::try_parse_from(std::iter::once("train").chain(words.iter().copied()))
        .unwrap_or_else(|e| panic!("{words:?}: {e}"))
        .args
}

fn parse(words: &[&str]) -> TrainSpec {
    args(words).to_spec().unwrap()
}

#[test]
fn no_flags_is_the_librarys_default_run() {
    assert_eq!(parse(&[]), SpecOverrides::default().resolve().unwrap());
    let spec = parse(&[]);
    assert_eq!(spec.arch(), "cifar-resnet20");
    assert_eq!((spec.epochs, spec.batch_size, spec.lr), (5, 32, 0.025));
}

#[test]
fn every_flag_sets_its_field() {
    let given = args(&[
        "--arch",
        "unet",
        "--dataset",
        "synthetic-cells",
        "--data-dir",
        "/data",
        "--epochs",
        "3",
        "--batch-size",
        "4",
        "--lr",
        "0.01",
        "--optimizer",
        "sgd",
        "--schedule",
        "constant",
        "--warmup-epochs",
        "0",
        "--weight-decay",
        "0.5",
        "--nesterov",
        "--label-smoothing",
        "0.1",
        "--seed",
        "7",
        "--train-size",
        "10",
        "--valid-size",
        "5",
        "--image-size",
        "64",
        "--init-weights",
        "w.pth",
        "--freeze-backbone-epochs",
        "1",
        "--border-weight",
        "3",
        "--border-sigma",
        "2",
        "--width",
        "8",
        "--unet-depth",
        "3",
        "--workers",
        "1",
    ])
    .spec;
    let expected = SpecOverrides {
        arch: Some("unet".into()),
        dataset: Some(DatasetKind::SyntheticCells),
        data_dir: Some("/data".into()),
        epochs: Some(3),
        batch_size: Some(4),
        lr: Some(0.01),
        optimizer: Some(OptimizerKind::Sgd),
        schedule: Some(ScheduleKind::Constant),
        warmup_epochs: Some(0),
        weight_decay: Some(0.5),
        nesterov: true,
        label_smoothing: Some(0.1),
        seed: Some(7),
        train_size: Some(10),
        valid_size: Some(5),
        image_size: Some(64),
        preprocess: None,
        init_weights: Some("w.pth".into()),
        freeze_backbone_epochs: Some(1),
        border_weight: Some(3.0),
        border_sigma: Some(2.0),
        width: Some(8),
        unet_depth: Some(3),
        workers: Some(1),
    };
    assert_eq!(given, expected);
    let spec = given.resolve().unwrap();
    assert_eq!(spec.seed(), 7);
    assert_eq!(
        spec.optimizer,
        OptimizerSpec::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.5
        }
    );
    assert_eq!(spec.schedule, ScheduleSpec::Constant);
    let ModelConfig::UNet(unet) = &spec.model else {
        panic!("unet")
    };
    assert_eq!((unet.base_width, unet.depth), (8, 3));
}

#[test]
fn wrong_values_are_refused_when_parsing() {
    for (words, expected) in [
        (vec!["--arch", "resnet19"], "did you mean resnet18"),
        (vec!["--arch", "cifar-wrn27-10"], "6n+4"),
        (vec!["--optimizer", "adam"], "valid: sgd, adamw"),
        (vec!["--dataset", "cifar11"], "unknown dataset"),
    ] {
        let err = Cli::try_parse_from(std::iter::once("train").chain(words.iter().copied()))
            .err()
            .unwrap_or_else(|| panic!("{words:?} parsed"))
            .to_string();
        assert!(err.contains(expected), "{words:?}: {err}");
    }
}

#[test]
fn config_replays_the_recorded_spec_with_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = SpecOverrides {
        arch: Some("cifar-plain8".into()),
        seed: Some(3),
        train_size: Some(100),
        optimizer: Some(OptimizerKind::Adamw),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let folder = RunFolder::new(dir.path());
    folder
        .write_config(&RunConfig {
            format: skipnet_train::folder::CONFIG_FORMAT,
            arch: recorded.arch(),
            spec: recorded.clone(),
            input: None,
            normalization: None,
            classes: None,
            train_items: 100,
            valid_items: 500,
            backend: Backend::Flex,
            devices: 1,
            command: vec!["cargo".into(), "xtask".into(), "train".into()],
            skipnet_version: "test".into(),
        })
        .unwrap();
    let config = dir.path().join("config.json");
    let config = config.to_str().unwrap();
    assert_eq!(parse(&["--config", config]), recorded);
    assert_eq!(
        parse(&["--config", dir.path().to_str().unwrap()]),
        recorded,
        "the run folder itself"
    );
    // An override changes the one value it names: the recorded rate stays with another batch.
    let longer = parse(&["--config", config, "--epochs", "9", "--batch-size", "8"]);
    assert_eq!(longer, recorded.clone().with_epochs(9).with_batch_size(8));
    let missing = args(&["--config", "nowhere/config.json"])
        .to_spec()
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nowhere"), "{missing}");
    let other = dir.path().join("spec.json");
    std::fs::write(&other, "{}").unwrap();
    let wrong = args(&["--config", other.to_str().unwrap()])
        .to_spec()
        .unwrap_err()
        .to_string();
    assert!(wrong.contains("config.json"), "{wrong}");
}
