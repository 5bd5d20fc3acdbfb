//! libtorch for the `tch` backend: `cargo xtask libtorch` installs it, `--backend tch` finds it.
//!
//! burn-tch 0.22 builds on tch 0.22, which compiles its C++ glue against libtorch 2.9.0 and
//! links it dynamically. libtorch comes from PyPI's `torch==2.9.0` wheel, installed into a
//! virtual environment of its own, so nothing is downloaded from outside the registries and the
//! system's Python stays untouched. The build gets `LIBTORCH=<env>/…/site-packages/torch`;
//! `xtask/build.rs` writes its library folder into the binary's run path, so the binary starts
//! without `LD_LIBRARY_PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

/// The libtorch version tch 0.22 is written against (torch-sys's `TORCH_VERSION`).
pub(crate) const TORCH_VERSION: &str = "2.9.0";

/// Where `cargo xtask libtorch` installs by default: `$SKIPNET_LIBTORCH_DIR`, else
/// `$XDG_CACHE_HOME/skipnet/libtorch-2.9.0` (`~/.cache/...`).
pub(crate) fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SKIPNET_LIBTORCH_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache
        .join("skipnet")
        .join(format!("libtorch-{TORCH_VERSION}"))
}

#[derive(Args, Debug)]
pub struct LibtorchArgs {
    /// Virtual environment to install into (default `$SKIPNET_LIBTORCH_DIR`, else
    /// `~/.cache/skipnet/libtorch-2.9.0`).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Python used to create the environment.
    #[arg(long, default_value = "python3")]
    python: String,
}

/// The `torch/lib` folder of an environment, when torch is installed in it.
fn torch_lib(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    std::fs::read_dir(&lib)
        .ok()?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join("site-packages/torch/lib"))
        .find(|torch_lib| torch_lib.join("libtorch_cpu.so").is_file())
}

/// The environment variables for a cargo build with `--features tch`: none when the user has
/// pointed torch-sys at a libtorch already (`LIBTORCH` or `LIBTORCH_USE_PYTORCH`), else
/// `LIBTORCH` at the torch folder of the environment `cargo xtask libtorch` made.
pub(crate) fn build_env() -> Result<Vec<(String, String)>> {
    if std::env::var_os("LIBTORCH").is_some() || std::env::var_os("LIBTORCH_USE_PYTORCH").is_some()
    {
        return Ok(Vec::new());
    }
    let venv = default_dir();
    let Some(lib) = torch_lib(&venv) else {
        bail!(
            "the tch backend needs libtorch {TORCH_VERSION}, and there is none in {}; run \
             `cargo xtask libtorch` once (installs torch=={TORCH_VERSION} from PyPI into that \
             folder, about 4 GB with its CUDA libraries) or set LIBTORCH to a libtorch \
             {TORCH_VERSION} folder",
            venv.display()
        );
    };
    let torch = lib.parent().unwrap_or(&lib);
    // torch-sys takes `LIBTORCH/include` and `LIBTORCH/lib`, the layout of the wheel's `torch`
    // folder; PyPI's wheels since 2.7 use the C++11 ABI, torch-sys's default.
    Ok(vec![("LIBTORCH".into(), torch.display().to_string())])
}

/// `cargo xtask libtorch`: creates the environment and installs torch into it.
pub fn run(args: &LibtorchArgs) -> Result<()> {
    let venv = args.dir.clone().unwrap_or_else(default_dir);
    if let Some(lib) = torch_lib(&venv) {
        println!("libtorch is already installed: {}", lib.display());
        return Ok(());
    }
    if !venv.join("bin/python").exists() {
        eprintln!("creating a Python environment in {}", venv.display());
        run_step(
            Command::new(&args.python).args(["-m", "venv"]).arg(&venv),
            &format!("{} -m venv {}", args.python, venv.display()),
        )?;
    }
    eprintln!("installing torch=={TORCH_VERSION} from PyPI into it (about 4 GB)…");
    let pip = venv.join("bin/pip");
    run_step(
        Command::new(&pip).args([
            "install",
            "--disable-pip-version-check",
            &format!("torch=={TORCH_VERSION}"),
        ]),
        &format!("{} install torch=={TORCH_VERSION}", pip.display()),
    )?;
    let Some(lib) = torch_lib(&venv) else {
        bail!(
            "pip finished but {} has no torch/lib/libtorch_cpu.so",
            venv.display()
        );
    };
    println!("libtorch {TORCH_VERSION}: {}", lib.display());
    println!("the tch backend is now one flag away: cargo xtask train --backend tch");
    Ok(())
}

fn run_step(command: &mut Command, shown: &str) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_torch_lib_of_any_python_version() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(torch_lib(dir.path()), None);
        let lib = dir.path().join("lib/python3.12/site-packages/torch/lib");
        std::fs::create_dir_all(&lib).unwrap();
        assert_eq!(torch_lib(dir.path()), None, "no libtorch_cpu.so yet");
        std::fs::write(lib.join("libtorch_cpu.so"), b"").unwrap();
        assert_eq!(torch_lib(dir.path()), Some(lib));
    }
}
