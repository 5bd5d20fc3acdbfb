//! A folder of images for classification: one sub-folder per class (`root/<class>/*.png`).
//!
//! burn-dataset's `ImageFolderDataset` has the same layout, but it unwraps decoding errors (a
//! corrupt file would panic the training loop) and has no size limit, so skipnet reads the
//! folder itself with [`crate::image::decode`], which reports the file.

use std::path::{Path, PathBuf};

use burn::data::dataset::{Dataset, DatasetError};

use crate::error::{DataError, Result, read_dir_sorted};
use crate::image::{ImageU8, decode};
use crate::item::ClassificationItem;
use crate::transform::{resize_bilinear, to_channels};

/// File extensions read as images.
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "tif", "tiff"];

/// Whether `path` has an image extension.
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Image files directly inside `dir`, sorted.
pub fn images_in(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(read_dir_sorted(dir)?
        .into_iter()
        .filter(|p| p.is_file() && is_image(p))
        .collect())
}

/// A classification image folder. Images are decoded when an item is asked for, converted to
/// `channels` and resized to `size` if given.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    classes: Vec<String>,
    items: Vec<(PathBuf, usize)>,
    channels: usize,
    size: Option<[usize; 2]>,
}

impl ImageFolder {
    /// Lists `root/<class>/<image>`; classes are the sub-folder names in sorted order. A missing
    /// root, no class folders, or a class folder without images are errors naming the folder.
    pub fn open(root: &Path, channels: usize, size: Option<[usize; 2]>) -> Result<Self> {
        Self::open_with(root, channels, size, None)
    }

    /// As [`Self::open`], with the labels of `classes` (the training folder's): a sub-folder
    /// whose name is not one of them is an error; classes without a sub-folder here are fine
    /// (a validation folder may lack some).
    pub fn open_with_classes(
        root: &Path,
        channels: usize,
        size: Option<[usize; 2]>,
        classes: &[String],
    ) -> Result<Self> {
        Self::open_with(root, channels, size, Some(classes))
    }

    fn open_with(
        root: &Path,
        channels: usize,
        size: Option<[usize; 2]>,
        known: Option<&[String]>,
    ) -> Result<Self> {
        if !root.is_dir() {
            return Err(DataError::Missing {
                what: "image folder".into(),
                path: root.to_path_buf(),
                looked_for: "a folder with one sub-folder of images per class".into(),
                how_to_get: "Pass --data-dir pointing at it.".into(),
            });
        }
        if channels != 1 && channels != 3 {
            return Err(DataError::invalid(
                "channels",
                format!("{channels} (1 or 3)"),
            ));
        }
        let mut classes = Vec::new();
        let mut items = Vec::new();
        for dir in read_dir_sorted(root)?.into_iter().filter(|p| p.is_dir()) {
            let images = images_in(&dir)?;
            if images.is_empty() {
                return Err(DataError::Empty {
                    path: dir,
                    expected: format!("images ({}) of one class", IMAGE_EXTENSIONS.join(", ")),
                });
            }
            let name = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let label = match known {
                Some(known) => known.iter().position(|k| *k == name).ok_or_else(|| {
                    DataError::invalid(
                        "class folder",
                        format!(
                            "{}: class '{name}' is not one of the training classes ({})",
                            dir.display(),
                            known.join(", ")
                        ),
                    )
                })?,
                None => classes.len(),
            };
            classes.push(name);
            items.extend(images.into_iter().map(|p| (p, label)));
        }
        if let Some(known) = known {
            classes = known.to_vec();
        }
        if items.is_empty() {
            return Err(DataError::Empty {
                path: root.to_path_buf(),
                expected: "one sub-folder of images per class".into(),
            });
        }
        Ok(Self {
            classes,
            items,
            channels,
            size,
        })
    }

    /// Class names, index = label.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Path and label of every item.
    pub fn entries(&self) -> &[(PathBuf, usize)] {
        &self.items
    }

