//! The degradation experiment (He et al. 2015, Fig. 1 and 6): deeper plain networks train
//! worse; the same depth with identity shortcuts trains better.

use std::time::Instant;

use anyhow::{Result, bail};
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Int, Tensor};
use clap::{Args, ValueEnum};
use skipnet_data::batch::ClassificationBatch;
use skipnet_data::registry::{Augmentation, DatasetKind, DatasetSpec, Splits, open};
use skipnet_models::ModelConfig;
use skipnet_train::TrainSpec;
use skipnet_train::classification::ClassificationModel;
use skipnet_train::plots::{Band, Panel, band_panels};

use super::report::{Report, Table, listed, median_min_max, num, write_csv};
use super::{CommonArgs, TrainRun, pick_dataset, setup, train};
use crate::cli::ClosedSet;
use skipnet_train::ScheduleKind;

/// `--budget`: how long the networks train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Budget {
    /// A budget measured to show the orderings on a 2-core CPU in under 30 minutes.
    Cpu,
    /// He et al.'s CIFAR-10 recipe: 64k iterations of batch 128, lr 0.1 ÷10 at 32k and 48k
    /// (for a GPU).
    Paper,
}

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
    /// Epochs per network (cpu: 3; paper: 164 of 391 steps ≈ 64k iterations).
    #[arg(long)]
    epochs: Option<usize>,
    /// Training images, a seeded subset (cpu: 2000; paper: the whole training set).
    #[arg(long)]
    train_size: Option<usize>,
    /// Validation images (cpu: 500; paper: the whole test set).
    #[arg(long)]
    valid_size: Option<usize>,
    /// Images per batch (cpu: 64; paper: 128).
    #[arg(long)]
    batch_size: Option<usize>,
    /// SGD learning rate (0.1).
    #[arg(long)]
    lr: Option<f64>,
    /// Schedule (cpu: cosine; paper: step, ÷10 at 50 % and 75 % of the epochs).
    #[arg(long, value_parser = ClosedSet::<ScheduleKind>::new())]
    schedule: Option<ScheduleKind>,
}

/// One budget, resolved.
#[derive(Debug, Clone)]
struct Recipe {
    epochs: usize,
    train_size: Option<usize>,
    valid_size: Option<usize>,
    batch: usize,
    lr: f64,
    schedule: ScheduleKind,
    warmup_epochs: usize,
}

impl Recipe {
    fn of(args: &DegradationArgs) -> Self {
        let base = match args.budget {
            Budget::Cpu => Recipe {
                epochs: 3,
                train_size: Some(2000),
                valid_size: Some(500),
                batch: 64,
                lr: 0.1,
                schedule: ScheduleKind::Cosine,
                warmup_epochs: 1,
            },
            // 164 epochs of ⌈50000 / 128⌉ = 391 steps = 64,124 iterations; the step schedule
            // divides the rate at epochs 82 and 123 (32k and 48k iterations). He et al. warm up
            // only ResNet-110.
            Budget::Paper => Recipe {
                epochs: 164,
                train_size: None,
                valid_size: None,
                batch: 128,
                lr: 0.1,
                schedule: ScheduleKind::Step,
                warmup_epochs: 0,
            },
        };
        Recipe {
            epochs: args.epochs.unwrap_or(base.epochs),
            train_size: args.train_size.or(base.train_size),
            valid_size: args.valid_size.or(base.valid_size),
            batch: args.batch_size.unwrap_or(base.batch),
            lr: args.lr.unwrap_or(base.lr),
            schedule: args.schedule.unwrap_or(base.schedule),
            warmup_epochs: base.warmup_epochs,
        }
    }

    fn quick() -> Self {
        Recipe {
            epochs: 1,
            train_size: Some(64),
            valid_size: Some(32),
            batch: 32,
            lr: 0.05,
            schedule: ScheduleKind::Cosine,
            warmup_epochs: 0,
        }
    }
}

