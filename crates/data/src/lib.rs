//! # skipnet-data
//!
//! Datasets for skipnet: readers for the formats users have (CIFAR-10/100 binary, IDX, image
//! folders, image+mask folders), built-in synthetic datasets, augmentation, and batchers that
//! build tensors on the target device. Every reader validates as it reads and reports bad input
//! as a [`DataError`] naming the file and what was expected.

#![warn(missing_docs)]

pub mod batch;
pub mod cifar;
pub mod classes;
#[cfg(feature = "download")]
pub mod download;
pub mod error;
pub mod folder;
pub mod idx;
pub mod image;
pub mod inspect;
pub mod item;
pub mod labels;
pub mod loader;
pub mod npy;
pub mod preprocess;
pub mod registry;
pub mod segmentation;
pub mod split;
pub mod synthetic;
pub mod transform;
pub mod weightmap;

pub use error::{DataError, Result};

/// The generator behind every random draw of the data (synthetic items, subsets and splits,
/// augmentation, batch order): ChaCha12, named rather than taken as `rand`'s `StdRng`, whose
/// algorithm is not promised to stay the same across `rand` versions — the same seed must give
/// the same bytes. Seed it with `rand::SeedableRng::seed_from_u64`.
pub type DataRng = rand::rngs::ChaCha12Rng;
pub use item::{ClassificationItem, SegmentationItem, Split};
pub use preprocess::{Preprocessing, Preset};
pub use registry::{DatasetKind, DatasetSpec, Splits};

/// The default data root, relative to the working directory; override with `SKIPNET_DATA` or
/// the command line's `--data-dir`.
pub const DEFAULT_DATA_ROOT: &str = "datasets";

/// The data root: `$SKIPNET_DATA` when set, else [`DEFAULT_DATA_ROOT`].
pub fn data_root() -> std::path::PathBuf {
    std::env::var_os("SKIPNET_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| DEFAULT_DATA_ROOT.into())
}

/// This crate's README (its crates.io page), whose example compiles as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct CrateReadmeDoctests;
