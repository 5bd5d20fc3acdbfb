//! Instance labels: objects as connected components, and the instance ids of a mask file.

use crate::error::{DataError, Result};
use crate::image::{RawImage, Samples};

/// Labels the 8-connected components of the pixels where `foreground` is true, row-major
/// `height × width`: 0 for background, 1..=n for the objects (in raster order of their first
/// pixel). Returns the labels and n.
pub fn connected_components(foreground: &[bool], height: usize, width: usize) -> (Vec<u32>, usize) {
    assert_eq!(foreground.len(), height * width, "mask of height × width");
    let mut labels = vec![0u32; foreground.len()];
    let mut count = 0u32;
    let mut stack = Vec::new();
    for start in 0..foreground.len() {
        if !foreground[start] || labels[start] != 0 {
            continue;
        }
        count += 1;
        labels[start] = count;
        stack.push(start);
        while let Some(p) = stack.pop() {
            let (y, x) = ((p / width) as isize, (p % width) as isize);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (ny, nx) = (y + dy, x + dx);
                    if ny < 0 || nx < 0 || ny >= height as isize || nx >= width as isize {
                        continue;
                    }
                    let q = ny as usize * width + nx as usize;
                    if foreground[q] && labels[q] == 0 {
                        labels[q] = count;
                        stack.push(q);
                    }
                }
            }
        }
    }
    (labels, count as usize)
}

/// Objects of an instance-label image (`height × width`, 0 = background), and how many of
/// them touch another: a pixel of theirs is 8-adjacent to a pixel of another object. These
/// are the objects a semantic mask merges.
pub fn touching_objects(ids: &[u32], height: usize, width: usize) -> [usize; 2] {
    let mut all = std::collections::BTreeSet::new();
    let mut touching = std::collections::BTreeSet::new();
    for y in 0..height {
        for x in 0..width {
            let id = ids[y * width + x];
            if id == 0 {
                continue;
            }
            all.insert(id);
            // Right and the three neighbours below: each adjacent pair seen once.
            for (dy, dx) in [(0isize, 1isize), (1, -1), (1, 0), (1, 1)] {
                let (ny, nx) = (y as isize + dy, x as isize + dx);
                if ny < height as isize && nx >= 0 && nx < width as isize {
                    let other = ids[ny as usize * width + nx as usize];
                    if other != 0 && other != id {
                        touching.insert(id);
                        touching.insert(other);
                    }
                }
            }
        }
    }
    [all.len(), touching.len()]
}

/// Otsu's threshold of `values` (256 bins between their minimum and maximum): the value that
/// maximises the between-class variance of the two sides. NaN for no values; the value itself
/// when all are equal.
pub fn otsu_threshold(values: &[f32]) -> f32 {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        return f32::NAN;
    }
    if lo == hi {
        return lo;
    }
    const BINS: usize = 256;
    let scale = (BINS - 1) as f32 / (hi - lo);
    let mut histogram = [0f64; BINS];
    for v in values.iter().filter(|v| v.is_finite()) {
        histogram[((v - lo) * scale).round() as usize] += 1.0;
    }
    let total: f64 = histogram.iter().sum();
    let sum_all: f64 = histogram
        .iter()
        .enumerate()
        .map(|(i, c)| i as f64 * c)
        .sum();
    let (mut weight_low, mut sum_low) = (0.0, 0.0);
    let (mut best, mut best_variance) = (0usize, f64::MIN);
    for (i, &count) in histogram.iter().enumerate().take(BINS - 1) {
        weight_low += count;
        sum_low += i as f64 * count;
        let weight_high = total - weight_low;
        if weight_low == 0.0 || weight_high == 0.0 {
            continue;
        }
        let (mean_low, mean_high) = (sum_low / weight_low, (sum_all - sum_low) / weight_high);
        let variance = weight_low * weight_high * (mean_low - mean_high).powi(2);
        if variance > best_variance {
            best_variance = variance;
            best = i;
        }
    }
    // Between bin `best` and the next.
    lo + (best as f32 + 0.5) / scale
}

/// The Otsu baseline of segmentation: the pixels above [`otsu_threshold`] of the image's grey
/// values (the mean of its channels) are foreground, its objects their 8-connected components.
/// Returns the foreground and the instance ids.
pub fn otsu_instances(image: &crate::image::ImageF32) -> (Vec<bool>, Vec<u32>) {
    let pixels = image.height * image.width;
    let grey: Vec<f32> = (0..pixels)
        .map(|p| {
            (0..image.channels)
                .map(|c| image.data[c * pixels + p])
                .sum::<f32>()
                / image.channels.max(1) as f32
        })
        .collect();
    let threshold = otsu_threshold(&grey);
    let foreground: Vec<bool> = grey.iter().map(|&v| v > threshold).collect();
    let (ids, _) = connected_components(&foreground, image.height, image.width);
    (foreground, ids)
}

