//! `cargo xtask data synth`, `cargo xtask data inspect` and `cargo xtask data download`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use skipnet_data::download::Downloader;
use skipnet_data::inspect::{Format, inspect};
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_data::synthetic::write_synthetic;

use crate::cli::ClosedSet;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Write a built-in synthetic dataset as PNG files (and masks) to look at or train on.
    Synth(SynthArgs),
    /// Read a dataset end to end and print what it holds; non-zero exit when it is invalid.
    Inspect(InspectArgs),
    /// Download a dataset (cifar10, cifar100, mnist, fashion-mnist) into the data root, checked
    /// against the published MD5s, in the layout `train --dataset` reads.
    Download(DownloadArgs),
}

#[derive(Args)]
pub struct DownloadArgs {
    /// The dataset.
    #[arg(value_parser = ClosedSet::<DatasetKind>::new())]
    dataset: DatasetKind,
    /// Data root (default: the one `train --dataset` reads: $SKIPNET_DATA, else datasets/).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Downloads `spec`'s dataset into its data root unless it is there already.
pub fn download(spec: &DatasetSpec) -> Result<()> {
    let folder = skipnet_data::download::fetch(spec, &Downloader::new())?;
    eprintln!("{}: {}", spec.kind, folder.display());
    Ok(())
}

#[derive(Args)]
pub struct SynthArgs {
    /// `synthetic-shapes` or `synthetic-cells`.
    name: String,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 100)]
    count: usize,
    /// Seed (the same seed gives the same images).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Image side for synthetic-cells.
    #[arg(long, default_value_t = 128)]
    size: usize,
}

#[derive(Args)]
pub struct InspectArgs {
    /// A dataset folder or file.
    path: PathBuf,
    /// cifar10, cifar100, idx, folder or seg-folder (detected when omitted).
    #[arg(long)]
    format: Option<String>,
}

pub fn run(command: &DataCommand) -> Result<()> {
    match command {
        DataCommand::Synth(args) => {
            let files = write_synthetic(&args.name, &args.out, args.count, args.seed, args.size)?;
            println!(
                "wrote {files} PNG files of {} to {}",
                args.name,
                args.out.display()
            );
            Ok(())
        }
        DataCommand::Inspect(args) => {
            let format = args
                .format
                .as_deref()
                .map(str::parse::<Format>)
                .transpose()?;
            print!("{}", inspect(&args.path, format)?);
            Ok(())
        }
        DataCommand::Download(args) => {
            let mut spec = DatasetSpec::new(args.dataset);
            if let Some(dir) = &args.data_dir {
                spec = spec.with_root(dir);
            }
            download(&spec)
        }
    }
}
