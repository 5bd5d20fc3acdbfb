//! The seed's comparison table, measured: ResNet (options A and B), plain, DenseNet and Highway
//! networks on the same data and training budget.

use anyhow::Result;
use clap::Args;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_models::ModelConfig;
use skipnet_train::plots::line_chart;
use skipnet_train::{ScheduleSpec, TrainSpec};

use super::report::{Report, Table, num, write_csv};
use super::{CommonArgs, setup, train};
use crate::cli::ClosedSet;

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The dataset: synthetic-shapes (built in), cifar10 or fashion-mnist, for example.
    #[arg(long, default_value_t = DatasetKind::SyntheticShapes, value_parser = ClosedSet::<DatasetKind>::new())]
    dataset: DatasetKind,
    /// Architectures to compare.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "cifar-resnet20,cifar-resnet20-b,cifar-plain20,cifar-densenet-bc40,highway-conv"
    )]
    archs: Vec<String>,
    /// Epochs per network.
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    /// Training images.
    #[arg(long, default_value_t = 1500)]
    train_size: usize,
    /// Validation images.
    #[arg(long, default_value_t = 500)]
    valid_size: usize,
}

fn kind(arch: &str) -> &'static str {
    if arch.contains("plain") {
        "plain (no skip)"
    } else if arch.contains("densenet") {
        "concatenation"
    } else if arch.contains("highway") {
        "gated skip"
    } else if arch.ends_with("-b") {
        "identity + projection (B)"
    } else {
        "identity + zero-pad (A)"
    }
}

pub fn run(args: &CompareArgs) -> Result<()> {
    let Some(setup) = setup(&args.common, "compare")? else {
        return Ok(());
    };
    let (archs, epochs, train_size, valid_size) = if args.common.quick {
        (
            ["cifar-resnet8", "cifar-plain8", "highway-conv"]
                .map(String::from)
                .to_vec(),
            1,
            32,
            16,
        )
    } else {
        (
            args.archs.clone(),
            args.epochs,
            args.train_size,
            args.valid_size,
        )
    };
    for arch in &archs {
        ModelConfig::from_name(arch)?;
    }
    let mut table = Table::new(&[
        "network",
        "skip",
        "params",
        "final valid accuracy %",
        "best valid accuracy %",
        "final train loss",
        "s / epoch",
    ]);
    let mut rows = Vec::new();
    let mut series = Vec::new();
    let mut commands = Vec::new();
    for arch in &archs {
        let params = ModelConfig::from_name(arch)?
            .init(&setup.backend.device()?)?
            .trainable_params();
        let run = train(
            &setup,
            arch,
            &TrainSpec::he2015(
                arch,
                DatasetSpec::new(args.dataset).with_sizes(Some(train_size), Some(valid_size)),
            )?
            .with_epochs(epochs)
            .with_batch_size(64)
            .with_lr(0.05)
            .with_schedule(ScheduleSpec::Cosine)
            .with_seed(args.common.seed),
        )?;
        table.row(vec![
            arch.clone(),
            kind(arch).into(),
            params.to_string(),
            num(run.last("valid", "accuracy"), 1),
            num(run.best("valid", "accuracy"), 1),
            num(run.last("train", "loss"), 3),
            num(run.seconds_per_epoch(), 1),
        ]);
        for r in &run.result.history {
            rows.push(vec![
                arch.clone(),
                r.epoch.to_string(),
                format!("{}", r.get("train", "loss").unwrap_or(f64::NAN)),
                format!("{}", r.get("valid", "accuracy").unwrap_or(f64::NAN)),
                format!("{}", run.seconds_per_epoch()),
            ]);
        }
        series.push(run.series(arch, "valid", "accuracy", |v| v));
        commands.push(run.command);
    }
    write_csv(
        &setup.dir.join("compare.csv"),
        &[
            "arch",
            "epoch",
            "train_loss",
            "valid_accuracy",
            "seconds_per_epoch",
        ],
        &rows,
    )?;
    line_chart(
        &setup.dir.join("compare.png"),
        "Validation accuracy (%)",
        "epoch",
        "accuracy %",
        &series,
        false,
    )?;
    let mut report = Report::new(
        "Skip connections compared on one budget",
        &format!(
            "Each network trained with the same recipe on `{}`: {epochs} epochs, {train_size} \
             training / {valid_size} validation images, batch 64, SGD lr 0.05 with cosine decay \
             (momentum 0.9, weight decay 1e-4, one warm-up epoch), same seed.",
            args.dataset
        ),
        &setup.command,
    );
    report.commands.extend(commands);
    report.sections.push(format!(
        "## Results\n\n{}\n![validation accuracy](compare.png)\n\nRaw numbers: `compare.csv`.",
        table.markdown()
    ));
    report.write(&setup.dir)
}
