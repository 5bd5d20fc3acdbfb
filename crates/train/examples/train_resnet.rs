//! Train a CIFAR ResNet-20 on the built-in synthetic shapes with He et al.'s recipe, continue
//! the run for one more epoch from its checkpoint, and score the saved model.
//!
//! `cargo run --release -p skipnet-train --example train_resnet -- [RUN_DIR] [EPOCHS] [IMAGES]`
use skipnet_data::{DatasetKind, DatasetSpec};
use skipnet_train::{Metric, RunFolder, RunOptions, TrainSpec, evaluate, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().map_or("runs/example-resnet20", String::as_str);
    let epochs: usize = args.get(1).map_or(Ok(4), |s| s.parse())?;
    let images: usize = args.get(2).map_or(Ok(3000), |s| s.parse())?;

    // Built-in data: nothing to download. He et al.'s SGD recipe, shortened.
    let data = DatasetSpec::new(DatasetKind::SyntheticShapes)
        .with_sizes(Some(images), Some(images.div_ceil(6)));
    let spec = TrainSpec::he2015("cifar-resnet20", data.clone())?.with_epochs(epochs);
    let options = RunOptions::new(dir).with_quiet(true);
    let first = run(&spec, &options)?;
    println!(
        "after {epochs} epochs: {:.1} % valid",
        first.last(Metric::VALID_ACCURACY)
    );

    // The run folder holds model, optimiser and schedule state: continue it.
    let more = run(
        &spec.with_epochs(epochs + 1),
        &options.clone().with_resume(true),
    )?;
    println!(
        "after {} epochs: {:.1} % valid",
        more.history.len(),
        more.last(Metric::VALID_ACCURACY)
    );

    // Score the saved model as another program would, from the folder alone.
    let scores = evaluate(&RunFolder::new(dir), &data, options.backend)?;
    println!(
        "evaluated on {} images: {:.1} %",
        scores.items,
        scores.get("accuracy")
    );
    Ok(())
}
