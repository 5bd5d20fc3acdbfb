//! What a run trains ([`TrainSpec`]) and where and how it runs ([`RunOptions`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use skipnet_data::Preset;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_models::{ModelConfig, Task};

use crate::backend::Backend;
use crate::error::{Result, TrainError};
use crate::optim::{OptimizerKind, OptimizerSpec, ScheduleKind, ScheduleSpec};

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
    /// The model; its registry name is [`Self::arch`]. A run sets its input shape and classes
    /// from the dataset (U-Net: its input channels) and records the result.
    pub model: ModelConfig,
    /// The data. Its `seed` is the run's one seed ([`Self::seed`]): generated data, subsets
    /// and splits, shuffling, augmentation and weight initialisation all follow it.
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
/// The default seed (that of [`DatasetSpec::new`]).
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
    /// 128; plus one warm-up epoch and [`DEFAULT_EPOCHS`] epochs, under the dataset's seed. An
    /// unknown `arch` is an error that suggests the nearest names.
    pub fn he2015(arch: &str, dataset: DatasetSpec) -> Result<Self> {
        let model = ModelConfig::from_name(arch)?;
        Ok(Self {
            model,
            dataset,
            epochs: DEFAULT_EPOCHS,
            batch_size: HE_BATCH_SIZE,
            lr: HE_LR,
            optimizer: OptimizerSpec::he_sgd(),
            schedule: ScheduleSpec::he_step(),
            warmup_epochs: 1,
            label_smoothing: 0.0,
            workers: 2,
            init_weights: None,
            freeze_backbone_epochs: 0,
            border_weight: None,
            border_sigma: default_border_sigma(),
        })
    }

    /// The complete spec `cargo xtask train --arch <arch> --dataset <kind>` runs: He et al.'s
    /// recipe ([`Self::he2015`]) at the dataset's batch size ([`default_batch_size`]) with the
    /// learning rate scaled to it; for segmentation data AdamW at 1e-3 with a cosine schedule.
    /// Every default of a run is decided here (and in [`SpecOverrides::resolve`], which derives
    /// the rate from a batch size or optimiser given with it).
    ///
    /// ```
    /// use skipnet_data::{DatasetKind, DatasetSpec};
    /// use skipnet_train::TrainSpec;
    ///
    /// let spec = TrainSpec::for_dataset("unet", DatasetSpec::new(DatasetKind::SyntheticCells))?;
    /// assert_eq!((spec.batch_size, spec.lr, spec.optimizer.kind().name()), (8, 1e-3, "adamw"));
    /// # Ok::<(), skipnet_train::TrainError>(())
    /// ```
    pub fn for_dataset(arch: &str, dataset: DatasetSpec) -> Result<Self> {
        let segmentation = dataset.kind.task() == Task::Segmentation;
        let batch_size = default_batch_size(dataset.kind);
        let optimizer = if segmentation {
            OptimizerSpec::adamw()
        } else {
            OptimizerSpec::he_sgd()
        };
        let schedule = if segmentation {
            ScheduleSpec::Cosine
        } else {
            ScheduleSpec::he_step()
        };
        Ok(Self {
            batch_size,
            lr: optimizer.default_lr(batch_size),
            optimizer,
            schedule,
            ..Self::he2015(arch, dataset)?
        })
    }

    /// The spec a run folder recorded (`path`: the folder or its `config.json`), model and
    /// preprocessing as the run resolved them: running it again repeats the run.
    pub fn from_config(path: &Path) -> Result<Self> {
        let dir = if path.is_dir() {
            path
        } else {
            path.parent().unwrap_or(Path::new("."))
        };
        if !path.is_dir() && path.file_name().is_some_and(|n| n != "config.json") {
            return Err(TrainError::file(
                path,
                "not a run's config.json (give the file or its run folder)",
            ));
        }
        Ok(crate::folder::RunFolder::new(dir).read_config()?.spec)
    }

    /// The architecture's registry name (`cifar-resnet20`, `resnet50`, `unet`...), from the
    /// model ([`ModelConfig::name`]).
    pub fn arch(&self) -> String {
        self.model.name()
    }

    /// The run's seed: generated data, subsets and splits, shuffling, augmentation and weight
    /// initialisation.
    pub fn seed(&self) -> u64 {
        self.dataset.seed
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

    /// With this seed ([`Self::seed`]).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.dataset.seed = seed;
        self
    }

    /// Checks what can be checked before any data are read: the model's configuration, the
    /// model's task against the dataset's, and the recipe's ranges. Errors name the spec's
    /// fields in backticks (`` `batch_size` ``; a command line shows its flags instead, see
    /// `cli::fields_to_flags` with the `clap` feature).
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        let arch = self.arch();
        let data_task = self.dataset.kind.task();
        if self.model.task() != data_task {
            return Err(TrainError::invalid(
                "`model` for the `dataset`",
                format!(
                    "{arch} is a {} model but {} is a {} dataset",
                    self.model.task(),
                    self.dataset.kind,
                    data_task
                ),
            ));
        }
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(TrainError::invalid(
                "recipe",
                "`epochs` and `batch_size` must be at least 1",
            ));
        }
        if self.dataset.preprocess.is_some() && self.model.task() != Task::Classification {
            return Err(TrainError::invalid(
                "`dataset.preprocess`",
                format!("applies to classification; {arch} normalises each image itself"),
            ));
        }
        if (self.border_weight.is_some() || self.border_sigma != default_border_sigma())
            && self.model.task() != Task::Segmentation
        {
            return Err(TrainError::invalid(
                "`border_weight` / `border_sigma`",
                format!("apply to U-Net, not {arch}"),
            ));
        }
        if self
            .border_weight
            .is_some_and(|w| !(w >= 0.0 && w.is_finite()))
            || !(self.border_sigma > 0.0 && self.border_sigma.is_finite())
        {
            return Err(TrainError::invalid(
                "`border_weight` / `border_sigma`",
                format!(
                    "{:?} / {} (a weight ≥ 0 and a width > 0 pixels)",
                    self.border_weight, self.border_sigma
                ),
            ));
        }
        if self.freeze_backbone_epochs > 0 && self.model.task() != Task::Classification {
            return Err(TrainError::invalid(
                "`freeze_backbone_epochs`",
                format!("applies to classifiers, not {arch}"),
            ));
        }
        if self.freeze_backbone_epochs > self.epochs {
            return Err(TrainError::invalid(
                "`freeze_backbone_epochs`",
                format!(
                    "{} is more than the run's {} epochs",
                    self.freeze_backbone_epochs, self.epochs
                ),
            ));
        }
        if let Some(weights) = &self.init_weights
            && let Some(name) = weights
                .to_str()
                .filter(|_| skipnet_models::hub::is_hub_name(weights))
        {
            let hub = skipnet_models::hub::lookup(name)?;
            if hub.arch != self.arch() {
                return Err(TrainError::invalid(
                    "`init_weights`",
                    format!("{name} are weights for {}, not {}", hub.arch, self.arch()),
                ));
            }
        }
        if let Some(weights) = &self.init_weights
            && !skipnet_models::hub::is_hub_name(weights)
            && !weights.exists()
        {
            return Err(TrainError::file(
                weights,
                "`init_weights`: no such file or run folder",
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(TrainError::invalid(
                "`label_smoothing`",
                format!("{} must be in [0, 1)", self.label_smoothing),
            ));
        }
        Ok(())
    }
}

