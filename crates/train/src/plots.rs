//! PNG plots of a run's history: loss curves and metric curves, train and validation.

use crate::error::TrainError;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::prelude::*;
use skipnet_data::image::{ImageU8, save_png};

use crate::history::EpochRecord;

const WIDTH: u32 = 800;
const HEIGHT: u32 = 480;

fn register_font() {
    static FONT: Once = Once::new();
    FONT.call_once(|| {
        // An embedded font, so plots render the same on every machine.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// One line of a chart.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
}

/// Renders a line chart to PNG (written atomically); the error names the file.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<(), TrainError> {
    draw_line_chart(path, title, x_label, y_label, series, log_y)
        .map_err(|problem| TrainError::file(path, problem))
}

fn draw_line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<(), String> {
    register_font();
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(_, y)| y.is_finite() && (!log_y || *y > 0.0))
        .collect();
    if points.is_empty() {
        return Err("nothing to plot".to_string());
    }
    let (mut x0, mut x1) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| {
        (a.min(*x), b.max(*x))
    });
    let (mut y0, mut y1) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), (_, y)| {
        (a.min(*y), b.max(*y))
    });
    if x1 <= x0 {
        x0 -= 0.5;
        x1 += 0.5;
    }
    if y1 <= y0 {
        y0 -= y0.abs().max(1e-3) * 0.1;
        y1 += y1.abs().max(1e-3) * 0.1;
    }
    let mut buffer = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let palette = [
            RGBColor(31, 119, 180),
            RGBColor(255, 127, 14),
            RGBColor(44, 160, 44),
            RGBColor(214, 39, 40),
            RGBColor(148, 103, 189),
            RGBColor(140, 86, 75),
            RGBColor(227, 119, 194),
            RGBColor(127, 127, 127),
            RGBColor(188, 189, 34),
            RGBColor(23, 190, 207),
        ];
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .draw()
                    .map_err(|e| e.to_string())?;
                for (i, s) in series.iter().enumerate() {
                    let colour = palette[i % palette.len()];
                    let pts: Vec<(f64, f64)> = s
                        .points
                        .iter()
                        .copied()
                        .filter(|(_, y)| y.is_finite() && (!log_y || *y > 0.0))
                        .collect();
                    chart
                        .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
                        .map_err(|e| e.to_string())?
                        .label(s.label.clone())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                        });
                    chart
                        .draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                        .map_err(|e| e.to_string())?;
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .map_err(|e| e.to_string())?;
            }};
        }
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 24))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64);
        if log_y {
            draw!(
                builder
                    .build_cartesian_2d(x0..x1, (y0 * 0.9..y1 * 1.1).log_scale())
                    .map_err(|e| e.to_string())?
            );
        } else {
            let pad = (y1 - y0) * 0.05;
            draw!(
                builder
                    .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
                    .map_err(|e| e.to_string())?
            );
        }
        root.present().map_err(|e| e.to_string())?;
    }
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let mut planar = vec![0u8; buffer.len()];
    for p in 0..w * h {
        for c in 0..3 {
            planar[c * w * h + p] = buffer[p * 3 + c];
        }
    }
    save_png(
        &ImageU8 {
            channels: 3,
            height: h,
            width: w,
            data: planar,
        },
        path,
    )
    .map_err(|e| e.to_string())
}

fn curves(history: &[EpochRecord], metric: &str) -> Vec<Series> {
    ["train", "valid"]
        .into_iter()
        .map(|split| Series {
            label: format!("{split} {metric}"),
            points: history
                .iter()
                .filter_map(|r| r.get(split, metric).map(|v| (r.epoch as f64, v)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

/// Writes `loss.png` and `metrics.png` (accuracy, or Dice and IoU) into `dir`; returns the
/// files written.
pub fn plot_history(history: &[EpochRecord], dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let mut written = Vec::new();
    let loss = dir.join("loss.png");
    line_chart(
        &loss,
        "Loss",
        "epoch",
        "loss",
        &curves(history, "loss"),
        false,
    )?;
    written.push(loss);
    let mut series = Vec::new();
    for metric in ["accuracy", "top-5_accuracy", "dice", "iou"] {
        series.extend(curves(history, metric));
    }
    if !series.is_empty() {
        let metrics = dir.join("metrics.png");
        line_chart(&metrics, "Metrics", "epoch", "%", &series, false)?;
        written.push(metrics);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_pngs_with_content() {
        let dir = tempfile::tempdir().unwrap();
        let history: Vec<EpochRecord> = (1..=3)
            .map(|e| EpochRecord {
                epoch: e,
                train: vec![
                    ("loss".into(), 2.0 / e as f64),
                    ("accuracy".into(), 30.0 * e as f64),
                ],
                valid: vec![
                    ("loss".into(), 2.2 / e as f64),
                    ("accuracy".into(), 25.0 * e as f64),
                ],
            })
            .collect();
        let files = plot_history(&history, dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        for file in files {
            let image = skipnet_data::image::decode(&file).unwrap().to_u8();
            assert_eq!((image.width, image.height), (800, 480));
            let dark = image.data.iter().filter(|&&v| v < 128).count();
            assert!(
                dark > 2000,
                "{}: axes, text and lines are drawn ({dark} dark samples)",
                file.display()
            );
        }
        let log = dir.path().join("log.png");
        let series = [Series {
            label: "g".into(),
            points: vec![(1.0, 1e-3), (2.0, 1e-1)],
        }];
        line_chart(&log, "Gradients", "layer", "norm", &series, true).unwrap();
        assert!(line_chart(&log, "empty", "x", "y", &[], false).is_err());
    }
}
