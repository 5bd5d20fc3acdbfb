//! The degradation experiment (He et al. 2015, Fig. 1 and 6): deeper plain networks train
//! worse; the same depth with identity shortcuts trains better.

use anyhow::Result;
use clap::Args;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_train::TrainSpec;
use skipnet_train::plots::line_chart;

use super::report::{Report, Table, num, write_csv};
use super::{CommonArgs, TrainRun, setup, train};
use crate::cli::{ClosedSet, ScheduleArg};

#[derive(Args, Debug)]
pub struct DegradationArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The dataset: synthetic-shapes (built in), cifar10 or fashion-mnist, for example.
    #[arg(long, default_value_t = DatasetKind::SyntheticShapes, value_parser = ClosedSet::<DatasetKind>::new())]
    dataset: DatasetKind,
    /// The two depths (6n+2) to compare.
    #[arg(long, value_delimiter = ',', default_value = "20,56")]
    depths: Vec<usize>,
    /// Epochs per network.
    #[arg(long, default_value_t = 6)]
    epochs: usize,
    /// Training images (a seeded subset for data on disk).
    #[arg(long, default_value_t = 1500)]
    train_size: usize,
    /// Validation images.
    #[arg(long, default_value_t = 500)]
    valid_size: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Learning-rate schedule: `step` (÷10 at 50% and 75%, the paper's) or `cosine`.
    #[arg(long, default_value = "cosine", value_parser = ClosedSet::<ScheduleArg>::new())]
    schedule: ScheduleArg,
}

/// He et al. 2015, Table 6 (CIFAR-10 test error, %); the plain nets appear only in Fig. 6.
fn paper(net: &str, depth: usize) -> String {
    match (net, depth) {
        ("resnet", 20) => "8.75".into(),
        ("resnet", 32) => "7.51".into(),
        ("resnet", 44) => "7.17".into(),
        ("resnet", 56) => "6.97".into(),
        ("resnet", 110) => "6.43".into(),
        ("plain", _) => "Fig. 6: rises with depth".into(),
        _ => "–".into(),
    }
}

pub fn run(args: &DegradationArgs) -> Result<()> {
    let Some(setup) = setup(&args.common, "degradation")? else {
        return Ok(());
    };
    let (depths, epochs, train_size, valid_size, batch) = if args.common.quick {
        (vec![8, 14], 1, 64, 32, 32)
    } else {
        (
            args.depths.clone(),
            args.epochs,
            args.train_size,
            args.valid_size,
            args.batch_size,
        )
    };
    let schedule = args.schedule.spec();
    let recipe = |arch: &str| -> Result<TrainSpec> {
        let data = DatasetSpec::new(args.dataset).with_sizes(Some(train_size), Some(valid_size));
        Ok(TrainSpec::he2015(arch, data)?
            .with_epochs(epochs)
            .with_batch_size(batch)
            .with_schedule(schedule.clone())
            .with_seed(args.common.seed))
    };
    let mut runs: Vec<(String, String, usize, TrainRun)> = Vec::new();
    for net in ["plain", "resnet"] {
        for &depth in &depths {
            let arch = format!("cifar-{net}{depth}");
            let run = train(&setup, &arch, &recipe(&arch)?)?;
            runs.push((net.to_string(), arch, depth, run));
        }
    }
    let mut table = Table::new(&[
        "network",
        "final train error %",
        "final valid error %",
        "best valid error %",
        "s / epoch",
        "He et al. test error % (CIFAR-10, 64k iterations)",
    ]);
    let mut rows = Vec::new();
    let mut series = Vec::new();
    for (net, arch, depth, run) in &runs {
        table.row(vec![
            format!("{net}-{depth}"),
            num(100.0 - run.last("train", "accuracy"), 1),
            num(100.0 - run.last("valid", "accuracy"), 1),
            num(100.0 - run.best("valid", "accuracy"), 1),
            num(run.seconds_per_epoch(), 1),
            paper(net, *depth),
        ]);
        for record in &run.result.history {
            let get = |split, metric| record.get(split, metric).unwrap_or(f64::NAN);
            rows.push(vec![
                arch.clone(),
                record.epoch.to_string(),
                format!("{}", 100.0 - get("train", "accuracy")),
                format!("{}", 100.0 - get("valid", "accuracy")),
                format!("{}", get("train", "loss")),
                format!("{}", get("valid", "loss")),
            ]);
        }
        for split in ["train", "valid"] {
            series.push(
                run.series(&format!("{net}-{depth} {split}"), split, "accuracy", |a| {
                    100.0 - a
                }),
            );
        }
    }
    write_csv(
        &setup.dir.join("degradation.csv"),
        &[
            "net",
            "epoch",
            "train_error",
            "valid_error",
            "train_loss",
            "valid_loss",
        ],
        &rows,
    )?;
    line_chart(
        &setup.dir.join("degradation.png"),
        "Training and validation error (%)",
        "epoch",
        "error %",
        &series,
        false,
    )?;
    let mut report = Report::new(
        "Degradation: plain vs residual networks of the same depth",
        &format!(
            "Plain and residual CIFAR networks (option A shortcuts) of depths {depths:?}, trained \
             with one recipe on `{}`: {epochs} epochs, {train_size} training / {valid_size} \
             validation images, batch {batch}, SGD lr 0.1 (momentum 0.9, weight decay 1e-4, \
             {} schedule, one warm-up epoch), augmentation pad-4 crop + flip. He et al. \
             trained 64k iterations of batch 128 on 45k CIFAR-10 images; this default is a CPU \
             budget of minutes, so compare the ordering, not the values.\n\n\
             Paper scale on a GPU: `cargo xtask experiment degradation --backend cuda --dataset \
             cifar10 --epochs 164 --train-size 50000 --valid-size 10000 --batch-size 128 \
             --schedule step` \
             (164 epochs of 391 steps ≈ 64k iterations; the step schedule divides the rate at \
             epochs 82 and 123, i.e. 32k and 48k iterations, as in the paper).",
            args.dataset,
            format!("{:?}", args.schedule).to_lowercase()
        ),
        &setup.command,
    );
    report
        .commands
        .extend(runs.iter().map(|(_, _, _, r)| r.command.clone()));
    report.sections.push(format!(
        "## Results\n\n{}\n![error curves](degradation.png)\n\nRaw numbers: `degradation.csv`.",
        table.markdown()
    ));
    report.write(&setup.dir)
}
