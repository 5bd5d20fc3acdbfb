//! Weights in and out: PyTorch `.pth`/`.pt` checkpoints and `.safetensors` files with
//! torchvision's key names, and Burn's own `.bpk` / `.safetensors`.
//!
//! Loading is strict: every parameter and batch-norm statistic of the model must come from the
//! file with the right shape, and every tensor of the file must find a place in the model;
//! otherwise [`WeightsError::Mismatch`] lists the missing keys, the unexpected keys and every
//! shape mismatch, and no model is returned.
//!
//! ```no_run
//! use burn::tensor::Device;
//! use skipnet_models::{ModelConfig, interop};
//!
//! let device = Device::flex();
//! let model = ModelConfig::from_name("resnet50")?.init(&device)?;
//! let model = interop::load_weights(model, "resnet50-11ad3fa6.pth".as_ref())?;
//! interop::save_torch_safetensors(&model, "resnet50.safetensors".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod identify;
mod names;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::pytorch_reader::PytorchReader;
use burn::store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, BurnpackStore, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, SafetensorsStore, bridge,
};
use burn::tensor::DType;

use crate::registry::Model;
pub use identify::Fit;
use identify::{Naming, Signature};
pub use names::TorchLayout;

/// What can go wrong reading or writing weights. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file does not exist.
    #[error("weights file {0} not found")]
    NotFound(PathBuf),
    /// The extension is not one of the supported formats.
    #[error(
        "{path}: unknown weights format '{extension}' (expected .pth, .pt, .bin, .safetensors or .bpk)"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// Its extension.
        extension: String,
    },
    /// The file could not be parsed.
    #[error("{path}: cannot read weights: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// The file's tensors do not fit the model.
    #[error("{0}")]
    Mismatch(Box<KeyMismatch>),
    /// The file could not be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Everything about a weights file that does not fit its model. The message names the
/// architectures the file does fit, then the first few mismatches of each kind and their counts.
#[derive(Debug, thiserror::Error)]
#[error("{} does not fit {model}: {}{}", path.display(), fits_line(fits), mismatch_lines(missing, unexpected, shapes, other))]
pub struct KeyMismatch {
    /// The file.
    pub path: PathBuf,
    /// The model family.
    pub model: String,
    /// The zoo architectures the file fits as it is (empty: none).
    pub fits: Vec<Fit>,
    /// Keys the model needs that the file lacks (in the file's naming).
    pub missing: Vec<String>,
    /// Keys of the file that the model has no place for.
    pub unexpected: Vec<String>,
    /// `key: model has [..], file has [..]`.
    pub shapes: Vec<String>,
    /// Any other per-tensor error (wrong dtype, unreadable data).
    pub other: Vec<String>,
}

/// How many keys of each kind a mismatch message shows.
const SHOWN: usize = 3;

fn fits_line(fits: &[Fit]) -> String {
    if fits.is_empty() {
        return "it fits no architecture of the zoo as it is; ".into();
    }
    let names: Vec<String> = fits.iter().map(Fit::to_string).collect();
    format!("this file fits {}; ", names.join(" or "))
}

fn mismatch_lines(
    missing: &[String],
    unexpected: &[String],
    shapes: &[String],
    other: &[String],
) -> String {
    let mut parts = Vec::new();
    for (label, list) in [
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatches", shapes),
        ("errors", other),
    ] {
        if !list.is_empty() {
            let mut shown = list[..list.len().min(SHOWN)].join(", ");
            if list.len() > SHOWN {
                shown.push_str(&format!(" and {} more", list.len() - SHOWN));
            }
            parts.push(format!("{label} ({}): {shown}", list.len()));
        }
    }
    parts.join(" | ")
}

/// Where a checkpoint keeps the model's tensors when it is a dict of more than weights.
const CHECKPOINT_KEYS: [&str; 4] = ["state_dict", "model_state_dict", "model", "net"];

