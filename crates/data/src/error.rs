//! Errors of the dataset readers. Each one names the file (or folder) and what was expected.

use std::path::{Path, PathBuf};

/// Everything that can be wrong with data on disk.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Data that are not there, with what was looked for and how to get it.
    #[error("{what} not found at {path}: looked for {looked_for}. {how_to_get}")]
    Missing {
        /// The dataset or file kind.
        what: String,
        /// Where it was looked for.
        path: PathBuf,
        /// The files or layout expected there.
        looked_for: String,
        /// How to obtain the data.
        how_to_get: String,
    },
    /// A file or folder that cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file whose content does not match its format.
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// An image (or mask) that cannot be decoded.
    #[error("cannot decode image {path}: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's reason.
        reason: String,
    },
    /// A folder with nothing usable in it.
    #[error("{path} is empty: expected {expected}")]
    Empty {
        /// The folder.
        path: PathBuf,
        /// What it should contain.
        expected: String,
    },
    /// An image and its mask that do not belong together.
    #[error("{image} and its mask {mask}: {problem}")]
    Pairing {
        /// The image.
        image: PathBuf,
        /// The mask.
        mask: PathBuf,
        /// What does not match.
        problem: String,
    },
    /// A dataset that could not be downloaded, or whose download is not the published file.
    #[cfg(feature = "download")]
    #[error("cannot get {dataset}: {error}{}", download_hint(error, by_hand))]
    Download {
        /// The dataset.
        dataset: String,
        /// What went wrong.
        error: Box<skipnet_core::download::DownloadError>,
        /// Where the files go when they are fetched by hand.
        by_hand: String,
    },
    /// An argument out of range (split fraction, crop size, sample count...).
    #[error("invalid {what}: {problem}")]
    Invalid {
        /// The argument.
        what: String,
        /// What is wrong and what is allowed.
        problem: String,
    },
}

/// For a download that did not arrive: how to do without the network.
#[cfg(feature = "download")]
fn download_hint(error: &skipnet_core::download::DownloadError, by_hand: &str) -> String {
    match error {
        skipnet_core::download::DownloadError::Http { .. } => {
            format!(". Without network access, download elsewhere and {by_hand}")
        }
        _ => String::new(),
    }
}

impl DataError {
    pub(crate) fn format(path: &Path, problem: impl Into<String>) -> Self {
        DataError::Format {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn decode(path: &Path, reason: impl ToString) -> Self {
        DataError::Decode {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn invalid(what: &str, problem: impl Into<String>) -> Self {
        DataError::Invalid {
            what: what.to_string(),
            problem: problem.into(),
        }
    }
}

/// Result with a [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}

/// The entries of a folder, sorted by name, naming the folder in the error.
pub(crate) fn read_dir_sorted(path: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(path).map_err(|e| DataError::io(path, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        paths.push(entry.map_err(|e| DataError::io(path, e))?.path());
    }
    paths.sort();
    Ok(paths)
}

/// The error of a `Dataset::get` past the end.
pub(crate) fn past_the_end(index: usize, len: usize) -> burn::data::dataset::DatasetError {
    burn::data::dataset::DatasetError::new(DataError::invalid(
        "index",
        format!("{index} is past the end of a {len}-item dataset"),
    ))
}
