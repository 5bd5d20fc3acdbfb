//! Typed names of the metrics a run logs and an evaluation reports: [`MetricKey`] is the key in
//! `metrics.csv`, `evaluation.json` and [`crate::Evaluation`], [`Metric`] a key of one split.
//! Code that reads results names them with these instead of strings, so a typo is a compile
//! error rather than a column of NaN.

use std::fmt;

/// Which split a logged value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training split (burn-train's running average over the epoch, train mode).
    Train,
    /// The validation split (evaluated at the end of each epoch, eval mode).
    Valid,
}

impl Split {
    /// `train` or `valid`: the prefix of the split's columns in `metrics.csv`.
    pub const fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
        }
    }
}

/// A metric's key (the column of `metrics.csv` without its split prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKey {
    /// The training loss (cross-entropy; BCE + Dice for U-Net).
    Loss,
    /// Top-1 accuracy, %.
    Accuracy,
    /// Top-5 accuracy, % (classifiers of more than five classes).
    Top5Accuracy,
    /// The mean over the classes present of each class's accuracy, % (evaluation only).
    MeanClassAccuracy,
    /// The learning rate of the epoch's last step (training split).
    LearningRate,
    /// Pooled Dice, %.
    Dice,
    /// Pooled IoU, %.
    IoU,
    /// Pooled pixel accuracy, %.
    PixelAccuracy,
    /// F1 of the objects matched at IoU 0.5, %.
    F1IoU50,
    /// The 2018 Data Science Bowl score, %.
    Dsb2018,
}

impl MetricKey {
    /// The key as written in `metrics.csv` and `evaluation.json`.
    pub const fn key(self) -> &'static str {
        match self {
            MetricKey::Loss => "loss",
            MetricKey::Accuracy => "accuracy",
            MetricKey::Top5Accuracy => "top-5_accuracy",
            MetricKey::MeanClassAccuracy => "mean_class_accuracy",
            MetricKey::LearningRate => "learning_rate",
            MetricKey::Dice => "dice",
            MetricKey::IoU => "iou",
            MetricKey::PixelAccuracy => "pixel_accuracy",
            MetricKey::F1IoU50 => "f1_iou50",
            MetricKey::Dsb2018 => "dsb2018",
        }
    }

    /// The key of the same figure for the Otsu-threshold baseline in a U-Net's evaluation
    /// (`otsu_dice`…).
    pub fn otsu(self) -> String {
        format!("otsu_{}", self.key())
    }
}

impl fmt::Display for MetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A metric of one split, e.g. [`Metric::VALID_ACCURACY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Metric {
    /// The split.
    pub split: Split,
    /// The metric.
    pub key: MetricKey,
}

impl Metric {
    /// The training loss.
    pub const TRAIN_LOSS: Metric = Metric::train(MetricKey::Loss);
    /// The training accuracy (train mode, averaged over the epoch).
    pub const TRAIN_ACCURACY: Metric = Metric::train(MetricKey::Accuracy);
    /// The validation loss.
    pub const VALID_LOSS: Metric = Metric::valid(MetricKey::Loss);
    /// The validation accuracy.
    pub const VALID_ACCURACY: Metric = Metric::valid(MetricKey::Accuracy);
    /// The validation Dice.
    pub const VALID_DICE: Metric = Metric::valid(MetricKey::Dice);
    /// The validation DSB2018 score.
    pub const VALID_DSB2018: Metric = Metric::valid(MetricKey::Dsb2018);

    /// `key` of the training split.
    pub const fn train(key: MetricKey) -> Self {
        Metric {
            split: Split::Train,
            key,
        }
    }

    /// `key` of the validation split.
    pub const fn valid(key: MetricKey) -> Self {
        Metric {
            split: Split::Valid,
            key,
        }
    }

    /// The column of `metrics.csv`: `train_loss`, `valid_top-5_accuracy`…
    pub fn column(self) -> String {
        crate::history::column(self.split.name(), self.key.key())
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.column())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::metric_key;

    #[test]
    fn keys_are_the_ones_the_history_derives_from_burn_train_names() {
        assert_eq!(metric_key("Loss"), MetricKey::Loss.key());
        assert_eq!(metric_key("Accuracy"), MetricKey::Accuracy.key());
        assert_eq!(
            metric_key("Top-K Accuracy @ TopK(5)"),
            MetricKey::Top5Accuracy.key()
        );
        assert_eq!(metric_key("Learning Rate"), MetricKey::LearningRate.key());
        assert_eq!(metric_key("Dice"), MetricKey::Dice.key());
        assert_eq!(metric_key("IoU"), MetricKey::IoU.key());
        assert_eq!(metric_key("F1 IoU50"), MetricKey::F1IoU50.key());
        assert_eq!(metric_key("DSB2018"), MetricKey::Dsb2018.key());
        assert_eq!(metric_key("Pixel Accuracy"), MetricKey::PixelAccuracy.key());
    }

    #[test]
    fn columns_join_split_and_key() {
        assert_eq!(Metric::VALID_ACCURACY.column(), "valid_accuracy");
        assert_eq!(Metric::TRAIN_LOSS.to_string(), "train_loss");
        assert_eq!(MetricKey::F1IoU50.otsu(), "otsu_f1_iou50");
    }
}
