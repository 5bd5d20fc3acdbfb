//! Error cases of weight loading, on files the tests write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::*;
use crate::ModelConfig;

fn model(arch: &str) -> Model {
    ModelConfig::from_name(arch)
        .unwrap()
        .init(&Device::flex())
        .unwrap()
}

/// The tensors of an exported file, as `(name, shape, f32 values)`.
fn read_all(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| (name, (view.shape().to_vec(), view.data().to_vec())))
        .collect()
}

fn write_all(path: &Path, tensors: &BTreeMap<String, (Vec<usize>, Vec<u8>)>) {
    let views: BTreeMap<&str, F32View> = tensors
        .iter()
        .map(|(k, (shape, bytes))| {
            (
                k.as_str(),
                F32View {
                    shape: shape.clone(),
                    bytes: bytes.clone(),
                },
            )
        })
        .collect();
    let bytes = safetensors::serialize(views.iter().map(|(k, v)| (*k, v)), None).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// An exported cifar-resnet8-b, edited by `edit`, loaded back.
fn load_edited(
    edit: impl FnOnce(&mut BTreeMap<String, (Vec<usize>, Vec<u8>)>),
) -> (PathBuf, WeightsError, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    save_torch_safetensors(&model("cifar-resnet8-b"), &path).unwrap();
    let mut tensors = read_all(&path);
    edit(&mut tensors);
    write_all(&path, &tensors);
    let err = load_weights(model("cifar-resnet8-b"), &path).unwrap_err();
    (path, err, dir)
}

#[test]
fn export_uses_the_cifar_layout_and_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    save_torch_safetensors(&model("cifar-resnet8-b"), &path).unwrap();
    let tensors = read_all(&path);
    assert!(tensors.contains_key("linear.weight"));
    assert_eq!(
        tensors["linear.weight"].0,
        vec![10, 64],
        "PyTorch's [out, in]"
    );
    assert!(tensors.contains_key("layer2.0.shortcut.0.weight"));
    assert!(tensors.contains_key("layer2.0.shortcut.1.running_var"));
    assert!(tensors.contains_key("bn1.weight") && !tensors.contains_key("bn1.gamma"));
    assert!(load_weights(model("cifar-resnet8-b"), &path).is_ok());
}

#[test]
fn missing_keys_are_named() {
    let (_, err, _dir) = load_edited(|t| {
        t.remove("layer3.0.conv2.weight");
        t.remove("bn1.running_mean");
    });
    let message = err.to_string();
    assert!(message.contains("missing keys (2)"), "{message}");
    assert!(message.contains("layer3.0.conv2.weight"), "{message}");
    assert!(message.contains("bn1.running_mean"), "{message}");
}

#[test]
fn unexpected_keys_are_named() {
    let (_, err, _dir) = load_edited(|t| {
        let extra = t["linear.bias"].clone();
        t.insert("head.extra.bias".into(), extra);
    });
    let message = err.to_string();
    assert!(
        message.contains("unexpected keys (1): head.extra.bias"),
        "{message}"
    );
    assert!(!message.contains("missing"), "{message}");
}

#[test]
fn every_shape_mismatch_is_named() {
    let (_, err, _dir) = load_edited(|t| {
        // 100 classes instead of 10, in both the weight and the bias.
        t.insert(
            "linear.weight".into(),
            (vec![100, 64], vec![0; 100 * 64 * 4]),
        );
        t.insert("linear.bias".into(), (vec![100], vec![0; 100 * 4]));
    });
    match &err {
        WeightsError::Mismatch(m) => {
            let shapes = &m.shapes;
            assert_eq!(shapes.len(), 2, "{err}");
            assert!(shapes.iter().any(|s| s.starts_with("linear.bias")), "{err}");
            assert!(
                shapes.iter().any(|s| s.starts_with("linear.weight")),
                "{err}"
            );
        }
        other => panic!("expected a mismatch, got {other}"),
    }
}

#[test]
fn wrong_architecture_lists_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    save_torch_safetensors(&model("highway-mlp"), &path).unwrap();
    let err = load_weights(model("cifar-resnet8"), &path).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("does not fit cifar-resnet"), "{message}");
    assert!(message.contains("this file fits highway-mlp with 10 classes"));
    let WeightsError::Mismatch(mismatch) = &err else {
        panic!("expected a mismatch, got {err}");
    };
    assert!(
        mismatch.missing.iter().any(|k| k == "conv1.weight"),
        "{err}"
    );
    assert!(
        mismatch
            .unexpected
            .iter()
            .any(|k| k == "layers.0.gate.weight"),
        "{err}"
    );
}

