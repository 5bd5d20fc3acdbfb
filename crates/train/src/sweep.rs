//! Experiments as data: a [`Sweep`] is a list of [`Cell`]s (a label and the [`TrainSpec`] it
//! trains) run once per seed; [`Sweep::run`] trains every (cell, seed) into its own run folder
//! and hands back [`SweepResults`], which read finals, spreads over seeds, per-epoch bands for
//! plots, the replay commands and CSV files off the runs with typed [`Metric`]s.
//!
//! ```no_run
//! use skipnet_data::{DatasetKind, DatasetSpec};
//! use skipnet_train::{Backend, Cell, Column, Metric, Sweep, TrainSpec};
//!
//! let data = DatasetSpec::new(DatasetKind::SyntheticShapes).with_sizes(Some(512), Some(128));
//! let cells = ["cifar-resnet20", "cifar-plain20"]
//!     .into_iter()
//!     .map(|arch| Ok(Cell::new(arch, TrainSpec::he2015(arch, data.clone())?.with_epochs(2))))
//!     .collect::<Result<Vec<_>, skipnet_train::TrainError>>()?;
//! let results = Sweep::new(cells, vec![0, 1]).run("sweeps/demo".as_ref(), Backend::Flex)?;
//! let accuracy = results.spread("cifar-resnet20", Metric::VALID_ACCURACY);
//! println!("ResNet-20: {:.1} % ({:.1}–{:.1})", accuracy.median, accuracy.min, accuracy.max);
//! results.write_csv(
//!     "sweeps/demo/accuracy.csv".as_ref(),
//!     &[Column::label("arch"), Column::seed(), Column::epoch(), Column::metric(Metric::VALID_ACCURACY)],
//! )?;
//! # Ok::<(), skipnet_train::TrainError>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use skipnet_data::registry::{DatasetSpec, Splits, open};

use crate::backend::Backend;
use crate::error::{Result, TrainError};
use crate::history::{EpochRecord, write_atomically};
use crate::metric::Metric;
use crate::progress::{duration, remaining};
use crate::run::{RunResult, run};
use crate::spec::{RunOptions, TrainSpec};
use crate::task::task_of;
use crate::timing::time_train_step;

/// One configuration of a sweep: what it is called in tables and plots, its run folders' stem
/// and the spec it trains (the sweep sets the seed).
#[derive(Debug, Clone)]
pub struct Cell {
    /// The name results are looked up by (`plain-20`, `cifar-resnet20`…), unique in a sweep.
    pub label: String,
    /// The stem of its run folders: `<folder>-seed<seed>` (`<folder>` for a single seed).
    pub folder: String,
    /// What it trains; its seed is replaced by each of the sweep's.
    pub spec: TrainSpec,
    /// Named values CSV columns can show (`depth`, `lr`…), see [`Column::field`].
    pub fields: Vec<(&'static str, String)>,
}

impl Cell {
    /// A cell whose run folders are named after `label`.
    pub fn new(label: impl Into<String>, spec: TrainSpec) -> Self {
        let label = label.into();
        Self {
            folder: label.clone(),
            label,
            spec,
            fields: Vec::new(),
        }
    }

    /// The same cell with run folders named `<folder>-seed<seed>`.
    pub fn with_folder(mut self, folder: impl Into<String>) -> Self {
        self.folder = folder.into();
        self
    }

    /// The same cell with a named value for CSV columns.
    pub fn with_field(mut self, name: &'static str, value: impl ToString) -> Self {
        self.fields.push((name, value.to_string()));
        self
    }

    /// The value of field `name` (empty if the cell has none).
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The order the runs are trained in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Every seed of the first cell, then of the next.
    CellByCell,
    /// Every cell with the first seed, then with the next: a stopped sweep still compares all
    /// cells.
    SeedBySeed,
}

/// Cells × seeds, trained quietly one after another.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The configurations.
    pub cells: Vec<Cell>,
    /// The seeds every cell trains with.
    pub seeds: Vec<u64>,
    /// The training order.
    pub order: Order,
    /// A run stopped by a non-finite loss is a result (see [`SweepRun::outcome`]) instead of
    /// the sweep's failure.
    pub divergence_is_a_result: bool,
    single_seed: bool,
}

impl Sweep {
    /// Every cell with every seed, cell by cell; run folders `<folder>-seed<seed>`.
    pub fn new(cells: Vec<Cell>, seeds: Vec<u64>) -> Self {
        Self {
            cells,
            seeds,
            order: Order::CellByCell,
            divergence_is_a_result: false,
            single_seed: false,
        }
    }

