//! `skipnet_train::run` end to end, as a library call: the run folder it writes, what reads it
//! back, resume (also of a folder from before `config.json` had a format), and refusals.
#![cfg(feature = "flex")]

use skipnet_data::{DatasetKind, DatasetSpec};
use skipnet_train::folder::CONFIG_FORMAT;
use skipnet_train::{Backend, RunFolder, RunOptions, TrainError, TrainSpec, evaluate, run};

fn tiny(epochs: usize) -> TrainSpec {
    TrainSpec::he2015(
        "cifar-resnet8",
        DatasetSpec::new(DatasetKind::SyntheticShapes).with_sizes(Some(32), Some(16)),
    )
    .unwrap()
    .with_batch_size(16)
    .with_epochs(epochs)
}

fn options(dir: &std::path::Path) -> RunOptions {
    RunOptions::new(dir)
        .with_backend(Backend::Flex)
        .with_quiet(true)
}

#[test]
fn a_run_writes_a_folder_that_reads_back_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let result = run(&tiny(1), &options(&dir)).unwrap();
    assert_eq!(result.history.len(), 1);
    assert!(result.last("valid", "accuracy").is_finite());
    let folder = RunFolder::new(&dir);
    let config = folder.read_config().unwrap();
    assert_eq!(config, result.config);
    assert_eq!(config.format, CONFIG_FORMAT);
    assert_eq!(config.input, Some([3, 32, 32]));
    assert_eq!((config.train_items, config.valid_items), (32, 16));
    assert_eq!(config.spec.model.num_classes(), 10);
    assert_eq!(folder.history().unwrap(), result.history);
    for file in ["model.bpk", "model.safetensors", "metrics.csv", "loss.png"] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    // Every file of the run, ours and burn-train's, has the mode of a new file here.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let expected = skipnet_models::atomic::new_file_mode();
        let mut folders = vec![dir.clone()];
        let mut files = 0;
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                    continue;
                }
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, expected, "{}: {mode:o}", path.display());
                files += 1;
            }
        }
        assert!(files >= 8, "{files} files");
    }
    // The saved model is the returned one.
    let scores = evaluate(&folder, &config.spec.dataset, Backend::Flex).unwrap();
    assert_eq!(scores.items, 16);
    let accuracy = scores.get("accuracy");
    assert!(
        (accuracy - result.last("valid", "accuracy")).abs() < 1e-3,
        "{accuracy} vs {}",
        result.last("valid", "accuracy")
    );

    // Starting it again is refused; resuming continues at epoch 2.
    let again = run(&tiny(1), &options(&dir)).err().unwrap();
    assert!(
        matches!(again, TrainError::RunExists { epoch: 1, .. }),
        "{again}"
    );
    // A resume that would train something else is refused, naming what changed.
    let other = run(&tiny(2).with_lr(0.01), &options(&dir).with_resume(true))
        .err()
        .unwrap()
        .to_string();
    assert!(other.contains("lr: 0.1 → 0.01"), "{other}");
    assert!(other.contains("--force"), "{other}");
    let resumed = run(&tiny(2), &options(&dir).with_resume(true)).unwrap();
    let epochs: Vec<usize> = resumed.history.iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, [1, 2]);
    assert_eq!(resumed.history[0], result.history[0]);
}

#[test]
fn a_folder_from_before_the_config_format_predicts_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("old");
    run(&tiny(1), &options(&dir)).unwrap();
    // What `cargo xtask train` wrote before: flat keys, the dataset as a name, no format.
    let folder = RunFolder::new(&dir);
    let new = folder.read_config().unwrap();
    let legacy = serde_json::json!({
        "input": new.input,
        "normalization": new.normalization,
        "arch": "cifar-resnet8",
        "model": new.spec.model,
        "dataset": "synthetic-shapes",
        "data_dir": null,
        "train_items": 32,
        "valid_items": 16,
        "epochs": 1,
        "batch_size": 16,
        "lr": 0.1,
        "optimizer": new.spec.optimizer,
        "schedule": new.spec.schedule,
        "warmup_epochs": 1,
        "label_smoothing": 0.0,
        "seed": 42,
        "backend": "flex",
        "image_size": null,
        "train_size": 32,
        "valid_size": 16,
        "command": ["xtask", "train"],
    });
    std::fs::write(folder.config_path(), legacy.to_string()).unwrap();
    let err = folder.read_config().unwrap_err().to_string();
    assert!(err.contains("earlier skipnet"), "{err}");
    let recipe = folder.recipe().unwrap();
    assert_eq!(recipe.config, new.spec.model);
    assert_eq!(recipe.normalization, new.normalization);
    let resumed = run(&tiny(2), &options(&dir).with_resume(true)).unwrap();
    assert_eq!(resumed.history.len(), 2);
    assert_eq!(folder.read_config().unwrap().format, CONFIG_FORMAT);
}

#[test]
fn bad_specs_fail_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bad");
    let wrong_task = TrainSpec::he2015(
        "cifar-resnet20",
        DatasetSpec::new(DatasetKind::SyntheticCells),
    )
    .unwrap();
    let err = run(&wrong_task, &options(&dir)).err().unwrap().to_string();
    assert!(err.contains("is a classification model"), "{err}");
    let nothing = run(&tiny(1), &options(&dir).with_resume(true))
        .err()
        .unwrap()
        .to_string();
    assert!(nothing.contains("nothing to resume"), "{nothing}");
    let missing = TrainSpec::he2015(
        "cifar-resnet20",
        DatasetSpec::new(DatasetKind::Cifar10).with_root(tmp.path().join("nowhere")),
    )
    .unwrap();
    let err = run(&missing, &options(&dir)).err().unwrap().to_string();
    assert!(err.contains("nowhere"), "{err}");
    assert!(!dir.join("config.json").exists());
}
