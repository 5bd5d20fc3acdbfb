//! The segmentation metrics burn-train logs: Dice, IoU and pixel accuracy of the masks, and F1
//! at IoU 0.5 / the DSB2018 score of the objects (validation).

use std::sync::{Arc, OnceLock};

use burn::tensor::{Tensor, TensorReadError};
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes,
    NumericEntry, SerializedEntry,
};

use super::SegmentationOutput;
use crate::instances::{InstanceMatch, logit_objects, match_instances, summarise};

/// Predicted (logit > 0) and true masks, for the overlap metrics.
pub struct MaskPairInput {
    logits: Tensor<4>,
    masks: Tensor<4>,
}

impl Adaptor<MaskPairInput> for SegmentationOutput {
    fn adapt(&self) -> MaskPairInput {
        MaskPairInput {
            logits: self.logits.clone(),
            masks: self.masks.clone(),
        }
    }
}

/// Overlap counts of a batch: true positives, false positives, false negatives, true negatives.
pub fn confusion(logits: Tensor<4>, masks: Tensor<4>) -> Result<[f64; 4], TensorReadError> {
    let predicted = logits.greater_elem(0.0).float();
    let tp: f64 = (predicted.clone() * masks.clone())
        .sum()
        .try_into_scalar()?;
    let pred_pos: f64 = predicted.sum().try_into_scalar()?;
    let true_pos: f64 = masks.clone().sum().try_into_scalar()?;
    let total = masks.shape().num_elements() as f64;
    let (fp, fneg) = (pred_pos - tp, true_pos - tp);
    Ok([tp, fp, fneg, total - tp - fp - fneg])
}

/// Which overlap score a [`MaskMetric`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskScore {
    /// `2·TP / (2·TP + FP + FN)` — the F1 score of the foreground.
    Dice,
    /// `TP / (TP + FP + FN)` — intersection over union (Jaccard).
    IoU,
    /// `(TP + TN) / all pixels`.
    PixelAccuracy,
}

impl MaskScore {
    /// The score from confusion counts, in percent; an empty prediction of an empty mask
    /// scores 100.
    pub fn from_counts(self, [tp, fp, fneg, tn]: [f64; 4]) -> f64 {
        let ratio = |num: f64, den: f64| if den == 0.0 { 1.0 } else { num / den };
        100.0
            * match self {
                MaskScore::Dice => ratio(2.0 * tp, 2.0 * tp + fp + fneg),
                MaskScore::IoU => ratio(tp, tp + fp + fneg),
                MaskScore::PixelAccuracy => ratio(tp + tn, tp + fp + fneg + tn),
            }
    }

    fn name(self) -> &'static str {
        match self {
            MaskScore::Dice => "Dice",
            MaskScore::IoU => "IoU",
            MaskScore::PixelAccuracy => "Pixel Accuracy",
        }
    }
}

/// Attributes of a score in percent, higher better.
fn percent_attributes() -> MetricAttributes {
    NumericAttributes {
        unit: Some("%".to_string()),
        higher_is_better: true,
    }
    .into()
}

/// The logged entry of a percent score: the epoch's so far and the last batch's.
fn percent_entry(epoch: f64, batch: f64, serialized: NumericEntry) -> SerializedEntry {
    SerializedEntry::new(
        format!("epoch {epoch:.2} % - batch {batch:.2} %"),
        serialized.serialize(),
    )
}

/// Dice, IoU or pixel accuracy of the thresholded prediction (logit > 0) over the whole epoch:
/// TP, FP, FN and TN are summed over every batch and the score is computed once from the
/// sums. (The mean of per-batch scores would weigh a batch with little foreground as much as
/// one with a lot, and differ from the epoch's score.)
#[derive(Clone)]
pub struct MaskMetric {
    score: MaskScore,
    name: MetricName,
    /// Counts of the last batch.
    batch: PixelCounts,
    /// Counts of the epoch so far.
    epoch: PixelCounts,
    /// Images of the last batch and of the epoch so far.
    images: [usize; 2],
}

impl MaskMetric {
    /// A metric reporting `score`.
    pub fn new(score: MaskScore) -> Self {
        Self {
            score,
            name: MetricName::new(score.name().to_string()),
            batch: [0.0; 4],
            epoch: [0.0; 4],
            images: [0, 0],
        }
    }

    /// The last batch's score.
    fn current_entry(&self) -> NumericEntry {
        NumericEntry::Aggregated {
            aggregated_value: self.score.from_counts(self.batch),
            count: self.images[0],
        }
    }

    fn entry(&self, serialized: NumericEntry) -> SerializedEntry {
        percent_entry(
            self.score.from_counts(self.epoch),
            self.score.from_counts(self.batch),
            serialized,
        )
    }
}

impl Metric for MaskMetric {
    type Input = MaskPairInput;

