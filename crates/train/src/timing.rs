//! Timing of training steps and inference, for benchmarks and experiments. The training step is
//! the learners' own: [`ClassificationModel::forward_step`] / [`SegmentationModel::forward_step`]
//! (forward + loss), then backward and an SGD update.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig, momentum::MomentumConfig};
use burn::tensor::{Device, Distribution, Int, Tensor};
use skipnet_data::batch::{ClassificationBatch, SegmentationBatch};
use skipnet_models::Model;

use crate::classification::ClassificationModel;
use crate::error::Result;
use crate::segmentation::SegmentationModel;

/// The median (the mean of the middle two for an even count; NaN for none).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n.is_multiple_of(2) {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    }
}

/// Times `step` (which must block until its result is computed): `warmup` untimed runs, then
/// the median of `iters`.
fn time(warmup: usize, iters: usize, mut step: impl FnMut() -> Result<()>) -> Result<f64> {
    for _ in 0..warmup {
        step()?;
    }
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters.max(1) {
        let started = Instant::now();
        step()?;
        times.push(started.elapsed().as_secs_f64());
    }
    Ok(median(times))
}

/// Eval-mode forward throughput of `model` (built on a plain device): median seconds per
/// forward pass of a random batch of `batch` inputs of shape `input`.
pub fn time_inference(
    model: &Model,
    device: &Device,
    batch: usize,
    input: [usize; 3],
    warmup: usize,
    iters: usize,
) -> Result<f64> {
    let [c, h, w] = input;
    let x = Tensor::<4>::random([batch, c, h, w], Distribution::Default, device);
    time(warmup, iters, || {
        let out: f32 = model.forward(x.clone()).sum().into_scalar();
        std::hint::black_box(out);
        Ok(())
    })
}

/// Median seconds of a training step and of its three phases.
#[derive(Debug, Clone, Copy)]
pub struct StepTiming {
    /// The whole step.
    pub seconds: f64,
    /// Forward pass and loss (waited for).
    pub forward: f64,
    /// Backward pass.
    pub backward: f64,
    /// Optimiser update.
    pub update: f64,
}

/// A learner model of either task, timed the same way: forward + loss on its kind of batch.
trait TimedStep: Module + Sized {
    type Batch: Clone;
    fn forward_loss(&self, batch: Self::Batch) -> Tensor<1>;
}

impl TimedStep for ClassificationModel {
    type Batch = ClassificationBatch;
    fn forward_loss(&self, batch: ClassificationBatch) -> Tensor<1> {
        self.forward_step(batch).loss
    }
}

impl TimedStep for SegmentationModel {
    type Batch = SegmentationBatch;
    fn forward_loss(&self, batch: SegmentationBatch) -> Tensor<1> {
        self.forward_step(batch).loss
    }
}

/// Training-step throughput on a random batch: the learner's forward + loss (cross-entropy, or
/// BCE + Dice for U-Net), backward, SGD (momentum 0.9) update; `device` must be an autodiff
/// device.
pub fn time_train_step(
    model: Model,
    device: &Device,
    batch: usize,
    input: [usize; 3],
    warmup: usize,
    iters: usize,
) -> Result<StepTiming> {
    let [c, h, w] = input;
    let images = Tensor::<4>::random([batch, c, h, w], Distribution::Default, device);
    // Targets within the classifier's classes, read off its last layer `[in, out]` (no forward
    // pass; a U-Net's batch has no targets).
    let classes = model.classifier().map_or(1, |fc| fc.weight.dims()[1]);
    let targets =
        Tensor::<1, Int>::random([batch], Distribution::Uniform(0.0, classes as f64), device);
    let masks = Tensor::<4>::random([batch, 1, h, w], Distribution::Bernoulli(0.3), device);
    match model {
        Model::UNet(unet) => {
            let batch = SegmentationBatch {
                images,
                masks,
                weights: None,
                instances: None,
            };
            time_steps(SegmentationModel::new(unet), batch, warmup, iters)
        }
        classifier => {
            let batch = ClassificationBatch { images, targets };
            time_steps(
                ClassificationModel::new(classifier, 0.0)?,
                batch,
                warmup,
                iters,
            )
        }
    }
}

/// Times `warmup` + `iters` training steps of `model` on `batch` (see [`time_train_step`]).
fn time_steps<M: TimedStep>(
    model: M,
    batch: M::Batch,
    warmup: usize,
    iters: usize,
) -> Result<StepTiming> {
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
        .init();
    let mut phases: Vec<[f64; 3]> = Vec::new();
    let mut model = Some(model);
    let seconds = time(warmup, iters, || {
        let t0 = Instant::now();
        let m = model
            .take()
            .expect("the model is put back after every step");
        let loss = m.forward_loss(batch.clone());
        model = Some(backward_and_update(m, loss, &mut optim, &mut phases, t0));
        Ok(())
    })?;
    let timed = &phases[warmup.min(phases.len())..];
    let phase = |i: usize| median(timed.iter().map(|p| p[i]).collect());
    Ok(StepTiming {
        seconds,
        forward: phase(0),
        backward: phase(1),
        update: phase(2),
    })
}

/// The rest of a timed step after the forward pass: waits for `loss`, runs backward and the
/// optimiser update, and records the three phases since `t0`.
fn backward_and_update<M: Module>(
    model: M,
    loss: Tensor<1>,
    optim: &mut ModuleOptimizer,
    phases: &mut Vec<[f64; 3]>,
    t0: Instant,
) -> M {
    std::hint::black_box(loss.clone().into_scalar::<f32>());
    let t1 = Instant::now();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let t2 = Instant::now();
    let model = optim.step(0.01, model, grads);
    std::hint::black_box(probe(&model));
    let t3 = Instant::now();
    phases.push([
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t3 - t2).as_secs_f64(),
    ]);
    model
}

/// A scalar that depends on the parameter update having run (sum of the first parameter):
/// reading it waits for the step on asynchronous backends.
fn probe<M: Module>(module: &M) -> f32 {
    let mut first = None;
    module.visit(&mut FirstParam(&mut first));
    first.map_or(0.0, |t| t.into_scalar())
}

struct FirstParam<'a>(&'a mut Option<Tensor<1>>);

impl burn::module::ModuleVisitor for FirstParam<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        if self.0.is_none() {
            *self.0 = Some(param.val().sum());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![5.0]), 5.0);
        assert!(median(Vec::new()).is_nan());
    }
}