/// The settings of a run a user gives, each optional: with the `clap` feature, exactly the
/// flags of `cargo xtask train` (each field's flag is its name with dashes: `batch_size` is
/// `--batch-size`). [`Self::resolve`] makes a new run's complete spec from them;
/// [`Self::apply`] changes a recorded spec (`--config`) field by field.
///
/// ```
/// use skipnet_train::{SpecOverrides, TrainSpec};
///
/// let given = SpecOverrides { batch_size: Some(64), ..Default::default() };
/// let spec = given.resolve()?; // cifar-resnet20 on synthetic-shapes, the rate scaled to 64
/// assert_eq!((spec.arch(), spec.batch_size, spec.lr), ("cifar-resnet20".into(), 64, 0.05));
/// let again = SpecOverrides { epochs: Some(9), ..Default::default() }.apply(spec.clone())?;
/// assert_eq!((again.epochs, again.lr), (9, spec.lr));
/// # Ok::<(), skipnet_train::TrainError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SpecOverrides {
    /// Architecture (see `cargo xtask list`); default cifar-resnet20, or unet for segmentation.
    #[cfg_attr(feature = "clap", arg(long, value_parser = crate::cli::ArchName))]
    pub arch: Option<String>,
    /// The dataset (default synthetic-shapes).
    #[cfg_attr(feature = "clap", arg(long, value_parser = crate::cli::ClosedSet::<DatasetKind>::new()))]
    pub dataset: Option<DatasetKind>,
    /// Data root (default `datasets/` or $SKIPNET_DATA); for folder / seg-folder, the folder itself.
    #[cfg_attr(feature = "clap", arg(long))]
    pub data_dir: Option<PathBuf>,
    /// Epochs (default 5: the short built-in run).
    #[cfg_attr(feature = "clap", arg(long))]
    pub epochs: Option<usize>,
    /// Items per batch (default 32 on synthetic-shapes, the short built-in run; 8 on the
    /// segmentation datasets; 128, He et al.'s, on every other dataset).
    #[cfg_attr(feature = "clap", arg(long))]
    pub batch_size: Option<usize>,
    /// Base learning rate (default for SGD 0.1 × batch size / 128: He et al.'s 0.1 at 128,
    /// scaled linearly; 0.001 for AdamW).
    #[cfg_attr(feature = "clap", arg(long))]
    pub lr: Option<f64>,
    /// The optimiser (default sgd; adamw for segmentation).
    #[cfg_attr(feature = "clap", arg(long, value_parser = crate::cli::ClosedSet::<OptimizerKind>::new()))]
    pub optimizer: Option<OptimizerKind>,
    /// step (÷10 at 50% and 75%), cosine or constant (default step; cosine for segmentation).
    #[cfg_attr(feature = "clap", arg(long, value_parser = crate::cli::ClosedSet::<ScheduleKind>::new()))]
    pub schedule: Option<ScheduleKind>,
    /// Epochs of linear warm-up from lr/10 (default one: steadier starts on small data).
    #[cfg_attr(feature = "clap", arg(long))]
    pub warmup_epochs: Option<usize>,
    /// Weight decay (default 1e-4 for SGD, 0.01 for AdamW).
    #[cfg_attr(feature = "clap", arg(long))]
    pub weight_decay: Option<f64>,
    /// Nesterov momentum (SGD).
    #[cfg_attr(feature = "clap", arg(long))]
    pub nesterov: bool,
    /// Label smoothing of the cross-entropy (default 0).
    #[cfg_attr(feature = "clap", arg(long))]
    pub label_smoothing: Option<f64>,
    /// Seed of data generation, subsets, shuffling, augmentation and weight initialisation
    /// (default 42).
    #[cfg_attr(feature = "clap", arg(long))]
    pub seed: Option<u64>,
    /// Training items: the size of synthetic data, a seeded subset of data on disk.
    #[cfg_attr(feature = "clap", arg(long))]
    pub train_size: Option<usize>,
    /// Validation items: the size of synthetic data, a seeded subset of data on disk.
    #[cfg_attr(feature = "clap", arg(long))]
    pub valid_size: Option<usize>,
    /// Image side: resizes `folder` images, sizes `synthetic-cells`, random crops for `seg-folder`.
    #[cfg_attr(feature = "clap", arg(long))]
    pub image_size: Option<usize>,
    /// How classification images are prepared: imagenet (resize + centre crop / random-resized
    /// crop, ImageNet mean/std), cifar (input size, pad-crop-flip) or none. Default: imagenet
    /// for an ImageNet architecture on `folder`, else the dataset's (cifar; none on the IDX
    /// scans).
    #[cfg_attr(feature = "clap", arg(long, value_parser = crate::cli::ClosedSet::<Preset>::new()))]
    pub preprocess: Option<Preset>,
    /// Start from these weights (fine-tuning): a PyTorch .pth/.pt/.bin, a .safetensors or
    /// .bpk file, a run folder, or torchvision's by name (`torchvision:resnet50`, or with a tag:
    /// `torchvision:resnet50.IMAGENET1K_V1`; downloaded once into the cache). A classifier with
    /// another number of classes is re-initialised (its skipped keys are printed); everything
    /// else loads strictly.
    #[cfg_attr(feature = "clap", arg(long))]
    pub init_weights: Option<PathBuf>,
    /// Epochs at the start during which only the classifier is updated (default 0).
    #[cfg_attr(feature = "clap", arg(long))]
    pub freeze_backbone_epochs: Option<usize>,
    /// U-Net: border weight w0 of the paper's loss weight map, which weights the thin gaps
    /// between touching objects (0 = off; default 10, the paper's).
    #[cfg_attr(feature = "clap", arg(long))]
    pub border_weight: Option<f64>,
    /// U-Net: width σ of the border weighting in pixels (default 5, the paper's).
    #[cfg_attr(feature = "clap", arg(long))]
    pub border_sigma: Option<f64>,
    /// U-Net base width (64 = the paper's network).
    #[cfg_attr(feature = "clap", arg(long))]
    pub width: Option<usize>,
    /// U-Net levels (4 = the paper's network); the images need at least 2^depth pixels a side.
    #[cfg_attr(feature = "clap", arg(long))]
    pub unet_depth: Option<usize>,
    /// Data-loading threads (default 2).
    #[cfg_attr(feature = "clap", arg(long))]
    pub workers: Option<usize>,
}

