//! Exercise 3: U-Net trained on synthetic cells; Dice and IoU on held-out synthetic images and
//! on every real image/mask pair of `--eval-dir`, with overlays.

use std::cmp::Ordering;
use std::path::PathBuf;

use anyhow::Result;
use burn::data::dataset::Dataset;
use clap::Args;
use skipnet_data::SegmentationItem;
use skipnet_data::registry::DatasetKind;
use skipnet_data::segmentation::SegmentationFolder;
use skipnet_data::synthetic::SyntheticCells;
use skipnet_models::Model;
use skipnet_train::plots::{Series, line_chart};
use skipnet_train::segmentation::{score_masks, write_object_overlays};
use skipnet_train::{Cell, Metric, MetricKey, SpecOverrides, Sweep};

use super::report::{Report, Table, num, write_csv};
use super::{CommonArgs, setup};

#[derive(Args, Debug)]
pub struct SegmentationArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// A folder of real image/mask pairs (images/ + masks/, or DSB2018 layout) to evaluate on.
    #[arg(long)]
    eval_dir: Option<PathBuf>,
    /// U-Net base width (64 = the paper's network).
    #[arg(long, default_value_t = 16)]
    width: usize,
    /// Epochs.
    #[arg(long, default_value_t = 15)]
    epochs: usize,
    /// Synthetic training images.
    #[arg(long, default_value_t = 96)]
    train_size: usize,
    /// Synthetic held-out images.
    #[arg(long, default_value_t = 24)]
    test_size: usize,
    /// Image side of the synthetic cells.
    #[arg(long, default_value_t = 96)]
    image_size: usize,
}

/// The figures each method gets on each evaluation set, in this order: pooled Dice, pooled
/// IoU, F1 at IoU 0.5, DSB2018 score (all %).
const FIGURES: [MetricKey; 4] = [
    MetricKey::Dice,
    MetricKey::IoU,
    MetricKey::F1IoU50,
    MetricKey::Dsb2018,
];

/// The two U-Nets the experiment trains: the plain loss and the paper's border weighting.
const VARIANTS: [(&str, f64); 2] = [
    ("U-Net, BCE + Dice", 0.0),
    ("U-Net, border-weighted (w0 = 10, σ = 5)", 10.0),
];

/// The baseline's name in the table.
const OTSU: &str = "Otsu threshold + components";

/// One line of the table: method, evaluation set, images, and the [`FIGURES`].
type Row = (String, String, usize, [f64; 4]);

