//! The examples are what a user's crate would write: they train, resume and evaluate through
//! `skipnet_train::run` alone. Run here at a tiny size (cargo builds examples with the tests).

use std::path::PathBuf;
use std::process::Command;

/// The example binary `name`, built by cargo beside this test's own binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let target = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = target.join("examples").join(name);
    assert!(
        path.is_file(),
        "{} not built (cargo test builds examples)",
        path.display()
    );
    path
}

fn run(name: &str, args: &[&str]) -> String {
    let out = Command::new(example(name))
        .args(args)
        .output()
        .expect("example starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} {args:?} failed:\n{text}");
    text
}

fn csv_epochs(run: &std::path::Path) -> Vec<String> {
    let csv = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect()
}

#[cfg(feature = "flex")]
#[test]
fn train_resnet_example_trains_resumes_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("resnet");
    let text = run("train_resnet", &[run_dir.to_str().unwrap(), "1", "24"]);
    assert!(text.contains("after 1 epochs:"), "{text}");
    assert!(text.contains("resuming"), "{text}");
    assert!(text.contains("after 2 epochs:"), "{text}");
    assert!(text.contains("evaluated on 4 images:"), "{text}");
    assert_eq!(csv_epochs(&run_dir), ["1", "2"]);
    let config = skipnet_train::RunFolder::new(&run_dir)
        .read_config()
        .unwrap();
    assert_eq!(
        (config.arch.as_str(), config.spec.arch()),
        ("cifar-resnet20", "cifar-resnet20".into())
    );
    assert_eq!(config.spec.epochs, 2);
    assert_eq!(config.input, Some([3, 32, 32]));
}

#[cfg(feature = "flex")]
#[test]
fn train_unet_example_trains_and_scores_masks() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("unet");
    let text = run("train_unet", &[run_dir.to_str().unwrap(), "1", "4", "4"]);
    assert!(text.contains("validation Dice"), "{text}");
    assert!(text.contains("pooled Dice"), "{text}");
    assert_eq!(csv_epochs(&run_dir), ["1"]);
    assert!(run_dir.join("overlays/valid_000.png").is_file());
}
