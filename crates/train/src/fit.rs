//! Training runs on burn-train: dataloaders, metrics, checkpoints, schedule, progress.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burn::data::dataloader::DataLoader;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use burn::train::checkpoint::{
    ComposedCheckpointingStrategy, KeepLastNCheckpoints, MetricCheckpointingStrategy,
};
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{
    AccuracyMetric, LearningRateMetric, LossMetric, Metric, TopKAccuracyMetric,
};
use burn::train::{Learner, LearnerModel, SupervisedTraining};
use skipnet_data::batch::{ClassificationBatch, SegmentationBatch};
use skipnet_data::loader::{OrderedDataLoader, SeededBatcher};
use skipnet_data::{ClassificationItem, SegmentationItem};

use crate::classification::ClassificationModel;
use crate::error::TrainError;
use crate::history::{EpochRecord, HistoryLogger};
use crate::progress::PlainProgress;
use crate::segmentation::{
    InstanceMetric, InstanceScore, MaskMetric, MaskScore, SegmentationModel,
};
use crate::spec::{RunOptions, TrainSpec};

/// One fit as [`crate::run`] resolves it: the recipe of `spec` (epochs, batch, rate, optimiser,
/// schedule, warm-up, seed, workers, frozen epochs), the folder and output of `options`, and what
/// only the run knows — the epoch it resumes after and the devices it trains on. Nothing is
/// copied: the spec and the options are the settings.
#[derive(Debug, Clone)]
pub struct Fit<'a> {
    /// The recipe (its model and dataset are the caller's business).
    pub spec: &'a TrainSpec,
    /// The run folder (checkpoints, logs, `metrics.csv`), the backend (DDP on CUDA) and
    /// `quiet` (no progress output at all).
    pub options: &'a RunOptions,
    /// Continue after this epoch from the run folder's checkpoints (model, optimiser and
    /// scheduler state) and its `metrics.csv`.
    pub resume_from: Option<usize>,
    /// Devices for data-parallel training; empty or one device trains on the model's device.
    pub devices: Vec<Device>,
}

impl<'a> Fit<'a> {
    /// A fresh fit of `spec` into `options.dir` on the model's device.
    pub fn new(spec: &'a TrainSpec, options: &'a RunOptions) -> Self {
        Self {
            spec,
            options,
            resume_from: None,
            devices: Vec::new(),
        }
    }

    /// With several devices: distributed data parallel (a model copy per device, gradients
    /// all-reduced) on CUDA, which has the collective operations; burn-train's multi-device
    /// strategy (optimiser on the first device) elsewhere.
    fn ddp(&self) -> bool {
        self.options.backend == crate::Backend::Cuda
    }

    /// Data-loading threads (any number gives the same batches).
    fn workers(&self) -> usize {
        self.spec.workers.max(1)
    }
}

/// A finished run: the trained model (validation mode) and the per-epoch metrics.
pub struct FitResult<M> {
    /// The trained model.
    pub model: M,
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
}

fn invalid(what: &str, problem: impl Into<String>) -> TrainError {
    TrainError::invalid(what, problem)
}

/// How a global batch is shared by data-parallel devices: `--batch-size` is the global batch,
/// each device takes an equal share of it, and an epoch has as many optimiser steps as one
/// device would take on the whole data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSplit {
    /// Devices.
    pub devices: usize,
    /// Items per device per optimiser step.
    pub per_device_batch: usize,
    /// Optimiser steps per epoch (the schedule and warm-up are sized in these).
    pub steps_per_epoch: usize,
}

impl DeviceSplit {
    /// The split of `train_len` items in global batches of `batch_size` over `devices`
    /// devices, which burn-train's strategies give contiguous shares of the data (the last one
    /// the remainder). The batch must divide evenly.
    pub fn new(train_len: usize, batch_size: usize, devices: usize) -> Result<Self, TrainError> {
        let devices = devices.max(1);
        if !batch_size.is_multiple_of(devices) {
            return Err(invalid(
                "`batch_size`",
                format!(
                    "`batch_size` {batch_size} is the global batch, shared by `devices` \
                     {devices}: it must be a multiple of {devices}"
                ),
            ));
        }
        let per_device_batch = batch_size / devices;
        let share = train_len / devices;
        let last = train_len - share * (devices - 1);
        // Each step takes a batch from every device that still has one.
        let steps_per_epoch = share
            .div_ceil(per_device_batch)
            .max(last.div_ceil(per_device_batch));
        Ok(Self {
            devices,
            per_device_batch,
            steps_per_epoch,
        })
    }
}

