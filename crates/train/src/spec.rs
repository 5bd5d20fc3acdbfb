//! What a run trains ([`TrainSpec`]) and where and how it runs ([`RunOptions`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use skipnet_data::Preset;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_models::{ModelConfig, Task};

use crate::backend::Backend;
use crate::error::{Result, TrainError};
use crate::optim::{OptimizerSpec, ScheduleSpec};

/// Everything that decides a run's result: the model, the data and the recipe. Saved as the
/// run folder's `config.json` (with what the run resolved, see [`crate::RunConfig`]) and read
/// back by resume, predict and import.
///
/// ```
/// use skipnet_data::{DatasetKind, DatasetSpec};
/// use skipnet_train::TrainSpec;
///
/// let spec = TrainSpec::he2015("cifar-resnet20", DatasetSpec::new(DatasetKind::SyntheticShapes))?
///     .with_epochs(3)
///     .with_batch_size(64);
/// assert_eq!((spec.lr, spec.epochs), (0.1, 3));
/// # Ok::<(), skipnet_train::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    /// The architecture's registry name (`cifar-resnet20`, `resnet50`, `unet`...).
    pub arch: String,
    /// The model. A run sets its input shape and classes from the dataset (U-Net: its input
    /// channels) and records the result.
    pub model: ModelConfig,
    /// The data.
    pub dataset: DatasetSpec,
    /// Epochs to train (in all, counting those a resumed run already has).
    pub epochs: usize,
    /// Items per batch.
    pub batch_size: usize,
    /// Base learning rate.
    pub lr: f64,
    /// The optimiser.
    pub optimizer: OptimizerSpec,
    /// The learning-rate schedule.
    pub schedule: ScheduleSpec,
    /// Epochs of linear warm-up from `lr / 10`.
    pub warmup_epochs: usize,
    /// Label smoothing of the cross-entropy (classification).
    pub label_smoothing: f64,
    /// Seed of weight initialisation, shuffling and augmentation (the dataset has its own).
    pub seed: u64,
    /// Data-loading threads.
    pub workers: usize,
    /// Weights the model starts from (fine-tuning): a PyTorch or Burn weights file, or a run
    /// folder (its final model). Loaded strictly, except a classifier of another number of
    /// classes, which is re-initialised. `None`: a fresh initialisation.
    #[serde(default)]
    pub init_weights: Option<PathBuf>,
    /// Epochs at the start during which only the classifier is updated (the backbone's
    /// parameters get no optimiser step; batch norm still tracks statistics). 0: none.
    #[serde(default)]
    pub freeze_backbone_epochs: usize,
    /// U-Net: the border weight `w0` of the paper's weight map on the BCE term (0 = off;
    /// `None`: [`DEFAULT_BORDER_WEIGHT`] — every segmentation dataset has instances).
    #[serde(default)]
    pub border_weight: Option<f64>,
    /// U-Net: the width `σ` of the border weighting, in pixels.
    #[serde(default = "default_border_sigma")]
    pub border_sigma: f64,
}

/// The U-Net paper's `w0`: the default border weight of segmentation runs.
pub const DEFAULT_BORDER_WEIGHT: f64 = skipnet_data::weightmap::PAPER_W0 as f64;

fn default_border_sigma() -> f64 {
    skipnet_data::weightmap::PAPER_SIGMA as f64
}

/// The default number of epochs: the short built-in run of `cargo xtask train`.
pub const DEFAULT_EPOCHS: usize = 5;
/// The default seed.
pub const DEFAULT_SEED: u64 = 42;
/// He et al.'s batch size.
pub const HE_BATCH_SIZE: usize = 128;
/// He et al.'s learning rate (SGD).
pub const HE_LR: f64 = 0.1;
/// AdamW's usual learning rate.
pub const ADAMW_LR: f64 = 1e-3;
/// The batch size of the short built-in run on `synthetic-shapes`: its 3,000 images give 94
/// optimiser steps an epoch instead of 23 at [`HE_BATCH_SIZE`].
pub const SHORT_RUN_BATCH_SIZE: usize = 32;

