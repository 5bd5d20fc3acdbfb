//! A few epochs of burn-train on tiny learnable data lower the loss, for a classifier and for
//! U-Net, and leave a per-epoch CSV and checkpoints in the run folder.
#![cfg(feature = "flex")]

mod common;

use std::sync::Arc;

use burn::data::dataset::{Dataset, InMemDataset};
use skipnet_data::SegmentationItem;
use skipnet_data::batch::SegmentationBatcher;
use skipnet_data::synthetic::SyntheticCells;
use skipnet_models::UNetConfig;
use skipnet_train::optim::OptimizerSpec;
use skipnet_train::segmentation::SegmentationModel;
use skipnet_train::{Backend, Fit, fit_segmenter};

use common::{fit_halves, quiet, recipe};

#[test]
fn classifier_loss_goes_down() {
    let device = Backend::Flex.device().unwrap().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let result = fit_halves(
        &device,
        48,
        16,
        0.25,
        &Fit::new(
            &recipe(4, 0.05, OptimizerSpec::he_sgd()),
            &quiet(dir.path()),
        ),
    )
    .unwrap();
    let h = &result.history;
    assert_eq!(h.len(), 4);
    let first = h[0].get("train", "loss").unwrap();
    let last = h[3].get("train", "loss").unwrap();
    assert!(last < first * 0.8, "train loss {first} -> {last}");
    assert!(h[3].get("valid", "accuracy").unwrap() >= 75.0, "{:?}", h[3]);
    assert!(h[0].get("train", "learning_rate").is_some(), "{:?}", h[0]);
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    assert!(csv.starts_with("epoch,train_loss"), "{csv}");
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(dir.path().join("checkpoint").is_dir());
}

#[test]
fn unet_loss_goes_down() {
    let device = Backend::Flex.device().unwrap().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let unet = UNetConfig::new(1, 1)
        .with_base_width(4)
        .with_depth(2)
        .init(&device);
    let cells = SyntheticCells::new(9, 12, 32).unwrap();
    let items: Vec<SegmentationItem> = (0..12).map(|i| cells.item(i).unwrap()).collect();
    let train: Arc<dyn Dataset<SegmentationItem>> =
        Arc::new(InMemDataset::new(items[..8].to_vec()));
    let valid: Arc<dyn Dataset<SegmentationItem>> =
        Arc::new(InMemDataset::new(items[8..].to_vec()));
    let result = fit_segmenter(
        SegmentationModel::new(unet),
        train,
        valid,
        SegmentationBatcher::new(1),
        SegmentationBatcher::new(1).with_instances(),
        &device,
        &Fit::new(
            &recipe(5, 0.01, OptimizerSpec::adamw()).with_batch_size(4),
            &quiet(dir.path()),
        ),
    )
    .unwrap();
    let h = &result.history;
    let first = h[0].get("train", "loss").unwrap();
    let last = h[4].get("train", "loss").unwrap();
    assert!(last < first, "train loss {first} -> {last}");
    for metric in ["dice", "iou", "pixel_accuracy", "f1_iou50", "dsb2018"] {
        let value = h[4].get("valid", metric);
        assert!(
            value.is_some_and(|v| (0.0..=100.0).contains(&v)),
            "{metric} missing or out of range: {:?}",
            h[4]
        );
    }
    // Instance metrics are scored on validation only.
    assert!(h[4].get("train", "dsb2018").is_none());
}

#[test]
fn non_finite_loss_stops_with_epoch_and_step() {
    let device = Backend::Flex.device().unwrap().autodiff();
    let dir = tempfile::tempdir().unwrap();
    // A zero standard deviation turns the inputs into infinities: the loss is NaN at once.
    let err = fit_halves(
        &device,
        16,
        8,
        0.0,
        &Fit::new(
            &recipe(2, 0.05, OptimizerSpec::he_sgd()),
            &quiet(dir.path()),
        ),
    )
    .err()
    .expect("training must stop");
    let message = err.to_string();
    assert!(
        message.contains("non-finite loss at epoch 1, step 1"),
        "{message}"
    );
    assert!(message.contains("no epoch completed"), "{message}");
}
