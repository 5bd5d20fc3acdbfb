//! The dataset registry: every dataset a run can use, by name, with its task, default sizes,
//! split, normalisation and augmentation policy, and one [`open`] that returns its training and
//! validation splits. The names are defined here and nowhere else.
//!
//! ```no_run
//! use skipnet_data::registry::{DatasetKind, DatasetSpec, Splits, open};
//!
//! let spec = DatasetSpec::new(DatasetKind::SyntheticShapes).with_sizes(Some(256), Some(64));
//! let Splits::Classification(data) = open(&spec)? else { unreachable!() };
//! assert_eq!((data.train.len(), data.input, data.num_classes), (256, [3, 32, 32], 10));
//! # Ok::<(), skipnet_data::DataError>(())
//! ```

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use burn::data::dataset::Dataset;
use serde::{Deserialize, Serialize};
use skipnet_core::Task;

use crate::cifar::{CifarDataset, CifarKind};
use crate::error::{DataError, Result};
use crate::folder::ImageFolder;
use crate::idx::IdxDataset;
use crate::preprocess::{IMAGENET_CROP, Preprocessing, Preset};
use crate::segmentation::SegmentationFolder;
use crate::split::{Subset, shuffled_indices, train_val_split};
use crate::synthetic::{SyntheticCells, SyntheticShapes};
use crate::transform::Normalization;
use crate::{ClassificationItem, SegmentationItem, Split};

/// Share of an image folder (`folder`) held out for validation.
pub const FOLDER_VALID_FRACTION: f64 = 0.1;
/// Share of an image+mask folder (`seg-folder`) held out for validation.
pub const SEG_FOLDER_VALID_FRACTION: f64 = 0.2;
/// Mixed into the seed for everything drawn for the validation split (synthetic validation
/// images, the validation subset of data on disk), so it never repeats the training split.
pub const VALID_SEED_SALT: u64 = 0x5EED;
/// Training images whose pixels set the normalisation of datasets without published statistics.
pub const NORMALIZATION_SAMPLE: usize = 1000;
/// Padding of the pad-crop-flip augmentation (He et al. 2015, CIFAR).
pub const PAD_CROP_PADDING: usize = 4;

/// Every dataset a run can train on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// Built in: 32×32 RGB shapes and patterns of 10 classes.
    SyntheticShapes,
    /// Built in: fluorescence-like nuclei with their masks.
    SyntheticCells,
    /// CIFAR-10 binary version under the data root.
    Cifar10,
    /// CIFAR-100 binary version (fine labels) under the data root.
    Cifar100,
    /// Fashion-MNIST IDX files (data root, or Debian's `dataset-fashion-mnist`).
    FashionMnist,
    /// MNIST IDX files under the data root.
    Mnist,
    /// An image folder: one sub-folder per class.
    Folder,
    /// Image + mask pairs: `images/` + `masks/`, or the DSB2018 layout.
    SegFolder,
}

/// How the training images of a classification dataset are augmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Augmentation {
    /// None.
    None,
    /// Pad by this many pixels, random crop back, random horizontal flip (He et al.).
    PadCropFlip(usize),
    /// torchvision's random-resized-crop and horizontal flip (the ImageNet preset).
    RandomResizedCropFlip,
}

impl fmt::Display for Augmentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Augmentation::PadCropFlip(p) => write!(f, "pad-{p} random crop + horizontal flip"),
            Augmentation::RandomResizedCropFlip => {
                f.write_str("random-resized crop + horizontal flip")
            }
            Augmentation::None => f.write_str("no augmentation"),
        }
    }
}

impl Augmentation {
    /// The training augmentation of `preset`.
    pub fn of(preset: Preset) -> Self {
        match preset {
            Preset::Imagenet => Augmentation::RandomResizedCropFlip,
            Preset::Cifar => Augmentation::PadCropFlip(PAD_CROP_PADDING),
            Preset::None => Augmentation::None,
        }
    }
}

/// The sub-folders of an image folder that, when both exist, are its training and
/// validation splits (torchvision's ImageNet layout); `valid/` is read as `val/`.
pub const FOLDER_SPLITS: [&str; 2] = ["train", "val"];

/// Where a classification dataset's normalisation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalizationPolicy {
    /// CIFAR-10's published statistics.
    Cifar10,
    /// Measured over the first [`NORMALIZATION_SAMPLE`] training images.
    Measured,
}

