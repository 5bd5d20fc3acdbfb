//! What a zoo network computes, typed by task: [`ModelOutput`].

use burn::tensor::{Tensor, TensorData};

/// A network's output ([`crate::Model::forward`]): a classifier's class logits or a
/// segmenter's per-pixel logits.
#[derive(Debug, Clone)]
pub enum ModelOutput {
    /// Class logits, `[batch, num_classes]`.
    Logits(Tensor<2>),
    /// Per-pixel logits, `[batch, out_channels, height, width]`.
    MaskLogits(Tensor<4>),
}

impl ModelOutput {
    /// The class logits of a classifier (`None` for mask logits).
    pub fn logits(self) -> Option<Tensor<2>> {
        match self {
            ModelOutput::Logits(logits) => Some(logits),
            ModelOutput::MaskLogits(_) => None,
        }
    }

    /// The mask logits of a segmenter (`None` for class logits).
    pub fn mask_logits(self) -> Option<Tensor<4>> {
        match self {
            ModelOutput::MaskLogits(logits) => Some(logits),
            ModelOutput::Logits(_) => None,
        }
    }

    /// The output's values and shape, on the host.
    pub fn into_data(self) -> TensorData {
        match self {
            ModelOutput::Logits(t) => t.into_data(),
            ModelOutput::MaskLogits(t) => t.into_data(),
        }
    }

    /// The sum of all values (reading it waits for the forward pass on lazy backends).
    pub fn sum(self) -> Tensor<1> {
        match self {
            ModelOutput::Logits(t) => t.sum(),
            ModelOutput::MaskLogits(t) => t.sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::device;

    #[test]
    fn outputs_are_read_by_task() {
        let device = device();
        let logits = ModelOutput::Logits(Tensor::<2>::ones([2, 3], &device));
        assert_eq!(logits.clone().into_data().shape().to_vec(), vec![2, 3]);
        assert_eq!(logits.clone().sum().into_scalar::<f32>(), 6.0);
        assert!(logits.clone().mask_logits().is_none());
        assert_eq!(logits.logits().unwrap().dims(), [2, 3]);
        let masks = ModelOutput::MaskLogits(Tensor::<4>::zeros([1, 1, 4, 4], &device));
        assert!(masks.clone().logits().is_none());
        assert_eq!(masks.mask_logits().unwrap().dims(), [1, 1, 4, 4]);
    }
}
