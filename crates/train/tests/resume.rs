//! Resuming a run restores the optimiser (its own process: the test seeds the backend's
//! global random generator, which tests running beside it would otherwise draw from).
#![cfg(feature = "flex")]

mod common;

use skipnet_train::optim::OptimizerSpec;
use skipnet_train::{Backend, Fit};

use common::{fit_halves, quiet, recipe};

/// Resuming restores the optimiser: with one full batch per epoch (so data order cannot
/// matter), 1 epoch + resume to 3 ends where 3 uninterrupted epochs end. SGD momentum makes the
/// third epoch depend on the state saved after the first.
#[test]
fn resume_restores_the_optimiser_state() {
    let run = |dir: &std::path::Path, epochs: usize, resume_from: Option<usize>| {
        // The same initial weights in every run (a fresh model each time: a cloned module
        // would share its batch-norm running statistics between runs).
        let device = Backend::Flex.device().unwrap().autodiff();
        device.seed(7);
        let spec = recipe(epochs, 0.05, OptimizerSpec::he_sgd()).with_batch_size(16);
        let options = quiet(dir);
        let fit = Fit {
            resume_from,
            ..Fit::new(&spec, &options)
        };
        fit_halves(&device, 16, 8, 0.25, &fit).unwrap().history
    };
    let straight = tempfile::tempdir().unwrap();
    let a = run(straight.path(), 3, None);
    let resumed = tempfile::tempdir().unwrap();
    run(resumed.path(), 1, None);
    assert_eq!(
        skipnet_train::fit::latest_checkpoint(resumed.path()),
        Some(1)
    );
    let b = run(resumed.path(), 3, Some(1));
    assert_eq!(b.iter().map(|r| r.epoch).collect::<Vec<_>>(), vec![1, 2, 3]);
    // Train loss of epoch 3 is computed with the weights after step 2 (which used the momentum
    // saved after step 1); valid loss after step 3 also needs the restored BN statistics.
    for split in ["train", "valid"] {
        let (x, y) = (
            a[2].get(split, "loss").unwrap(),
            b[2].get(split, "loss").unwrap(),
        );
        assert!(
            (x - y).abs() < 1e-4,
            "epoch 3 {split} loss: straight {x} vs resumed {y}"
        );
    }
}
