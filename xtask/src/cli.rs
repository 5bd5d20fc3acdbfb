//! What every command shares: closed sets as clap values, and the backend choice (which
//! rebuilds the command with the backend's cargo feature when this build lacks it).

use std::ffi::OsStr;
use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use clap::builder::{PossibleValue, TypedValueParser};
use skipnet_train::{Backend, ScheduleSpec};

/// A clap value parser for a closed set `T`: the values `--help` lists are `T`'s
/// `ValueEnum` variants, and a wrong value is refused with `T`'s own `FromStr` message (which
/// names the valid values).
#[derive(Clone)]
pub struct ClosedSet<T>(PhantomData<T>);

impl<T> ClosedSet<T> {
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T> TypedValueParser for ClosedSet<T>
where
    T: ValueEnum + FromStr + Clone + Send + Sync + 'static,
    T::Err: Display,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        text.parse::<T>().map_err(|e| {
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{e}\n")).with_cmd(cmd)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            T::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value),
        ))
    }
}

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

/// `--optimizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    /// SGD, momentum 0.9 (He et al.).
    Sgd,
    /// AdamW.
    Adamw,
}

impl FromStr for OptimizerArg {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        <Self as ValueEnum>::from_str(name, false)
            .map_err(|_| format!("unknown optimizer '{name}'; valid: sgd, adamw"))
    }
}

/// `--schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    /// ÷10 at 50 % and 75 % of the run (He et al.).
    Step,
    /// Cosine annealing to zero.
    Cosine,
    /// Constant.
    Constant,
}

impl FromStr for ScheduleArg {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        <Self as ValueEnum>::from_str(name, false)
            .map_err(|_| format!("unknown schedule '{name}'; valid: step, cosine, constant"))
    }
}

impl ScheduleArg {
    /// The schedule this flag means.
    pub fn spec(self) -> ScheduleSpec {
        match self {
            ScheduleArg::Step => ScheduleSpec::he_step(),
            ScheduleArg::Cosine => ScheduleSpec::Cosine,
            ScheduleArg::Constant => ScheduleSpec::Constant,
        }
    }
}
