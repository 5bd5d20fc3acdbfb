//! Exercise 2: ResNet-50/101 from bottleneck blocks against ResNet-18/34 from basic blocks:
//! parameters, FLOPs, measured throughput and a short training run of each.

use anyhow::Result;
use burn::module::Module;
use clap::Args;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_models::ModelConfig;
use skipnet_train::plots::{Series, line_chart};
use skipnet_train::timing::{time_inference, time_train_step};
use skipnet_train::{Cell, Metric, ScheduleSpec, Sweep, TrainSpec};

use super::report::{Report, Table, num, write_csv};
use super::{CommonArgs, setup};

#[derive(Args, Debug)]
pub struct BottleneckArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Side of the square input for the throughput measurements (224 = ImageNet).
    #[arg(long, default_value_t = 64)]
    image_size: usize,
    /// Batch of the throughput measurements.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Training images of the short run (synthetic-shapes, 32×32).
    #[arg(long, default_value_t = 512)]
    train_size: usize,
    /// Epochs of the short run.
    #[arg(long, default_value_t = 2)]
    epochs: usize,
}

pub fn run(args: &BottleneckArgs) -> Result<()> {
    let Some(setup) = setup(&args.common, "bottleneck")? else {
        return Ok(());
    };
    let (archs, side, batch, train_size, epochs, iters): (&[&str], _, _, _, _, _) =
        if args.common.quick {
            (&["resnet18", "resnet50"], 32, 2, 16, 1, 1)
        } else {
            (
                &["resnet18", "resnet34", "resnet50", "resnet101"],
                args.image_size,
                args.batch_size,
                args.train_size,
                args.epochs,
                3,
            )
        };
    let device = setup.backend.device()?;
    let mut table = Table::new(&[
        "network",
        "block",
        "layers",
        "params",
        "GMACs (224²)",
        &format!("infer img/s ({side}², b{batch})"),
        &format!("train img/s ({side}², b{batch})"),
        "valid accuracy %",
        "s / epoch",
    ]);
    // The short runs first (one sweep), then each network's throughput.
    let data = DatasetSpec::new(DatasetKind::SyntheticShapes)
        .with_sizes(Some(train_size), Some((train_size / 4).max(16)));
    let cells = archs
        .iter()
        .map(|&arch| {
            let spec = TrainSpec::he2015(arch, data.clone())?
                .with_epochs(epochs)
                .with_batch_size(32)
                .with_lr(0.05)
                .with_schedule(ScheduleSpec::Cosine);
            Ok(Cell::new(arch, spec))
        })
        .collect::<Result<Vec<_>>>()?;
    let runs = Sweep::single_seed(cells, args.common.seed).run(&setup.dir, setup.backend)?;
    let mut rows = Vec::new();
    let mut series = Vec::new();
    for (&arch, run) in archs.iter().zip(&runs.runs) {
        let config = ModelConfig::from_name(arch)?;
        let model = config.init(&device)?;
        let params = model.trainable_params();
        let macs = model.summary(arch, [3, 224, 224])?.flops;
        let input = [3, side, side];
        let infer = batch as f64 / time_inference(&model.valid(), &device, batch, input, 1, iters)?;
        let autodiff = device.clone().autodiff();
        let trained = config.init(&autodiff)?;
        let step =
            batch as f64 / time_train_step(trained, &autodiff, batch, input, 1, iters)?.seconds;
        let (block, layers) = match arch {
            "resnet18" => ("basic", 18),
            "resnet34" => ("basic", 34),
            "resnet50" => ("bottleneck", 50),
            _ => ("bottleneck", 101),
        };
        let accuracy = run.last(Metric::VALID_ACCURACY);
        let seconds = run.result().map_or(f64::NAN, |r| r.seconds_per_epoch());
        table.row(vec![
            arch.to_string(),
            block.into(),
            layers.to_string(),
            format!("{:.1} M", params as f64 / 1e6),
            num(macs as f64 / 1e9, 2),
            num(infer, 1),
            num(step, 1),
            num(accuracy, 1),
            num(seconds, 1),
        ]);
        rows.push(vec![
            arch.to_string(),
            block.into(),
            params.to_string(),
            macs.to_string(),
            format!("{infer}"),
            format!("{step}"),
            format!("{accuracy}"),
            format!("{seconds}"),
        ]);
        let points = run.curve(Metric::TRAIN_LOSS);
        series.push(Series {
            label: arch.to_string(),
            points,
        });
    }
    write_csv(
        &setup.dir.join("bottleneck.csv"),
        &[
            "arch",
            "block",
            "params",
            "macs_224",
            "infer_img_s",
            "train_img_s",
            "valid_accuracy",
            "seconds_per_epoch",
        ],
        &rows,
    )?;
    line_chart(
        &setup.dir.join("bottleneck.png"),
        "Training loss of the short run",
        "epoch",
        "loss",
        &series,
        false,
    )?;
    let mut report = Report::new(
        "Bottleneck against basic blocks",
        &format!(
            "torchvision-identical ResNet-18/34 (basic blocks: two 3×3 convolutions) and \
             ResNet-50/101 (bottlenecks: 1×1 reduce, 3×3, 1×1 expand ×4). Parameters and \
             multiply-accumulates are exact (from `cargo xtask summary`); throughput is the \
             median of {iters} timed iterations after one warm-up on {} at {side}×{side}, \
             batch {batch}; the short run trains each for {epochs} epoch(s) on {train_size} \
             synthetic-shapes images (32×32) with the same recipe.",
            setup.backend.name()
        ),
        &setup.command,
    );
    report.commands.extend(runs.commands());
    report.sections.push(format!(
        "## Results\n\n{}\n![training loss](bottleneck.png)\n\nRaw numbers: `bottleneck.csv`.",
        table.markdown()
    ));
    report.write(&setup.dir)
}
