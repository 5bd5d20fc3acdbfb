//! Fine-tuning and evaluation as a torchvision user does them: start from PyTorch weights on an
//! image folder with `train/` + `val/` and other classes, score it with `eval`, predict with
//! class names; ImageNet weights files predict with torchvision's preprocessing and names.

mod common;

use std::path::{Path, PathBuf};

use common::{text, xtask};
use skipnet_data::image::{ImageU8, save_png};
use skipnet_data::npy::{self, NpyArray};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The CIFAR ResNet-20 state_dict written by `scripts/make_parity_fixtures.py` (10 classes).
fn pytorch_weights() -> PathBuf {
    repo().join("crates/models/tests/fixtures/interop/cifar-resnet20/weights.pth")
}

/// `root/<split>/<class>/<i>.png`: each class a colour, images of several sizes.
fn image_folder(root: &Path) {
    let classes = [
        ("ant", [200u8, 40, 40]),
        ("bee", [230, 200, 30]),
        ("cat", [40, 60, 210]),
    ];
    for (split, count) in [("train", 6), ("val", 3)] {
        for (class, colour) in classes {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..count {
                let (h, w) = (36 + 7 * i, 48 + 5 * i);
                let mut data = Vec::with_capacity(3 * h * w);
                for c in colour {
                    data.extend((0..h * w).map(|p| c.saturating_add(((p * 7 + i) % 23) as u8)));
                }
                let image = ImageU8 {
                    channels: 3,
                    height: h,
                    width: w,
                    data,
                };
                save_png(&image, &dir.join(format!("{i}.png"))).unwrap();
            }
        }
    }
}