/// Loads the weights at `path` into `model`, strictly.
///
/// - `.pth`, `.pt`, `.bin`: a pickled PyTorch `state_dict`, or a checkpoint dict holding one
///   under `state_dict`, `model_state_dict`, `model` or `net`; a `module.` prefix
///   (`DataParallel`) is dropped. Keys in the model family's PyTorch layout ([`TorchLayout`]).
/// - `.safetensors`: PyTorch layout, unless the file says it was written by Burn
///   (`producer: burn` in its metadata), in which case Burn's own names.
/// - `.bpk`: Burn's own format.
pub fn load_weights(model: Model, path: &Path) -> Result<Model, WeightsError> {
    load(model, path, None).map(|(model, _)| model)
}

/// Loads pretrained weights for fine-tuning: as [`load_weights`], strictly, except that the
/// classifier ([`Model::classifier_path`]) may have another shape in the file (another number
/// of classes): then it keeps its fresh initialisation. Returns the model and the skipped
/// classifier keys, each as `key: model has [..], file has [..]` in the file's naming.
pub fn load_pretrained(model: Model, path: &Path) -> Result<(Model, Vec<String>), WeightsError> {
    let head = model.classifier_path();
    load(model, path, head)
}

fn load(
    mut model: Model,
    path: &Path,
    reinitialised: Option<&str>,
) -> Result<(Model, Vec<String>), WeightsError> {
    if !path.is_file() {
        return Err(WeightsError::NotFound(path.to_path_buf()));
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let layout = TorchLayout::of(&model);
    let read_error = |message: String| WeightsError::Read {
        path: path.to_path_buf(),
        message,
    };
    let (result, renamed, file) = match extension.as_str() {
        "bpk" => {
            let store = BurnpackStore::from_file(path)
                .auto_extension(false)
                .allow_partial(true)
                .validate(false);
            let (result, file) = load_burn(&mut model, store).map_err(read_error)?;
            (result, None, file)
        }
        "safetensors"
            if safetensors_producer(path).map_err(read_error)?.as_deref() == Some("burn") =>
        {
            let store = SafetensorsStore::from_file(path)
                .skip_enum_variants(true)
                .allow_partial(true)
                .validate(false);
            let (result, file) = load_burn(&mut model, store).map_err(read_error)?;
            (result, None, file)
        }
        "safetensors" | "pth" | "pt" | "bin" => {
            let tensors = if extension == "safetensors" {
                read_safetensors(path).map_err(read_error)?
            } else {
                read_pytorch(path).map_err(read_error)?
            };
            let file: Signature = tensors
                .iter()
                .filter(|t| !t.name.ends_with(".num_batches_tracked"))
                .map(|t| (t.name.clone(), t.shape.to_vec()))
                .collect();
            let (tensors, renamed) = to_skipnet_names(tensors, layout);
            let result =
                guarded(|| model.apply(tensors, None, Some(Box::new(PyTorchToBurnAdapter)), true))
                    .map_err(read_error)?;
            (result, Some(renamed), (file, Naming::Torch))
        }
        other => {
            return Err(WeightsError::UnknownFormat {
                path: path.to_path_buf(),
                extension: format!(".{other}"),
            });
        }
    };
    let skipped = check_complete(
        result,
        path,
        &model,
        layout,
        renamed.as_ref(),
        reinitialised,
        &file,
    )?;
    Ok((model, skipped))
}

/// Loads a file in Burn's own names through `store`, keeping the per-tensor report and the
/// file's tensor names and shapes.
fn load_burn<S: ModuleStore>(
    model: &mut Model,
    mut store: S,
) -> Result<(ApplyResult, (Signature, Naming)), String> {
    let file: Signature = guarded(|| {
        store.get_all_tensors().map(|tensors| {
            tensors
                .iter()
                .map(|(name, t)| (strip_variants(name), t.shape.to_vec()))
                .collect()
        })
    })?
    .map_err(|e| e.to_string())?;
    let result = guarded(|| model.load_from(&mut store))?.map_err(|e| e.to_string())?;
    Ok((result, (file, Naming::Burn)))
}

/// Runs a reader, turning a panic inside a dependency into an error instead of a crash.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the reader panicked".into());
        format!("malformed file ({message})")
    })
}

