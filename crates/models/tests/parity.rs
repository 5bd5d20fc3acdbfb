//! PyTorch parity: weights written by `scripts/make_parity_fixtures.py` (random weights,
//! randomised batch-norm statistics, eval mode) load strictly and give PyTorch's outputs.
//!
//! The small fixtures are committed; the full-size torchvision ones (resnet18, resnet50,
//! densenet121) are checked when `scripts/make_parity_fixtures.py --full` has written them.
#![cfg(feature = "interop")]

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleSnapshot;
use burn::tensor::{Device, Tensor, TensorData};
use skipnet_models::interop::{
    load_pretrained, load_weights, save_torch_safetensors, torch_state_dict_shapes,
};
use skipnet_models::{DenseNetConfig, DenseStem, Model, ModelConfig, UNetConfig};

const TOLERANCE: f32 = 1e-4;

fn fixtures(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(folder)
}

fn manifest(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// The skipnet configuration of a fixture case.
fn config(case: &serde_json::Value) -> ModelConfig {
    let arch = case["arch"].as_str().expect("arch");
    match arch {
        // torchvision's DenseNet class with a tiny configuration (not a registry name).
        "densenet-tiny" => ModelConfig::DenseNet(
            DenseNetConfig::new(8, vec![2, 3], 16)
                .with_bn_size(2)
                .with_stem(DenseStem::ImageNet)
                .with_num_classes(10),
        ),
        "unet" => ModelConfig::UNet(
            UNetConfig::new(3, 1).with_base_width(case["unet_width"].as_u64().unwrap() as usize),
        ),
        name => ModelConfig::from_name(name).expect("registry name"),
    }
}

fn forward(model: &Model, input: Tensor<4>) -> TensorData {
    match model.forward_classification(input.clone()) {
        Some(logits) => logits.into_data(),
        None => model.forward_segmentation(input).unwrap().into_data(),
    }
}

fn npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let array = skipnet_data::npy::read(path).expect("npy fixture");
    (array.shape, array.data)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// `model`'s PyTorch keys and shapes equal the `key [shape]` lines of `keys_file` (written by the
/// fixture script from `state_dict()`), less batch norm's `num_batches_tracked`.
fn assert_torch_keys(model: &Model, keys_file: &Path, what: &str) {
    let text = std::fs::read_to_string(keys_file).unwrap();
    let mut torch: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("num_batches_tracked"))
        .collect();
    let mut ours: Vec<String> = torch_state_dict_shapes(model)
        .into_iter()
        .map(|(k, s)| format!("{k} {s:?}"))
        .collect();
    torch.sort();
    ours.sort();
    assert_eq!(ours, torch, "{what}: exported keys differ from PyTorch's");
}

/// Loads every case of `dir`, checks outputs, and checks that the export names every tensor
/// exactly as PyTorch's state_dict does. Returns `(case, max |Δ|)`.
fn check_cases(dir: &Path) -> Vec<(String, f32)> {
    let device = Device::flex();
    let mut measured = Vec::new();
    for (name, case) in manifest(dir) {
        let case_dir = dir.join(&name);
        let config = config(&case);
        let model = config.init(&device).unwrap();
        let weights = case_dir.join(case["weights"].as_str().unwrap());
        let model = load_weights(model, &weights)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .valid();
        let (input_shape, input) = npy(&case_dir.join("input.npy"));
        let input = Tensor::<4>::from_data(TensorData::new(input, input_shape), &device);
        let (shape, expected) = npy(&case_dir.join("expected.npy"));
        let output = forward(&model, input);
        assert_eq!(output.shape().to_vec(), shape, "{name}: output shape");
        let diff = max_abs_diff(&output.try_to_vec::<f32>().unwrap(), &expected);
        assert!(
            diff <= TOLERANCE,
            "{name}: max |Δ| = {diff:e} > {TOLERANCE:e}"
        );
        measured.push((name.clone(), diff));

        // Export: the same keys and shapes as PyTorch's state_dict (less num_batches_tracked).
        assert_torch_keys(&model, &case_dir.join("keys.txt"), &name);
    }
    measured
}

/// With `SKIPNET_RESULTS=<folder>`, writes `<folder>/<file>` — the JSON that README's parity
/// figures come from: every case's max |Δ|, the tolerance, the backend and the CPU.
fn record(file: &str, fixtures: &str, measured: &[(String, f32)]) {
    for (name, diff) in measured {
        println!("{name}: max |Δ| = {diff:e}");
    }
    let Some(folder) = std::env::var_os("SKIPNET_RESULTS") else {
        return;
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        cpuinfo
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map_or(String::new(), |(_, v)| v.trim().to_string())
    };
    let cases: serde_json::Map<String, serde_json::Value> = measured
        .iter()
        .map(|(name, diff)| (name.clone(), serde_json::json!(f64::from(*diff))))
        .collect();
    let json = serde_json::json!({
        "command": "SKIPNET_RESULTS=docs/results cargo test --workspace --features xtask/wgpu,xtask/ndarray --test parity",
        "fixtures": fixtures,
        "backend": "flex",
        "tolerance": format!("{TOLERANCE:e}"),
        "cpu": format!("{} (family {}, model {})", field("model name"), field("cpu family"), field("model\t")),
        "max_abs_diff": cases,
    });
    // Relative to the workspace root, as the command is typed there.
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(folder);
    let path = folder.join(file);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap() + "\n").unwrap();
    println!("wrote {}", path.display());
}

