//! Exercise 1: how the loss gradient reaches each layer of a 50-layer network with and without
//! skip connections, with and without batch norm, at initialisation and after K SGD steps.

use anyhow::{Result, anyhow};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::optim::{GradientsParams, SgdConfig, momentum::MomentumConfig};
use burn::tensor::{Gradients, Tensor};
use clap::Args;
use skipnet_data::batch::ClassificationBatcher;
use skipnet_data::synthetic::SyntheticShapes;
use skipnet_data::transform::Normalization;
use skipnet_models::{CifarResNet, CifarResNetConfig, Model, ShortcutOption};
use skipnet_train::classification::ClassificationModel;
use skipnet_train::plots::{Series, line_chart};

use super::report::{Report, Table, sci, write_csv};
use super::{CommonArgs, setup};

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
    /// Seeds (one network initialisation and data order each).
    #[arg(long, default_value_t = 2)]
    seeds: u64,
    /// Images per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// SGD learning rate (momentum 0.9).
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
}

/// The L2 norm of the gradient of every conv/linear weight, input to output.
fn layer_grad_norms(net: &CifarResNet, grads: &Gradients) -> Vec<f64> {
    let norm = |w: &Tensor<4>| -> f64 {
        w.grad(grads).map_or(f64::NAN, |g| {
            let s: f32 = g.powf_scalar(2.0).sum().sqrt().into_scalar();
            s as f64
        })
    };
    let mut out = vec![norm(&net.conv1.weight.val())];
    for block in net.layer1.iter().chain(&net.layer2).chain(&net.layer3) {
        out.push(norm(&block.conv1.weight.val()));
        out.push(norm(&block.conv2.weight.val()));
    }
    let fc = net.fc.weight.val().grad(grads).map_or(f64::NAN, |g| {
        let s: f32 = g.powf_scalar(2.0).sum().sqrt().into_scalar();
        s as f64
    });
    out.push(fc);
    out
}

fn cifar(model: &ClassificationModel) -> &CifarResNet {
    match &model.model {
        Model::CifarResNet(net) => net,
        _ => unreachable!("the experiment builds CIFAR ResNets"),
    }
}

