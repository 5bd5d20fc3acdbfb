//! `cargo xtask`: skipnet's command line.

mod bench;
mod cli;
mod data;
mod eval;
mod experiment;
mod import;
mod libtorch;
mod predict;
mod summary;
mod train;
mod weights;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "skipnet: residual and skip-connection networks on Burn"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stage-by-stage output shapes, parameters and FLOPs of an architecture.
    Summary(summary::SummaryArgs),
    /// Every architecture of the zoo with its parameter count and paper.
    List(summary::ListArgs),
    /// Dataset tools: write synthetic data, inspect data on disk.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Run a trained model on images or on a raw NCHW .npy tensor.
    Predict(predict::PredictArgs),
    /// Score a trained model on a dataset: top-1, top-5, per-class accuracy and confusion
    /// matrix (classifiers); pixel and instance metrics (U-Net).
    Eval(eval::EvalArgs),
    /// Convert weights: PyTorch .pth/.safetensors ↔ Burn .bpk, or any zoo model to
    /// safetensors with torchvision's key names.
    Import(import::ImportArgs),
    /// The exercises and the degradation experiment: report.md, CSV and plots.
    #[command(subcommand)]
    Experiment(experiment::ExperimentCommand),
    /// Training-step and inference throughput, optionally beside PyTorch.
    Bench(bench::BenchArgs),
    /// Train a network (the main job; runs on built-in data with no arguments).
    Train(train::TrainArgs),
    /// Install libtorch 2.9.0 from PyPI for the `tch` backend (the fastest on CPU).
    Libtorch(libtorch::LibtorchArgs),
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing to a closed pipe (`… | head`) panics; a command-line
    // tool should just stop, as every Unix tool does.
    #[cfg(unix)]
    // SAFETY: resetting a signal to its default disposition, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Summary(args) => summary::run(&args),
        Command::List(args) => summary::list(&args),
        Command::Data(command) => data::run(&command),
        Command::Train(args) => train::run(&args),
        Command::Predict(args) => predict::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Experiment(command) => experiment::run(&command),
        Command::Bench(args) => bench::run(&args),
        Command::Libtorch(args) => libtorch::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The library names settings by their fields; here they are flags.
            eprintln!(
                "error: {}",
                skipnet_train::cli::fields_to_flags(&format!("{err:#}"))
            );
            ExitCode::FAILURE
        }
    }
}