impl SpecOverrides {
    /// A new run's complete spec: [`TrainSpec::for_dataset`] for the given architecture and
    /// dataset (default `cifar-resnet20`, or `unet`, on `synthetic-shapes`), where a given batch
    /// size or optimiser also moves the default learning rate and weight decay, then every other
    /// given value ([`Self::apply`]).
    pub fn resolve(&self) -> Result<TrainSpec> {
        let kind = self.dataset.unwrap_or(DatasetKind::SyntheticShapes);
        let arch = self
            .arch
            .clone()
            .unwrap_or_else(|| TrainSpec::default_arch(kind).to_string());
        let mut spec = TrainSpec::for_dataset(&arch, DatasetSpec::new(kind))?;
        if let Some(optimizer) = self.optimizer {
            spec.optimizer = optimizer.default_spec();
        }
        spec.batch_size = self.batch_size.unwrap_or(spec.batch_size);
        spec.lr = spec.optimizer.default_lr(spec.batch_size);
        self.apply(spec)
    }

    /// `spec` with each given value in place of the one it names, and nothing else changed
    /// (a batch size without a rate keeps the rate). Another architecture or dataset starts
    /// from its registry defaults (its own sizes, root and preprocessing); another optimiser
    /// from its default settings.
    pub fn apply(&self, mut spec: TrainSpec) -> Result<TrainSpec> {
        if let Some(arch) = &self.arch
            && *arch != spec.arch()
        {
            spec.model = ModelConfig::from_name(arch)?;
        }
        if let Some(kind) = self.dataset
            && kind != spec.dataset.kind
        {
            spec.dataset = DatasetSpec::new(kind).with_seed(spec.seed());
        }
        let data = &mut spec.dataset;
        set(&mut data.root, self.data_dir.clone().map(Some));
        set(&mut data.train_size, self.train_size.map(Some));
        set(&mut data.valid_size, self.valid_size.map(Some));
        set(&mut data.image_size, self.image_size.map(Some));
        set(&mut data.preprocess, self.preprocess.map(Some));
        set(&mut data.seed, self.seed);
        set(&mut spec.epochs, self.epochs);
        set(&mut spec.batch_size, self.batch_size);
        set(&mut spec.lr, self.lr);
        set(&mut spec.warmup_epochs, self.warmup_epochs);
        set(&mut spec.label_smoothing, self.label_smoothing);
        set(&mut spec.workers, self.workers);
        set(&mut spec.init_weights, self.init_weights.clone().map(Some));
        set(
            &mut spec.freeze_backbone_epochs,
            self.freeze_backbone_epochs,
        );
        set(&mut spec.border_weight, self.border_weight.map(Some));
        set(&mut spec.border_sigma, self.border_sigma);
        set(&mut spec.schedule, self.schedule.map(ScheduleKind::spec));
        if let Some(kind) = self.optimizer
            && kind != spec.optimizer.kind()
        {
            spec.optimizer = kind.default_spec();
        }
        match &mut spec.optimizer {
            OptimizerSpec::Sgd {
                nesterov,
                weight_decay,
                ..
            } => {
                *nesterov |= self.nesterov;
                set(weight_decay, self.weight_decay);
            }
            OptimizerSpec::AdamW { weight_decay } => {
                if self.nesterov {
                    return Err(TrainError::invalid(
                        "`nesterov`",
                        "applies to the sgd `optimizer` only",
                    ));
                }
                set(weight_decay, self.weight_decay);
            }
        }
        if self.width.is_some() || self.unet_depth.is_some() {
            let ModelConfig::UNet(unet) = &mut spec.model else {
                return Err(TrainError::invalid(
                    "`width` / `unet_depth`",
                    format!("apply to unet only, not {}", spec.arch()),
                ));
            };
            set(&mut unet.base_width, self.width);
            set(&mut unet.depth, self.unet_depth);
        }
        Ok(spec)
    }
}

