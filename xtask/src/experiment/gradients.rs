//! Exercise 1: how the loss gradient reaches each layer of a 50-layer network with and without
//! skip connections, with and without batch norm, under two initialisations, at initialisation
//! and after K SGD steps, over several seeds.

use anyhow::{Result, anyhow};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::optim::{GradientsParams, SgdConfig, momentum::MomentumConfig};
use burn::tensor::{Device, Gradients, Tensor};
use clap::{Args, ValueEnum};
use skipnet_data::batch::{ClassificationBatch, ClassificationBatcher};
use skipnet_data::synthetic::SyntheticShapes;
use skipnet_data::transform::Normalization;
use skipnet_models::{
    CifarResNet, CifarResNetConfig, Model, ShortcutOption, WeightInit, torch_default_convolutions,
};
use skipnet_train::classification::ClassificationModel;
use skipnet_train::plots::{Band, Panel, band_panels};

use super::report::{Report, Table, median_min_max, num, sci, write_csv};
use super::{CommonArgs, setup};

/// `--init`: how the convolutions start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitArg {
    /// PyTorch's and Burn's default for a bare Conv2d (Kaiming-uniform, a = √5).
    TorchDefault,
    /// He-normal, fan-out (torchvision's ResNet initialisation).
    He,
}

impl From<InitArg> for WeightInit {
    fn from(init: InitArg) -> Self {
        match init {
            InitArg::TorchDefault => WeightInit::TorchDefault,
            InitArg::He => WeightInit::He,
        }
    }
}

#[derive(Args, Debug)]
pub struct GradientsArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// CIFAR ResNet depth (6n+2; 50 = n 8, the exercise's 50 layers).
    #[arg(long, default_value_t = 50)]
    depth: usize,
    /// SGD steps before the second measurement.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Seeds: each one a different initialisation and a different set of batches.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Images per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// SGD learning rate (momentum 0.9).
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
    /// Initialisations to compare, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [InitArg::TorchDefault, InitArg::He])]
    init: Vec<InitArg>,
}

/// One network variant of the experiment.
#[derive(Clone, Copy)]
struct Variant {
    residual: bool,
    bn: bool,
    init: WeightInit,
}

impl Variant {
    fn net(&self) -> &'static str {
        if self.residual { "resnet" } else { "plain" }
    }
}

/// Norms of one layer at one step: layer 1 is the first convolution, the classifier last.
#[derive(Clone)]
struct LayerNorms {
    layer: usize,
    kind: &'static str,
    grad: f64,
    weight: f64,
}

/// What one seed of one variant measured, at step 0 and after the training steps.
struct SeedResult {
    at: [Vec<LayerNorms>; 2],
    loss_after: f64,
}

impl SeedResult {
    fn conv_grads(&self, which: usize) -> Vec<f64> {
        self.at[which]
            .iter()
            .filter(|l| l.kind == "conv")
            .map(|l| l.grad)
            .collect()
    }
    /// ‖∇W‖ of the first convolution.
    fn first_conv(&self, which: usize) -> f64 {
        self.conv_grads(which).first().copied().unwrap_or(f64::NAN)
    }
    /// ‖∇W‖ of the last convolution.
    fn last_conv(&self, which: usize) -> f64 {
        self.conv_grads(which).last().copied().unwrap_or(f64::NAN)
    }
    /// ‖∇W‖ of the first convolution over that of the last convolution.
    fn first_last(&self, which: usize) -> f64 {
        self.first_conv(which) / self.last_conv(which)
    }
    /// Largest over smallest ‖∇W‖ among the convolutions.
    fn spread(&self, which: usize) -> f64 {
        let convs = self.conv_grads(which);
        let max = convs.iter().copied().fold(f64::NAN, f64::max);
        let min = convs.iter().copied().fold(f64::NAN, f64::min);
        max / min
    }
    /// ‖W₁‖ after the steps over ‖W₁‖ at initialisation.
    fn first_weight_change(&self) -> f64 {
        match (self.at[0].first(), self.at[1].first()) {
            (Some(a), Some(b)) => b.weight / a.weight,
            _ => f64::NAN,
        }
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

fn cifar(model: &ClassificationModel) -> &CifarResNet {
    match &model.model {
        Model::CifarResNet(net) => net,
        _ => unreachable!("the experiment builds CIFAR ResNets"),
    }
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
                .map(|i| data.get(i).map_err(|e| anyhow!("synthetic item {i}: {e}")))
                .collect::<Result<Vec<_>>>()?;
            Ok(batcher.batch(items, device))
        })
        .collect()
}

