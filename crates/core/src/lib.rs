//! # skipnet-core
//!
//! What every skipnet crate shares, so that the model zoo (`skipnet-models`) and the data
//! (`skipnet-data`) need not depend on each other: the [`Task`] a model or a dataset serves,
//! and [`atomic`] file writes, the one way every file of the project is written; with the
//! `download` feature, checked downloads (`download`) for the weights hub and the datasets.

#![warn(missing_docs)]

pub mod atomic;
#[cfg(feature = "download")]
pub mod download;

/// What a model maps an image to, and what a dataset's labels are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// `[batch, num_classes]` logits; a class per image.
    Classification,
    /// `[batch, out_channels, height, width]` per-pixel logits; a mask per image.
    Segmentation,
}

impl Task {
    /// `classification` or `segmentation`.
    pub fn name(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Segmentation => "segmentation",
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// This crate's README (its crates.io page), whose example compiles as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct CrateReadmeDoctests;
