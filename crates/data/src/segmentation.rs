//! Segmentation data on disk: images with masks.
//!
//! Two layouts are recognised:
//! - **paired folders**: `root/images/<stem>.<ext>` and `root/masks/<stem>.<ext>` (any image
//!   extension on either side, matched by file stem);
//! - **DSB2018**: `root/<id>/images/<id>.png` and `root/<id>/masks/*.png`, one mask per object;
//!   the object masks are merged (foreground = any object) and numbered as instances.
//!
//! Masks may be binary or instance labels, 8/16/32-bit PNG or TIFF: non-zero is foreground;
//! the objects are a label image's integer ids, or a binary mask's connected components.
//! Images may be 8- or 16-bit, grey or RGB(A); deep images are normalised by robust percentiles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::data::dataset::{Dataset, DatasetError};

use crate::error::{DataError, Result, read_dir_sorted};
use crate::folder::images_in;
use crate::image::decode;
use crate::item::SegmentationItem;

/// Where one item's mask comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskSource {
    /// One mask file (binary or instance labels).
    File(PathBuf),
    /// One file per object (DSB2018), merged.
    Objects(Vec<PathBuf>),
}

/// Which layout a folder uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegLayout {
    /// `images/` + `masks/`.
    Paired,
    /// `<id>/images/` + `<id>/masks/`.
    Dsb2018,
}

/// A segmentation folder; items are decoded when asked for.
#[derive(Debug, Clone)]
pub struct SegmentationFolder {
    layout: SegLayout,
    items: Vec<(PathBuf, MaskSource)>,
    channels: Option<usize>,
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

impl SegmentationFolder {
    /// Finds every image/mask pair under `root`. A mask without an image, an image without a
    /// mask, or a folder with neither are errors naming the file.
    pub fn open(root: &Path) -> Result<Self> {
        let expected = "images/ + masks/ with matching file stems, or the DSB2018 layout \
                        <id>/images/<id>.png + <id>/masks/*.png";
        if !root.is_dir() {
            return Err(DataError::Missing {
                what: "segmentation folder".into(),
                path: root.to_path_buf(),
                looked_for: expected.into(),
                how_to_get: "Pass --data-dir pointing at it, or use --dataset synthetic-cells."
                    .into(),
            });
        }
        let (layout, items) = if root.join("images").is_dir() {
            (SegLayout::Paired, Self::paired(root)?)
        } else {
            (SegLayout::Dsb2018, Self::dsb(root)?)
        };
        if items.is_empty() {
            return Err(DataError::Empty {
                path: root.to_path_buf(),
                expected: expected.into(),
            });
        }
        Ok(Self {
            layout,
            items,
            channels: None,
        })
    }

    /// Converts every image to `channels` (1 = grey, 3 = RGB) when loading.
    pub fn with_channels(mut self, channels: usize) -> Self {
        self.channels = Some(channels);
        self
    }

    fn paired(root: &Path) -> Result<Vec<(PathBuf, MaskSource)>> {
        let images_dir = root.join("images");
        let masks_dir = root.join("masks");
        if !masks_dir.is_dir() {
            return Err(DataError::Missing {
                what: "mask folder".into(),
                path: masks_dir,
                looked_for: "masks/<stem>.png|tif next to images/".into(),
                how_to_get: "Every image needs a mask with the same file stem.".into(),
            });
        }
        let images: BTreeMap<String, PathBuf> = images_in(&images_dir)?
            .into_iter()
            .map(|p| (stem(&p), p))
            .collect();
        let masks: BTreeMap<String, PathBuf> = images_in(&masks_dir)?
            .into_iter()
            .map(|p| (stem(&p), p))
            .collect();
        if let Some((_, mask)) = masks.iter().find(|(s, _)| !images.contains_key(*s)) {
            return Err(DataError::Pairing {
                image: images_dir.join(format!("{}.*", stem(mask))),
                mask: mask.clone(),
                problem: "mask without an image (no file with that stem in images/)".into(),
            });
        }
        images
            .into_iter()
            .map(|(s, image)| match masks.get(&s) {
                Some(mask) => Ok((image, MaskSource::File(mask.clone()))),
                None => Err(DataError::Pairing {
                    mask: masks_dir.join(format!("{s}.*")),
                    image,
                    problem: "image without a mask (no file with that stem in masks/)".into(),
                }),
            })
            .collect()
    }

