//! Exercise 3: U-Net trained on synthetic cells; Dice and IoU on held-out synthetic images and
//! on every real image/mask pair of `--eval-dir`, with overlays.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_data::segmentation::SegmentationFolder;
use skipnet_data::synthetic::SyntheticCells;
use skipnet_models::{Model, ModelConfig, UNetConfig};
use skipnet_train::plots::{Series, line_chart};
use skipnet_train::segmentation::{MaskScore, score_masks};
use skipnet_train::{ScheduleSpec, TrainSpec};

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

/// Mean Dice and IoU over items, and pooled over all pixels.
fn summarise(counts: &[[f64; 4]]) -> [f64; 3] {
    let mean = |score: MaskScore| {
        counts.iter().map(|c| score.from_counts(*c)).sum::<f64>() / counts.len().max(1) as f64
    };
    let pooled = counts.iter().fold([0.0; 4], |mut a, c| {
        for i in 0..4 {
            a[i] += c[i];
        }
        a
    });
    [
        mean(MaskScore::Dice),
        mean(MaskScore::IoU),
        MaskScore::Dice.from_counts(pooled),
    ]
}

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
        Some(dir) => Some(SegmentationFolder::open(dir)?),
        None => None,
    };
    let mut spec = TrainSpec::he2015(
        "unet",
        DatasetSpec::new(DatasetKind::SyntheticCells)
            .with_sizes(Some(train_size), Some((train_size / 4).max(2)))
            .with_image_size(Some(side)),
    )?
    .with_adamw()
    .with_epochs(epochs)
    .with_batch_size(8)
    .with_schedule(ScheduleSpec::Cosine)
    .with_seed(args.common.seed);
    if let ModelConfig::UNet(unet) = &spec.model {
        spec.model = ModelConfig::UNet(UNetConfig {
            base_width: width,
            ..unet.clone()
        });
    }
    let run = train(&setup, "unet", &spec)?;
    let Model::UNet(unet) = &run.result.model else {
        anyhow::bail!("the segmentation run did not produce a U-Net");
    };
    let overlays = setup.dir.join("overlays");
    std::fs::create_dir_all(&overlays)?;
    // Held out: a seed the training and validation sets never used.
    let held_out = SyntheticCells::new(args.common.seed ^ 0x7E57, test_size, side)?;
    let synthetic = score_masks(
        unet,
        &held_out,
        test_size,
        Some((&overlays, "synthetic", 6)),
    )?;
    let mut table = Table::new(&[
        "evaluation set",
        "images",
        "mean Dice %",
        "mean IoU %",
        "pooled Dice %",
    ]);
    let mut rows = Vec::new();
    let mut add = |name: &str, counts: &[[f64; 4]], table: &mut Table| {
        let [dice, iou, pooled] = summarise(counts);
        table.row(vec![
            name.into(),
            counts.len().to_string(),
            num(dice, 3),
            num(iou, 3),
            num(pooled, 3),
        ]);
        for (i, c) in counts.iter().enumerate() {
            rows.push(vec![
                name.to_string(),
                i.to_string(),
                format!("{}", MaskScore::Dice.from_counts(*c)),
                format!("{}", MaskScore::IoU.from_counts(*c)),
            ]);
        }
    };
    add("synthetic-cells (held out)", &synthetic, &mut table);
    if let (Some(real), Some(dir)) = (&real, &args.eval_dir) {
        let real = real.clone().with_channels(unet.in_channels());
        let counts = score_masks(unet, &real, usize::MAX, Some((&overlays, "real", 12)))?;
        add(&format!("{} (real)", dir.display()), &counts, &mut table);
    }
    write_csv(
        &setup.dir.join("segmentation.csv"),
        &["set", "image", "dice", "iou"],
        &rows,
    )?;
    let series: Vec<Series> = [("dice", "Dice"), ("iou", "IoU")]
        .iter()
        .map(|(metric, label)| run.series(&format!("validation {label} %"), "valid", metric, |v| v))
        .collect();
    line_chart(
        &setup.dir.join("segmentation.png"),
        "U-Net on synthetic cells: validation scores",
        "epoch",
        "score",
        &series,
        false,
    )?;
    let mut report = Report::new(
        "U-Net on synthetic cells",
        &format!(
            "A U-Net (base width {width}, 4 levels, transposed-convolution upsampling) trained \
             {epochs} epochs on {train_size} synthetic-cells images of {side}×{side} (AdamW \
             1e-3, cosine, BCE + soft Dice loss, flips/rot90 augmentation), then scored on \
             {test_size} held-out synthetic images{}. Dice = 2TP/(2TP+FP+FN), IoU = \
             TP/(TP+FP+FN) of the thresholded prediction (logit > 0), per image and pooled.",
            match &args.eval_dir {
                Some(d) => format!(" and every image/mask pair of `{}`", d.display()),
                None => " (pass `--eval-dir DIR` to score real image/mask pairs too, e.g. the \
                         DSB2018 stage-1 training set)"
                    .into(),
            }
        ),
        &setup.command,
    );
    report.commands.push(run.command);
    let pictures: Vec<String> = (0..synthetic.len().min(3))
        .map(|i| format!("![held-out {i}](overlays/synthetic_{i:03}.png)"))
        .collect();
    report.sections.push(format!(
        "## Results\n\n{}\n![validation scores](segmentation.png)\n\nOverlays (yellow: true \
         positive, red: false positive, green: false negative):\n\n{}\n\nRaw numbers: \
         `segmentation.csv`; all overlays in `overlays/`.",
        table.markdown(),
        pictures.join(" ")
    ));
    report.write(&setup.dir)
}