impl DatasetKind {
    /// Every dataset, in the order the docs list them.
    pub const ALL: [DatasetKind; 8] = [
        DatasetKind::SyntheticShapes,
        DatasetKind::SyntheticCells,
        DatasetKind::Cifar10,
        DatasetKind::Cifar100,
        DatasetKind::FashionMnist,
        DatasetKind::Mnist,
        DatasetKind::Folder,
        DatasetKind::SegFolder,
    ];

    /// The name on the command line and in `config.json`.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::SyntheticShapes => "synthetic-shapes",
            DatasetKind::SyntheticCells => "synthetic-cells",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::Cifar100 => "cifar100",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Mnist => "mnist",
            DatasetKind::Folder => "folder",
            DatasetKind::SegFolder => "seg-folder",
        }
    }

    /// Every name, comma separated (for messages).
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// Classification or segmentation.
    pub fn task(self) -> Task {
        match self {
            DatasetKind::SyntheticCells | DatasetKind::SegFolder => Task::Segmentation,
            _ => Task::Classification,
        }
    }

    /// Generated in memory (no files): sizes are generated, not subsets.
    pub fn is_synthetic(self) -> bool {
        matches!(
            self,
            DatasetKind::SyntheticShapes | DatasetKind::SyntheticCells
        )
    }

    /// Training and validation items when the spec does not say: the generated sizes of the
    /// synthetic datasets; data on disk is used whole (`None`).
    pub fn default_sizes(self) -> [Option<usize>; 2] {
        match self {
            DatasetKind::SyntheticShapes => [Some(3000), Some(500)],
            // Batches of 8: 20 optimiser steps an epoch.
            DatasetKind::SyntheticCells => [Some(160), Some(32)],
            _ => [None, None],
        }
    }

    /// Image side when the spec does not say: the side of `synthetic-cells`, the resize of
    /// `folder`; `None` where the data decide (and `seg-folder`, which crops only when asked).
    pub fn default_image_size(self) -> Option<usize> {
        match self {
            DatasetKind::SyntheticCells => Some(96),
            DatasetKind::Folder => Some(64),
            _ => None,
        }
    }

    /// Share of the data held out for validation where the dataset has no split of its own.
    pub fn valid_fraction(self) -> Option<f64> {
        match self {
            DatasetKind::Folder => Some(FOLDER_VALID_FRACTION),
            DatasetKind::SegFolder => Some(SEG_FOLDER_VALID_FRACTION),
            _ => None,
        }
    }

    /// How training images are augmented by default (classification; segmentation always
    /// flips and rotates, see [`crate::batch::SegmentationBatcher`]).
    pub fn augmentation(self) -> Augmentation {
        Augmentation::of(self.default_preset())
    }

    /// The preprocessing preset when the spec names none: He et al.'s CIFAR recipe on the
    /// small colour datasets and image folders, none on the digit and fashion scans. (A run of
    /// an ImageNet architecture on an image folder uses [`Preset::Imagenet`]; see
    /// `skipnet_train::TrainSpec`.)
    pub fn default_preset(self) -> Preset {
        match self {
            DatasetKind::SyntheticShapes
            | DatasetKind::Cifar10
            | DatasetKind::Cifar100
            | DatasetKind::Folder => Preset::Cifar,
            _ => Preset::None,
        }
    }

    /// The class names of a dataset with fixed classes (`None`: the data decide).
    pub fn class_names(self) -> Option<Vec<String>> {
        use crate::classes::{CIFAR10, CIFAR100_FINE, FASHION_MNIST, MNIST, owned};
        Some(match self {
            DatasetKind::SyntheticShapes => owned(&crate::synthetic::SHAPE_CLASSES),
            DatasetKind::Cifar10 => owned(&CIFAR10),
            DatasetKind::Cifar100 => owned(&CIFAR100_FINE),
            DatasetKind::FashionMnist => owned(&FASHION_MNIST),
            DatasetKind::Mnist => owned(&MNIST),
            _ => return None,
        })
    }

    /// Where the normalisation comes from.
    pub fn normalization_policy(self) -> NormalizationPolicy {
        match self {
            DatasetKind::Cifar10 | DatasetKind::Cifar100 => NormalizationPolicy::Cifar10,
            _ => NormalizationPolicy::Measured,
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = DataError;

    fn from_str(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| {
                DataError::invalid(
                    "dataset",
                    format!(
                        "unknown dataset '{name}'; valid datasets: {}",
                        Self::names()
                    ),
                )
            })
    }
}

