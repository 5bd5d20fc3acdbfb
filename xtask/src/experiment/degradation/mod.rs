//! The degradation experiment (He et al. 2015, Fig. 1 and 6): deeper plain networks train
//! worse; the same depth with identity shortcuts trains better.

use anyhow::{Result, bail};
use clap::Args;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_train::plots::{Band, Panel, band_panels};
use skipnet_train::sweep::Order;
use skipnet_train::{Cell, Column, Spread, Sweep, TrainSpec};

use super::report::{Report, Table, above_by_seed, listed, num, spread_cell};
use super::{CommonArgs, RecipeArgs, expected_time, pick_dataset, setup};
use crate::cli::ClosedSet;

mod recipe;

pub use recipe::Budget;
use recipe::{Error, REAL_DATA, TRAIN_ERROR, VALID_ERROR, error, paper, recipe};

/// The two families compared, plain first.
const NETS: [&str; 2] = ["plain", "resnet"];

#[derive(Args, Debug)]
pub struct DegradationArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The recipe; the flags below override single values of it.
    #[arg(long, value_enum, default_value_t = Budget::Cpu)]
    budget: Budget,
    /// The dataset (default: fashion-mnist, else cifar10 when its files are there, else
    /// synthetic-shapes; cifar10 with `--budget paper`).
    #[arg(long, value_parser = ClosedSet::<DatasetKind>::new())]
    dataset: Option<DatasetKind>,
    /// The depths (6n+2) to compare.
    #[arg(long, value_delimiter = ',', default_value = "20,56")]
    depths: Vec<usize>,
    /// Seeds per network (each a different initialisation, subset, order and augmentation).
    #[arg(long, default_value_t = 2)]
    seeds: u64,
    #[command(flatten)]
    recipe: RecipeArgs,
}

