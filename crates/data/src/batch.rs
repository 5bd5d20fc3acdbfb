//! Batchers: items → tensors on the target device.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;

use crate::DataRng;
use crate::item::{ClassificationItem, SegmentationItem};
use crate::loader::SeededBatcher;
use crate::preprocess::Preprocessing;
use crate::transform::{
    Normalization, augment_segmentation, pad_crop_flip, resize_bilinear, to_channels,
};

/// The random generator of the next batch through burn's `Batcher`: seeded by the batcher's
/// seed and its call count, so every batch draws different augmentations. Repeatable only when
/// one thread calls the batcher; the training loader ([`crate::loader::OrderedDataLoader`])
/// gives each batch its own stream through [`SeededBatcher`] instead.
fn batch_rng(seed: u64, calls: &AtomicU64) -> DataRng {
    DataRng::seed_from_u64(
        seed ^ calls
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9),
    )
}

/// A batch of labelled images.
#[derive(Debug, Clone)]
pub struct ClassificationBatch {
    /// Normalised images, `[batch, channels, height, width]`.
    pub images: Tensor<4>,
    /// Class indices, `[batch]`.
    pub targets: Tensor<1, Int>,
}

/// Builds [`ClassificationBatch`]es: optional CIFAR augmentation (pad + random crop + flip),
/// conversion to the model's channels, per-channel normalisation.
#[derive(Debug)]
pub struct ClassificationBatcher {
    /// Normalisation applied to every image.
    pub normalization: Normalization,
    /// Channels the model expects (grey is replicated, RGB averaged).
    pub channels: usize,
    /// Pad-crop-flip padding, `None` for no augmentation (validation).
    pub augment_padding: Option<usize>,
    /// A preprocessing preset, which then decides size, augmentation and normalisation (see
    /// [`Self::with_preprocessing`]).
    pub preprocessing: Option<Preprocessing>,
    /// With a preset: its training augmentation (`true`) or its inference preparation.
    pub train: bool,
    seed: u64,
    calls: AtomicU64,
}

impl ClassificationBatcher {
    /// A batcher without augmentation.
    pub fn new(normalization: Normalization, channels: usize) -> Self {
        Self {
            normalization,
            channels,
            augment_padding: None,
            preprocessing: None,
            train: false,
            seed: 0,
            calls: AtomicU64::new(0),
        }
    }

    /// A batcher of `preprocessing`: every image prepared by the preset — its training
    /// augmentation drawn from `seed` when `train`, else its inference preparation — then
    /// normalised. Images may have any size.
    pub fn with_preprocessing(preprocessing: Preprocessing, train: bool, seed: u64) -> Self {
        Self {
            normalization: preprocessing.normalization.clone(),
            channels: preprocessing.input[0],
            augment_padding: None,
            preprocessing: Some(preprocessing),
            train,
            seed,
            calls: AtomicU64::new(0),
        }
    }

    /// With He et al.'s augmentation (pad by `padding`, random crop, flip), seeded.
    pub fn with_augmentation(mut self, padding: usize, seed: u64) -> Self {
        self.augment_padding = Some(padding);
        self.seed = seed;
        self
    }
}

impl Batcher<ClassificationItem, ClassificationBatch> for ClassificationBatcher {
    fn batch(&self, items: Vec<ClassificationItem>, device: &Device) -> ClassificationBatch {
        self.build(items, &mut batch_rng(self.seed, &self.calls), device)
    }
}

impl SeededBatcher<ClassificationItem, ClassificationBatch> for ClassificationBatcher {
    fn batch_seeded(
        &self,
        items: Vec<ClassificationItem>,
        stream: u64,
        device: &Device,
    ) -> ClassificationBatch {
        self.build(
            items,
            &mut DataRng::seed_from_u64(self.seed ^ stream),
            device,
        )
    }
}

