//! Which model and which weights a command works on: a run folder (its config.json decides the
//! architecture) or an architecture name plus a weights file in any supported format.

use std::path::PathBuf;

use anyhow::Result;
use burn::tensor::Device;
use clap::Args;
use skipnet_models::hub;
use skipnet_models::{Model, ModelConfig, UNetConfig};
use skipnet_train::folder::open_weights_at;

use crate::cli::ArchName;
use skipnet_train::{CheckpointChoice, ModelRecipe};

#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Architecture (when --weights is a run folder, its config.json decides).
    #[arg(value_parser = ArchName)]
    pub arch: String,
    /// A run folder (its config.json and model.bpk), a weights file: .pth/.pt/.bin (PyTorch
    /// state_dict or checkpoint), .safetensors (PyTorch or Burn names) or .bpk — or torchvision's
    /// published weights by name: `torchvision:resnet50` (its default) or
    /// `torchvision:resnet50.IMAGENET1K_V1`, downloaded once into `$SKIPNET_HOME/hub` (else
    /// `~/.cache/skipnet/hub`) and checked against their hash.
    #[arg(long)]
    pub weights: PathBuf,
    /// Classes of the weights (when not a run folder).
    #[arg(long)]
    pub num_classes: Option<usize>,
    /// Input channels of the weights (when not a run folder).
    #[arg(long)]
    pub in_channels: Option<usize>,
    /// U-Net base width of the weights (when not a run folder; 64 = the paper's network).
    #[arg(long)]
    pub width: Option<usize>,
    /// Which weights of a run folder: `last` (the final model), `best` (the epoch with the
    /// best validation accuracy, or Dice for U-Net) or an epoch number.
    #[arg(long, default_value = "last", value_parser = parse_checkpoint)]
    pub checkpoint: CheckpointChoice,
}

fn parse_checkpoint(text: &str) -> Result<CheckpointChoice, String> {
    text.parse()
        .map_err(|e: skipnet_train::TrainError| e.to_string())
}

impl ModelArgs {
    /// The architecture the flags describe (for a weights file).
    fn config(&self) -> Result<ModelConfig, skipnet_train::TrainError> {
        let mut config = ModelConfig::from_name(&self.arch)?;
        if let Some(n) = self.num_classes {
            config = config.with_num_classes(n);
        }
        if let Some(c) = self.in_channels {
            let [_, h, w] = config.default_input();
            config = config.with_input([c, h, w]);
        }
        if let Some(width) = self.width {
            let ModelConfig::UNet(unet) = config else {
                return Err(skipnet_train::TrainError::invalid(
                    "--width",
                    format!("applies to unet only, not {}", self.arch),
                ));
            };
            config = ModelConfig::UNet(UNetConfig {
                base_width: width,
                ..unet
            });
        }
        Ok(config)
    }

    /// The model with its weights loaded (strictly), on `device`; its recipe, and the weights
    /// file it came from.
    pub fn load(&self, device: &Device) -> Result<(Model, ModelRecipe, PathBuf)> {
        if let Some(name) = self
            .weights
            .to_str()
            .filter(|_| hub::is_hub_name(&self.weights))
        {
            let weights = hub::lookup(name)?;
            if weights.arch != self.arch {
                anyhow::bail!("{name} are weights for {}, not {}", weights.arch, self.arch);
            }
            let file = hub::Hub::new().fetch(weights)?;
            let named = ModelArgs {
                weights: file,
                arch: self.arch.clone(),
                num_classes: self.num_classes,
                in_channels: self.in_channels,
                width: self.width,
                checkpoint: self.checkpoint,
            };
            return named.load(device);
        }
        if self.weights.is_dir() {
            // A run folder's config.json decides: a flag describing the weights would do
            // nothing.
            for (flag, given) in [
                ("--num-classes", self.num_classes.is_some()),
                ("--in-channels", self.in_channels.is_some()),
                ("--width", self.width.is_some()),
            ] {
                if given {
                    anyhow::bail!(
                        "{flag} describes a weights file; {} is a run folder, whose config.json \
                         decides",
                        self.weights.display()
                    );
                }
            }
        }
        let (model, recipe, path) =
            open_weights_at(&self.weights, self.checkpoint, || self.config(), device)?;
        let named = ModelConfig::from_name(&self.arch)?;
        if std::mem::discriminant(&named) != std::mem::discriminant(&recipe.config) {
            anyhow::bail!(
                "{} holds a {} model, not a {}",
                self.weights.display(),
                model.family(),
                self.arch
            );
        }
        Ok((model, recipe, path))
    }
}
