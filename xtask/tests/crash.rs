//! Crash safety: a run killed with SIGKILL in the middle of an epoch resumes from its last
//! checkpoint, and a truncated checkpoint is reported and skipped for the previous one.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{csv_epochs, text, tiny_train_args, xtask};

fn complete_checkpoint(run: &Path, epoch: usize) -> bool {
    ["model", "optim", "scheduler"]
        .iter()
        .all(|p| run.join(format!("checkpoint/{p}-{epoch}.bpk")).is_file())
}

/// The final model of a run loads (strictly) into its architecture.
fn assert_final_model_loads(run: &Path) {
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    let config: skipnet_models::ModelConfig =
        serde_json::from_value(config["model"].clone()).unwrap();
    let model = config.init(&burn::tensor::Device::flex()).unwrap();
    skipnet_models::interop::load_weights(model, &run.join("model.bpk")).unwrap();
}

#[test]
fn sigkill_mid_epoch_then_resume_finishes_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("runs/k");
    // 24 steps per epoch: long enough to be killed inside epoch 2.
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(tiny_train_args("k", "3", "384"))
        .current_dir(dir.path())
        .env_remove("SKIPNET_DATA")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !(complete_checkpoint(&run, 1) && csv_epochs(&run).len() == 1) {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "epoch 1 never finished"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("training exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // In epoch 2 now: SIGKILL (no chance to clean up).
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = csv_epochs(&run);
    assert!(
        !killed_at.is_empty() && killed_at.len() < 3,
        "{killed_at:?}"
    );
    assert!(!run.join("model.bpk").exists(), "killed before the end");

    let mut resume = tiny_train_args("k", "3", "384");
    resume.push("--resume".into());
    let out = xtask(&resume, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("resuming"), "{}", text(&out));
    assert_eq!(
        csv_epochs(&run),
        ["1", "2", "3"],
        "no duplicate or missing epoch"
    );
    assert_final_model_loads(&run);
}

#[test]
fn truncated_checkpoint_falls_back_to_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("runs/t");
    let out = xtask(&tiny_train_args("t", "2", "32"), dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(complete_checkpoint(&run, 1) && complete_checkpoint(&run, 2));
    // Truncate the newest model checkpoint (as a full disk or a bad copy would).
    let newest = run.join("checkpoint/model-2.bpk");
    let len = std::fs::metadata(&newest).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&newest)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    let mut resume = tiny_train_args("t", "3", "32");
    resume.push("--resume".into());
    let out = xtask(&resume, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("checkpoint of epoch 2 is unreadable") && said.contains("model-2.bpk"),
        "{said}"
    );
    assert!(
        said.contains("resuming") && said.contains("after epoch 1"),
        "{said}"
    );
    assert_eq!(csv_epochs(&run), ["1", "2", "3"]);
    assert_final_model_loads(&run);

    // Every checkpoint unreadable: a clear error, not a panic in burn-train.
    for entry in std::fs::read_dir(run.join("checkpoint")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::write(&path, b"BPK but not really").unwrap();
    }
    let mut again = tiny_train_args("t", "4", "32");
    again.push("--resume".into());
    let out = xtask(&again, dir.path());
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no complete, readable checkpoint"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("panicked"), "{}", text(&out));
}