impl ClassificationBatcher {
    fn build(
        &self,
        items: Vec<ClassificationItem>,
        rng: &mut DataRng,
        device: &Device,
    ) -> ClassificationBatch {
        let (h, w) = match &self.preprocessing {
            Some(p) => (p.input[1], p.input[2]),
            None => items
                .first()
                .map_or((0, 0), |i| (i.image.height, i.image.width)),
        };
        let mut data = Vec::with_capacity(items.len() * self.channels * h * w);
        let mut targets = Vec::with_capacity(items.len());
        for item in &items {
            if let Some(p) = &self.preprocessing {
                let image = if self.train {
                    p.train_image(&item.image, rng)
                } else {
                    p.eval_image(&item.image)
                };
                p.normalise(&image, &mut data);
                targets.push(item.label as i64);
                continue;
            }
            let mut image = to_channels(&item.image, self.channels);
            if let Some(padding) = self.augment_padding {
                image = pad_crop_flip(&image, padding, rng);
            }
            if (image.height, image.width) != (h, w) {
                image = resize_bilinear(&image, h, w);
            }
            self.normalization.apply(&image, &mut data);
            targets.push(item.label as i64);
        }
        let n = items.len();
        ClassificationBatch {
            images: Tensor::from_data(TensorData::new(data, [n, self.channels, h, w]), device),
            targets: Tensor::from_data(TensorData::new(targets, [n]), device),
        }
    }
}

/// A batch of images with masks.
#[derive(Debug, Clone)]
pub struct SegmentationBatch {
    /// Images in `[0, 1]`, `[batch, channels, height, width]`.
    pub images: Tensor<4>,
    /// Foreground masks of 0.0 / 1.0, `[batch, 1, height, width]`.
    pub masks: Tensor<4>,
    /// Per-pixel loss weights (the U-Net paper's weight map; 0 on padding), `[batch, 1,
    /// height, width]`, when the batcher has a border weight.
    pub weights: Option<Tensor<4>>,
    /// Every item's object ids (0 = background and padding), row-major `[batch, height,
    /// width]` on the host, when the batcher keeps them (for instance metrics).
    pub instances: Option<Arc<Vec<u32>>>,
}

/// The U-Net paper's border weighting: `w0` and `σ` (pixels) of [`crate::weightmap`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BorderWeight {
    /// Weight of the gaps between objects (the paper's 10).
    pub w0: f32,
    /// Width of the gaps' weighting in pixels (the paper's 5).
    pub sigma: f32,
}

/// Builds [`SegmentationBatch`]es: optional joint augmentation and random crops, conversion to
/// the model's channels; items of different sizes are zero-padded to the largest (mask 0).
#[derive(Debug)]
pub struct SegmentationBatcher {
    /// Channels the model expects.
    pub channels: usize,
    /// Random crop size during augmentation.
    pub crop: Option<[usize; 2]>,
    /// Whether to augment (training) or not (validation).
    pub augment: bool,
    /// Per-pixel loss weights from each item's instances (after augmentation), if set.
    pub border: Option<BorderWeight>,
    /// Whether batches carry each item's instance ids ([`SegmentationBatch::instances`]).
    pub keep_instances: bool,
    seed: u64,
    calls: AtomicU64,
}

impl SegmentationBatcher {
    /// A batcher without augmentation.
    pub fn new(channels: usize) -> Self {
        Self {
            channels,
            crop: None,
            augment: false,
            border: None,
            keep_instances: false,
            seed: 0,
            calls: AtomicU64::new(0),
        }
    }

    /// With the U-Net paper's weight map of every item (its instance ids, or its mask's
    /// connected components) as per-pixel loss weights.
    pub fn with_border_weight(mut self, border: Option<BorderWeight>) -> Self {
        self.border = border;
        self
    }

    /// With each item's instance ids (its own, or its mask's connected components) in the
    /// batch, for instance metrics.
    pub fn with_instances(mut self) -> Self {
        self.keep_instances = true;
        self
    }

    /// With joint flips, rotations, intensity jitter and random crops of `crop`, seeded.
    pub fn with_augmentation(mut self, crop: Option<[usize; 2]>, seed: u64) -> Self {
        self.augment = true;
        self.crop = crop;
        self.seed = seed;
        self
    }
}