#[test]
fn small_fixtures_match_pytorch() {
    let measured = check_cases(&fixtures("interop"));
    assert_eq!(measured.len(), 9, "every committed case ran");
    record(
        "parity-small-fixtures.json",
        "crates/models/tests/fixtures/interop",
        &measured,
    );
}

#[test]
fn full_size_torchvision_fixtures_match_pytorch_when_present() {
    let dir = fixtures("interop-full");
    if !dir.join("manifest.json").is_file() {
        eprintln!(
            "skipped: run `python3 scripts/make_parity_fixtures.py --full` to write {}",
            dir.display()
        );
        return;
    }
    let measured = check_cases(&dir);
    record(
        "parity-full-size.json",
        "crates/models/tests/fixtures/interop-full",
        &measured,
    );
}

/// Export → load round trip: a saved model loads back (strictly) with identical outputs.
#[test]
fn exported_safetensors_load_back_identically() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    for arch in [
        "cifar-resnet8-b",
        "cifar-densenet40",
        "highway-mlp",
        "cifar-wrn10-2",
    ] {
        let config = ModelConfig::from_name(arch).unwrap();
        let model = config.init(&device).unwrap().valid();
        let path = dir.path().join(format!("{arch}.safetensors"));
        save_torch_safetensors(&model, &path).unwrap();
        let loaded = load_weights(config.init(&device).unwrap(), &path)
            .unwrap()
            .valid();
        let [c, h, w] = config.default_input();
        let x = Tensor::<4>::random([2, c, h, w], burn::tensor::Distribution::Default, &device);
        let a = forward(&model, x.clone()).try_to_vec::<f32>().unwrap();
        let b = forward(&loaded, x).try_to_vec::<f32>().unwrap();
        assert_eq!(max_abs_diff(&a, &b), 0.0, "{arch}");
    }
}

/// Every ImageNet architecture exports exactly torchvision's state_dict keys and shapes (the
/// lists are written by `make_parity_fixtures.py --keys`), so torchvision checkpoints of each
/// load and exports load back into torchvision.
#[test]
fn every_imagenet_architecture_has_torchvisions_keys() {
    let dir = fixtures("interop/torchvision-keys");
    let device = Device::flex();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let arch = path.file_stem().unwrap().to_str().unwrap().to_string();
        let model = ModelConfig::from_name(&arch)
            .unwrap()
            .init(&device)
            .unwrap();
        assert_torch_keys(&model, &path, &arch);
        checked += 1;
    }
    assert_eq!(checked, 11);
}

#[test]
fn pretrained_weights_load_into_another_number_of_classes_with_a_fresh_classifier() {
    let device = Device::flex();
    let weights = fixtures("interop").join("cifar-resnet20/weights.pth");
    let ten = load_weights(
        ModelConfig::from_name("cifar-resnet20")
            .unwrap()
            .init(&device)
            .unwrap(),
        &weights,
    )
    .unwrap();
    let three = || {
        ModelConfig::from_name("cifar-resnet20")
            .unwrap()
            .with_num_classes(3)
            .init(&device)
            .unwrap()
    };
    // Strict loading refuses the other classifier and names it.
    let err = load_weights(three(), &weights).unwrap_err().to_string();
    assert!(
        err.contains("linear.weight: model has [3, 64], file has [10, 64]"),
        "{err}"
    );
    let (model, skipped) = load_pretrained(three(), &weights).unwrap();
    assert_eq!(
        skipped,
        [
            "linear.weight: model has [3, 64], file has [10, 64]",
            "linear.bias: model has [3], file has [10]"
        ]
    );
    // Everything but the classifier is the file's.
    let tensors = |m: &Model| {
        m.collect(None, None, false)
            .into_iter()
            .map(|t| (t.name.clone(), t.to_bytes().unwrap().to_vec()))
            .collect::<Vec<_>>()
    };
    let (ours, file) = (tensors(&model), tensors(&ten));
    assert_eq!(ours.len(), file.len());
    let mut compared = 0;
    for ((path, a), (_, b)) in ours.iter().zip(&file) {
        if path.contains("fc.") {
            continue;
        }
        assert_eq!(a, b, "{path}");
        compared += 1;
    }
    assert!(compared > 50, "{compared} tensors compared");
    let logits = model
        .forward_classification(Tensor::zeros([1, 3, 32, 32], &device))
        .unwrap();
    assert_eq!(logits.dims(), [1, 3]);
    // The same number of classes: nothing skipped; another architecture: still strict.
    let (_, none) = load_pretrained(
        ModelConfig::from_name("cifar-resnet20")
            .unwrap()
            .init(&device)
            .unwrap(),
        &weights,
    )
    .unwrap();
    assert!(none.is_empty());
    let err = load_pretrained(
        ModelConfig::from_name("cifar-resnet32")
            .unwrap()
            .with_num_classes(3)
            .init(&device)
            .unwrap(),
        &weights,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("missing keys"), "{err}");
}
