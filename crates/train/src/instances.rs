//! Instance metrics of segmentation: objects are the connected components of a mask (or the
//! ids of an instance-label image), matched between truth and prediction by IoU.
//!
//! - **F1 at IoU 0.5**: a predicted object whose IoU with a true object exceeds 0.5 is a true
//!   positive (at most one per true object above 0.5); `2 TP / (2 TP + FP + FN)` over the set.
//! - **DSB2018 score** (the 2018 Data Science Bowl's metric): for each image, the mean over
//!   IoU thresholds 0.50, 0.55, …, 0.95 of `TP / (TP + FP + FN)`; then the mean over images.
//!   An image with no objects in truth or prediction scores 1.

use std::collections::HashMap;

pub use skipnet_data::labels::connected_components;

/// The objects of a U-Net output `[height × width]` of logits: the 8-connected components of
/// `logit > 0` (ids 1..=count, 0 = background), and their count.
pub fn logit_objects(logits: &[f32], height: usize, width: usize) -> (Vec<u32>, usize) {
    let foreground: Vec<bool> = logits.iter().map(|&l| l > 0.0).collect();
    connected_components(&foreground, height, width)
}

/// The IoU thresholds of the DSB2018 score: 0.50, 0.55, …, 0.95.
pub const IOU_THRESHOLDS: [f64; 10] = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];

/// The matching of one image's objects: how many there are on each side and the true
/// positives at each of [`IOU_THRESHOLDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InstanceMatch {
    /// Objects in the truth.
    pub truth: usize,
    /// Objects in the prediction.
    pub predicted: usize,
    /// Matched pairs with IoU above each threshold.
    pub true_positives: [usize; 10],
}

impl InstanceMatch {
    /// `TP / (TP + FP + FN)` at threshold index `t`.
    pub fn precision_at(&self, t: usize) -> f64 {
        let tp = self.true_positives[t];
        let denominator = self.truth + self.predicted - tp;
        if denominator == 0 {
            1.0
        } else {
            tp as f64 / denominator as f64
        }
    }

    /// This image's DSB2018 score: the mean of [`Self::precision_at`] over the thresholds.
    pub fn dsb2018(&self) -> f64 {
        (0..IOU_THRESHOLDS.len())
            .map(|t| self.precision_at(t))
            .sum::<f64>()
            / IOU_THRESHOLDS.len() as f64
    }
}

/// Areas of the objects of two label images and the areas of their pairwise overlaps.
struct Overlaps {
    truth_area: HashMap<u32, usize>,
    predicted_area: HashMap<u32, usize>,
    overlap: HashMap<(u32, u32), usize>,
}

impl Overlaps {
    fn of(truth: &[u32], predicted: &[u32]) -> Self {
        assert_eq!(
            truth.len(),
            predicted.len(),
            "label images of the same size"
        );
        let mut o = Overlaps {
            truth_area: HashMap::new(),
            predicted_area: HashMap::new(),
            overlap: HashMap::new(),
        };
        for (&t, &p) in truth.iter().zip(predicted) {
            if t != 0 {
                *o.truth_area.entry(t).or_default() += 1;
            }
            if p != 0 {
                *o.predicted_area.entry(p).or_default() += 1;
            }
            if t != 0 && p != 0 {
                *o.overlap.entry((t, p)).or_default() += 1;
            }
        }
        o
    }

    /// IoU of true object `t` and predicted object `p` that overlap by `inter` pixels.
    fn iou(&self, t: u32, p: u32, inter: usize) -> f64 {
        inter as f64 / (self.truth_area[&t] + self.predicted_area[&p] - inter) as f64
    }
}

/// Matches the objects of two label images of the same size (0 = background, any other
/// value an object id).
pub fn match_instances(truth: &[u32], predicted: &[u32]) -> InstanceMatch {
    let o = Overlaps::of(truth, predicted);
    let mut true_positives = [0usize; 10];
    for (&(t, p), &inter) in &o.overlap {
        let iou = o.iou(t, p, inter);
        // Above 0.5 a pair is unique on both sides: no assignment needed.
        for (i, &threshold) in IOU_THRESHOLDS.iter().enumerate() {
            if iou > threshold {
                true_positives[i] += 1;
            }
        }
    }
    InstanceMatch {
        truth: o.truth_area.len(),
        predicted: o.predicted_area.len(),
        true_positives,
    }
}

/// What a predicted object is, judged against the true objects (for [`object_overlay`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectFate {
    /// IoU above 0.5 with one true object.
    Matched,
    /// Covers most (> 50 %) of two or more true objects: touching objects merged.
    Merged,
    /// One of two or more predicted objects that each cover a fifth or more of the same true
    /// object: an object split.
    Split,
    /// None of the above (a false positive, or a poor outline).
    Other,
}

