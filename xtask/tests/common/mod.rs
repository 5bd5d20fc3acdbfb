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

/// `train` of cifar-resnet8 on synthetic shapes into `runs/<name>`: `train_size` items, 16
/// validation items, batch 16.
pub fn tiny_train_args(name: &str, epochs: &str, train_size: &str) -> Vec<String> {
    [
        "train",
        "--train-size",
        train_size,
        "--valid-size",
        "16",
        "--batch-size",
        "16",
        "--arch",
        "cifar-resnet8",
        "--out",
        "runs",
        "--name",
        name,
        "--epochs",
        epochs,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The largest element-wise |a - b|.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A fixed, patterned `[2, 3, 32, 32]` input in [-1, 1], written to `path` as .npy.
pub fn write_patterned_input(path: &Path) -> skipnet_data::npy::NpyArray {
    let input = skipnet_data::npy::NpyArray {
        shape: vec![2, 3, 32, 32],
        data: (0..2 * 3 * 32 * 32)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect(),
    };
    skipnet_data::npy::write(&input, path).unwrap();
    input
}
