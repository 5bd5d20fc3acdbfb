//! The non-finite loss guard: a training metric that stops the run, naming the epoch and step,
//! as soon as a batch's loss is NaN or infinite.

use std::sync::{Arc, Mutex};

use burn::tensor::{Tensor, TensorReadError};
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricMetadata, MetricName, SerializedEntry,
};
use burn::train::{ClassificationOutput, Interrupter};

use crate::segmentation::SegmentationOutput;

/// The loss of one batch, for the guard.
pub struct LossValue(Tensor<1>);

impl Adaptor<LossValue> for ClassificationOutput {
    fn adapt(&self) -> LossValue {
        LossValue(self.loss.clone())
    }
}

impl Adaptor<LossValue> for SegmentationOutput {
    fn adapt(&self) -> LossValue {
        LossValue(self.loss.clone())
    }
}

/// Where the loss first went non-finite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonFinite {
    /// Epoch (from 1).
    pub epoch: usize,
    /// Step within the epoch (from 1).
    pub step: usize,
}

/// Stops training through the [`Interrupter`] on the first non-finite training loss.
#[derive(Clone)]
pub struct NonFiniteGuard {
    interrupter: Interrupter,
    epoch: usize,
    step: usize,
    found: Arc<Mutex<Option<NonFinite>>>,
}

impl NonFiniteGuard {
    /// A guard for a run whose first epoch is `first_epoch`; `found` receives the position.
    pub fn new(
        interrupter: Interrupter,
        first_epoch: usize,
        found: Arc<Mutex<Option<NonFinite>>>,
    ) -> Self {
        Self {
            interrupter,
            epoch: first_epoch,
            step: 0,
            found,
        }
    }
}

impl Metric for NonFiniteGuard {
    type Input = LossValue;

    fn update(
        &mut self,
        input: &LossValue,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.step += 1;
        let loss: f64 = input.0.clone().try_into_scalar()?;
        if !loss.is_finite() {
            let position = NonFinite {
                epoch: self.epoch,
                step: self.step,
            };
            let mut found = self.found.lock().expect("guard lock");
            if found.is_none() {
                *found = Some(position);
                self.interrupter.stop(Some(&format!(
                    "non-finite loss ({loss}) at epoch {}, step {}",
                    position.epoch, position.step
                )));
            }
        }
        Ok(SerializedEntry {
            formatted: String::new(),
            serialized: String::new(),
        })
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(SerializedEntry {
            formatted: String::new(),
            serialized: String::new(),
        })
    }

    fn clear(&mut self) {
        // Called at the end of each epoch.
        self.epoch += 1;
        self.step = 0;
    }

    fn name(&self) -> MetricName {
        MetricName::new("Non-finite guard".to_string())
    }

    fn attributes(&self) -> MetricAttributes {
        MetricAttributes::None
    }
}
