//! The seed's comparison table, measured: ResNet (options A and B), plain, DenseNet and Highway
//! networks on the same data and training budget.

use anyhow::Result;
use clap::Args;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_train::plots::{Band, Panel, band_panels};
use skipnet_train::{Cell, Column, Metric, ScheduleSpec, Sweep, SweepResults, SweepRun, TrainSpec};

use super::report::{Report, Table, listed, num};
use super::{CommonArgs, pick_dataset, setup};
use crate::cli::{ArchName, ClosedSet};

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The dataset (default: fashion-mnist, else cifar10 when its files are there, else
    /// synthetic-shapes).
    #[arg(long, value_parser = ClosedSet::<DatasetKind>::new())]
    dataset: Option<DatasetKind>,
    /// Architectures to compare.
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = ArchName,
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
    /// Seeds per network (each a different initialisation, subset, order and augmentation).
    #[arg(long, default_value_t = 2)]
    seeds: u64,
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
    let (archs, epochs, train_size, valid_size, seeds) = if args.common.quick {
        let quick = ["cifar-resnet8", "cifar-plain8", "highway-conv"];
        (quick.map(String::from).to_vec(), 1, 32, 16, 2)
    } else {
        let (a, e, t, v) = (&args.archs, args.epochs, args.train_size, args.valid_size);
        (a.clone(), e, t, v, args.seeds.max(1))
    };
    let (dataset, data_note) = pick_dataset(
        args.dataset,
        &[DatasetKind::FashionMnist, DatasetKind::Cifar10],
        DatasetKind::SyntheticShapes,
    );
    let data = DatasetSpec::new(dataset).with_sizes(Some(train_size), Some(valid_size));
    let cells = archs
        .iter()
        .map(|arch| {
            let spec = TrainSpec::he2015(arch, data.clone())?
                .with_epochs(epochs)
                .with_batch_size(64)
                .with_lr(0.05)
                .with_schedule(ScheduleSpec::Cosine);
            Ok(Cell::new(arch, spec))
        })
        .collect::<Result<Vec<_>>>()?;
    let seed_list = args.common.seeds(seeds);
    let results = Sweep::new(cells, seed_list.clone()).run(&setup.dir, setup.backend)?;
    let seconds_per_epoch =
        |run: &SweepRun| run.result().map_or(f64::NAN, |r| r.seconds_per_epoch());
    results.write_csv(
        &setup.dir.join("compare.csv"),
        &[
            Column::label("arch"),
            Column::seed(),
            Column::epoch(),
            Column::metric(Metric::TRAIN_LOSS),
            Column::metric(Metric::VALID_ACCURACY),
            Column::new("seconds_per_epoch", |_, run, _| {
                format!("{}", seconds_per_epoch(run))
            }),
        ],
    )?;
    let bands = archs
        .iter()
        .enumerate()
        .map(|(i, arch)| {
            let points = results.epoch_band(arch, Metric::VALID_ACCURACY);
            Band::new(arch.clone(), i, points)
        })
        .collect();
    band_panels(
        &setup.dir.join("compare.png"),
        &format!("Validation accuracy (%), median and min–max over {seeds} seeds"),
        "epoch",
        "accuracy %",
        &[Panel {
            title: format!("{dataset}"),
            bands,
        }],
        false,
    )?;

    let mut table = Table::new(&[
        "network",
        "skip",
        "params",
        "final valid accuracy %: median (min–max)",
        "final train loss: median",
        "s / epoch",
    ]);
    for arch in &archs {
        let accuracy = results.spread(arch, Metric::VALID_ACCURACY);
        let params = results.of(arch).filter_map(SweepRun::result).last();
        table.row(vec![
            arch.clone(),
            kind(arch).into(),
            params.map_or(0, |r| r.model.trainable_params()).to_string(),
            format!(
                "{} ({}–{})",
                num(accuracy.median, 1),
                num(accuracy.min, 1),
                num(accuracy.max, 1)
            ),
            num(results.spread(arch, Metric::TRAIN_LOSS).median, 3),
            num(results.seconds_per_epoch(arch).median, 1),
        ]);
    }
    let mut report = Report::new(
        "Skip connections compared on one budget",
        &format!(
            "Each network trained with the same recipe. {data_note} {epochs} epochs, \
             {train_size} training / {valid_size} validation images (a seeded subset per seed), \
             batch 64, SGD lr 0.05 with cosine decay (momentum 0.9, weight decay 1e-4, one \
             warm-up epoch); seeds {}.",
            listed(&seed_list)
        ),
        &setup.command,
    );
    report.commands.extend(results.commands());
    report.sections.push(format!(
        "## Results\n\n{}\n{}\n\n![validation accuracy](compare.png)\n\nRaw numbers: \
         `compare.csv` (one row per network, seed and epoch).",
        table.markdown(),
        ranking(&archs, &results)
    ));
    report.write(&setup.dir)
}

/// Which pairs of networks the accuracy column ranks: `a` above `b` only where a's worst seed
/// beats b's best; the others are ties at this budget.
fn ranking(archs: &[String], results: &SweepResults) -> String {
    let ranges: Vec<(&str, f64, f64, f64)> = archs
        .iter()
        .map(|arch| {
            let s = results.spread(arch, Metric::VALID_ACCURACY);
            (arch.as_str(), s.median, s.min, s.max)
        })
        .collect();
    let mut ranked = Vec::new();
    let mut ties = Vec::new();
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            let (hi, lo) = if a.1 >= b.1 { (a, b) } else { (b, a) };
            if hi.2 > lo.3 {
                ranked.push(format!("{} > {}", hi.0, lo.0));
            } else {
                ties.push(format!("{} ~ {}", hi.0, lo.0));
            }
        }
    }
    let total = ranked.len() + ties.len();
    format!(
        "## What the accuracy column ranks\n\nA pair is ranked only when every seed of one \
         network ends above every seed of the other. Ranked ({} of {total} pairs): {}.\n\n\
         Not separated at this budget ({} of {total}): {}.",
        ranked.len(),
        if ranked.is_empty() {
            "none".to_string()
        } else {
            ranked.join(", ")
        },
        ties.len(),
        if ties.is_empty() {
            "none".to_string()
        } else {
            ties.join(", ")
        },
    )
}
