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

/// Renders a line chart, a point marked on each line at every `x`, to an 800×480 PNG (written
/// atomically); the error names the file.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<(), TrainError> {
    let panel = Panel {
        title: String::new(),
        bands: series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Band::new(
                    s.label.clone(),
                    i,
                    s.points.iter().map(|&(x, y)| (x, y, y, y)).collect(),
                )
            })
            .collect(),
    };
    let layout = Layout {
        size: Some((WIDTH, HEIGHT)),
        markers: true,
    };
    draw_panels(path, title, x_label, y_label, &[panel], log_y, layout)
        .map_err(|problem| TrainError::file(path, problem))
}

/// The line colours, in order (matplotlib's "tab10").
const PALETTE: [RGBColor; 10] = [
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

/// Writes an interleaved RGB buffer of `width × height` as a PNG (atomically).
fn save_rgb(buffer: &[u8], width: u32, height: u32, path: &Path) -> Result<(), String> {
    let (w, h) = (width as usize, height as usize);
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

/// A line with a shaded band around it, e.g. the median and the min–max over seeds.
pub struct Band {
    /// Legend label.
    pub label: String,
    /// `(x, low, centre, high)` points.
    pub points: Vec<(f64, f64, f64, f64)>,
    /// Index into the palette (matplotlib's tab10), so related lines can share a colour.
    pub colour: usize,
    /// Line width in pixels (1 thin … 3 bold).
    pub width: u32,
}

impl Band {
    /// A band of colour `colour` and width 2.
    pub fn new(label: impl Into<String>, colour: usize, points: Vec<(f64, f64, f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
            colour,
            width: 2,
        }
    }

    /// With this line width.
    pub fn with_width(mut self, width: u32) -> Self {
        self.width = width;
        self
    }
}

/// One chart of a grid of charts.
pub struct Panel {
    /// Caption above the chart.
    pub title: String,
    /// Its lines with their bands.
    pub bands: Vec<Band>,
}

/// Renders `panels` side by side (two per row) with shared axes to one PNG, written
/// atomically; the error names the file. Non-finite points (and, with `log_y`, non-positive
/// ones) are left out.
pub fn band_panels(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    panels: &[Panel],
    log_y: bool,
) -> Result<(), TrainError> {
    let layout = Layout {
        size: None,
        markers: false,
    };
    draw_panels(path, title, x_label, y_label, panels, log_y, layout)
        .map_err(|problem| TrainError::file(path, problem))
}

/// How [`draw_panels`] lays a figure out.
struct Layout {
    /// The whole image, or `None`: 560×400 a panel, two panels a row, plus a title strip.
    size: Option<(u32, u32)>,
    /// A dot at every point of every line.
    markers: bool,
}

fn draw_panels(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    panels: &[Panel],
    log_y: bool,
    layout: Layout,
) -> Result<(), String> {
    register_font();
    let usable = |y: f64| y.is_finite() && (!log_y || y > 0.0);
    let values: Vec<(f64, f64)> = panels
        .iter()
        .flat_map(|p| &p.bands)
        .flat_map(|b| &b.points)
        .flat_map(|&(x, lo, mid, hi)| [(x, lo), (x, mid), (x, hi)])
        .filter(|&(x, y)| x.is_finite() && usable(y))
        .collect();
    if values.is_empty() {
        return Err("nothing to plot".to_string());
    }
    let (x0, x1) = values.iter().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| {
        (a.min(*x), b.max(*x))
    });
    let (y0, y1) = values.iter().fold((f64::MAX, f64::MIN), |(a, b), (_, y)| {
        (a.min(*y), b.max(*y))
    });
    let (x0, x1) = if x1 > x0 {
        (x0, x1)
    } else {
        (x0 - 0.5, x1 + 0.5)
    };
    let (y0, y1) = match (log_y, y1 > y0) {
        (true, _) => (y0 / 2.0, y1 * 2.0),
        (false, true) => (y0 - (y1 - y0) * 0.05, y1 + (y1 - y0) * 0.05),
        (false, false) => (y0 - 0.5, y1 + 0.5),
    };
    let columns = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(columns);
    let (width, height) = layout
        .size
        .unwrap_or((560 * columns as u32, 400 * rows as u32 + 40));
    let mut buffer = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(title, ("sans-serif", 24))
            .map_err(|e| e.to_string())?;
        let areas = root.split_evenly((rows, columns));
        for (panel, area) in panels.iter().zip(&areas) {
            macro_rules! draw {
                ($chart:expr) => {{
                    let mut chart = $chart;
                    chart
                        .configure_mesh()
                        .x_desc(x_label)
                        .y_desc(y_label)
                        .draw()
                        .map_err(|e| e.to_string())?;
                    for band in &panel.bands {
                        let colour = PALETTE[band.colour % PALETTE.len()];
                        let width = band.width.max(1);
                        let points: Vec<_> = band
                            .points
                            .iter()
                            .copied()
                            .filter(|&(x, lo, mid, hi)| {
                                x.is_finite() && usable(lo) && usable(mid) && usable(hi)
                            })
                            .collect();
                        let outline: Vec<(f64, f64)> = points
                            .iter()
                            .map(|&(x, lo, _, _)| (x, lo))
                            .chain(points.iter().rev().map(|&(x, _, _, hi)| (x, hi)))
                            .collect();
                        chart
                            .draw_series(std::iter::once(Polygon::new(
                                outline,
                                colour.mix(0.2).filled(),
                            )))
                            .map_err(|e| e.to_string())?;
                        chart
                            .draw_series(LineSeries::new(
                                points.iter().map(|&(x, _, mid, _)| (x, mid)),
                                colour.stroke_width(width),
                            ))
                            .map_err(|e| e.to_string())?
                            .label(band.label.clone())
                            .legend(move |(x, y)| {
                                PathElement::new(
                                    vec![(x, y), (x + 18, y)],
                                    colour.stroke_width(width),
                                )
                            });
                        if layout.markers {
                            chart
                                .draw_series(points.iter().map(|&(x, _, mid, _)| {
                                    Circle::new((x, mid), 3, colour.filled())
                                }))
                                .map_err(|e| e.to_string())?;
                        }
                    }
                    chart
                        .configure_series_labels()
                        .background_style(WHITE.mix(0.8))
                        .border_style(BLACK)
                        .draw()
                        .map_err(|e| e.to_string())?;
                }};
            }
            let mut builder = ChartBuilder::on(area);
            builder
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(64);
            if !panel.title.is_empty() {
                builder.caption(&panel.title, ("sans-serif", 18));
            }
            if log_y {
                draw!(
                    builder
                        .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                        .map_err(|e| e.to_string())?
                );
            } else {
                draw!(
                    builder
                        .build_cartesian_2d(x0..x1, y0..y1)
                        .map_err(|e| e.to_string())?
                );
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    save_rgb(&buffer, width, height, path)
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

/// Draws a confusion matrix (`matrix[truth][prediction]` counts) as a heat map, each row
/// normalised to its true class's items, to a PNG (written atomically). Class names label the
/// axes up to 40 classes; beyond, indices every few rows. The error names the file.
pub fn confusion_matrix(
    path: &Path,
    title: &str,
    matrix: &[Vec<u64>],
    names: &[String],
) -> Result<(), TrainError> {
    draw_confusion(path, title, matrix, names).map_err(|problem| TrainError::file(path, problem))
}

fn draw_confusion(
    path: &Path,
    title: &str,
    matrix: &[Vec<u64>],
    names: &[String],
) -> Result<(), String> {
    register_font();
    let n = matrix.len();
    if n == 0 {
        return Err("an empty confusion matrix".into());
    }
    let labelled = n <= 40;
    let cell = (720 / n as u32).clamp(1, 48);
    let margin = if labelled { 170 } else { 60 };
    let (width, height) = (margin + cell * n as u32 + 30, margin + cell * n as u32 + 50);
    let mut buffer = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let text = |size| ("sans-serif", size).into_font();
        root.draw(&Text::new(title.to_string(), (10, 10), text(18)))
            .map_err(|e| e.to_string())?;
        let (x0, y0) = (margin as i32, 40 + (margin as i32 - 40) / 2);
        for (t, row) in matrix.iter().enumerate() {
            let total = row.iter().sum::<u64>().max(1) as f64;
            for (p, &count) in row.iter().enumerate() {
                let share = count as f64 / total;
                // White (0) to dark blue (1).
                let shade = |full: f64, none: f64| (none + (full - none) * share) as u8;
                let colour = RGBColor(shade(20.0, 255.0), shade(60.0, 255.0), shade(140.0, 255.0));
                let (x, y) = (x0 + p as i32 * cell as i32, y0 + t as i32 * cell as i32);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell as i32, y + cell as i32)],
                    colour.filled(),
                ))
                .map_err(|e| e.to_string())?;
                if labelled && cell >= 24 && count > 0 {
                    let ink = if share > 0.5 { WHITE } else { BLACK };
                    root.draw(&Text::new(
                        count.to_string(),
                        (x + 3, y + cell as i32 / 3),
                        text(11).color(&ink),
                    ))
                    .map_err(|e| e.to_string())?;
                }
            }
            let label = if labelled {
                names.get(t).cloned().unwrap_or_else(|| t.to_string())
            } else if t % (n / 10).max(1) == 0 {
                t.to_string()
            } else {
                continue;
            };
            let label: String = label.chars().take(22).collect();
            root.draw(&Text::new(
                label,
                (6, y0 + t as i32 * cell as i32 + cell as i32 / 4),
                text(12),
            ))
            .map_err(|e| e.to_string())?;
        }
        let bottom = y0 + n as i32 * cell as i32 + 8;
        root.draw(&Text::new(
            "rows: true class · columns: predicted (same order) · shade: share of the row",
            (x0, bottom),
            text(12),
        ))
        .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    save_rgb(&buffer, width, height, path)
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

    #[test]
    fn band_panels_draw_a_grid_of_shaded_bands() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bands.png");
        let band = |label: &str, colour: usize, scale: f64| {
            Band::new(
                label,
                colour,
                (1..=10)
                    .map(|x| {
                        let y = scale * x as f64;
                        (x as f64, y / 3.0, y, y * 3.0)
                    })
                    .collect(),
            )
        };
        let panels: Vec<Panel> = (0..3)
            .map(|i| Panel {
                title: format!("panel {i}"),
                bands: vec![band("a", 0, 1e-3), band("b", 1, 10.0).with_width(1)],
            })
            .collect();
        band_panels(&path, "Bands", "layer", "norm", &panels, true).unwrap();
        let image = skipnet_data::image::decode(&path).unwrap().to_u8();
        // Two columns, two rows (the fourth cell empty), a title strip.
        assert_eq!((image.width, image.height), (1120, 840));
        // The shaded bands are light, not white: tab10 blue and orange mixed at 20 %.
        let plane = image.width * image.height;
        let shaded = (0..plane)
            .filter(|&p| {
                let rgb = [0, 1, 2].map(|c| image.data[c * plane + p]);
                rgb.iter().all(|&v| v > 150) && rgb.iter().any(|&v| v < 245)
            })
            .count();
        assert!(shaded > 10_000, "{shaded} shaded pixels");
        let nothing = [Panel {
            title: "empty".into(),
            bands: vec![Band::new(
                "nan",
                0,
                vec![(1.0, f64::NAN, f64::NAN, f64::NAN)],
            )],
        }];
        let err = band_panels(&path, "x", "x", "y", &nothing, true).unwrap_err();
        assert!(err.to_string().contains("bands.png"), "{err}");
    }
}
