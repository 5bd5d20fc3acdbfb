//! The command line end to end: `summary`, `data`, `train` — outputs and error exits.

mod common;

use std::path::Path;

use common::{max_abs_diff, text, tiny_train_args, write_patterned_input, xtask};

#[test]
fn summary_json_reports_exact_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(&["summary", "resnet18", "--json"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["arch"], "resnet18");
    assert_eq!(json["params"], 11_689_512);
    assert!(json["flops"].as_u64().unwrap() > 1_800_000_000);
    let out = xtask(&["summary", "resnet19"], dir.path());
    assert!(!out.status.success());
    assert!(
        text(&out).contains("did you mean resnet18"),
        "{}",
        text(&out)
    );
}

#[test]
fn train_classifier_writes_a_complete_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "train",
        "--epochs",
        "2",
        "--train-size",
        "64",
        "--valid-size",
        "32",
        "--batch-size",
        "32",
        "--arch",
        "cifar-resnet8",
        "--out",
        "runs",
        "--name",
        "tiny",
    ];
    let out = xtask(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("final validation (epoch 2)"),
        "{}",
        text(&out)
    );
    let run = dir.path().join("runs/tiny");
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        csv.lines().next().unwrap().contains("valid_top-5_accuracy"),
        "{csv}"
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["arch"], "cifar-resnet8");
    assert_eq!(config["epochs"], 2);
    assert_eq!(config["optimizer"]["kind"], "sgd");
    for file in ["model.bpk", "model.safetensors", "loss.png", "metrics.png"] {
        assert!(
            std::fs::metadata(run.join(file)).unwrap().len() > 10_000,
            "{file}"
        );
    }
    assert!(run.join("checkpoint").is_dir());
    // The run's config.json replays it: the same metrics, byte for byte.
    let replay = xtask(
        &[
            "train",
            "--config",
            "runs/tiny/config.json",
            "--out",
            "runs",
            "--name",
            "replay",
        ],
        dir.path(),
    );
    assert!(replay.status.success(), "{}", text(&replay));
    let replayed = std::fs::read(dir.path().join("runs/replay/metrics.csv")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&replayed),
        csv,
        "metrics.csv of the replay"
    );
}

#[test]
fn resume_continues_at_the_next_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let first = tiny_train_args("r", "1", "32");
    assert!(xtask(&first, dir.path()).status.success());
    // The same command again would overwrite the run: refused.
    let again = xtask(&first, dir.path());
    assert!(!again.status.success());
    assert!(text(&again).contains("pass --resume"), "{}", text(&again));
    let mut done = first.clone();
    done.push("--resume".into());
    let done = xtask(&done, dir.path());
    assert!(
        text(&done).contains("already has 1 epochs"),
        "{}",
        text(&done)
    );
    let mut more = tiny_train_args("r", "3", "32");
    more.push("--resume".into());
    let out = xtask(&more, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("resuming") && text(&out).contains("epochs 2 to 3"),
        "{}",
        text(&out)
    );
    let csv = std::fs::read_to_string(dir.path().join("runs/r/metrics.csv")).unwrap();
    let epochs: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(epochs, ["1", "2", "3"], "{csv}");
    let missing = xtask(
        &["train", "--resume", "--name", "nothing", "--out", "runs"],
        dir.path(),
    );
    assert!(
        text(&missing).contains("nothing to resume"),
        "{}",
        text(&missing)
    );
}