/// He et al. 2015, Table 6 (CIFAR-10 test error, %); the plain nets appear only in Fig. 6.
fn paper(net: &str, depth: usize) -> &'static str {
    match (net, depth) {
        ("resnet", 20) => "8.75",
        ("resnet", 32) => "7.51",
        ("resnet", 44) => "7.17",
        ("resnet", 56) => "6.97",
        ("resnet", 110) => "6.43",
        _ => "–",
    }
}

/// Seconds of one training step (forward, backward, SGD update) of `arch` at `batch` on
/// `input`-shaped random images, the median of three after one warm-up step.
fn step_seconds(
    arch: &str,
    input: [usize; 3],
    classes: usize,
    batch: usize,
    device: &Device,
) -> Result<f64> {
    let model = ModelConfig::from_name(arch)?
        .with_input(input)
        .with_num_classes(classes)
        .init(device)?;
    let mut model = ClassificationModel::new(model, 0.0)?;
    let mut optim = SgdConfig::new().init();
    let [c, h, w] = input;
    let batch = ClassificationBatch {
        images: Tensor::random([batch, c, h, w], Distribution::Default, device),
        targets: Tensor::<1, Int>::zeros([batch], device),
    };
    // Reading each step's loss waits for that step's forward pass, which needs the previous
    // update: the time between two reads is one whole step on lazy backends too.
    let mut reads = Vec::new();
    for _ in 0..5 {
        let output = model.forward_step(batch.clone());
        let loss: f32 = output.loss.clone().into_scalar();
        reads.push(Instant::now());
        if !loss.is_finite() {
            bail!("{arch}: the timing step's loss is not finite");
        }
        let grads = GradientsParams::from_grads(output.loss.backward(), &model);
        model = optim.step(0.01, model, grads);
    }
    // The first interval includes the warm-up step's backward; the other three are timed.
    let mut times: Vec<f64> = reads
        .windows(2)
        .skip(1)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

pub fn run(args: &DegradationArgs) -> Result<()> {
    let Some(setup) = setup(&args.common, "degradation")? else {
        return Ok(());
    };
    let (depths, recipe, seeds) = if args.common.quick {
        (vec![8, 14], Recipe::quick(), 2)
    } else {
        (args.depths.clone(), Recipe::of(args), args.seeds)
    };
    if depths.len() < 2 || seeds == 0 {
        bail!("--depths needs at least two depths and --seeds at least one seed");
    }
    let (dataset, data_note) = match (args.budget, args.dataset) {
        (Budget::Paper, None) => (
            DatasetKind::Cifar10,
            "Data: `cifar10` (the paper's).".to_string(),
        ),
        (_, requested) => pick_dataset(
            requested,
            &[DatasetKind::FashionMnist, DatasetKind::Cifar10],
            DatasetKind::SyntheticShapes,
        ),
    };
    println!("{data_note}");
    let data_spec = |seed: u64| {
        DatasetSpec::new(dataset)
            .with_sizes(recipe.train_size, recipe.valid_size)
            .with_seed(seed)
    };
    let Splits::Classification(probe) = open(&data_spec(args.common.seed))? else {
        bail!("{dataset} is not a classification dataset");
    };
    let (train_items, input, classes) = (probe.train.len(), probe.input, probe.num_classes);
    let augmentation = match probe.augmentation {
        Augmentation::PadCropFlip(p) => format!("pad-{p} random crop + horizontal flip"),
        Augmentation::RandomResizedCropFlip => "random-resized crop + horizontal flip".into(),
        Augmentation::None => "no augmentation".into(),
    };
    drop(probe);
    let steps_per_epoch = train_items.div_ceil(recipe.batch);
    let steps = steps_per_epoch * recipe.epochs;

    // What the budget costs here, from measured step times, before spending it.
    let device = setup.backend.device()?.autodiff();
    let mut expected = 0.0;
    let mut step_times = Vec::new();
    for net in ["plain", "resnet"] {
        for &depth in &depths {
            let arch = format!("cifar-{net}{depth}");
            let seconds = step_seconds(&arch, input, classes, recipe.batch, &device)?;
            expected += seconds * steps as f64 * seeds as f64;
            step_times.push(format!("{net}-{depth} {seconds:.3} s"));
        }
    }
    let expected_line = format!(
        "Expected time of the training steps on {} here: {:.0} min ({} networks × {seeds} \
         seeds × {steps} steps; measured s/step at batch {}: {}); validation comes on top.",
        setup.backend,
        expected / 60.0,
        depths.len() * 2,
        recipe.batch,
        step_times.join(", ")
    );
    println!("{expected_line}");

    let mut runs: Vec<(String, u64, TrainRun)> = Vec::new();
    for seed in (0..seeds).map(|s| args.common.seed + s) {
        for net in ["plain", "resnet"] {
            for &depth in &depths {
                let arch = format!("cifar-{net}{depth}");
                let mut spec = TrainSpec::he2015(&arch, data_spec(seed))?
                    .with_epochs(recipe.epochs)
                    .with_batch_size(recipe.batch)
                    .with_lr(recipe.lr)
                    .with_schedule(recipe.schedule.spec())
                    .with_seed(seed);
                spec.warmup_epochs = recipe.warmup_epochs;
                let run = train(&setup, &format!("{net}{depth}-seed{seed}"), &spec)?;
                runs.push((format!("{net}-{depth}"), seed, run));
            }
        }
    }

    let mut rows = Vec::new();
    for (net, seed, run) in &runs {
        for r in &run.result.history {
            let error = |split| 100.0 - r.get(split, "accuracy").unwrap_or(f64::NAN);
            rows.push(vec![
                net.clone(),
                seed.to_string(),
                (r.epoch * steps_per_epoch).to_string(),
                r.epoch.to_string(),
                format!("{}", error("train")),
                format!("{}", error("valid")),
            ]);
        }
    }
    write_csv(
        &setup.dir.join("degradation.csv"),
        &["net", "seed", "step", "epoch", "train_error", "valid_error"],
        &rows,
    )?;

    // Final errors per network, seed by seed.
    let final_error = |net: &str, split: &str| -> Vec<(u64, f64)> {
        runs.iter()
            .filter(|(n, _, _)| n == net)
            .map(|(_, seed, run)| (*seed, 100.0 - run.last(split, "accuracy")))
            .collect()
    };
    let spread =
        |values: &[(u64, f64)]| median_min_max(&values.iter().map(|p| p.1).collect::<Vec<_>>());
    let cell = |values: &[(u64, f64)]| {
        let (median, min, max) = spread(values);
        if values.len() > 1 {
            format!("{} ({}–{})", num(median, 1), num(min, 1), num(max, 1))
        } else {
            num(median, 1)
        }
    };
    let mut table = Table::new(&[
        "network",
        "final train error %: median (min–max)",
        "final valid error %: median (min–max)",
        "s / epoch",
        "He et al. test error % (CIFAR-10, 64k iterations)",
    ]);
    for net in ["plain", "resnet"] {
        for &depth in &depths {
            let name = format!("{net}-{depth}");
            let seconds: Vec<f64> = runs
                .iter()
                .filter(|(n, _, _)| *n == name)
                .map(|(_, _, r)| r.seconds_per_epoch())
                .collect();
            table.row(vec![
                name.clone(),
                cell(&final_error(&name, "train")),
                cell(&final_error(&name, "valid")),
                num(seconds.iter().sum::<f64>() / seconds.len().max(1) as f64, 1),
                paper(net, depth).into(),
            ]);
        }
    }

    let (shallow, deep) = (depths[0], depths[depths.len() - 1]);
    let compare = |a: &str, b: &str, split: &str| -> (usize, String) {
        let (ea, eb) = (final_error(a, split), final_error(b, split));
        let above = ea.iter().zip(&eb).filter(|(x, y)| x.1 > y.1).count();
        let detail = ea
            .iter()
            .zip(&eb)
            .map(|(x, y)| format!("seed {}: {} vs {}", x.0, num(x.1, 1), num(y.1, 1)))
            .collect::<Vec<_>>()
            .join("; ");
        (above, detail)
    };
    let plain_deep = format!("plain-{deep}");
    let plain_shallow = format!("plain-{shallow}");
    let res_deep = format!("resnet-{deep}");
    let res_shallow = format!("resnet-{shallow}");
    let (n1, d1) = compare(&plain_deep, &plain_shallow, "train");
    let (n2, d2) = compare(&plain_deep, &res_deep, "train");
    let (n3, d3) = compare(&res_shallow, &res_deep, "valid");
    let (res_deep_valid, res_shallow_valid) = (
        spread(&final_error(&res_deep, "valid")).0,
        spread(&final_error(&res_shallow, "valid")).0,
    );
    let findings = format!(
        "## What the numbers say\n\n\
         - Degradation: {plain_deep}'s final training error is above {plain_shallow}'s in {n1} of \
         {seeds} seeds ({d1}).\n\
         - Shortcuts: {plain_deep}'s final training error is above {res_deep}'s in {n2} of \
         {seeds} seeds ({d2}).\n\
         - Depth with shortcuts: {res_shallow}'s final validation error is above {res_deep}'s \
         in {n3} of {seeds} seeds ({d3}); medians {} vs {} %.{} This run trains {steps} steps \
         of batch {} per network on {train_items} images ({dataset}); the paper {}",
        num(res_shallow_valid, 1),
        num(res_deep_valid, 1),
        match (paper("resnet", deep), paper("resnet", shallow)) {
            ("–", _) | (_, "–") => String::new(),
            (d, s) => format!(
                " In the paper (CIFAR-10 test error, 64k iterations) ResNet-{deep} is {d} % and \
                 ResNet-{shallow} {s} %."
            ),
        },
        recipe.batch,
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

    let panels: Vec<Panel> = ["plain", "resnet"]
        .iter()
        .map(|&net| Panel {
            title: format!(
                "{} (thin: training error, bold: validation error)",
                if net == "plain" { "plain" } else { "ResNet" }
            ),
            bands: depths
                .iter()
                .enumerate()
                .flat_map(|(i, &depth)| {
                    let name = format!("{net}-{depth}");
                    let runs = &runs;
                    ["train", "valid"].into_iter().map(move |split| {
                        let points = (1..=recipe.epochs)
                            .map(|epoch| {
                                let values: Vec<f64> = runs
                                    .iter()
                                    .filter(|(n, _, _)| *n == name)
                                    .filter_map(|(_, _, r)| {
                                        r.result
                                            .history
                                            .iter()
                                            .find(|h| h.epoch == epoch)
                                            .and_then(|h| h.get(split, "accuracy"))
                                    })
                                    .map(|a| 100.0 - a)
                                    .collect();
                                let (median, min, max) = median_min_max(&values);
                                ((epoch * steps_per_epoch) as f64, min, median, max)
                            })
                            .collect();
                        Band::new(format!("{name} {split}"), i, points)
                            .with_width(if split == "train" { 1 } else { 3 })
                    })
                })
                .collect(),
        })
        .collect();
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
             per seed), {} validation images, {augmentation}; {} epochs of {steps_per_epoch} \
             steps = {steps} iterations, batch {}, SGD lr {} (momentum 0.9, weight decay 1e-4, \
             {} schedule, {} warm-up epoch(s)); seeds {}.\n\n{expected_line}\n\n\
             He et al.'s budget on a GPU: `cargo xtask experiment degradation --budget paper \
             --backend cuda` (CIFAR-10 under `datasets/cifar-10-batches-bin`; it prints its \
             expected time from step times measured on that machine before it starts).",
            listed(&depths),
            format!("{:?}", args.budget).to_lowercase(),
            recipe
                .valid_size
                .map_or("all".to_string(), |v| v.to_string()),
            recipe.epochs,
            recipe.batch,
            recipe.lr,
            format!("{:?}", recipe.schedule).to_lowercase(),
            recipe.warmup_epochs,
            listed((0..seeds).map(|s| args.common.seed + s)),
        ),
        &setup.command,
    );
    report
        .commands
        .extend(runs.iter().map(|(_, _, r)| r.command.clone()));
    report.sections.push(format!(
        "## Results\n\n{}\n{findings}\n\n![error curves](degradation.png)\n\nRaw numbers: \
         `degradation.csv` (one row per network, seed and evaluation point; errors in %).",
        table.markdown()
    ));
    report.write(&setup.dir)
}