impl Batcher<SegmentationItem, SegmentationBatch> for SegmentationBatcher {
    fn batch(&self, items: Vec<SegmentationItem>, device: &Device) -> SegmentationBatch {
        self.build(items, &mut batch_rng(self.seed, &self.calls), device)
    }
}

impl SeededBatcher<SegmentationItem, SegmentationBatch> for SegmentationBatcher {
    fn batch_seeded(
        &self,
        items: Vec<SegmentationItem>,
        stream: u64,
        device: &Device,
    ) -> SegmentationBatch {
        self.build(
            items,
            &mut DataRng::seed_from_u64(self.seed ^ stream),
            device,
        )
    }
}

impl SegmentationBatcher {
    fn build(
        &self,
        items: Vec<SegmentationItem>,
        rng: &mut DataRng,
        device: &Device,
    ) -> SegmentationBatch {
        let items: Vec<SegmentationItem> = items
            .into_iter()
            .map(|item| {
                if self.augment {
                    augment_segmentation(&item, self.crop, rng)
                } else {
                    item
                }
            })
            .collect();
        let h = items.iter().map(|i| i.image.height).max().unwrap_or(0);
        let w = items.iter().map(|i| i.image.width).max().unwrap_or(0);
        let c = self.channels;
        let n = items.len();
        let mut images = vec![0f32; n * c * h * w];
        let mut masks = vec![0f32; n * h * w];
        let mut weights = self.border.map(|_| vec![0f32; n * h * w]);
        let mut instances = self.keep_instances.then(|| vec![0u32; n * h * w]);
        for (b, item) in items.into_iter().enumerate() {
            let (ih, iw) = (item.image.height, item.image.width);
            let ids = (self.keep_instances || self.border.is_some()).then(|| item.instance_ids());
            if let (Some(instances), Some(ids)) = (instances.as_mut(), &ids) {
                paste_plane(instances, ids, b, [h, w], [ih, iw]);
            }
            if let (Some(border), Some(weights), Some(ids)) = (self.border, weights.as_mut(), &ids)
            {
                let map = crate::weightmap::unet_weight_map(ids, ih, iw, border.w0, border.sigma);
                paste_plane(weights, &map, b, [h, w], [ih, iw]);
            }
            let image = item.image.with_channels(c);
            for ch in 0..c {
                for y in 0..ih {
                    let src = &image.data[ch * ih * iw + y * iw..ch * ih * iw + (y + 1) * iw];
                    let dst = ((b * c + ch) * h + y) * w;
                    images[dst..dst + iw].copy_from_slice(src);
                }
            }
            for y in 0..ih {
                for x in 0..iw {
                    masks[(b * h + y) * w + x] = item.mask[y * iw + x] as f32;
                }
            }
        }
        SegmentationBatch {
            images: Tensor::from_data(TensorData::new(images, [n, c, h, w]), device),
            masks: Tensor::from_data(TensorData::new(masks, [n, 1, h, w]), device),
            weights: weights.map(|w_| Tensor::from_data(TensorData::new(w_, [n, 1, h, w]), device)),
            instances: instances.map(Arc::new),
        }
    }
}

