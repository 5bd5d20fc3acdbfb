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

use std::str::FromStr;

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use skipnet_data::transform::Normalization;
use skipnet_data::{Preprocessing, Preset};
use skipnet_models::{Model, ModelConfig, Task, interop};

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
    /// The architecture's registry name, for people and tools reading the file
    /// ([`TrainSpec::arch`] of `spec`, from which it is written; not read back).
    #[serde(default)]
    pub arch: String,
    /// The spec, its model resolved.
    #[serde(flatten)]
    pub spec: TrainSpec,
    /// `[channels, height, width]` of the classifier's input (`None` for U-Net, which takes
    /// any size).
    pub input: Option<[usize; 3]>,
    /// The input normalisation of a classifier (U-Net normalises each image itself).
    pub normalization: Option<Normalization>,
    /// The classifier's class names, index = label.
    #[serde(default)]
    pub classes: Option<Vec<String>>,
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
    /// How images become the classifier's input (`None`: unknown, a weights file of a
    /// non-ImageNet architecture).
    pub preprocessing: Option<Preprocessing>,
    /// The classifier's class names, index = label (`None`: unknown).
    pub classes: Option<Vec<String>>,
}

impl ModelRecipe {
    /// The recipe of a weights file with no run folder: an ImageNet architecture takes the
    /// ImageNet preset at 224², and 1000 classes are ImageNet-1k's; nothing is known of the
    /// others.
    pub fn for_weights_file(config: ModelConfig) -> Self {
        let [c, h, w] = config.default_input();
        let preprocessing = config.is_imagenet().then(|| Preprocessing {
            input: [c, h, w],
            ..Preprocessing::imagenet(h.min(w))
        });
        let classes = (config.task() == Task::Classification && config.num_classes() == 1000)
            .then(skipnet_data::classes::imagenet);
        Self {
            input: preprocessing.as_ref().map(|p| p.input),
            normalization: preprocessing.as_ref().map(|p| p.normalization.clone()),
            config,
            preprocessing,
            classes,
        }
    }

    /// The name of class `label`.
    pub fn class_name(&self, label: usize) -> String {
        skipnet_data::classes::name_of(self.classes.as_deref(), label)
    }
}

/// Which weights of a run folder a command uses (`--checkpoint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckpointChoice {
    /// The final model (`model.bpk`); for a run that has not finished, its latest checkpoint.
    #[default]
    Last,
    /// The checkpoint of the epoch with the best validation metric
    /// ([`RunFolder::best_epoch`]).
    Best,
    /// The checkpoint of this epoch.
    Epoch(usize),
}

impl FromStr for CheckpointChoice {
    type Err = TrainError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "last" => Ok(Self::Last),
            "best" => Ok(Self::Best),
            n => n.parse::<usize>().map(Self::Epoch).map_err(|_| {
                TrainError::invalid(
                    "--checkpoint",
                    format!("'{text}' (expected best, last or an epoch number)"),
                )
            }),
        }
    }
}

impl std::fmt::Display for CheckpointChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Last => f.write_str("last"),
            Self::Best => f.write_str("best"),
            Self::Epoch(n) => write!(f, "{n}"),
        }
    }
}