pub fn run(args: &SegmentationArgs) -> Result<()> {
    let Some(setup) = setup(&args.common, "segmentation")? else {
        return Ok(());
    };
    let (width, epochs, train_size, test_size, side) = if args.common.quick {
        (4, 1, 4, 2, 32)
    } else {
        (
            args.width,
            args.epochs,
            args.train_size,
            args.test_size,
            args.image_size,
        )
    };
    // Read the real pairs first: a bad --eval-dir fails before any training.
    let real = args
        .eval_dir
        .as_ref()
        .map(|dir| SegmentationFolder::open(dir))
        .transpose()?;
    let real = real.map(|folder| folder.with_channels(1));
    // Held out: a seed the training and validation sets never used.
    let held_out = SyntheticCells::new(args.common.seed ^ 0x7E57, test_size, side)?;
    let overlays = setup.dir.join("overlays");
    std::fs::create_dir_all(&overlays)?;
    let mut sets: Vec<(String, &dyn Dataset<SegmentationItem>)> =
        vec![("synthetic-cells (held out)".to_string(), &held_out)];
    if let (Some(real), Some(dir)) = (&real, &args.eval_dir) {
        sets.push((format!("{} (real)", dir.display()), real));
    }
    // `cargo xtask train --dataset synthetic-cells`'s recipe (AdamW 1e-3, cosine, batch 8).
    let cells = VARIANTS
        .iter()
        .map(|&(name, w0)| {
            let spec = SpecOverrides {
                dataset: Some(DatasetKind::SyntheticCells),
                epochs: Some(epochs),
                train_size: Some(train_size),
                valid_size: Some((train_size / 4).max(2)),
                image_size: Some(side),
                border_weight: Some(w0),
                width: Some(width),
                ..SpecOverrides::default()
            };
            Ok(Cell::new(name, spec.resolve()?).with_folder(format!("unet-w0-{w0}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let runs = Sweep::single_seed(cells, args.common.seed).run(&setup.dir, setup.backend)?;
    // Grouped by evaluation set: Otsu first, then the U-Nets in order.
    let mut rows: Vec<Row> = Vec::new();
    for (s, (set, data)) in sets.iter().enumerate() {
        for (v, ((_, w0), run)) in VARIANTS.iter().zip(&runs.runs).enumerate() {
            let Some(Model::UNet(unet)) = run.result().map(|r| &r.model) else {
                anyhow::bail!("the segmentation run did not produce a U-Net");
            };
            let eval = skipnet_train::evaluate_segmenter(unet, *data)?;
            if v == 0 {
                let otsu = FIGURES.map(|key| eval.otsu(key));
                rows.push((OTSU.into(), set.clone(), eval.items, otsu));
                write_object_overlays(None, *data, 3, &overlays, &format!("objects-otsu-set{s}"))?;
            }
            let figures = FIGURES.map(|key| eval.value(key));
            rows.push((run.label.clone(), set.clone(), eval.items, figures));
            let prefix = format!("objects-w0-{w0}-set{s}");
            write_object_overlays(Some(unet), *data, 3, &overlays, &prefix)?;
            let (count, prefix, drawn) = match s {
                0 => (test_size, format!("w0-{w0}-synthetic"), 3),
                _ => (usize::MAX, format!("w0-{w0}-real"), 6),
            };
            score_masks(unet, *data, count, Some((&overlays, &prefix, drawn)))?;
        }
    }
    let mut table = Table::new(&[
        "method",
        "evaluation set",
        "images",
        "Dice %",
        "IoU %",
        "F1@0.5 %",
        "DSB2018 %",
    ]);
    let mut csv = Vec::new();
    for (method, set, items, figures) in &rows {
        let head = [method.clone(), set.clone(), items.to_string()];
        table.row([&head[..], &figures.map(|f| num(f, 2))].concat());
        csv.push([&head[..], &figures.map(|f| format!("{f}"))].concat());
    }
    write_csv(
        &setup.dir.join("segmentation.csv"),
        &[
            "method", "set", "images", "dice", "iou", "f1_iou50", "dsb2018",
        ],
        &csv,
    )?;
    let mut series: Vec<Series> = Vec::new();
    for run in runs.runs.iter() {
        for (metric, name) in [
            (Metric::VALID_DICE, "Dice"),
            (Metric::VALID_DSB2018, "DSB2018"),
        ] {
            let label = format!("{}: {name}", run.label);
            series.push(Series {
                label,
                points: run.curve(metric),
            });
        }
    }
    line_chart(
        &setup.dir.join("segmentation.png"),
        "U-Net on synthetic cells: validation Dice and DSB2018 score per epoch",
        "epoch",
        "%",
        &series,
        false,
    )?;
    let findings = findings(&rows, &sets[0].0);
    let mut report = Report::new(
        "U-Net on synthetic cells: plain loss, border-weighted loss, Otsu baseline",
        &format!(
            "Two U-Nets (base width {width}, 4 levels, transposed-convolution upsampling) trained \
             {epochs} epochs on {train_size} synthetic-cells images of {side}×{side} (AdamW \
             1e-3, cosine, batch 8, flips/rot90/intensity augmentation): one with BCE + soft \
             Dice, one with the BCE weighted by the U-Net paper's weight map (class balance + \
             w0·exp(−(d1+d2)²/2σ²), w0 = 10, σ = 5 px, from each image's instance ids). Both, \
             and a global Otsu threshold with connected components, are scored on {test_size} \
             held-out synthetic images{}. Dice and IoU pool all pixels; objects are the \
             8-connected components of the thresholded output, matched to the true instances \
             by IoU: F1 at IoU 0.5 (pooled counts) and the DSB2018 score (per image the mean \
             over IoU 0.50…0.95 of TP/(TP+FP+FN), then the mean over images).",
            match &args.eval_dir {
                Some(d) => format!(" and every image/mask pair of `{}`", d.display()),
                None => " (pass `--eval-dir DIR` to score real image/mask pairs too)".into(),
            }
        ),
        &setup.command,
    );
    report.commands.extend(runs.commands());
    let pictures: Vec<String> = VARIANTS
        .iter()
        .map(|(name, w0)| {
            format!("{name}:\n\n![held-out, w0 {w0}](overlays/w0-{w0}-synthetic_000.png)")
        })
        .collect();
    report.sections.push(format!(
        "## Results\n\n{}\n{findings}\n\n![validation Dice and DSB2018 per epoch](segmentation.png)\n\nThe same \
         held-out image for each method: pixels (yellow: true positive, red: false positive, \
         green: false negative) and objects (outlines: green matched at IoU > 0.5, red merged \
         — covering most of two or more true nuclei —, orange split, blue other; yellow: a \
         true nucleus no object matches):\n\n{}\n\nRaw numbers: `segmentation.csv`; all \
         overlays in `overlays/` (`objects-*-set1_*` are the real images of `--eval-dir`).",
        table.markdown(),
        pictures.join("\n\n")
    ));
    report.write(&setup.dir)
}

/// What the held-out table shows, in words taken from its numbers.
fn findings(rows: &[Row], held_out: &str) -> String {
    let dsb2018 = |method: &str| {
        rows.iter()
            .find(|(m, s, _, _)| m.starts_with(method) && s == held_out)
            .map_or(f64::NAN, |row| row.3[3])
    };
    let [plain, border, otsu] = [VARIANTS[0].0, VARIANTS[1].0, OTSU].map(dsb2018);
    let compare = |a: f64, b: f64| match a.partial_cmp(&b) {
        Some(Ordering::Greater) => "above",
        Some(Ordering::Less) => "below",
        _ => "equal to",
    };
    format!(
        "On the held-out synthetic cells the border-weighted U-Net's DSB2018 score ({border:.2} %) \
         is {} the plain U-Net's ({plain:.2} %); Otsu scores {otsu:.2} %, {} the plain U-Net and \
         {} the border-weighted one. One seed: differences of a point or two are within what \
         another seed could change.",
        compare(border, plain),
        if otsu < plain { "below" } else { "not below" },
        if otsu < border { "below" } else { "not below" },
    )
}
