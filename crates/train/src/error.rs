//! The one error type of the crate: each variant names the file, folder or value concerned and
//! what was expected.

use std::path::PathBuf;

use skipnet_data::DataError;
use skipnet_models::ModelError;
use skipnet_models::interop::WeightsError;

use crate::backend::BackendError;

/// Everything that can stop a run, before or during training, or a read of a run folder.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A setting out of range.
    #[error("invalid {what}: {problem}")]
    Invalid {
        /// The setting.
        what: String,
        /// What is wrong.
        problem: String,
    },
    /// The data could not be read or are not what the run needs.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The model configuration is invalid.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Weights that cannot be read, written or loaded into the model.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// Pretrained weights by name could not be had.
    #[error(transparent)]
    Hub(#[from] skipnet_models::hub::HubError),
    /// The backend is not usable in this build or on this machine.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A file or folder of the run that cannot be read or written.
    #[error("{}: {problem}", path.display())]
    File {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong, and what to do where there is something to do.
        problem: String,
    },
    /// The run folder cannot be created or written, or its disk is too full.
    #[error("{0}")]
    RunFolder(String),
    /// The run folder already holds a run.
    #[error(
        "{} already holds a run (checkpoint of epoch {epoch}); pass `resume` to continue it, or another `name`",
        dir.display()
    )]
    RunExists {
        /// The run folder.
        dir: PathBuf,
        /// Its latest checkpoint.
        epoch: usize,
    },
    /// Resuming a folder that has no usable checkpoint.
    #[error("nothing to resume: {} has no complete, readable checkpoint", dir.join("checkpoint").display())]
    NothingToResume {
        /// The run folder.
        dir: PathBuf,
    },
    /// burn-train stopped with an error.
    #[error("training failed: {0}")]
    Training(String),
    /// The loss became NaN or infinite.
    #[error(
        "training stopped: non-finite loss at epoch {epoch}, step {step}; {}",
        match last_good {
            Some(e) => format!("the last good checkpoint is epoch {e} (continue with `resume` after lowering `lr`)"),
            None => "no epoch completed, so there is no checkpoint".to_string(),
        }
    )]
    NonFinite {
        /// Epoch of the bad step.
        epoch: usize,
        /// Step within that epoch.
        step: usize,
        /// The latest complete checkpoint, if any.
        last_good: Option<usize>,
    },
}

impl TrainError {
    /// A setting out of range.
    pub fn invalid(what: &str, problem: impl Into<String>) -> Self {
        TrainError::Invalid {
            what: what.into(),
            problem: problem.into(),
        }
    }

    /// A file or folder problem.
    pub fn file(path: impl Into<PathBuf>, problem: impl ToString) -> Self {
        TrainError::File {
            path: path.into(),
            problem: problem.to_string(),
        }
    }
}

/// Result with a [`TrainError`].
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
