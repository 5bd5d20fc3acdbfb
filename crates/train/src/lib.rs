//! # skipnet-train
//!
//! Training for the skipnet zoo on burn-train. [`run`] takes a [`TrainSpec`] (model, data,
//! recipe) and [`RunOptions`] (run folder, backend, resume) and owns the whole run: data,
//! model, checkpoints, metrics, plots, the final model. [`RunFolder`] reads a run back.
//!
//! ```no_run
//! use skipnet_data::{DatasetKind, DatasetSpec};
//! use skipnet_train::{Metric, RunOptions, TrainSpec, run};
//!
//! let spec = TrainSpec::he2015("cifar-resnet20", DatasetSpec::new(DatasetKind::SyntheticShapes))?
//!     .with_epochs(2);
//! let result = run(&spec, &RunOptions::new("runs/resnet20"))?;
//! println!("validation accuracy {:.1} %", result.last(Metric::VALID_ACCURACY));
//! # Ok::<(), skipnet_train::TrainError>(())
//! ```
//!
//! ## Build profile
//!
//! The CPU kernels are dependencies (Burn's backends, the `gemm` crate), and Cargo builds them
//! with *your* workspace's profile. Dependencies built with debug assertions (the dev
//! profile's default, which keeps the standard library's unsafe-precondition checks inside the
//! GEMM microkernels) made flex's training steps 1.75× slower in this project's measurement
//! (`docs/results/dev-profile-ab/summary.md` in its repository). Build with
//! `--release`, or give your dev profile what this project's workspace uses:
//!
//! ```toml
//! [profile.dev.package."*"]
//! opt-level = 3
//! debug-assertions = false
//! overflow-checks = false
//! ```

#![warn(missing_docs)]

pub mod backend;
pub mod classification;
#[cfg(feature = "clap")]
pub mod cli;
pub mod error;
pub mod evaluate;
pub mod fit;
pub mod folder;
pub mod gradients;
pub mod guard;
pub mod history;
pub mod instances;
pub mod metric;
pub mod optim;
pub mod plots;
pub mod preflight;
pub mod progress;
pub mod run;
pub mod segmentation;
pub mod spec;
pub mod sweep;
mod task;
pub mod timing;

pub use backend::{Backend, BackendError};
pub use error::TrainError;
pub use evaluate::{Evaluation, evaluate, evaluate_model, evaluate_segmenter};
pub use fit::{Fit, FitResult, fit_classifier, fit_segmenter};
pub use folder::{CheckpointChoice, ModelRecipe, RunConfig, RunFolder};
pub use metric::{Metric, MetricKey, Split};
pub use optim::{OptimizerKind, OptimizerSpec, ScheduleKind, ScheduleSpec};
pub use run::{RunResult, run};
pub use spec::{RunOptions, SpecOverrides, TrainSpec};
pub use sweep::{Cell, Column, Spread, Sweep, SweepResults, SweepRun};

/// The README's Rust snippets, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// This crate's README (its crates.io page), whose example compiles as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct CrateReadmeDoctests;