/// The fate of each predicted object (by id) against `truth` (label images of one size).
pub fn object_fates(truth: &[u32], predicted: &[u32]) -> HashMap<u32, ObjectFate> {
    let o = Overlaps::of(truth, predicted);
    // True objects cut into several predicted pieces of a fifth or more each.
    let mut pieces: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&(t, p), &inter) in &o.overlap {
        if inter * 5 >= o.truth_area[&t] {
            pieces.entry(t).or_default().push(p);
        }
    }
    let split: std::collections::HashSet<u32> = pieces
        .values()
        .filter(|ps| ps.len() >= 2)
        .flatten()
        .copied()
        .collect();
    o.predicted_area
        .keys()
        .map(|&p| {
            let mine = o.overlap.iter().filter(|((_, q), _)| *q == p);
            let mostly_covered = mine
                .clone()
                .filter(|((t, _), inter)| **inter * 2 > o.truth_area[t])
                .count();
            let matched = mine
                .clone()
                .any(|(&(t, q), &inter)| o.iou(t, q, inter) > 0.5);
            let fate = if mostly_covered >= 2 {
                ObjectFate::Merged
            } else if split.contains(&p) {
                ObjectFate::Split
            } else if matched {
                ObjectFate::Matched
            } else {
                ObjectFate::Other
            };
            (p, fate)
        })
        .collect()
}

/// An RGB picture of `image` (grey, channels averaged) with each predicted object's outline
/// coloured by its [`ObjectFate`] — matched green, merged red, split orange, other blue — and
/// the true objects that no predicted object matches outlined yellow.
pub fn object_overlay(
    image: &skipnet_data::image::ImageF32,
    truth: &[u32],
    predicted: &[u32],
) -> skipnet_data::image::ImageU8 {
    let (h, w) = (image.height, image.width);
    let pixels = h * w;
    let fates = object_fates(truth, predicted);
    let grey: Vec<u8> = (0..pixels)
        .map(|p| {
            let v = (0..image.channels)
                .map(|c| image.data[c * pixels + p])
                .sum::<f32>()
                / image.channels.max(1) as f32;
            (v.clamp(0.0, 1.0) * 200.0) as u8
        })
        .collect();
    let mut rgb = [grey.clone(), grey.clone(), grey];
    let edge = |labels: &[u32], p: usize| {
        let (y, x) = (p / w, p % w);
        let id = labels[p];
        id != 0
            && [(0isize, 1isize), (0, -1), (1, 0), (-1, 0)]
                .iter()
                .any(|&(dy, dx)| {
                    let (ny, nx) = (y as isize + dy, x as isize + dx);
                    ny < 0
                        || nx < 0
                        || ny >= h as isize
                        || nx >= w as isize
                        || labels[ny as usize * w + nx as usize] != id
                })
    };
    // True objects matched by no prediction (IoU ≤ 0.5 with every one).
    let matched_truth: std::collections::HashSet<u32> = match_pairs(truth, predicted)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let mut paint = |p: usize, colour: [u8; 3]| {
        for c in 0..3 {
            rgb[c][p] = colour[c];
        }
    };
    for p in 0..pixels {
        if edge(truth, p) && !matched_truth.contains(&truth[p]) {
            paint(p, [255, 220, 0]);
        }
    }
    for p in 0..pixels {
        if edge(predicted, p) {
            let colour = match fates.get(&predicted[p]) {
                Some(ObjectFate::Matched) => [40, 210, 60],
                Some(ObjectFate::Merged) => [235, 30, 30],
                Some(ObjectFate::Split) => [255, 140, 0],
                _ => [60, 120, 255],
            };
            paint(p, colour);
        }
    }
    skipnet_data::image::ImageU8 {
        channels: 3,
        height: h,
        width: w,
        data: rgb.concat(),
    }
}

/// The `(true id, predicted id)` pairs with IoU above 0.5.
fn match_pairs(truth: &[u32], predicted: &[u32]) -> Vec<(u32, u32)> {
    let o = Overlaps::of(truth, predicted);
    o.overlap
        .iter()
        .filter(|&(&(t, p), &inter)| o.iou(t, p, inter) > 0.5)
        .map(|(&pair, _)| pair)
        .collect()
}

