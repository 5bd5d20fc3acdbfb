//! How the loss gradient reaches each layer of a CIFAR ResNet and of its plain twin: the L2
//! norm of ∂L/∂W of every convolution and of the classifier on a batch of synthetic-shapes
//! images, at initialisation and after K SGD steps (momentum 0.9), seed by seed. The tutorial's
//! exercise 1 (`cargo xtask experiment gradients`) is written over [`GradientProbe`].

use std::path::Path;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::optim::{GradientsParams, SgdConfig, momentum::MomentumConfig};
use burn::tensor::{Device, Gradients, Tensor};
use skipnet_data::batch::{ClassificationBatch, ClassificationBatcher};
use skipnet_data::synthetic::SyntheticShapes;
use skipnet_data::transform::Normalization;
use skipnet_models::{
    CifarResNet, CifarResNetConfig, Model, ShortcutOption, WeightInit, torch_default_convolutions,
};

use crate::classification::ClassificationModel;
use crate::error::{Result, TrainError};
use crate::sweep::{Spread, write_csv};

/// One network of the probe: with or without shortcuts, with or without batch norm, and how
/// its convolutions start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// Option-A identity shortcuts (a CIFAR ResNet); `false`: the plain twin.
    pub residual: bool,
    /// Batch norm after every convolution.
    pub bn: bool,
    /// The convolutions' initialisation.
    pub init: WeightInit,
}

impl Variant {
    /// `resnet` or `plain`.
    pub fn net(&self) -> &'static str {
        if self.residual { "resnet" } else { "plain" }
    }
}

/// Norms of one layer at one step: layer 1 is the first convolution, the classifier last.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNorms {
    /// From 1 (the first convolution) to the depth (the classifier).
    pub layer: usize,
    /// `conv` or `fc`.
    pub kind: &'static str,
    /// ‖∂L/∂W‖.
    pub grad: f64,
    /// ‖W‖.
    pub weight: f64,
}

/// What one seed of one variant measured, at step 0 (`at[0]`) and after the steps (`at[1]`).
#[derive(Debug, Clone)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// Per layer, at initialisation and after the steps.
    pub at: [Vec<LayerNorms>; 2],
    /// The training loss of every step, 0 (at initialisation) to the last measurement.
    pub losses: Vec<f64>,
}

impl SeedResult {
    /// The loss of the batch of the last measurement (NaN when nothing was measured).
    pub fn loss_after(&self) -> f64 {
        self.losses.last().copied().unwrap_or(f64::NAN)
    }

    fn conv_grads(&self, which: usize) -> Vec<f64> {
        self.at[which]
            .iter()
            .filter(|l| l.kind == "conv")
            .map(|l| l.grad)
            .collect()
    }

    /// ‖∇W‖ of the first convolution (`which`: 0 at initialisation, 1 after the steps).
    pub fn first_conv(&self, which: usize) -> f64 {
        self.conv_grads(which).first().copied().unwrap_or(f64::NAN)
    }

    /// ‖∇W‖ of the last convolution.
    pub fn last_conv(&self, which: usize) -> f64 {
        self.conv_grads(which).last().copied().unwrap_or(f64::NAN)
    }

    /// ‖∇W‖ of the first convolution over that of the last convolution.
    pub fn first_last(&self, which: usize) -> f64 {
        self.first_conv(which) / self.last_conv(which)
    }

    /// Largest over smallest ‖∇W‖ among the convolutions.
    pub fn spread(&self, which: usize) -> f64 {
        let convs = self.conv_grads(which);
        let max = convs.iter().copied().fold(f64::NAN, f64::max);
        let min = convs.iter().copied().fold(f64::NAN, f64::min);
        max / min
    }

    /// ‖W₁‖ after the steps over ‖W₁‖ at initialisation.
    pub fn first_weight_change(&self) -> f64 {
        match (self.at[0].first(), self.at[1].first()) {
            (Some(a), Some(b)) => b.weight / a.weight,
            _ => f64::NAN,
        }
    }
}

/// Every seed of one variant.
#[derive(Debug, Clone)]
pub struct VariantResult {
    /// The network.
    pub variant: Variant,
    /// One per seed, in the probe's seed order.
    pub seeds: Vec<SeedResult>,
}

impl VariantResult {
    /// The spread over the seeds of `f`.
    pub fn spread(&self, f: impl Fn(&SeedResult) -> f64) -> Spread {
        Spread::of(&self.seeds.iter().map(f).collect::<Vec<_>>())
    }

