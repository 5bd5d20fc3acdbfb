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

/// Writes a CSV file atomically, through the `csv` crate: a field holding a comma, a quote or a
/// line break is quoted, so every row has the header's number of fields.
pub fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let bytes = csv_bytes(header, rows).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    write_bytes_atomically(path, &bytes)
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

fn csv_bytes(header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header)?;
    for row in rows {
        if row.len() != header.len() {
            return Err(anyhow!(
                "a row of {} fields under a header of {}: {row:?}",
                row.len(),
                header.len()
            ));
        }
        writer.write_record(row)?;
    }
    writer.into_inner().map_err(|e| anyhow!("{e}"))
}

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

/// Median (the mean of the middle two for an even count), min and max of the finite values;
/// NaN for all three when there are none.
pub fn median_min_max(values: &[f64]) -> (f64, f64, f64) {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
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
    fn median_min_max_of_the_finite_values() {
        assert_eq!(median_min_max(&[3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(
            median_min_max(&[4.0, 1.0, f64::NAN, 2.0, 3.0]),
            (2.5, 1.0, 4.0)
        );
        assert!(median_min_max(&[f64::NAN]).0.is_nan());
        assert!(median_min_max(&[]).2.is_nan());
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
        assert!(
            short.to_string().contains("1 fields under a header of 2"),
            "{short}"
        );
    }

    #[test]
    fn lists_are_comma_separated() {
        assert_eq!(listed([10, 20, 50]), "10, 20, 50");
        assert_eq!(listed(Vec::<u64>::new()), "");
    }
}