impl Fit<'_> {
    fn check(&self, train_len: usize, valid_len: usize) -> Result<DeviceSplit, TrainError> {
        if self.spec.epochs == 0 {
            return Err(invalid("`epochs`", "0 (at least 1)"));
        }
        if self.spec.batch_size == 0 {
            return Err(invalid("`batch_size`", "0 (at least 1)"));
        }
        if train_len == 0 || valid_len == 0 {
            return Err(invalid(
                "dataset",
                format!(
                    "{train_len} training and {valid_len} validation items (both need at least 1)"
                ),
            ));
        }
        DeviceSplit::new(train_len, self.spec.batch_size, self.devices.len())
    }
}

/// Runs burn-train's supervised training of `model` and collects the history.
#[allow(clippy::too_many_arguments)]
fn launch<M, I, BT, BV>(
    model: M,
    train: Arc<dyn Dataset<I>>,
    valid: Arc<dyn Dataset<I>>,
    train_batcher: BT,
    valid_batcher: BV,
    device: &Device,
    fit: &Fit,
    register: impl FnOnce(SupervisedTraining<M>) -> SupervisedTraining<M>,
) -> Result<FitResult<M>, TrainError>
where
    M: LearnerModel + crate::classification::ScaledLoss + crate::classification::FreezeBackbone,
    I: Send + Sync + Clone + std::fmt::Debug + 'static,
    BT: SeededBatcher<I, <M as burn::train::TrainStep>::Input> + 'static,
    BV: SeededBatcher<I, <M as burn::train::InferenceStep>::Input> + 'static,
    <M as burn::train::TrainStep>::Input: Clone + std::fmt::Debug,
    <M as burn::train::InferenceStep>::Input: Clone + std::fmt::Debug,
    <M as burn::train::TrainStep>::Output: burn::train::metric::Adaptor<crate::guard::LossValue>,
{
    let split = fit.check(train.len(), valid.len())?;
    let steps_per_epoch = split.steps_per_epoch;
    // burn-train's multi-device strategy sums the devices' gradients: scale each device's
    // loss so that they are averaged, as DDP's all-reduce (mean) does.
    let model = if split.devices > 1 && !fit.ddp() {
        model.with_loss_scale(1.0 / split.devices as f64)
    } else {
        model
    };
    // Steps are counted per device: each device's copy takes one per global step.
    let per_epoch = steps_per_epoch * split.devices.max(1);
    let model = model.with_frozen_backbone(
        fit.spec.freeze_backbone_epochs * per_epoch,
        fit.resume_from.unwrap_or(0) * per_epoch,
    );
    let optimizer = fit.spec.optimizer.init();
    let scheduler = fit.spec.schedule.init(
        fit.spec.lr,
        steps_per_epoch * fit.spec.epochs,
        steps_per_epoch * fit.spec.warmup_epochs,
    )?;
    // Deterministic loading: the same batches, order and augmentation for any worker count;
    // a resumed run continues the epoch sequence where it stopped.
    let loader_train: Arc<dyn DataLoader<<M as burn::train::TrainStep>::Input>> = Arc::new(
        OrderedDataLoader::new(
            train,
            Arc::new(train_batcher),
            split.per_device_batch,
            fit.workers(),
            true,
            fit.spec.seed(),
            device.clone(),
        )
        .starting_at_epoch(fit.resume_from.unwrap_or(0)),
    );
    let loader_valid: Arc<dyn DataLoader<<M as burn::train::InferenceStep>::Input>> =
        Arc::new(OrderedDataLoader::new(
            valid,
            Arc::new(valid_batcher),
            fit.spec.batch_size,
            fit.workers(),
            false,
            fit.spec.seed(),
            device.clone(),
        ));
    let earlier = match fit.resume_from {
        Some(epoch) => {
            if epoch >= fit.spec.epochs {
                return Err(invalid(
                    "resume",
                    format!(
                        "the run already has {epoch} epochs; ask for more than that with `epochs`"
                    ),
                ));
            }
            let mut records = crate::folder::RunFolder::new(&fit.options.dir).history()?;
            records.retain(|r| r.epoch <= epoch);
            records
        }
        None => Vec::new(),
    };
    let history = Arc::new(Mutex::new(earlier));
    let logger = HistoryLogger::new(
        history.clone(),
        fit.options.dir.join("metrics.csv"),
        fit.spec.epochs,
        fit.options.quiet,
    );
    let mut training = SupervisedTraining::new(&fit.options.dir, loader_train, loader_valid)
        .num_epochs(fit.spec.epochs)
        .with_metric_logger(burn::train::logger::FileMetricLogger::new(
            fit.options.dir.clone(),
        ))
        .with_metric_logger(logger)
        .with_default_checkpointers()
        .with_application_logger(None);
    training = register(training);
    let non_finite = Arc::new(Mutex::new(None));
    let guard = crate::guard::NonFiniteGuard::new(
        training.interrupter(),
        fit.resume_from.unwrap_or(0) + 1,
        non_finite.clone(),
    );
    training = training.metric_train(guard);
    if let Some(epoch) = fit.resume_from {
        training = training.checkpoint(epoch);
    }
    if fit.devices.len() > 1 {
        use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
        use burn::train::{ExecutionStrategy, MultiDeviceOptim, TrainingStrategy};
        let devices = fit.devices.clone();
        let strategy = if fit.ddp() {
            ExecutionStrategy::ddp(
                devices,
                DistributedConfig {
                    all_reduce_op: ReduceOperation::Mean,
                },
            )
        } else {
            ExecutionStrategy::multi(devices, MultiDeviceOptim::OptimMainDevice)
        };
        training = training.with_training_strategy(TrainingStrategy::Default(strategy));
    }
    if fit.options.quiet || !std::io::stdout().is_terminal() {
        training = training.renderer(Box::new(PlainProgress::new(fit.options.quiet)));
    }
    let result = training.launch(Learner::new(model, optimizer, scheduler));
    if let Some(position) = *non_finite.lock().expect("guard lock") {
        return Err(TrainError::NonFinite {
            epoch: position.epoch,
            step: position.step,
            last_good: latest_checkpoint(&fit.options.dir),
        });
    }
    if let Some(error) = &result.error {
        return Err(TrainError::Training(error.to_string()));
    }
    let history = history.lock().expect("history lock").clone();
    if let Err(e) = crate::plots::plot_history(&history, &fit.options.dir) {
        eprintln!("warning: cannot plot the metrics: {e}");
    }
    if history.last().is_none_or(|r| r.epoch < fit.spec.epochs) {
        return Err(TrainError::Training(format!(
            "stopped before epoch {} completed",
            fit.spec.epochs
        )));
    }
    Ok(FitResult {
        model: result.model,
        history,
    })
}

