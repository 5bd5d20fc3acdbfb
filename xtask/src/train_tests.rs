//! `cargo xtask train`'s flags: the documented defaults, and the round trip
//! `TrainSpec` → flags → `TrainSpec`.

use clap::Parser;
use skipnet_data::DatasetKind;
use skipnet_train::ScheduleSpec;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TrainArgs,
}

fn parse(args: &[String]) -> TrainSpec {
    let cli = Cli::try_parse_from(std::iter::once("train".to_string()).chain(args.to_vec()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    cli.args.to_spec().unwrap()
}

#[test]
fn specs_round_trip_through_the_command_line() {
    let shapes = DatasetSpec::new(DatasetKind::SyntheticShapes);
    let mut specs = vec![
        TrainSpec::he2015("cifar-resnet20", shapes.clone()).unwrap(),
        TrainSpec::he2015("cifar-plain56", shapes.clone().with_sizes(Some(100), None))
            .unwrap()
            .with_epochs(3)
            .with_lr(0.05)
            .with_schedule(ScheduleSpec::Cosine)
            .with_seed(7),
        TrainSpec::he2015(
            "unet",
            DatasetSpec::new(DatasetKind::SyntheticCells).with_image_size(Some(64)),
        )
        .unwrap()
        .with_adamw()
        .with_batch_size(8),
        TrainSpec::he2015(
            "resnet18",
            DatasetSpec::new(DatasetKind::Folder).with_root("/data/pets"),
        )
        .unwrap(),
    ];
    let mut nesterov = specs[0].clone();
    nesterov.optimizer = OptimizerSpec::Sgd {
        momentum: 0.9,
        nesterov: true,
        weight_decay: 5e-4,
    };
    nesterov.label_smoothing = 0.1;
    nesterov.warmup_epochs = 0;
    nesterov.workers = 3;
    specs.push(nesterov);
    let mut unet = specs[2].clone();
    if let ModelConfig::UNet(config) = &mut unet.model {
        config.base_width = 8;
        config.depth = 3;
    }
    unet.schedule = ScheduleSpec::Constant;
    unet.border_weight = Some(0.0);
    unet.border_sigma = 3.0;
    specs.push(unet);
    let mut border = specs[2].clone();
    border.border_weight = Some(10.0);
    specs.push(border);
    let finetune = TrainSpec::he2015(
        "resnet18",
        DatasetSpec::new(DatasetKind::Folder)
            .with_root("/data/pets")
            .with_preprocess(Some(skipnet_data::Preset::Imagenet)),
    )
    .unwrap()
    .with_init_weights(Some("resnet18.pth".into()))
    .with_freeze_backbone_epochs(2);
    specs.push(finetune);
    for spec in specs {
        let args = spec.to_args().unwrap();
        assert_eq!(parse(&args), spec, "{args:?}");
    }
}

#[test]
fn flags_give_the_documented_defaults() {
    let spec = parse(&[]);
    assert_eq!(spec.arch, "cifar-resnet20");
    assert_eq!(spec.dataset.kind, DatasetKind::SyntheticShapes);
    assert_eq!((spec.epochs, spec.batch_size, spec.lr), (5, 32, 0.025));
    // He et al.'s batch and rate on real data; the rate follows the batch size when not given.
    let cifar = parse(&["--dataset".into(), "cifar10".into()]);
    assert_eq!((cifar.batch_size, cifar.lr), (128, 0.1));
    let half = parse(&["--batch-size".into(), "64".into()]);
    assert_eq!((half.batch_size, half.lr), (64, 0.05));
    let given = parse(&[
        "--batch-size".into(),
        "64".into(),
        "--lr".into(),
        "0.1".into(),
    ]);
    assert_eq!(given.lr, 0.1);
    let unet = parse(&["--dataset".into(), "seg-folder".into()]);
    assert_eq!(unet.arch, "unet");
    // Segmentation: AdamW at 1e-3, cosine, batch 8, the paper's border weight.
    let cells = parse(&["--dataset".into(), "synthetic-cells".into()]);
    assert_eq!(cells.optimizer, OptimizerSpec::AdamW { weight_decay: 0.01 });
    assert_eq!(
        (cells.schedule.clone(), cells.batch_size, cells.lr),
        (ScheduleSpec::Cosine, 8, 1e-3)
    );
    assert_eq!(cells.border().map(|b| (b.w0, b.sigma)), Some((10.0, 5.0)));
    let sgd_cells = parse(&[
        "--dataset".into(),
        "synthetic-cells".into(),
        "--optimizer".into(),
        "sgd".into(),
        "--border-weight".into(),
        "0".into(),
    ]);
    assert_eq!(sgd_cells.lr, 0.1 * 8.0 / 128.0);
    assert!(sgd_cells.border().is_none());
    let adamw = parse(&["--optimizer".into(), "adamw".into()]);
    assert_eq!(adamw.lr, 1e-3);
    assert_eq!(adamw.optimizer, OptimizerSpec::AdamW { weight_decay: 0.01 });
}