/// `*field = value` where a value is given.
fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
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
            format!("{}-{}-{secs}", spec.arch(), spec.dataset.kind)
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
        assert_eq!(spec.arch(), "cifar-resnet56");
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
        assert!(err.contains("`model`"), "errors name fields: {err}");
    }

    #[test]
    fn the_defaults_of_a_new_run_are_decided_once() {
        let default = SpecOverrides::default().resolve().unwrap();
        assert_eq!(default.arch(), "cifar-resnet20");
        assert_eq!(default.dataset.kind, DatasetKind::SyntheticShapes);
        assert_eq!(
            (default.epochs, default.batch_size, default.lr),
            (5, 32, 0.025)
        );
        assert_eq!(
            (default.seed(), default.optimizer.clone()),
            (DEFAULT_SEED, OptimizerSpec::he_sgd())
        );
        let resolve = |given: SpecOverrides| given.resolve().unwrap();
        // He et al.'s batch and rate on real data; the rate follows a batch size given alone.
        let cifar = resolve(SpecOverrides {
            dataset: Some(DatasetKind::Cifar10),
            ..Default::default()
        });
        assert_eq!((cifar.batch_size, cifar.lr), (128, 0.1));
        let half = resolve(SpecOverrides {
            batch_size: Some(64),
            ..Default::default()
        });
        assert_eq!((half.batch_size, half.lr), (64, 0.05));
        let given = resolve(SpecOverrides {
            batch_size: Some(64),
            lr: Some(0.1),
            ..Default::default()
        });
        assert_eq!(given.lr, 0.1);
        // Segmentation: U-Net, AdamW at 1e-3, cosine, batch 8, the paper's border weight.
        let cells = resolve(SpecOverrides {
            dataset: Some(DatasetKind::SyntheticCells),
            ..Default::default()
        });
        assert_eq!(cells.arch(), "unet");
        assert_eq!(cells.optimizer, OptimizerSpec::AdamW { weight_decay: 0.01 });
        assert_eq!(
            (cells.schedule.clone(), cells.batch_size, cells.lr),
            (ScheduleSpec::Cosine, 8, 1e-3)
        );
        assert_eq!(cells.border().map(|b| (b.w0, b.sigma)), Some((10.0, 5.0)));
        assert_eq!(
            cells,
            TrainSpec::for_dataset("unet", DatasetSpec::new(DatasetKind::SyntheticCells)).unwrap()
        );
        let sgd_cells = resolve(SpecOverrides {
            dataset: Some(DatasetKind::SyntheticCells),
            optimizer: Some(OptimizerKind::Sgd),
            border_weight: Some(0.0),
            ..Default::default()
        });
        assert_eq!(sgd_cells.lr, 0.1 * 8.0 / 128.0);
        assert!(sgd_cells.border().is_none());
        let adamw = resolve(SpecOverrides {
            optimizer: Some(OptimizerKind::Adamw),
            ..Default::default()
        });
        assert_eq!(adamw.lr, 1e-3);
        assert_eq!(adamw.optimizer, OptimizerSpec::AdamW { weight_decay: 0.01 });
    }

    #[test]
    fn overrides_change_exactly_what_they_name() {
        let base = SpecOverrides {
            dataset: Some(DatasetKind::SyntheticCells),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let changed = SpecOverrides {
            epochs: Some(9),
            seed: Some(7),
            width: Some(8),
            unet_depth: Some(3),
            schedule: Some(ScheduleKind::Constant),
            weight_decay: Some(0.5),
            border_sigma: Some(3.0),
            train_size: Some(10),
            ..Default::default()
        }
        .apply(base.clone())
        .unwrap();
        let mut expected = base.clone();
        expected.epochs = 9;
        expected.dataset.seed = 7;
        expected.dataset.train_size = Some(10);
        expected.schedule = ScheduleSpec::Constant;
        expected.optimizer = OptimizerSpec::AdamW { weight_decay: 0.5 };
        expected.border_sigma = 3.0;
        let ModelConfig::UNet(unet) = &mut expected.model else {
            panic!("unet")
        };
        (unet.base_width, unet.depth) = (8, 3);
        assert_eq!(changed, expected);
        assert_eq!(SpecOverrides::default().apply(base.clone()).unwrap(), base);
        // Flags that cannot apply are errors naming the fields.
        let err = SpecOverrides {
            nesterov: true,
            ..Default::default()
        }
        .apply(base.clone())
        .unwrap_err()
        .to_string();
        assert!(err.contains("`nesterov`"), "{err}");
        let classifier = SpecOverrides::default().resolve().unwrap();
        let err = SpecOverrides {
            width: Some(8),
            ..Default::default()
        }
        .apply(classifier.clone())
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`width`") && err.contains("cifar-resnet20"),
            "{err}"
        );
        // Another architecture or dataset starts from its own defaults, the seed kept.
        let other = SpecOverrides {
            arch: Some("cifar-wrn16-8".into()),
            dataset: Some(DatasetKind::Cifar10),
            ..Default::default()
        }
        .apply(classifier.clone().with_seed(3))
        .unwrap();
        assert_eq!(other.arch(), "cifar-wrn16-8");
        assert_eq!(
            other.dataset,
            DatasetSpec::new(DatasetKind::Cifar10).with_seed(3)
        );
    }
}
