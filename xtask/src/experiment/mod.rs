//! `cargo xtask experiment <NAME>`: the seed's exercises and the degradation experiment, each one
//! command that writes `report.md` (what ran, the exact commands, a results table, the plots),
//! the raw numbers as CSV, and prints the table.

mod bottleneck;
mod compare;
mod degradation;
mod gradients;
mod highway;
mod report;
mod segmentation;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use skipnet_data::registry::{DatasetKind, DatasetSpec, open as open_dataset};
use skipnet_train::{Backend, ScheduleKind, SpecOverrides, Sweep};

use report::listed;

use crate::cli::{BackendArg, ClosedSet, select_backend};

#[derive(Subcommand, Debug)]
pub enum ExperimentCommand {
    /// Exercise 1: gradient norms per layer of a 50-layer net with/without skips and BatchNorm.
    Gradients(gradients::GradientsArgs),
    /// He et al. 2015 Fig. 1/6: plain-20/56 against ResNet-20/56, same recipe.
    Degradation(degradation::DegradationArgs),
    /// Exercise 2: ResNet-50/101 (bottleneck) against ResNet-18/34 (basic blocks).
    Bottleneck(bottleneck::BottleneckArgs),
    /// Exercise 3: U-Net on synthetic cells, Dice/IoU on held-out and real image/mask pairs.
    Segmentation(segmentation::SegmentationArgs),
    /// ResNet vs plain vs DenseNet vs Highway (and option A vs B) on one budget.
    Compare(compare::CompareArgs),
    /// Srivastava et al. 2015, Fig. 1: plain vs highway MLPs at depths 10, 20, 50, 100.
    Highway(highway::HighwayArgs),
}

/// Options every experiment takes.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Output folder (default `experiments/<name>`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// auto (the fastest CPU backend compiled in), or a backend (rebuilds
    /// with its cargo feature when not compiled in).
    #[arg(long, default_value = "auto", value_parser = ClosedSet::<BackendArg>::new())]
    backend: BackendArg,
    /// A tiny version that finishes in seconds (what CI runs; numbers mean nothing).
    #[arg(long)]
    quick: bool,
    /// Replace an earlier report and runs in the output folder.
    #[arg(long)]
    overwrite: bool,
    /// Seed of data, initialisation and shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Flags that change single values of an experiment's recipe (each a field of
/// [`SpecOverrides`], applied after the experiment's own values).
#[derive(Args, Debug, Clone, Default)]
pub struct RecipeArgs {
    /// Epochs per network.
    #[arg(long)]
    epochs: Option<usize>,
    /// Training images, a seeded subset.
    #[arg(long)]
    train_size: Option<usize>,
    /// Validation images, a seeded subset.
    #[arg(long)]
    valid_size: Option<usize>,
    /// Images per batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// SGD learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// step (÷10 at 50 % and 75 % of the epochs), cosine or constant.
    #[arg(long, value_parser = ClosedSet::<ScheduleKind>::new())]
    schedule: Option<ScheduleKind>,
}

impl RecipeArgs {
    /// The flags as overrides of a spec.
    fn overrides(&self) -> SpecOverrides {
        SpecOverrides {
            epochs: self.epochs,
            train_size: self.train_size,
            valid_size: self.valid_size,
            batch_size: self.batch_size,
            lr: self.lr,
            schedule: self.schedule,
            ..SpecOverrides::default()
        }
    }
}

impl CommonArgs {
    /// `n` seeds from `--seed` on.
    fn seeds(&self, n: u64) -> Vec<u64> {
        (0..n).map(|s| self.seed + s).collect()
    }
}

pub fn run(command: &ExperimentCommand) -> Result<()> {
    match command {
        ExperimentCommand::Gradients(a) => gradients::run(a),
        ExperimentCommand::Degradation(a) => degradation::run(a),
        ExperimentCommand::Bottleneck(a) => bottleneck::run(a),
        ExperimentCommand::Segmentation(a) => segmentation::run(a),
        ExperimentCommand::Compare(a) => compare::run(a),
        ExperimentCommand::Highway(a) => highway::run(a),
    }
}

/// The dataset an experiment runs on: `requested`, or the first of `real` whose files are
/// there, else `fallback` (built in). The sentence, printed, says which, and how to get the
/// real one.
fn pick_dataset(
    requested: Option<DatasetKind>,
    real: &[DatasetKind],
    fallback: DatasetKind,
) -> (DatasetKind, String) {
    let (kind, note) = choose_dataset(requested, real, fallback);
    println!("{note}");
    (kind, note)
}

fn choose_dataset(
    requested: Option<DatasetKind>,
    real: &[DatasetKind],
    fallback: DatasetKind,
) -> (DatasetKind, String) {
    if let Some(kind) = requested {
        return (
            kind,
            format!("Data: `{kind}` (asked for with `--dataset`)."),
        );
    }
    let mut missing = Vec::new();
    for &kind in real {
        match open_dataset(&DatasetSpec::new(kind).with_sizes(Some(1), Some(1))) {
            Ok(_) => {
                return (
                    kind,
                    format!("Data: `{kind}`, real data found on this machine."),
                );
            }
            Err(e) => missing.push(format!("`{kind}`: {e}")),
        }
    }
    (
        fallback,
        format!(
            "Data: `{fallback}` (built-in synthetic data), because no real dataset was found — {}",
            missing.join("; ")
        ),
    )
}

/// Measures what `sweep` will cost on `backend` before it runs ([`Sweep::estimate`]), prints
/// it and returns the sentence for the report.
fn expected_time(sweep: &Sweep, backend: Backend) -> Result<String> {
    let estimate = sweep.estimate(backend)?;
    let steps = listed(estimate.cells.iter().map(|(label, seconds, steps)| {
        let batch = sweep
            .cells
            .iter()
            .find(|c| c.label == *label)
            .map_or(0, |c| c.spec.batch_size);
        format!("{label} {seconds:.3} s × {steps} (batch {batch})")
    }));
    let line = format!(
        "Expected time of the training steps on {backend} here: {:.0} min ({} networks × {} \
         seeds; measured s/step × steps per run: {steps}); validation comes on top.",
        estimate.total_seconds / 60.0,
        sweep.cells.len(),
        sweep.seeds.len(),
    );
    println!("{line}");
    Ok(line)
}

/// Where an experiment writes, after checking it will not silently replace an earlier one.
/// `None`: the backend was not compiled in and the command was re-run with it.
struct Setup {
    dir: PathBuf,
    backend: Backend,
    command: String,
}

fn setup(common: &CommonArgs, name: &str) -> Result<Option<Setup>> {
    let Some(backend) = select_backend(common.backend)? else {
        return Ok(None);
    };
    let dir = common
        .out
        .clone()
        .unwrap_or_else(|| Path::new("experiments").join(name));
    if dir.join("report.md").exists() || dir.join("runs").exists() {
        if !common.overwrite {
            bail!(
                "{} already holds an experiment; pass --overwrite to replace it, or another --out",
                dir.display()
            );
        }
        let runs = dir.join("runs");
        if runs.exists() {
            std::fs::remove_dir_all(&runs)
                .with_context(|| format!("cannot remove {}", runs.display()))?;
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let command = format!(
        "cargo xtask {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    Ok(Some(Setup {
        dir,
        backend,
        command,
    }))
}
