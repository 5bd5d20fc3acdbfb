//! Plain progress lines for logs and CI (burn-train's terminal dashboard is used on a terminal):
//! each split at every quarter with its rate and the time it still needs, and after every epoch
//! the run's elapsed time and an estimate of the rest.

use std::time::Instant;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::MetricDefinition;
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

/// Prints a line at every quarter of each split and one after every epoch; silent when `quiet`.
pub struct PlainProgress {
    split: String,
    total: usize,
    next_mark: usize,
    started: Instant,
    quiet: bool,
    run_started: Instant,
    total_epochs: usize,
    epochs_done: usize,
}

impl PlainProgress {
    /// A renderer printing to stdout (nothing when `quiet`).
    pub fn new(quiet: bool) -> Self {
        Self {
            split: String::new(),
            total: 0,
            next_mark: 0,
            started: Instant::now(),
            quiet,
            run_started: Instant::now(),
            total_epochs: 0,
            epochs_done: 0,
        }
    }
}

/// Seconds as people read them: `42 s`, `3.5 min`, `1.2 h`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        "–".into()
    } else if seconds < 60.0 {
        format!("{seconds:.0} s")
    } else if seconds < 3600.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// What is left of a job `done` of `total` parts of which took `elapsed` seconds, at the same
/// pace (NaN before the first part).
pub fn remaining(elapsed: f64, done: f64, total: f64) -> f64 {
    if done <= 0.0 {
        f64::NAN
    } else {
        elapsed / done * (total - done).max(0.0)
    }
}

impl MetricsRendererTraining for PlainProgress {
    fn update_train(&mut self, _state: MetricState) {}
    fn update_valid(&mut self, _state: MetricState) {}
}

impl MetricsRendererEvaluation for PlainProgress {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl TrainingProgressLogger for PlainProgress {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        label: Option<&str>,
    ) {
        self.run_started = Instant::now();
        // Epochs this process trains (a resumed run starts after its finished ones).
        self.total_epochs = (total_epochs + 1).saturating_sub(starting_epoch.max(1));
        self.epochs_done = 0;
        if !self.quiet {
            println!(
                "{}: epochs {} to {total_epochs}",
                label.unwrap_or("training"),
                starting_epoch.max(1)
            );
        }
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.epochs_done += 1;
        if self.quiet {
            return;
        }
        let elapsed = self.run_started.elapsed().as_secs_f64();
        let (done, total) = (self.epochs_done as f64, self.total_epochs as f64);
        let left = remaining(elapsed, done, total);
        println!(
            "  run: epoch {epoch} done, {} elapsed{}",
            duration(elapsed),
            if self.epochs_done < self.total_epochs {
                format!(", about {} left", duration(left))
            } else {
                String::new()
            }
        );
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        self.total = total_items;
        self.next_mark = total_items.div_ceil(4).max(1);
        self.started = Instant::now();
    }

    fn update_split(&mut self, items_processed: usize) {
        if self.quiet || items_processed < self.next_mark || self.total == 0 {
            return;
        }
        while self.next_mark <= items_processed {
            self.next_mark += self.total.div_ceil(4).max(1);
        }
        let secs = self.started.elapsed().as_secs_f64();
        let rate = items_processed as f64 / secs.max(1e-9);
        let left = match items_processed < self.total {
            true => {
                let left = remaining(secs, items_processed as f64, self.total as f64);
                format!("  {} left", duration(left))
            }
            false => String::new(),
        };
        println!(
            "  {:<5} {:>6}/{} items  {:>6.1} items/s  {:>5.1}s{left}",
            self.split, items_processed, self.total, rate, secs
        );
    }

    fn end_split(&mut self) {}
    fn end(&mut self) {}
    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for PlainProgress {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for PlainProgress {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, _definition: MetricDefinition) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_seconds_minutes_or_hours() {
        assert_eq!(duration(42.4), "42 s");
        assert_eq!(duration(210.0), "3.5 min");
        assert_eq!(duration(4320.0), "1.2 h");
        assert_eq!(duration(f64::NAN), "–");
    }

    #[test]
    fn the_rest_goes_at_the_pace_so_far() {
        assert_eq!(remaining(30.0, 1.0, 5.0), 120.0);
        assert_eq!(remaining(10.0, 50.0, 200.0), 30.0);
        assert_eq!(remaining(10.0, 5.0, 5.0), 0.0);
        assert!(remaining(3.0, 0.0, 5.0).is_nan());
    }

    #[test]
    fn a_resumed_run_counts_only_the_epochs_it_still_trains() {
        let mut progress = PlainProgress::new(true);
        progress.start(10, 4, None, None);
        assert_eq!(progress.total_epochs, 7);
        progress.update_epoch(4);
        assert_eq!(progress.epochs_done, 1);
        progress.start(5, 0, None, None);
        assert_eq!((progress.total_epochs, progress.epochs_done), (5, 0));
    }
}
