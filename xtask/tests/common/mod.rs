//! Running the `xtask` binary from integration tests.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `xtask args…` in `cwd` (with no `SKIPNET_DATA` from the environment).
pub fn xtask<S: AsRef<OsStr>>(args: &[S], cwd: &Path) -> Output {
    run(args, cwd, None)
}

/// Runs `xtask args…` under `ulimit -v address_space_kib` when given.
pub fn run<S: AsRef<OsStr>>(args: &[S], cwd: &Path, address_space_kib: Option<u64>) -> Output {
    let mut command = match address_space_kib {
        Some(kib) => {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!("ulimit -v {kib}; exec \"$0\" \"$@\""))
                .arg(env!("CARGO_BIN_EXE_xtask"));
            sh
        }
        None => Command::new(env!("CARGO_BIN_EXE_xtask")),
    };
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("SKIPNET_DATA")
        .output()
        .expect("run xtask")
}

/// stdout and stderr together.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The epoch column of a run's metrics.csv.
pub fn csv_epochs(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect()
}
