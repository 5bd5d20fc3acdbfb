//! `cargo xtask train`: train any zoo model on any dataset, on the backend of your choice.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::data::dataset::Dataset;
use burn::module::Module;
use clap::Args;
use serde_json::json;
use skipnet_data::batch::{ClassificationBatcher, SegmentationBatcher};
use skipnet_data::cifar::{CifarDataset, CifarKind};
use skipnet_data::folder::ImageFolder;
use skipnet_data::idx::IdxDataset;
use skipnet_data::segmentation::SegmentationFolder;
use skipnet_data::split::{Subset, train_val_split};
use skipnet_data::synthetic::{SyntheticCells, SyntheticShapes};
use skipnet_data::transform::Normalization;
use skipnet_data::{ClassificationItem, SegmentationItem, Split, data_root};
use skipnet_models::{ModelConfig, Task, UNetConfig};
use skipnet_train::classification::ClassificationModel;
use skipnet_train::history::EpochRecord;
use skipnet_train::optim::{OptimizerSpec, ScheduleSpec};
use skipnet_train::segmentation::SegmentationModel;
use skipnet_train::{Backend, FitOptions, fit_classifier, fit_segmenter};

/// Datasets `--dataset` accepts.
pub const DATASETS: [&str; 8] = [
    "synthetic-shapes",
    "synthetic-cells",
    "cifar10",
    "cifar100",
    "fashion-mnist",
    "mnist",
    "folder",
    "seg-folder",
];

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Architecture (see `cargo xtask list`); default cifar-resnet20, or unet for segmentation.
    #[arg(long)]
    arch: Option<String>,
    /// synthetic-shapes, synthetic-cells, cifar10, cifar100, fashion-mnist, mnist, folder, seg-folder.
    #[arg(long, default_value = "synthetic-shapes")]
    dataset: String,
    /// Data root (default `datasets/` or $SKIPNET_DATA); for folder / seg-folder, the folder itself.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Epochs (default 5: the short built-in run).
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Items per batch.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Base learning rate (default 0.1 for SGD, 0.001 for AdamW).
    #[arg(long)]
    lr: Option<f64>,
    /// sgd or adamw.
    #[arg(long, default_value = "sgd")]
    optimizer: String,
    /// step (÷10 at 50% and 75%), cosine or constant.
    #[arg(long, default_value = "step")]
    schedule: String,
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
    /// Seed of data generation, shuffling and augmentation.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folder of run folders.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Run name (default `<arch>-<dataset>-<unix time>`).
    #[arg(long)]
    name: Option<String>,
    /// auto (the fastest CPU backend compiled in: tch, else flex), flex, ndarray, wgpu,
    /// cuda or tch.
    #[arg(long, default_value = "auto")]
    backend: String,
    /// Training items of the synthetic datasets.
    #[arg(long)]
    train_size: Option<usize>,
    /// Validation items of the synthetic datasets.
    #[arg(long)]
    valid_size: Option<usize>,
    /// Image side: resizes `folder` images, sizes `synthetic-cells`, random crops for `seg-folder`.
    #[arg(long)]
    image_size: Option<usize>,
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
    /// No per-step progress (a line per run only); what experiments use.
    #[arg(long)]
    quiet: bool,
}

/// The backend to train on; re-runs this command with the right cargo feature when the
/// current build does not include it.
pub(crate) fn select_backend(name: &str) -> Result<Option<Backend>> {
    let backend: Backend = name.parse()?;
    if backend.is_compiled() {
        return Ok(Some(backend));
    }
    if std::env::var_os("SKIPNET_REEXEC").is_some() {
        bail!("backend '{name}' is still not compiled in after rebuilding with --features {name}");
    }
    let build_env = match backend {
        Backend::Tch => crate::libtorch::build_env()?,
        _ => Vec::new(),
    };
    let name = backend.name();
    eprintln!("building xtask with --features {name} for the {name} backend…");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .envs(build_env)
        .args([
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--features",
            backend.name(),
            "--",
        ])
        .args(std::env::args().skip(1))
        .env("SKIPNET_REEXEC", "1")
        .status()
        .context("cannot run cargo to build the requested backend")?;
    if !status.success() {
        bail!("the command with --backend {name} failed ({status})");
    }
    Ok(None)
}

fn run_name(args: &TrainArgs, arch: &str) -> String {
    args.name.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!("{arch}-{}-{secs}", args.dataset)
    })
}