#[test]
fn fine_tune_pytorch_weights_on_train_and_val_folders_then_eval_and_predict_with_names() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    image_folder(&cwd.join("data"));
    let weights = pytorch_weights();
    let out = xtask(
        &[
            "train",
            "--arch",
            "cifar-resnet20",
            "--dataset",
            "folder",
            "--data-dir",
            "data",
            "--init-weights",
            weights.to_str().unwrap(),
            "--preprocess",
            "imagenet",
            "--image-size",
            "32",
            "--epochs",
            "2",
            "--freeze-backbone-epochs",
            "1",
            "--batch-size",
            "6",
            "--out",
            "runs",
            "--name",
            "ft",
            "--quiet",
        ],
        cwd,
    );
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("classifier re-initialised (2 keys"), "{log}");
    assert!(
        log.contains("linear.weight: model has [3, 64], file has [10, 64]"),
        "{log}"
    );
    // train/ and val/ are the split: 18 and 9 images.
    assert!(log.contains("(18 train / 9 valid, 3 classes)"), "{log}");
    let run = cwd.join("runs/ft");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["classes"], serde_json::json!(["ant", "bee", "cat"]));
    assert_eq!(config["dataset"]["preprocess"], "imagenet");
    assert_eq!(config["freeze_backbone_epochs"], 1);
    assert_eq!(config["input"], serde_json::json!([3, 32, 32]));

    // eval: the run's own validation folder, by default.
    let out = xtask(
        &[
            "eval",
            "cifar-resnet20",
            "--weights",
            "runs/ft",
            "--json",
            "eval.json",
        ],
        cwd,
    );
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("on folder (9 validation items, imagenet preprocessing)"),
        "{log}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("eval.json")).unwrap()).unwrap();
    assert_eq!(json["items"], 9);
    let per_class = json["per_class"].as_array().unwrap();
    let names: Vec<&str> = per_class
        .iter()
        .map(|c| c["class"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ant", "bee", "cat"]);
    assert!(per_class.iter().all(|c| c["items"] == 3));
    let accuracy = json["metrics"]["accuracy"].as_f64().unwrap();
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let last = csv.lines().last().unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "valid_accuracy").unwrap();
    let logged: f64 = last.split(',').nth(column).unwrap().parse().unwrap();
    assert!(
        (accuracy - logged).abs() < 1e-3,
        "eval {accuracy} vs run {logged}"
    );
    let confusion = std::fs::read_to_string(run.join("eval/confusion.csv")).unwrap();
    assert!(
        confusion.starts_with("truth\\predicted,ant,bee,cat\nant,"),
        "{confusion}"
    );
    assert!(run.join("eval/confusion.png").is_file());
    assert!(run.join("eval/per_class.csv").is_file());
    // --checkpoint: the best epoch's, a kept epoch, a missing one.
    let out = xtask(
        &[
            "eval",
            "cifar-resnet20",
            "--weights",
            "runs/ft",
            "--checkpoint",
            "best",
            "--out",
            "e",
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("checkpoint/model-"), "{}", text(&out));
    let out = xtask(
        &[
            "eval",
            "cifar-resnet20",
            "--weights",
            "runs/ft",
            "--checkpoint",
            "7",
        ],
        cwd,
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no checkpoint of epoch 7"),
        "{}",
        text(&out)
    );

    // predict: names with probabilities, and the logits of the prepared images.
    let out = xtask(
        &[
            "predict",
            "cifar-resnet20",
            "--weights",
            "runs/ft",
            "--checkpoint",
            "last",
            "--image",
            "data/val/bee/0.png",
            "data/val/cat/1.png",
            "--output-npy",
            "logits.npy",
        ],
        cwd,
    );
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    for name in ["ant (0)", "bee (1)", "cat (2)"] {
        assert_eq!(log.matches(name).count(), 2, "{name} once per image: {log}");
    }
    let logits = npy::read(&cwd.join("logits.npy")).unwrap();
    assert_eq!(logits.shape, [2, 3]);

    // Flags that would do nothing are errors.
    for (args, expected) in [
        (
            vec!["--image", "data/val/bee/0.png", "--output", "mask.png"],
            "--output and --instances write a unet's mask and objects",
        ),
        (
            vec!["--image", "data/val/bee/0.png", "--instances", "labels.png"],
            "--output and --instances write a unet's mask and objects",
        ),
        (
            vec!["--image", "data/val/bee/0.png", "--num-classes", "5"],
            "--num-classes describes a weights file",
        ),
        (
            vec!["--image", "data/val/bee/0.png", "--input-npy", "logits.npy"],
            "not both",
        ),
    ] {
        let mut all = vec!["predict", "cifar-resnet20", "--weights", "runs/ft"];
        all.extend(args);
        let out = xtask(&all, cwd);
        assert!(!out.status.success(), "{all:?}");
        assert!(text(&out).contains(expected), "{all:?}: {}", text(&out));
    }
    let out = xtask(
        &[
            "predict",
            "resnet18",
            "--weights",
            "runs/ft",
            "--image",
            "x.png",
        ],
        cwd,
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("holds a cifar-resnet model, not a resnet18"),
        "{}",
        text(&out)
    );
}

/// A `.npy` of `values` with `descr` and `shape` (each value as the dtype's little-endian
/// bytes, written by `encode`).
fn npy_bytes(descr: &str, shape: &str, payload: Vec<u8>) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(payload);
    out
}

#[test]
fn predict_takes_numpys_default_dtypes() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let values: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
        .collect();
    let f32s = NpyArray {
        shape: vec![1, 3, 32, 32],
        data: values.clone(),
    };
    npy::write(&f32s, &cwd.join("x32.npy")).unwrap();
    let f64s: Vec<u8> = values
        .iter()
        .flat_map(|&v| (v as f64).to_le_bytes())
        .collect();
    std::fs::write(
        cwd.join("x64.npy"),
        npy_bytes("<f8", "(1, 3, 32, 32)", f64s),
    )
    .unwrap();
    let ints: Vec<u8> = (0..3 * 32 * 32)
        .flat_map(|i| ((i % 5) as i64 - 2).to_le_bytes())
        .collect();
    std::fs::write(cwd.join("xi.npy"), npy_bytes("<i8", "(1, 3, 32, 32)", ints)).unwrap();
    let weights = pytorch_weights();
    let predict = |input: &str, output: &str| {
        xtask(
            &[
                "predict",
                "cifar-resnet20",
                "--weights",
                weights.to_str().unwrap(),
                "--input-npy",
                input,
                "--output-npy",
                output,
            ],
            cwd,
        )
    };
    for (input, output) in [
        ("x32.npy", "y32.npy"),
        ("x64.npy", "y64.npy"),
        ("xi.npy", "yi.npy"),
    ] {
        let out = predict(input, output);
        assert!(out.status.success(), "{input}: {}", text(&out));
    }
    let read = |name: &str| npy::read(&cwd.join(name)).unwrap();
    assert_eq!(
        read("y32.npy"),
        read("y64.npy"),
        "float64 input is the same float32 values"
    );
    assert_eq!(read("yi.npy").shape, [1, 10]);
    std::fs::write(
        cwd.join("xc.npy"),
        npy_bytes("<c8", "(1, 3, 32, 32)", vec![0; 8 * 3072]),
    )
    .unwrap();
    let out = predict("xc.npy", "yc.npy");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("dtype '<c8' is not supported"),
        "{}",
        text(&out)
    );
}