    /// Per layer: `(layer, min, median, max)` of ‖∂L/∂W‖ over the seeds (`which`: 0 at
    /// initialisation, 1 after the steps), for [`crate::plots::Band`].
    pub fn band(&self, which: usize) -> Vec<(f64, f64, f64, f64)> {
        let layers = self.seeds.first().map_or(0, |s| s.at[which].len());
        (0..layers)
            .map(|layer| {
                let s = self.spread(|r| r.at[which][layer].grad);
                ((layer + 1) as f64, s.min, s.median, s.max)
            })
            .collect()
    }
}

/// The measurement: a CIFAR ResNet of `depth` (6n+2), `steps` SGD steps of `batch_size`
/// images at rate `lr`, one run per seed (each its own initialisation and batches).
#[derive(Debug, Clone)]
pub struct GradientProbe {
    /// Layers, 6n+2 (50: the exercise's).
    pub depth: usize,
    /// SGD steps before the second measurement.
    pub steps: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// SGD learning rate (momentum 0.9, no dampening).
    pub lr: f64,
    /// The seeds.
    pub seeds: Vec<u64>,
}

/// The key columns of [`GradientProbe::write_csv`]'s files, before the norm.
pub const CSV_KEYS: [&str; 7] = ["net", "bn", "init", "seed", "step", "layer", "kind"];

impl GradientProbe {
    /// Measures every variant with every seed on `device` (an autodiff device), printing one
    /// line per seed.
    pub fn measure(&self, variants: &[Variant], device: &Device) -> Result<Vec<VariantResult>> {
        let data: Vec<Vec<ClassificationBatch>> = self
            .seeds
            .iter()
            .map(|&seed| batches(seed, self.steps, self.batch_size, device))
            .collect::<Result<_>>()?;
        let mut results = Vec::new();
        for &variant in variants {
            let mut seeds = Vec::new();
            for (&seed, batches) in self.seeds.iter().zip(&data) {
                let result = self.measure_one(variant, seed, batches, device)?;
                println!(
                    "{:>6} bn={:<5} init={:<13} seed {seed}: first/last conv {:.2e} at init, \
                     {:.2e} after {} steps",
                    variant.net(),
                    variant.bn,
                    variant.init.name(),
                    result.first_last(0),
                    result.first_last(1),
                    self.steps,
                );
                seeds.push(result);
            }
            results.push(VariantResult { variant, seeds });
        }
        Ok(results)
    }

    /// Builds `variant` with `seed`, measures at step 0, takes the steps, measures again.
    fn measure_one(
        &self,
        variant: Variant,
        seed: u64,
        batches: &[ClassificationBatch],
        device: &Device,
    ) -> Result<SeedResult> {
        device.seed(seed);
        let config = CifarResNetConfig::new(self.depth)
            .with_shortcut(if variant.residual {
                ShortcutOption::A
            } else {
                ShortcutOption::Plain
            })
            .with_batch_norm(variant.bn);
        config.validate()?;
        let mut net = config.init(device);
        if variant.init == WeightInit::TorchDefault {
            net = torch_default_convolutions(net);
        }
        let mut model = ClassificationModel::new(Model::CifarResNet(net), 0.0)?;
        let mut optim = SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
            .init();
        let steps = batches.len() - 1;
        let mut at = [Vec::new(), Vec::new()];
        let mut losses = Vec::with_capacity(batches.len());
        for (step, batch) in batches.iter().enumerate() {
            let output = model.forward_step(batch.clone());
            let loss: f32 = output.loss.clone().into_scalar();
            losses.push(loss as f64);
            let grads = output.loss.backward();
            if step == 0 || step == steps {
                let Model::CifarResNet(net) = &model.model else {
                    unreachable!("the probe builds CIFAR ResNets")
                };
                at[usize::from(step == steps && steps > 0)] = layer_norms(net, &grads);
            }
            if step < steps {
                let params = GradientsParams::from_grads(grads, &model);
                model = optim.step(self.lr, model, params);
            }
        }
        if steps == 0 {
            at[1] = at[0].clone();
        }
        Ok(SeedResult { seed, at, losses })
    }