type ClassData = (
    Arc<dyn Dataset<ClassificationItem>>,
    Arc<dyn Dataset<ClassificationItem>>,
    [usize; 3],
    usize,
);
type SegData = (
    Arc<dyn Dataset<SegmentationItem>>,
    Arc<dyn Dataset<SegmentationItem>>,
    usize,
);

fn classification_data(args: &TrainArgs, root: &Path) -> Result<ClassData> {
    Ok(match args.dataset.as_str() {
        "synthetic-shapes" => {
            let train = SyntheticShapes::new(args.seed, args.train_size.unwrap_or(3000));
            let valid = SyntheticShapes::new(args.seed ^ 0x5EED, args.valid_size.unwrap_or(500));
            (Arc::new(train), Arc::new(valid), [3, 32, 32], 10)
        }
        "cifar10" | "cifar100" => {
            let kind = if args.dataset == "cifar10" {
                CifarKind::Cifar10
            } else {
                CifarKind::Cifar100Fine
            };
            let train = CifarDataset::open(root, kind, Split::Train)?;
            let valid = CifarDataset::open(root, kind, Split::Test)?;
            (
                Arc::new(train),
                Arc::new(valid),
                [3, 32, 32],
                kind.num_classes(),
            )
        }
        "fashion-mnist" | "mnist" => {
            let open = |split| {
                if args.dataset == "mnist" {
                    IdxDataset::mnist(root, split)
                } else {
                    IdxDataset::fashion_mnist(root, split)
                }
            };
            let (train, valid) = (open(Split::Train)?, open(Split::Test)?);
            let [h, w] = train.image_size();
            (Arc::new(train), Arc::new(valid), [1, h, w], 10)
        }
        "folder" => {
            let side = args.image_size.unwrap_or(64);
            let folder = ImageFolder::open(root, 3, Some([side, side]))?;
            let classes = folder.classes().len();
            let (train_idx, valid_idx) = train_val_split(folder.len(), 0.1, args.seed)?;
            let train = Subset::new(folder.clone(), train_idx)?;
            let valid = Subset::new(folder, valid_idx)?;
            (Arc::new(train), Arc::new(valid), [3, side, side], classes)
        }
        other => bail!("'{other}' is not a classification dataset"),
    })
}

fn segmentation_data(args: &TrainArgs, root: &Path) -> Result<SegData> {
    Ok(match args.dataset.as_str() {
        "synthetic-cells" => {
            let side = args.image_size.unwrap_or(96);
            let train = SyntheticCells::new(args.seed, args.train_size.unwrap_or(48), side)?;
            let valid =
                SyntheticCells::new(args.seed ^ 0x5EED, args.valid_size.unwrap_or(12), side)?;
            (Arc::new(train), Arc::new(valid), 1)
        }
        "seg-folder" => {
            let folder = SegmentationFolder::open(root)?.with_channels(3);
            let (train_idx, valid_idx) = train_val_split(folder.len(), 0.2, args.seed)?;
            let train = Subset::new(folder.clone(), train_idx)?;
            let valid = Subset::new(folder, valid_idx)?;
            (Arc::new(train), Arc::new(valid), 3)
        }
        other => bail!("'{other}' is not a segmentation dataset"),
    })
}

/// Training and validation datasets.
type TrainValid<I> = (Arc<dyn Dataset<I>>, Arc<dyn Dataset<I>>);

/// `--train-size` / `--valid-size` on data read from disk: a seeded random subset of that many
/// items (the synthetic datasets are generated at the asked size already).
fn limit_sizes<I: Send + Sync + 'static>(
    args: &TrainArgs,
    train: Arc<dyn Dataset<I>>,
    valid: Arc<dyn Dataset<I>>,
) -> Result<TrainValid<I>> {
    let limit = |data: Arc<dyn Dataset<I>>, size: Option<usize>, seed: u64| -> Result<_> {
        Ok(match size {
            Some(n) if n < data.len() => {
                let mut indices = skipnet_data::split::shuffled_indices(data.len(), seed);
                indices.truncate(n);
                Arc::new(Subset::new(data, indices)?) as Arc<dyn Dataset<I>>
            }
            _ => data,
        })
    };
    if args.dataset.starts_with("synthetic") {
        return Ok((train, valid));
    }
    Ok((
        limit(train, args.train_size, args.seed)?,
        limit(valid, args.valid_size, args.seed ^ 0x5EED)?,
    ))
}