/// Builds `variant` with `seed`, measures at step 0, takes `steps` SGD steps, measures again.
fn measure(
    variant: Variant,
    depth: usize,
    seed: u64,
    lr: f64,
    batches: &[ClassificationBatch],
    device: &Device,
) -> Result<SeedResult> {
    device.seed(seed);
    let config = CifarResNetConfig::new(depth)
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
    let mut loss_after = f64::NAN;
    for (step, batch) in batches.iter().enumerate() {
        let output = model.forward_step(batch.clone());
        let loss: f32 = output.loss.clone().into_scalar();
        let grads = output.loss.backward();
        if step == 0 || step == steps {
            at[usize::from(step == steps && steps > 0)] = layer_norms(cifar(&model), &grads);
            loss_after = loss as f64;
        }
        if step < steps {
            let params = GradientsParams::from_grads(grads, &model);
            model = optim.step(lr, model, params);
        }
    }
    if steps == 0 {
        at[1] = at[0].clone();
    }
    Ok(SeedResult { at, loss_after })
}

/// `median (min–max)` in scientific notation, and how many seeds were not finite.
fn range(values: &[f64]) -> String {
    let (median, min, max) = median_min_max(values);
    let bad = values.iter().filter(|x| !x.is_finite()).count();
    let text = if median.is_finite() {
        format!("{} ({}–{})", sci(median), sci(min), sci(max))
    } else {
        "–".into()
    };
    if bad > 0 {
        format!("{text}, {bad} non-finite")
    } else {
        text
    }
}