    /// Every cell once, with `seed`; run folders named `<folder>`.
    pub fn single_seed(cells: Vec<Cell>, seed: u64) -> Self {
        Self {
            single_seed: true,
            ..Self::new(cells, vec![seed])
        }
    }

    /// The same sweep trained in `order`.
    pub fn with_order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// The same sweep, keeping runs whose loss became non-finite as diverged results.
    pub fn with_divergence_as_result(mut self) -> Self {
        self.divergence_is_a_result = true;
        self
    }

    /// `(cell index, seed)` in training order.
    fn plan(&self) -> Vec<(usize, u64)> {
        let cells = 0..self.cells.len();
        match self.order {
            Order::CellByCell => cells
                .flat_map(|c| self.seeds.iter().map(move |&s| (c, s)))
                .collect(),
            Order::SeedBySeed => self
                .seeds
                .iter()
                .flat_map(|&s| cells.clone().map(move |c| (c, s)))
                .collect(),
        }
    }

    /// Checks the sweep (labels and folders unique, at least one seed, every spec valid)
    /// before anything trains.
    pub fn validate(&self) -> Result<()> {
        if self.cells.is_empty() || self.seeds.is_empty() {
            return Err(TrainError::invalid(
                "sweep",
                "needs at least one cell and one seed",
            ));
        }
        for (i, cell) in self.cells.iter().enumerate() {
            let later = &self.cells[i + 1..];
            if later.iter().any(|c| c.label == cell.label) {
                return Err(TrainError::invalid(
                    "sweep",
                    format!("two cells are labelled `{}`", cell.label),
                ));
            }
            if later.iter().any(|c| c.folder == cell.folder) {
                return Err(TrainError::invalid(
                    "sweep",
                    format!("two cells write to run folders `{}`", cell.folder),
                ));
            }
            cell.spec.validate()?;
        }
        Ok(())
    }

    /// What the sweep will cost here, before it runs: each cell's model is built for its data
    /// (opened with the first seed) and one training step timed on an autodiff `backend`
    /// device ([`time_train_step`]: one warm-up, the median of three, on random inputs of the
    /// data's shape), times its steps (`⌈train items / batch⌉ × epochs`) and the seeds.
    pub fn estimate(&self, backend: Backend) -> Result<Estimate> {
        self.validate()?;
        let device = backend.device()?.autodiff();
        let mut opened: Vec<(DatasetSpec, Splits)> = Vec::new();
        let mut cells = Vec::with_capacity(self.cells.len());
        for cell in &self.cells {
            let data = cell.spec.dataset.clone().with_seed(self.seeds[0]);
            let splits = match opened.iter().position(|(spec, _)| *spec == data) {
                Some(i) => &opened[i].1,
                None => {
                    let splits = open(&data)?;
                    opened.push((data, splits));
                    &opened[opened.len() - 1].1
                }
            };
            let task = task_of(splits);
            let model = task.resolve(&cell.spec.model).init(&device)?;
            let input = task.step_input();
            let batch = cell.spec.batch_size;
            let step = time_train_step(model, &device, batch, input, 1, 3)?.seconds;
            let steps = splits.lens()[0].div_ceil(batch) * cell.spec.epochs;
            cells.push((cell.label.clone(), step, steps));
        }
        let seeds = self.seeds.len() as f64;
        Ok(Estimate {
            total_seconds: cells.iter().map(|c| c.1 * c.2 as f64 * seeds).sum(),
            cells,
        })
    }

    /// Trains every (cell, seed) into `dir/runs/<folder>-seed<seed>` on `backend`, printing
    /// `run k/N`, the elapsed time and an estimate of the rest before each run.
    pub fn run(&self, dir: &Path, backend: Backend) -> Result<SweepResults> {
        self.validate()?;
        let plan = self.plan();
        let started = Instant::now();
        let mut runs = Vec::with_capacity(plan.len());
        for (k, &(cell_index, seed)) in plan.iter().enumerate() {
            let cell = &self.cells[cell_index];
            let name = if self.single_seed {
                cell.folder.clone()
            } else {
                format!("{}-seed{seed}", cell.folder)
            };
            let options = RunOptions::new(dir.join("runs").join(&name))
                .with_backend(backend)
                .with_quiet(true);
            let spec = cell.spec.clone().with_seed(seed);
            let elapsed = started.elapsed().as_secs_f64();
            let left = remaining(elapsed, k as f64, plan.len() as f64);
            let eta = match k {
                0 => String::new(),
                _ => format!(", about {} left", duration(left)),
            };
            println!(
                "\n== run {}/{}: {name} ({}), {} elapsed{eta}: {}",
                k + 1,
                plan.len(),
                spec.arch(),
                duration(elapsed),
                options.dir.display()
            );
            let outcome = match run(&spec, &options) {
                Ok(result) => Ok(result),
                Err(e @ TrainError::NonFinite { .. }) if self.divergence_is_a_result => {
                    println!("   diverged: {e}");
                    Err(e.to_string())
                }
                Err(e) => return Err(e),
            };
            runs.push(SweepRun {
                label: cell.label.clone(),
                cell: cell_index,
                seed,
                config: options.dir.join("config.json"),
                outcome,
            });
        }
        Ok(SweepResults {
            cells: self.cells.clone(),
            runs,
        })
    }
}

