//! Srivastava, Greff & Schmidhuber 2015 ("Training Very Deep Networks"), Fig. 1: plain and
//! highway MLPs of increasing depth, each at its best learning rate of a small search, trained
//! the same way otherwise; does the training loss get worse with depth?

use std::cmp::Ordering;

use anyhow::{Result, bail};
use clap::Args;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_models::registry::{HIGHWAY_MLP_WIDTH, PLAIN_MLP_WIDTH, highway_gate_bias};
use skipnet_train::plots::{Band, Panel, band_panels};
use skipnet_train::{Cell, Column, Metric, ScheduleSpec, Sweep, TrainSpec};

use super::report::{Report, Table, listed, num};
use super::{CommonArgs, pick_dataset, setup};
use crate::cli::ClosedSet;

#[derive(Args, Debug, Clone)]
pub struct HighwayArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The dataset (default: fashion-mnist when its files are there, else synthetic-shapes).
    #[arg(long, value_parser = ClosedSet::<DatasetKind>::new())]
    dataset: Option<DatasetKind>,
    /// Stacked layers of each network (after the input layer, before the classifier).
    #[arg(long, value_delimiter = ',', default_value = "10,20,50,100")]
    depths: Vec<usize>,
    /// Epochs per network.
    #[arg(long, default_value_t = 8)]
    epochs: usize,
    /// Training images (a seeded subset of data on disk).
    #[arg(long, default_value_t = 10_000)]
    train_size: usize,
    /// Validation images.
    #[arg(long, default_value_t = 2_000)]
    valid_size: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Learning rates searched for every network (SGD, momentum 0.9, cosine decay, one
    /// warm-up epoch); each network is shown at the one with the lowest final training loss.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.001,0.003,0.01,0.03,0.1"
    )]
    lrs: Vec<f64>,
    /// Seeds per network and rate (each a different initialisation, subset and order).
    #[arg(long, default_value_t = 2)]
    seeds: u64,
}

/// The two families, and the width of their layers.
const NETS: [(&str, usize); 2] = [("plain", PLAIN_MLP_WIDTH), ("highway", HIGHWAY_MLP_WIDTH)];

fn arch(net: &str, depth: usize) -> String {
    format!("{net}-mlp{depth}")
}

/// The cell of `net` at `depth` trained at `lr`.
fn label(net: &str, depth: usize, lr: f64) -> String {
    format!("{}-lr{lr}", arch(net, depth))
}

/// A final loss with `digits` decimals, or `diverged`.
fn loss_cell(loss: f64, digits: usize) -> String {
    match loss.is_finite() {
        true => num(loss, digits),
        false => "diverged".into(),
    }
}

