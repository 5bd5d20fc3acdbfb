//! Tiny learnable data and run options shared by the training tests.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use skipnet_data::ClassificationItem;
use skipnet_data::image::ImageU8;
use skipnet_train::FitOptions;
use skipnet_train::optim::{OptimizerSpec, ScheduleSpec};

/// Class 0: a bright left half; class 1: a bright right half; both noisy.
pub fn halves(n: usize, seed: u64) -> Vec<ClassificationItem> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
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

pub fn options(
    dir: &std::path::Path,
    epochs: usize,
    lr: f64,
    optimizer: OptimizerSpec,
) -> FitOptions {
    FitOptions {
        dir: dir.to_path_buf(),
        epochs,
        batch_size: 8,
        lr,
        optimizer,
        schedule: ScheduleSpec::Constant,
        warmup_epochs: 0,
        seed: 1,
        num_workers: 1,
        quiet: true,
        resume_from: None,
        devices: Vec::new(),
        ddp: false,
    }
}