/// What a sweep's training steps will take, measured before it runs ([`Sweep::estimate`]).
#[derive(Debug, Clone)]
pub struct Estimate {
    /// Per cell: label, seconds of one training step, steps of one run.
    pub cells: Vec<(String, f64, usize)>,
    /// Seconds of all the sweep's training steps (validation and start-up come on top).
    pub total_seconds: f64,
}

/// One trained (cell, seed).
pub struct SweepRun {
    /// The cell's label.
    pub label: String,
    /// The cell's index in the sweep.
    pub cell: usize,
    /// The seed.
    pub seed: u64,
    /// The run's `config.json`: `cargo xtask train --config <this>` replays it.
    pub config: PathBuf,
    /// The finished run, or why it stopped (a non-finite loss, when the sweep keeps those).
    pub outcome: std::result::Result<RunResult, String>,
}

impl SweepRun {
    /// The finished run (`None` if it diverged).
    pub fn result(&self) -> Option<&RunResult> {
        self.outcome.as_ref().ok()
    }

    /// `metric` at the last epoch: NaN if not logged, +∞ if the run diverged.
    pub fn last(&self, metric: Metric) -> f64 {
        self.result().map_or(f64::INFINITY, |r| r.last(metric))
    }

    /// The per-epoch records (none if the run diverged).
    pub fn history(&self) -> &[EpochRecord] {
        self.result().map_or(&[], |r| &r.history)
    }

    /// `(epoch, metric)` of every epoch that logged it, for [`crate::plots::Series`].
    pub fn curve(&self, metric: Metric) -> Vec<(f64, f64)> {
        (self.history().iter())
            .filter_map(|r| Some((r.epoch as f64, r.value(metric)?)))
            .collect()
    }

    /// `cargo xtask train --config <run>/config.json`: the command that repeats the run.
    pub fn command(&self) -> String {
        format!("cargo xtask train --config {}", self.config.display())
    }
}

/// Median, lowest and highest of the finite values of a set (NaN for all three when none is
/// finite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The lowest.
    pub min: f64,
    /// The highest.
    pub max: f64,
}

impl Spread {
    /// The spread of the finite `values`.
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Spread {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        v.sort_by(f64::total_cmp);
        let (min, max) = (v[0], v[v.len() - 1]);
        Spread {
            median: crate::timing::median(v),
            min,
            max,
        }
    }
}

/// Everything a sweep trained, in training order.
pub struct SweepResults {
    /// The sweep's cells.
    pub cells: Vec<Cell>,
    /// One per (cell, seed), in training order.
    pub runs: Vec<SweepRun>,
}