pub fn run(args: &HighwayArgs) -> Result<()> {
    let Some(setup) = setup(&args.common, "highway")? else {
        return Ok(());
    };
    let quick = HighwayArgs {
        depths: vec![2, 4],
        epochs: 1,
        train_size: 64,
        valid_size: 32,
        batch_size: 32,
        lrs: vec![0.01, 0.03],
        seeds: 1,
        ..args.clone()
    };
    let a = if args.common.quick { &quick } else { args };
    let (depths, lrs, epochs) = (&a.depths, &a.lrs, a.epochs);
    if depths.is_empty() || lrs.is_empty() || lrs.iter().any(|lr| !lr.is_finite() || *lr <= 0.0) {
        bail!("--depths and --lrs need at least one value each, and rates must be positive");
    }
    let fallback = DatasetKind::SyntheticShapes;
    let (dataset, data_note) = pick_dataset(a.dataset, &[DatasetKind::FashionMnist], fallback);
    let data = DatasetSpec::new(dataset).with_sizes(Some(a.train_size), Some(a.valid_size));
    let mut cells = Vec::new();
    for &depth in depths {
        for (net, _) in NETS {
            for &lr in lrs {
                let spec = TrainSpec::he2015(&arch(net, depth), data.clone())?
                    .with_epochs(epochs)
                    .with_batch_size(a.batch_size)
                    .with_lr(lr)
                    .with_schedule(ScheduleSpec::Cosine);
                let cell = Cell::new(label(net, depth, lr), spec).with_field("net", net);
                cells.push(cell.with_field("depth", depth).with_field("lr", lr));
            }
        }
    }
    let seeds = a.common.seeds(a.seeds.max(1));
    let sweep = Sweep::new(cells, seeds.clone()).with_divergence_as_result();
    let results = sweep.run(&setup.dir, setup.backend)?;
    let params = |arch: &str| results.params(arch).map(|p| p.to_string());
    results.write_csv(
        &setup.dir.join("highway.csv"),
        &[
            Column::field("net"),
            Column::field("depth"),
            Column::new("params", |c, _, _| {
                params(&c.spec.arch()).unwrap_or_default()
            }),
            Column::field("lr"),
            Column::seed(),
            Column::epoch(),
            Column::metric(Metric::TRAIN_LOSS),
            Column::metric(Metric::VALID_LOSS),
            Column::metric(Metric::VALID_ACCURACY),
        ],
    )?;

    // Per network: the median final training loss at each rate (+∞: a seed diverged).
    let loss = |net: &str, depth: usize, lr: f64| {
        results.median_final(&label(net, depth, lr), Metric::TRAIN_LOSS)
    };
    let best_lr = |net: &str, depth: usize| {
        let key = |lr| label(net, depth, lr);
        (results.lowest(lrs.iter().copied(), key, Metric::TRAIN_LOSS)).unwrap_or(f64::NAN)
    };
    let mut headers = ["network", "params", "gate bias", "best lr"]
        .map(String::from)
        .to_vec();
    headers.push("final train loss (best lr)".into());
    headers.push("final valid accuracy % (best lr)".into());
    headers.extend(lrs.iter().map(|lr| format!("final train loss, lr {lr}")));
    let mut table = Table::new(&headers.iter().map(String::as_str).collect::<Vec<_>>());
    for (net, _) in NETS {
        for &depth in depths {
            let lr = best_lr(net, depth);
            let accuracy = results.spread(&label(net, depth, lr), Metric::VALID_ACCURACY);
            let gate_bias = match net {
                "highway" => num(highway_gate_bias(depth), 2),
                _ => "–".into(),
            };
            let params = params(&arch(net, depth)).unwrap_or("–".into());
            let (lr_text, best_loss) = (lr.to_string(), loss_cell(loss(net, depth, lr), 4));
            let mut row = vec![arch(net, depth), params, gate_bias, lr_text, best_loss];
            row.push(num(accuracy.median, 1));
            row.extend(lrs.iter().map(|&lr| loss_cell(loss(net, depth, lr), 4)));
            table.row(row);
        }
    }

    let panels: Vec<Panel> = NETS
        .iter()
        .map(|&(net, width)| {
            let bands = (depths.iter().enumerate())
                .map(|(i, &depth)| {
                    let lr = best_lr(net, depth);
                    let points = results.epoch_band(&label(net, depth, lr), Metric::TRAIN_LOSS);
                    Band::new(format!("{depth} layers (lr {lr})"), i, points)
                })
                .collect();
            let title = format!("{net} ({width} units a layer), best lr each");
            Panel { title, bands }
        })
        .collect();
    band_panels(
        &setup.dir.join("highway.png"),
        &format!("Training loss (cross-entropy) by depth, {dataset}"),
        "epoch",
        "mean training loss of the epoch",
        &panels,
        true,
    )?;

    let mut report = Report::new(
        "Plain against highway networks as they get deeper",
        &format!(
            "Srivastava et al. 2015, Fig. 1, at a CPU budget. {data_note} Each network: a \
             fully connected input layer with ReLU, then N stacked layers, then a linear \
             classifier; N = {}. Highway layers are {HIGHWAY_MLP_WIDTH} units wide \
             (`y = H(x)·T(x) + x·(1 − T(x))`, `H = relu(W_H x + b_H)`, gate bias −max(2, ln N), \
             see the table); plain layers are {PLAIN_MLP_WIDTH} units wide \
             (`y = relu(Wx + b)`), so that a plain layer has {} parameters and a highway layer \
             {} (transform and gate), the paper's way of matching them. In both the input layer \
             and the transforms start He-normal (`N(0, 2 / fan_in)`, which keeps a ReLU \
             layer's output at its input's scale), gates and classifier from Burn's default. \
             Every network trains {epochs} epochs on {} images ({} for validation), batch {}, \
             SGD with momentum 0.9 and weight decay 1e-4, one \
             warm-up epoch then cosine decay, at each learning rate of {{{}}}, seeds {}; like \
             the paper's Fig. 1, each network is shown at its best rate (lowest median final \
             training loss; a run whose loss became non-finite counts as diverged).",
            listed(depths),
            PLAIN_MLP_WIDTH * PLAIN_MLP_WIDTH + PLAIN_MLP_WIDTH,
            2 * (HIGHWAY_MLP_WIDTH * HIGHWAY_MLP_WIDTH + HIGHWAY_MLP_WIDTH),
            a.train_size,
            a.valid_size,
            a.batch_size,
            listed(lrs),
            listed(&seeds),
        ),
        &setup.command,
    );
    report.commands.extend(results.commands());
    report.sections.push(format!(
        "## Results\n\n{}\nLosses and accuracies are medians over the seeds.\n\n{}\n\n\
         ![training loss by depth](highway.png)\n\nRaw numbers: `highway.csv` (one row per \
         network, rate, seed and epoch; a row with epoch 0 and NaN marks a run stopped by a \
         non-finite loss).",
        table.markdown(),
        findings(&|net, depth| loss(net, depth, best_lr(net, depth)), depths)
    ));
    // Where a network's best rate is the grid's smallest or largest, its optimum may lie
    // outside the grid: say so network by network.
    let (lowest, highest) = (
        lrs.iter().copied().fold(f64::INFINITY, f64::min),
        lrs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let mut edges = Vec::new();
    for (net, _) in NETS {
        for &depth in depths {
            let lr = best_lr(net, depth);
            if lrs.len() > 1 && (lr == lowest || lr == highest) {
                let side = if lr == lowest { "smallest" } else { "largest" };
                edges.push(format!("{} ({lr}, the {side})", arch(net, depth)));
            }
        }
    }
    report.sections.push(match edges.is_empty() {
        true => "Every network's best rate is inside the grid.".into(),
        false => format!(
            "Best rate at the edge of the grid, so the optimum may lie outside it: {}; every \
             other network's best rate is inside the grid.",
            edges.join(", ")
        ),
    });
    report.write(&setup.dir)
}

/// Sentences read off the best-rate losses (`loss(net, depth)`): each family from the
/// shallowest to the deepest, and the two families depth by depth.
fn findings(loss: &dyn Fn(&str, usize) -> f64, depths: &[usize]) -> String {
    let mut lines = vec!["## What the numbers say\n".to_string()];
    for (net, _) in NETS {
        let at = |d: &usize| format!("{} at {d}", loss_cell(loss(net, *d), 3));
        let (first, last) = (loss(net, depths[0]), loss(net, depths[depths.len() - 1]));
        let trend = match last.partial_cmp(&first) {
            Some(Ordering::Greater) => "higher than",
            Some(Ordering::Less) => "lower than",
            _ => "the same as",
        };
        lines.push(format!(
            "- {net}: final training loss at the best rate {} layers; the deepest network's is \
             {trend} the shallowest's.",
            listed(depths.iter().map(at))
        ));
    }
    let below: Vec<&usize> = (depths.iter())
        .filter(|&&d| loss("highway", d) < loss("plain", d))
        .collect();
    lines.push(format!(
        "- The highway network's loss is below the plain network's at {} of {} depths{}.",
        below.len(),
        depths.len(),
        match below.is_empty() {
            true => String::new(),
            false => format!(" ({})", listed(below)),
        }
    ));
    lines.join("\n")
}