    /// Decodes the item at `index`.
    pub fn load(&self, index: usize) -> Result<ClassificationItem> {
        let (path, label) = self.items.get(index).ok_or_else(|| {
            DataError::invalid(
                "index",
                format!("{index} past the end ({} items)", self.items.len()),
            )
        })?;
        let mut image: ImageU8 = to_channels(&decode(path)?.to_u8(), self.channels);
        if let Some([h, w]) = self.size
            && (image.height != h || image.width != w)
        {
            image = resize_bilinear(&image, h, w);
        }
        Ok(ClassificationItem {
            image,
            label: *label,
        })
    }
}

impl Dataset<ClassificationItem> for ImageFolder {
    fn get(&self, index: usize) -> Result<ClassificationItem, DatasetError> {
        self.load(index).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::save_png;

    fn png(path: &Path, value: u8, channels: usize, size: usize) {
        let image = ImageU8 {
            channels,
            height: size,
            width: size,
            data: vec![value; channels * size * size],
        };
        save_png(&image, path).unwrap();
    }

    #[test]
    fn reads_classes_in_order_and_resizes() {
        let dir = tempfile::tempdir().unwrap();
        for (class, value) in [("cat", 10), ("dog", 200)] {
            std::fs::create_dir_all(dir.path().join(class)).unwrap();
            png(&dir.path().join(class).join("a.png"), value, 3, 8);
            png(&dir.path().join(class).join("b.png"), value, 1, 5);
        }
        std::fs::write(dir.path().join("dog").join("notes.txt"), "ignored").unwrap();
        let folder = ImageFolder::open(dir.path(), 3, Some([8, 8])).unwrap();
        assert_eq!(folder.classes(), ["cat", "dog"]);
        assert_eq!(folder.len(), 4);
        let item = folder.get(3).unwrap();
        assert_eq!((item.label, item.image.shape()), (1, [3, 8, 8]));
        assert!(item.image.data.iter().all(|&v| v == 200));
    }

    #[test]
    fn bad_folders_and_images_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = ImageFolder::open(dir.path(), 3, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is empty: expected one sub-folder"), "{err}");
        std::fs::create_dir_all(dir.path().join("empty")).unwrap();
        let err = ImageFolder::open(dir.path(), 3, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty is empty: expected images"), "{err}");
        std::fs::write(dir.path().join("empty").join("zero.png"), b"").unwrap();
        std::fs::write(
            dir.path().join("empty").join("junk.png"),
            b"not a png at all",
        )
        .unwrap();
        let folder = ImageFolder::open(dir.path(), 3, None).unwrap();
        let err = folder.get(1).unwrap_err().to_string();
        assert!(
            err.contains("zero.png") && err.contains("empty (0 bytes)"),
            "{err}"
        );
        let err = folder.get(0).unwrap_err().to_string();
        assert!(
            err.contains("cannot decode image") && err.contains("junk.png"),
            "{err}"
        );
        assert!(ImageFolder::open(&dir.path().join("nope"), 3, None).is_err());
    }

    #[test]
    fn a_validation_folder_takes_the_training_labels() {
        let dir = tempfile::tempdir().unwrap();
        for (split, class) in [
            ("train", "ant"),
            ("train", "bee"),
            ("train", "cat"),
            ("val", "cat"),
        ] {
            std::fs::create_dir_all(dir.path().join(split).join(class)).unwrap();
            png(&dir.path().join(split).join(class).join("a.png"), 9, 3, 4);
        }
        let train = ImageFolder::open(&dir.path().join("train"), 3, None).unwrap();
        let val = ImageFolder::open_with_classes(&dir.path().join("val"), 3, None, train.classes())
            .unwrap();
        assert_eq!(val.classes(), train.classes());
        assert_eq!(val.get(0).unwrap().label, 2, "cat is label 2 in train/");
        std::fs::create_dir_all(dir.path().join("val").join("dog")).unwrap();
        png(&dir.path().join("val").join("dog").join("a.png"), 9, 3, 4);
        let err = ImageFolder::open_with_classes(&dir.path().join("val"), 3, None, train.classes())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("class 'dog' is not one of the training classes (ant, bee, cat)"),
            "{err}"
        );
    }
}
