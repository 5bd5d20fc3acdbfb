//! Batch-norm diagnosis of a classification run: the loss of one checkpoint with the running
//! statistics that validation uses, and with each batch's own statistics (as in training). A
//! large gap means the running averages lag behind the weights.
//!
//! `cargo run --release -p skipnet-train --example bn_statistics -- RUN_DIR EPOCH`
use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Device;
use skipnet_data::batch::{ClassificationBatch, ClassificationBatcher};
use skipnet_data::registry::{Splits, open};
use skipnet_train::RunFolder;
use skipnet_train::classification::ClassificationModel;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(epoch)) = (args.first(), args.get(1)) else {
        return Err("usage: bn_statistics RUN_DIR EPOCH".into());
    };
    let run = RunFolder::new(dir);
    let config = run.read_config()?;
    let device = Device::flex().autodiff();
    let checkpoint = run.path().join(format!("checkpoint/model-{epoch}.bpk"));
    let load = || -> Result<ClassificationModel, Box<dyn std::error::Error>> {
        let mut model = ClassificationModel::new(config.spec.model.init(&device)?, 0.0)?;
        model.load_from(&mut BurnpackStore::from_file(&checkpoint))?;
        Ok(model)
    };
    let Splits::Classification(data) = open(&config.spec.dataset)? else {
        return Err("not a classification run".into());
    };
    let batcher = ClassificationBatcher::new(data.normalization.clone(), data.input[0]);
    for (split, items) in [("train", &data.train), ("valid", &data.valid)] {
        let batches = (0..items.len().min(1024))
            .step_by(config.spec.batch_size)
            .map(|start| {
                let end = (start + config.spec.batch_size).min(items.len());
                let batch = (start..end)
                    .map(|i| items.get(i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((batcher.batch(batch, &device), (end - start) as f64))
            })
            .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
        let n: f64 = batches.iter().map(|(_, k)| k).sum();
        // Running statistics first: a training-mode pass updates them.
        let eval = load()?.valid();
        let running: f64 = batches
            .iter()
            .map(|(b, k)| {
                let inner = ClassificationBatch {
                    images: b.images.clone().inner(),
                    targets: b.targets.clone().inner(),
                };
                eval.forward_step(inner).loss.into_scalar::<f32>() as f64 * k
            })
            .sum();
        let train = load()?;
        let batch: f64 = batches
            .iter()
            .map(|(b, k)| train.forward_step(b.clone()).loss.into_scalar::<f32>() as f64 * k)
            .sum();
        println!(
            "{split}: loss {:.3} with running BN statistics, {:.3} with batch statistics ({n} images)",
            running / n,
            batch / n
        );
    }
    Ok(())
}
