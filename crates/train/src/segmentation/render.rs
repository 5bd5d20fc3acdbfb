//! U-Net predictions as pixels: per-image logits, mask scores, and PNG overlays of predicted
//! against true masks.

use burn::tensor::Tensor;
use skipnet_models::UNet;

use super::{PixelCounts, pixel_class};
use crate::error::TrainError;

/// Runs `unet` on the first `items` items of `data` and returns each one's [`PixelCounts`];
/// with `overlays = (dir, prefix, n)`, also saves the first `n` as overlay PNGs
/// `dir/{prefix}_{i:03}.png` (grey image, TP yellow, FP red, FN green).
pub fn score_masks(
    unet: &UNet,
    data: &dyn burn::data::dataset::Dataset<skipnet_data::SegmentationItem>,
    items: usize,
    overlays: Option<(&std::path::Path, &str, usize)>,
) -> Result<Vec<PixelCounts>, TrainError> {
    let items = items.min(data.len());
    let mut scores = Vec::with_capacity(items);
    for i in 0..items {
        let item = data
            .get(i)
            .map_err(|e| TrainError::invalid("segmentation item", format!("{i}: {e}")))?;
        let (h, w) = (item.image.height, item.image.width);
        let logits = mask_logits(unet, &item)?;
        let mut counts = [0.0f64; 4];
        for (logit, mask) in logits.iter().zip(&item.mask) {
            counts[pixel_class(*logit > 0.0, *mask != 0)] += 1.0;
        }
        scores.push(counts);
        let Some((dir, prefix, limit)) = overlays else {
            continue;
        };
        if i >= limit {
            continue;
        }
        let mut rgb = vec![0u8; 3 * h * w];
        for p in 0..h * w {
            let grey = (item.image.data[p].clamp(0.0, 1.0) * 200.0) as u8;
            let (pred, truth) = (logits[p] > 0.0, item.mask[p] != 0);
            let colour = match (pred, truth) {
                (true, true) => [255, 220, 0],
                (true, false) => [230, 40, 40],
                (false, true) => [40, 200, 60],
                (false, false) => [grey, grey, grey],
            };
            let alpha = if pred || truth { 0.55 } else { 0.0 };
            for c in 0..3 {
                rgb[c * h * w + p] = (grey as f32 * (1.0 - alpha) + colour[c] as f32 * alpha) as u8;
            }
        }
        let image = skipnet_data::image::ImageU8 {
            channels: 3,
            height: h,
            width: w,
            data: rgb,
        };
        skipnet_data::image::save_png(&image, &dir.join(format!("{prefix}_{i:03}.png")))?;
    }
    Ok(scores)
}

/// The U-Net's per-pixel logits for one item, `height · width` values (foreground where
/// positive).
pub fn mask_logits(
    unet: &UNet,
    item: &skipnet_data::SegmentationItem,
) -> Result<Vec<f32>, TrainError> {
    use burn::tensor::TensorData;
    let device = unet.out.weight.val().device();
    let (h, w) = (item.image.height, item.image.width);
    let channels = unet.in_channels();
    let pixels = item.image.clone().with_channels(channels).data;
    let logits = unet.forward(Tensor::from_data(
        TensorData::new(pixels, [1, channels, h, w]),
        &device,
    ));
    logits
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::Training(format!("cannot read the U-Net output: {e:?}")))
}

/// Saves PNG overlays of predicted vs true masks for up to `count` validation images into
/// `dir` (`valid_000.png`...); returns how many.
pub fn write_overlays(
    unet: &UNet,
    valid: &dyn burn::data::dataset::Dataset<skipnet_data::SegmentationItem>,
    count: usize,
    dir: &std::path::Path,
) -> Result<usize, TrainError> {
    let count = valid.len().min(count);
    score_masks(unet, valid, count, Some((dir, "valid", count)))?;
    Ok(count)
}

/// Object overlays of the first `count` items of `data`, saved as `dir/{prefix}_{i:03}.png`:
/// `unet`'s objects (the 8-connected components of its mask), or with `None` those of a global
/// Otsu threshold, outlined by their fate ([`crate::instances::object_overlay`]: matched green,
/// merged red, split orange, other blue; missed true objects yellow). Returns how many.
pub fn write_object_overlays(
    unet: Option<&UNet>,
    data: &dyn burn::data::dataset::Dataset<skipnet_data::SegmentationItem>,
    count: usize,
    dir: &std::path::Path,
    prefix: &str,
) -> Result<usize, TrainError> {
    let count = data.len().min(count);
    for i in 0..count {
        let item = data
            .get(i)
            .map_err(|e| TrainError::invalid("evaluation item", format!("{i}: {e}")))?;
        let (h, w) = (item.image.height, item.image.width);
        let predicted = match unet {
            Some(unet) => crate::instances::logit_objects(&mask_logits(unet, &item)?, h, w).0,
            None => skipnet_data::labels::otsu_instances(&item.image).1,
        };
        let overlay =
            crate::instances::object_overlay(&item.image, &item.instance_ids(), &predicted);
        let path = dir.join(format!("{prefix}_{i:03}.png"));
        skipnet_data::image::save_png(&overlay, &path)
            .map_err(|e| TrainError::file(&path, format!("cannot write: {e}")))?;
    }
    Ok(count)
}
