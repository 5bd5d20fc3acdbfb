//! Tiny learnable data and run options shared by the training tests.
#![allow(dead_code)]

use std::sync::Arc;

use burn::data::dataset::{Dataset, InMemDataset};
use burn::tensor::Device;
use rand::{RngExt, SeedableRng};
use skipnet_data::ClassificationItem;
use skipnet_data::batch::ClassificationBatcher;
use skipnet_data::image::ImageU8;
use skipnet_data::transform::Normalization;
use skipnet_data::{DatasetKind, DatasetSpec};
use skipnet_models::ModelConfig;
use skipnet_train::classification::ClassificationModel;
use skipnet_train::optim::{OptimizerSpec, ScheduleSpec};
use skipnet_train::{Backend, Fit, FitResult, RunOptions, TrainError, TrainSpec, fit_classifier};

/// Class 0: a bright left half; class 1: a bright right half; both noisy.
pub fn halves(n: usize, seed: u64) -> Vec<ClassificationItem> {
    let mut rng = skipnet_data::DataRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let label = i % 2;
            let data = (0..3 * 8 * 8)
                .map(|p| {
                    let x = p % 8;
                    let lit = (x < 4) == (label == 0);
                    let base = if lit { 180 } else { 60 };
                    (base + rng.random_range(0..50)) as u8
                })
                .collect();
            ClassificationItem {
                image: ImageU8 {
                    channels: 3,
                    height: 8,
                    width: 8,
                    data,
                },
                label,
            }
        })
        .collect()
}

/// The recipe of the small fits: `epochs` at rate `lr` with `optimizer`, batch 8, constant
/// schedule, no warm-up, seed 1, one loading thread (the spec's model and data are unused by a fit).
pub fn recipe(epochs: usize, lr: f64, optimizer: OptimizerSpec) -> TrainSpec {
    let mut spec = TrainSpec::he2015(
        "cifar-resnet8",
        DatasetSpec::new(DatasetKind::SyntheticShapes),
    )
    .unwrap()
    .with_epochs(epochs)
    .with_batch_size(8)
    .with_lr(lr)
    .with_schedule(ScheduleSpec::Constant)
    .with_seed(1);
    spec.optimizer = optimizer;
    spec.warmup_epochs = 0;
    spec.workers = 1;
    spec
}

/// A quiet fit into `dir` on flex.
pub fn quiet(dir: &std::path::Path) -> RunOptions {
    RunOptions::new(dir)
        .with_backend(Backend::Flex)
        .with_quiet(true)
}

/// Trains a fresh two-class CIFAR ResNet-8 (initialised on `device`) on `train_len` / `valid_len`
/// items of [`halves`], normalised with mean 0.5 and standard deviation `std`.
pub fn fit_halves(
    device: &Device,
    train_len: usize,
    valid_len: usize,
    std: f32,
    fit: &Fit,
) -> Result<FitResult<ClassificationModel>, TrainError> {
    let config = ModelConfig::from_name("cifar-resnet8")
        .unwrap()
        .with_num_classes(2);
    let model = ClassificationModel::new(config.init(device).unwrap(), 0.0).unwrap();
    let train: Arc<dyn Dataset<ClassificationItem>> =
        Arc::new(InMemDataset::new(halves(train_len, 1)));
    let valid: Arc<dyn Dataset<ClassificationItem>> =
        Arc::new(InMemDataset::new(halves(valid_len, 2)));
    let norm = Normalization {
        mean: vec![0.5; 3],
        std: vec![std; 3],
    };
    fit_classifier(
        model,
        2,
        train,
        valid,
        ClassificationBatcher::new(norm.clone(), 3),
        ClassificationBatcher::new(norm, 3),
        device,
        fit,
    )
}