/// U-Net's batch size: segmentation data has few, large images, and every image holds many
/// objects; small batches make many optimiser steps.
pub const SEGMENTATION_BATCH_SIZE: usize = 8;

/// The batch size `cargo xtask train` uses on `dataset` when none is given:
/// [`SHORT_RUN_BATCH_SIZE`] on `synthetic-shapes` (few images, few epochs: steps matter more
/// than batch statistics), [`SEGMENTATION_BATCH_SIZE`] on the segmentation datasets, He et
/// al.'s [`HE_BATCH_SIZE`] everywhere else.
pub fn default_batch_size(dataset: DatasetKind) -> usize {
    match dataset {
        DatasetKind::SyntheticShapes => SHORT_RUN_BATCH_SIZE,
        DatasetKind::SyntheticCells | DatasetKind::SegFolder => SEGMENTATION_BATCH_SIZE,
        _ => HE_BATCH_SIZE,
    }
}

/// He et al.'s SGD learning rate scaled linearly to `batch_size` (0.1 at 128; Goyal et al.
/// 2017's rule, and timm's default): the rate `cargo xtask train` uses with SGD when none is
/// given.
pub fn scaled_sgd_lr(batch_size: usize) -> f64 {
    HE_LR * batch_size as f64 / HE_BATCH_SIZE as f64
}

impl TrainSpec {
    /// He et al. (2015)'s CIFAR recipe for `arch` on `dataset`: SGD with momentum 0.9 and
    /// weight decay 1e-4, learning rate 0.1 divided by 10 at 50 % and 75 % of the run, batch
    /// 128; plus one warm-up epoch, [`DEFAULT_EPOCHS`] epochs and seed [`DEFAULT_SEED`] (the
    /// dataset keeps its own; [`Self::with_seed`] sets both). An unknown `arch` is an error that suggests the nearest names.
    pub fn he2015(arch: &str, dataset: DatasetSpec) -> Result<Self> {
        let model = ModelConfig::from_name(arch)?;
        Ok(Self {
            arch: arch.to_string(),
            model,
            dataset,
            epochs: DEFAULT_EPOCHS,
            batch_size: HE_BATCH_SIZE,
            lr: HE_LR,
            optimizer: OptimizerSpec::he_sgd(),
            schedule: ScheduleSpec::he_step(),
            warmup_epochs: 1,
            label_smoothing: 0.0,
            seed: DEFAULT_SEED,
            workers: 2,
            init_weights: None,
            freeze_backbone_epochs: 0,
            border_weight: None,
            border_sigma: default_border_sigma(),
        })
    }

    /// The border weighting of a U-Net run (`None`: off, or not a segmentation run).
    pub fn border(&self) -> Option<skipnet_data::batch::BorderWeight> {
        if self.model.task() != Task::Segmentation {
            return None;
        }
        let w0 = self.border_weight.unwrap_or(DEFAULT_BORDER_WEIGHT);
        (w0 > 0.0).then_some(skipnet_data::batch::BorderWeight {
            w0: w0 as f32,
            sigma: self.border_sigma as f32,
        })
    }

    /// The preprocessing preset of the run: the dataset spec's, else the ImageNet preset for
    /// an ImageNet architecture ([`ModelConfig::is_imagenet`]) on an image folder, else the
    /// dataset's default ([`DatasetKind::default_preset`]).
    pub fn preset(&self) -> Preset {
        self.dataset.preprocess.unwrap_or_else(|| {
            if self.model.is_imagenet() && self.dataset.kind == DatasetKind::Folder {
                Preset::Imagenet
            } else {
                self.dataset.kind.default_preset()
            }
        })
    }

    /// Starting from these weights (see [`Self::init_weights`]).
    pub fn with_init_weights(mut self, weights: Option<PathBuf>) -> Self {
        self.init_weights = weights;
        self
    }

    /// Training only the classifier for the first `epochs` epochs.
    pub fn with_freeze_backbone_epochs(mut self, epochs: usize) -> Self {
        self.freeze_backbone_epochs = epochs;
        self
    }

