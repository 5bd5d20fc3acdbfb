//! IDX files (MNIST, Fashion-MNIST, KMNIST...), raw or gzipped.
//!
//! Header: two zero bytes, a type byte (`0x08` = unsigned byte), the number of dimensions `d`,
//! then `d` big-endian `u32` sizes; the data follow. Images are `[n, rows, cols]`, labels `[n]`.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::data::dataset::{Dataset, DatasetError};

use crate::error::{DataError, Result};
use crate::image::ImageU8;
use crate::item::{ClassificationItem, Split};

/// A parsed IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Sizes of each dimension.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// The only IDX element type these datasets use.
const UNSIGNED_BYTE: u8 = 0x08;

fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Parses an IDX file's bytes (gzipped or raw); `path` names it in errors. Memory stays bounded
/// by the file's real content: a header that claims more than the file holds is an error before
/// anything of that size is allocated.
pub fn parse(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    if is_gzip(bytes) {
        let mut decoder = flate2::read::GzDecoder::new(bytes);
        let mut header = [0u8; 4];
        decoder.read_exact(&mut header).map_err(|e| {
            DataError::format(path, format!("gzip stream ends before the IDX header: {e}"))
        })?;
        let ndims = check_magic(&header, path)?;
        let mut dims_bytes = vec![0u8; 4 * ndims];
        decoder.read_exact(&mut dims_bytes).map_err(|e| {
            DataError::format(path, format!("gzip stream ends inside the IDX header: {e}"))
        })?;
        let dims = parse_dims(&dims_bytes);
        let expected = element_count(&dims, path)?;
        // Read at most what the header claims (+1 to detect trailing bytes); the Vec grows with
        // the real data, so a lying header cannot make us allocate its claim.
        let mut data = Vec::new();
        decoder
            .take(expected as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|e| DataError::format(path, format!("corrupt gzip stream: {e}")))?;
        check_len(&dims, expected, data.len(), path)?;
        Ok(IdxArray { dims, data })
    } else {
        if bytes.len() < 4 {
            return Err(DataError::format(
                path,
                format!(
                    "{} bytes is too short for an IDX header (at least 4)",
                    bytes.len()
                ),
            ));
        }
        let ndims = check_magic(&bytes[..4], path)?;
        let header_len = 4 + 4 * ndims;
        if bytes.len() < header_len {
            return Err(DataError::format(
                path,
                format!(
                    "file ends inside the IDX header ({} of {header_len} bytes)",
                    bytes.len()
                ),
            ));
        }
        let dims = parse_dims(&bytes[4..header_len]);
        let expected = element_count(&dims, path)?;
        let data = &bytes[header_len..];
        check_len(&dims, expected, data.len(), path)?;
        Ok(IdxArray {
            dims,
            data: data.to_vec(),
        })
    }
}

fn check_magic(header: &[u8], path: &Path) -> Result<usize> {
    if header[0] != 0 || header[1] != 0 {
        return Err(DataError::format(
            path,
            format!(
                "wrong magic number {:02x} {:02x} {:02x} {:02x}: an IDX file starts with 00 00 08 <dims>",
                header[0], header[1], header[2], header[3]
            ),
        ));
    }
    if header[2] != UNSIGNED_BYTE {
        return Err(DataError::format(
            path,
            format!(
                "IDX element type 0x{:02x} is not supported (expected 0x08, unsigned byte)",
                header[2]
            ),
        ));
    }
    let ndims = header[3] as usize;
    if ndims == 0 || ndims > 4 {
        return Err(DataError::format(
            path,
            format!("IDX header has {ndims} dimensions, expected 1 to 4"),
        ));
    }
    Ok(ndims)
}

fn parse_dims(bytes: &[u8]) -> Vec<usize> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect()
}

fn element_count(dims: &[usize], path: &Path) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| DataError::format(path, format!("IDX dimensions {dims:?} overflow")))
}

fn check_len(dims: &[usize], expected: usize, actual: usize, path: &Path) -> Result<()> {
    if actual < expected {
        return Err(DataError::format(
            path,
            format!(
                "header claims {dims:?} = {expected} bytes of data but the file holds {actual}: truncated or lying header"
            ),
        ));
    }
    if actual > expected {
        return Err(DataError::format(
            path,
            format!(
                "header claims {dims:?} = {expected} bytes of data but the file holds more: trailing garbage"
            ),
        ));
    }
    Ok(())
}

