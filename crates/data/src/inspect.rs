//! `data inspect`: what a path holds, validated end to end.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cifar::{CifarDataset, CifarKind};
use crate::error::{DataError, Result};
use crate::folder::ImageFolder;
use crate::idx::{self, IdxDataset};
use crate::item::Split;
use crate::segmentation::SegmentationFolder;

/// The formats `inspect` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CIFAR-10 binary.
    Cifar10,
    /// CIFAR-100 binary.
    Cifar100,
    /// IDX files (a folder of MNIST-style files, or one file).
    Idx,
    /// Classification image folder.
    Folder,
    /// Segmentation folder.
    SegFolder,
}

impl std::str::FromStr for Format {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "cifar10" => Format::Cifar10,
            "cifar100" => Format::Cifar100,
            "idx" => Format::Idx,
            "folder" => Format::Folder,
            "seg-folder" => Format::SegFolder,
            other => {
                return Err(DataError::invalid(
                    "format",
                    format!("'{other}' (cifar10, cifar100, idx, folder or seg-folder)"),
                ));
            }
        })
    }
}

/// One part (split) of what was found.
#[derive(Debug, Clone, PartialEq)]
pub struct PartReport {
    /// `train`, `test`, a file name, or `all`.
    pub name: String,
    /// Number of items.
    pub items: usize,
    /// Items per class (classification).
    pub class_counts: Vec<usize>,
    /// Mean foreground fraction (segmentation).
    pub foreground: Option<f64>,
    /// Objects (instances) in all, and how many of them touch another object (segmentation).
    pub objects: Option<[usize; 2]>,
}

/// What `inspect` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The path inspected.
    pub path: PathBuf,
    /// The format found.
    pub format: Format,
    /// Item shape `[channels, height, width]`, or `None` when sizes vary.
    pub shape: Option<[usize; 3]>,
    /// Element type on disk (`u8`, `u16`...).
    pub dtype: String,
    /// Class names, when known.
    pub classes: Vec<String>,
    /// Each split or file.
    pub parts: Vec<PartReport>,
}

fn counts(labels: impl Iterator<Item = usize>, classes: usize) -> Vec<usize> {
    let mut c = vec![0; classes];
    for l in labels {
        c[l] += 1;
    }
    c
}

fn detect(path: &Path) -> Result<Format> {
    if path.is_file() {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.contains("idx") {
            return Ok(Format::Idx);
        }
        if name.ends_with(".bin") {
            let len = std::fs::metadata(path)
                .map_err(|e| DataError::io(path, e))?
                .len() as usize;
            return Ok(if len.is_multiple_of(CifarKind::Cifar10.record_bytes()) {
                Format::Cifar10
            } else {
                Format::Cifar100
            });
        }
        return Err(DataError::format(
            path,
            "cannot tell the format of this file; pass --format",
        ));
    }
    if !path.is_dir() {
        return Err(DataError::Missing {
            what: "data".into(),
            path: path.to_path_buf(),
            looked_for: "a dataset file or folder".into(),
            how_to_get: "Check the path.".into(),
        });
    }
    let has = |p: &str| path.join(p).exists();
    if has("cifar-10-batches-bin") || has("data_batch_1.bin") || has("test_batch.bin") {
        return Ok(Format::Cifar10);
    }
    if has("cifar-100-binary") || has("train.bin") {
        return Ok(Format::Cifar100);
    }
    let entries = crate::error::read_dir_sorted(path)?;
    if entries.iter().any(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().contains("-ubyte"))
    }) {
        return Ok(Format::Idx);
    }
    if has("images") || entries.iter().any(|p| p.join("images").is_dir()) {
        return Ok(Format::SegFolder);
    }
    if entries.iter().any(|p| p.is_dir()) {
        return Ok(Format::Folder);
    }
    Err(DataError::format(
        path,
        "no known dataset layout here (CIFAR binary, IDX files, class folders, images/ + masks/); pass --format",
    ))
}