/// The checkpoints a run keeps: the last two (resume) and the one of the epoch with the best
/// validation `metric` (higher is better; `--checkpoint best`).
fn keep_last_and_best<M: Metric>(metric: &M) -> ComposedCheckpointingStrategy {
    ComposedCheckpointingStrategy::builder()
        .add(KeepLastNCheckpoints::new(2))
        .add(MetricCheckpointingStrategy::new(
            metric,
            Aggregate::Mean,
            Direction::Highest,
            Split::Valid,
        ))
        .build()
}

/// Trains a classifier over `num_classes` classes: loss, top-1, top-5 (with more than five
/// classes) and learning rate on both splits.
#[allow(clippy::too_many_arguments)]
pub fn fit_classifier<BT, BV>(
    model: ClassificationModel,
    num_classes: usize,
    train: Arc<dyn Dataset<ClassificationItem>>,
    valid: Arc<dyn Dataset<ClassificationItem>>,
    train_batcher: BT,
    valid_batcher: BV,
    device: &Device,
    fit: &Fit,
) -> Result<FitResult<ClassificationModel>, TrainError>
where
    BT: SeededBatcher<ClassificationItem, ClassificationBatch> + 'static,
    BV: SeededBatcher<ClassificationItem, ClassificationBatch> + 'static,
{
    launch(
        model,
        train,
        valid,
        train_batcher,
        valid_batcher,
        device,
        fit,
        |t| {
            let mut t = t
                .with_checkpointing_strategy(keep_last_and_best(&AccuracyMetric::new()))
                .metric_train_numeric(LossMetric::new())
                .metric_valid_numeric(LossMetric::new())
                .metric_train_numeric(AccuracyMetric::new())
                .metric_valid_numeric(AccuracyMetric::new());
            if num_classes > 5 {
                t = t
                    .metric_train_numeric(TopKAccuracyMetric::new(5))
                    .metric_valid_numeric(TopKAccuracyMetric::new(5));
            }
            t.metric_train_numeric(LearningRateMetric::new())
        },
    )
}

