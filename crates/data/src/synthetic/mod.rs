//! Built-in synthetic datasets, deterministic from a seed and of any size: every item is
//! generated from `(seed, index)` alone, so datasets need no storage and any item can be
//! regenerated exactly.

pub mod cells;
pub mod shapes;

use rand::{RngExt, SeedableRng};
use rand_distr::{Poisson, StandardNormal};

use crate::DataRng;

pub use cells::{SyntheticCells, SyntheticCellsConfig};
pub use shapes::{SHAPE_CLASSES, SyntheticShapes};

/// The random generator of item `index` of a dataset seeded with `seed`.
pub(crate) fn item_rng(seed: u64, index: usize) -> DataRng {
    // SplitMix64 of (seed, index): nearby indices get unrelated streams.
    let mut z = seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    DataRng::seed_from_u64(z ^ (z >> 31))
}

/// A standard normal sample (`rand_distr`'s ziggurat).
pub(crate) fn normal(rng: &mut impl rand::Rng) -> f32 {
    rng.sample(StandardNormal)
}

/// A Poisson sample with mean `lambda` (`rand_distr`'s, exact at every mean); 0 for a mean
/// of 0 or below.
pub(crate) fn poisson(rng: &mut impl rand::Rng, lambda: f32) -> f32 {
    match Poisson::new(lambda) {
        Ok(poisson) => rng.sample(poisson),
        Err(_) => 0.0,
    }
}

/// Separable Gaussian blur of one `h × w` plane, edges clamped.
pub(crate) fn gaussian_blur(plane: &mut [f32], h: usize, w: usize, sigma: f32) {
    if sigma < 0.1 {
        return;
    }
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
    let mut tmp = vec![0.0f32; plane.len()];
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (k, &kv) in kernel.iter().enumerate() {
                let sx = (x as isize + k as isize - radius).clamp(0, w as isize - 1) as usize;
                acc += kv * plane[y * w + sx];
            }
            tmp[y * w + x] = acc;
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (k, &kv) in kernel.iter().enumerate() {
                let sy = (y as isize + k as isize - radius).clamp(0, h as isize - 1) as usize;
                acc += kv * tmp[sy * w + x];
            }
            plane[y * w + x] = acc;
        }
    }
}

use std::path::Path;

use crate::error::{DataError, Result};
use crate::image::save_png;
use crate::registry::DatasetKind;

/// The built-in datasets' names, comma separated (for messages).
pub fn synthetic_names() -> String {
    DatasetKind::ALL
        .into_iter()
        .filter(|kind| kind.is_synthetic())
        .map(DatasetKind::name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes `count` items of the synthetic dataset `name` under `out` as PNG files in the layout
/// the folder readers read back: `out/<class>/<index>.png` for shapes,
/// `out/images/<index>.png` + `out/masks/<index>.png` (0/255) for cells. Returns the files
/// written.
pub fn write_synthetic(
    name: &str,
    out: &Path,
    count: usize,
    seed: u64,
    size: usize,
) -> Result<usize> {
    let kind: DatasetKind = name.parse()?;
    match kind {
        DatasetKind::SyntheticShapes => {
            let data = SyntheticShapes::new(seed, count);
            for i in 0..count {
                let item = data.item(i)?;
                let dir = out.join(SHAPE_CLASSES[item.label]);
                save_png(&item.image, &dir.join(format!("{i:06}.png")))?;
            }
            Ok(count)
        }
        DatasetKind::SyntheticCells => {
            let data = SyntheticCells::new(seed, count, size)?;
            for i in 0..count {
                let item = data.item(i)?;
                save_png(
                    &item.image.to_u8(),
                    &out.join("images").join(format!("{i:06}.png")),
                )?;
                // The instance labels (16-bit, 0 = background), so that touching nuclei stay
                // separate objects when read back.
                let (h, w) = (item.image.height, item.image.width);
                let ids = item
                    .instances
                    .clone()
                    .unwrap_or_else(|| item.mask.iter().map(|&m| u32::from(m != 0)).collect());
                crate::image::save_label_png(
                    &ids,
                    h,
                    w,
                    &out.join("masks").join(format!("{i:06}.png")),
                )?;
            }
            Ok(2 * count)
        }
        other => Err(DataError::invalid(
            "synthetic dataset",
            format!(
                "'{other}' is read from disk (built in: {})",
                synthetic_names()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::folder::ImageFolder;
    use crate::segmentation::SegmentationFolder;
    use burn::data::dataset::Dataset;

    #[test]
    fn synth_output_reads_back_through_the_folder_readers() {
        let dir = tempfile::tempdir().unwrap();
        let shapes = dir.path().join("shapes");
        write_synthetic("synthetic-shapes", &shapes, 40, 5, 0).unwrap();
        let folder = ImageFolder::open(&shapes, 3, None).unwrap();
        assert_eq!(folder.len(), 40);
        let original = SyntheticShapes::new(5, 40);
        for i in 0..folder.len() {
            let item = folder.get(i).unwrap();
            let (path, _) = &folder.entries()[i];
            let index: usize = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
            let expected = original.get(index).unwrap();
            assert_eq!(folder.classes()[item.label], SHAPE_CLASSES[expected.label]);
            assert_eq!(item.image, expected.image, "PNG round trip is lossless");
        }
        let cells = dir.path().join("cells");
        write_synthetic("synthetic-cells", &cells, 3, 5, 48).unwrap();
        let seg = SegmentationFolder::open(&cells).unwrap();
        let expected = SyntheticCells::new(5, 3, 48).unwrap();
        for i in 0..3 {
            assert_eq!(seg.get(i).unwrap().mask, expected.get(i).unwrap().mask);
        }
        let err = write_synthetic("synthetic-dogs", dir.path(), 1, 0, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("synthetic-shapes, synthetic-cells"), "{err}");
    }
}
