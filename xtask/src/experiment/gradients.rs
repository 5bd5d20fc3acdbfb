//! Exercise 1: how the loss gradient reaches each layer of a 50-layer network with and without
//! skip connections, with and without batch norm, under two initialisations, at initialisation
//! and after K SGD steps, over several seeds.

use anyhow::Result;
use clap::{Args, ValueEnum};
use skipnet_models::WeightInit;
use skipnet_train::gradients::{CSV_KEYS, GradientProbe, SeedResult, Variant, VariantResult};
use skipnet_train::plots::{Band, Panel, band_panels};

use skipnet_train::Spread;

use super::report::{Report, Table, num, sci, sci_range as range};
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
    let probe = GradientProbe {
        depth,
        steps,
        batch_size,
        lr: args.lr,
        seeds: args.common.seeds(seeds),
    };
    let inits: Vec<WeightInit> = args.init.iter().map(|&i| i.into()).collect();
    let mut variants = Vec::new();
    for &init in &inits {
        for bn in [true, false] {
            for residual in [true, false] {
                variants.push(Variant { residual, bn, init });
            }
        }
    }
    let results = probe.measure(&variants, &setup.backend.device()?.autodiff())?;
    probe.write_csv(
        &results,
        &setup.dir.join("gradients.csv"),
        &setup.dir.join("weights.csv"),
        &setup.dir.join("losses.csv"),
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
    for result in &results {
        let values = |f: fn(&SeedResult) -> f64| result.seeds.iter().map(f).collect::<Vec<_>>();
        table.row(vec![
            format!("{}-{depth}", result.variant.net()),
            if result.variant.bn { "yes" } else { "no" }.into(),
            result.variant.init.name().into(),
            sci(result.spread(|r| r.first_conv(0)).median),
            sci(result.spread(|r| r.last_conv(0)).median),
            range(&values(|r| r.first_last(0))),
            range(&values(|r| r.spread(0))),
            range(&values(|r| r.first_last(1))),
            num(result.spread(SeedResult::first_weight_change).median, 4),
            num(result.spread(SeedResult::loss_after).median, 3),
        ]);
    }

    let mut plots = Vec::new();
    let whens = [
        ("gradients_init.png", "at initialisation".to_string()),
        ("gradients_after.png", format!("after {steps} SGD steps")),
    ];
    for (which, (file, when)) in whens.into_iter().enumerate() {
        let mut panels = Vec::new();
        for &init in &inits {
            for bn in [true, false] {
                let bands = (results.iter())
                    .filter(|r| r.variant.bn == bn && r.variant.init == init)
                    .map(|r| {
                        let label = format!("{}-{depth}", r.variant.net());
                        Band::new(label, usize::from(!r.variant.residual), r.band(which))
                    })
                    .collect();
                let norm = if bn { "batch norm" } else { "no batch norm" };
                let title = format!("{norm}, {} init", init.name());
                panels.push(Panel { title, bands });
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
            inits
                .iter()
                .map(|i| i.name())
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
        "{}\n\nRaw numbers: `gradients.csv` (`{}`; `kind` is `conv` or `fc`), the weight norms \
         at the same points in `weights.csv` (`…,weight_norm`), and the training loss of every \
         step in `losses.csv` (`net,bn,init,seed,step,loss`; the table's loss at step {steps} is \
         its median over the seeds).",
        plots.join("\n\n"),
        [&CSV_KEYS[..], &["grad_norm"]].concat().join(","),
    ));
    report.write(&setup.dir)
}

/// Sentences read off the measurements, one per (batch norm, init): plain against ResNet,
/// seed by seed.
fn findings(results: &[VariantResult]) -> String {
    let mut lines = vec!["## What the numbers say\n".to_string()];
    for plain_result in results.iter().filter(|r| !r.variant.residual) {
        let plain = plain_result.variant;
        let Some(res_result) = results.iter().find(|r| {
            r.variant.residual && r.variant.bn == plain.bn && r.variant.init == plain.init
        }) else {
            continue;
        };
        let first_conv = |r: &VariantResult| r.spread(|s| s.first_conv(0)).median;
        let (plain_first, res_first) = (first_conv(plain_result), first_conv(res_result));
        let pairs: Vec<(f64, f64)> = (plain_result.seeds.iter())
            .zip(&res_result.seeds)
            .map(|(p, r)| (p.first_last(0), r.first_last(0)))
            .collect();
        let finite = pairs
            .iter()
            .filter(|(p, r)| p.is_finite() && r.is_finite())
            .count();
        let plain_above = pairs.iter().filter(|(p, r)| p > r).count();
        let plain_median = Spread::of(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()).median;
        let res_median = Spread::of(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()).median;
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