/// Which data a run uses and how much of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// The dataset.
    pub kind: DatasetKind,
    /// Data root (`None`: [`crate::data_root`]); for `folder` / `seg-folder`, the folder itself.
    pub root: Option<PathBuf>,
    /// Training items: the generated size of synthetic data, a seeded subset of data on disk
    /// (`None`: [`DatasetKind::default_sizes`]).
    pub train_size: Option<usize>,
    /// Validation items, as `train_size`.
    pub valid_size: Option<usize>,
    /// Image side: sizes `synthetic-cells`, resizes `folder`, random training crops of
    /// `seg-folder` (`None`: [`DatasetKind::default_image_size`]).
    pub image_size: Option<usize>,
    /// Seed of generated data and of the subsets and splits.
    pub seed: u64,
    /// How classification images are prepared (`None`: [`DatasetKind::default_preset`]).
    #[serde(default)]
    pub preprocess: Option<Preset>,
}

impl DatasetSpec {
    /// `kind` at its default sizes, under the default data root, seed 42.
    pub fn new(kind: DatasetKind) -> Self {
        Self {
            kind,
            root: None,
            train_size: None,
            valid_size: None,
            image_size: None,
            seed: 42,
            preprocess: None,
        }
    }

    /// With this preprocessing preset.
    pub fn with_preprocess(mut self, preset: Option<Preset>) -> Self {
        self.preprocess = preset;
        self
    }

    /// The preset in use: the spec's, else the dataset's default.
    pub fn preset(&self) -> Preset {
        self.preprocess.unwrap_or(self.kind.default_preset())
    }

    /// With this data root (or, for folders, this folder).
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// With these training and validation sizes.
    pub fn with_sizes(mut self, train: Option<usize>, valid: Option<usize>) -> Self {
        self.train_size = train;
        self.valid_size = valid;
        self
    }

    /// With this image side.
    pub fn with_image_size(mut self, side: Option<usize>) -> Self {
        self.image_size = side;
        self
    }

    /// With this seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The data root to read from.
    pub fn root(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(crate::data_root)
    }

    /// The image side in use: the spec's, else the dataset's default (the ImageNet preset's
    /// crop, 224, for classification with that preset).
    pub fn image_size(&self) -> Option<usize> {
        if self.kind.task() == Task::Classification && self.preset() == Preset::Imagenet {
            return Some(self.image_size.unwrap_or(IMAGENET_CROP));
        }
        self.image_size.or(self.kind.default_image_size())
    }

    fn sizes(&self) -> [Option<usize>; 2] {
        let [train, valid] = self.kind.default_sizes();
        [self.train_size.or(train), self.valid_size.or(valid)]
    }
}

/// A dataset as a shareable, thread-safe `Dataset`.
pub type SharedDataset<I> = Arc<dyn Dataset<I>>;

/// The splits of a classification dataset and what a model needs to know of them.
#[derive(Clone)]
pub struct ClassificationSplits {
    /// Training items.
    pub train: SharedDataset<ClassificationItem>,
    /// Validation items.
    pub valid: SharedDataset<ClassificationItem>,
    /// `[channels, height, width]` of the model's input (`preprocessing.input`).
    pub input: [usize; 3],
    /// Number of classes.
    pub num_classes: usize,
    /// Class names, index = label.
    pub class_names: Vec<String>,
    /// The normalisation (`preprocessing.normalization`: ImageNet's for that preset, else see
    /// [`DatasetKind::normalization_policy`]).
    pub normalization: Normalization,
    /// The training augmentation (of `preprocessing.preset`).
    pub augmentation: Augmentation,
    /// How images become the model's input, in training and in inference.
    pub preprocessing: Preprocessing,
}

/// The splits of a segmentation dataset.
#[derive(Clone)]
pub struct SegmentationSplits {
    /// Training items.
    pub train: SharedDataset<SegmentationItem>,
    /// Validation items.
    pub valid: SharedDataset<SegmentationItem>,
    /// Image channels.
    pub channels: usize,
    /// Random training crops of this side (`seg-folder` with an image size), else whole images.
    pub crop: Option<usize>,
}

/// The opened dataset: classification or segmentation splits.
#[derive(Clone)]
pub enum Splits {
    /// A classification dataset.
    Classification(ClassificationSplits),
    /// A segmentation dataset.
    Segmentation(SegmentationSplits),
}

impl Splits {
    /// Training and validation items.
    pub fn lens(&self) -> [usize; 2] {
        match self {
            Splits::Classification(s) => [s.train.len(), s.valid.len()],
            Splits::Segmentation(s) => [s.train.len(), s.valid.len()],
        }
    }
}

