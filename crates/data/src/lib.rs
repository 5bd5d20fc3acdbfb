//! # skipnet-data
//!
//! Datasets for skipnet: readers for the formats users have and built-in synthetic data.

/// The default data root, relative to the working directory; override with `SKIPNET_DATA`.
pub const DEFAULT_DATA_ROOT: &str = "datasets";

/// The data root: `$SKIPNET_DATA` when set, else [`DEFAULT_DATA_ROOT`].
pub fn data_root() -> std::path::PathBuf {
    std::env::var_os("SKIPNET_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| DEFAULT_DATA_ROOT.into())
}