#[test]
fn train_unet_on_synthetic_cells() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "train",
        "--dataset",
        "synthetic-cells",
        "--width",
        "4",
        "--image-size",
        "32",
        "--train-size",
        "8",
        "--valid-size",
        "4",
        "--batch-size",
        "4",
        "--epochs",
        "1",
        "--optimizer",
        "adamw",
        "--out",
        "runs",
        "--name",
        "cells",
    ];
    let out = xtask(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let csv = std::fs::read_to_string(dir.path().join("runs/cells/metrics.csv")).unwrap();
    for column in [
        "valid_dice",
        "valid_iou",
        "valid_pixel_accuracy",
        "train_loss",
    ] {
        assert!(csv.contains(column), "{column}: {csv}");
    }
    let overlay =
        skipnet_data::image::decode(&dir.path().join("runs/cells/overlays/valid_000.png")).unwrap();
    assert_eq!(
        (overlay.channels, overlay.height, overlay.width),
        (3, 32, 32)
    );
    assert!(
        dir.path()
            .join("runs/cells/overlays/valid_001.png")
            .is_file()
    );
    assert!(dir.path().join("runs/cells/loss.png").is_file());
    // eval scores the run's validation images: pixel and instance metrics.
    let out = xtask(
        &[
            "eval",
            "unet",
            "--weights",
            "runs/cells",
            "--json",
            "eval.json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("eval.json")).unwrap())
            .unwrap();
    assert_eq!(json["items"], 4);
    for metric in ["dice", "iou", "pixel_accuracy", "f1_iou50", "dsb2018"] {
        let value = json["metrics"][metric].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&value), "{metric} {value}");
    }
    let logged: f64 = csv
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(
            csv.lines()
                .next()
                .unwrap()
                .split(',')
                .position(|c| c == "valid_dice")
                .unwrap(),
        )
        .unwrap()
        .parse()
        .unwrap();
    let dice = json["metrics"]["dice"].as_f64().unwrap();
    assert!((dice - logged).abs() < 1e-3, "eval {dice} vs run {logged}");
}

#[test]
fn bad_train_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (vec!["train", "--arch", "resnet19"], "did you mean resnet18"),
        (vec!["train", "--arch", "cifar-resnet21"], "6n+2"),
        (
            vec![
                "train",
                "--dataset",
                "synthetic-cells",
                "--arch",
                "cifar-resnet20",
            ],
            "is a classification model",
        ),
        (
            vec!["train", "--dataset", "imagenet"],
            "valid datasets: synthetic-shapes",
        ),
        (vec!["train", "--batch-size", "0"], "at least 1"),
        (
            vec![
                "train",
                "--arch",
                "unet",
                "--dataset",
                "synthetic-cells",
                "--image-size",
                "32",
                "--unet-depth",
                "6",
            ],
            "at least 64×64 pixels for depth 6",
        ),
        (
            vec![
                "train",
                "--arch",
                "unet",
                "--dataset",
                "synthetic-cells",
                "--unet-depth",
                "0",
            ],
            "between 1 and 8 levels",
        ),
        (
            vec!["train", "--backend", "tpu"],
            "valid backends: auto, flex, ndarray, wgpu, cuda, tch",
        ),
        (vec!["train", "--optimizer", "adam"], "valid: sgd, adamw"),
        (vec!["train", "--devices", "2"], "needs a GPU backend"),
        (
            vec!["train", "--label-smoothing", "1.5"],
            "must be in [0, 1)",
        ),
        (
            vec!["train", "--dataset", "cifar10", "--data-dir", "nowhere"],
            "cifar.html",
        ),
        (
            vec!["train", "--dataset", "cifar10", "--data-dir", "nowhere"],
            "--download",
        ),
        (
            vec!["train", "--dataset", "synthetic-shapes", "--download"],
            "--download takes cifar10, cifar100, mnist, fashion-mnist",
        ),
    ] {
        let out = xtask(&args, dir.path());
        assert!(!out.status.success(), "{args:?} should fail");
        let message = text(&out);
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(!message.contains("panicked"), "{args:?}: {message}");
    }
}