    /// The default architecture for a dataset's task: `cifar-resnet20`, or `unet` for
    /// segmentation.
    pub fn default_arch(dataset: DatasetKind) -> &'static str {
        match dataset.task() {
            Task::Classification => "cifar-resnet20",
            Task::Segmentation => "unet",
        }
    }

    /// With AdamW (weight decay 0.01) at learning rate 1e-3.
    pub fn with_adamw(mut self) -> Self {
        self.optimizer = OptimizerSpec::adamw();
        self.lr = ADAMW_LR;
        self
    }

    /// With this many epochs.
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// With this batch size.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// With this learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// With this schedule.
    pub fn with_schedule(mut self, schedule: ScheduleSpec) -> Self {
        self.schedule = schedule;
        self
    }

    /// With this seed, for the run and its data.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.dataset.seed = seed;
        self
    }

    /// Checks what can be checked before any data are read: the model's configuration, the
    /// model's task against the dataset's, and the recipe's ranges.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        let data_task = self.dataset.kind.task();
        if self.model.task() != data_task {
            let name = |task| match task {
                Task::Classification => "classification",
                Task::Segmentation => "segmentation",
            };
            return Err(TrainError::invalid(
                "model for the dataset",
                format!(
                    "--arch {} is a {} model but --dataset {} is a {} dataset",
                    self.arch,
                    name(self.model.task()),
                    self.dataset.kind,
                    name(data_task)
                ),
            ));
        }
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(TrainError::invalid(
                "recipe",
                "--epochs and --batch-size must be at least 1",
            ));
        }
        if self.dataset.preprocess.is_some() && self.model.task() != Task::Classification {
            return Err(TrainError::invalid(
                "--preprocess",
                format!(
                    "applies to classification; {} normalises each image itself",
                    self.arch
                ),
            ));
        }
        if (self.border_weight.is_some() || self.border_sigma != default_border_sigma())
            && self.model.task() != Task::Segmentation
        {
            return Err(TrainError::invalid(
                "--border-weight / --border-sigma",
                format!("apply to U-Net, not {}", self.arch),
            ));
        }
        if self
            .border_weight
            .is_some_and(|w| !(w >= 0.0 && w.is_finite()))
            || !(self.border_sigma > 0.0 && self.border_sigma.is_finite())
        {
            return Err(TrainError::invalid(
                "--border-weight / --border-sigma",
                format!(
                    "{:?} / {} (a weight ≥ 0 and a width > 0 pixels)",
                    self.border_weight, self.border_sigma
                ),
            ));
        }
        if self.freeze_backbone_epochs > 0 && self.model.task() != Task::Classification {
            return Err(TrainError::invalid(
                "--freeze-backbone-epochs",
                format!("applies to classifiers, not {}", self.arch),
            ));
        }
        if self.freeze_backbone_epochs > self.epochs {
            return Err(TrainError::invalid(
                "--freeze-backbone-epochs",
                format!(
                    "{} is more than the run's {} epochs",
                    self.freeze_backbone_epochs, self.epochs
                ),
            ));
        }
        if let Some(weights) = &self.init_weights
            && !weights.exists()
        {
            return Err(TrainError::file(
                weights,
                "--init-weights: no such file or run folder",
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(TrainError::invalid(
                "label smoothing",
                format!("{} must be in [0, 1)", self.label_smoothing),
            ));
        }
        Ok(())
    }

    /// The arguments of `cargo xtask train` that give this spec (without the run folder and
    /// backend; see [`RunOptions::to_args`]). `Err` when the spec has something no flag can
    /// say: an optimiser other than SGD with momentum 0.9 or AdamW, a step schedule other
    /// than He et al.'s, a dataset seed different from the run's.
    pub fn to_args(&self) -> Result<Vec<String>> {
        let not_a_flag = |what: &str| {
            Err(TrainError::invalid(
                "spec for the command line",
                format!("{what} has no `cargo xtask train` flag"),
            ))
        };
        let mut args: Vec<String> = Vec::new();
        let mut push = |flag: &str, value: String| {
            args.push(format!("--{flag}"));
            args.push(value);
        };
        push("arch", self.arch.clone());
        push("dataset", self.dataset.kind.name().into());
        if let Some(root) = &self.dataset.root {
            push("data-dir", root.display().to_string());
        }
        push("epochs", self.epochs.to_string());
        push("batch-size", self.batch_size.to_string());
        push("lr", self.lr.to_string());
        let nesterov = match &self.optimizer {
            OptimizerSpec::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                if *momentum != 0.9 {
                    return not_a_flag(&format!("SGD momentum {momentum}"));
                }
                push("optimizer", "sgd".into());
                push("weight-decay", weight_decay.to_string());
                *nesterov
            }
            OptimizerSpec::AdamW { weight_decay } => {
                push("optimizer", "adamw".into());
                push("weight-decay", weight_decay.to_string());
                false
            }
        };
        let schedule = match &self.schedule {
            ScheduleSpec::Constant => "constant",
            ScheduleSpec::Cosine => "cosine",
            step if *step == ScheduleSpec::he_step() => "step",
            other => return not_a_flag(&format!("the schedule {other:?}")),
        };
        push("schedule", schedule.into());
        push("warmup-epochs", self.warmup_epochs.to_string());
        push("label-smoothing", self.label_smoothing.to_string());
        if self.dataset.seed != self.seed {
            return not_a_flag(&format!(
                "a dataset seed ({}) other than the run's ({})",
                self.dataset.seed, self.seed
            ));
        }
        push("seed", self.seed.to_string());
        for (flag, value) in [
            ("train-size", self.dataset.train_size),
            ("valid-size", self.dataset.valid_size),
            ("image-size", self.dataset.image_size),
        ] {
            if let Some(value) = value {
                push(flag, value.to_string());
            }
        }
        if let ModelConfig::UNet(unet) = &self.model {
            push("width", unet.base_width.to_string());
            push("unet-depth", unet.depth.to_string());
        }
        if let Some(preset) = self.dataset.preprocess {
            push("preprocess", preset.name().into());
        }
        if let Some(weights) = &self.init_weights {
            push("init-weights", weights.display().to_string());
        }
        if let Some(w0) = self.border_weight {
            push("border-weight", w0.to_string());
        }
        if self.border_sigma != default_border_sigma() {
            push("border-sigma", self.border_sigma.to_string());
        }
        if self.freeze_backbone_epochs > 0 {
            push(
                "freeze-backbone-epochs",
                self.freeze_backbone_epochs.to_string(),
            );
        }
        push("workers", self.workers.to_string());
        if nesterov {
            args.push("--nesterov".into());
        }
        Ok(args)
    }
}