/// Trains a U-Net: loss, Dice, IoU and pixel accuracy on both splits, and the learning rate.
pub fn fit_segmenter<BT, BV>(
    model: SegmentationModel,
    train: Arc<dyn Dataset<SegmentationItem>>,
    valid: Arc<dyn Dataset<SegmentationItem>>,
    train_batcher: BT,
    valid_batcher: BV,
    device: &Device,
    fit: &Fit,
) -> Result<FitResult<SegmentationModel>, TrainError>
where
    BT: SeededBatcher<SegmentationItem, SegmentationBatch> + 'static,
    BV: SeededBatcher<SegmentationItem, SegmentationBatch> + 'static,
{
    launch(
        model,
        train,
        valid,
        train_batcher,
        valid_batcher,
        device,
        fit,
        |t| {
            let mut t = t
                .with_checkpointing_strategy(keep_last_and_best(&MaskMetric::new(MaskScore::Dice)))
                .metric_train_numeric(LossMetric::new())
                .metric_valid_numeric(LossMetric::new());
            for score in [MaskScore::Dice, MaskScore::IoU, MaskScore::PixelAccuracy] {
                t = t
                    .metric_train_numeric(MaskMetric::new(score))
                    .metric_valid_numeric(MaskMetric::new(score));
            }
            for score in [InstanceScore::F1IoU50, InstanceScore::Dsb2018] {
                t = t.metric_valid_numeric(InstanceMetric::new(score));
            }
            t.metric_train_numeric(LearningRateMetric::new())
        },
    )
}

/// The latest epoch whose model, optimiser and scheduler checkpoints are all in `dir/checkpoint`
/// (present, not verified; see [`latest_good_checkpoint`]).
pub fn latest_checkpoint(dir: &std::path::Path) -> Option<usize> {
    checkpoint_epochs(dir).into_iter().next()
}

/// Epochs whose model checkpoint (`checkpoint/model-<epoch>.bpk`) is in `dir`, in order.
pub fn model_checkpoint_epochs(dir: &std::path::Path) -> Vec<usize> {
    let Ok(entries) = std::fs::read_dir(dir.join("checkpoint")) else {
        return Vec::new();
    };
    let mut epochs: Vec<usize> = entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse::<usize>()
                .ok()
        })
        .collect();
    epochs.sort_unstable();
    epochs
}

/// Epochs with all three checkpoint files, latest first.
fn checkpoint_epochs(dir: &std::path::Path) -> Vec<usize> {
    let folder = dir.join("checkpoint");
    let mut epochs: Vec<usize> = model_checkpoint_epochs(dir)
        .into_iter()
        .filter(|epoch| {
            ["optim", "scheduler"]
                .iter()
                .all(|part| folder.join(format!("{part}-{epoch}.bpk")).is_file())
        })
        .collect();
    epochs.reverse();
    epochs
}

/// Reads the model, optimiser and scheduler checkpoints of `epoch` completely (the records
/// burn-train would restore, every tensor's bytes included): `Err` names the first file that is
/// truncated or corrupt.
pub fn verify_checkpoint(dir: &std::path::Path, epoch: usize) -> Result<(), TrainError> {
    use burn::store::burn_pack::Reader;
    let folder = dir.join("checkpoint");
    for part in ["model", "optim", "scheduler"] {
        let path = folder.join(format!("{part}-{epoch}.bpk"));
        let check = || -> Result<(), String> {
            let tensors = Reader::from_file(&path)
                .and_then(|r| r.into_tensors())
                .map_err(|e| e.to_string())?;
            for tensor in tensors {
                let name = tensor.name.clone();
                tensor
                    .to_bytes()
                    .map_err(|e| format!("tensor {name}: {e}"))?;
            }
            Ok(())
        };
        let result = std::panic::catch_unwind(check)
            .unwrap_or_else(|_| Err("the reader panicked on it".to_string()));
        result.map_err(|e| TrainError::file(&path, e))?;
    }
    Ok(())
}