/// The `producer` entry of a safetensors file's metadata, reading only its header.
fn safetensors_producer(path: &Path) -> Result<Option<String>, String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let file_len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| "not a safetensors file: shorter than its 8-byte header length".to_string())?;
    let header_len = u64::from_le_bytes(len);
    // The format caps headers at 100 MB; a longer (or longer-than-file) one is corrupt.
    if header_len > 100_000_000 || header_len > file_len.saturating_sub(8) {
        return Err(format!(
            "not a safetensors file: header length {header_len} does not fit a {file_len}-byte file"
        ));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(|e| e.to_string())?;
    let json: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| format!("not a safetensors file: header is not JSON ({e})"))?;
    Ok(json
        .get("__metadata__")
        .and_then(|m| m.get("producer"))
        .and_then(|p| p.as_str())
        .map(str::to_string))
}

fn read_safetensors(path: &Path) -> Result<Vec<PackTensor>, String> {
    let mut store = SafetensorsStore::from_file(path);
    let tensors = guarded(|| {
        store
            .get_all_tensors()
            .map(|t| t.values().cloned().collect())
    })?;
    tensors.map_err(|e| e.to_string())
}

fn read_pytorch(path: &Path) -> Result<Vec<PackTensor>, String> {
    let reader = guarded(|| PytorchReader::new(path))?.map_err(|e| e.to_string())?;
    let keys = reader.keys();
    // A checkpoint dict: keep only the model's tensors (not the optimiser's).
    let prefix = CHECKPOINT_KEYS.iter().find_map(|k| {
        let prefix = format!("{k}.");
        keys.iter()
            .any(|key| key.starts_with(&prefix))
            .then_some(prefix)
    });
    let tensors = reader.into_tensors();
    let mut out = Vec::with_capacity(tensors.len());
    for (key, tensor) in tensors {
        let name = match &prefix {
            Some(p) => match key.strip_prefix(p.as_str()) {
                Some(rest) => rest.to_string(),
                None => continue,
            },
            None => key,
        };
        let name = name.strip_prefix("module.").unwrap_or(&name).to_string();
        let mut tensor = bridge::from_pytorch(tensor);
        tensor.name = name;
        out.push(tensor);
    }
    Ok(out)
}

/// Renames the file's tensors to skipnet paths; returns them and the skipnet → file-key map.
fn to_skipnet_names(
    tensors: Vec<PackTensor>,
    layout: TorchLayout,
) -> (Vec<PackTensor>, HashMap<String, String>) {
    let mut renamed = HashMap::new();
    let tensors = tensors
        .into_iter()
        .filter_map(|mut t| {
            let ours = layout.to_skipnet(&t.name)?;
            renamed.insert(ours.clone(), t.name.clone());
            t.name = ours;
            Some(t)
        })
        .collect();
    (tensors, renamed)
}

/// skipnet's batch-norm `gamma`/`beta` are PyTorch's `weight`/`bias`.
fn torch_param_name(key: String) -> String {
    if let Some(stem) = key.strip_suffix(".gamma") {
        format!("{stem}.weight")
    } else if let Some(stem) = key.strip_suffix(".beta") {
        format!("{stem}.bias")
    } else {
        key
    }
}

