//! Optimisers and learning-rate schedules, as serialisable configuration.

use burn::lr_scheduler::LrSchedulerConfig;
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// The optimiser of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OptimizerSpec {
    /// SGD with momentum (PyTorch semantics: no dampening), optional Nesterov, L2 weight decay.
    Sgd {
        /// Momentum (0.9 in He et al.).
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 penalty (1e-4 in He et al.).
        weight_decay: f64,
    },
    /// AdamW (decoupled weight decay).
    AdamW {
        /// Decoupled weight decay.
        weight_decay: f64,
    },
}

impl OptimizerSpec {
    /// He et al.'s SGD: momentum 0.9, weight decay 1e-4.
    pub fn he_sgd() -> Self {
        OptimizerSpec::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 1e-4,
        }
    }

    /// AdamW with weight decay 0.01.
    pub fn adamw() -> Self {
        OptimizerSpec::AdamW { weight_decay: 0.01 }
    }

    /// Builds the optimiser.
    pub fn init(&self) -> ModuleOptimizer {
        match self {
            OptimizerSpec::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                let momentum = (*momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(*momentum)
                        .with_dampening(0.0)
                        .with_nesterov(*nesterov)
                });
                let decay =
                    (*weight_decay > 0.0).then(|| WeightDecayConfig::new(*weight_decay as f32));
                SgdConfig::new()
                    .with_momentum(momentum)
                    .with_weight_decay(decay)
                    .init()
            }
            OptimizerSpec::AdamW { weight_decay } => AdamWConfig::new()
                .with_weight_decay(*weight_decay as f32)
                .init(),
        }
    }
}

/// Which optimiser a run uses, by name (`sgd`, `adamw`): what `--optimizer` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD, momentum 0.9 (He et al.).
    Sgd,
    /// AdamW.
    Adamw,
}

impl OptimizerKind {
    /// The optimiser with its default settings: [`OptimizerSpec::he_sgd`] or
    /// [`OptimizerSpec::adamw`].
    pub fn default_spec(self) -> OptimizerSpec {
        match self {
            OptimizerKind::Sgd => OptimizerSpec::he_sgd(),
            OptimizerKind::Adamw => OptimizerSpec::adamw(),
        }
    }

    /// The name (`sgd`, `adamw`).
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adamw => "adamw",
        }
    }
}

impl std::fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for OptimizerKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        [OptimizerKind::Sgd, OptimizerKind::Adamw]
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| format!("unknown optimizer '{name}'; valid: sgd, adamw"))
    }
}

impl OptimizerSpec {
    /// Which optimiser this is.
    pub fn kind(&self) -> OptimizerKind {
        match self {
            OptimizerSpec::Sgd { .. } => OptimizerKind::Sgd,
            OptimizerSpec::AdamW { .. } => OptimizerKind::Adamw,
        }
    }

    /// The learning rate a run uses with this optimiser when none is given: He et al.'s SGD
    /// rate scaled linearly to `batch_size` ([`crate::spec::scaled_sgd_lr`]), or AdamW's usual
    /// 1e-3.
    pub fn default_lr(&self, batch_size: usize) -> f64 {
        match self {
            OptimizerSpec::Sgd { .. } => crate::spec::scaled_sgd_lr(batch_size),
            OptimizerSpec::AdamW { .. } => crate::spec::ADAMW_LR,
        }
    }
}

/// A schedule by name (`step`, `cosine`, `constant`): what `--schedule` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// ÷10 at 50 % and 75 % of the run (He et al.).
    Step,
    /// Cosine annealing to zero.
    Cosine,
    /// Constant.
    Constant,
}

impl ScheduleKind {
    /// The schedule this name means.
    pub fn spec(self) -> ScheduleSpec {
        match self {
            ScheduleKind::Step => ScheduleSpec::he_step(),
            ScheduleKind::Cosine => ScheduleSpec::Cosine,
            ScheduleKind::Constant => ScheduleSpec::Constant,
        }
    }

    /// The name (`step`, `cosine`, `constant`).
    pub fn name(self) -> &'static str {
        match self {
            ScheduleKind::Step => "step",
            ScheduleKind::Cosine => "cosine",
            ScheduleKind::Constant => "constant",
        }
    }
}

impl std::fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ScheduleKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        [
            ScheduleKind::Step,
            ScheduleKind::Cosine,
            ScheduleKind::Constant,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
        .ok_or_else(|| format!("unknown schedule '{name}'; valid: step, cosine, constant"))
    }
}

/// The learning-rate schedule of a run, stepped once per optimiser step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ScheduleSpec {
    /// The same rate throughout.
    Constant,
    /// Divide by `factor` at each milestone, given as fractions of the run (He et al.: ÷10 at
    /// 50% and 75%).
    Step {
        /// Fractions of the total steps, increasing, in (0, 1).
        milestones: Vec<f64>,
        /// Division factor at each milestone.
        factor: f64,
    },
    /// Cosine annealing to zero over the run.
    Cosine,
}

