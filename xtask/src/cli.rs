//! What every command shares: closed sets as clap values, and the backend choice (which
//! rebuilds the command with the backend's cargo feature when this build lacks it).

use std::str::FromStr;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use skipnet_train::Backend;

pub use skipnet_train::cli::{ArchName, ClosedSet};

/// `--backend`: a backend, or `auto` (the fastest CPU backend compiled in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    Auto,
    Flex,
    Ndarray,
    Wgpu,
    Cuda,
    Tch,
}

impl FromStr for BackendArg {
    type Err = skipnet_train::BackendError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        // Backend's parser names every valid value in its error.
        let backend: Backend = name.parse()?;
        Ok(if name == "auto" {
            BackendArg::Auto
        } else {
            BackendArg::from(backend)
        })
    }
}

impl From<Backend> for BackendArg {
    fn from(backend: Backend) -> Self {
        match backend {
            Backend::Flex => BackendArg::Flex,
            Backend::Ndarray => BackendArg::Ndarray,
            Backend::Wgpu => BackendArg::Wgpu,
            Backend::Cuda => BackendArg::Cuda,
            Backend::Tch => BackendArg::Tch,
        }
    }
}

impl BackendArg {
    /// The backend this choice means in this build.
    pub fn backend(self) -> Backend {
        match self {
            BackendArg::Auto => Backend::auto(),
            BackendArg::Flex => Backend::Flex,
            BackendArg::Ndarray => Backend::Ndarray,
            BackendArg::Wgpu => Backend::Wgpu,
            BackendArg::Cuda => Backend::Cuda,
            BackendArg::Tch => Backend::Tch,
        }
    }
}

/// The backend to run on; re-runs this command with the right cargo feature when the current
/// build does not include it (then `None`: the re-run did the work).
pub fn select_backend(choice: BackendArg) -> Result<Option<Backend>> {
    let backend = choice.backend();
    if backend.is_compiled() {
        return Ok(Some(backend));
    }
    let name = backend.name();
    if std::env::var_os("SKIPNET_REEXEC").is_some() {
        bail!("backend '{name}' is still not compiled in after rebuilding with --features {name}");
    }
    let build_env = match backend {
        Backend::Tch => crate::libtorch::build_env()?,
        _ => Vec::new(),
    };
    eprintln!("building xtask with --features {name} for the {name} backend…");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .envs(build_env)
        .args([
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--features",
            name,
            "--",
        ])
        .args(std::env::args().skip(1))
        .env("SKIPNET_REEXEC", "1")
        .status()
        .context("cannot run cargo to build the requested backend")?;
    if !status.success() {
        bail!("the command with --backend {name} failed ({status})");
    }
    Ok(None)
}