/// Opens the dataset of `spec`: reads (or generates) it, splits it, takes the asked subsets,
/// and for classification measures or looks up its normalisation. Errors name the file or the
/// value and what was expected.
pub fn open(spec: &DatasetSpec) -> Result<Splits> {
    let [train_size, valid_size] = spec.sizes();
    for (what, size) in [
        ("training size", train_size),
        ("validation size", valid_size),
    ] {
        if size == Some(0) {
            return Err(DataError::invalid(what, "0 (at least 1)"));
        }
    }
    if spec.image_size == Some(0) {
        return Err(DataError::invalid("image size", "0 (at least 1)"));
    }
    let root = spec.root();
    let seed = spec.seed;
    let valid_seed = seed ^ VALID_SEED_SALT;
    let kind = spec.kind;
    if kind.task() == Task::Segmentation {
        let (train, valid, channels): (SharedDataset<_>, SharedDataset<_>, usize) = match kind {
            DatasetKind::SyntheticCells => {
                let side = spec
                    .image_size()
                    .expect("synthetic-cells has a default size");
                let train = SyntheticCells::new(seed, train_size.unwrap_or(1), side)?;
                let valid = SyntheticCells::new(valid_seed, valid_size.unwrap_or(1), side)?;
                (Arc::new(train), Arc::new(valid), 1)
            }
            _ => {
                let folder = SegmentationFolder::open(&root)?.with_channels(3);
                let (train, valid) = split_folder(folder, kind, seed)?;
                (train, valid, 3)
            }
        };
        let (train, valid) = limit(kind, train, valid, train_size, valid_size, seed)?;
        let crop = spec.image_size.filter(|_| kind == DatasetKind::SegFolder);
        return Ok(Splits::Segmentation(SegmentationSplits {
            train,
            valid,
            channels,
            crop,
        }));
    }
    let preset = spec.preset();
    // The ImageNet preset crops images of any size itself; the others take them at the input.
    let imagenet_crop = (preset == Preset::Imagenet).then(|| {
        spec.image_size()
            .expect("the ImageNet preset has a default crop")
    });
    let (train, valid, input, class_names): (SharedDataset<_>, SharedDataset<_>, _, _) = match kind
    {
        DatasetKind::SyntheticShapes => (
            Arc::new(SyntheticShapes::new(seed, train_size.unwrap_or(1))),
            Arc::new(SyntheticShapes::new(valid_seed, valid_size.unwrap_or(1))),
            [3, 32, 32],
            kind.class_names().expect("shapes have names"),
        ),
        DatasetKind::Cifar10 | DatasetKind::Cifar100 => {
            let cifar = if kind == DatasetKind::Cifar10 {
                CifarKind::Cifar10
            } else {
                CifarKind::Cifar100Fine
            };
            let train = CifarDataset::open(&root, cifar, Split::Train)?;
            let valid = CifarDataset::open(&root, cifar, Split::Test)?;
            (
                Arc::new(train),
                Arc::new(valid),
                [3, 32, 32],
                kind.class_names().expect("CIFAR has names"),
            )
        }
        DatasetKind::FashionMnist | DatasetKind::Mnist => {
            let open = |split| {
                if kind == DatasetKind::Mnist {
                    IdxDataset::mnist(&root, split)
                } else {
                    IdxDataset::fashion_mnist(&root, split)
                }
            };
            let (train, valid) = (open(Split::Train)?, open(Split::Test)?);
            let [h, w] = train.image_size();
            let names = kind.class_names().expect("the IDX datasets have names");
            let classes = train.num_classes();
            if classes > names.len() {
                return Err(DataError::invalid(
                    "labels",
                    format!(
                        "{classes} classes in {}, expected at most {}",
                        root.display(),
                        names.len()
                    ),
                ));
            }
            (
                Arc::new(train),
                Arc::new(valid),
                [1, h, w],
                names[..classes].to_vec(),
            )
        }
        DatasetKind::Folder => {
            let side = spec.image_size().expect("folder has a default size");
            // The ImageNet preset resizes and crops each image itself; the others resize on
            // reading.
            let size = imagenet_crop.is_none().then_some([side, side]);
            let (train, valid, classes) = open_image_folder(&root, size, seed)?;
            (train, valid, [3, side, side], classes)
        }
        DatasetKind::SyntheticCells | DatasetKind::SegFolder => {
            unreachable!("segmentation datasets are handled above")
        }
    };
    let num_classes = class_names.len();
    let (train, valid) = limit(kind, train, valid, train_size, valid_size, seed)?;
    let preprocessing = match imagenet_crop {
        Some(crop) => Preprocessing::imagenet(crop),
        None => {
            let normalization = match kind.normalization_policy() {
                NormalizationPolicy::Cifar10 => Normalization::cifar10(),
                NormalizationPolicy::Measured => {
                    let sample: Vec<ClassificationItem> =
                        (0..train.len().min(NORMALIZATION_SAMPLE))
                            .map(|i| train.get(i))
                            .collect::<std::result::Result<_, _>>()
                            .map_err(|e| DataError::invalid("training item", e.to_string()))?;
                    Normalization::measure(sample.iter().map(|item| &item.image))
                }
            };
            Preprocessing {
                preset,
                input,
                normalization,
            }
        }
    };
    Ok(Splits::Classification(ClassificationSplits {
        train,
        valid,
        input: preprocessing.input,
        num_classes,
        class_names,
        normalization: preprocessing.normalization.clone(),
        augmentation: Augmentation::of(preset),
        preprocessing,
    }))
}

