//! Property tests (a brief fuzzer, run in CI) for the weight readers: random bytes, and valid
//! `.safetensors` / `.pth` / `.bpk` files truncated or with bytes overwritten, must load or fail
//! with an error naming the file — never panic, never hang.
#![cfg(feature = "interop")]

use std::path::Path;
use std::sync::LazyLock;

use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Device;
use proptest::prelude::*;
use skipnet_models::interop::{WeightsError, load_weights, save_torch_safetensors};
use skipnet_models::{Model, ModelConfig};

fn model() -> Model {
    ModelConfig::from_name("cifar-resnet8")
        .unwrap()
        .init(&Device::flex())
        .unwrap()
}

/// Valid files of every format, as bytes.
static VALID: LazyLock<Vec<(&'static str, Vec<u8>)>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("w.safetensors");
    save_torch_safetensors(&model(), &st).unwrap();
    let bpk = dir.path().join("w.bpk");
    let mut store = BurnpackStore::from_file(&bpk).auto_extension(false);
    model().save_into(&mut store).unwrap();
    let pth = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/interop/cifar-plain8/weights.pth");
    vec![
        ("safetensors", std::fs::read(&st).unwrap()),
        ("bpk", std::fs::read(&bpk).unwrap()),
        ("pth", std::fs::read(pth).unwrap()),
    ]
});

fn load_bytes(extension: &str, bytes: &[u8]) -> Result<(), WeightsError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("fuzz.{extension}"));
    std::fs::write(&path, bytes).unwrap();
    let config = if extension == "pth" {
        "cifar-plain8"
    } else {
        "cifar-resnet8"
    };
    let model = ModelConfig::from_name(config)
        .unwrap()
        .init(&Device::flex())
        .unwrap();
    match load_weights(model, &path) {
        Ok(_) => Ok(()),
        Err(e) => {
            assert!(
                e.to_string().contains("fuzz."),
                "error does not name the file: {e}"
            );
            Err(e)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_bytes_are_errors(
        bytes in proptest::collection::vec(any::<u8>(), 0..2000),
        format in 0usize..3,
    ) {
        let extension = VALID[format].0;
        prop_assert!(load_bytes(extension, &bytes).is_err());
    }

    #[test]
    fn truncated_files_are_errors(format in 0usize..3, keep in 0.0f64..1.0) {
        let (extension, bytes) = &VALID[format];
        let cut = ((bytes.len() as f64) * keep) as usize;
        prop_assert!(load_bytes(extension, &bytes[..cut.min(bytes.len() - 1)]).is_err());
    }

    #[test]
    fn overwritten_bytes_load_or_fail_cleanly(
        format in 0usize..3,
        edits in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 1..8),
        in_header in any::<bool>(),
    ) {
        let (extension, bytes) = &VALID[format];
        let mut bytes = bytes.clone();
        // Aim half of the edits at the first 4 KiB, where headers, pickles and ZIP directories
        // are (the ZIP central directory is at the end: the other half can land there).
        let span = if in_header { bytes.len().min(4096) } else { bytes.len() };
        for (at, value) in edits {
            let i = ((span as f64) * at) as usize;
            bytes[i.min(span - 1)] = value;
        }
        let _ = load_bytes(extension, &bytes);
    }
}