#[test]
fn imagenet_weights_predict_with_torchvisions_preprocessing_and_class_names() {
    use burn::tensor::Device;
    use skipnet_models::{ModelConfig, interop};
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    // A torchvision-layout ResNet-18 state_dict (random weights).
    let device = Device::flex();
    let model = ModelConfig::from_name("resnet18")
        .unwrap()
        .init(&device)
        .unwrap();
    interop::save_torch_safetensors(&model, &cwd.join("resnet18.safetensors")).unwrap();
    let fixture = repo().join("crates/data/tests/fixtures/preprocess");
    // torchvision's tensor of the photo, as a batch of one.
    let mut tensor = npy::read(&fixture.join("imagenet.npy")).unwrap();
    tensor.shape.insert(0, 1);
    npy::write(&tensor, &cwd.join("torchvision.npy")).unwrap();
    let photo = fixture.join("chelsea.png");
    let run = |args: &[&str]| {
        let mut all = vec!["predict", "resnet18", "--weights", "resnet18.safetensors"];
        all.extend(args);
        let out = xtask(&all, cwd);
        assert!(out.status.success(), "{all:?}: {}", text(&out));
        text(&out)
    };
    let log = run(&[
        "--image",
        photo.to_str().unwrap(),
        "--output-npy",
        "ours.npy",
    ]);
    run(&[
        "--input-npy",
        "torchvision.npy",
        "--output-npy",
        "theirs.npy",
    ]);
    let (ours, theirs) = (
        npy::read(&cwd.join("ours.npy")).unwrap(),
        npy::read(&cwd.join("theirs.npy")).unwrap(),
    );
    assert_eq!(ours.shape, [1, 1000]);
    // The photo through predict's preparation gives the logits of torchvision's tensor (the
    // inputs differ by at most one 8-bit level here and there).
    let scale = theirs.data.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = ours
        .data
        .iter()
        .zip(&theirs.data)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    eprintln!("predict --image vs torchvision's tensor: max |Δ| {diff} of logits up to {scale}");
    // `SKIPNET_RESULTS=docs/results cargo test -p xtask --test finetune imagenet` records it.
    if let Some(dir) = std::env::var_os("SKIPNET_RESULTS") {
        let json = serde_json::json!({
            "command": "SKIPNET_RESULTS=docs/results cargo test -p xtask --test finetune imagenet",
            "what": "cargo xtask predict resnet18 (random torchvision-layout weights) on crates/data/tests/fixtures/preprocess/chelsea.png via --image (skipnet's imagenet preset) vs via --input-npy of torchvision's tensor of the same photo; logits [1, 1000]",
            "max_abs_logit_diff": diff,
            "max_abs_logit": scale,
        });
        let path = repo().join(dir).join("predict-parity.json");
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap() + "\n").unwrap();
    }
    assert!(
        diff <= 0.02 * scale,
        "max |Δ| {diff} of logits up to {scale}"
    );
    // The top class is printed with its ImageNet name.
    let top = ours
        .data
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    let names = skipnet_data::classes::imagenet();
    assert!(log.contains(&format!("{} ({top})", names[top])), "{log}");
}
