//! Plain progress lines for logs and CI (burn-train's terminal dashboard is used on a terminal).

use std::time::Instant;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::MetricDefinition;
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

/// Prints a line when each split starts and at every quarter of it; silent when `quiet`.
pub struct PlainProgress {
    split: String,
    total: usize,
    next_mark: usize,
    started: Instant,
    quiet: bool,
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
        }
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
        if !self.quiet {
            println!(
                "{}: epochs {} to {total_epochs}",
                label.unwrap_or("training"),
                starting_epoch.max(1)
            );
        }
    }

    fn update_epoch(&mut self, _epoch: usize) {}

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
        println!(
            "  {:<5} {:>6}/{} items  {:>6.1} items/s  {:>5.1}s",
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
