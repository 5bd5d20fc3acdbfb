//! The `forward` example builds a model by name, loads PyTorch weights and runs it: on a parity
//! fixture its output is PyTorch's.
#![cfg(feature = "interop")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let target = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    target.join("examples").join(name)
}

#[test]
fn forward_example_loads_pytorch_weights_and_matches_pytorch() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/interop/cifar-resnet20");
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("y.npy");
    let out = Command::new(example("forward"))
        .arg("cifar-resnet20")
        .arg(fixture.join("weights.pth"))
        .arg(fixture.join("input.npy"))
        .arg(&output)
        .output()
        .expect("example starts");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("cifar-resnet20: 269722 parameters"), "{text}");
    let ours = skipnet_data::npy::read(&output).unwrap();
    let torch = skipnet_data::npy::read(&fixture.join("expected.npy")).unwrap();
    assert_eq!(ours.shape, torch.shape);
    let diff = ours
        .data
        .iter()
        .zip(&torch.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff <= 1e-4, "max |Δ| = {diff}");

    let out = Command::new(example("forward"))
        .arg("resnet19")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("did you mean resnet18"), "{text}");
}