/// Where and how a run executes; nothing here changes what is learned.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run folder (created if needed).
    pub dir: PathBuf,
    /// The backend.
    pub backend: Backend,
    /// Devices of the backend to train on, data parallel (GPU backends).
    pub devices: usize,
    /// Continue the run folder from its latest good checkpoint instead of starting it.
    pub resume: bool,
    /// Resume even with settings other than the run's (each difference is printed as a
    /// warning); without it such a resume is an error.
    pub force: bool,
    /// No per-step progress (a line per epoch only).
    pub quiet: bool,
    /// The command that started the run, recorded in `config.json` (empty: this process's
    /// command line).
    pub command: Vec<String>,
}

impl RunOptions {
    /// A new run in `dir` on the fastest CPU backend of this build.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            backend: Backend::auto(),
            devices: 1,
            resume: false,
            force: false,
            quiet: false,
            command: Vec::new(),
        }
    }

    /// The run folder `out/name`, or `out/<arch>-<dataset>-<unix time>` without a name.
    pub fn in_folder(out: &Path, name: Option<&str>, spec: &TrainSpec) -> Self {
        let name = name.map(str::to_string).unwrap_or_else(|| {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            format!("{}-{}-{secs}", spec.arch, spec.dataset.kind)
        });
        Self::new(out.join(name))
    }

    /// On this backend.
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Resuming (or not).
    pub fn with_resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Quiet (or not).
    pub fn with_quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    /// The arguments of `cargo xtask train` for these options: `--out`, `--name`, `--backend`
    /// and the switches that are set.
    pub fn to_args(&self) -> Vec<String> {
        let out = self
            .dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut args = vec![
            "--out".into(),
            out.display().to_string(),
            "--name".into(),
            name,
            "--backend".into(),
            self.backend.name().into(),
        ];
        if self.devices > 1 {
            args.extend(["--devices".into(), self.devices.to_string()]);
        }
        if self.resume {
            args.push("--resume".into());
        }
        if self.force {
            args.push("--force".into());
        }
        if self.quiet {
            args.push("--quiet".into());
        }
        args
    }
}