/// Reads and parses an IDX file.
pub fn read(path: &Path) -> Result<IdxArray> {
    let bytes = crate::error::read_file(path)?;
    parse(&bytes, path)
}

/// An IDX image set with its labels.
#[derive(Debug, Clone)]
pub struct IdxDataset {
    images: IdxArray,
    labels: Vec<u8>,
    num_classes: usize,
}

fn find(dir: &Path, stem: &str) -> Option<PathBuf> {
    [stem.to_string(), format!("{stem}.gz")]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

impl IdxDataset {
    /// Pairs an image file with a label file. Labels must be below `num_classes`.
    pub fn from_files(images: &Path, labels: &Path, num_classes: usize) -> Result<Self> {
        Self::from_arrays(read(images)?, images, read(labels)?, labels, num_classes)
    }

    /// Pairs parsed arrays; the paths name them in errors.
    pub fn from_arrays(
        images: IdxArray,
        images_path: &Path,
        labels: IdxArray,
        labels_path: &Path,
        num_classes: usize,
    ) -> Result<Self> {
        if images.dims.len() != 3 || images.dims[1] == 0 || images.dims[2] == 0 {
            return Err(DataError::format(
                images_path,
                format!(
                    "expected images of shape [n, rows, cols], found {:?}",
                    images.dims
                ),
            ));
        }
        if labels.dims.len() != 1 {
            return Err(DataError::format(
                labels_path,
                format!("expected labels of shape [n], found {:?}", labels.dims),
            ));
        }
        if images.dims[0] != labels.dims[0] {
            return Err(DataError::format(
                labels_path,
                format!(
                    "{} labels for {} images in {}",
                    labels.dims[0],
                    images.dims[0],
                    images_path.display()
                ),
            ));
        }
        if let Some((i, &l)) = labels
            .data
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= num_classes)
        {
            return Err(DataError::format(
                labels_path,
                format!("label {l} at index {i} is out of range, expected 0..{num_classes}"),
            ));
        }
        Ok(Self {
            images,
            labels: labels.data,
            num_classes,
        })
    }

    /// Reads the MNIST-style split from `dir`: `train-images-idx3-ubyte[.gz]` +
    /// `train-labels-idx1-ubyte[.gz]`, or the `t10k-` files for the test split.
    pub fn open(dir: &Path, split: Split, num_classes: usize, how_to_get: &str) -> Result<Self> {
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let image_stem = format!("{prefix}-images-idx3-ubyte");
        let label_stem = format!("{prefix}-labels-idx1-ubyte");
        let missing = |stem: &str| DataError::Missing {
            what: "IDX file".into(),
            path: dir.join(stem),
            looked_for: format!("{stem} or {stem}.gz"),
            how_to_get: how_to_get.to_string(),
        };
        let images = find(dir, &image_stem).ok_or_else(|| missing(&image_stem))?;
        let labels = find(dir, &label_stem).ok_or_else(|| missing(&label_stem))?;
        Self::from_files(&images, &labels, num_classes)
    }

    /// Fashion-MNIST from `root/fashion-mnist`, falling back to Debian's
    /// `/usr/share/datasets/fashion-mnist`.
    pub fn fashion_mnist(root: &Path, split: Split) -> Result<Self> {
        let how = "Install Debian's package `dataset-fashion-mnist` (files under \
                   /usr/share/datasets/fashion-mnist), put the IDX files there, or add --download.";
        let local = root.join("fashion-mnist");
        let system = Path::new(DEBIAN_FASHION_MNIST);
        let dir = if local.is_dir() || !system.is_dir() {
            local
        } else {
            system.to_path_buf()
        };
        Self::open(&dir, split, 10, how)
    }

    /// MNIST from `root/mnist`.
    pub fn mnist(root: &Path, split: Split) -> Result<Self> {
        Self::open(
            &root.join("mnist"),
            split,
            10,
            "Download the four IDX files of MNIST (LeCun et al.) and put them there, or add \
             --download.",
        )
    }

    /// Classes the labels range over.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Labels of every item, in order.
    pub fn labels(&self) -> impl Iterator<Item = usize> + '_ {
        self.labels.iter().map(|&l| l as usize)
    }

    /// Image size `[rows, cols]`.
    pub fn image_size(&self) -> [usize; 2] {
        [self.images.dims[1], self.images.dims[2]]
    }

    /// The item at `index`, or `None` past the end.
    pub fn item(&self, index: usize) -> Option<ClassificationItem> {
        let label = *self.labels.get(index)? as usize;
        let [h, w] = self.image_size();
        let start = index * h * w;
        Some(ClassificationItem {
            image: ImageU8 {
                channels: 1,
                height: h,
                width: w,
                data: self.images.data[start..start + h * w].to_vec(),
            },
            label,
        })
    }
}