/// Copies the `[ih, iw]` plane `src` into plane `b` of the `[_, h, w]` buffer `dst` (top-left,
/// the rest as it was: the padding).
fn paste_plane<T: Copy>(
    dst: &mut [T],
    src: &[T],
    b: usize,
    [h, w]: [usize; 2],
    [ih, iw]: [usize; 2],
) {
    for y in 0..ih {
        let at = (b * h + y) * w;
        dst[at..at + iw].copy_from_slice(&src[y * iw..(y + 1) * iw]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{ImageF32, ImageU8};

    #[test]
    fn classification_batch_shapes_and_values() {
        let device = Device::flex();
        let item = |v: u8, label| ClassificationItem {
            image: ImageU8 {
                channels: 1,
                height: 4,
                width: 4,
                data: vec![v; 16],
            },
            label,
        };
        let norm = Normalization {
            mean: vec![0.5; 3],
            std: vec![0.5; 3],
        };
        let batcher = ClassificationBatcher::new(norm, 3);
        let batch = batcher.batch(vec![item(255, 3), item(0, 1)], &device);
        assert_eq!(batch.images.dims(), [2, 3, 4, 4]);
        let values = batch.images.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!((values[0], values[48]), (1.0, -1.0));
        assert_eq!(
            batch
                .targets
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap(),
            vec![3, 1]
        );
        let aug = ClassificationBatcher::new(Normalization::cifar10(), 3).with_augmentation(4, 1);
        assert_eq!(
            aug.batch(vec![item(9, 0)], &device).images.dims(),
            [1, 3, 4, 4]
        );
    }

    #[test]
    fn a_border_weight_gives_each_item_its_weight_map() {
        let device = Device::flex();
        let cells = crate::synthetic::SyntheticCells::new(1, 2, 48).unwrap();
        let items: Vec<SegmentationItem> = (0..2).map(|i| cells.item(i).unwrap()).collect();
        let border = BorderWeight {
            w0: 10.0,
            sigma: 5.0,
        };
        let batcher = SegmentationBatcher::new(1).with_border_weight(Some(border));
        let batch = batcher.batch(items.clone(), &device);
        let weights = batch
            .weights
            .expect("weights")
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let expected = crate::weightmap::unet_weight_map(
            items[1].instances.as_ref().unwrap(),
            48,
            48,
            10.0,
            5.0,
        );
        assert_eq!(weights[48 * 48..], expected[..]);
        assert!(
            SegmentationBatcher::new(1)
                .batch(items, &device)
                .weights
                .is_none()
        );
    }

    #[test]
    fn a_preset_batches_images_of_any_size_at_its_input() {
        let device = Device::flex();
        let photo = |h: usize, w: usize, label| ClassificationItem {
            image: ImageU8 {
                channels: 3,
                height: h,
                width: w,
                data: (0..3 * h * w).map(|i| (i % 251) as u8).collect(),
            },
            label,
        };
        let items = vec![photo(40, 70, 0), photo(90, 33, 1)];
        let preprocessing = crate::preprocess::Preprocessing::imagenet(16);
        let eval = ClassificationBatcher::with_preprocessing(preprocessing.clone(), false, 0);
        let batch = eval.batch(items.clone(), &device);
        assert_eq!(batch.images.dims(), [2, 3, 16, 16]);
        // The inference batch is the preset's tensor of each image.
        let values = batch.images.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(
            values[..3 * 16 * 16],
            preprocessing.eval_tensor(&items[0].image)[..]
        );
        let train = ClassificationBatcher::with_preprocessing(preprocessing, true, 5);
        let a = train.batch_seeded(items.clone(), 1, &device);
        let b = train.batch_seeded(items, 1, &device);
        assert_eq!(a.images.dims(), [2, 3, 16, 16]);
        assert_eq!(
            a.images.into_data(),
            b.images.into_data(),
            "seeded: repeatable"
        );
    }

    #[test]
    fn segmentation_batch_pads_to_the_largest_item() {
        let device = Device::flex();
        let item = |h: usize, w: usize| SegmentationItem {
            image: ImageF32 {
                channels: 1,
                height: h,
                width: w,
                data: vec![0.5; h * w],
            },
            mask: vec![1; h * w],
            instances: None,
        };
        let batch = SegmentationBatcher::new(3).batch(vec![item(4, 6), item(5, 3)], &device);
        assert_eq!(batch.images.dims(), [2, 3, 5, 6]);
        assert_eq!(batch.masks.dims(), [2, 1, 5, 6]);
        let total: f32 = batch.masks.sum().into_scalar();
        assert_eq!(total, 24.0 + 15.0);
        let aug = SegmentationBatcher::new(1).with_augmentation(Some([4, 4]), 3);
        assert_eq!(
            aug.batch(vec![item(8, 8)], &device).images.dims(),
            [1, 1, 4, 4]
        );
    }
}
