//! `cargo xtask eval`: score a trained model on a dataset's validation split.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::module::Module;
use clap::Args;
use skipnet_data::registry::{DatasetKind, DatasetSpec};
use skipnet_train::{RunFolder, evaluate_model};

use crate::cli::{BackendArg, ClosedSet};
use crate::weights::ModelArgs;

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The dataset whose validation split is scored (the test split of CIFAR and the IDX
    /// datasets; `val/` of an image folder that has one). Default for a run folder: the run's.
    #[arg(long, value_parser = ClosedSet::<DatasetKind>::new())]
    dataset: Option<DatasetKind>,
    /// Data root; for folder / seg-folder, the folder itself. Default for a run folder with
    /// no --dataset: the run's.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Score a seeded subset of this many validation items (synthetic data: generate this
    /// many).
    #[arg(long)]
    valid_size: Option<usize>,
    /// Also write every figure as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Folder for confusion.csv, confusion.png and per_class.csv (classifiers). Default:
    /// `<run>/eval` for a run folder, `eval-<arch>` beside the weights file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// auto (the fastest CPU backend compiled in), or a backend (must be compiled in).
    #[arg(long, default_value = "auto", value_parser = ClosedSet::<BackendArg>::new())]
    backend: BackendArg,
    /// Download the dataset into --data-dir first when it is not there (cifar10, cifar100,
    /// mnist, fashion-mnist).
    #[arg(long)]
    download: bool,
}

/// The dataset to score on: the run's own unless `--dataset` names another.
fn dataset_spec(args: &EvalArgs) -> Result<DatasetSpec> {
    let run = args
        .model
        .weights
        .is_dir()
        .then(|| RunFolder::new(&args.model.weights));
    let mut spec = match (args.dataset, &run) {
        (Some(kind), _) => DatasetSpec::new(kind),
        // The data the run validated on (--valid-size and --data-dir change it).
        (None, Some(run)) => run.read_config()?.spec.dataset,
        (None, None) => bail!(
            "{} is a weights file: name the data with --dataset (and --data-dir)",
            args.model.weights.display()
        ),
    };
    if let Some(dir) = &args.data_dir {
        spec.root = Some(dir.clone());
    }
    if let Some(n) = args.valid_size {
        spec.valid_size = Some(n);
    }
    Ok(spec)
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let data = dataset_spec(args)?;
    if args.download {
        crate::data::download(&data)?;
    }
    let device = args.backend.backend().device()?;
    let (model, recipe, weights) = args.model.load(&device)?;
    let model = model.valid();
    let eval = evaluate_model(&model, &recipe, &data)?;
    println!(
        "{} on {} ({} validation items{})",
        weights.display(),
        data.kind,
        eval.items,
        recipe
            .preprocessing
            .as_ref()
            .map(|p| format!(", {} preprocessing", p.preset))
            .unwrap_or_default()
    );
    for (name, value) in &eval.metrics {
        let unit = if name == "loss" { "" } else { " %" };
        println!("  {name:<20} {value:>9.4}{unit}");
    }
    let per_class = eval.per_class();
    if !per_class.is_empty() {
        println!("  per class (items, top-1):");
        let shown = 20;
        for (name, items, correct) in per_class.iter().take(shown) {
            println!(
                "    {name:<24} {items:>6}  {:6.2} %",
                100.0 * *correct as f64 / *items as f64
            );
        }
        if per_class.len() > shown {
            println!("    … {} more in per_class.csv", per_class.len() - shown);
        }
    }
    let out = args.out.clone().unwrap_or_else(|| {
        if args.model.weights.is_dir() {
            args.model.weights.join("eval")
        } else {
            args.model
                .weights
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(format!("eval-{}", args.model.arch))
        }
    });
    for file in eval.write_tables(&out)? {
        println!("wrote {}", file.display());
    }
    if let Some(path) = &args.json {
        let mut json = eval.to_json();
        json["weights"] = serde_json::json!(weights.display().to_string());
        json["checkpoint"] = serde_json::json!(args.model.checkpoint.to_string());
        json["dataset"] = serde_json::to_value(&data)?;
        json["parameters"] = serde_json::json!(model.num_params());
        let text = serde_json::to_string_pretty(&json)?;
        skipnet_data::image::write_bytes_atomically(path, text.as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
