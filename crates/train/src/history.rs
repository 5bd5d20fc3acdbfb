//! Per-epoch metric history: a burn-train [`MetricLogger`] that keeps each epoch's final values,
//! writes them as CSV (atomically, after every epoch) and prints one readable line per epoch.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burn::train::logger::MetricLogger;

use crate::error::TrainError;
use crate::metric::Metric;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

/// The final metric values of one epoch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// `(metric name, value)` of the training split, in registration order.
    pub train: Vec<(String, f64)>,
    /// `(metric name, value)` of the validation split.
    pub valid: Vec<(String, f64)>,
}

impl EpochRecord {
    /// The value of `metric` in `split` (`"train"` or `"valid"`).
    pub fn get(&self, split: &str, metric: &str) -> Option<f64> {
        let values = if split == "train" {
            &self.train
        } else {
            &self.valid
        };
        values.iter().find(|(n, _)| n == metric).map(|(_, v)| *v)
    }

    /// The value of `metric` at this epoch, if it was logged.
    pub fn value(&self, metric: Metric) -> Option<f64> {
        self.get(metric.split.name(), metric.key.key())
    }
}

/// A short, stable name for a burn-train metric (`Top-K Accuracy @ TopK(5)` → `Top-5 Accuracy`).
pub fn display_name(name: &str) -> String {
    if let Some(k) = name
        .strip_prefix("Top-K Accuracy @ TopK(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        return format!("Top-{k} Accuracy");
    }
    name.to_string()
}

/// Shared, growing history of a run.
pub type History = Arc<Mutex<Vec<EpochRecord>>>;

/// The key of a burn-train metric in the history and CSV: `Top-K Accuracy @ TopK(5)` →
/// `top-5_accuracy`, `Learning Rate` → `learning_rate`.
pub fn metric_key(name: &str) -> String {
    display_name(name).to_lowercase().replace(' ', "_")
}

/// Column name of a metric in the CSV: `train_loss`, `valid_top-5_accuracy`...
pub fn column(split: &str, key: &str) -> String {
    format!("{split}_{key}")
}

/// Parses a CSV written by [`to_csv`] back into records (for resuming a run).
pub fn from_csv(text: &str) -> Result<Vec<EpochRecord>, TrainError> {
    parse_csv(text).map_err(|problem| TrainError::invalid("metrics file", problem))
}

fn parse_csv(text: &str) -> Result<Vec<EpochRecord>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty metrics file")?
        .split(',')
        .collect();
    if header.first() != Some(&"epoch") {
        return Err("metrics file does not start with an `epoch` column".into());
    }
    let columns: Vec<(bool, String)> = header[1..]
        .iter()
        .map(|c| match c.split_once('_') {
            Some(("train", key)) => Ok((false, key.to_string())),
            Some(("valid", key)) => Ok((true, key.to_string())),
            _ => Err(format!("unexpected column `{c}` in metrics file")),
        })
        .collect::<Result<_, _>>()?;
    let mut records = Vec::new();
    for (row, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let epoch = cells[0]
            .parse()
            .map_err(|_| format!("row {}: epoch `{}` is not a number", row + 2, cells[0]))?;
        let mut record = EpochRecord {
            epoch,
            ..Default::default()
        };
        for ((valid, key), cell) in columns.iter().zip(&cells[1..]) {
            if cell.is_empty() {
                continue;
            }
            let value: f64 = cell
                .parse()
                .map_err(|_| format!("row {}: `{cell}` is not a number", row + 2))?;
            let target = if *valid {
                &mut record.valid
            } else {
                &mut record.train
            };
            target.push((key.clone(), value));
        }
        records.push(record);
    }
    Ok(records)
}

/// Renders the history as CSV: `epoch` then every `train_*` and `valid_*` column.
pub fn to_csv(history: &[EpochRecord]) -> String {
    let mut columns: Vec<(String, String)> = Vec::new();
    for record in history {
        for (split, values) in [("train", &record.train), ("valid", &record.valid)] {
            for (name, _) in values.iter() {
                if !columns.iter().any(|(s, n)| s == split && n == name) {
                    columns.push((split.to_string(), name.clone()));
                }
            }
        }
    }
    let mut out = String::from("epoch");
    for (split, name) in &columns {
        out.push(',');
        out.push_str(&column(split, name));
    }
    out.push('\n');
    for record in history {
        out.push_str(&record.epoch.to_string());
        for (split, name) in &columns {
            out.push(',');
            if let Some(v) = record.get(split, name) {
                out.push_str(&format!("{v}"));
            }
        }
        out.push('\n');
    }
    out
}

