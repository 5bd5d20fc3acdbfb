//! # skipnet-train
//!
//! Training for the skipnet zoo: backend selection today; burn-train learners, metrics and
//! schedules build on it.

pub mod backend;

pub use backend::{Backend, BackendError};