#[test]
fn corrupt_training_image_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(
        &[
            "data",
            "synth",
            "synthetic-shapes",
            "--out",
            "shapes",
            "--count",
            "20",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let class = std::fs::read_dir(dir.path().join("shapes"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(class.join("zz-broken.png"), b"not an image").unwrap();
    let args = [
        "train",
        "--dataset",
        "folder",
        "--data-dir",
        "shapes",
        "--image-size",
        "16",
        "--arch",
        "cifar-resnet8",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--out",
        "runs",
        "--name",
        "c",
    ];
    let out = xtask(&args, dir.path());
    assert!(!out.status.success());
    let message = text(&out);
    assert!(
        message.contains("zz-broken.png") && !message.contains("panicked"),
        "{message}"
    );
}

#[test]
fn data_synth_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(
        &[
            "data",
            "synth",
            "synthetic-shapes",
            "--out",
            "shapes",
            "--count",
            "30",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = xtask(&["data", "inspect", "shapes"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("all: 30 items"), "{}", text(&out));
    std::fs::write(dir.path().join("broken.bin"), [1u8; 100]).unwrap();
    let out = xtask(&["data", "inspect", "broken.bin"], dir.path());
    assert!(!out.status.success());
    assert!(text(&out).contains("broken.bin"), "{}", text(&out));
    std::fs::write(
        dir.path().join("train-images-idx3-ubyte"),
        [0, 0, 8, 3, 0x80, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28],
    )
    .unwrap();
    let out = xtask(&["data", "inspect", "train-images-idx3-ubyte"], dir.path());
    assert!(!out.status.success());
    assert!(
        text(&out).contains("truncated or lying header"),
        "{}",
        text(&out)
    );
}

#[test]
fn predict_round_trips_a_trained_model() {
    use burn::module::Module;
    use burn::tensor::{Tensor, TensorData};
    use skipnet_data::npy;
    use skipnet_models::ModelConfig;

    let dir = tempfile::tempdir().unwrap();
    assert!(
        xtask(&tiny_train_args("p", "1", "32"), dir.path())
            .status
            .success()
    );
    let input = write_patterned_input(&dir.path().join("x.npy"));
    let out = xtask(
        &[
            "predict",
            "cifar-resnet8",
            "--weights",
            "runs/p",
            "--input-npy",
            "x.npy",
            "--output-npy",
            "y.npy",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let y = npy::read(&dir.path().join("y.npy")).unwrap();
    assert_eq!(y.shape, vec![2, 10]);

    // The same weights loaded in-process give the same outputs.
    let device = burn::tensor::Device::flex();
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("runs/p/config.json")).unwrap(),
    )
    .unwrap();
    let config: ModelConfig = serde_json::from_value(config["model"].clone()).unwrap();
    let model = config.init(&device).unwrap();
    let model = skipnet_models::interop::load_weights(model, &dir.path().join("runs/p/model.bpk"))
        .unwrap()
        .valid();
    let x = Tensor::from_data(TensorData::new(input.data.clone(), [2, 3, 32, 32]), &device);
    let expected = model
        .forward_classification(x)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let max_diff = max_abs_diff(&expected, &y.data);
    assert!(max_diff <= 1e-5, "max |Δ| = {max_diff}");

    // The safetensors export holds the same model.
    let out = xtask(
        &[
            "predict",
            "cifar-resnet8",
            "--weights",
            "runs/p/model.safetensors",
            "--num-classes",
            "10",
            "--input-npy",
            "x.npy",
            "--output-npy",
            "z.npy",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(npy::read(&dir.path().join("z.npy")).unwrap(), y);

    // Weights of another architecture: an error naming the keys, not a half-loaded model.
    let out = xtask(
        &[
            "predict",
            "cifar-resnet20",
            "--weights",
            "runs/p/model.bpk",
            "--input-npy",
            "x.npy",
            "--output-npy",
            "w.npy",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("missing keys (60): CifarResNet.layer1.1.bn1.beta"),
        "{}",
        text(&out)
    );
    // ... and what the file is.
    assert!(
        text(&out).contains("this file fits cifar-resnet8 with 10 classes"),
        "{}",
        text(&out)
    );

    // Top-5 classes of an image file.
    skipnet_data::synthetic::write_synthetic("synthetic-shapes", &dir.path().join("img"), 1, 0, 0)
        .unwrap();
    let image = std::fs::read_dir(dir.path().join("img"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let image = std::fs::read_dir(image)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = xtask(
        &[
            "predict",
            "cifar-resnet8",
            "--weights",
            "runs/p",
            "--image",
            image.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    // Five lines `probability  name (label)`, named by the run's classes.
    let log = text(&out);
    let ranked: Vec<&str> = log.lines().filter(|l| l.contains("%  ")).collect();
    assert_eq!(ranked.len(), 5, "{log}");
    for line in ranked {
        let (_, rest) = line.split_once("%  ").unwrap();
        let (name, label) = rest.rsplit_once(" (").unwrap();
        let label: usize = label.trim_end_matches(')').parse().unwrap();
        assert_eq!(
            skipnet_data::synthetic::SHAPE_CLASSES[label],
            name,
            "{line}"
        );
    }
}

#[test]
fn predict_writes_a_mask_of_the_image_size() {
    let dir = tempfile::tempdir().unwrap();
    let train = [
        "train",
        "--dataset",
        "synthetic-cells",
        "--width",
        "4",
        "--image-size",
        "32",
        "--train-size",
        "4",
        "--valid-size",
        "2",
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--out",
        "runs",
        "--name",
        "u",
    ];
    assert!(xtask(&train, dir.path()).status.success());
    let image = skipnet_data::image::ImageU8 {
        channels: 1,
        height: 37,
        width: 53,
        data: vec![90; 37 * 53],
    };
    skipnet_data::image::save_png(&image, &dir.path().join("cell.png")).unwrap();
    let out = xtask(
        &[
            "predict",
            "unet",
            "--weights",
            "runs/u",
            "--image",
            "cell.png",
            "--output",
            "mask.png",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let mask = skipnet_data::image::decode(&dir.path().join("mask.png")).unwrap();
    assert_eq!((mask.height, mask.width), (37, 53));
    let nonbinary = mask
        .to_u8()
        .data
        .iter()
        .filter(|&&v| v != 0 && v != 255)
        .count();
    assert_eq!(nonbinary, 0);

    // A 700×500 image crosses the 512-pixel tiles' seams: the objects are labelled on the
    // joined mask, so they are exactly the components of the mask PNG.
    let cells = skipnet_data::synthetic::SyntheticCells::new(5, 1, 700)
        .unwrap()
        .item(0)
        .unwrap();
    let big = skipnet_data::image::ImageU8 {
        channels: 1,
        height: 500,
        width: 700,
        data: cells.image.data[..500 * 700]
            .iter()
            .map(|v| (v * 255.0) as u8)
            .collect(),
    };
    skipnet_data::image::save_png(&big, &dir.path().join("big.png")).unwrap();
    let out = xtask(
        &[
            "predict",
            "unet",
            "--weights",
            "runs/u",
            "--image",
            "big.png",
            "--output",
            "big-mask.png",
            "--instances",
            "big-labels.png",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let mask = skipnet_data::image::decode(&dir.path().join("big-mask.png")).unwrap();
    let labels = skipnet_data::image::decode(&dir.path().join("big-labels.png")).unwrap();
    assert_eq!(
        (labels.height, labels.width, labels.bit_depth()),
        (500, 700, 16)
    );
    let foreground: Vec<bool> = mask.to_u8().data.iter().map(|&v| v == 255).collect();
    let (expected, count) = skipnet_data::labels::connected_components(&foreground, 500, 700);
    assert_eq!(labels.labels(), expected);
    assert!(
        text(&out).contains(&format!("{count} objects; wrote big-labels.png")),
        "{}",
        text(&out)
    );
}

/// `import` and `predict` take PyTorch weights directly: the committed parity fixture
/// (cifar-resnet20, a pickled state_dict) through predict gives PyTorch's logits, and
/// `.pth → .bpk → .safetensors` conversions keep every value.
#[test]
fn import_and_predict_take_pytorch_weights() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/models/tests/fixtures/interop/cifar-resnet20");
    let dir = tempfile::tempdir().unwrap();
    let weights = fixture.join("weights.pth");
    let input = fixture.join("input.npy");
    let expected = skipnet_data::npy::read(&fixture.join("expected.npy")).unwrap();
    let predict = |weights: &Path, name: &str| -> Vec<f32> {
        let output = dir.path().join(name);
        let out = xtask(
            &[
                "predict",
                "cifar-resnet20",
                "--weights",
                weights.to_str().unwrap(),
                "--input-npy",
                input.to_str().unwrap(),
                "--output-npy",
                output.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out));
        let got = skipnet_data::npy::read(&output).unwrap();
        assert_eq!(got.shape, expected.shape);
        got.data
    };
    let from_pth = predict(&weights, "pth.npy");
    assert!(max_abs_diff(&from_pth, &expected.data) <= 1e-4);

    let bpk = dir.path().join("c20.bpk");
    let st = dir.path().join("c20.safetensors");
    for (from, to) in [(&weights, &bpk), (&bpk, &st)] {
        let out = xtask(
            &[
                "import",
                "cifar-resnet20",
                "--weights",
                from.to_str().unwrap(),
                "--out",
                to.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_eq!(predict(&bpk, "bpk.npy"), from_pth);
    assert_eq!(predict(&st, "st.npy"), from_pth);

    // Wrong architecture: a clear error naming keys, non-zero exit.
    let out = xtask(
        &[
            "import",
            "cifar-resnet8",
            "--weights",
            weights.to_str().unwrap(),
            "--out",
            dir.path().join("x.bpk").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("unexpected keys"), "{}", text(&out));
    assert!(
        !dir.path().join("x.bpk").exists(),
        "nothing written on error"
    );
}

/// Without libtorch, `--backend tch` says how to get it instead of starting a failing build.
#[cfg(not(feature = "tch"))]
#[test]
fn tch_without_libtorch_names_the_install_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["train", "--backend", "tch", "--epochs", "1"])
        .current_dir(dir.path())
        .env("SKIPNET_LIBTORCH_DIR", dir.path().join("no-libtorch"))
        .env_remove("LIBTORCH")
        .env_remove("LIBTORCH_USE_PYTORCH")
        .env_remove("SKIPNET_REEXEC")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let message = text(&out);
    assert!(message.contains("cargo xtask libtorch"), "{message}");
    assert!(message.contains("no-libtorch"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

/// The LibTorch backend trains, and its outputs match flex's for the same weights.
#[cfg(all(feature = "tch", feature = "flex"))]
#[test]
fn tch_trains_and_matches_flex() {
    use skipnet_data::npy;

    let dir = tempfile::tempdir().unwrap();
    let mut train = tiny_train_args("t", "1", "32");
    train.extend(["--backend".into(), "tch".into()]);
    let out = xtask(&train, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("with tch"), "{}", text(&out));
    let config = std::fs::read_to_string(dir.path().join("runs/t/config.json")).unwrap();
    assert!(config.contains("\"backend\": \"tch\""), "{config}");
    assert_eq!(common::csv_epochs(&dir.path().join("runs/t")), ["1"]);
    write_patterned_input(&dir.path().join("x.npy"));
    let mut outputs = Vec::new();
    for backend in ["tch", "flex"] {
        let y = format!("y-{backend}.npy");
        let out = xtask(
            &[
                "predict",
                "cifar-resnet8",
                "--backend",
                backend,
                "--weights",
                "runs/t",
                "--input-npy",
                "x.npy",
                "--output-npy",
                &y,
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out));
        outputs.push(npy::read(&dir.path().join(y)).unwrap());
    }
    assert_eq!(outputs[0].shape, vec![2, 10]);
    let max_diff = max_abs_diff(&outputs[0].data, &outputs[1].data);
    assert!(max_diff <= 1e-4, "tch vs flex max |Δ| = {max_diff}");
}

/// Same command, same seed: the same `metrics.csv`, byte for byte, whatever `--workers` says
/// (data order, batches and augmentation are drawn from the seed, not from thread timing).
#[test]
fn same_seed_gives_the_same_metrics_for_any_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut metrics = Vec::new();
    for (name, workers) in [("w3a", "3"), ("w3b", "3"), ("w1", "1")] {
        let mut args = tiny_train_args(name, "2", "96");
        args.extend(["--workers".into(), workers.into()]);
        let out = xtask(&args, dir.path());
        assert!(out.status.success(), "{}", text(&out));
        metrics
            .push(std::fs::read(dir.path().join("runs").join(name).join("metrics.csv")).unwrap());
    }
    assert_eq!(metrics[0], metrics[1], "--workers 3 twice");
    assert_eq!(metrics[0], metrics[2], "--workers 3 and --workers 1");
}

/// `--resume` with other settings than the run's is refused, naming each difference;
/// `--force` resumes anyway with a warning per difference.
#[test]
fn resume_with_other_settings_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        xtask(&tiny_train_args("m", "1", "32"), dir.path())
            .status
            .success()
    );
    let mut changed = tiny_train_args("m", "2", "32");
    changed.extend(["--resume".into(), "--lr".into(), "0.05".into()]);
    let out = xtask(&changed, dir.path());
    assert!(!out.status.success());
    // The run's rate was the default for batch 16: 0.1 × 16 / 128.
    assert!(text(&out).contains("lr: 0.0125 → 0.05"), "{}", text(&out));
    changed.push("--force".into());
    let out = xtask(&changed, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("warning: resuming anyway (forced) with lr"),
        "{}",
        text(&out)
    );
    assert_eq!(common::csv_epochs(&dir.path().join("runs/m")), ["1", "2"]);
    let out = xtask(&["train", "--force"], dir.path());
    assert!(
        text(&out).contains("--force applies to --resume only"),
        "{}",
        text(&out)
    );
}

#[test]
fn readme_unet_command_reaches_dice_088_at_a_small_size() {
    // README's `cargo xtask train --dataset synthetic-cells --width 16 --epochs 20`, smaller
    // (64 training images, 16 epochs: 128 steps): the segmentation defaults (batch 8, AdamW,
    // cosine, border-weighted loss) must make a U-Net that scores held-out cells well in eval
    // mode.
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "train",
        "--dataset",
        "synthetic-cells",
        "--width",
        "16",
        "--train-size",
        "64",
        "--valid-size",
        "8",
        "--epochs",
        "16",
        "--out",
        "runs",
        "--name",
        "cells",
        "--quiet",
    ];
    let out = xtask(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let csv = std::fs::read_to_string(dir.path().join("runs/cells/metrics.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|c| *c == "valid_dice").unwrap();
    // Instance metrics are logged every epoch beside the pixel ones.
    for instance in ["valid_f1_iou50", "valid_dsb2018"] {
        assert!(header.contains(&instance), "{instance} missing: {csv}");
    }
    let last: f64 = csv
        .lines()
        .last()
        .unwrap()
        .split(',')
        .nth(column)
        .unwrap()
        .parse()
        .unwrap();
    // Measured on this configuration (docs/results/segmentation-defaults/): 91.34 % with the
    // synthetic-cells stream before the move to rand 0.10, 89.28 % with the current one; 12
    // epochs gave 90.44 % and width 8 82.17 % before it. 88 % leaves the stream a point or so.
    assert!(last >= 88.0, "held-out Dice {last} %: {csv}");
    let config = std::fs::read_to_string(dir.path().join("runs/cells/config.json")).unwrap();
    assert!(config.contains("\"border_weight\": 10.0"), "{config}");
}

/// `--download` with the dataset already under --data-dir (what a finished download leaves:
/// crates/data/tests/download.rs fetches a small archive in the real format from a local server
/// through the same library call): it is read back, nothing is fetched, and the run trains.
#[test]
fn train_with_download_uses_a_dataset_already_there() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("data/cifar-10-batches-bin");
    std::fs::create_dir_all(&folder).unwrap();
    let records = |n: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                std::iter::once((i % 10) as u8).chain((0..3072).map(move |p| ((p + i) % 256) as u8))
            })
            .collect()
    };
    for b in 1..=5 {
        std::fs::write(folder.join(format!("data_batch_{b}.bin")), records(8)).unwrap();
    }
    std::fs::write(folder.join("test_batch.bin"), records(8)).unwrap();
    let mut args = tiny_train_args("d", "1", "16");
    args.extend(["--dataset", "cifar10", "--data-dir", "data", "--download"].map(String::from));
    let out = xtask(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("cifar-10-batches-bin"),
        "{}",
        text(&out)
    );
    assert!(dir.path().join("runs/d/metrics.csv").is_file());
}