pub fn run(args: &DegradationArgs) -> Result<()> {
    let Some(setup) = setup(&args.common, "degradation")? else {
        return Ok(());
    };
    let (depths, seeds) = match args.common.quick {
        true => (vec![8, 14], 2),
        false => (args.depths.clone(), args.seeds),
    };
    if depths.len() < 2 || seeds == 0 {
        bail!("--depths needs at least two depths and --seeds at least one seed");
    }
    let (dataset, data_note) = match (args.budget, args.dataset) {
        (Budget::Paper, None) => (
            DatasetKind::Cifar10,
            "Data: `cifar10` (the paper's).".into(),
        ),
        (_, requested) => pick_dataset(requested, &REAL_DATA, DatasetKind::SyntheticShapes),
    };
    let data = DatasetSpec::new(dataset).with_seed(args.common.seed);
    let overrides = recipe(args);
    let recipe = |arch: &str| overrides.apply(TrainSpec::he2015(arch, data.clone())?);
    let template = recipe("cifar-resnet20")?;
    let nets: Vec<(&str, usize)> = NETS
        .iter()
        .flat_map(|&net| depths.iter().map(move |&depth| (net, depth)))
        .collect();

    let cells = nets
        .iter()
        .map(|&(net, depth)| {
            let spec = recipe(&format!("cifar-{net}{depth}"))?;
            Ok(Cell::new(format!("{net}-{depth}"), spec).with_folder(format!("{net}{depth}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let seed_list = args.common.seeds(seeds);
    let sweep = Sweep::new(cells, seed_list.clone()).with_order(Order::SeedBySeed);
    // What the budget costs here, from measured step times, before spending it.
    let expected_line = expected_time(&sweep, setup.backend)?;
    let results = sweep.run(&setup.dir, setup.backend)?;
    let train_items = results
        .runs
        .iter()
        .find_map(|r| Some(r.result()?.config.train_items));
    let train_items = train_items.unwrap_or(0);
    let steps_per_epoch = train_items.div_ceil(template.batch_size);
    let steps = steps_per_epoch * template.epochs;
    results.write_csv(
        &setup.dir.join("degradation.csv"),
        &[
            Column::label("net"),
            Column::seed(),
            Column::new("step", |_, _, r| {
                (r.map_or(0, |r| r.epoch) * steps_per_epoch).to_string()
            }),
            Column::epoch(),
            Column::metric_as("train_error", TRAIN_ERROR.1, error),
            Column::metric_as("valid_error", VALID_ERROR.1, error),
        ],
    )?;

    // Final errors per network, seed by seed.
    let final_errors = |net: &str, (_, metric, map): Error| {
        results
            .final_values(net, metric)
            .into_iter()
            .map(map)
            .collect::<Vec<_>>()
    };
    let mut table = Table::new(&[
        "network",
        "final train error %: median (min–max)",
        "final valid error %: median (min–max)",
        "s / epoch",
        "He et al. test error % (CIFAR-10, 64k iterations)",
    ]);
    for &(net, depth) in &nets {
        let name = format!("{net}-{depth}");
        table.row(vec![
            name.clone(),
            spread_cell(&final_errors(&name, TRAIN_ERROR), 1),
            spread_cell(&final_errors(&name, VALID_ERROR), 1),
            num(results.seconds_per_epoch(&name).median, 1),
            paper(net, depth).into(),
        ]);
    }

    let (shallow, deep) = (depths[0], depths[depths.len() - 1]);
    let (plain_deep, plain_shallow) = (format!("plain-{deep}"), format!("plain-{shallow}"));
    let (res_deep, res_shallow) = (format!("resnet-{deep}"), format!("resnet-{shallow}"));
    let median_valid = |net: &str| Spread::of(&final_errors(net, VALID_ERROR)).median;
    let findings = format!(
        "## What the numbers say\n\n- Degradation: {}.\n- Shortcuts: {}.\n- Depth with \
         shortcuts: {}; medians {} vs {} %.{} This run trains {steps} steps of batch {} per \
         network on {train_items} images ({dataset}); the paper {}",
        above_by_seed(&results, [&plain_deep, &plain_shallow], TRAIN_ERROR),
        above_by_seed(&results, [&plain_deep, &res_deep], TRAIN_ERROR),
        above_by_seed(&results, [&res_shallow, &res_deep], VALID_ERROR),
        num(median_valid(&res_shallow), 1),
        num(median_valid(&res_deep), 1),
        match (paper("resnet", deep), paper("resnet", shallow)) {
            ("–", _) | (_, "–") => String::new(),
            (d, s) => format!(
                " In the paper (CIFAR-10 test error, 64k iterations) ResNet-{deep} is {d} % and \
                 ResNet-{shallow} {s} %."
            ),
        },
        template.batch_size,
        if steps >= 64_000 {
            "did the same number of steps.".to_string()
        } else {
            format!(
                "trained {:.0}× as many steps on 45k images: at this budget the deeper \
                 ResNet's extra capacity has not paid off, which is what a budget this short \
                 can say, not a contradiction of the paper.",
                64_000.0 / steps as f64
            )
        },
    );

    let x = |epoch: usize| (epoch * steps_per_epoch) as f64;
    let mut panels = Vec::new();
    for net in NETS {
        let mut bands = Vec::new();
        for (i, &depth) in depths.iter().enumerate() {
            let name = format!("{net}-{depth}");
            for ((_, metric, map), width) in [(TRAIN_ERROR, 1), (VALID_ERROR, 3)] {
                let legend = format!("{name} {}", metric.split.name());
                let points = results.band(&name, metric, x, map);
                bands.push(Band::new(legend, i, points).with_width(width));
            }
        }
        let family = if net == "plain" { "plain" } else { "ResNet" };
        let title = format!("{family} (thin: training error, bold: validation error)");
        panels.push(Panel { title, bands });
    }
    band_panels(
        &setup.dir.join("degradation.png"),
        &format!("Error (%) against iterations, median and min–max over {seeds} seeds"),
        "iterations",
        "error %",
        &panels,
        false,
    )?;

    let mut report = Report::new(
        "Degradation: plain vs residual networks of the same depth",
        &format!(
            "Plain and residual CIFAR networks (option A shortcuts) of depths {}, trained with \
             one recipe ({} budget). {data_note} {train_items} training images (a seeded subset \
             per seed), {} validation images, {}; {} epochs of {steps_per_epoch} \
             steps = {steps} iterations, batch {}, SGD lr {} (momentum 0.9, weight decay 1e-4, \
             {} schedule, {} warm-up epoch(s)); seeds {}.\n\n{expected_line}\n\n\
             He et al.'s budget on a GPU: `cargo xtask experiment degradation --budget paper \
             --backend cuda` (CIFAR-10 under `datasets/cifar-10-batches-bin`; it prints its \
             expected time from step times measured on that machine before it starts).",
            listed(&depths),
            format!("{:?}", args.budget).to_lowercase(),
            (template.dataset.valid_size).map_or("all".to_string(), |v| v.to_string()),
            dataset.augmentation(),
            template.epochs,
            template.batch_size,
            template.lr,
            template.schedule.kind().name(),
            template.warmup_epochs,
            listed(&seed_list),
        ),
        &setup.command,
    );
    report.commands.extend(results.commands());
    report.sections.push(format!(
        "## Results\n\n{}\n{findings}\n\n![error curves](degradation.png)\n\nRaw numbers: \
         `degradation.csv` (one row per network, seed and evaluation point; errors in %).",
        table.markdown()
    ));
    report.write(&setup.dir)
}