/// Where Debian's `dataset-fashion-mnist` installs the files.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

impl Dataset<ClassificationItem> for IdxDataset {
    fn get(&self, index: usize) -> Result<ClassificationItem, DatasetError> {
        self.item(index)
            .ok_or_else(|| crate::error::past_the_end(index, self.labels.len()))
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

/// Encodes an unsigned-byte IDX array (used by tests and tools).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, UNSIGNED_BYTE, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn raw_and_gzipped_files_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let images: Vec<u8> = (0..3 * 4 * 5).map(|i| i as u8).collect();
        std::fs::write(
            dir.path().join("train-images-idx3-ubyte"),
            encode(&[3, 4, 5], &images),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("train-labels-idx1-ubyte.gz"),
            gzip(&encode(&[3], &[7, 0, 9])),
        )
        .unwrap();
        let d = IdxDataset::open(dir.path(), Split::Train, 10, "").unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d.image_size(), [4, 5]);
        let item = d.get(1).unwrap();
        assert_eq!(item.label, 0);
        assert_eq!(item.image.data[0], 20);
        let err = IdxDataset::open(dir.path(), Split::Test, 10, "get it here")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz")
                && err.contains("get it here"),
            "{err}"
        );
    }

    #[test]
    fn lying_header_does_not_allocate_its_claim() {
        let p = Path::new("x-idx3-ubyte");
        // 2^31 items of 28×28 claimed, 10 bytes present.
        let mut bytes = encode(&[1 << 31, 28, 28], &[0; 10]);
        let err = parse(&bytes, p).unwrap_err().to_string();
        assert!(err.contains("truncated or lying header"), "{err}");
        let err = parse(&gzip(&bytes), p).unwrap_err().to_string();
        assert!(err.contains("truncated or lying header"), "{err}");
        bytes[2] = 0x0d;
        assert!(
            parse(&bytes, p)
                .unwrap_err()
                .to_string()
                .contains("0x0d is not supported")
        );
        let err = parse(&[1, 2, 3, 4, 5], p).unwrap_err().to_string();
        assert!(err.contains("wrong magic number 01 02 03 04"), "{err}");
        assert!(parse(&[], p).unwrap_err().to_string().contains("too short"));
        assert!(parse(&encode(&[u32::MAX as usize; 4], &[]), p).is_err());
        let mut trailing = encode(&[2], &[1, 2]);
        trailing.push(0);
        assert!(
            parse(&trailing, p)
                .unwrap_err()
                .to_string()
                .contains("trailing")
        );
    }

    #[test]
    fn mismatched_counts_and_labels_are_errors() {
        let (ip, lp) = (Path::new("images"), Path::new("labels"));
        let images = parse(&encode(&[2, 1, 1], &[0, 0]), ip).unwrap();
        let labels = parse(&encode(&[3], &[0, 1, 2]), lp).unwrap();
        let err = IdxDataset::from_arrays(images.clone(), ip, labels, lp, 10)
            .unwrap_err()
            .to_string();
        assert!(err.contains("3 labels for 2 images"), "{err}");
        let labels = parse(&encode(&[2], &[0, 12]), lp).unwrap();
        let err = IdxDataset::from_arrays(images.clone(), ip, labels, lp, 10)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("label 12 at index 1 is out of range, expected 0..10"),
            "{err}"
        );
        let err = IdxDataset::from_arrays(images.clone(), ip, images, lp, 10)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected labels of shape [n]"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn random_and_mutated_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
            flip in 0usize..600,
            gz in proptest::bool::ANY,
        ) {
            let mut valid = encode(&[2, 3, 4], &[5; 24]);
            if !bytes.is_empty() {
                let i = flip % valid.len();
                valid[i] ^= bytes[0] | 1;
            }
            for input in [bytes.clone(), valid] {
                let input = if gz { gzip(&input) } else { input };
                if let Ok(array) = parse(&input, Path::new("fuzz")) {
                    let n: usize = array.dims.iter().product();
                    proptest::prop_assert_eq!(n, array.data.len());
                }
            }
        }
    }
}
