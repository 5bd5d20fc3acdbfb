//! Exercise 3: U-Net trained on synthetic cells; Dice and IoU on held-out synthetic images and
//! on every real image/mask pair of `--eval-dir`, with overlays.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_data::segmentation::SegmentationFolder;
use skipnet_data::synthetic::SyntheticCells;
use skipnet_models::{Model, ModelConfig, UNetConfig};
use skipnet_train::TrainSpec;
use skipnet_train::plots::{Series, line_chart};
use skipnet_train::segmentation::score_masks;

use super::report::{Report, Table, num, write_csv};
use super::{CommonArgs, setup, train};

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
const FIGURES: [(&str, &str); 4] = [
    ("dice", "Dice %"),
    ("iou", "IoU %"),
    ("f1_iou50", "F1@0.5 %"),
    ("dsb2018", "DSB2018 %"),
];

/// The two U-Nets the experiment trains: the plain loss and the paper's border weighting.
const VARIANTS: [(&str, f64); 2] = [
    ("U-Net, BCE + Dice", 0.0),
    ("U-Net, border-weighted (w0 = 10, σ = 5)", 10.0),
];

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
    let real = match &args.eval_dir {
        Some(dir) => Some(SegmentationFolder::open(dir)?.with_channels(1)),
        None => None,
    };
    // Held out: a seed the training and validation sets never used.
    let held_out = SyntheticCells::new(args.common.seed ^ 0x7E57, test_size, side)?;
    let overlays = setup.dir.join("overlays");
    std::fs::create_dir_all(&overlays)?;
    let mut sets: Vec<(
        String,
        &dyn burn::data::dataset::Dataset<skipnet_data::SegmentationItem>,
    )> = vec![("synthetic-cells (held out)".to_string(), &held_out)];
    if let (Some(real), Some(dir)) = (&real, &args.eval_dir) {
        sets.push((format!("{} (real)", dir.display()), real));
    }
    // rows: (method, set, evaluation)
    let mut results: Vec<(String, String, skipnet_train::Evaluation)> = Vec::new();
    let mut runs = Vec::new();
    for (v, (name, w0)) in VARIANTS.iter().enumerate() {
        // `cargo xtask train`'s segmentation recipe (AdamW 1e-3, cosine, batch 8).
        let mut spec = TrainSpec::for_dataset(
            "unet",
            DatasetSpec::new(DatasetKind::SyntheticCells)
                .with_sizes(Some(train_size), Some((train_size / 4).max(2)))
                .with_image_size(Some(side)),
        )?
        .with_epochs(epochs)
        .with_seed(args.common.seed);
        spec.border_weight = Some(*w0);
        if let ModelConfig::UNet(unet) = &spec.model {
            spec.model = ModelConfig::UNet(UNetConfig {
                base_width: width,
                ..unet.clone()
            });
        }
        let run = train(&setup, &format!("unet-w0-{w0}"), &spec)?;
        let Model::UNet(unet) = &run.result.model else {
            anyhow::bail!("the segmentation run did not produce a U-Net");
        };
        for (set, data) in &sets {
            let eval = skipnet_train::evaluate_segmenter(unet, *data)?;
            if v == 0 {
                results.push((
                    "Otsu threshold + components".into(),
                    set.clone(),
                    otsu_of(&eval),
                ));
            }
            results.push((name.to_string(), set.clone(), eval));
        }
        for (s, (_, data)) in sets.iter().enumerate() {
            object_overlays(
                &overlays,
                &format!("objects-w0-{w0}-set{s}"),
                *data,
                Some(unet),
            )?;
            if v == 0 {
                object_overlays(&overlays, &format!("objects-otsu-set{s}"), *data, None)?;
            }
        }
        let prefix = format!("w0-{w0}-synthetic");
        score_masks(unet, &held_out, test_size, Some((&overlays, &prefix, 3)))?;
        if let Some(real) = &real {
            score_masks(
                unet,
                real,
                usize::MAX,
                Some((&overlays, &format!("w0-{w0}-real"), 6)),
            )?;
        }
        runs.push(run);
    }
    // Grouped by evaluation set, Otsu first, then the U-Nets in order.
    let set_order: Vec<String> = sets.iter().map(|(name, _)| name.clone()).collect();
    let method_rank = |m: &str| {
        VARIANTS
            .iter()
            .position(|(name, _)| *name == m)
            .map_or(0, |i| i + 1)
    };
    results.sort_by_key(|(method, set, _)| {
        (
            set_order
                .iter()
                .position(|s| s == set)
                .unwrap_or(usize::MAX),
            method_rank(method),
        )
    });
    let mut table = Table::new(&[
        "method",
        "evaluation set",
        "images",
        "Dice %",
        "IoU %",
        "F1@0.5 %",
        "DSB2018 %",
    ]);
    let mut rows = Vec::new();
    for (method, set, eval) in &results {
        let mut cells = vec![method.clone(), set.clone(), eval.items.to_string()];
        let mut csv = vec![method.clone(), set.clone(), eval.items.to_string()];
        for (key, _) in FIGURES {
            cells.push(num(eval.get(key), 2));
            csv.push(format!("{}", eval.get(key)));
        }
        table.row(cells);
        rows.push(csv);
    }
    write_csv(
        &setup.dir.join("segmentation.csv"),
        &[
            "method", "set", "images", "dice", "iou", "f1_iou50", "dsb2018",
        ],
        &rows,
    )?;
    let mut series: Vec<Series> = Vec::new();
    for ((name, _), run) in VARIANTS.iter().zip(&runs) {
        for (key, label) in [("dice", "Dice"), ("dsb2018", "DSB2018")] {
            series.push(run.series(&format!("{name}: {label}"), "valid", key, |v| v));
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
    let findings = findings(&results, &sets[0].0);
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
    for run in &runs {
        report.commands.push(run.command.clone());
    }
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

/// Object overlays of the first [`OBJECT_OVERLAYS`] items of `data`: `unet`'s objects (the
/// components of its mask), or Otsu's with `None`, outlined by their fate — matched green,
/// merged red, split orange, other blue; missed true objects yellow.
fn object_overlays(
    dir: &std::path::Path,
    prefix: &str,
    data: &dyn burn::data::dataset::Dataset<skipnet_data::SegmentationItem>,
    unet: Option<&skipnet_models::UNet>,
) -> Result<()> {
    use skipnet_data::labels::otsu_instances;
    for i in 0..data.len().min(OBJECT_OVERLAYS) {
        let item = data
            .get(i)
            .map_err(|e| anyhow::anyhow!("item {i} of the evaluation set: {e}"))?;
        let (h, w) = (item.image.height, item.image.width);
        let truth = item.instance_ids();
        let predicted = match unet {
            Some(unet) => {
                let logits = skipnet_train::segmentation::mask_logits(unet, &item)?;
                skipnet_train::instances::logit_objects(&logits, h, w).0
            }
            None => otsu_instances(&item.image).1,
        };
        let overlay = skipnet_train::instances::object_overlay(&item.image, &truth, &predicted);
        skipnet_data::image::save_png(&overlay, &dir.join(format!("{prefix}_{i:03}.png")))?;
    }
    Ok(())
}

/// Object overlays written per method and evaluation set.
const OBJECT_OVERLAYS: usize = 3;

/// The Otsu figures of an evaluation, under the U-Net's keys.
fn otsu_of(eval: &skipnet_train::Evaluation) -> skipnet_train::Evaluation {
    skipnet_train::Evaluation {
        items: eval.items,
        metrics: FIGURES
            .iter()
            .map(|(key, _)| (key.to_string(), eval.get(&format!("otsu_{key}"))))
            .collect(),
        classes: Vec::new(),
        confusion: Vec::new(),
    }
}

/// What the held-out table shows, in words taken from its numbers.
fn findings(results: &[(String, String, skipnet_train::Evaluation)], held_out: &str) -> String {
    let get = |method: &str, key: &str| {
        results
            .iter()
            .find(|(m, s, _)| m.starts_with(method) && s == held_out)
            .map_or(f64::NAN, |(_, _, e)| e.get(key))
    };
    let (plain, border, otsu) = (
        get(VARIANTS[0].0, "dsb2018"),
        get(VARIANTS[1].0, "dsb2018"),
        get("Otsu", "dsb2018"),
    );
    let compare = |a: f64, b: f64| {
        if a > b {
            "above"
        } else if a < b {
            "below"
        } else {
            "equal to"
        }
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
