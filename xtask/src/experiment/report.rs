//! report.md, CSV files and tables of an experiment.

use std::path::Path;

use anyhow::{Result, anyhow};
use skipnet_data::image::write_bytes_atomically;

/// A markdown table.
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.headers.join(" | "));
        out += &format!("|{}\n", "---|".repeat(self.headers.len()));
        for row in &self.rows {
            out += &format!("| {} |\n", row.join(" | "));
        }
        out
    }
}

/// What an experiment writes to `report.md`.
pub struct Report {
    pub title: String,
    pub what: String,
    pub commands: Vec<String>,
    pub sections: Vec<String>,
}

impl Report {
    pub fn new(title: &str, what: &str, command: &str) -> Self {
        Self {
            title: title.into(),
            what: what.into(),
            commands: vec![command.into()],
            sections: Vec::new(),
        }
    }

    /// Writes `dir/report.md` (atomically) and prints it.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let machine = format!(
            "{} logical CPUs, {} {}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        let mut text = format!("# {}\n\n{}\n\n", self.title, self.what);
        text += &format!("Machine: {machine}.\n\n## Commands\n\n```sh\n");
        for c in &self.commands {
            text += &format!("{c}\n");
        }
        text += "```\n";
        for s in &self.sections {
            text += &format!("\n{s}\n");
        }
        let path = dir.join("report.md");
        write_bytes_atomically(&path, text.as_bytes())
            .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
        println!("\n{text}\nreport: {}", path.display());
        Ok(())
    }
}

use skipnet_train::Metric;
pub use skipnet_train::sweep::write_csv;
use skipnet_train::sweep::{Spread, SweepResults};

/// `x` with `digits` decimals, or `–` for NaN.
pub fn num(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else if x.is_nan() {
        "–".into()
    } else {
        "inf".into()
    }
}

/// `x` in scientific notation (gradient norms span many orders of magnitude).
pub fn sci(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2e}")
    } else {
        format!("{x}")
    }
}

/// `median (min–max)` of the finite `values` with `digits` decimals (only the median for a
/// single value).
pub fn spread_cell(values: &[f64], digits: usize) -> String {
    let s = Spread::of(values);
    match values.len() {
        1 => num(s.median, digits),
        _ => format!(
            "{} ({}–{})",
            num(s.median, digits),
            num(s.min, digits),
            num(s.max, digits)
        ),
    }
}

/// `a's final {what} is above b's in n of N seeds (seed 0: 12.3 vs 10.1; …)`, comparing
/// `map(metric)` seed by seed.
pub fn above_by_seed(
    results: &SweepResults,
    [a, b]: [&str; 2],
    (what, metric, map): (&str, Metric, fn(f64) -> f64),
) -> String {
    let pairs = results.pairs(a, b, metric);
    let above = pairs.iter().filter(|(_, x, y)| map(*x) > map(*y)).count();
    let detail: Vec<String> = (pairs.iter())
        .map(|(seed, x, y)| format!("seed {seed}: {} vs {}", num(map(*x), 1), num(map(*y), 1)))
        .collect();
    format!(
        "{a}'s final {what} is above {b}'s in {above} of {} seeds ({})",
        pairs.len(),
        detail.join("; ")
    )
}

/// `median (min–max)` in scientific notation, and how many values were not finite.
pub fn sci_range(values: &[f64]) -> String {
    let Spread { median, min, max } = Spread::of(values);
    let bad = values.iter().filter(|x| !x.is_finite()).count();
    let text = if median.is_finite() {
        format!("{} ({}–{})", sci(median), sci(min), sci(max))
    } else {
        "–".into()
    };
    if bad > 0 {
        format!("{text}, {bad} non-finite")
    } else {
        text
    }
}

/// `items` written out, comma-separated.
pub fn listed<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_cells_show_a_range_only_for_several_values() {
        assert_eq!(spread_cell(&[3.0, 1.0, 2.0], 1), "2.0 (1.0–3.0)");
        assert_eq!(spread_cell(&[2.25], 1), "2.2");
        assert_eq!(spread_cell(&[f64::NAN, f64::NAN], 1), "– (–––)");
    }

    #[test]
    fn ranges_count_the_non_finite_values() {
        assert_eq!(
            sci_range(&[1.0, f64::INFINITY]),
            "1.00e0 (1.00e0–1.00e0), 1 non-finite"
        );
    }

    #[test]
    fn lists_are_comma_separated() {
        assert_eq!(listed([10, 20, 50]), "10, 20, 50");
        assert_eq!(listed(Vec::<u64>::new()), "");
    }
}