    fn dsb(root: &Path) -> Result<Vec<(PathBuf, MaskSource)>> {
        let mut items = Vec::new();
        for dir in read_dir_sorted(root)?.into_iter().filter(|p| p.is_dir()) {
            let images_dir = dir.join("images");
            let masks_dir = dir.join("masks");
            if !images_dir.is_dir() && !masks_dir.is_dir() {
                continue;
            }
            let images = if images_dir.is_dir() {
                images_in(&images_dir)?
            } else {
                vec![]
            };
            let masks = if masks_dir.is_dir() {
                images_in(&masks_dir)?
            } else {
                vec![]
            };
            match (images.as_slice(), masks.is_empty()) {
                ([], false) => {
                    return Err(DataError::Pairing {
                        image: images_dir,
                        mask: masks[0].clone(),
                        problem: "masks without an image (images/ is missing or empty)".into(),
                    });
                }
                ([image], true) => {
                    return Err(DataError::Pairing {
                        image: image.clone(),
                        mask: masks_dir,
                        problem: "image without masks (masks/ is missing or empty)".into(),
                    });
                }
                ([image], false) => items.push((image.clone(), MaskSource::Objects(masks))),
                (many, _) => {
                    return Err(DataError::format(
                        &images_dir,
                        format!(
                            "expected exactly one image in a DSB2018 sample folder, found {}",
                            many.len()
                        ),
                    ));
                }
            }
        }
        Ok(items)
    }

    /// The layout found.
    pub fn layout(&self) -> SegLayout {
        self.layout
    }

    /// Image path and mask source of every item.
    pub fn entries(&self) -> &[(PathBuf, MaskSource)] {
        &self.items
    }