/// The latest checkpoint that [`verify_checkpoint`] accepts, and a line for each later one that
/// it rejected (what was wrong, and that an earlier one is used instead).
pub fn latest_good_checkpoint(dir: &std::path::Path) -> (Option<usize>, Vec<String>) {
    let mut rejected = Vec::new();
    for epoch in checkpoint_epochs(dir) {
        match verify_checkpoint(dir, epoch) {
            Ok(()) => return (Some(epoch), rejected),
            Err(e) => rejected.push(format!(
                "checkpoint of epoch {epoch} is unreadable ({e}); falling back to an earlier one"
            )),
        }
    }
    (None, rejected)
}

/// Saves `model` as a Burn record (`<stem>.bpk`) and as safetensors (`<stem>.safetensors`),
/// each written to a temporary file and renamed into place. Returns both paths.
pub fn save_model<M: burn::module::Module>(
    model: &M,
    dir: &std::path::Path,
    stem: &str,
) -> Result<[PathBuf; 2], TrainError> {
    use burn::store::{BurnpackStore, ModuleSnapshot, SafetensorsStore};
    std::fs::create_dir_all(dir)
        .map_err(|e| TrainError::file(dir, format!("cannot create: {e}")))?;
    let bpk = dir.join(format!("{stem}.bpk"));
    let st = dir.join(format!("{stem}.safetensors"));
    let failed =
        |path: &std::path::Path, e: &dyn std::fmt::Display| skipnet_data::DataError::Decode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
    skipnet_data::image::write_atomically(&bpk, |tmp| {
        let mut store = BurnpackStore::from_file(tmp)
            .auto_extension(false)
            .overwrite(true);
        model.save_into(&mut store).map_err(|e| failed(&bpk, &e))
    })
    .map_err(|e| TrainError::file(&bpk, format!("cannot write: {e}")))?;
    skipnet_data::image::write_atomically(&st, |tmp| {
        let mut store = SafetensorsStore::from_file(tmp).skip_enum_variants(true);
        model.save_into(&mut store).map_err(|e| failed(&st, &e))
    })
    .map_err(|e| TrainError::file(&st, format!("cannot write: {e}")))?;
    Ok([bpk, st])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_batch_is_shared_and_the_steps_per_epoch_do_not_change() {
        let one = DeviceSplit::new(3000, 128, 1).unwrap();
        assert_eq!((one.per_device_batch, one.steps_per_epoch), (128, 24));
        let two = DeviceSplit::new(3000, 128, 2).unwrap();
        assert_eq!((two.per_device_batch, two.steps_per_epoch), (64, 24));
        let four = DeviceSplit::new(3000, 128, 4).unwrap();
        assert_eq!((four.per_device_batch, four.steps_per_epoch), (32, 24));
        // The last device takes the remainder: 500 + 501 items in batches of 2.
        assert_eq!(DeviceSplit::new(1001, 4, 2).unwrap().steps_per_epoch, 251);
        let err = DeviceSplit::new(3000, 128, 3).unwrap_err().to_string();
        assert!(err.contains("multiple of 3"), "{err}");
    }

    #[cfg(feature = "flex")]
    #[test]
    fn a_scaled_loss_scales_the_gradients_and_scale_one_is_the_plain_backward() {
        use burn::tensor::Tensor;
        let device = burn::tensor::Device::flex().autodiff();
        let grad = |scale: f64| {
            // d/dx Σx² = 2x; one graph per backward (Burn keeps no graph after one).
            let x = Tensor::<1>::from_floats([1.0, -2.0, 3.0], &device).require_grad();
            let loss = (x.clone() * x.clone()).sum();
            let grads = crate::classification::scaled_backward(&loss, scale);
            x.grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        assert_eq!(grad(0.5), [1.0, -2.0, 3.0]);
        assert_eq!(grad(1.0), [2.0, -4.0, 6.0]);
    }
}