/// Reads everything at `path` (every image decoded, every label checked) and reports it.
pub fn inspect(path: &Path, format: Option<Format>) -> Result<Report> {
    let format = match format {
        Some(f) => f,
        None => detect(path)?,
    };
    let mut report = Report {
        path: path.to_path_buf(),
        format,
        shape: None,
        dtype: "u8".into(),
        classes: Vec::new(),
        parts: Vec::new(),
    };
    match format {
        Format::Cifar10 | Format::Cifar100 => {
            let kind = if format == Format::Cifar10 {
                CifarKind::Cifar10
            } else {
                CifarKind::Cifar100Fine
            };
            report.shape = Some([3, 32, 32]);
            if path.is_file() {
                let bytes = crate::error::read_file(path)?;
                let d = CifarDataset::from_bytes(kind, &bytes, path)?;
                report.parts.push(part_of(
                    &path.display().to_string(),
                    d.labels(),
                    kind.num_classes(),
                ));
            } else {
                for split in [Split::Train, Split::Test] {
                    match CifarDataset::open(path, kind, split) {
                        Ok(d) => report.parts.push(part_of(
                            split_name(split),
                            d.labels(),
                            kind.num_classes(),
                        )),
                        Err(DataError::Missing { .. })
                            if !report.parts.is_empty() || split == Split::Train => {}
                        Err(e) => return Err(e),
                    }
                }
                if report.parts.is_empty() {
                    CifarDataset::open(path, kind, Split::Test)?;
                }
            }
        }
        Format::Idx => {
            if path.is_file() {
                let array = idx::read(path)?;
                report.shape = match array.dims.as_slice() {
                    [_, h, w] => Some([1, *h, *w]),
                    _ => None,
                };
                report.parts.push(PartReport {
                    name: format!("{} {:?}", path.display(), array.dims),
                    items: array.dims.first().copied().unwrap_or(0),
                    class_counts: Vec::new(),
                    foreground: None,
                    objects: None,
                });
            } else {
                for split in [Split::Train, Split::Test] {
                    match IdxDataset::open(path, split, 256, "") {
                        Ok(d) => {
                            let [h, w] = d.image_size();
                            report.shape = Some([1, h, w]);
                            let classes = d.labels().max().map_or(0, |m| m + 1);
                            report
                                .parts
                                .push(part_of(split_name(split), d.labels(), classes));
                        }
                        Err(DataError::Missing { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                if report.parts.is_empty() {
                    IdxDataset::open(path, Split::Train, 256, "Expected MNIST-style file names.")?;
                }
            }
        }
        Format::Folder => {
            let folder = ImageFolder::open(path, 3, None)?;
            report.classes = folder.classes().to_vec();
            let mut shapes = std::collections::BTreeSet::new();
            for (image_path, _) in folder.entries() {
                let raw = crate::image::decode(image_path)?;
                shapes.insert([raw.colour_channels(), raw.height, raw.width]);
                report.dtype = format!("u{}", raw.bit_depth());
            }
            report.shape = (shapes.len() == 1).then(|| *shapes.iter().next().expect("one shape"));
            let labels = folder.entries().iter().map(|(_, l)| *l);
            report
                .parts
                .push(part_of("all", labels, folder.classes().len()));
        }
        Format::SegFolder => {
            let folder = SegmentationFolder::open(path)?;
            let mut shapes = std::collections::BTreeSet::new();
            let mut fg = 0.0;
            let mut objects = [0usize; 2];
            for i in 0..folder.entries().len() {
                let item = folder.load(i)?;
                shapes.insert(item.image.shape());
                fg += item.foreground_fraction();
                if let Some(ids) = &item.instances {
                    let [all, touching] =
                        crate::labels::touching_objects(ids, item.image.height, item.image.width);
                    objects[0] += all;
                    objects[1] += touching;
                }
            }
            report.dtype = format!(
                "u{}",
                crate::image::decode(&folder.entries()[0].0)?.bit_depth()
            );
            report.shape = (shapes.len() == 1).then(|| *shapes.iter().next().expect("one shape"));
            let n = folder.entries().len();
            report.parts.push(PartReport {
                name: format!("{:?}", folder.layout()).to_lowercase(),
                items: n,
                class_counts: Vec::new(),
                foreground: Some(fg / n as f64),
                objects: Some(objects),
            });
        }
    }
    Ok(report)
}

fn split_name(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Test => "test",
    }
}

fn part_of(name: &str, labels: impl Iterator<Item = usize>, classes: usize) -> PartReport {
    let class_counts = counts(labels, classes);
    PartReport {
        name: name.to_string(),
        items: class_counts.iter().sum(),
        class_counts,
        foreground: None,
        objects: None,
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {:?}", self.path.display(), self.format)?;
        match self.shape {
            Some([c, h, w]) => writeln!(f, "  item shape: [{c}, {h}, {w}] ({})", self.dtype)?,
            None => writeln!(f, "  item shape: varies ({})", self.dtype)?,
        }
        if !self.classes.is_empty() {
            writeln!(f, "  classes: {}", self.classes.join(", "))?;
        }
        for part in &self.parts {
            write!(f, "  {}: {} items", part.name, part.items)?;
            if let Some(fg) = part.foreground {
                write!(f, ", mean foreground fraction {:.3}", fg)?;
            }
            if let Some([all, touching]) = part.objects {
                write!(
                    f,
                    ", {all} objects, {touching} ({:.1} %) touching another",
                    100.0 * touching as f64 / all.max(1) as f64
                )?;
            }
            writeln!(f)?;
            if !part.class_counts.is_empty() {
                let balance: Vec<String> = part
                    .class_counts
                    .iter()
                    .enumerate()
                    .map(|(c, n)| format!("{c}:{n}"))
                    .collect();
                writeln!(f, "    class balance: {}", balance.join(" "))?;
            }
        }
        Ok(())
    }
}