/// An image folder: its `train/` and `val/` (or `valid/`) sub-folders when it has both, else
/// the folder split by [`FOLDER_VALID_FRACTION`]. Images resized to `size` on reading if
/// given. Returns the splits and the class names.
fn open_image_folder(
    root: &std::path::Path,
    size: Option<[usize; 2]>,
    seed: u64,
) -> Result<(
    SharedDataset<ClassificationItem>,
    SharedDataset<ClassificationItem>,
    Vec<String>,
)> {
    let train_dir = root.join(FOLDER_SPLITS[0]);
    let val_dir = ["val", "valid"]
        .map(|name| root.join(name))
        .into_iter()
        .find(|dir| dir.is_dir());
    match val_dir {
        Some(val_dir) if train_dir.is_dir() => {
            let train = ImageFolder::open(&train_dir, 3, size)?;
            let classes = train.classes().to_vec();
            let valid = ImageFolder::open_with_classes(&val_dir, 3, size, &classes)?;
            Ok((Arc::new(train), Arc::new(valid), classes))
        }
        _ => {
            let folder = ImageFolder::open(root, 3, size)?;
            let classes = folder.classes().to_vec();
            let (train, valid) = split_folder(folder, DatasetKind::Folder, seed)?;
            Ok((train, valid, classes))
        }
    }
}

/// A folder without a split of its own, split by the dataset's validation fraction.
fn split_folder<D, I>(
    folder: D,
    kind: DatasetKind,
    seed: u64,
) -> Result<(SharedDataset<I>, SharedDataset<I>)>
where
    D: Dataset<I> + Clone + 'static,
    I: Send + Sync + 'static,
{
    let fraction = kind.valid_fraction().expect("only folders are split here");
    let (train_idx, valid_idx) = train_val_split(folder.len(), fraction, seed)?;
    Ok((
        Arc::new(Subset::new(folder.clone(), train_idx)?),
        Arc::new(Subset::new(folder, valid_idx)?),
    ))
}