/// The instance ids of a mask or label image, and its foreground mask: a label image (several
/// distinct non-zero integer values) gives its values; a binary mask (one non-zero value,
/// any bit depth) gives its 8-connected components. A float image with several non-zero values
/// is an error: labels are integers.
pub fn instances_of(mask: &RawImage, path: &std::path::Path) -> Result<(Vec<u8>, Vec<u32>)> {
    let foreground = mask.nonzero_mask();
    let labels = mask.labels();
    let mut distinct = labels.iter().copied().filter(|&l| l != 0);
    let first = distinct.next();
    let binary = first.is_none_or(|f| distinct.all(|l| l == f));
    if binary {
        let on: Vec<bool> = foreground.iter().map(|&m| m != 0).collect();
        let (components, _) = connected_components(&on, mask.height, mask.width);
        return Ok((foreground, components));
    }
    if let Samples::F32(_) = mask.samples {
        return Err(DataError::format(
            path,
            "a float label image: instance ids must be integers (save labels as 8-, 16- or \
             32-bit integers; a float mask may only be binary)",
        ));
    }
    Ok((foreground, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_eight_connected_and_numbered_in_raster_order() {
        #[rustfmt::skip]
        let mask = [
            1, 1, 0, 0, 1,
            0, 0, 1, 0, 1,
            0, 0, 0, 0, 0,
            1, 0, 0, 1, 1,
        ].map(|v| v == 1);
        let (labels, n) = connected_components(&mask, 4, 5);
        assert_eq!(n, 4);
        #[rustfmt::skip]
        assert_eq!(labels, [
            1, 1, 0, 0, 2,
            0, 0, 1, 0, 2,
            0, 0, 0, 0, 0,
            3, 0, 0, 4, 4,
        ]);
    }

    #[test]
    fn binary_masks_give_components_labels_their_ids_and_float_labels_an_error() {
        let image = |samples: Samples| RawImage {
            channels: 1,
            height: 2,
            width: 4,
            samples,
        };
        let path = std::path::Path::new("m.tif");
        let binary = image(Samples::U8(vec![255, 255, 0, 255, 0, 0, 0, 255]));
        let (mask, ids) = instances_of(&binary, path).unwrap();
        assert_eq!(mask, [1, 1, 0, 1, 0, 0, 0, 1]);
        assert_eq!(ids, [1, 1, 0, 2, 0, 0, 0, 2]);
        let labels = image(Samples::U16(vec![7, 7, 0, 9, 0, 0, 0, 9]));
        assert_eq!(
            instances_of(&labels, path).unwrap().1,
            [7, 7, 0, 9, 0, 0, 0, 9]
        );
        let float_binary = image(Samples::F32(vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]));
        assert_eq!(
            instances_of(&float_binary, path).unwrap().1,
            [1, 1, 0, 0, 0, 0, 0, 2]
        );
        let float_labels = image(Samples::F32(vec![1.0, 2.5, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0]));
        let err = instances_of(&float_labels, path).unwrap_err().to_string();
        assert!(
            err.contains("m.tif") && err.contains("float label image"),
            "{err}"
        );
    }

    #[test]
    fn otsu_splits_two_populations_between_them() {
        // Background around 0.1, objects around 0.7, with spread.
        let values: Vec<f32> = (0..1000)
            .map(|i| {
                if i % 4 == 0 {
                    0.7 + (i % 7) as f32 * 0.01
                } else {
                    0.1 + (i % 5) as f32 * 0.01
                }
            })
            .collect();
        let t = otsu_threshold(&values);
        assert!(
            t > 0.14 && t < 0.7,
            "every background value below, every object above: {t}"
        );
        assert_eq!(otsu_threshold(&[0.3; 4]), 0.3);
        assert!(otsu_threshold(&[]).is_nan());
        let image = crate::image::ImageF32 {
            channels: 1,
            height: 3,
            width: 5,
            data: vec![
                0.9, 0.9, 0.1, 0.1, 0.8, //
                0.1, 0.1, 0.1, 0.1, 0.8, //
                0.1, 0.1, 0.1, 0.1, 0.1,
            ],
        };
        let (foreground, ids) = otsu_instances(&image);
        assert_eq!(foreground.iter().filter(|&&f| f).count(), 4);
        assert_eq!(ids[..5], [1, 1, 0, 0, 2]);
    }

    #[test]
    fn touching_objects_are_the_ones_next_to_another() {
        #[rustfmt::skip]
        let ids = [
            1, 1, 0, 3, 0,
            0, 2, 0, 0, 0,
            0, 0, 0, 4, 4,
        ];
        // 1 and 2 touch diagonally; 3 and 4 are apart (a row between them).
        assert_eq!(touching_objects(&ids, 3, 5), [4, 2]);
    }
}