impl SweepResults {
    /// The runs of the cell labelled `label`, in training order.
    pub fn of<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a SweepRun> + 'a {
        self.runs.iter().filter(move |r| r.label == label)
    }

    /// The cell labelled `label`.
    pub fn cell(&self, label: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.label == label)
    }

    /// `(seed, metric at the last epoch)` of every run of `label` (+∞ for a diverged run).
    pub fn finals(&self, label: &str, metric: Metric) -> Vec<(u64, f64)> {
        self.of(label).map(|r| (r.seed, r.last(metric))).collect()
    }

    /// `label`'s final `metric`, seed by seed (+∞ for a diverged run).
    pub fn final_values(&self, label: &str, metric: Metric) -> Vec<f64> {
        self.of(label).map(|r| r.last(metric)).collect()
    }

    /// The spread over the seeds of `label`'s final `metric` (diverged runs left out).
    pub fn spread(&self, label: &str, metric: Metric) -> Spread {
        Spread::of(&self.final_values(label, metric))
    }

    /// The median over the seeds of `label`'s final `metric`; +∞ when a seed diverged or did
    /// not log it (for picking the best of a grid by a loss).
    pub fn median_final(&self, label: &str, metric: Metric) -> f64 {
        let finals = self.finals(label, metric);
        if finals.iter().any(|(_, v)| !v.is_finite()) {
            f64::INFINITY
        } else {
            self.spread(label, metric).median
        }
    }

    /// Of `candidates`, the one whose `key` gives the lowest [`Self::median_final`] of
    /// `metric` (the first of equals; `None` for no candidates).
    pub fn lowest<T: Copy>(
        &self,
        candidates: impl IntoIterator<Item = T>,
        key: impl Fn(T) -> String,
        metric: Metric,
    ) -> Option<T> {
        candidates
            .into_iter()
            .map(|c| (self.median_final(&key(c), metric), c))
            // `min_by` keeps the first of equal minima.
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| c)
    }

    /// `(seed, a's, b's)` final `metric` for every seed both cells ran with.
    pub fn pairs(&self, a: &str, b: &str, metric: Metric) -> Vec<(u64, f64, f64)> {
        let b = self.finals(b, metric);
        (self.finals(a, metric).into_iter())
            .filter_map(|(seed, x)| Some((seed, x, b.iter().find(|p| p.0 == seed)?.1)))
            .collect()
    }

    /// The spread over `label`'s finished runs of their seconds per epoch.
    pub fn seconds_per_epoch(&self, label: &str) -> Spread {
        let seconds: Vec<f64> = (self.of(label))
            .filter_map(|r| Some(r.result()?.seconds_per_epoch()))
            .collect();
        Spread::of(&seconds)
    }

    /// Per epoch of `label`'s runs: `(x(epoch), min, median, max)` of `map(metric)` over the
    /// runs that logged it, for [`crate::plots::Band`].
    pub fn band(
        &self,
        label: &str,
        metric: Metric,
        x: impl Fn(usize) -> f64,
        map: impl Fn(f64) -> f64,
    ) -> Vec<(f64, f64, f64, f64)> {
        let epochs = self
            .of(label)
            .filter_map(|r| r.history().last().map(|h| h.epoch))
            .max()
            .unwrap_or(0);
        (1..=epochs)
            .map(|epoch| {
                let values: Vec<f64> = self
                    .of(label)
                    .filter_map(|r| r.history().iter().find(|h| h.epoch == epoch))
                    .filter_map(|h| h.value(metric))
                    .map(&map)
                    .collect();
                let s = Spread::of(&values);
                (x(epoch), s.min, s.median, s.max)
            })
            .collect()
    }

    /// [`Self::band`] of `metric` itself against the epoch.
    pub fn epoch_band(&self, label: &str, metric: Metric) -> Vec<(f64, f64, f64, f64)> {
        self.band(label, metric, |epoch| epoch as f64, |v| v)
    }

    /// Trainable parameters of architecture `arch` (as [`TrainSpec::arch`] names it) as trained,
    /// from any of its finished runs.
    pub fn params(&self, arch: &str) -> Option<usize> {
        (self.runs.iter())
            .filter(|r| self.cells[r.cell].spec.arch() == arch)
            .find_map(|r| Some(r.result()?.model.trainable_params()))
    }

    /// The command that repeats each finished run, in training order.
    pub fn commands(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|r| r.result().is_some())
            .map(SweepRun::command)
            .collect()
    }

    /// Writes one row per run and epoch (one row with no epoch for a diverged run) with
    /// `columns`, through the `csv` crate, atomically.
    pub fn write_csv(&self, path: &Path, columns: &[Column]) -> Result<()> {
        let mut rows = Vec::new();
        for run in &self.runs {
            let cell = &self.cells[run.cell];
            let row = |record: Option<&EpochRecord>| {
                columns
                    .iter()
                    .map(|c| (c.value)(cell, run, record))
                    .collect::<Vec<_>>()
            };
            if run.result().is_some() {
                rows.extend(run.history().iter().map(|r| row(Some(r))));
            } else {
                rows.push(row(None));
            }
        }
        let header: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        write_csv(path, &header, &rows)
    }
}

/// The value of a column in one row: the run's cell, the run and the epoch (`None`: the run
/// diverged and has none).
type ColumnValue<'a> = Box<dyn Fn(&Cell, &SweepRun, Option<&EpochRecord>) -> String + 'a>;

/// A column of [`SweepResults::write_csv`].
pub struct Column<'a> {
    name: String,
    value: ColumnValue<'a>,
}

impl<'a> Column<'a> {
    /// A column named `name` computed by `value` from the cell, the run and the epoch.
    pub fn new(
        name: impl Into<String>,
        value: impl Fn(&Cell, &SweepRun, Option<&EpochRecord>) -> String + 'a,
    ) -> Self {
        Self {
            name: name.into(),
            value: Box::new(value),
        }
    }