pub fn run(args: &GradientsArgs) -> Result<()> {
    let Some(setup) = setup(&args.common, "gradients")? else {
        return Ok(());
    };
    let (depth, steps, seeds, batch_size) = if args.common.quick {
        (8, 2, 1, 8)
    } else {
        (args.depth, args.steps, args.seeds, args.batch_size)
    };
    let device = setup.backend.device()?.autodiff();
    let data = SyntheticShapes::new(args.common.seed, batch_size * (steps + 1));
    let batcher = ClassificationBatcher::new(Normalization::cifar10(), 3);
    let batches: Vec<_> = (0..=steps)
        .map(|s| {
            let items = (s * batch_size..(s + 1) * batch_size)
                .map(|i| data.get(i).map_err(|e| anyhow!("synthetic item {i}: {e}")))
                .collect::<Result<Vec<_>>>()?;
            Ok(batcher.batch(items, &device))
        })
        .collect::<Result<_>>()?;

    let mut rows = Vec::new();
    let mut table = Table::new(&[
        "net",
        "BN",
        "‖∇W₁‖ init",
        &format!("‖∇W_{}‖ init", depth),
        "first/last init",
        &format!("first/last after {steps} steps"),
        "loss after",
    ]);
    let mut series_init = Vec::new();
    let mut series_after = Vec::new();
    for (net_name, option) in [
        ("resnet", ShortcutOption::A),
        ("plain", ShortcutOption::Plain),
    ] {
        for bn in [true, false] {
            let mut ratios = [Vec::new(), Vec::new()];
            let mut first_last = (0.0, 0.0);
            let mut final_loss = 0.0;
            let mut mean_norms = [vec![0.0; depth], vec![0.0; depth]];
            for seed in 0..seeds {
                device.seed(args.common.seed + seed);
                let config = CifarResNetConfig::new(depth)
                    .with_shortcut(option)
                    .with_batch_norm(bn);
                config.validate()?;
                let mut model =
                    ClassificationModel::new(Model::CifarResNet(config.init(&device)), 0.0)?;
                let mut optim = SgdConfig::new()
                    .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
                    .init();
                for (step, batch) in batches.iter().enumerate() {
                    let output = model.forward_step(batch.clone());
                    let loss: f32 = output.loss.clone().into_scalar();
                    let grads = output.loss.backward();
                    if step == 0 || step == steps {
                        let norms = layer_grad_norms(cifar(&model), &grads);
                        let which = usize::from(step == steps && steps > 0);
                        for (layer, n) in norms.iter().enumerate() {
                            rows.push(vec![
                                net_name.to_string(),
                                bn.to_string(),
                                seed.to_string(),
                                step.to_string(),
                                (layer + 1).to_string(),
                                format!("{n:e}"),
                            ]);
                            mean_norms[which][layer] += n / seeds as f64;
                        }
                        ratios[which].push(norms[0] / norms[norms.len() - 1]);
                        if step == 0 {
                            first_last.0 += norms[0] / seeds as f64;
                            first_last.1 += norms[norms.len() - 1] / seeds as f64;
                        }
                        final_loss = loss as f64;
                    }
                    if step < steps {
                        let params = GradientsParams::from_grads(grads, &model);
                        model = optim.step(args.lr, model, params);
                    }
                }
            }
            let median = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
            };
            let label = format!("{net_name}{depth}{}", if bn { "" } else { " no-BN" });
            table.row(vec![
                format!("{net_name}-{depth}"),
                if bn { "yes" } else { "no" }.into(),
                sci(first_last.0),
                sci(first_last.1),
                sci(median(&mut ratios[0])),
                sci(median(&mut ratios[1])),
                super::report::num(final_loss, 3),
            ]);
            let points = |v: &Vec<f64>| {
                v.iter()
                    .enumerate()
                    .map(|(i, n)| ((i + 1) as f64, n.max(1e-30)))
                    .collect()
            };
            series_init.push(Series {
                label: label.clone(),
                points: points(&mean_norms[0]),
            });
            series_after.push(Series {
                label,
                points: points(&mean_norms[1]),
            });
        }
    }
    write_csv(
        &setup.dir.join("gradients.csv"),
        &["net", "bn", "seed", "step", "layer", "grad_norm"],
        &rows,
    )?;
    line_chart(
        &setup.dir.join("gradients_init.png"),
        &format!("‖∂L/∂W‖ per layer at initialisation (mean of {seeds} seeds)"),
        "layer (1 = first conv)",
        "gradient L2 norm",
        &series_init,
        true,
    )?;
    line_chart(
        &setup.dir.join("gradients_after.png"),
        &format!("‖∂L/∂W‖ per layer after {steps} SGD steps"),
        "layer (1 = first conv)",
        "gradient L2 norm",
        &series_after,
        true,
    )?;
    let mut report = Report::new(
        "Gradient magnitudes with and without skip connections",
        &format!(
            "A {depth}-layer CIFAR ResNet (option A) and its plain twin, each with and without \
             batch norm, {seeds} seed(s): the L2 norm of ∂L/∂W for every convolution and the \
             classifier (layer 1 = first conv … {depth} = fc), on a batch of {batch_size} \
             synthetic-shapes images at initialisation and after {steps} SGD steps (lr {}, \
             momentum 0.9). The ratio first/last says how much of the gradient reaches the \
             input end: ≈1 means it arrives intact, ≪1 that it vanishes on the way back.",
            args.lr
        ),
        &setup.command,
    );
    report
        .sections
        .push(format!("## Results\n\n{}", table.markdown()));
    report.sections.push(
        "![at initialisation](gradients_init.png)\n\n![after training steps](gradients_after.png)\n\n\
         Raw numbers: `gradients.csv` (`net,bn,seed,step,layer,grad_norm`)."
            .into(),
    );
    report.write(&setup.dir)
}
