//! Datasets by download (feature `download`): CIFAR-10, CIFAR-100, MNIST and Fashion-MNIST
//! fetched from their publishers, checked against the published MD5s and unpacked under the data
//! root in the layout the readers expect:
//!
//! | dataset | folder under the root | from |
//! |---|---|---|
//! | `cifar10` | `cifar-10-batches-bin/` | `cifar-10-binary.tar.gz`, the binary version on the CIFAR page (kept in the root) |
//! | `cifar100` | `cifar-100-binary/` | `cifar-100-binary.tar.gz`, likewise |
//! | `mnist` | `mnist/` | the four `.gz` IDX files, torchvision's mirrors and MD5s |
//! | `fashion-mnist` | `fashion-mnist/` | the four `.gz` IDX files, torchvision's mirror and MD5s |
//!
//! A dataset is assembled in a hidden folder beside its destination, read back with the
//! project's own reader, and renamed into place only then: a checksum mismatch, a truncated or
//! hostile archive, or a full disk leaves no dataset folder (and no stray file) behind. An
//! archive is downloaded once, atomically (`skipnet_core::download`); an archive or a folder
//! already there is checked, never overwritten.
//!
//! ```no_run
//! use skipnet_data::download::{Downloader, fetch};
//! use skipnet_data::registry::{DatasetKind, DatasetSpec};
//!
//! let spec = DatasetSpec::new(DatasetKind::Cifar10).with_root("datasets");
//! let folder = fetch(&spec, &Downloader::new())?; // datasets/cifar-10-batches-bin
//! # Ok::<(), skipnet_data::DataError>(())
//! ```

use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
pub use skipnet_core::download::{Checksum, DownloadError, Downloader};

use crate::cifar::{CifarDataset, CifarKind};
use crate::error::{DataError, Result};
use crate::idx::IdxDataset;
use crate::item::Split;
use crate::registry::{DatasetKind, DatasetSpec};

/// One file to download, with its published MD5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// The file name, appended to each mirror.
    pub name: String,
    /// Its MD5, 32 hex digits.
    pub md5: String,
}

/// How the downloaded files become the dataset's folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpack {
    /// One `.tar.gz` archive holding the folder (CIFAR); the archive is kept in the root.
    TarGz,
    /// The files go into the folder as they are (the IDX `.gz` files the readers take).
    Files,
}

/// Where a dataset comes from and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSource {
    /// The dataset.
    pub kind: DatasetKind,
    /// Base URLs, tried in order; each file's name is appended.
    pub mirrors: Vec<String>,
    /// The files to download.
    pub files: Vec<RemoteFile>,
    /// How they are unpacked.
    pub unpack: Unpack,
    /// The folder under the data root the reader opens.
    pub folder: String,
}

fn remote(files: &[(&str, &str)]) -> Vec<RemoteFile> {
    files
        .iter()
        .map(|(name, md5)| RemoteFile {
            name: name.to_string(),
            md5: md5.to_string(),
        })
        .collect()
}

/// Where `kind` is downloaded from; `None` for the built-in and the user's own datasets.
///
/// The MNIST and Fashion-MNIST mirrors and MD5s are torchvision 0.29.2's
/// (`torchvision/datasets/mnist.py`). torchvision downloads CIFAR's Python (pickle) version; the
/// readers here take the binary version from the same page
/// (<https://www.cs.toronto.edu/~kriz/cifar.html>), whose MD5s that page publishes.
pub fn source(kind: DatasetKind) -> Option<DatasetSource> {
    let toronto = vec!["https://www.cs.toronto.edu/~kriz/".to_string()];
    let idx = |md5s: [&str; 4]| {
        remote(&[
            ("train-images-idx3-ubyte.gz", md5s[0]),
            ("train-labels-idx1-ubyte.gz", md5s[1]),
            ("t10k-images-idx3-ubyte.gz", md5s[2]),
            ("t10k-labels-idx1-ubyte.gz", md5s[3]),
        ])
    };
    let source = match kind {
        DatasetKind::Cifar10 => DatasetSource {
            kind,
            mirrors: toronto,
            files: remote(&[("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530")]),
            unpack: Unpack::TarGz,
            folder: "cifar-10-batches-bin".into(),
        },
        DatasetKind::Cifar100 => DatasetSource {
            kind,
            mirrors: toronto,
            files: remote(&[(
                "cifar-100-binary.tar.gz",
                "03b5dce01913d631647c71ecec9e9cb8",
            )]),
            unpack: Unpack::TarGz,
            folder: "cifar-100-binary".into(),
        },
        DatasetKind::Mnist => DatasetSource {
            kind,
            mirrors: vec![
                "https://ossci-datasets.s3.amazonaws.com/mnist/".into(),
                "http://yann.lecun.com/exdb/mnist/".into(),
            ],
            files: idx([
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "d53e105ee54ea40749a09fcbcd1e9432",
                "9fb629c4189551a2d022fa330f9573f3",
                "ec29112dd5afa0611ce80d1b7f02629c",
            ]),
            unpack: Unpack::Files,
            folder: "mnist".into(),
        },
        DatasetKind::FashionMnist => DatasetSource {
            kind,
            mirrors: vec!["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/".into()],
            files: idx([
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "25c81989df183df01b3e8a0aad5dffbe",
                "bef4ecab320f06d8554ea6380940ec79",
                "bb300cfdad3c16e7a12a480ee83cd310",
            ]),
            unpack: Unpack::Files,
            folder: "fashion-mnist".into(),
        },
        _ => return None,
    };
    Some(source)
}

