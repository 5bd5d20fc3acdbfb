//! CIFAR-10 and CIFAR-100 in their binary format (Krizhevsky 2009).
//!
//! - CIFAR-10: `cifar-10-batches-bin/data_batch_{1..5}.bin` and `test_batch.bin`; each record is
//!   1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue, rows of 32).
//! - CIFAR-100: `cifar-100-binary/train.bin` and `test.bin`; each record is 1 coarse label byte,
//!   1 fine label byte + 3072 pixel bytes.

use std::path::{Path, PathBuf};

use burn::data::dataset::{Dataset, DatasetError};

use crate::error::{DataError, Result, read_file};
use crate::image::ImageU8;
use crate::item::{ClassificationItem, Split};

/// Pixel bytes per CIFAR image (3 × 32 × 32).
pub const CIFAR_IMAGE_BYTES: usize = 3 * 32 * 32;

/// Which CIFAR and, for CIFAR-100, which labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarKind {
    /// 10 classes.
    Cifar10,
    /// 100 fine classes.
    Cifar100Fine,
    /// 20 coarse classes (superclasses).
    Cifar100Coarse,
}

impl CifarKind {
    /// Classes of the labels this kind reads.
    pub fn num_classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100Fine => 100,
            CifarKind::Cifar100Coarse => 20,
        }
    }

    fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            _ => 2,
        }
    }

    /// Bytes per record.
    pub fn record_bytes(self) -> usize {
        self.label_bytes() + CIFAR_IMAGE_BYTES
    }

    fn folder(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "cifar-10-batches-bin",
            _ => "cifar-100-binary",
        }
    }

    fn files(self, split: Split) -> Vec<&'static str> {
        match (self, split) {
            (CifarKind::Cifar10, Split::Train) => vec![
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
            ],
            (CifarKind::Cifar10, Split::Test) => vec!["test_batch.bin"],
            (_, Split::Train) => vec!["train.bin"],
            (_, Split::Test) => vec!["test.bin"],
        }
    }
}

/// A CIFAR split held in memory (about 150 MB for CIFAR-10 train).
#[derive(Debug, Clone)]
pub struct CifarDataset {
    kind: CifarKind,
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

impl CifarDataset {
    /// Reads a split of `kind` from `root`, which may be the data root (holding
    /// `cifar-10-batches-bin/` or `cifar-100-binary/`) or that folder itself.
    pub fn open(root: &Path, kind: CifarKind, split: Split) -> Result<Self> {
        let files = kind.files(split);
        let folder = [root.join(kind.folder()), root.to_path_buf()]
            .into_iter()
            .find(|dir| dir.join(files[0]).is_file())
            .ok_or_else(|| DataError::Missing {
                what: match kind {
                    CifarKind::Cifar10 => "CIFAR-10".into(),
                    _ => "CIFAR-100".into(),
                },
                path: root.join(kind.folder()),
                looked_for: files.join(", "),
                how_to_get: format!(
                    "Download the binary version from https://www.cs.toronto.edu/~kriz/cifar.html \
                     and unpack it into {} (or pass --data-dir), or add --download.",
                    root.display()
                ),
            })?;
        let mut dataset = CifarDataset {
            kind,
            pixels: Vec::new(),
            labels: Vec::new(),
        };
        for file in files {
            let path: PathBuf = folder.join(file);
            if !path.is_file() {
                return Err(DataError::Missing {
                    what: format!("{file} of the {split:?} split"),
                    path,
                    looked_for: kind.files(split).join(", "),
                    how_to_get: "The archive is incomplete: unpack it again.".into(),
                });
            }
            dataset.append(&path, &read_file(&path)?)?;
        }
        Ok(dataset)
    }

    /// Parses one CIFAR binary file already in memory; `path` names it in errors.
    pub fn from_bytes(kind: CifarKind, bytes: &[u8], path: &Path) -> Result<Self> {
        let mut dataset = CifarDataset {
            kind,
            pixels: Vec::new(),
            labels: Vec::new(),
        };
        dataset.append(path, bytes)?;
        Ok(dataset)
    }

    fn append(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let record = self.kind.record_bytes();
        if bytes.is_empty() {
            return Err(DataError::format(path, "the file is empty (0 bytes)"));
        }
        if !bytes.len().is_multiple_of(record) {
            return Err(DataError::format(
                path,
                format!(
                    "{} bytes is not a whole number of {record}-byte records ({} full records and {} \
                     bytes left): truncated, or not {:?} binary",
                    bytes.len(),
                    bytes.len() / record,
                    bytes.len() % record,
                    self.kind
                ),
            ));
        }
        let count = bytes.len() / record;
        self.pixels.reserve(count * CIFAR_IMAGE_BYTES);
        self.labels.reserve(count);
        let classes = self.kind.num_classes();
        for (i, rec) in bytes.chunks_exact(record).enumerate() {
            let (coarse, fine) = (rec[0], rec[self.kind.label_bytes() - 1]);
            let label = match self.kind {
                CifarKind::Cifar10 | CifarKind::Cifar100Fine => fine,
                CifarKind::Cifar100Coarse => coarse,
            };
            let limits = match self.kind {
                CifarKind::Cifar10 => [(fine, 10)].to_vec(),
                _ => [(coarse, 20), (fine, 100)].to_vec(),
            };
            for (value, max) in limits {
                if value as usize >= max {
                    return Err(DataError::format(
                        path,
                        format!(
                            "record {i} (byte offset {}) has label {value}, expected 0..{max}",
                            i * record
                        ),
                    ));
                }
            }
            debug_assert!((label as usize) < classes);
            self.labels.push(label);
            self.pixels
                .extend_from_slice(&rec[self.kind.label_bytes()..]);
        }
        Ok(())
    }

