//! Srivastava, Greff & Schmidhuber 2015 ("Training Very Deep Networks"), Fig. 1: plain and
//! highway MLPs of increasing depth, each at its best learning rate of a small search, trained
//! the same way otherwise; does the training loss get worse with depth?

use anyhow::{Result, bail};
use clap::Args;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_models::ModelConfig;
use skipnet_models::registry::{HIGHWAY_MLP_WIDTH, PLAIN_MLP_WIDTH, highway_gate_bias};
use skipnet_train::plots::{Band, Panel, band_panels};
use skipnet_train::{ScheduleSpec, TrainSpec};

use super::report::{Report, Table, listed, median_min_max, num, write_csv};
use super::{CommonArgs, TrainRun, pick_dataset, setup, train_or_diverge};
use crate::cli::ClosedSet;

#[derive(Args, Debug)]
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
    #[arg(long, value_delimiter = ',', default_value = "0.003,0.01,0.03")]
    lrs: Vec<f64>,
    /// Seeds per network and rate (each a different initialisation, subset and order).
    #[arg(long, default_value_t = 1)]
    seeds: u64,
}

const NETS: [&str; 2] = ["plain", "highway"];

fn arch(net: &str, depth: usize) -> String {
    format!("{net}-mlp{depth}")
}

/// One training run: `Err` holds why it stopped (a non-finite loss).
struct Trial {
    net: &'static str,
    depth: usize,
    lr: f64,
    seed: u64,
    run: std::result::Result<TrainRun, String>,
}

impl Trial {
    fn final_train_loss(&self) -> f64 {
        self.run
            .as_ref()
            .map_or(f64::INFINITY, |r| r.last("train", "loss"))
    }
}

