//! What the datasets yield.

use crate::image::{ImageF32, ImageU8};

/// One labelled image for classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassificationItem {
    /// The image, 8 bits, channels first.
    pub image: ImageU8,
    /// Class index in `0..num_classes`.
    pub label: usize,
}

/// One image with its segmentation mask.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentationItem {
    /// The image, floats in `[0, 1]`, channels first.
    pub image: ImageF32,
    /// Foreground mask, `height · width` values of 0 or 1.
    pub mask: Vec<u8>,
    /// Instance ids (0 = background), when the source has them.
    pub instances: Option<Vec<u32>>,
}

impl SegmentationItem {
    /// The objects' ids, row-major (0 = background): the item's instance ids, or, when it has
    /// none, the 8-connected components of its mask.
    pub fn instance_ids(&self) -> Vec<u32> {
        match &self.instances {
            Some(ids) => ids.clone(),
            None => {
                let on: Vec<bool> = self.mask.iter().map(|&m| m != 0).collect();
                crate::labels::connected_components(&on, self.image.height, self.image.width).0
            }
        }
    }

    /// Fraction of foreground pixels.
    pub fn foreground_fraction(&self) -> f64 {
        if self.mask.is_empty() {
            return 0.0;
        }
        self.mask.iter().filter(|&&m| m != 0).count() as f64 / self.mask.len() as f64
    }
}

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training set.
    Train,
    /// Test set.
    Test,
}
