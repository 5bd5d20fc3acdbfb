//! [`run`]: a whole training run, from a [`TrainSpec`] to a finished run folder.

use std::time::Instant;

use skipnet_data::registry::open;
use skipnet_models::Model;

use crate::error::{Result, TrainError};
use crate::fit::Fit;
use crate::folder::{CONFIG_FORMAT, RunConfig, RunFolder};
use crate::history::EpochRecord;
use crate::metric::Metric;
use crate::spec::{RunOptions, TrainSpec};
use crate::task::task_of;

pub use crate::task::OVERLAY_IMAGES;

/// A finished run.
pub struct RunResult {
    /// The run folder, with everything written.
    pub folder: RunFolder,
    /// Its `config.json` as written: the spec with the model resolved.
    pub config: RunConfig,
    /// One record per epoch (earlier epochs of a resumed run included).
    pub history: Vec<EpochRecord>,
    /// The trained model, in inference mode on the run's device.
    pub model: Model,
    /// Wall-clock seconds of this call.
    pub seconds: f64,
}

impl RunResult {
    /// `metric` at the last epoch (NaN if not logged).
    pub fn last(&self, metric: Metric) -> f64 {
        self.history
            .last()
            .and_then(|r| r.value(metric))
            .unwrap_or(f64::NAN)
    }

    /// The highest value of `metric` over the epochs (NaN if never logged).
    pub fn best(&self, metric: Metric) -> f64 {
        self.history
            .iter()
            .filter_map(|r| r.value(metric))
            .fold(f64::NAN, f64::max)
    }

    /// Seconds per epoch trained by this call.
    pub fn seconds_per_epoch(&self) -> f64 {
        self.seconds / self.history.len().max(1) as f64
    }
}

