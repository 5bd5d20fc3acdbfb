//! Train a U-Net on the built-in synthetic cells (AdamW, cosine schedule) and score its masks.
//!
//! `cargo run --release -p skipnet-train --example train_unet -- [RUN_DIR] [EPOCHS] [IMAGES] [WIDTH]`
use skipnet_data::{DatasetKind, DatasetSpec};
use skipnet_models::{ModelConfig, UNetConfig};
use skipnet_train::{Metric, RunFolder, RunOptions, TrainSpec, evaluate, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().map_or("runs/example-unet", String::as_str);
    let epochs: usize = args.get(1).map_or(Ok(20), |s| s.parse())?;
    let images: usize = args.get(2).map_or(Ok(96), |s| s.parse())?;
    let width: usize = args.get(3).map_or(Ok(16), |s| s.parse())?;

    let data = DatasetSpec::new(DatasetKind::SyntheticCells)
        .with_sizes(Some(images), Some(images.div_ceil(4)))
        .with_image_size(Some(64));
    // The segmentation recipe of `cargo xtask train`: AdamW at 1e-3, cosine, batch 8.
    let mut spec = TrainSpec::for_dataset("unet", data.clone())?.with_epochs(epochs);
    // The paper's U-Net is width 64; a narrower one trains in minutes on a CPU.
    spec.model = ModelConfig::UNet(UNetConfig::new(1, 1).with_base_width(width));

    let result = run(&spec, &RunOptions::new(dir).with_quiet(true))?;
    println!("validation Dice {:.1} %", result.last(Metric::VALID_DICE));
    let scores = evaluate(&RunFolder::new(dir), &data, result.config.backend)?;
    println!(
        "pooled Dice {:.1} %, IoU {:.1} %",
        scores.get("dice"),
        scores.get("iou")
    );
    Ok(())
}