    /// Which CIFAR this is.
    pub fn kind(&self) -> CifarKind {
        self.kind
    }

    /// Labels of every item, in order.
    pub fn labels(&self) -> impl Iterator<Item = usize> + '_ {
        self.labels.iter().map(|&l| l as usize)
    }

    /// The item at `index`, or `None` past the end.
    pub fn item(&self, index: usize) -> Option<ClassificationItem> {
        let label = *self.labels.get(index)? as usize;
        let start = index * CIFAR_IMAGE_BYTES;
        Some(ClassificationItem {
            image: ImageU8 {
                channels: 3,
                height: 32,
                width: 32,
                data: self.pixels[start..start + CIFAR_IMAGE_BYTES].to_vec(),
            },
            label,
        })
    }
}

impl Dataset<ClassificationItem> for CifarDataset {
    fn get(&self, index: usize) -> Result<ClassificationItem, DatasetError> {
        self.item(index)
            .ok_or_else(|| crate::error::past_the_end(index, self.labels.len()))
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

/// Encodes items in CIFAR binary format (used by tests and by `data synth`).
pub fn encode(kind: CifarKind, items: &[(u8, u8, [u8; CIFAR_IMAGE_BYTES])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() * kind.record_bytes());
    for (coarse, fine, pixels) in items {
        if kind != CifarKind::Cifar10 {
            out.push(*coarse);
        }
        out.push(*fine);
        out.extend_from_slice(pixels);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: u8, fill: u8) -> (u8, u8, [u8; CIFAR_IMAGE_BYTES]) {
        let mut pixels = [fill; CIFAR_IMAGE_BYTES];
        pixels[0] = 200; // red at (0, 0)
        pixels[1024] = 100; // green at (0, 0)
        (label % 20, label, pixels)
    }

    #[test]
    fn reads_cifar10_files_the_test_writes() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("cifar-10-batches-bin");
        std::fs::create_dir_all(&folder).unwrap();
        for (i, name) in CifarKind::Cifar10.files(Split::Train).iter().enumerate() {
            let items: Vec<_> = (0..3)
                .map(|j| record((i * 3 + j) as u8 % 10, j as u8))
                .collect();
            std::fs::write(folder.join(name), encode(CifarKind::Cifar10, &items)).unwrap();
        }
        let train = CifarDataset::open(dir.path(), CifarKind::Cifar10, Split::Train).unwrap();
        assert_eq!(train.len(), 15);
        let item = train.get(4).unwrap();
        assert_eq!(item.label, 4);
        assert_eq!(item.image.shape(), [3, 32, 32]);
        assert_eq!(
            (
                item.image.data[0],
                item.image.data[1024],
                item.image.data[2048]
            ),
            (200, 100, 1)
        );
        // The test split is missing: the error says what was looked for and how to get it.
        let err = CifarDataset::open(dir.path(), CifarKind::Cifar10, Split::Test).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("test_batch.bin") && msg.contains("cifar.html"),
            "{msg}"
        );
    }

    #[test]
    fn reads_cifar100_fine_and_coarse() {
        let dir = tempfile::tempdir().unwrap();
        let items = vec![record(57, 0), record(99, 1)];
        std::fs::write(
            dir.path().join("train.bin"),
            encode(CifarKind::Cifar100Fine, &items),
        )
        .unwrap();
        let fine = CifarDataset::open(dir.path(), CifarKind::Cifar100Fine, Split::Train).unwrap();
        assert_eq!(fine.labels().collect::<Vec<_>>(), vec![57, 99]);
        let coarse =
            CifarDataset::open(dir.path(), CifarKind::Cifar100Coarse, Split::Train).unwrap();
        assert_eq!(coarse.labels().collect::<Vec<_>>(), vec![17, 19]);
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let path = Path::new("data_batch_1.bin");
        let good = encode(CifarKind::Cifar10, &[record(3, 0), record(4, 0)]);
        let err = CifarDataset::from_bytes(CifarKind::Cifar10, &good[..good.len() - 7], path)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("data_batch_1.bin: 6139 bytes is not a whole number"),
            "{err}"
        );
        let err = CifarDataset::from_bytes(CifarKind::Cifar10, &[], path).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        let mut bad_label = good.clone();
        bad_label[3073] = 10;
        let err = CifarDataset::from_bytes(CifarKind::Cifar10, &bad_label, path).unwrap_err();
        assert!(
            err.to_string()
                .contains("record 1 (byte offset 3073) has label 10, expected 0..10"),
            "{err}"
        );
        let err = CifarDataset::from_bytes(CifarKind::Cifar100Fine, &good, path).unwrap_err();
        assert!(err.to_string().contains("3074-byte records"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..8000)) {
            for kind in [CifarKind::Cifar10, CifarKind::Cifar100Fine, CifarKind::Cifar100Coarse] {
                if let Ok(d) = CifarDataset::from_bytes(kind, &bytes, Path::new("fuzz.bin")) {
                    proptest::prop_assert_eq!(d.len() * kind.record_bytes(), bytes.len());
                    for i in 0..d.len() {
                        proptest::prop_assert!(d.get(i).unwrap().label < kind.num_classes());
                    }
                }
            }
        }
    }
}
