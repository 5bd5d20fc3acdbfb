//! The run folder: what a run writes and what predict, import and resume read back.
//!
//! ```text
//! <run>/config.json          RunConfig: the TrainSpec, what the run resolved, provenance
//! <run>/metrics.csv          one row per epoch (see history)
//! <run>/checkpoint/          model-N.bpk, optim-N.bpk, scheduler-N.bpk (burn-train)
//! <run>/loss.png, metrics.png
//! <run>/overlays/            U-Net validation overlays
//! <run>/model.bpk, model.safetensors   the final model
//! ```

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use skipnet_data::transform::Normalization;
use skipnet_models::{Model, ModelConfig, interop};

use crate::backend::Backend;
use crate::error::{Result, TrainError};
use crate::history::EpochRecord;
use crate::spec::TrainSpec;

/// The version of `config.json` this build writes. Folders without `format` were written
/// before the run moved into this crate: their model loads, they resume, and resuming rewrites
/// their `config.json` in this format.
pub const CONFIG_FORMAT: u32 = 2;

/// A run folder's `config.json`: the spec as run (its model with the dataset's input and
/// classes), what the data turned out to be, and where the run came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// [`CONFIG_FORMAT`].
    pub format: u32,
    /// The spec, its model resolved.
    #[serde(flatten)]
    pub spec: TrainSpec,
    /// `[channels, height, width]` of the classifier's input (`None` for U-Net, which takes
    /// any size).
    pub input: Option<[usize; 3]>,
    /// The input normalisation of a classifier (U-Net normalises each image itself).
    pub normalization: Option<Normalization>,
    /// Training items.
    pub train_items: usize,
    /// Validation items.
    pub valid_items: usize,
    /// The backend it ran on.
    pub backend: Backend,
    /// Devices it ran on.
    pub devices: usize,
    /// The command that started it.
    pub command: Vec<String>,
    /// The skipnet-train version that wrote it.
    pub skipnet_version: String,
}

/// What inference needs of a run: the model and how its input is prepared. Read from any
/// `config.json`, old format included.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRecipe {
    /// The model configuration as trained.
    pub config: ModelConfig,
    /// The classifier's input shape.
    pub input: Option<[usize; 3]>,
    /// The classifier's input normalisation.
    pub normalization: Option<Normalization>,
}

/// A run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFolder {
    dir: PathBuf,
}

impl RunFolder {
    /// The run folder at `dir` (nothing is read or created yet).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// `metrics.csv`.
    pub fn metrics_path(&self) -> PathBuf {
        self.dir.join("metrics.csv")
    }

    /// The U-Net validation overlays.
    pub fn overlays_dir(&self) -> PathBuf {
        self.dir.join("overlays")
    }

    /// The final model, Burn's format (`model.bpk`; `model.safetensors` beside it).
    pub fn model_path(&self) -> PathBuf {
        self.dir.join("model.bpk")
    }

    /// Writes `config.json` atomically.
    pub fn write_config(&self, config: &RunConfig) -> Result<()> {
        let path = self.config_path();
        let text = serde_json::to_string_pretty(config)
            .map_err(|e| TrainError::file(&path, format!("cannot serialise: {e}")))?;
        crate::history::write_atomically(&path, text.as_bytes())
            .map_err(|e| TrainError::file(&path, format!("cannot write: {e}")))
    }

    fn config_json(&self) -> Result<serde_json::Value> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| TrainError::file(&path, format!("cannot read: {e}")))?;
        serde_json::from_str(&text)
            .map_err(|e| TrainError::file(&path, format!("not valid JSON: {e}")))
    }

    /// The typed `config.json`. A folder written before [`CONFIG_FORMAT`] 2 is an error that
    /// says so ([`Self::recipe`] still reads its model).
    pub fn read_config(&self) -> Result<RunConfig> {
        Self::typed(&self.config_path(), self.config_json()?)
    }

    fn typed(path: &Path, json: serde_json::Value) -> Result<RunConfig> {
        match json.get("format").and_then(|f| f.as_u64()) {
            Some(f) if f == CONFIG_FORMAT as u64 => serde_json::from_value(json)
                .map_err(|e| TrainError::file(path, format!("not a valid run config: {e}"))),
            Some(f) => Err(TrainError::file(
                path,
                format!("config format {f}, but this build reads format {CONFIG_FORMAT}"),
            )),
            None => Err(TrainError::file(
                path,
                "written by an earlier skipnet (no `format` field): its model can be used \
                 (predict, import) and the run resumed, but it holds no TrainSpec",
            )),
        }
    }

    /// The model and its input preparation: from the typed `config.json`, or from the keys
    /// `model`, `input` and `normalization` of a folder written before the format existed.
    pub fn recipe(&self) -> Result<ModelRecipe> {
        let path = self.config_path();
        let json = self.config_json()?;
        if json.get("format").is_some() {
            let config = Self::typed(&path, json)?;
            return Ok(ModelRecipe {
                config: config.spec.model,
                input: config.input,
                normalization: config.normalization,
            });
        }
        let config: ModelConfig = serde_json::from_value(json["model"].clone())
            .map_err(|e| TrainError::file(&path, format!("no valid `model` entry: {e}")))?;
        Ok(ModelRecipe {
            config,
            input: serde_json::from_value(json["input"].clone()).ok(),
            normalization: serde_json::from_value(json["normalization"].clone()).ok(),
        })
    }

    /// The final model with its weights, loaded strictly, on `device`.
    pub fn load_model(&self, device: &Device) -> Result<(Model, ModelRecipe)> {
        let recipe = self.recipe()?;
        let model = interop::load_weights(recipe.config.init(device)?, &self.model_path())?;
        Ok((model, recipe))
    }

    /// Saves `model` as the run's final model (`model.bpk` and `model.safetensors`).
    pub fn save_model(&self, model: &Model) -> Result<[PathBuf; 2]> {
        crate::fit::save_model(model, &self.dir, "model")
    }

    /// The per-epoch history of `metrics.csv` (empty when there is none yet).
    pub fn history(&self) -> Result<Vec<EpochRecord>> {
        let path = self.metrics_path();
        match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => {
                crate::history::from_csv(&text).map_err(|e| TrainError::file(&path, e))
            }
            Ok(_) => Ok(Vec::new()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(TrainError::file(&path, format!("cannot read: {e}"))),
        }
    }

    /// The latest epoch with all three checkpoint files (not verified).
    pub fn latest_checkpoint(&self) -> Option<usize> {
        crate::fit::latest_checkpoint(&self.dir)
    }

    /// The latest checkpoint that reads back completely, and a line for each later one that
    /// did not.
    pub fn latest_good_checkpoint(&self) -> (Option<usize>, Vec<String>) {
        crate::fit::latest_good_checkpoint(&self.dir)
    }
}

/// Which model, and its weights, a command works on: a run folder, or an architecture plus a
/// weights file in any supported format (`.pth`, `.pt`, `.bin`, `.safetensors`, `.bpk`).
pub fn open_weights(
    weights: &Path,
    config: impl FnOnce() -> Result<ModelConfig>,
    device: &Device,
) -> Result<(Model, ModelRecipe, PathBuf)> {
    if weights.is_dir() {
        let run = RunFolder::new(weights);
        let (model, recipe) = run.load_model(device)?;
        return Ok((model, recipe, run.model_path()));
    }
    let config = config()?;
    config.validate()?;
    let model = interop::load_weights(config.init(device)?, weights)?;
    Ok((
        model,
        ModelRecipe {
            config,
            input: None,
            normalization: None,
        },
        weights.to_path_buf(),
    ))
}