fn normalization(
    args: &TrainArgs,
    train: &dyn Dataset<ClassificationItem>,
) -> Result<Normalization> {
    if args.dataset.starts_with("cifar") {
        return Ok(Normalization::cifar10());
    }
    let sample: Vec<ClassificationItem> = (0..train.len().min(1000))
        .map(|i| train.get(i))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Normalization::measure(sample.iter().map(|i| &i.image)))
}

fn print_summary(history: &[EpochRecord], dir: &Path, seconds: f64) {
    if let Some(last) = history.last() {
        let values: Vec<String> = last
            .valid
            .iter()
            .map(|(name, value)| format!("{name} {value:.4}"))
            .collect();
        println!(
            "\nfinal validation (epoch {}): {}",
            last.epoch,
            values.join(", ")
        );
    }
    println!("run folder: {}  ({seconds:.0} s)", dir.display());
}

pub fn run(args: &TrainArgs) -> Result<()> {
    if !DATASETS.contains(&args.dataset.as_str()) {
        bail!(
            "unknown dataset '{}'; valid datasets: {}",
            args.dataset,
            DATASETS.join(", ")
        );
    }
    let segmentation = matches!(args.dataset.as_str(), "synthetic-cells" | "seg-folder");
    let arch = args.arch.clone().unwrap_or_else(|| {
        if segmentation {
            "unet".into()
        } else {
            "cifar-resnet20".into()
        }
    });
    let mut config = ModelConfig::from_name(&arch)?;
    if segmentation != (config.task() == Task::Segmentation) {
        bail!(
            "--arch {arch} is a {} model but --dataset {} is a {} dataset",
            if segmentation {
                "classification"
            } else {
                "segmentation"
            },
            args.dataset,
            if segmentation {
                "segmentation"
            } else {
                "classification"
            },
        );
    }
    if args.epochs == 0 || args.batch_size == 0 {
        bail!("--epochs and --batch-size must be at least 1");
    }
    let (optimizer, default_lr) = match args.optimizer.as_str() {
        "sgd" => (
            OptimizerSpec::Sgd {
                momentum: 0.9,
                nesterov: args.nesterov,
                weight_decay: args.weight_decay.unwrap_or(1e-4),
            },
            0.1,
        ),
        "adamw" => (
            OptimizerSpec::AdamW {
                weight_decay: args.weight_decay.unwrap_or(0.01),
            },
            1e-3,
        ),
        other => bail!("unknown optimizer '{other}'; valid: sgd, adamw"),
    };
    let schedule = match args.schedule.as_str() {
        "step" => ScheduleSpec::he_step(),
        "cosine" => ScheduleSpec::Cosine,
        "constant" => ScheduleSpec::Constant,
        other => bail!("unknown schedule '{other}'; valid: step, cosine, constant"),
    };
    let Some(backend) = select_backend(&args.backend)? else {
        return Ok(());
    };
    if args.devices == 0 {
        bail!("--devices must be at least 1");
    }
    let devices = backend.devices(args.devices)?;
    let device = devices[0].clone().autodiff();
    // Weight initialisation and random augmentation follow --seed.
    device.seed(args.seed);
    let root = args.data_dir.clone().unwrap_or_else(data_root);
    if args.resume && args.name.is_none() {
        bail!("--resume needs --name (and --out) of the run folder to continue");
    }
    let name = run_name(args, &arch);
    let dir = args.out.join(&name);
    let resume_from = if args.resume {
        let (good, rejected) = skipnet_train::fit::latest_good_checkpoint(&dir);
        for line in rejected {
            eprintln!("warning: {line}");
        }
        good
    } else {
        skipnet_train::fit::latest_checkpoint(&dir)
    };
    match (args.resume, resume_from) {
        (true, None) => bail!(
            "nothing to resume: {} has no complete, readable checkpoint",
            dir.join("checkpoint").display()
        ),
        (false, Some(epoch)) => bail!(
            "{} already holds a run (checkpoint of epoch {epoch}); pass --resume to continue it, or another --name",
            dir.display()
        ),
        (true, Some(epoch)) => println!("resuming {} after epoch {epoch}", dir.display()),
        (false, None) => {}
    }
    // Before any data is read: the folder must take files (the space check needs the model).
    skipnet_train::preflight::check_run_folder(&dir, 0).map_err(anyhow::Error::msg)?;
    let check_space = |params: usize| {
        skipnet_train::preflight::check_free_space(
            &dir,
            skipnet_train::preflight::bytes_needed(params),
        )
        .map_err(anyhow::Error::msg)
    };
    let options = FitOptions {
        dir: dir.clone(),
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr.unwrap_or(default_lr),
        optimizer: optimizer.clone(),
        schedule: schedule.clone(),
        warmup_epochs: args.warmup_epochs,
        seed: args.seed,
        num_workers: args.workers.max(1),
        quiet: args.quiet,
        resume_from,
        // CUDA has the collective operations DDP needs; other GPU backends use burn-train's
        // multi-device strategy.
        ddp: backend == Backend::Cuda,
        devices: if devices.len() > 1 {
            devices
        } else {
            Vec::new()
        },
    };
    let started = Instant::now();
    let (history, model_files): (Vec<EpochRecord>, [PathBuf; 2]);
    if segmentation {
        let (train, valid, channels) = segmentation_data(args, &root)?;
        let (train, valid) = limit_sizes(args, train, valid)?;
        let ModelConfig::UNet(unet) = config else {
            unreachable!("checked above")
        };
        let unet = UNetConfig {
            in_channels: channels,
            out_channels: 1,
            base_width: args.width.unwrap_or(unet.base_width),
            depth: args.unet_depth.unwrap_or(unet.depth),
            ..unet
        };
        config = ModelConfig::UNet(unet.clone());
        config.validate()?;
        let net = unet.init(&device);
        // The smallest image the network will see: the crop, or the first training image.
        let side = match (args.dataset.as_str(), args.image_size) {
            ("seg-folder", Some(crop)) => [crop, crop],
            _ => train
                .get(0)
                .map(|item| [item.image.height, item.image.width])
                .unwrap_or([0, 0]),
        };
        net.check_input([channels, side[0], side[1]])?;
        check_space(skipnet_models::trainable_params(&net))?;
        write_config(
            &dir,
            args,
            &arch,
            &config,
            &options,
            backend,
            train.len(),
            valid.len(),
            None,
            None,
        )?;
        let model = SegmentationModel { unet: net };
        println!(
            "training {arch} ({} parameters) on {} ({} train / {} valid) with {backend}",
            skipnet_models::trainable_params(&model.unet),
            args.dataset,
            train.len(),
            valid.len()
        );
        let crop = args
            .image_size
            .filter(|_| args.dataset == "seg-folder")
            .map(|s| [s, s]);
        let valid_for_overlays = valid.clone();
        let result = fit_segmenter(
            model,
            train,
            valid,
            SegmentationBatcher::new(channels).with_augmentation(crop, args.seed),
            SegmentationBatcher::new(channels),
            &device,
            &options,
        )?;
        let overlays = write_overlays(
            &result.model.unet.valid(),
            valid_for_overlays.as_ref(),
            &dir.join("overlays"),
        )?;
        println!(
            "overlays: {} images in {}",
            overlays,
            dir.join("overlays").display()
        );
        model_files = skipnet_train::fit::save_model(
            &skipnet_models::Model::UNet(result.model.unet.valid()),
            &dir,
            "model",
        )
        .map_err(anyhow::Error::msg)?;
        history = result.history;
    } else {
        let (train, valid, input, classes) = classification_data(args, &root)?;
        let (train, valid) = limit_sizes(args, train, valid)?;
        config = config.with_input(input).with_num_classes(classes);
        let norm = normalization(args, train.as_ref())?;
        write_config(
            &dir,
            args,
            &arch,
            &config,
            &options,
            backend,
            train.len(),
            valid.len(),
            Some(input),
            Some(&norm),
        )?;
        let model = config.init(&device)?;
        // Input too small for the network (or of the wrong shape): an error now, not mid-epoch.
        model.summary(&arch, input)?;
        check_space(model.trainable_params())?;
        println!(
            "training {arch} ({} parameters) on {} ({} train / {} valid, {classes} classes) with {backend}",
            model.trainable_params(),
            args.dataset,
            train.len(),
            valid.len()
        );
        let augment = matches!(
            args.dataset.as_str(),
            "synthetic-shapes" | "cifar10" | "cifar100" | "folder"
        );
        let mut train_batcher = ClassificationBatcher::new(norm.clone(), input[0]);
        if augment {
            train_batcher = train_batcher.with_augmentation(4, args.seed);
        }
        let result = fit_classifier(
            ClassificationModel::new(model, args.label_smoothing).map_err(anyhow::Error::msg)?,
            classes,
            train,
            valid,
            train_batcher,
            ClassificationBatcher::new(norm, input[0]),
            &device,
            &options,
        )?;
        model_files = skipnet_train::fit::save_model(&result.model.model.valid(), &dir, "model")
            .map_err(anyhow::Error::msg)?;
        history = result.history;
    }
    println!(
        "model: {} and {}",
        model_files[0].display(),
        model_files[1].display()
    );
    print_summary(&history, &dir, started.elapsed().as_secs_f64());
    Ok(())
}