/// The set's instance metrics: F1 at IoU 0.5 (pooled counts) and the DSB2018 score (mean
/// over images); NaN for an empty set.
pub fn summarise(matches: &[InstanceMatch]) -> [f64; 2] {
    if matches.is_empty() {
        return [f64::NAN; 2];
    }
    let (tp, truth, predicted) = matches.iter().fold((0, 0, 0), |(tp, t, p), m| {
        (tp + m.true_positives[0], t + m.truth, p + m.predicted)
    });
    let f1 = if truth + predicted == 0 {
        1.0
    } else {
        2.0 * tp as f64 / (truth + predicted) as f64
    };
    let dsb = matches.iter().map(InstanceMatch::dsb2018).sum::<f64>() / matches.len() as f64;
    [f1, dsb]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A label image of `h × w` with the rectangles `(id, top, left, height, width)`.
    fn labels(h: usize, w: usize, boxes: &[(u32, usize, usize, usize, usize)]) -> Vec<u32> {
        let mut out = vec![0; h * w];
        for &(id, top, left, bh, bw) in boxes {
            for y in top..top + bh {
                for x in left..left + bw {
                    out[y * w + x] = id;
                }
            }
        }
        out
    }

    #[test]
    fn the_dsb2018_score_of_hand_made_label_images() {
        let (h, w) = (20, 30);
        let truth = labels(h, w, &[(1, 2, 2, 5, 5), (2, 2, 8, 5, 5), (3, 12, 2, 6, 6)]);
        // Perfect (other ids, same objects): 1.
        let perfect = labels(h, w, &[(7, 2, 2, 5, 5), (9, 2, 8, 5, 5), (4, 12, 2, 6, 6)]);
        let m = match_instances(&truth, &perfect);
        assert_eq!((m.truth, m.predicted, m.true_positives), (3, 3, [3; 10]));
        assert_eq!(m.dsb2018(), 1.0);
        assert_eq!(summarise(&[m]), [1.0, 1.0]);
        // The two touching-distance objects merged into one: its IoU with each is below 0.5,
        // so 1 TP (the third), 1 FP (the merged object), 2 FN at every threshold: 1/4.
        let merged = labels(h, w, &[(1, 2, 2, 5, 11), (2, 12, 2, 6, 6)]);
        let m = match_instances(&truth, &merged);
        assert_eq!((m.truth, m.predicted, m.true_positives), (3, 2, [1; 10]));
        assert_eq!(m.dsb2018(), 0.25);
        let [f1, _] = summarise(&[m]);
        assert!((f1 - 2.0 / 5.0).abs() < 1e-12);
        // One object missed: 2 TP, 0 FP, 1 FN: 2/3.
        let missed = labels(h, w, &[(1, 2, 2, 5, 5), (2, 2, 8, 5, 5)]);
        let m = match_instances(&truth, &missed);
        assert!((m.dsb2018() - 2.0 / 3.0).abs() < 1e-12);
        // A prediction shifted by one pixel: IoU 20/30 ≈ 0.667 for a 5×5 box → matched at
        // 0.50–0.65, not above.
        let shifted = labels(h, w, &[(1, 2, 3, 5, 5)]);
        let m = match_instances(&labels(h, w, &[(1, 2, 2, 5, 5)]), &shifted);
        assert_eq!(m.true_positives, [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
        assert!((m.dsb2018() - 0.4).abs() < 1e-12);
        // Nothing on either side counts as perfect; an empty set is NaN.
        assert_eq!(match_instances(&[0; 4], &[0; 4]).dsb2018(), 1.0);
        assert!(summarise(&[])[0].is_nan());
    }

    #[test]
    fn merged_and_split_objects_are_told_apart() {
        let (h, w) = (20, 30);
        let truth = labels(h, w, &[(1, 2, 2, 5, 5), (2, 2, 8, 5, 5), (3, 12, 2, 6, 12)]);
        // Object 1 and 2 merged into 7; object 3 split into 8 and 9; 4 a false positive.
        let predicted = labels(
            h,
            w,
            &[
                (7, 2, 2, 5, 11),
                (8, 12, 2, 6, 6),
                (9, 12, 8, 6, 6),
                (4, 0, 25, 3, 3),
            ],
        );
        let fates = object_fates(&truth, &predicted);
        assert_eq!(fates[&7], ObjectFate::Merged);
        assert_eq!(
            (fates[&8], fates[&9]),
            (ObjectFate::Split, ObjectFate::Split)
        );
        assert_eq!(fates[&4], ObjectFate::Other);
        let perfect = object_fates(&truth, &truth);
        assert!(perfect.values().all(|f| *f == ObjectFate::Matched));
        let image = skipnet_data::image::ImageF32 {
            channels: 1,
            height: h,
            width: w,
            data: vec![0.5; h * w],
        };
        let overlay = object_overlay(&image, &truth, &predicted);
        assert_eq!(overlay.shape(), [3, h, w]);
        // The merged object's outline is red at its corner (2, 2).
        let p = 2 * w + 2;
        let pixels = h * w;
        assert_eq!(
            [
                overlay.data[p],
                overlay.data[pixels + p],
                overlay.data[2 * pixels + p]
            ],
            [235, 30, 30]
        );
    }
}