impl ScheduleSpec {
    /// Which kind of schedule this is (a step schedule of any milestones is `Step`).
    pub fn kind(&self) -> ScheduleKind {
        match self {
            ScheduleSpec::Constant => ScheduleKind::Constant,
            ScheduleSpec::Step { .. } => ScheduleKind::Step,
            ScheduleSpec::Cosine => ScheduleKind::Cosine,
        }
    }

    /// He et al.'s schedule: ÷10 at 50% and 75% of training.
    pub fn he_step() -> Self {
        ScheduleSpec::Step {
            milestones: vec![0.5, 0.75],
            factor: 10.0,
        }
    }

    /// The schedule for a run of `total_steps` optimiser steps starting at `lr`, after a
    /// linear warm-up of `warmup_steps` from `lr / 10`.
    pub fn init(
        &self,
        lr: f64,
        total_steps: usize,
        warmup_steps: usize,
    ) -> Result<ModuleLrScheduler, TrainError> {
        self.build(lr, total_steps, warmup_steps)
            .map_err(|problem| TrainError::invalid("schedule", problem))
    }

    fn build(
        &self,
        lr: f64,
        total_steps: usize,
        warmup_steps: usize,
    ) -> Result<ModuleLrScheduler, String> {
        if !(lr > 0.0 && lr <= 1.0) {
            return Err(format!("learning rate {lr} must be in (0, 1]"));
        }
        let total = total_steps.max(1);
        let warmup = warmup_steps.min(total.saturating_sub(1));
        let main_steps = total - warmup;
        let main: LrSchedulerConfig = match self {
            ScheduleSpec::Constant => LrSchedulerConfig::Constant(lr),
            ScheduleSpec::Cosine => {
                CosineAnnealingLrSchedulerConfig::new(lr, main_steps.max(1)).into()
            }
            ScheduleSpec::Step { milestones, factor } => {
                if milestones.iter().any(|m| !(*m > 0.0 && *m < 1.0))
                    || milestones.windows(2).any(|w| w[0] >= w[1])
                {
                    return Err(format!(
                        "step milestones {milestones:?} must increase within (0, 1)"
                    ));
                }
                if *factor <= 0.0 {
                    return Err(format!("step factor {factor} must be positive"));
                }
                let mut steps: Vec<usize> = milestones
                    .iter()
                    .map(|m| ((m * main_steps as f64).round() as usize).max(1))
                    .collect();
                steps.dedup();
                let schedulers = (0..=steps.len())
                    .map(|i| LrSchedulerConfig::Constant(lr / factor.powi(i as i32)))
                    .collect();
                SequentialLrSchedulerConfig::new(schedulers, steps).into()
            }
        };
        let sequence = if warmup > 0 {
            let warm = LinearLrSchedulerConfig::new(lr / 10.0, lr, warmup).into();
            SequentialLrSchedulerConfig::new(vec![warm, main], vec![warmup])
        } else {
            SequentialLrSchedulerConfig::new(vec![main], vec![])
        };
        sequence.init()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(spec: &ScheduleSpec, lr: f64, total: usize, warmup: usize) -> Vec<f64> {
        let mut s = spec.init(lr, total, warmup).unwrap();
        (0..total).map(|_| s.step().base()).collect()
    }

    #[test]
    fn he_step_divides_at_half_and_three_quarters() {
        let lrs = rates(&ScheduleSpec::he_step(), 0.1, 8, 0);
        let expected = [0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001];
        for (a, b) in lrs.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{lrs:?}");
        }
    }

    #[test]
    fn warmup_then_cosine() {
        let lrs = rates(&ScheduleSpec::Cosine, 0.1, 12, 2);
        assert!((lrs[0] - 0.01).abs() < 1e-12, "{lrs:?}");
        assert!((lrs[2] - 0.1).abs() < 1e-12, "{lrs:?}");
        assert!(
            lrs[11] < 0.01 && lrs.windows(2).skip(2).all(|w| w[1] <= w[0]),
            "{lrs:?}"
        );
        assert!(
            rates(&ScheduleSpec::Constant, 0.05, 3, 0)
                .iter()
                .all(|&l| l == 0.05)
        );
    }

    #[test]
    fn bad_schedules_are_errors() {
        assert!(ScheduleSpec::Constant.init(0.0, 10, 0).is_err());
        let bad = ScheduleSpec::Step {
            milestones: vec![0.8, 0.4],
            factor: 10.0,
        };
        assert!(
            bad.init(0.1, 10, 0)
                .err()
                .unwrap()
                .to_string()
                .contains("must increase")
        );
    }
}
