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
}
