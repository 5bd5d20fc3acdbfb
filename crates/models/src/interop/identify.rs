//! Which architecture of the zoo a weights file fits: the answer a [`KeyMismatch`] gives when a
//! file meets the wrong model ("this file fits resnet18 with 10 classes").
//!
//! A file fits an architecture when its tensors are exactly the architecture's, key for key and
//! shape for shape, once the number of classes (output channels) and the input channels are
//! taken from the file. Candidates are every name `list` shows and, for each name pattern with a
//! depth (`cifar-resnet<D>`, `highway-mlp<D>`...), the depths whose key count does not exceed the
//! file's. Candidate models are built with lazy parameters: their shapes are read without
//! initialising a single weight, so a whole zoo's worth of candidates costs milliseconds.
//!
//! [`KeyMismatch`]: super::KeyMismatch

use std::collections::{BTreeMap, BTreeSet};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};

use super::{TorchLayout, strip_variants, torch_param_name};
use crate::layers::FeatureShape;
use crate::registry::{FAMILIES, Model, ModelConfig, all_names};

/// Tensor names and shapes, in a file's naming.
pub(super) type Signature = BTreeMap<String, Vec<usize>>;

/// The naming a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Naming {
    /// PyTorch keys in the family's [`TorchLayout`], linear weights `[out, in]`.
    Torch,
    /// Burn's own module paths (enum variants left out), linear weights `[in, out]`.
    Burn,
}

/// An architecture a file fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    /// The registry name (`resnet18`, `cifar-resnet20`).
    pub name: String,
    /// The number of classes (output channels for U-Net) the file holds.
    pub num_classes: usize,
    /// The input channels the file's first layer takes, when not the architecture's default.
    pub input_channels: Option<usize>,
}

impl std::fmt::Display for Fit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} with {} classes", self.name, self.num_classes)?;
        if let Some(channels) = self.input_channels {
            write!(f, " on {channels}-channel input")?;
        }
        Ok(())
    }
}

/// The deepest depth tried for a name pattern (the deepest net of the papers: ResNet-1202).
const MAX_DEPTH: usize = 1202;

/// Every architecture of the zoo the tensors in `file` fit, built on `device`; at most a few.
pub(super) fn identify(file: &Signature, naming: Naming, device: &Device) -> Vec<Fit> {
    let mut fits = Vec::new();
    let mut seen = BTreeSet::new();
    let mut consider = |config: ModelConfig, fits: &mut Vec<Fit>| -> Option<usize> {
        let name = config.name();
        if !seen.insert(name.clone()) {
            return None;
        }
        let model = config.init(device).ok()?;
        let ours = signature(&model, naming);
        if ours.keys().eq(file.keys()) {
            fits.extend(fit_shapes(&config, &ours, file, naming, device));
        }
        Some(ours.len())
    };
    for name in all_names() {
        if let Ok(config) = ModelConfig::from_name(&name) {
            consider(config, &mut fits);
        }
    }
    // Depths the listed names do not show (cifar-resnet8, highway-mlp30...): a model's tensor
    // count grows with its depth, so the depths with as many tensors as the file are found by
    // bisection over the valid depths, a few models per pattern.
    for pattern in FAMILIES.iter().flat_map(|family| family.patterns.iter()) {
        let Some((head, tail)) = pattern.split_once("<D>") else {
            continue;
        };
        if tail.contains('<') {
            continue;
        }
        let depths: Vec<ModelConfig> = (1..=MAX_DEPTH)
            .filter_map(|depth| ModelConfig::from_name(&format!("{head}{depth}{tail}")).ok())
            .collect();
        let count = |config: &ModelConfig| {
            config
                .init(device)
                .map_or(usize::MAX, |model| signature(&model, naming).len())
        };
        let first = depths.partition_point(|config| count(config) < file.len());
        for config in &depths[first..] {
            if consider(config.clone(), &mut fits).is_none_or(|count| count > file.len()) {
                break;
            }
        }
    }
    fits
}

/// `config` as the file holds it: the same keys, with the classes and input channels the
/// mismatched tensors suggest, if one combination makes every shape equal.
fn fit_shapes(
    config: &ModelConfig,
    ours: &Signature,
    file: &Signature,
    naming: Naming,
    device: &Device,
) -> Option<Fit> {
    let default_input = config.default_input();
    let fit = |config: &ModelConfig, input: Option<FeatureShape>| Fit {
        name: config.name(),
        num_classes: config.num_classes(),
        input_channels: input.map(|shape| shape[0]),
    };
    let differing: Vec<&Vec<usize>> = ours
        .iter()
        .filter(|(key, shape)| file.get(*key) != Some(*shape))
        .filter_map(|(key, _)| file.get(key))
        .collect();
    if differing.is_empty() {
        return Some(fit(config, None));
    }
    // Outputs: the leading dimension of a classifier in either layout; inputs: a convolution's
    // second dimension, or a first linear layer's input (its last in PyTorch's layout).
    let (out_axis, in_axis) = match naming {
        Naming::Torch => (0, 1),
        Naming::Burn => (1, 0),
    };
    let classes: BTreeSet<usize> = differing
        .iter()
        .flat_map(|shape| [shape.first(), shape.get(out_axis)])
        .flatten()
        .copied()
        .chain([config.num_classes()])
        .collect();
    let inputs: BTreeSet<Option<FeatureShape>> = differing
        .iter()
        .filter_map(|shape| match shape.len() {
            4 => Some([shape[1], default_input[1], default_input[2]]),
            2 => Some([shape[in_axis], 1, 1]),
            _ => None,
        })
        .filter(|input| *input != default_input)
        .map(Some)
        .chain([None])
        .collect();
    for &num_classes in &classes {
        for &input in &inputs {
            let mut candidate = config.clone().with_num_classes(num_classes);
            if let Some(input) = input {
                candidate = candidate.with_input(input);
            }
            let Ok(model) = candidate.init(device) else {
                continue;
            };
            if signature(&model, naming) == *file {
                return Some(fit(&candidate, input));
            }
        }
    }
    None
}

/// Every tensor of `model` (parameters and batch-norm statistics) in the file naming `naming`,
/// read without initialising the lazy parameters.
pub(super) fn signature(model: &Model, naming: Naming) -> Signature {
    let mut visitor = LazyShapes::default();
    model.visit(&mut visitor);
    let layout = TorchLayout::of(model);
    visitor
        .tensors
        .into_iter()
        .map(|(path, mut shape)| {
            let path = strip_variants(&path);
            match naming {
                Naming::Burn => (path, shape),
                Naming::Torch => {
                    if shape.len() == 2 {
                        shape.reverse();
                    }
                    (torch_param_name(layout.to_torch(&path)), shape)
                }
            }
        })
        .collect()
}

/// Collects `(module path, shape)` of every float tensor, using a parameter's lazy shape.
#[derive(Default)]
struct LazyShapes {
    path: Vec<String>,
    tensors: Vec<(String, Vec<usize>)>,
}

impl ModuleVisitor for LazyShapes {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !self.path.is_empty() {
            self.tensors
                .push((self.path.join("."), param.lazy_shape().to_vec()));
        }
    }
}
