//! `cargo xtask import`: convert weights between PyTorch and Burn formats.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::store::{BurnpackStore, ModuleSnapshot};
use clap::Args;
use skipnet_models::interop;
use skipnet_train::Backend;

use crate::weights::ModelArgs;

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Output file: `.safetensors` (PyTorch/torchvision key names; PyTorch's
    /// `load_state_dict(strict=True)` accepts it) or `.bpk` (Burn's own format).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: &ImportArgs) -> Result<()> {
    // Conversion only reads and writes tensors: the default CPU backend of this build.
    let device = Backend::auto().device()?;
    let (model, _, weights) = args.model.load(&device)?;
    let extension = args.out.extension().and_then(|e| e.to_str()).unwrap_or("");
    match extension {
        "safetensors" => interop::save_torch_safetensors(&model, &args.out)?,
        "bpk" => {
            // BurnpackStore writes to a temporary file and renames it into place.
            let mut store = BurnpackStore::from_file(&args.out)
                .auto_extension(false)
                .overwrite(true);
            model
                .save_into(&mut store)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", args.out.display()))?;
        }
        other => bail!(
            "{}: unknown output format '.{other}' (expected .safetensors or .bpk)",
            args.out.display()
        ),
    }
    println!(
        "{} → {} ({}, {} parameters)",
        weights.display(),
        args.out.display(),
        model.family(),
        model.trainable_params()
    );
    Ok(())
}
