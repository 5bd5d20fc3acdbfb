//! The seed's comparison table, measured: ResNet (options A and B), plain, DenseNet and Highway
//! networks on the same data and training budget.

use anyhow::Result;
use clap::Args;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_models::ModelConfig;
use skipnet_train::plots::{Band, Panel, band_panels};
use skipnet_train::{ScheduleSpec, TrainSpec};

use super::report::{Report, Table, listed, median_min_max, num, write_csv};
use super::{CommonArgs, pick_dataset, setup, train};
use crate::cli::ClosedSet;

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

/// One seed's outcome: (seed, final valid accuracy %, final train loss, seconds per epoch).
type SeedOutcome = (u64, f64, f64, f64);
/// An architecture, its parameter count and its seeds' outcomes.
type ArchResult = (String, usize, Vec<SeedOutcome>);

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
        (
            ["cifar-resnet8", "cifar-plain8", "highway-conv"]
                .map(String::from)
                .to_vec(),
            1,
            32,
            16,
            2,
        )
    } else {
        (
            args.archs.clone(),
            args.epochs,
            args.train_size,
            args.valid_size,
            args.seeds.max(1),
        )
    };
    for arch in &archs {
        ModelConfig::from_name(arch)?;
    }
    let (dataset, data_note) = pick_dataset(
        args.dataset,
        &[DatasetKind::FashionMnist, DatasetKind::Cifar10],
        DatasetKind::SyntheticShapes,
    );
    println!("{data_note}");
    let seed_list: Vec<u64> = (0..seeds).map(|s| args.common.seed + s).collect();
    let mut rows = Vec::new();
    let mut commands = Vec::new();
    // Per architecture: parameters, and per seed (final valid accuracy, final train loss, s/epoch).
    let mut results: Vec<ArchResult> = Vec::new();
    let mut bands = Vec::new();
    for (i, arch) in archs.iter().enumerate() {
        let mut per_seed = Vec::new();
        let mut curves = Vec::new();
        let mut params = 0;
        for &seed in &seed_list {
            let spec = TrainSpec::he2015(
                arch,
                DatasetSpec::new(dataset)
                    .with_sizes(Some(train_size), Some(valid_size))
                    .with_seed(seed),
            )?
            .with_epochs(epochs)
            .with_batch_size(64)
            .with_lr(0.05)
            .with_schedule(ScheduleSpec::Cosine)
            .with_seed(seed);
            let run = train(&setup, &format!("{arch}-seed{seed}"), &spec)?;
            params = run.result.model.trainable_params();
            for r in &run.result.history {
                rows.push(vec![
                    arch.clone(),
                    seed.to_string(),
                    r.epoch.to_string(),
                    format!("{}", r.get("train", "loss").unwrap_or(f64::NAN)),
                    format!("{}", r.get("valid", "accuracy").unwrap_or(f64::NAN)),
                    format!("{}", run.seconds_per_epoch()),
                ]);
            }
            curves.push(
                run.result
                    .history
                    .iter()
                    .map(|r| r.get("valid", "accuracy").unwrap_or(f64::NAN))
                    .collect::<Vec<_>>(),
            );
            per_seed.push((
                seed,
                run.last("valid", "accuracy"),
                run.last("train", "loss"),
                run.seconds_per_epoch(),
            ));
            commands.push(run.command);
        }
        bands.push(Band::new(
            arch.clone(),
            i,
            (0..epochs)
                .map(|e| {
                    let v: Vec<f64> = curves.iter().filter_map(|c| c.get(e).copied()).collect();
                    let (median, min, max) = median_min_max(&v);
                    ((e + 1) as f64, min, median, max)
                })
                .collect(),
        ));
        results.push((arch.clone(), params, per_seed));
    }
    write_csv(
        &setup.dir.join("compare.csv"),
        &[
            "arch",
            "seed",
            "epoch",
            "train_loss",
            "valid_accuracy",
            "seconds_per_epoch",
        ],
        &rows,
    )?;
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
    for (arch, params, per_seed) in &results {
        let acc: Vec<f64> = per_seed.iter().map(|p| p.1).collect();
        let (median, min, max) = median_min_max(&acc);
        table.row(vec![
            arch.clone(),
            kind(arch).into(),
            params.to_string(),
            format!("{} ({}–{})", num(median, 1), num(min, 1), num(max, 1)),
            num(
                median_min_max(&per_seed.iter().map(|p| p.2).collect::<Vec<_>>()).0,
                3,
            ),
            num(
                median_min_max(&per_seed.iter().map(|p| p.3).collect::<Vec<_>>()).0,
                1,
            ),
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
    report.commands.extend(commands);
    report.sections.push(format!(
        "## Results\n\n{}\n{}\n\n![validation accuracy](compare.png)\n\nRaw numbers: \
         `compare.csv` (one row per network, seed and epoch).",
        table.markdown(),
        ranking(&results)
    ));
    report.write(&setup.dir)
}

/// Which pairs of networks the accuracy column ranks: `a` above `b` only where a's worst seed
/// beats b's best; the others are ties at this budget.
fn ranking(results: &[ArchResult]) -> String {
    let ranges: Vec<(&str, f64, f64, f64)> = results
        .iter()
        .map(|(arch, _, per_seed)| {
            let (median, min, max) =
                median_min_max(&per_seed.iter().map(|p| p.1).collect::<Vec<_>>());
            (arch.as_str(), median, min, max)
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
