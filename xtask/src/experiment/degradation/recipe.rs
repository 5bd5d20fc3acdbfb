//! What the degradation experiment trains: its budgets as changes to He et al.'s recipe, the
//! errors it reports, and the paper's numbers it compares with.

use clap::ValueEnum;
use skipnet_data::registry::DatasetKind;
use skipnet_train::{Metric, ScheduleKind, SpecOverrides};

use super::DegradationArgs;

/// `--budget`: how long the networks train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Budget {
    /// Measured to show the orderings on a 2-core CPU in under 30 minutes: 3 epochs of 2000
    /// images (500 to validate), batch 64, lr 0.1, cosine, one warm-up epoch.
    Cpu,
    /// He et al.'s CIFAR-10 recipe (for a GPU): 164 epochs of the whole set, batch 128 (64k
    /// iterations), lr 0.1 ÷10 at 32k and 48k, no warm-up.
    Paper,
}

/// What the budget, then each value a flag gives (not with `--quick`), changes in He et al.'s
/// recipe ([`skipnet_train::TrainSpec::he2015`]).
pub(super) fn recipe(args: &DegradationArgs) -> SpecOverrides {
    let (epochs, sizes, batch_size, lr, schedule, warmup) = match (args.common.quick, args.budget) {
        // Seconds, for CI; the numbers mean nothing.
        (true, _) => (1, Some([64, 32]), 32, 0.05, ScheduleKind::Cosine, 0),
        // Measured to show the orderings on a 2-core CPU in under 30 minutes.
        (false, Budget::Cpu) => (3, Some([2000, 500]), 64, 0.1, ScheduleKind::Cosine, 1),
        // 164 epochs of ⌈50000 / 128⌉ = 391 steps = 64,124 iterations; the step schedule
        // divides the rate at epochs 82 and 123 (32k and 48k iterations). He et al. warm up
        // only ResNet-110. No sizes: the whole training and test sets.
        (false, Budget::Paper) => (164, None, 128, 0.1, ScheduleKind::Step, 0),
    };
    let flags = match args.common.quick {
        true => SpecOverrides::default(),
        false => args.recipe.overrides(),
    };
    SpecOverrides {
        epochs: flags.epochs.or(Some(epochs)),
        train_size: flags.train_size.or(sizes.map(|s| s[0])),
        valid_size: flags.valid_size.or(sizes.map(|s| s[1])),
        batch_size: flags.batch_size.or(Some(batch_size)),
        lr: flags.lr.or(Some(lr)),
        schedule: flags.schedule.or(Some(schedule)),
        warmup_epochs: Some(warmup),
        ..SpecOverrides::default()
    }
}

/// Error in % from accuracy in %.
pub(super) fn error(accuracy: f64) -> f64 {
    100.0 - accuracy
}

/// A final error: what it is called, the accuracy it comes from, and how.
pub(super) type Error = (&'static str, Metric, fn(f64) -> f64);
pub(super) const TRAIN_ERROR: Error = ("training error", Metric::TRAIN_ACCURACY, error);
pub(super) const VALID_ERROR: Error = ("validation error", Metric::VALID_ACCURACY, error);

/// The real datasets the experiment looks for, in this order.
pub(super) const REAL_DATA: [DatasetKind; 2] = [DatasetKind::FashionMnist, DatasetKind::Cifar10];

/// He et al. 2015, Table 6 (CIFAR-10 test error, %); the plain nets appear only in Fig. 6.
pub(super) fn paper(net: &str, depth: usize) -> &'static str {
    match (net, depth) {
        ("resnet", 20) => "8.75",
        ("resnet", 32) => "7.51",
        ("resnet", 44) => "7.17",
        ("resnet", 56) => "6.97",
        ("resnet", 110) => "6.43",
        _ => "–",
    }
}