fn check_complete(
    result: ApplyResult,
    path: &Path,
    model: &Model,
    layout: TorchLayout,
    renamed: Option<&HashMap<String, String>>,
    reinitialised: Option<&str>,
    (file, naming): &(Signature, Naming),
) -> Result<Vec<String>, WeightsError> {
    // Name things the way the file does: PyTorch keys for PyTorch files.
    let file_name = |ours: &str| -> String {
        match renamed {
            Some(map) => map
                .get(ours)
                .cloned()
                .unwrap_or_else(|| torch_param_name(layout.to_torch(&strip_variants(ours)))),
            None => ours.to_string(),
        }
    };
    let missing: Vec<String> = result
        .missing
        .iter()
        .map(|(p, _)| file_name(p))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let unexpected: Vec<String> = result.unused.iter().map(|p| file_name(p)).collect();
    let mut shapes = Vec::new();
    let mut skipped = Vec::new();
    let mut other = Vec::new();
    let in_head = |path: &str| {
        reinitialised.is_some_and(|head| strip_variants(path).starts_with(&format!("{head}.")))
    };
    for error in &result.errors {
        match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => {
                // PyTorch's linear weights are `[out, in]`, Burn's `[in, out]` (the adapter
                // transposes them): name shapes the way the file does.
                let in_file_layout = |shape: &[usize]| -> Vec<usize> {
                    let mut shape = shape.to_vec();
                    if renamed.is_some() && shape.len() == 2 {
                        shape.reverse();
                    }
                    shape
                };
                let line = format!(
                    "{}: model has {:?}, file has {:?}",
                    file_name(path),
                    in_file_layout(expected.as_slice()),
                    in_file_layout(found.as_slice())
                );
                if in_head(path) {
                    skipped.push(line);
                } else {
                    shapes.push(line);
                }
            }
            e => other.push(e.to_string()),
        }
    }
    if missing.is_empty() && unexpected.is_empty() && shapes.is_empty() && other.is_empty() {
        Ok(skipped)
    } else {
        let fits = match model.devices().first() {
            Some(device) => identify::identify(file, *naming, device),
            None => Vec::new(),
        };
        Err(WeightsError::Mismatch(Box::new(KeyMismatch {
            path: path.to_path_buf(),
            model: model.family().to_string(),
            fits,
            missing,
            unexpected,
            shapes,
            other,
        })))
    }
}

/// `layer1.0.Basic.conv1.weight` → `layer1.0.conv1.weight`.
fn strip_variants(path: &str) -> String {
    path.split('.')
        .filter(|s| !s.starts_with(|c: char| c.is_ascii_uppercase()))
        .collect::<Vec<_>>()
        .join(".")
}

/// Every tensor of `model` under its PyTorch key, in PyTorch's layout (linear weights
/// `[out, in]`), as `(key, shape)`: what `model.state_dict()` holds in PyTorch, less batch
/// norm's `num_batches_tracked`.
pub fn torch_state_dict_shapes(model: &Model) -> Vec<(String, Vec<usize>)> {
    torch_tensors(model)
        .into_iter()
        .map(|t| (t.name, t.shape.to_vec()))
        .collect()
}

fn torch_tensors(model: &Model) -> Vec<PackTensor> {
    let layout = TorchLayout::of(model);
    model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|mut t| {
            t.name = layout.to_torch(&t.name);
            t
        })
        .collect()
}

/// One float32 tensor for the safetensors writer.
struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl safetensors::View for &F32View {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Writes `model` as safetensors with PyTorch's key names and layouts (torchvision's for the
/// ImageNet models), so that `model.load_state_dict(safetensors.torch.load_file(path))`
/// accepts it with `strict=True`. Written to a temporary file and renamed into place.
pub fn save_torch_safetensors(model: &Model, path: &Path) -> Result<(), WeightsError> {
    let write_error = |message: String| WeightsError::Write {
        path: path.to_path_buf(),
        message,
    };
    let mut views = BTreeMap::new();
    for tensor in torch_tensors(model) {
        if tensor.dtype != DType::F32 {
            return Err(write_error(format!(
                "{} is {:?}; only float32 models are exported",
                tensor.name, tensor.dtype
            )));
        }
        let shape = tensor.shape.to_vec();
        let name = tensor.name.clone();
        let bytes = tensor
            .to_bytes()
            .map_err(|e| write_error(format!("{name}: {e}")))?
            .to_vec();
        views.insert(name, F32View { shape, bytes });
    }
    let metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("producer".to_string(), "skipnet".to_string()),
        ("architecture".to_string(), model.family().to_string()),
    ]);
    let bytes = safetensors::serialize(views.iter().map(|(k, v)| (k.as_str(), v)), Some(metadata))
        .map_err(|e| write_error(e.to_string()))?;
    crate::atomic::write_bytes(path, &bytes).map_err(|e| write_error(e.to_string()))
}

#[cfg(test)]
mod tests;