/// The datasets [`source`] knows, for messages.
pub fn downloadable() -> Vec<DatasetKind> {
    [
        DatasetKind::Cifar10,
        DatasetKind::Cifar100,
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
    ]
    .into_iter()
    .filter(|kind| source(*kind).is_some())
    .collect()
}

/// The folder of `spec`'s dataset under its data root, downloaded first when it is not there
/// ([`DatasetSource::fetch`]); an error for a dataset that is not downloaded (built in, or the
/// user's own folder).
pub fn fetch(spec: &DatasetSpec, downloader: &Downloader) -> Result<PathBuf> {
    let source = source(spec.kind).ok_or_else(|| DataError::Invalid {
        what: "dataset to download".into(),
        problem: format!(
            "{} is not downloaded (built in, or your own files); --download takes {}",
            spec.kind,
            downloadable()
                .iter()
                .map(|kind| kind.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })?;
    source.fetch(&spec.root(), downloader)
}

impl DatasetSource {
    /// The dataset's folder under `root`, downloaded, checked and unpacked first unless it is
    /// already there and complete (then nothing is downloaded). A folder that is there but
    /// incomplete is an error naming what it lacks; it is never overwritten.
    pub fn fetch(&self, root: &Path, downloader: &Downloader) -> Result<PathBuf> {
        let folder = root.join(&self.folder);
        if folder.exists() {
            return match self.read_back(root) {
                Ok(()) => Ok(folder),
                Err(e) => Err(DataError::Invalid {
                    what: format!("{} folder", self.kind),
                    problem: format!(
                        "{} is there but does not read ({e}); move it away and download again",
                        folder.display()
                    ),
                }),
            };
        }
        std::fs::create_dir_all(root).map_err(|e| DataError::io(root, e))?;
        let staging = skipnet_core::atomic::temp_path(&folder);
        let result = self.assemble(root, &staging, downloader).and_then(|()| {
            std::fs::rename(staging.join(&self.folder), &folder)
                .map_err(|e| DataError::io(&folder, e))
        });
        let _ = std::fs::remove_dir_all(&staging);
        result.map(|()| folder)
    }

    /// Downloads and unpacks into `staging/<folder>` and reads it back from there.
    fn assemble(&self, root: &Path, staging: &Path, downloader: &Downloader) -> Result<()> {
        let target = staging.join(&self.folder);
        std::fs::create_dir_all(&target).map_err(|e| DataError::io(&target, e))?;
        for file in &self.files {
            let urls: Vec<String> = self
                .mirrors
                .iter()
                .map(|mirror| format!("{mirror}{}", file.name))
                .collect();
            let checksum = Checksum::Md5(file.md5.clone());
            let download_error = |e| self.download_error(e, root);
            match self.unpack {
                Unpack::Files => {
                    downloader
                        .fetch(&urls, &target.join(&file.name), &checksum)
                        .map_err(download_error)?;
                }
                Unpack::TarGz => {
                    // The archive is kept in the root, as torchvision keeps it: checked if it is
                    // already there, else downloaded.
                    let archive = root.join(&file.name);
                    if archive.is_file() {
                        skipnet_core::download::verify(&archive, &checksum)
                            .map_err(download_error)?;
                    } else {
                        downloader
                            .fetch(&urls, &archive, &checksum)
                            .map_err(download_error)?;
                    }
                    unpack_tar_gz(&archive, staging)?;
                }
            }
        }
        self.read_back(staging)
    }

    /// Opens both splits from `root` with the dataset's reader.
    fn read_back(&self, root: &Path) -> Result<()> {
        for split in [Split::Train, Split::Test] {
            match self.kind {
                DatasetKind::Cifar10 => {
                    CifarDataset::open(root, CifarKind::Cifar10, split)?;
                }
                DatasetKind::Cifar100 => {
                    CifarDataset::open(root, CifarKind::Cifar100Fine, split)?;
                }
                _ => {
                    IdxDataset::open(&root.join(&self.folder), split, 10, "")?;
                }
            }
        }
        Ok(())
    }

    fn download_error(&self, e: DownloadError, root: &Path) -> DataError {
        DataError::Download {
            dataset: self.kind.to_string(),
            error: Box::new(e),
            by_hand: match self.unpack {
                Unpack::TarGz => format!(
                    "put {} into {}, then run again with --download (it is checked and unpacked)",
                    self.files[0].name,
                    root.display()
                ),
                Unpack::Files => format!(
                    "put {} into {}",
                    self.files
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    root.join(&self.folder).display()
                ),
            },
        }
    }
}

/// Unpacks the `.tar.gz` at `archive` into `into`: regular files and folders only, every path
/// relative and inside `into` (an absolute path, `..`, a link or a device is an error naming the
/// entry).
fn unpack_tar_gz(archive: &Path, into: &Path) -> Result<()> {
    let file = std::fs::File::open(archive).map_err(|e| DataError::io(archive, e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    let broken =
        |e: std::io::Error| DataError::format(archive, format!("not a whole .tar.gz: {e}"));
    for entry in tar.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        let path = entry.path().map_err(broken)?.into_owned();
        let kind = entry.header().entry_type();
        let inside = path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !inside || !(kind.is_file() || kind.is_dir()) {
            return Err(DataError::format(
                archive,
                format!(
                    "entry {} ({kind:?}) is not a file or folder inside the archive; refused",
                    path.display()
                ),
            ));
        }
        let dest = into.join(&path);
        if kind.is_dir() {
            std::fs::create_dir_all(&dest).map_err(|e| DataError::io(&dest, e))?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
        }
        let mut out = std::fs::File::create(&dest).map_err(|e| DataError::io(&dest, e))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData => broken(e),
            _ => DataError::io(&dest, e),
        })?;
    }
    Ok(())
}