#[test]
fn missing_file_unknown_format_and_garbage_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.pth");
    assert!(matches!(
        load_weights(model("cifar-resnet8"), &missing),
        Err(WeightsError::NotFound(_))
    ));
    let odd = dir.path().join("w.onnx");
    std::fs::write(&odd, b"x").unwrap();
    let err = load_weights(model("cifar-resnet8"), &odd).unwrap_err();
    assert!(
        err.to_string().contains("unknown weights format '.onnx'"),
        "{err}"
    );
    for (name, bytes) in [
        ("empty.pth", Vec::new()),
        (
            "random.pth",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("zip-magic.pt", b"PK\x03\x04 not really a zip".to_vec()),
        ("empty.safetensors", Vec::new()),
        ("huge-header.safetensors", u64::MAX.to_le_bytes().to_vec()),
        (
            "not-json.safetensors",
            [&8u64.to_le_bytes()[..], b"{{{{{{{{"].concat(),
        ),
        ("empty.bpk", Vec::new()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = load_weights(model("cifar-resnet8"), &path).unwrap_err();
        assert!(
            matches!(err, WeightsError::Read { .. }),
            "{name}: expected a read error, got {err}"
        );
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
}

#[test]
fn truncated_exports_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    save_torch_safetensors(&model("cifar-resnet8"), &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for cut in [bytes.len() / 3, bytes.len() - 1] {
        let truncated = dir.path().join(format!("cut{cut}.safetensors"));
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        let err = load_weights(model("cifar-resnet8"), &truncated).unwrap_err();
        assert!(err.to_string().contains("cut"), "{err}");
    }
}

#[test]
fn lazy_signature_matches_the_exported_keys_and_shapes() {
    for arch in [
        "cifar-resnet8-b",
        "cifar-preresnet8",
        "cifar-wrn10-2",
        "cifar-densenet-bc16",
        "highway-mlp",
        "highway-conv",
        "unet",
    ] {
        let model = model(arch);
        let lazy = identify::signature(&model, identify::Naming::Torch);
        let exported: identify::Signature = torch_state_dict_shapes(&model).into_iter().collect();
        assert_eq!(lazy, exported, "{arch}");
    }
}

#[test]
fn a_wrong_file_says_which_architecture_it_fits() {
    let dir = tempfile::tempdir().unwrap();
    // The case: an ImageNet ResNet-18 (here with 10 classes) given to a CIFAR net.
    let path = dir.path().join("resnet18.safetensors");
    let resnet18 = ModelConfig::from_name("resnet18")
        .unwrap()
        .with_num_classes(10)
        .init(&Device::flex())
        .unwrap();
    save_torch_safetensors(&resnet18, &path).unwrap();
    let err = load_weights(model("cifar-resnet20"), &path).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("this file fits resnet18 with 10 classes;"),
        "{message}"
    );
    // The first few keys of each kind and the counts, not all of them.
    let WeightsError::Mismatch(mismatch) = &err else {
        panic!("expected a mismatch, got {err}");
    };
    assert!(mismatch.unexpected.len() > SHOWN, "{err}");
    let more = format!("and {} more", mismatch.unexpected.len() - SHOWN);
    assert!(message.contains(&more), "{message}");
    assert!(
        message.len() < 1000,
        "{} characters: {message}",
        message.len()
    );
}

#[test]
fn a_file_is_identified_at_any_depth_and_class_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    // cifar-resnet8-b is no listed name: found through the cifar-resnet<D>-b pattern.
    let hundred = ModelConfig::from_name("cifar-resnet8-b")
        .unwrap()
        .with_num_classes(100)
        .init(&Device::flex())
        .unwrap();
    save_torch_safetensors(&hundred, &path).unwrap();
    let err = load_weights(model("cifar-resnet8-b"), &path).unwrap_err();
    let WeightsError::Mismatch(mismatch) = &err else {
        panic!("expected a mismatch, got {err}");
    };
    let names: Vec<String> = mismatch.fits.iter().map(Fit::to_string).collect();
    assert_eq!(names, ["cifar-resnet8-b with 100 classes"], "{err}");

    // Grey-scale input: the first convolution takes one channel.
    let grey = ModelConfig::from_name("cifar-resnet20")
        .unwrap()
        .with_input([1, 28, 28])
        .init(&Device::flex())
        .unwrap();
    save_torch_safetensors(&grey, &path).unwrap();
    let err = load_weights(model("cifar-resnet20"), &path).unwrap_err();
    assert!(
        err.to_string()
            .contains("cifar-resnet20 with 10 classes on 1-channel input"),
        "{err}"
    );

    // A file of no architecture of the zoo.
    let (_, err, _dir) = load_edited(|t| {
        t.remove("layer3.0.conv2.weight");
    });
    let WeightsError::Mismatch(mismatch) = &err else {
        panic!("expected a mismatch, got {err}");
    };
    assert!(mismatch.fits.is_empty(), "{err}");
    assert!(err.to_string().contains("fits no architecture"), "{err}");
}

#[test]
fn a_burn_file_is_identified_in_burn_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.bpk");
    let mut store = BurnpackStore::from_file(&path).auto_extension(false);
    model("highway-mlp").save_into(&mut store).unwrap();
    let err = load_weights(model("cifar-resnet8"), &path).unwrap_err();
    assert!(
        err.to_string()
            .contains("this file fits highway-mlp with 10 classes"),
        "{err}"
    );
}