/// The validation metric that picks a run's best epoch and keeps its checkpoint: `accuracy`
/// (top-1 %) for a classifier, `dice` for U-Net; higher is better.
pub fn best_metric(task: Task) -> &'static str {
    match task {
        Task::Classification => "accuracy",
        Task::Segmentation => "dice",
    }
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
            let preprocessing = match (config.input, &config.normalization) {
                (Some(input), Some(normalization)) => Some(Preprocessing {
                    preset: config.spec.preset(),
                    input,
                    normalization: normalization.clone(),
                }),
                _ => None,
            };
            return Ok(ModelRecipe {
                config: config.spec.model,
                input: config.input,
                normalization: config.normalization,
                preprocessing,
                classes: config.classes,
            });
        }
        let config: ModelConfig = serde_json::from_value(json["model"].clone())
            .map_err(|e| TrainError::file(&path, format!("no valid `model` entry: {e}")))?;
        let input: Option<[usize; 3]> = serde_json::from_value(json["input"].clone()).ok();
        let normalization: Option<Normalization> =
            serde_json::from_value(json["normalization"].clone()).ok();
        // What predict did with these folders: images squashed to the input, normalised.
        let preprocessing = input
            .zip(normalization.clone())
            .map(|(input, normalization)| Preprocessing {
                preset: Preset::None,
                input,
                normalization,
            });
        Ok(ModelRecipe {
            config,
            input,
            normalization,
            preprocessing,
            classes: None,
        })
    }

    /// The final model with its weights, loaded strictly, on `device`.
    pub fn load_model(&self, device: &Device) -> Result<(Model, ModelRecipe)> {
        let recipe = self.recipe()?;
        let model = interop::load_weights(recipe.config.init(device)?, &self.model_path())?;
        Ok((model, recipe))
    }

    /// The model of `choice` with its weights, loaded strictly, on `device`; its recipe, the
    /// file it came from, and the epoch (`None`: the final model).
    pub fn load_model_at(
        &self,
        choice: CheckpointChoice,
        device: &Device,
    ) -> Result<(Model, ModelRecipe, PathBuf, Option<usize>)> {
        if choice == CheckpointChoice::Last && self.model_path().is_file() {
            let (model, recipe) = self.load_model(device)?;
            return Ok((model, recipe, self.model_path(), None));
        }
        let recipe = self.recipe()?;
        let epoch = match choice {
            CheckpointChoice::Last => self.latest_checkpoint().ok_or_else(|| {
                TrainError::file(
                    self.path(),
                    "no final model (model.bpk) and no checkpoint: not a run folder, or a run \
                     that has not finished an epoch",
                )
            })?,
            CheckpointChoice::Best => self.best_epoch_for(recipe.config.task())?.0,
            CheckpointChoice::Epoch(n) => n,
        };
        let path = self.checkpoint_path(epoch);
        if !path.is_file() {
            let kept: Vec<String> = self
                .checkpoint_models()
                .iter()
                .map(|e| e.to_string())
                .collect();
            return Err(TrainError::file(
                &path,
                format!(
                    "no checkpoint of epoch {epoch}; this run keeps epochs: {}",
                    if kept.is_empty() {
                        "none".into()
                    } else {
                        kept.join(", ")
                    }
                ),
            ));
        }
        let model = recipe.config.init(device)?;
        let model = load_checkpoint_model(model, &path)?;
        Ok((model, recipe, path, Some(epoch)))
    }

    /// `checkpoint/model-<epoch>.bpk`.
    pub fn checkpoint_path(&self, epoch: usize) -> PathBuf {
        self.dir
            .join("checkpoint")
            .join(format!("model-{epoch}.bpk"))
    }

    /// The epochs whose model checkpoint is in the folder, in order.
    pub fn checkpoint_models(&self) -> Vec<usize> {
        crate::fit::model_checkpoint_epochs(&self.dir)
    }

    /// The epoch with the highest validation [`best_metric`] in `metrics.csv` whose model
    /// checkpoint the folder keeps (the run keeps it: see `fit`), the metric's name and value.
    /// Ties go to the latest epoch.
    pub fn best_epoch(&self) -> Result<(usize, &'static str, f64)> {
        self.best_epoch_for(self.recipe()?.config.task())
    }

    /// [`Self::best_epoch`] of a run whose model does `task`.
    fn best_epoch_for(&self, task: Task) -> Result<(usize, &'static str, f64)> {
        let metric = best_metric(task);
        let kept = self.checkpoint_models();
        let best = self
            .history()?
            .iter()
            .filter(|r| kept.contains(&r.epoch))
            .filter_map(|r| r.get("valid", metric).map(|v| (r.epoch, v)))
            .filter(|(_, v)| v.is_finite())
            .max_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let (epoch, value) = best.ok_or_else(|| {
            TrainError::file(
                self.metrics_path(),
                format!(
                    "no epoch with a validation {metric} and a kept checkpoint (checkpoints: {kept:?})"
                ),
            )
        })?;
        Ok((epoch, metric, value))
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

/// A model checkpoint of burn-train (the record of the learner model that wraps `model`)
/// loaded strictly into `model`.
fn load_checkpoint_model(model: Model, path: &Path) -> Result<Model> {
    use crate::classification::ClassificationModel;
    use crate::segmentation::SegmentationModel;
    let record = || {
        burn::store::ModuleRecord::load(path)
            .map_err(|e| TrainError::file(path, format!("cannot read the checkpoint: {e}")))
    };
    let failed = |e: burn::store::RecordError| {
        TrainError::file(path, format!("does not fit the run's model: {e}"))
    };
    match model {
        Model::UNet(unet) => Ok(Model::UNet(
            SegmentationModel::new(unet)
                .try_load_record(record()?)
                .map_err(failed)?
                .unet,
        )),
        model => Ok(ClassificationModel::new(model, 0.0)?
            .try_load_record(record()?)
            .map_err(failed)?
            .model),
    }
}

/// Which model, and its weights, a command works on: a run folder, or an architecture plus a
/// weights file in any supported format (`.pth`, `.pt`, `.bin`, `.safetensors`, `.bpk`).
pub fn open_weights(
    weights: &Path,
    config: impl FnOnce() -> Result<ModelConfig>,
    device: &Device,
) -> Result<(Model, ModelRecipe, PathBuf)> {
    open_weights_at(weights, CheckpointChoice::Last, config, device)
}

/// [`open_weights`] at a checkpoint of a run folder (`--checkpoint`); a weights file has
/// only [`CheckpointChoice::Last`], another choice is an error.
pub fn open_weights_at(
    weights: &Path,
    choice: CheckpointChoice,
    config: impl FnOnce() -> Result<ModelConfig>,
    device: &Device,
) -> Result<(Model, ModelRecipe, PathBuf)> {
    if weights.is_dir() {
        let (model, recipe, path, _) = RunFolder::new(weights).load_model_at(choice, device)?;
        return Ok((model, recipe, path));
    }
    if choice != CheckpointChoice::Last {
        return Err(TrainError::invalid(
            "--checkpoint",
            format!(
                "{choice} applies to run folders; {} is a weights file",
                weights.display()
            ),
        ));
    }
    let config = config()?;
    config.validate()?;
    let model = interop::load_weights(config.init(device)?, weights)?;
    Ok((
        model,
        ModelRecipe::for_weights_file(config),
        weights.to_path_buf(),
    ))
}