    /// Decodes the item at `index`: the image normalised to `[0, 1]`, the merged foreground mask
    /// and the instance ids.
    pub fn load(&self, index: usize) -> Result<SegmentationItem> {
        let (image_path, source) = self.items.get(index).ok_or_else(|| {
            DataError::invalid(
                "index",
                format!("{index} past the end ({} items)", self.items.len()),
            )
        })?;
        let raw = decode(image_path)?;
        let mut image = raw.normalised();
        if let Some(c) = self.channels {
            image = image.with_channels(c);
        }
        let (h, w) = (raw.height, raw.width);
        let check = |mask_path: &Path, mh: usize, mw: usize| -> Result<()> {
            if (mh, mw) != (h, w) {
                return Err(DataError::Pairing {
                    image: image_path.clone(),
                    mask: mask_path.to_path_buf(),
                    problem: format!("image is {w}×{h} but the mask is {mw}×{mh}"),
                });
            }
            Ok(())
        };
        let (mask, instances) = match source {
            MaskSource::File(path) => {
                let m = decode(path)?;
                check(path, m.height, m.width)?;
                crate::labels::instances_of(&m, path)?
            }
            MaskSource::Objects(paths) => {
                let mut mask = vec![0u8; h * w];
                let mut ids = vec![0u32; h * w];
                for (i, path) in paths.iter().enumerate() {
                    let m = decode(path)?;
                    check(path, m.height, m.width)?;
                    for (p, on) in m.nonzero_mask().into_iter().enumerate() {
                        if on != 0 {
                            mask[p] = 1;
                            ids[p] = i as u32 + 1;
                        }
                    }
                }
                (mask, ids)
            }
        };
        Ok(SegmentationItem {
            image,
            mask,
            instances: Some(instances),
        })
    }
}

impl Dataset<SegmentationItem> for SegmentationFolder {
    fn get(&self, index: usize) -> Result<SegmentationItem, DatasetError> {
        self.load(index).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{ImageU8, save_png};

    fn grey(path: &Path, h: usize, w: usize, f: impl Fn(usize) -> u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let image = ImageU8 {
            channels: 1,
            height: h,
            width: w,
            data: (0..h * w).map(f).collect(),
        };
        save_png(&image, path).unwrap();
    }

    fn tiff_u16(path: &Path, h: u32, w: u32, data: &[u16]) {
        let file = std::fs::File::create(path).unwrap();
        let mut enc = tiff::encoder::TiffEncoder::new(file).unwrap();
        enc.write_image::<tiff::encoder::colortype::Gray16>(w, h, data)
            .unwrap();
    }

    fn tiff_u32(path: &Path, h: u32, w: u32, data: &[u32]) {
        let file = std::fs::File::create(path).unwrap();
        let mut enc = tiff::encoder::TiffEncoder::new(file).unwrap();
        enc.write_image::<tiff::encoder::colortype::Gray32>(w, h, data)
            .unwrap();
    }

    #[test]
    fn paired_layout_with_png_and_deep_tiff_masks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        grey(&root.join("images/a.png"), 4, 4, |i| i as u8 * 10);
        grey(
            &root.join("masks/a.png"),
            4,
            4,
            |i| if i < 4 { 255 } else { 0 },
        );
        std::fs::create_dir_all(root.join("masks")).unwrap();
        // 16-bit image normalised by percentiles; 32-bit instance-label mask.
        tiff_u16(
            &root.join("images/b.tif"),
            2,
            3,
            &[100, 200, 300, 400, 500, 60000],
        );
        tiff_u32(&root.join("masks/b.tiff"), 2, 3, &[0, 70000, 0, 3, 3, 0]);
        let folder = SegmentationFolder::open(root).unwrap();
        assert_eq!(folder.layout(), SegLayout::Paired);
        assert_eq!(folder.len(), 2);
        let a = folder.get(0).unwrap();
        assert_eq!(a.mask[..5], [1, 1, 1, 1, 0]);
        let b = folder.get(1).unwrap();
        assert_eq!(b.mask, vec![0, 1, 0, 1, 1, 0]);
        assert_eq!(b.instances.unwrap(), vec![0, 70000, 0, 3, 3, 0]);
        assert!(b.image.data.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(b.image.data[0] < 0.01 && b.image.data[5] > 0.99);
    }

    #[test]
    fn dsb2018_layout_merges_object_masks() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("abc123");
        grey(&s.join("images/abc123.png"), 3, 3, |_| 128);
        grey(
            &s.join("masks/m1.png"),
            3,
            3,
            |i| if i == 0 { 255 } else { 0 },
        );
        grey(
            &s.join("masks/m2.png"),
            3,
            3,
            |i| if i == 8 { 255 } else { 0 },
        );
        let folder = SegmentationFolder::open(dir.path()).unwrap();
        assert_eq!(folder.layout(), SegLayout::Dsb2018);
        let item = folder.get(0).unwrap();
        assert_eq!(item.mask, vec![1, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            item.instances.clone().unwrap(),
            vec![1, 0, 0, 0, 0, 0, 0, 0, 2]
        );
        assert!((item.foreground_fraction() - 2.0 / 9.0).abs() < 1e-9);
    }

    #[test]
    fn pairing_problems_name_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        grey(&root.join("images/a.png"), 4, 4, |_| 1);
        grey(&root.join("masks/a.png"), 4, 5, |_| 1);
        let folder = SegmentationFolder::open(root).unwrap();
        let err = folder.get(0).unwrap_err().to_string();
        assert!(err.contains("image is 4×4 but the mask is 5×4"), "{err}");
        grey(&root.join("masks/orphan.png"), 4, 4, |_| 1);
        let err = SegmentationFolder::open(root).unwrap_err().to_string();
        assert!(
            err.contains("orphan.png") && err.contains("mask without an image"),
            "{err}"
        );
        std::fs::remove_file(root.join("masks/orphan.png")).unwrap();
        grey(&root.join("images/lonely.png"), 4, 4, |_| 1);
        let err = SegmentationFolder::open(root).unwrap_err().to_string();
        assert!(
            err.contains("lonely.png") && err.contains("image without a mask"),
            "{err}"
        );
        let empty = tempfile::tempdir().unwrap();
        let err = SegmentationFolder::open(empty.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("is empty"), "{err}");
        let dsb = tempfile::tempdir().unwrap();
        grey(&dsb.path().join("x/masks/m.png"), 2, 2, |_| 1);
        let err = SegmentationFolder::open(dsb.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("masks without an image"), "{err}");
    }
}