/// Saves PNG overlays of predicted vs true masks for up to 8 validation images: the image in
/// grey, true positives yellow, false positives red, false negatives green.
fn write_overlays(
    unet: &skipnet_models::UNet,
    valid: &dyn Dataset<SegmentationItem>,
    dir: &Path,
) -> Result<usize> {
    let count = valid.len().min(8);
    score_masks(unet, valid, count, Some((dir, "valid", count)))?;
    Ok(count)
}

/// Runs `unet` on the first `items` items of `data` and returns each one's pixel counts
/// `[TP, FP, FN, TN]` (prediction: logit > 0); with `overlays = (dir, prefix, n)`, also saves the
/// first `n` as overlay PNGs `dir/{prefix}_{i:03}.png` (grey image, TP yellow, FP red, FN green).
pub(crate) fn score_masks(
    unet: &skipnet_models::UNet,
    data: &dyn Dataset<SegmentationItem>,
    items: usize,
    overlays: Option<(&Path, &str, usize)>,
) -> Result<Vec<[f64; 4]>> {
    use burn::tensor::{Tensor, TensorData};
    let device = unet.out.weight.val().device();
    let items = items.min(data.len());
    let mut scores = Vec::with_capacity(items);
    for i in 0..items {
        let item = data.get(i).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (h, w) = (item.image.height, item.image.width);
        let channels = unet.in_channels();
        let pixels = item.image.clone().with_channels(channels).data;
        let logits = unet.forward(Tensor::from_data(
            TensorData::new(pixels, [1, channels, h, w]),
            &device,
        ));
        let logits = logits
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut counts = [0.0f64; 4];
        for (logit, mask) in logits.iter().zip(&item.mask) {
            let (pred, truth) = (*logit > 0.0, *mask != 0);
            counts[match (pred, truth) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            }] += 1.0;
        }
        scores.push(counts);
        let Some((dir, prefix, limit)) = overlays else {
            continue;
        };
        if i >= limit {
            continue;
        }
        let mut rgb = vec![0u8; 3 * h * w];
        for p in 0..h * w {
            let grey = (item.image.data[p].clamp(0.0, 1.0) * 200.0) as u8;
            let (pred, truth) = (logits[p] > 0.0, item.mask[p] != 0);
            let colour = match (pred, truth) {
                (true, true) => [255, 220, 0],
                (true, false) => [230, 40, 40],
                (false, true) => [40, 200, 60],
                (false, false) => [grey, grey, grey],
            };
            let alpha = if pred || truth { 0.55 } else { 0.0 };
            for c in 0..3 {
                rgb[c * h * w + p] = (grey as f32 * (1.0 - alpha) + colour[c] as f32 * alpha) as u8;
            }
        }
        let image = skipnet_data::image::ImageU8 {
            channels: 3,
            height: h,
            width: w,
            data: rgb,
        };
        skipnet_data::image::save_png(&image, &dir.join(format!("{prefix}_{i:03}.png")))?;
    }
    Ok(scores)
}

#[allow(clippy::too_many_arguments)]
fn write_config(
    dir: &Path,
    args: &TrainArgs,
    arch: &str,
    config: &ModelConfig,
    options: &FitOptions,
    backend: Backend,
    train_len: usize,
    valid_len: usize,
    input: Option<[usize; 3]>,
    normalization: Option<&Normalization>,
) -> Result<()> {
    let record = json!({
        "input": input,
        "normalization": normalization,
        "arch": arch,
        "model": serde_json::to_value(config)?,
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "train_items": train_len,
        "valid_items": valid_len,
        "epochs": options.epochs,
        "batch_size": options.batch_size,
        "lr": options.lr,
        "optimizer": options.optimizer,
        "schedule": options.schedule,
        "warmup_epochs": options.warmup_epochs,
        "label_smoothing": args.label_smoothing,
        "seed": options.seed,
        "backend": backend,
        "image_size": args.image_size,
        "train_size": args.train_size,
        "valid_size": args.valid_size,
        "command": std::env::args().collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&record)?;
    skipnet_train::history::write_atomically(&dir.join("config.json"), text.as_bytes())
        .with_context(|| format!("cannot write {}", dir.join("config.json").display()))
}