/// Writes `contents` to `path` through a temporary file, synced, and a rename.
pub use skipnet_data::image::write_bytes_atomically as write_atomically;

/// The burn-train logger behind [`History`].
pub struct HistoryLogger {
    history: History,
    csv: PathBuf,
    names: HashMap<MetricId, String>,
    current: HashMap<(usize, bool), Vec<(String, f64)>>,
    total_epochs: usize,
    quiet: bool,
}

impl HistoryLogger {
    /// Logs into `history` (which may hold the epochs of an earlier, resumed part of the run)
    /// and `csv`; prints a line per epoch unless `quiet`.
    pub fn new(history: History, csv: PathBuf, total_epochs: usize, quiet: bool) -> Self {
        Self {
            history,
            csv,
            names: HashMap::new(),
            current: HashMap::new(),
            total_epochs,
            quiet,
        }
    }

    fn print(&self, record: &EpochRecord) {
        if self.quiet {
            return;
        }
        let fmt = |values: &[(String, f64)]| {
            values
                .iter()
                .map(|(n, v)| format!("{n} {v:.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "epoch {}/{}  train: {}  |  valid: {}",
            record.epoch,
            self.total_epochs,
            fmt(&record.train),
            fmt(&record.valid)
        );
    }
}

impl MetricLogger for HistoryLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let valid = matches!(split, Split::Valid);
        let values = self.current.entry((epoch, valid)).or_default();
        for entry in update.entries_numeric {
            let Some(name) = self.names.get(&entry.entry.metric_id) else {
                continue;
            };
            let value = match (&entry.numeric_entry, &entry.running_entry) {
                (Some(NumericEntry::Final(v)), _) => *v,
                (_, Some(running)) => running.current(),
                (Some(value), None) => value.current(),
                (None, None) => continue,
            };
            match values.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value,
                None => values.push((name.clone(), value)),
            }
        }
    }

    fn read_numeric(
        &mut self,
        _name: &str,
        _epoch: usize,
        _split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        Err("the history logger keeps epoch summaries only".into())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), metric_key(&definition.name));
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        let epoch = summary.epoch_number;
        if !matches!(summary.split, Split::Valid) {
            return;
        }
        let record = EpochRecord {
            epoch,
            train: self.current.remove(&(epoch, false)).unwrap_or_default(),
            valid: self.current.remove(&(epoch, true)).unwrap_or_default(),
        };
        self.print(&record);
        let csv = {
            let mut history = self.history.lock().expect("history lock");
            history.retain(|r| r.epoch != epoch);
            history.push(record);
            history.sort_by_key(|r| r.epoch);
            to_csv(&history)
        };
        if let Err(e) = write_atomically(&self.csv, csv.as_bytes()) {
            eprintln!("warning: cannot write {}: {e}", self.csv.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_are_short() {
        assert_eq!(display_name("Top-K Accuracy @ TopK(5)"), "Top-5 Accuracy");
        assert_eq!(
            column("valid", &metric_key("Top-K Accuracy @ TopK(5)")),
            "valid_top-5_accuracy"
        );
        assert_eq!(
            column("train", &metric_key("Learning Rate")),
            "train_learning_rate"
        );
    }

    #[test]
    fn csv_has_one_row_per_epoch_and_stable_columns() {
        let history = vec![
            EpochRecord {
                epoch: 1,
                train: vec![("loss".into(), 2.5), ("accuracy".into(), 10.0)],
                valid: vec![("loss".into(), 2.25)],
            },
            EpochRecord {
                epoch: 2,
                train: vec![("loss".into(), 1.5), ("accuracy".into(), 40.0)],
                valid: vec![("loss".into(), 1.75)],
            },
        ];
        assert_eq!(
            to_csv(&history),
            "epoch,train_loss,train_accuracy,valid_loss\n1,2.5,10,2.25\n2,1.5,40,1.75\n"
        );
        assert_eq!(history[1].get("valid", "loss"), Some(1.75));
        assert_eq!(from_csv(&to_csv(&history)).unwrap(), history);
        assert!(from_csv("epoch,test_x\n").is_err());
        assert!(
            from_csv("epoch,train_loss\n1,abc\n")
                .unwrap_err()
                .to_string()
                .contains("not a number")
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        write_atomically(&path, b"a\n").unwrap();
        write_atomically(&path, b"b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary files left"
        );
    }
}
