//! `cargo xtask train`: flags → [`TrainSpec`] + [`RunOptions`], then [`skipnet_train::run`].

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use skipnet_data::Preset;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_models::{ModelConfig, UNetConfig};
use skipnet_train::{OptimizerSpec, RunOptions, TrainSpec};

use crate::cli::{BackendArg, ClosedSet, OptimizerArg, ScheduleArg, select_backend};

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Architecture (see `cargo xtask list`); default cifar-resnet20, or unet for segmentation.
    #[arg(long)]
    arch: Option<String>,
    /// The dataset.
    #[arg(long, default_value_t = DatasetKind::SyntheticShapes, value_parser = ClosedSet::<DatasetKind>::new())]
    dataset: DatasetKind,
    /// Data root (default `datasets/` or $SKIPNET_DATA); for folder / seg-folder, the folder itself.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Epochs (default 5: the short built-in run).
    #[arg(long, default_value_t = skipnet_train::spec::DEFAULT_EPOCHS)]
    epochs: usize,
    /// Items per batch (default 32 on synthetic-shapes, the short built-in run; 128, He et
    /// al.'s, on every other dataset).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Base learning rate (default for SGD 0.1 × batch size / 128: He et al.'s 0.1 at 128,
    /// scaled linearly; 0.001 for AdamW).
    #[arg(long)]
    lr: Option<f64>,
    /// The optimiser (default sgd; adamw for segmentation).
    #[arg(long, value_parser = ClosedSet::<OptimizerArg>::new())]
    optimizer: Option<OptimizerArg>,
    /// step (÷10 at 50% and 75%), cosine or constant (default step; cosine for
    /// segmentation).
    #[arg(long, value_parser = ClosedSet::<ScheduleArg>::new())]
    schedule: Option<ScheduleArg>,
    /// Epochs of linear warm-up from lr/10 (one by default: steadier starts on small data).
    #[arg(long, default_value_t = 1)]
    warmup_epochs: usize,
    /// Weight decay (default 1e-4 for SGD, 0.01 for AdamW).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Nesterov momentum (SGD).
    #[arg(long)]
    nesterov: bool,
    /// Label smoothing of the cross-entropy.
    #[arg(long, default_value_t = 0.0)]
    label_smoothing: f64,
    /// Seed of data generation, shuffling, augmentation and weight initialisation.
    #[arg(long, default_value_t = skipnet_train::spec::DEFAULT_SEED)]
    seed: u64,
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
    /// Training items: the size of synthetic data, a seeded subset of data on disk.
    #[arg(long)]
    train_size: Option<usize>,
    /// Validation items: the size of synthetic data, a seeded subset of data on disk.
    #[arg(long)]
    valid_size: Option<usize>,
    /// Image side: resizes `folder` images, sizes `synthetic-cells`, random crops for `seg-folder`.
    #[arg(long)]
    image_size: Option<usize>,
    /// How classification images are prepared: imagenet (resize + centre crop / random-resized
    /// crop, ImageNet mean/std), cifar (input size, pad-crop-flip) or none. Default: imagenet
    /// for an ImageNet architecture on `folder`, else the dataset's (cifar; none on the IDX
    /// scans).
    #[arg(long, value_parser = ClosedSet::<Preset>::new())]
    preprocess: Option<Preset>,
    /// Start from these weights (fine-tuning): a PyTorch .pth/.pt/.bin, a .safetensors or
    /// .bpk file, or a run folder. A classifier with another number of classes is
    /// re-initialised (its skipped keys are printed); everything else loads strictly.
    #[arg(long)]
    init_weights: Option<PathBuf>,
    /// Epochs at the start during which only the classifier is updated.
    #[arg(long, default_value_t = 0)]
    freeze_backbone_epochs: usize,
    /// U-Net: border weight w0 of the paper's loss weight map, which weights the thin gaps
    /// between touching objects (0 = off; default 10, the paper's).
    #[arg(long)]
    border_weight: Option<f64>,
    /// U-Net: width σ of the border weighting in pixels (the paper's 5).
    #[arg(long, default_value_t = 5.0)]
    border_sigma: f64,
    /// U-Net base width (64 = the paper's network).
    #[arg(long)]
    width: Option<usize>,
    /// U-Net levels (4 = the paper's network); the images need at least 2^depth pixels a side.
    #[arg(long)]
    unet_depth: Option<usize>,
    /// Data-loading threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
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
}

impl TrainArgs {
    /// The spec these flags describe.
    pub fn to_spec(&self) -> Result<TrainSpec> {
        let dataset = DatasetSpec {
            kind: self.dataset,
            root: self.data_dir.clone(),
            train_size: self.train_size,
            valid_size: self.valid_size,
            image_size: self.image_size,
            seed: self.seed,
            preprocess: self.preprocess,
        };
        let arch = self
            .arch
            .clone()
            .unwrap_or_else(|| TrainSpec::default_arch(self.dataset).to_string());
        let mut spec = TrainSpec::he2015(&arch, dataset)?;
        let batch_size = self
            .batch_size
            .unwrap_or_else(|| skipnet_train::spec::default_batch_size(self.dataset));
        let segmentation = self.dataset.task() == skipnet_models::Task::Segmentation;
        let optimizer = self.optimizer.unwrap_or(if segmentation {
            OptimizerArg::Adamw
        } else {
            OptimizerArg::Sgd
        });
        let (optimizer, default_lr) = match optimizer {
            OptimizerArg::Sgd => (
                OptimizerSpec::Sgd {
                    momentum: 0.9,
                    nesterov: self.nesterov,
                    weight_decay: self.weight_decay.unwrap_or(1e-4),
                },
                skipnet_train::spec::scaled_sgd_lr(batch_size),
            ),
            OptimizerArg::Adamw => {
                if self.nesterov {
                    bail!("--nesterov applies to --optimizer sgd only");
                }
                (
                    OptimizerSpec::AdamW {
                        weight_decay: self.weight_decay.unwrap_or(0.01),
                    },
                    skipnet_train::spec::ADAMW_LR,
                )
            }
        };
        spec.optimizer = optimizer;
        spec.lr = self.lr.unwrap_or(default_lr);
        spec.schedule = self
            .schedule
            .unwrap_or(if segmentation {
                ScheduleArg::Cosine
            } else {
                ScheduleArg::Step
            })
            .spec();
        if self.width.is_some() || self.unet_depth.is_some() {
            let ModelConfig::UNet(unet) = &spec.model else {
                bail!("--width and --unet-depth apply to unet only, not {arch}");
            };
            spec.model = ModelConfig::UNet(UNetConfig {
                base_width: self.width.unwrap_or(unet.base_width),
                depth: self.unet_depth.unwrap_or(unet.depth),
                ..unet.clone()
            });
        }
        spec.epochs = self.epochs;
        spec.batch_size = batch_size;
        spec.warmup_epochs = self.warmup_epochs;
        spec.label_smoothing = self.label_smoothing;
        spec.seed = self.seed;
        spec.workers = self.workers;
        spec.init_weights = self.init_weights.clone();
        spec.freeze_backbone_epochs = self.freeze_backbone_epochs;
        spec.border_weight = self.border_weight;
        spec.border_sigma = self.border_sigma;
        Ok(spec)
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