/// The `cargo xtask train ...` command line that runs `spec` with `options`.
pub fn command_line(spec: &TrainSpec, options: &RunOptions) -> Result<String> {
    Ok(command_words(spec, options)?.join(" "))
}

/// The words of [`command_line`]: `cargo xtask train`, then the options' and the spec's flags.
pub fn command_words(spec: &TrainSpec, options: &RunOptions) -> Result<Vec<String>> {
    let mut words = vec!["cargo".to_string(), "xtask".into(), "train".into()];
    words.extend(options.to_args());
    words.extend(spec.to_args()?);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_runs_default_to_smaller_batches_with_linearly_scaled_rates() {
        assert_eq!(default_batch_size(DatasetKind::SyntheticShapes), 32);
        assert_eq!(default_batch_size(DatasetKind::Cifar10), 128);
        assert_eq!(default_batch_size(DatasetKind::SyntheticCells), 8);
        assert_eq!(scaled_sgd_lr(128), 0.1);
        assert_eq!(scaled_sgd_lr(32), 0.025);
        assert_eq!(scaled_sgd_lr(256), 0.2);
    }

    #[test]
    fn he2015_is_the_papers_recipe_and_validates() {
        let spec =
            TrainSpec::he2015("cifar-resnet56", DatasetSpec::new(DatasetKind::Cifar10)).unwrap();
        assert_eq!(spec.optimizer, OptimizerSpec::he_sgd());
        assert_eq!(spec.schedule, ScheduleSpec::he_step());
        assert_eq!((spec.lr, spec.batch_size), (0.1, 128));
        spec.validate().unwrap();
        let err = TrainSpec::he2015("resnet19", DatasetSpec::new(DatasetKind::Cifar10))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean resnet18"), "{err}");
    }

    #[test]
    fn a_model_for_the_wrong_task_is_an_error_naming_both() {
        let spec = TrainSpec::he2015(
            "cifar-resnet20",
            DatasetSpec::new(DatasetKind::SyntheticCells),
        )
        .unwrap();
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("is a classification model"), "{err}");
        assert!(
            err.contains("synthetic-cells is a segmentation dataset"),
            "{err}"
        );
    }

    #[test]
    fn specs_without_a_flag_are_refused_by_to_args() {
        let mut spec = TrainSpec::he2015(
            "cifar-resnet8",
            DatasetSpec::new(DatasetKind::SyntheticShapes),
        )
        .unwrap();
        spec.schedule = ScheduleSpec::Step {
            milestones: vec![0.3],
            factor: 5.0,
        };
        assert!(spec.to_args().is_err());
        let mut spec = spec.with_schedule(ScheduleSpec::Cosine);
        assert!(spec.to_args().is_ok());
        spec.dataset.seed = 7;
        assert!(spec.to_args().is_err());
    }

    #[test]
    fn options_name_the_folder_backend_and_switches() {
        let options = RunOptions::new("runs/a")
            .with_backend(Backend::Flex)
            .with_quiet(true);
        assert_eq!(
            options.to_args().join(" "),
            "--out runs --name a --backend flex --quiet"
        );
        let bare = RunOptions::new("a").with_backend(Backend::Flex);
        assert_eq!(bare.to_args().join(" "), "--out . --name a --backend flex");
    }
}