pub fn run(args: &GradientsArgs) -> Result<()> {
    let Some(setup) = setup(&args.common, "gradients")? else {
        return Ok(());
    };
    let (depth, steps, seeds, batch_size) = if args.common.quick {
        (8, 2, 2, 8)
    } else {
        (args.depth, args.steps, args.seeds, args.batch_size)
    };
    if seeds == 0 || args.init.is_empty() {
        anyhow::bail!(
            "--seeds must be at least 1 and --init must name at least one initialisation"
        );
    }
    let device = setup.backend.device()?.autodiff();
    let seed_list: Vec<u64> = (0..seeds).map(|s| args.common.seed + s).collect();
    let data: Vec<Vec<ClassificationBatch>> = seed_list
        .iter()
        .map(|&seed| batches(seed, steps, batch_size, &device))
        .collect::<Result<_>>()?;

    let mut variants = Vec::new();
    for &init in &args.init {
        for bn in [true, false] {
            for residual in [true, false] {
                variants.push(Variant {
                    residual,
                    bn,
                    init: init.into(),
                });
            }
        }
    }
    let mut results: Vec<(Variant, Vec<SeedResult>)> = Vec::new();
    let mut grad_rows = Vec::new();
    let mut weight_rows = Vec::new();
    for &variant in &variants {
        let mut per_seed = Vec::new();
        for (&seed, batches) in seed_list.iter().zip(&data) {
            let result = measure(variant, depth, seed, args.lr, batches, &device)?;
            for (which, step) in [(0, 0), (1, steps)] {
                if which == 1 && steps == 0 {
                    continue;
                }
                for l in &result.at[which] {
                    let key = [
                        variant.net().to_string(),
                        variant.bn.to_string(),
                        variant.init.name().to_string(),
                        seed.to_string(),
                        step.to_string(),
                        l.layer.to_string(),
                        l.kind.to_string(),
                    ];
                    let row = |value: f64| {
                        let mut row = key.to_vec();
                        row.push(format!("{value:e}"));
                        row
                    };
                    grad_rows.push(row(l.grad));
                    weight_rows.push(row(l.weight));
                }
            }
            println!(
                "{:>6} bn={:<5} init={:<13} seed {seed}: first/last conv {} at init, {} after {steps} steps",
                variant.net(),
                variant.bn,
                variant.init.name(),
                sci(result.first_last(0)),
                sci(result.first_last(1)),
            );
            per_seed.push(result);
        }
        results.push((variant, per_seed));
    }
    let key_columns = ["net", "bn", "init", "seed", "step", "layer", "kind"];
    write_csv(
        &setup.dir.join("gradients.csv"),
        &[&key_columns[..], &["grad_norm"]].concat(),
        &grad_rows,
    )?;
    write_csv(
        &setup.dir.join("weights.csv"),
        &[&key_columns[..], &["weight_norm"]].concat(),
        &weight_rows,
    )?;

    let mut table = Table::new(&[
        "net",
        "BN",
        "init",
        "‖∇W₁‖ init: median",
        &format!("‖∇W_{}‖ init: median", depth - 1),
        "first/last conv, init: median (min–max)",
        "max/min over convs, init: median (min–max)",
        &format!("first/last conv after {steps} steps: median (min–max)"),
        &format!("‖W₁‖ after {steps} steps / at init: median"),
        &format!("loss at step {steps}: median"),
    ]);
    for (variant, per_seed) in &results {
        let collect = |f: &dyn Fn(&SeedResult) -> f64| per_seed.iter().map(f).collect::<Vec<_>>();
        table.row(vec![
            format!("{}-{depth}", variant.net()),
            if variant.bn { "yes" } else { "no" }.into(),
            variant.init.name().into(),
            sci(median_min_max(&collect(&|r| r.first_conv(0))).0),
            sci(median_min_max(&collect(&|r| r.last_conv(0))).0),
            range(&collect(&|r| r.first_last(0))),
            range(&collect(&|r| r.spread(0))),
            range(&collect(&|r| r.first_last(1))),
            num(median_min_max(&collect(&|r| r.first_weight_change())).0, 4),
            num(median_min_max(&collect(&|r| r.loss_after)).0, 3),
        ]);
    }

    let mut plots = Vec::new();
    for (which, (file, when)) in [
        ("gradients_init.png", "at initialisation".to_string()),
        ("gradients_after.png", format!("after {steps} SGD steps")),
    ]
    .into_iter()
    .enumerate()
    {
        let mut panels = Vec::new();
        for &init in &args.init {
            for bn in [true, false] {
                let init = WeightInit::from(init);
                let bands = results
                    .iter()
                    .filter(|(v, _)| v.bn == bn && v.init == init)
                    .map(|(v, per_seed)| {
                        Band::new(
                            format!("{}-{depth}", v.net()),
                            usize::from(!v.residual),
                            (0..depth)
                                .map(|layer| {
                                    let values: Vec<f64> =
                                        per_seed.iter().map(|r| r.at[which][layer].grad).collect();
                                    let (median, min, max) = median_min_max(&values);
                                    ((layer + 1) as f64, min, median, max)
                                })
                                .collect(),
                        )
                    })
                    .collect();
                panels.push(Panel {
                    title: format!(
                        "{}, {} init",
                        if bn { "batch norm" } else { "no batch norm" },
                        init.name()
                    ),
                    bands,
                });
            }
        }
        band_panels(
            &setup.dir.join(file),
            &format!("‖∂L/∂W‖ per layer {when}: median and min–max over {seeds} seeds"),
            &format!("layer (1 = first conv, {depth} = classifier)"),
            "gradient L2 norm",
            &panels,
            true,
        )?;
        plots.push(format!("![{when}]({file})"));
    }

    let mut report = Report::new(
        "Gradient magnitudes with and without skip connections",
        &format!(
            "A {depth}-layer CIFAR ResNet (option A) and its plain twin (the same layers, no \
             shortcut), each with and without batch norm, each under {} initialisation of the \
             convolutions ({}), {seeds} seeds (each seed draws its own initialisation and its own \
             batches). For every convolution and the classifier (layer 1 = first conv, layer \
             {} = last conv, layer {depth} = classifier) the L2 norm of ∂L/∂W on a batch of \
             {batch_size} synthetic-shapes images, at initialisation and after {steps} SGD steps \
             (lr {}, momentum 0.9). first/last = ‖∇W₁‖ / ‖∇W_{}‖: ≈ 1 means the gradient \
             reaches the input end intact, ≪ 1 that it vanishes on the way back, ≫ 1 that it \
             grows. max/min = the spread of ‖∇W‖ over all convolutions.",
            args.init
                .iter()
                .map(|&i| WeightInit::from(i).name())
                .collect::<Vec<_>>()
                .join(" and "),
            "torch-default: PyTorch's and Burn's default, U(±1/√fan_in); he: N(0, 2/fan_out), \
             torchvision's",
            depth - 1,
            args.lr,
            depth - 1,
        ),
        &setup.command,
    );
    report
        .sections
        .push(format!("## Results\n\n{}", table.markdown()));
    report.sections.push(findings(&results));
    report.sections.push(format!(
        "{}\n\nRaw numbers: `gradients.csv` (`{}`; `kind` is `conv` or `fc`) and the weight norms \
         at the same points in `weights.csv` (`…,weight_norm`).",
        plots.join("\n\n"),
        [&key_columns[..], &["grad_norm"]].concat().join(","),
    ));
    report.write(&setup.dir)
}

