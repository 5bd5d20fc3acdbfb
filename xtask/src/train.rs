//! `cargo xtask train`: the flags are the library's [`SpecOverrides`] (one field, one flag) plus
//! where and how the run executes; [`SpecOverrides::resolve`] (a new run) or
//! [`SpecOverrides::apply`] on a recorded spec (`--config`) makes the [`TrainSpec`], and
//! [`skipnet_train::run`] runs it.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use skipnet_train::{RunOptions, SpecOverrides, TrainSpec};

use crate::cli::{BackendArg, ClosedSet, select_backend};

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Replay a run: its config.json (or its run folder). The run is repeated exactly; any
    /// other flag given replaces the one recorded value it names, and nothing else changes.
    #[arg(long)]
    config: Option<PathBuf>,
    /// What is trained, and how (each flag overrides a default, or with --config the run's
    /// recorded value).
    #[command(flatten)]
    spec: SpecOverrides,
    /// Folder of run folders.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Run name (default `<arch>-<dataset>-<unix time>`).
    #[arg(long)]
    name: Option<String>,
    /// auto (the fastest CPU backend compiled in), or a backend (rebuilds
    /// with its cargo feature when not compiled in).
    #[arg(long, default_value = "auto", value_parser = ClosedSet::<BackendArg>::new())]
    backend: BackendArg,
    /// Train data-parallel on this many devices of the backend (GPU backends).
    #[arg(long, default_value_t = 1)]
    devices: usize,
    /// Continue the run folder `--out/--name` from its latest checkpoint (same command, more
    /// --epochs if it had finished).
    #[arg(long)]
    resume: bool,
    /// With --resume: continue even if the settings differ from the run's (each difference is
    /// printed as a warning).
    #[arg(long)]
    force: bool,
    /// No per-step progress (a line per epoch only); what experiments use.
    #[arg(long)]
    quiet: bool,
    /// Download the dataset into --data-dir first when it is not there (cifar10, cifar100,
    /// mnist, fashion-mnist; checked against the published MD5s).
    #[arg(long)]
    download: bool,
}

impl TrainArgs {
    /// The spec these flags describe: the recorded one with the flags applied (`--config`), or
    /// a new run's.
    pub fn to_spec(&self) -> Result<TrainSpec> {
        Ok(match &self.config {
            Some(config) => self.spec.apply(TrainSpec::from_config(config)?)?,
            None => self.spec.resolve()?,
        })
    }
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let spec = args.to_spec()?;
    let Some(backend) = select_backend(args.backend)? else {
        return Ok(());
    };
    if args.resume && args.name.is_none() {
        bail!("--resume needs --name (and --out) of the run folder to continue");
    }
    if args.force && !args.resume {
        bail!("--force applies to --resume only");
    }
    if args.download {
        crate::data::download(&spec.dataset)?;
    }
    let options = RunOptions {
        devices: args.devices,
        resume: args.resume,
        force: args.force,
        quiet: args.quiet,
        ..RunOptions::in_folder(&args.out, args.name.as_deref(), &spec).with_backend(backend)
    };
    skipnet_train::run(&spec, &options)?;
    Ok(())
}

#[cfg(test)]
#[path = "train_tests.rs"]
mod tests;
