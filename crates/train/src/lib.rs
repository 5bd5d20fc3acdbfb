//! # skipnet-train
//!
//! Training for the skipnet zoo on burn-train: backend selection, the classification and
//! segmentation learner models, losses and metrics, optimisers and schedules, per-epoch history.

pub mod backend;
pub mod classification;
pub mod fit;
pub mod guard;
pub mod history;
pub mod optim;
pub mod plots;
pub mod preflight;
pub mod progress;
pub mod segmentation;

pub use backend::{Backend, BackendError};
pub use fit::{FitError, FitOptions, FitResult, fit_classifier, fit_segmenter};