/// Sentences read off the measurements, one per (batch norm, init): plain against ResNet,
/// seed by seed.
fn findings(results: &[(Variant, Vec<SeedResult>)]) -> String {
    let mut lines = vec!["## What the numbers say\n".to_string()];
    for (plain, plain_seeds) in results.iter().filter(|(v, _)| !v.residual) {
        let Some((_, res_seeds)) = results
            .iter()
            .find(|(v, _)| v.residual && v.bn == plain.bn && v.init == plain.init)
        else {
            continue;
        };
        let first_conv = |seeds: &[SeedResult]| {
            median_min_max(&seeds.iter().map(|r| r.first_conv(0)).collect::<Vec<_>>()).0
        };
        let (plain_first, res_first) = (first_conv(plain_seeds), first_conv(res_seeds));
        let pairs: Vec<(f64, f64)> = plain_seeds
            .iter()
            .zip(res_seeds)
            .map(|(p, r)| (p.first_last(0), r.first_last(0)))
            .collect();
        let finite = pairs
            .iter()
            .filter(|(p, r)| p.is_finite() && r.is_finite())
            .count();
        let plain_above = pairs.iter().filter(|(p, r)| p > r).count();
        let plain_median = median_min_max(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()).0;
        let res_median = median_min_max(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()).0;
        let orders = |x: f64| {
            if x.is_finite() && x > 0.0 {
                format!("10^{:.1}", x.log10())
            } else {
                "not finite".into()
            }
        };
        lines.push(format!(
            "- {}, {} init, at initialisation: first/last conv is {} (median) in the plain net \
             and {} in the ResNet; the plain net's ratio is the larger in {plain_above} of {} \
             seeds ({finite} with both finite). The first convolution's gradient itself is \
             {} in the plain net and {} in the ResNet (medians; the plain net's is {} × the \
             ResNet's).",
            if plain.bn {
                "With batch norm"
            } else {
                "Without batch norm"
            },
            plain.init.name(),
            orders(plain_median),
            orders(res_median),
            pairs.len(),
            sci(plain_first),
            sci(res_first),
            orders(plain_first / res_first),
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_count_the_non_finite_seeds() {
        assert_eq!(
            range(&[1.0, f64::INFINITY]),
            "1.00e0 (1.00e0–1.00e0), 1 non-finite"
        );
    }

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
            at: [
                norms(&[8.0, 1.0, 2.0, 100.0]),
                norms(&[4.0, 1.0, 4.0, 50.0]),
            ],
            loss_after: 1.0,
        };
        assert_eq!(result.first_last(0), 4.0);
        assert_eq!(result.spread(0), 8.0);
        assert_eq!(result.first_last(1), 1.0);
        assert_eq!(result.first_weight_change(), 1.0);
    }
}
