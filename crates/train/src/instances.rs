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

/// Matches the objects of two label images of the same size (0 = background, any other
/// value an object id).
pub fn match_instances(truth: &[u32], predicted: &[u32]) -> InstanceMatch {
    assert_eq!(
        truth.len(),
        predicted.len(),
        "label images of the same size"
    );
    let mut truth_area: HashMap<u32, usize> = HashMap::new();
    let mut predicted_area: HashMap<u32, usize> = HashMap::new();
    let mut overlap: HashMap<(u32, u32), usize> = HashMap::new();
    for (&t, &p) in truth.iter().zip(predicted) {
        if t != 0 {
            *truth_area.entry(t).or_default() += 1;
        }
        if p != 0 {
            *predicted_area.entry(p).or_default() += 1;
        }
        if t != 0 && p != 0 {
            *overlap.entry((t, p)).or_default() += 1;
        }
    }
    let mut true_positives = [0usize; 10];
    for (&(t, p), &inter) in &overlap {
        let union = truth_area[&t] + predicted_area[&p] - inter;
        let iou = inter as f64 / union as f64;
        // Above 0.5 a pair is unique on both sides: no assignment needed.
        for (i, &threshold) in IOU_THRESHOLDS.iter().enumerate() {
            if iou > threshold {
                true_positives[i] += 1;
            }
        }
    }
    InstanceMatch {
        truth: truth_area.len(),
        predicted: predicted_area.len(),
        true_positives,
    }
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
}