    /// Writes the gradient norms (`…,grad_norm`) to `gradients` and the weight norms at the
    /// same points (`…,weight_norm`) to `weights`: one row per variant, seed, step (0 and,
    /// with steps, the last) and layer, keys [`CSV_KEYS`]; and the training loss of every step
    /// (`net,bn,init,seed,step,loss`) to `losses`.
    pub fn write_csv(
        &self,
        results: &[VariantResult],
        gradients: &Path,
        weights: &Path,
        losses: &Path,
    ) -> Result<()> {
        let (mut grad_rows, mut weight_rows, mut loss_rows) = (Vec::new(), Vec::new(), Vec::new());
        for VariantResult { variant, seeds } in results {
            for result in seeds {
                for (step, loss) in result.losses.iter().enumerate() {
                    loss_rows.push(vec![
                        variant.net().to_string(),
                        variant.bn.to_string(),
                        variant.init.name().to_string(),
                        result.seed.to_string(),
                        step.to_string(),
                        format!("{loss:e}"),
                    ]);
                }
                let points: &[(usize, usize)] = match self.steps {
                    0 => &[(0, 0)],
                    steps => &[(0, 0), (1, steps)],
                };
                for &(which, step) in points {
                    for l in &result.at[which] {
                        let key = [
                            variant.net().to_string(),
                            variant.bn.to_string(),
                            variant.init.name().to_string(),
                            result.seed.to_string(),
                            step.to_string(),
                            l.layer.to_string(),
                            l.kind.to_string(),
                        ];
                        let row = |value: f64| [&key[..], &[format!("{value:e}")]].concat();
                        grad_rows.push(row(l.grad));
                        weight_rows.push(row(l.weight));
                    }
                }
            }
        }
        write_csv(
            gradients,
            &[&CSV_KEYS[..], &["grad_norm"]].concat(),
            &grad_rows,
        )?;
        write_csv(
            weights,
            &[&CSV_KEYS[..], &["weight_norm"]].concat(),
            &weight_rows,
        )?;
        write_csv(
            losses,
            &["net", "bn", "init", "seed", "step", "loss"],
            &loss_rows,
        )
    }
}

fn l2<const D: usize>(t: Tensor<D>) -> f64 {
    let s: f32 = t.powf_scalar(2.0).sum().sqrt().into_scalar();
    s as f64
}

/// The gradient and weight norm of every convolution and of the classifier, input to output.
fn layer_norms(net: &CifarResNet, grads: &Gradients) -> Vec<LayerNorms> {
    let mut out: Vec<LayerNorms> = net
        .convolutions()
        .into_iter()
        .enumerate()
        .map(|(i, conv)| {
            let w = conv.weight.val();
            LayerNorms {
                layer: i + 1,
                kind: "conv",
                grad: w.grad(grads).map_or(f64::NAN, l2),
                weight: l2(w),
            }
        })
        .collect();
    let fc = net.fc.weight.val();
    out.push(LayerNorms {
        layer: out.len() + 1,
        kind: "fc",
        grad: fc.grad(grads).map_or(f64::NAN, l2),
        weight: l2(fc),
    });
    out
}

/// `steps + 1` batches of `batch_size` synthetic-shapes images drawn with `seed`.
fn batches(
    seed: u64,
    steps: usize,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<ClassificationBatch>> {
    let data = SyntheticShapes::new(seed, batch_size * (steps + 1));
    let batcher = ClassificationBatcher::new(Normalization::cifar10(), 3);
    (0..=steps)
        .map(|s| {
            let items = (s * batch_size..(s + 1) * batch_size)
                .map(|i| {
                    data.get(i).map_err(|e| {
                        TrainError::invalid("synthetic-shapes item", format!("{i}: {e}"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(batcher.batch(items, device))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_last_divides_by_the_last_convolution_not_the_classifier() {
        let norms = |grads: &[f64]| {
            grads
                .iter()
                .enumerate()
                .map(|(i, &grad)| LayerNorms {
                    layer: i + 1,
                    kind: if i + 1 == grads.len() { "fc" } else { "conv" },
                    grad,
                    weight: 1.0 + i as f64,
                })
                .collect::<Vec<_>>()
        };
        let result = SeedResult {
            seed: 0,
            at: [
                norms(&[8.0, 1.0, 2.0, 100.0]),
                norms(&[4.0, 1.0, 4.0, 50.0]),
            ],
            losses: vec![2.3, 1.0],
        };
        assert_eq!(result.first_last(0), 4.0);
        assert_eq!(result.spread(0), 8.0);
        assert_eq!(result.first_last(1), 1.0);
        assert_eq!(result.first_weight_change(), 1.0);
        let variant = VariantResult {
            variant: Variant {
                residual: true,
                bn: false,
                init: WeightInit::He,
            },
            seeds: vec![result.clone(), result],
        };
        assert_eq!(variant.band(1)[0], (1.0, 4.0, 4.0, 4.0));
        assert_eq!(variant.band(1).len(), 4);
    }
}
