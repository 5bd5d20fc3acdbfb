//! `cargo xtask experiment <NAME>`: the seed's exercises and the degradation experiment, each one
//! command that writes `report.md` (what ran, the exact commands, a results table, the plots),
//! the raw numbers as CSV, and prints the table.

mod bottleneck;
mod compare;
mod degradation;
mod gradients;
mod report;
mod segmentation;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use skipnet_train::Backend;
use skipnet_train::history::EpochRecord;
use skipnet_train::plots::Series;

use crate::train::TrainArgs;

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
}

/// Options every experiment takes.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Output folder (default `experiments/<name>`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// auto (the fastest CPU backend compiled in: tch, else flex), flex, ndarray, wgpu,
    /// cuda or tch (rebuilds with the feature when not compiled in).
    #[arg(long, default_value = "auto")]
    backend: String,
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
    }
}

/// Where an experiment writes, after checking it will not silently replace an earlier one.
/// `None`: the backend was not compiled in and the command was re-run with it.
struct Setup {
    dir: PathBuf,
    backend: Backend,
    command: String,
}

fn setup(common: &CommonArgs, name: &str) -> Result<Option<Setup>> {
    let Some(backend) = crate::train::select_backend(&common.backend)? else {
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

/// One training run of an experiment, through `cargo xtask train` itself.
struct TrainRun {
    history: Vec<EpochRecord>,
    seconds: f64,
    command: String,
}

impl TrainRun {
    fn last(&self, split: &str, metric: &str) -> f64 {
        self.history
            .last()
            .and_then(|r| r.get(split, metric))
            .unwrap_or(f64::NAN)
    }
    fn best(&self, split: &str, metric: &str) -> f64 {
        self.history
            .iter()
            .filter_map(|r| r.get(split, metric))
            .fold(f64::NAN, f64::max)
    }
    /// `metric` of `split` per epoch, as a plot series named `label`, mapped by `f`.
    fn series(&self, label: &str, split: &str, metric: &str, f: fn(f64) -> f64) -> Series {
        Series {
            label: label.into(),
            points: self
                .history
                .iter()
                .filter_map(|r| Some((r.epoch as f64, f(r.get(split, metric)?))))
                .collect(),
        }
    }
    fn seconds_per_epoch(&self) -> f64 {
        self.seconds / self.history.len().max(1) as f64
    }
}

#[derive(Parser)]
#[command(no_binary_name = true)]
struct TrainCli {
    #[command(flatten)]
    args: TrainArgs,
}

/// Trains `name` into `setup.dir/runs/name` with `args` (train's flags) and reads its metrics.
fn train(setup: &Setup, name: &str, args: &[String]) -> Result<TrainRun> {
    let runs = setup.dir.join("runs");
    let mut full: Vec<String> = vec![
        "--out".into(),
        runs.display().to_string(),
        "--name".into(),
        name.into(),
        "--backend".into(),
        setup.backend.name().into(),
        "--quiet".into(),
    ];
    full.extend(args.iter().cloned());
    let parsed = TrainCli::try_parse_from(&full).map_err(|e| anyhow::anyhow!("{e}"))?;
    let command = format!("cargo xtask train {}", full.join(" "));
    println!("\n== {name}: {command}");
    let started = Instant::now();
    crate::train::run(&parsed.args)?;
    let seconds = started.elapsed().as_secs_f64();
    let csv = runs.join(name).join("metrics.csv");
    let text =
        std::fs::read_to_string(&csv).with_context(|| format!("cannot read {}", csv.display()))?;
    let history = skipnet_train::history::from_csv(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", csv.display()))?;
    Ok(TrainRun {
        history,
        seconds,
        command,
    })
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}