/// Trains `spec` with `options`: opens the data, builds the model, checks the run folder
/// (writable, room for checkpoints, not already a run unless resuming), writes `config.json`,
/// trains on burn-train with checkpoints every epoch, then writes the plots, the final model
/// and, for U-Net, validation overlays. Progress goes to stdout unless `options.quiet`.
pub fn run(spec: &TrainSpec, options: &RunOptions) -> Result<RunResult> {
    spec.validate()?;
    // The preset the run uses, recorded: predict and eval prepare images the same way.
    let mut resolved = spec.clone();
    if spec.model.task() == skipnet_models::Task::Classification {
        resolved.dataset.preprocess = Some(spec.preset());
    } else {
        resolved.border_weight = Some(spec.border().map_or(0.0, |b| b.w0 as f64));
    }
    let spec = &resolved;
    if options.devices == 0 {
        return Err(TrainError::invalid("devices", "0 (at least 1)"));
    }
    let devices = options.backend.devices(options.devices)?;
    let device = devices[0].clone().autodiff();
    // Weight initialisation and random augmentation follow the seed.
    device.seed(spec.seed());
    let folder = RunFolder::new(&options.dir);
    let dir = folder.path().to_path_buf();
    let resume_from = if options.resume {
        let (good, rejected) = folder.latest_good_checkpoint();
        for line in rejected {
            eprintln!("warning: {line}");
        }
        Some(good.ok_or_else(|| TrainError::NothingToResume { dir: dir.clone() })?)
    } else {
        if let Some(epoch) = folder.latest_checkpoint() {
            return Err(TrainError::RunExists { dir, epoch });
        }
        None
    };
    if let Some(epoch) = resume_from {
        println!("resuming {} after epoch {epoch}", dir.display());
    }
    // Before any data is read: the folder must take files (the space check needs the model).
    crate::preflight::check_run_folder(&dir, 0)?;
    let check_space = |params: usize| {
        crate::preflight::check_free_space(&dir, crate::preflight::bytes_needed(params))
    };
    let fit = Fit {
        resume_from,
        devices: if devices.len() > 1 {
            devices
        } else {
            Vec::new()
        },
        ..Fit::new(spec, options)
    };
    let command = if options.command.is_empty() {
        std::env::args().collect()
    } else {
        options.command.clone()
    };
    let mut config = RunConfig {
        format: CONFIG_FORMAT,
        arch: spec.arch(),
        spec: spec.clone(),
        input: None,
        normalization: None,
        classes: None,
        train_items: 0,
        valid_items: 0,
        backend: options.backend,
        devices: options.devices,
        command,
        skipnet_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let started = Instant::now();
    let data = open(&spec.dataset)?;
    let task = task_of(&data);
    config.spec.model = task.resolve(&spec.model);
    task.record(&mut config);
    let mut model = config.spec.model.init(&device)?;
    if let (Some(weights), None) = (&spec.init_weights, resume_from) {
        model = init_from(model, weights)?;
    }
    let arch = spec.arch();
    task.check_input(&model, &arch)?;
    check_space(model.trainable_params())?;
    if resume_from.is_some() {
        check_resume(&folder, &config.spec, options.force)?;
    }
    folder.write_config(&config)?;
    println!(
        "training {arch} ({} parameters) on {} ({}) with {}",
        model.trainable_params(),
        spec.dataset.kind,
        task.describe(),
        options.backend
    );
    let (history, model) = task.fit(model, &device, &fit)?;
    task.after_fit(&model, &folder)?;
    let [bpk, safetensors] = folder.save_model(&model)?;
    println!("model: {} and {}", bpk.display(), safetensors.display());
    let seconds = started.elapsed().as_secs_f64();
    if let Some(last) = history.last() {
        let values: Vec<String> = last
            .valid
            .iter()
            .map(|(name, value)| format!("{name} {value:.4}"))
            .collect();
        println!(
            "\nfinal validation (epoch {}): {}",
            last.epoch,
            values.join(", ")
        );
    }
    println!("run folder: {}  ({seconds:.0} s)", dir.display());
    Ok(RunResult {
        folder,
        config,
        history,
        model,
        seconds,
    })
}

/// `model` with the weights at `weights` (a weights file, or a run folder's final model):
/// strictly, except a classifier of another number of classes, which keeps its fresh
/// initialisation (each skipped key is printed).
fn init_from(model: Model, weights: &std::path::Path) -> Result<Model> {
    let path = if weights.is_dir() {
        RunFolder::new(weights).model_path()
    } else {
        // `torchvision:<arch>[.<tag>]`: the cached download (fetched first if needed).
        skipnet_models::hub::resolve(weights)?
    };
    let (model, skipped) = skipnet_models::interop::load_pretrained(model, &path)?;
    println!("initialised from {}", path.display());
    if !skipped.is_empty() {
        println!(
            "  classifier re-initialised ({} keys of another shape skipped):",
            skipped.len()
        );
        for key in &skipped {
            println!("    {key}");
        }
    }
    Ok(model)
}

/// Settings a resumed run may change: how long it runs, and how many threads load its data.
const RESUMABLE_CHANGES: [&str; 2] = ["epochs", "workers"];

/// A resume must continue the run that is in the folder: `spec` (its model resolved) may
/// differ from the recorded one only in [`RESUMABLE_CHANGES`]. A folder from before the config
/// format has nothing to compare with and resumes as it is.
fn check_resume(folder: &RunFolder, spec: &TrainSpec, force: bool) -> Result<()> {
    if !folder.config_path().exists() {
        eprintln!(
            "warning: {} is missing; resuming without comparing settings (it is written anew)",
            folder.config_path().display()
        );
        return Ok(());
    }
    let recorded = match folder.read_config() {
        Ok(config) => {
            // A run recorded before presets were: the preset it used is the default.
            let mut spec = config.spec;
            if spec.model.task() == skipnet_models::Task::Classification {
                spec.dataset.preprocess = Some(spec.preset());
            } else if spec.border_weight.is_none() {
                // Recorded before border weights were: it trained without them.
                spec.border_weight = Some(0.0);
            }
            spec
        }
        Err(_) if folder.recipe().is_ok() => {
            eprintln!(
                "warning: {} is from an earlier skipnet; its settings cannot be compared with \
                 this command's",
                folder.config_path().display()
            );
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let as_json = |spec: &TrainSpec| serde_json::to_value(spec).unwrap_or_default();
    let (old, new) = (as_json(&recorded), as_json(spec));
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return Ok(());
    };
    let changed: Vec<String> = new
        .iter()
        .filter(|(key, value)| {
            !RESUMABLE_CHANGES.contains(&key.as_str()) && old.get(key.as_str()) != Some(value)
        })
        .map(|(key, value)| {
            let before = old
                .get(key.as_str())
                .map_or("nothing".into(), |v| v.to_string());
            format!("{key}: {before} → {value}")
        })
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    if force {
        for change in &changed {
            eprintln!("warning: resuming anyway (forced) with {change}");
        }
        return Ok(());
    }
    Err(TrainError::invalid(
        "resume",
        format!(
            "{} was trained with other settings ({}); resume with the run's own settings (only \
             `epochs` and `workers` may change), add `force` to resume anyway, or start a new \
             run with another `name`",
            folder.path().display(),
            changed.join("; ")
        ),
    ))
}
