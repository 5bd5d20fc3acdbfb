//! `skipnet_train::run` end to end, as a library call: the run folder it writes, what reads it
//! back, resume (also of a folder from before `config.json` had a format), and refusals.
#![cfg(feature = "flex")]

use skipnet_data::{DatasetKind, DatasetSpec};
use skipnet_train::folder::CONFIG_FORMAT;
use skipnet_train::{Backend, Metric, RunFolder, RunOptions, TrainError, TrainSpec, evaluate, run};

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
    assert!(result.last(Metric::VALID_ACCURACY).is_finite());
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
        (accuracy - result.last(Metric::VALID_ACCURACY)).abs() < 1e-3,
        "{accuracy} vs {}",
        result.last(Metric::VALID_ACCURACY)
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
    assert!(other.contains("`force`"), "{other}");
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

/// Every tensor of a model by path, as bytes.
fn tensors(model: &skipnet_models::Model) -> Vec<(String, Vec<u8>)> {
    use burn::store::ModuleSnapshot;
    model
        .collect(None, None, false)
        .into_iter()
        .map(|t| (t.name.clone(), t.to_bytes().unwrap().to_vec()))
        .collect()
}

#[test]
fn fine_tuning_starts_from_a_run_freezes_the_backbone_and_keeps_the_best_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let pretrained = run(&tiny(1), &options(&base)).unwrap();
    // Fine-tune from that run on another dataset size, backbone frozen for the only epoch:
    // everything but the classifier keeps the pretrained values (batch-norm statistics
    // aside: they still track the new data).
    let dir = tmp.path().join("tuned");
    let spec = tiny(1)
        .with_seed(7)
        .with_init_weights(Some(base.clone()))
        .with_freeze_backbone_epochs(1);
    let tuned = run(&spec, &options(&dir)).unwrap();
    let (before, after) = (tensors(&pretrained.model), tensors(&tuned.model));
    let (mut same, mut changed) = (0, Vec::new());
    for ((path, a), (_, b)) in before.iter().zip(&after) {
        if path.contains("running") {
            continue;
        }
        if a == b {
            same += 1;
        } else {
            changed.push(path.clone());
        }
    }
    assert!(same > 20, "{same} unchanged");
    assert!(
        !changed.is_empty() && changed.iter().all(|p| p.contains("fc.")),
        "only the classifier trains: {changed:?}"
    );
    let config = RunFolder::new(&dir).read_config().unwrap();
    assert_eq!(config.spec.init_weights.as_deref(), Some(base.as_path()));
    assert_eq!(
        config.spec.dataset.preprocess,
        Some(skipnet_data::Preset::Cifar)
    );
    assert_eq!(config.classes.as_ref().unwrap()[0], "circle");
    // A freeze longer than the run is refused.
    let err = run(
        &tiny(1).with_freeze_backbone_epochs(2),
        &options(&tmp.path().join("x")),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("more than the run's 1 epochs"), "{err}");
}

#[test]
fn checkpoints_are_chosen_by_epoch_best_and_last_and_evaluated() {
    use skipnet_train::CheckpointChoice;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let result = run(&tiny(3), &options(&dir)).unwrap();
    let folder = RunFolder::new(&dir);
    let device = burn::tensor::Device::flex();
    let (best, metric, value) = folder.best_epoch().unwrap();
    assert_eq!(metric, "accuracy");
    let best_in_csv = result
        .history
        .iter()
        .map(|r| r.get("valid", "accuracy").unwrap())
        .fold(f64::MIN, f64::max);
    assert_eq!(value, best_in_csv);
    // The last two epochs and the best are kept.
    let kept = folder.checkpoint_models();
    assert!(
        kept.contains(&2) && kept.contains(&3) && kept.contains(&best),
        "{kept:?}"
    );
    let (_, _, path, epoch) = folder
        .load_model_at(CheckpointChoice::Best, &device)
        .unwrap();
    assert_eq!(epoch, Some(best));
    assert!(path.ends_with(format!("checkpoint/model-{best}.bpk")));
    // The last checkpoint is the final model.
    let (last, _, _, _) = folder
        .load_model_at(CheckpointChoice::Epoch(3), &device)
        .unwrap();
    let (final_model, recipe, path, epoch) = folder
        .load_model_at(CheckpointChoice::Last, &device)
        .unwrap();
    assert_eq!((path, epoch), (folder.model_path(), None));
    assert_eq!(tensors(&last), tensors(&final_model));
    let err = folder
        .load_model_at(CheckpointChoice::Epoch(9), &device)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("no checkpoint of epoch 9; this run keeps epochs:"),
        "{err}"
    );
    assert_eq!(
        "best".parse::<CheckpointChoice>().unwrap(),
        CheckpointChoice::Best
    );
    assert!("first".parse::<CheckpointChoice>().is_err());
    // Evaluated with the run's recipe on its validation data: the run's own accuracy.
    let eval = skipnet_train::evaluate_model(&final_model, &recipe, &tiny(3).dataset).unwrap();
    assert_eq!(eval.items, 16);
    assert!(
        (eval.get("accuracy") - result.last(Metric::VALID_ACCURACY)).abs() < 1e-9,
        "{} vs {}",
        eval.get("accuracy"),
        result.last(Metric::VALID_ACCURACY)
    );
    let confusion_total: u64 = eval.confusion.iter().flatten().sum();
    assert_eq!(confusion_total, 16);
    assert_eq!(eval.classes.len(), 10);
    assert!(eval.get("top-5_accuracy") >= eval.get("accuracy"));
}
