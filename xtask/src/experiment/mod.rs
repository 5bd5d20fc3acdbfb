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
use skipnet_train::plots::Series;
use skipnet_train::{Backend, RunOptions, RunResult, TrainSpec};

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
/// there, else `fallback` (built in). The sentence says which, and how to get the real one.
fn pick_dataset(
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

/// One training run of an experiment, and the `cargo xtask train` command that repeats it.
struct TrainRun {
    result: RunResult,
    command: String,
}

impl TrainRun {
    fn last(&self, split: &str, metric: &str) -> f64 {
        self.result.last(split, metric)
    }
    /// `metric` of `split` per epoch, as a plot series named `label`, mapped by `f`.
    fn series(&self, label: &str, split: &str, metric: &str, f: fn(f64) -> f64) -> Series {
        Series {
            label: label.into(),
            points: self
                .result
                .history
                .iter()
                .filter_map(|r| Some((r.epoch as f64, f(r.get(split, metric)?))))
                .collect(),
        }
    }
    fn seconds_per_epoch(&self) -> f64 {
        self.result.seconds_per_epoch()
    }
}

/// As [`train`], but a run stopped by a non-finite loss is `Ok(Err(message))`, a result of
/// the experiment rather than its failure.
fn train_or_diverge(
    setup: &Setup,
    name: &str,
    spec: &TrainSpec,
) -> Result<std::result::Result<TrainRun, String>> {
    match train(setup, name, spec) {
        Ok(run) => Ok(Ok(run)),
        Err(e) => match e.downcast_ref::<skipnet_train::TrainError>() {
            Some(skipnet_train::TrainError::NonFinite { .. }) => {
                println!("   diverged: {e}");
                Ok(Err(e.to_string()))
            }
            _ => Err(e),
        },
    }
}

/// Trains `spec` quietly into `setup.dir/runs/name` and hands back its result.
fn train(setup: &Setup, name: &str, spec: &TrainSpec) -> Result<TrainRun> {
    let options = RunOptions::new(setup.dir.join("runs").join(name))
        .with_backend(setup.backend)
        .with_quiet(true);
    // The run's own record replays it: `cargo xtask train --config <run folder>`.
    let command = format!(
        "cargo xtask train --config {}",
        options.dir.join("config.json").display()
    );
    println!("\n== {name} ({}): {}", spec.arch(), options.dir.display());
    let result = skipnet_train::run(spec, &options)?;
    Ok(TrainRun { result, command })
}
