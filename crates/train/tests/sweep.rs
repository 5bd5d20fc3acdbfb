//! A sweep end to end at a tiny size: step-time estimate, training order and folders, a
//! diverged run kept as a result (or failing the sweep when not asked to), and what the results
//! read back — finals, medians, the best of a grid, bands, replay commands and CSV.

use skipnet_data::{DatasetKind, DatasetSpec};
use skipnet_train::sweep::Order;
use skipnet_train::{Backend, Cell, Column, Metric, ScheduleSpec, Sweep, TrainError, TrainSpec};

/// A ten-layer plain MLP on 64 synthetic images, 2 epochs of 4 steps at a constant `lr`.
fn spec(lr: f64) -> TrainSpec {
    let data = DatasetSpec::new(DatasetKind::SyntheticShapes).with_sizes(Some(64), Some(16));
    let mut spec = TrainSpec::he2015("plain-mlp10", data)
        .unwrap()
        .with_epochs(2)
        .with_batch_size(16)
        .with_lr(lr)
        .with_schedule(ScheduleSpec::Constant);
    spec.warmup_epochs = 0;
    spec
}

#[test]
fn sweeps_keep_diverged_runs_as_results_and_read_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    // At rate 1 (SGD, momentum 0.9) the ten plain layers' loss leaves f32's range within the
    // first epochs; at 0.01 it trains.
    let cells = vec![
        Cell::new("steady", spec(0.01)).with_field("lr", 0.01),
        Cell::new("wild", spec(1.0)).with_field("lr", 1.0),
    ];
    let sweep = Sweep::new(cells, vec![3, 4])
        .with_order(Order::SeedBySeed)
        .with_divergence_as_result();

    let estimate = sweep.estimate(Backend::Flex).unwrap();
    let steps: Vec<usize> = estimate.cells.iter().map(|c| c.2).collect();
    assert_eq!(steps, [8, 8], "64 images / batch 16 × 2 epochs");
    assert!(estimate.cells.iter().all(|c| c.1 > 0.0));
    assert!(estimate.total_seconds > 0.0);

    let results = sweep.run(dir.path(), Backend::Flex).unwrap();
    let order: Vec<(&str, u64)> = results
        .runs
        .iter()
        .map(|r| (r.label.as_str(), r.seed))
        .collect();
    assert_eq!(
        order,
        [("steady", 3), ("wild", 3), ("steady", 4), ("wild", 4)]
    );
    assert!(results.of("steady").all(|r| r.result().is_some()));
    for run in results.of("wild") {
        let why = run.outcome.as_ref().err().expect("the wild runs diverge");
        assert!(why.contains("non-finite loss"), "{why}");
        assert!(run.history().is_empty());
    }
    assert!(dir.path().join("runs/steady-seed3/metrics.csv").exists());
    assert!(dir.path().join("runs/wild-seed4/config.json").exists());

    // Finals, medians and the best of the two rates.
    let steady = results.finals("steady", Metric::TRAIN_LOSS);
    assert_eq!(steady.iter().map(|p| p.0).collect::<Vec<_>>(), [3, 4]);
    assert!(steady.iter().all(|p| p.1.is_finite()));
    let median = results.median_final("steady", Metric::TRAIN_LOSS);
    let spread = results.spread("steady", Metric::TRAIN_LOSS);
    assert_eq!(median, spread.median);
    assert!(spread.min <= spread.median && spread.median <= spread.max);
    assert_eq!(
        results.median_final("wild", Metric::TRAIN_LOSS),
        f64::INFINITY
    );
    let label = |lr: f64| if lr < 0.5 { "steady" } else { "wild" }.to_string();
    assert_eq!(
        results.lowest([1.0, 0.01], label, Metric::TRAIN_LOSS),
        Some(0.01)
    );
    assert_eq!(results.pairs("steady", "wild", Metric::TRAIN_LOSS).len(), 2);

    // Per-epoch band and curve of the finished runs; nothing from the diverged ones.
    let band = results.epoch_band("steady", Metric::VALID_ACCURACY);
    assert_eq!(band.iter().map(|p| p.0).collect::<Vec<_>>(), [1.0, 2.0]);
    assert!(band.iter().all(|p| p.1 <= p.2 && p.2 <= p.3));
    assert!(results.epoch_band("wild", Metric::TRAIN_LOSS).is_empty());
    assert_eq!(results.runs[0].curve(Metric::TRAIN_LOSS).len(), 2);
    assert!(results.params("plain-mlp10").unwrap() > 0);

    // Replay commands only for the finished runs.
    let commands = results.commands();
    assert_eq!(commands.len(), 2);
    assert!(commands[0].starts_with("cargo xtask train --config "));
    assert!(
        commands[0].ends_with("steady-seed3/config.json"),
        "{commands:?}"
    );

    // CSV: a row per finished epoch, one row with epoch 0 and NaN per diverged run.
    let csv = dir.path().join("sweep.csv");
    results
        .write_csv(
            &csv,
            &[
                Column::label("cell"),
                Column::field("lr"),
                Column::seed(),
                Column::epoch(),
                Column::metric(Metric::TRAIN_LOSS),
            ],
        )
        .unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "cell,lr,seed,epoch,train_loss");
    assert_eq!(lines.len(), 1 + 2 * 2 + 2, "{text}");
    assert!(lines[1].starts_with("steady,0.01,3,1,"), "{text}");
    assert_eq!(lines[3], "wild,1,3,0,NaN");
}

#[test]
fn a_diverged_run_fails_a_sweep_that_does_not_keep_them() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = Sweep::single_seed(vec![Cell::new("wild", spec(1.0))], 3);
    match sweep.run(dir.path(), Backend::Flex) {
        Err(TrainError::NonFinite { .. }) => {}
        Err(other) => panic!("expected a non-finite loss, got {other}"),
        Ok(_) => panic!("the sweep must fail"),
    }
    // A single-seed sweep names its run folders after the cells alone.
    assert!(dir.path().join("runs/wild/config.json").exists());
}