pub fn run(args: &HighwayArgs) -> Result<()> {
    let Some(setup) = setup(&args.common, "highway")? else {
        return Ok(());
    };
    let (depths, epochs, train_size, valid_size, batch, lrs, seeds) = if args.common.quick {
        (vec![2, 4], 1, 64, 32, 32, vec![0.01, 0.03], 1)
    } else {
        (
            args.depths.clone(),
            args.epochs,
            args.train_size,
            args.valid_size,
            args.batch_size,
            args.lrs.clone(),
            args.seeds.max(1),
        )
    };
    if depths.is_empty() || lrs.is_empty() || lrs.iter().any(|lr| !lr.is_finite() || *lr <= 0.0) {
        bail!("--depths and --lrs need at least one value each, and rates must be positive");
    }
    let (dataset, data_note) = pick_dataset(
        args.dataset,
        &[DatasetKind::FashionMnist],
        DatasetKind::SyntheticShapes,
    );
    println!("{data_note}");
    for &depth in &depths {
        for net in NETS {
            ModelConfig::from_name(&arch(net, depth))?;
        }
    }
    let mut trials = Vec::new();
    let mut params = std::collections::BTreeMap::new();
    for &depth in &depths {
        for net in NETS {
            for &lr in &lrs {
                for seed in (0..seeds).map(|s| args.common.seed + s) {
                    let arch = arch(net, depth);
                    let data = DatasetSpec::new(dataset)
                        .with_sizes(Some(train_size), Some(valid_size))
                        .with_seed(seed);
                    let spec = TrainSpec::he2015(&arch, data)?
                        .with_epochs(epochs)
                        .with_batch_size(batch)
                        .with_lr(lr)
                        .with_schedule(ScheduleSpec::Cosine)
                        .with_seed(seed);
                    let run =
                        train_or_diverge(&setup, &format!("{arch}-lr{lr}-seed{seed}"), &spec)?;
                    if let Ok(run) = &run {
                        params.insert(arch.clone(), run.result.model.trainable_params());
                    }
                    trials.push(Trial {
                        net,
                        depth,
                        lr,
                        seed,
                        run,
                    });
                }
            }
        }
    }

    let mut rows = Vec::new();
    for t in &trials {
        let key = |epoch: String| {
            vec![
                t.net.to_string(),
                t.depth.to_string(),
                params
                    .get(&arch(t.net, t.depth))
                    .map_or(String::new(), |p| p.to_string()),
                t.lr.to_string(),
                t.seed.to_string(),
                epoch,
            ]
        };
        match &t.run {
            Ok(run) => {
                for r in &run.result.history {
                    let get = |split: &str, metric: &str| r.get(split, metric).unwrap_or(f64::NAN);
                    let mut row = key(r.epoch.to_string());
                    row.extend([
                        format!("{}", get("train", "loss")),
                        format!("{}", get("valid", "loss")),
                        format!("{}", get("valid", "accuracy")),
                    ]);
                    rows.push(row);
                }
            }
            Err(_) => {
                let mut row = key("0".into());
                row.extend(["NaN".into(), "NaN".into(), "NaN".into()]);
                rows.push(row);
            }
        }
    }
    write_csv(
        &setup.dir.join("highway.csv"),
        &[
            "net",
            "depth",
            "params",
            "lr",
            "seed",
            "epoch",
            "train_loss",
            "valid_loss",
            "valid_accuracy",
        ],
        &rows,
    )?;

    // Per network: the median final training loss at each rate, and the best rate.
    let of = |net: &'static str, depth: usize, lr: f64| {
        trials
            .iter()
            .filter(move |t| t.net == net && t.depth == depth && t.lr == lr)
    };
    let median_loss = |net: &'static str, depth: usize, lr: f64| {
        let losses: Vec<f64> = of(net, depth, lr).map(Trial::final_train_loss).collect();
        if losses.iter().any(|l| !l.is_finite()) {
            f64::INFINITY
        } else {
            median_min_max(&losses).0
        }
    };
    let best_lr = |net: &'static str, depth: usize| {
        lrs.iter()
            .copied()
            .min_by(|a, b| median_loss(net, depth, *a).total_cmp(&median_loss(net, depth, *b)))
            .unwrap_or(f64::NAN)
    };
    let loss_cell = |loss: f64| {
        if loss.is_finite() {
            num(loss, 4)
        } else {
            "diverged".into()
        }
    };
    let mut headers = vec![
        "network".to_string(),
        "params".into(),
        "gate bias".into(),
        "best lr".into(),
        "final train loss (best lr)".into(),
        "final valid accuracy % (best lr)".into(),
    ];
    headers.extend(lrs.iter().map(|lr| format!("final train loss, lr {lr}")));
    let mut table = Table::new(&headers.iter().map(String::as_str).collect::<Vec<_>>());
    let mut best = Vec::new();
    for net in NETS {
        for &depth in &depths {
            let lr = best_lr(net, depth);
            let loss = median_loss(net, depth, lr);
            let accuracy = median_min_max(
                &of(net, depth, lr)
                    .filter_map(|t| t.run.as_ref().ok())
                    .map(|r| r.last("valid", "accuracy"))
                    .collect::<Vec<_>>(),
            )
            .0;
            best.push((net, depth, lr, loss));
            let mut row = vec![
                arch(net, depth),
                params
                    .get(&arch(net, depth))
                    .map_or("–".into(), |p| p.to_string()),
                if net == "highway" {
                    num(highway_gate_bias(depth), 2)
                } else {
                    "–".into()
                },
                lr.to_string(),
                loss_cell(loss),
                num(accuracy, 1),
            ];
            row.extend(lrs.iter().map(|&lr| loss_cell(median_loss(net, depth, lr))));
            table.row(row);
        }
    }

    let panels: Vec<Panel> = NETS
        .iter()
        .map(|&net| Panel {
            title: format!(
                "{net} ({} units a layer), best lr each",
                if net == "plain" {
                    PLAIN_MLP_WIDTH
                } else {
                    HIGHWAY_MLP_WIDTH
                }
            ),
            bands: depths
                .iter()
                .enumerate()
                .map(|(i, &depth)| {
                    let lr = best_lr(net, depth);
                    let points = (1..=epochs)
                        .map(|epoch| {
                            let values: Vec<f64> = of(net, depth, lr)
                                .filter_map(|t| t.run.as_ref().ok())
                                .filter_map(|r| {
                                    r.result
                                        .history
                                        .iter()
                                        .find(|h| h.epoch == epoch)
                                        .and_then(|h| h.get("train", "loss"))
                                })
                                .collect();
                            let (median, lo, hi) = median_min_max(&values);
                            (epoch as f64, lo, median, hi)
                        })
                        .collect();
                    Band::new(format!("{depth} layers (lr {lr})"), i, points)
                })
                .collect(),
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
             Every network trains {epochs} epochs on {train_size} images ({valid_size} for \
             validation), batch {batch}, SGD with momentum 0.9 and weight decay 1e-4, one \
             warm-up epoch then cosine decay, at each learning rate of {{{}}}, seeds {}; like \
             the paper's Fig. 1, each network is shown at its best rate (lowest median final \
             training loss; a run whose loss became non-finite counts as diverged).",
            listed(&depths),
            PLAIN_MLP_WIDTH * PLAIN_MLP_WIDTH + PLAIN_MLP_WIDTH,
            2 * (HIGHWAY_MLP_WIDTH * HIGHWAY_MLP_WIDTH + HIGHWAY_MLP_WIDTH),
            listed(&lrs),
            listed((0..seeds).map(|s| args.common.seed + s)),
        ),
        &setup.command,
    );
    report.commands.extend(
        trials
            .iter()
            .filter_map(|t| t.run.as_ref().ok().map(|r| r.command.clone())),
    );
    report.sections.push(format!(
        "## Results\n\n{}\nLosses and accuracies are medians over the seeds.\n\n{}\n\n\
         ![training loss by depth](highway.png)\n\nRaw numbers: `highway.csv` (one row per \
         network, rate, seed and epoch; a row with epoch 0 and NaN marks a run stopped by a \
         non-finite loss).",
        table.markdown(),
        findings(&best, &depths)
    ));
    report.write(&setup.dir)
}

/// Sentences read off the best-rate losses: each family from the shallowest to the deepest,
/// and the two families depth by depth.
fn findings(best: &[(&str, usize, f64, f64)], depths: &[usize]) -> String {
    let loss = |net: &str, depth: usize| {
        best.iter()
            .find(|b| b.0 == net && b.1 == depth)
            .map_or(f64::NAN, |b| b.3)
    };
    let text = |l: f64| {
        if l.is_finite() {
            num(l, 3)
        } else {
            "diverged".into()
        }
    };
    let mut lines = vec!["## What the numbers say\n".to_string()];
    for net in NETS {
        let by_depth = listed(
            depths
                .iter()
                .map(|&d| format!("{} at {d}", text(loss(net, d)))),
        );
        let (first, last) = (loss(net, depths[0]), loss(net, depths[depths.len() - 1]));
        let trend = if last > first {
            "higher than"
        } else if last < first {
            "lower than"
        } else {
            "the same as"
        };
        lines.push(format!(
            "- {net}: final training loss at the best rate {by_depth} layers; the deepest \
             network's is {trend} the shallowest's."
        ));
    }
    let below: Vec<String> = depths
        .iter()
        .filter(|&&d| loss("highway", d) < loss("plain", d))
        .map(|d| d.to_string())
        .collect();
    lines.push(format!(
        "- The highway network's loss is below the plain network's at {} of {} depths{}.",
        below.len(),
        depths.len(),
        if below.is_empty() {
            String::new()
        } else {
            format!(" ({})", below.join(", "))
        }
    ));
    lines.join("\n")
}
