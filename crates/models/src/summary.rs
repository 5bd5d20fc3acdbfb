//! Stage-by-stage summaries (output shape, parameters, FLOPs) of any model in the zoo.

use serde::{Deserialize, Serialize};

use crate::layers::FeatureShape;

/// One stage of a network: what it outputs for one sample and what it costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSummary {
    /// Stage name (`stem`, `layer1`, `denseblock2`, `enc3`...).
    pub name: String,
    /// Output shape for one sample: `[channels, height, width]`, or `[features]` for vectors.
    pub output_shape: Vec<usize>,
    /// Trainable parameters of the stage.
    pub params: usize,
    /// Multiply-accumulates of the stage's convolutions and linear layers.
    pub flops: u64,
}

/// A whole model's summary: its stages and their totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// Registry name of the architecture.
    pub arch: String,
    /// Input shape for one sample, `[channels, height, width]`.
    pub input: Vec<usize>,
    /// Stages in order.
    pub stages: Vec<StageSummary>,
    /// Total trainable parameters (of the whole module, so shared or stage-less parameters count).
    pub params: usize,
    /// Total multiply-accumulates for one sample.
    pub flops: u64,
}

impl ModelSummary {
    /// Renders the summary as an aligned text table.
    pub fn to_table(&self) -> String {
        let rows: Vec<[String; 4]> = self
            .stages
            .iter()
            .map(|s| {
                [
                    s.name.clone(),
                    format!("{:?}", s.output_shape),
                    group_thousands(s.params as u64),
                    format_flops(s.flops),
                ]
            })
            .collect();
        let header = ["stage", "output shape", "params", "FLOPs (MACs)"].map(String::from);
        let total = [
            "total".to_string(),
            String::new(),
            group_thousands(self.params as u64),
            format_flops(self.flops),
        ];
        let mut widths = [0usize; 4];
        for row in std::iter::once(&header).chain(&rows).chain([&total]) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |row: &[String; 4]| {
            format!(
                "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}\n",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            )
        };
        let rule = format!("{}\n", "-".repeat(widths.iter().sum::<usize>() + 6));
        let mut out = format!("{} — input {:?}\n", self.arch, self.input);
        out += &line(&header);
        out += &rule;
        for row in &rows {
            out += &line(row);
        }
        out += &rule;
        out += &line(&total);
        out
    }
}

/// `1234567` → `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `4_089_184_256` → `4.09 G`.
pub fn format_flops(flops: u64) -> String {
    let f = flops as f64;
    if f >= 1e9 {
        format!("{:.2} G", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.2} M", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.2} K", f / 1e3)
    } else {
        format!("{flops}")
    }
}

/// Shorthand for building a [`StageSummary`] from an image-shaped output.
pub(crate) fn stage(name: &str, shape: FeatureShape, params: usize, flops: u64) -> StageSummary {
    let output_shape = if shape[1] == 1 && shape[2] == 1 && name.contains("fc") {
        vec![shape[0]]
    } else {
        shape.to_vec()
    };
    StageSummary {
        name: name.to_string(),
        output_shape,
        params,
        flops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_readable() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(11_689_512), "11,689,512");
        assert_eq!(format_flops(4_089_184_256), "4.09 G");
        assert_eq!(format_flops(40_810_000), "40.81 M");
    }

    #[test]
    fn table_has_every_stage_and_total() {
        let summary = ModelSummary {
            arch: "toy".into(),
            input: vec![3, 8, 8],
            stages: vec![
                stage("stem", [4, 8, 8], 112, 6912),
                stage("fc", [10, 1, 1], 50, 40),
            ],
            params: 162,
            flops: 6952,
        };
        let table = summary.to_table();
        assert!(table.starts_with("toy — input [3, 8, 8]"));
        assert!(table.contains("stem   [4, 8, 8]"), "{table}");
        assert!(table.contains("[10]"), "{table}");
        assert!(table.lines().last().unwrap().starts_with("total"));
        assert!(table.contains("6.95 K"), "{table}");
    }
}