    /// The cell's label, under the header `name`.
    pub fn label(name: &str) -> Self {
        Self::new(name, |cell, _, _| cell.label.clone())
    }

    /// The cell's field `name` ([`Cell::with_field`]).
    pub fn field(name: &'static str) -> Self {
        Self::new(name, move |cell, _, _| cell.field(name).to_string())
    }

    /// `seed`.
    pub fn seed() -> Self {
        Self::new("seed", |_, run, _| run.seed.to_string())
    }

    /// `epoch` (0 for a diverged run's row).
    pub fn epoch() -> Self {
        Self::new("epoch", |_, _, record| {
            record.map_or(0, |r| r.epoch).to_string()
        })
    }

    /// `metric`'s value at the epoch, under its `metrics.csv` name (NaN if missing).
    pub fn metric(metric: Metric) -> Self {
        Self::metric_as(metric.column(), metric, |v| v)
    }

    /// `map(metric)` at the epoch under the header `name` (NaN if missing).
    pub fn metric_as(name: impl Into<String>, metric: Metric, map: fn(f64) -> f64) -> Self {
        Self::new(name, move |_, _, record| {
            let value = record.and_then(|r| r.value(metric)).map_or(f64::NAN, map);
            format!("{value}")
        })
    }
}

/// Writes a CSV file atomically through the `csv` crate: a field holding a comma, a quote or a
/// line break is quoted, so every row has the header's number of fields.
pub fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let bytes = csv_bytes(header, rows).map_err(|e| TrainError::file(path, e))?;
    write_atomically(path, &bytes).map_err(|e| TrainError::file(path, format!("cannot write: {e}")))
}

fn csv_bytes(header: &[&str], rows: &[Vec<String>]) -> std::result::Result<Vec<u8>, String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).map_err(|e| e.to_string())?;
    for row in rows {
        if row.len() != header.len() {
            return Err(format!(
                "a row of {} fields under a header of {}: {row:?}",
                row.len(),
                header.len()
            ));
        }
        writer.write_record(row).map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use skipnet_data::{DatasetKind, DatasetSpec};

    fn cell(label: &str) -> Cell {
        let data = DatasetSpec::new(DatasetKind::SyntheticShapes);
        Cell::new(label, TrainSpec::he2015("cifar-resnet8", data).unwrap())
    }

    #[test]
    fn spreads_leave_out_what_is_not_finite() {
        let s = Spread::of(&[4.0, 1.0, f64::NAN, 2.0, 3.0, f64::INFINITY]);
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]).median, 2.0);
        assert!(Spread::of(&[f64::NAN]).median.is_nan());
        assert!(Spread::of(&[]).max.is_nan());
    }

    #[test]
    fn plans_follow_the_order() {
        let sweep = Sweep::new(vec![cell("a"), cell("b")], vec![0, 1]);
        assert_eq!(sweep.plan(), [(0, 0), (0, 1), (1, 0), (1, 1)]);
        let sweep = sweep.with_order(Order::SeedBySeed);
        assert_eq!(sweep.plan(), [(0, 0), (1, 0), (0, 1), (1, 1)]);
    }

    #[test]
    fn sweeps_with_clashing_labels_or_folders_or_no_seed_are_refused() {
        let err = Sweep::new(vec![cell("a"), cell("a")], vec![0])
            .validate()
            .unwrap_err();
        assert!(
            err.to_string().contains("two cells are labelled `a`"),
            "{err}"
        );
        let err = Sweep::new(vec![cell("a"), cell("b").with_folder("a")], vec![0])
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("run folders `a`"), "{err}");
        let err = Sweep::new(vec![cell("a")], vec![]).validate().unwrap_err();
        assert!(err.to_string().contains("one seed"), "{err}");
        assert_eq!(cell("a").with_field("depth", 20).field("depth"), "20");
        assert_eq!(cell("a").field("depth"), "");
    }

    #[test]
    fn csv_fields_with_commas_are_quoted_and_read_back_whole() {
        let rows = vec![
            vec![
                "U-Net, BCE + Dice".to_string(),
                "say \"hi\"".into(),
                "1.5".into(),
            ],
            vec!["Otsu".to_string(), "a\nb".into(), "2".into()],
        ];
        let bytes = csv_bytes(&["method", "note", "dice"], &rows).unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let back: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        assert_eq!(back, rows);
        let short = csv_bytes(&["a", "b"], &[vec!["1".into()]]).unwrap_err();
        assert!(short.contains("1 fields under a header of 2"), "{short}");
    }
}