    fn update(
        &mut self,
        input: &MaskPairInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.batch = confusion(input.logits.clone(), input.masks.clone())?;
        for (sum, count) in self.epoch.iter_mut().zip(self.batch) {
            *sum += count;
        }
        self.images = [
            input.masks.dims()[0],
            self.images[1] + input.masks.dims()[0],
        ];
        Ok(self.entry(self.current_entry()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.entry(self.final_value()))
    }

    fn clear(&mut self) {
        self.batch = [0.0; 4];
        self.epoch = [0.0; 4];
        self.images = [0, 0];
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        percent_attributes()
    }
}

impl Numeric for MaskMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.current_entry())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Aggregated {
            aggregated_value: self.score.from_counts(self.epoch),
            count: self.images[1],
        })
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.score.from_counts(self.epoch))
    }
}

/// Predicted logits and true object ids, for the instance metrics.
pub struct InstancePairInput {
    logits: Tensor<4>,
    instances: Option<Arc<Vec<u32>>>,
    matches: Arc<OnceLock<Vec<InstanceMatch>>>,
}

impl InstancePairInput {
    /// Each image's match of its predicted objects (the 8-connected components of logit > 0)
    /// to its true ones; empty without true ids. Read from the device and computed once for
    /// all the metrics of a batch.
    fn matches(&self) -> Result<&[InstanceMatch], TensorReadError> {
        if let Some(matches) = self.matches.get() {
            return Ok(matches);
        }
        let mut matches = Vec::new();
        if let Some(truth) = &self.instances {
            let [n, _, h, w] = self.logits.dims();
            let logits = self.logits.clone().try_into_vec_as::<f32>()?;
            for (image, truth) in logits.chunks(h * w).zip(truth.chunks(h * w)).take(n) {
                let (predicted, _) = logit_objects(image, h, w);
                matches.push(match_instances(truth, &predicted));
            }
        }
        Ok(self.matches.get_or_init(|| matches))
    }
}

impl Adaptor<InstancePairInput> for SegmentationOutput {
    fn adapt(&self) -> InstancePairInput {
        InstancePairInput {
            logits: self.logits.clone(),
            instances: self.instances.clone(),
            matches: self.instance_matches.clone(),
        }
    }
}

/// Which instance score an [`InstanceMetric`] reports (see [`crate::instances`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceScore {
    /// F1 of the objects matched at IoU 0.5, from the counts pooled over the epoch.
    F1IoU50,
    /// The 2018 Data Science Bowl's score, the mean over the epoch's images.
    Dsb2018,
}

impl InstanceScore {
    fn name(self) -> &'static str {
        match self {
            InstanceScore::F1IoU50 => "F1 IoU50",
            InstanceScore::Dsb2018 => "DSB2018",
        }
    }
}

/// F1 at IoU 0.5 or the DSB2018 score of the epoch: objects are the 8-connected components
/// of each image's thresholded prediction (logit > 0), matched to the batch's true object ids
/// ([`SegmentationBatch::instances`]; batches without them are skipped). Columns
/// `valid_f1_iou50` and `valid_dsb2018` of `metrics.csv`.
#[derive(Clone)]
pub struct InstanceMetric {
    score: InstanceScore,
    name: MetricName,
    /// Matches of the last batch's images and of the epoch's.
    batch: Vec<InstanceMatch>,
    epoch: Vec<InstanceMatch>,
}

impl InstanceMetric {
    /// A metric reporting `score`.
    pub fn new(score: InstanceScore) -> Self {
        Self {
            score,
            name: MetricName::new(score.name().to_string()),
            batch: Vec::new(),
            epoch: Vec::new(),
        }
    }

    /// The score of `matches` in percent (NaN when there are none).
    fn of(&self, matches: &[InstanceMatch]) -> f64 {
        let [f1, dsb] = summarise(matches);
        100.0
            * match self.score {
                InstanceScore::F1IoU50 => f1,
                InstanceScore::Dsb2018 => dsb,
            }
    }

    /// The last batch's score.
    fn current_entry(&self) -> NumericEntry {
        NumericEntry::Aggregated {
            aggregated_value: self.of(&self.batch),
            count: self.batch.len(),
        }
    }

    fn entry(&self, serialized: NumericEntry) -> SerializedEntry {
        percent_entry(self.of(&self.epoch), self.of(&self.batch), serialized)
    }
}

impl Metric for InstanceMetric {
    type Input = InstancePairInput;

    fn update(
        &mut self,
        input: &InstancePairInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.batch = input.matches()?.to_vec();
        self.epoch.extend_from_slice(&self.batch);
        Ok(self.entry(self.current_entry()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.entry(self.final_value()))
    }

    fn clear(&mut self) {
        self.batch.clear();
        self.epoch.clear();
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        percent_attributes()
    }
}

impl Numeric for InstanceMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.current_entry())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Aggregated {
            aggregated_value: self.of(&self.epoch),
            count: self.epoch.len(),
        })
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.of(&self.epoch))
    }
}

