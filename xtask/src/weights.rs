//! Which model and which weights a command works on: a run folder (its config.json decides the
//! architecture) or an architecture name plus a weights file in any supported format.

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use clap::Args;
use skipnet_data::transform::Normalization;
use skipnet_models::{Model, ModelConfig, UNetConfig, interop};

#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Architecture (when --weights is a run folder, its config.json decides).
    pub arch: String,
    /// A run folder (its config.json and model.bpk), or a weights file: .pth/.pt/.bin
    /// (PyTorch state_dict or checkpoint), .safetensors (PyTorch or Burn names) or .bpk.
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
}

/// What the run folder's config.json (or the command line) says about the model.
pub struct Recipe {
    pub config: ModelConfig,
    pub weights: PathBuf,
    pub input: Option<[usize; 3]>,
    pub normalization: Option<Normalization>,
}

impl ModelArgs {
    pub fn recipe(&self) -> Result<Recipe> {
        if self.weights.is_dir() {
            let path = self.weights.join("config.json");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", path.display()))?;
            let config: ModelConfig = serde_json::from_value(json["model"].clone())
                .with_context(|| format!("{}: no valid `model` entry", path.display()))?;
            let input = serde_json::from_value(json["input"].clone()).ok();
            let normalization = serde_json::from_value(json["normalization"].clone()).ok();
            return Ok(Recipe {
                config,
                weights: self.weights.join("model.bpk"),
                input,
                normalization,
            });
        }
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
                anyhow::bail!("--width applies to unet only, not {}", self.arch);
            };
            config = ModelConfig::UNet(UNetConfig {
                base_width: width,
                ..unet
            });
        }
        config.validate()?;
        Ok(Recipe {
            config,
            weights: self.weights.clone(),
            input: None,
            normalization: None,
        })
    }

    /// The model with its weights loaded (strictly), on `device`.
    pub fn load(&self, device: &Device) -> Result<(Model, Recipe)> {
        let recipe = self.recipe()?;
        let model = recipe.config.init(device)?;
        let model = interop::load_weights(model, &recipe.weights)?;
        Ok((model, recipe))
    }
}