/// The asked sizes of data read from disk: a seeded random subset of that many items (the
/// synthetic datasets are generated at the asked size already).
fn limit<I: Send + Sync + 'static>(
    kind: DatasetKind,
    train: SharedDataset<I>,
    valid: SharedDataset<I>,
    train_size: Option<usize>,
    valid_size: Option<usize>,
    seed: u64,
) -> Result<(SharedDataset<I>, SharedDataset<I>)> {
    if kind.is_synthetic() {
        return Ok((train, valid));
    }
    let subset = |data: SharedDataset<I>, size: Option<usize>, seed: u64| -> Result<_> {
        Ok(match size {
            Some(n) if n < data.len() => {
                let mut indices = shuffled_indices(data.len(), seed);
                indices.truncate(n);
                Arc::new(Subset::new(data, indices)?) as SharedDataset<I>
            }
            _ => data,
        })
    };
    Ok((
        subset(train, train_size, seed)?,
        subset(valid, valid_size, seed ^ VALID_SEED_SALT)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for kind in DatasetKind::ALL {
            assert_eq!(kind.name().parse::<DatasetKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
        let err = "imagenet".parse::<DatasetKind>().unwrap_err().to_string();
        assert!(err.contains("valid datasets: synthetic-shapes"), "{err}");
    }

    #[test]
    fn synthetic_data_open_at_the_asked_sizes_with_a_disjoint_validation_seed() {
        let spec = DatasetSpec::new(DatasetKind::SyntheticShapes).with_sizes(Some(20), Some(6));
        let Splits::Classification(data) = open(&spec).unwrap() else {
            panic!("shapes is a classification dataset")
        };
        assert_eq!((data.train.len(), data.valid.len()), (20, 6));
        assert_eq!((data.input, data.num_classes), ([3, 32, 32], 10));
        assert_eq!(data.augmentation, Augmentation::PadCropFlip(4));
        assert_ne!(
            data.train.get(0).unwrap().image,
            data.valid.get(0).unwrap().image
        );
        let cells = DatasetSpec::new(DatasetKind::SyntheticCells).with_image_size(Some(32));
        let Splits::Segmentation(data) = open(&cells).unwrap() else {
            panic!("cells is a segmentation dataset")
        };
        assert_eq!((data.train.len(), data.valid.len()), (160, 32));
        assert_eq!(data.train.get(0).unwrap().image.height, 32);
        assert_eq!(data.crop, None);
    }

    #[test]
    fn presets_decide_the_input_normalisation_and_augmentation() {
        let spec = DatasetSpec::new(DatasetKind::SyntheticShapes).with_sizes(Some(4), Some(2));
        let Splits::Classification(data) = open(&spec).unwrap() else {
            panic!("classification")
        };
        assert_eq!(data.preprocessing.preset, Preset::Cifar);
        assert_eq!(
            data.class_names[..2],
            ["circle".to_string(), "square".into()]
        );
        let imagenet = spec
            .clone()
            .with_preprocess(Some(Preset::Imagenet))
            .with_image_size(Some(48));
        let Splits::Classification(data) = open(&imagenet).unwrap() else {
            panic!("classification")
        };
        assert_eq!(data.input, [3, 48, 48]);
        assert_eq!(data.normalization, Normalization::imagenet());
        assert_eq!(data.augmentation, Augmentation::RandomResizedCropFlip);
        let none = spec.with_preprocess(Some(Preset::None));
        let Splits::Classification(data) = open(&none).unwrap() else {
            panic!("classification")
        };
        assert_eq!(
            (data.input, data.augmentation),
            ([3, 32, 32], Augmentation::None)
        );
    }

    #[test]
    fn an_image_folder_with_train_and_val_uses_them_as_the_split() {
        let dir = tempfile::tempdir().unwrap();
        let image = |split: &str, class: &str, name: &str, side: usize| {
            let folder = dir.path().join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            let png = crate::image::ImageU8 {
                channels: 3,
                height: side,
                width: side + 3,
                data: vec![100; 3 * side * (side + 3)],
            };
            crate::image::save_png(&png, &folder.join(name)).unwrap();
        };
        for i in 0..3 {
            image("train", "bee", &format!("{i}.png"), 20);
            image("train", "wasp", &format!("{i}.png"), 30);
        }
        image("val", "wasp", "v.png", 25);
        let spec = DatasetSpec::new(DatasetKind::Folder).with_root(dir.path());
        let Splits::Classification(data) = open(&spec).unwrap() else {
            panic!("classification")
        };
        assert_eq!((data.train.len(), data.valid.len()), (6, 1));
        assert_eq!(data.class_names, ["bee", "wasp"]);
        assert_eq!(data.valid.get(0).unwrap().label, 1);
        assert_eq!(
            data.input,
            [3, 64, 64],
            "the CIFAR preset resizes on reading"
        );
        let spec = spec
            .with_preprocess(Some(Preset::Imagenet))
            .with_image_size(Some(16));
        let Splits::Classification(data) = open(&spec).unwrap() else {
            panic!("classification")
        };
        assert_eq!(data.input, [3, 16, 16]);
        assert_eq!(
            data.valid.get(0).unwrap().image.shape(),
            [3, 25, 28],
            "the ImageNet preset reads images whole"
        );
    }

    #[test]
    fn bad_specs_are_errors_naming_the_value() {
        let zero = DatasetSpec::new(DatasetKind::SyntheticShapes).with_sizes(Some(0), None);
        let err = open(&zero).err().unwrap().to_string();
        assert!(err.contains("training size"), "{err}");
        let missing = DatasetSpec::new(DatasetKind::Cifar10).with_root("/nowhere");
        let err = open(&missing).err().unwrap().to_string();
        assert!(err.contains("/nowhere"), "{err}");
    }
}