/// Pixel counts `[TP, FP, FN, TN]` of one image (prediction: logit > 0).
pub type PixelCounts = [f64; 4];

/// The index in [`PixelCounts`] of a pixel predicted `predicted` whose truth is `truth`.
pub fn pixel_class(predicted: bool, truth: bool) -> usize {
    match (predicted, truth) {
        (true, true) => 0,
        (true, false) => 1,
        (false, true) => 2,
        (false, false) => 3,
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(values: [[f32; 4]; 1], device: &Device) -> Tensor<4> {
        Tensor::<2>::from_floats(values, device).reshape([1, 1, 2, 2])
    }

    #[test]
    fn mask_scores_pool_the_counts_of_the_epoch_not_the_batch_means() {
        let device = Device::flex();
        let metadata = || MetricMetadata {
            progress: burn::data::dataloader::Progress::new(1, 1, None),
            iteration: Some(0),
            lr: None,
        };
        let batch = |logits: [[f32; 4]; 1], masks: [[f32; 4]; 1]| MaskPairInput {
            logits: t(logits, &device),
            masks: t(masks, &device),
        };
        // Batch 1: three foreground pixels, all found (Dice 100 %). Batch 2: one foreground
        // pixel, missed, and one false positive (Dice 0 %). Mean of batches: 50 %; pooled:
        // TP 3, FP 1, FN 1 → Dice 6/8 = 75 %, IoU 3/5 = 60 %.
        let first = batch([[5.0, 5.0, 5.0, -5.0]], [[1.0, 1.0, 1.0, 0.0]]);
        let second = batch([[-5.0, 5.0, -5.0, -5.0]], [[1.0, 0.0, 0.0, 0.0]]);
        for (score, pooled) in [(MaskScore::Dice, 75.0), (MaskScore::IoU, 60.0)] {
            let mut metric = MaskMetric::new(score);
            metric.update(&first, &metadata()).unwrap();
            metric.update(&second, &metadata()).unwrap();
            let NumericEntry::Final(value) = metric.final_value() else {
                panic!("final entry")
            };
            assert!((value - pooled).abs() < 1e-9, "{score:?}: {value}");
            assert_eq!(metric.running_value().unwrap().current(), value);
            metric.clear();
            metric.update(&second, &metadata()).unwrap();
            assert_eq!(
                metric.running_value().unwrap().current(),
                0.0,
                "cleared per epoch"
            );
        }
    }

    #[test]
    fn instance_scores_match_components_to_the_true_objects_over_the_epoch() {
        let device = Device::flex();
        let metadata = || MetricMetadata {
            progress: burn::data::dataloader::Progress::new(1, 1, None),
            iteration: Some(0),
            lr: None,
        };
        // Two 1×7 images. Image 1: true objects 1, 2 (touching-ish) and 3; the prediction
        // merges 1 and 2 into one component (IoU 2/5 with each) and misses 3: TP 0 of 3 true,
        // 1 predicted, DSB 0. Image 2: one object, found exactly: TP 1 of 1, DSB 1.
        // Pooled F1 = 2·1 / (4 + 2) = 33.3 %; DSB2018 = mean(0, 1) = 50 %.
        let logits = Tensor::<4>::from_data(
            TensorData::new(
                vec![
                    5.0f32, 5.0, 5.0, 5.0, 5.0, -5.0, -5.0, //
                    -5.0, 5.0, 5.0, -5.0, -5.0, -5.0, -5.0,
                ],
                [2, 1, 1, 7],
            ),
            &device,
        );
        let truth = vec![1u32, 1, 0, 2, 2, 0, 3, 0, 7, 7, 0, 0, 0, 0];
        let with_ids = InstancePairInput {
            logits: logits.clone(),
            instances: Some(Arc::new(truth)),
            matches: Arc::default(),
        };
        let without_ids = InstancePairInput {
            logits,
            instances: None,
            matches: Arc::default(),
        };
        for (score, expected) in [
            (InstanceScore::F1IoU50, 100.0 / 3.0),
            (InstanceScore::Dsb2018, 50.0),
        ] {
            let mut metric = InstanceMetric::new(score);
            metric.update(&with_ids, &metadata()).unwrap();
            // A batch without object ids adds nothing.
            metric.update(&without_ids, &metadata()).unwrap();
            let NumericEntry::Final(value) = metric.final_value() else {
                panic!("final entry")
            };
            assert!((value - expected).abs() < 1e-9, "{score:?}: {value}");
            metric.clear();
            assert!(metric.running_value().unwrap().current().is_nan());
        }
    }
}
