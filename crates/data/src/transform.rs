//! Image transforms: channel conversion, resizing, the CIFAR augmentation recipe, per-channel
//! normalisation, and joint image+mask transforms for segmentation.

use rand::{Rng, RngExt};

use crate::image::{ImageF32, ImageU8};
use crate::item::SegmentationItem;

/// Converts to 1 channel (mean of RGB) or 3 channels (grey replicated).
pub fn to_channels(image: &ImageU8, channels: usize) -> ImageU8 {
    let pixels = image.height * image.width;
    let data = match (image.channels, channels) {
        (a, b) if a == b => return image.clone(),
        (1, 3) => image.data.repeat(3),
        (3, 1) => (0..pixels)
            .map(|p| {
                let sum: u32 = (0..3).map(|c| image.data[c * pixels + p] as u32).sum();
                ((sum + 1) / 3) as u8
            })
            .collect(),
        (_, c) => image.data[..pixels.min(image.data.len())].repeat(c),
    };
    ImageU8 {
        channels,
        height: image.height,
        width: image.width,
        data,
    }
}

/// Bilinear resize (half-pixel centres, as PIL and torchvision do without antialiasing).
pub fn resize_bilinear(image: &ImageU8, height: usize, width: usize) -> ImageU8 {
    let (h0, w0) = (image.height, image.width);
    let mut data = vec![0u8; image.channels * height * width];
    let coord = |i: usize, from: usize, to: usize| -> (usize, usize, f32) {
        let x = ((i as f32 + 0.5) * from as f32 / to as f32 - 0.5).max(0.0);
        let x0 = (x.floor() as usize).min(from - 1);
        let x1 = (x0 + 1).min(from - 1);
        (x0, x1, x - x0 as f32)
    };
    for c in 0..image.channels {
        let plane = &image.data[c * h0 * w0..(c + 1) * h0 * w0];
        for y in 0..height {
            let (y0, y1, fy) = coord(y, h0, height);
            for x in 0..width {
                let (x0, x1, fx) = coord(x, w0, width);
                let top = plane[y0 * w0 + x0] as f32 * (1.0 - fx) + plane[y0 * w0 + x1] as f32 * fx;
                let bottom =
                    plane[y1 * w0 + x0] as f32 * (1.0 - fx) + plane[y1 * w0 + x1] as f32 * fx;
                data[c * height * width + y * width + x] =
                    (top * (1.0 - fy) + bottom * fy).round() as u8;
            }
        }
    }
    ImageU8 {
        channels: image.channels,
        height,
        width,
        data,
    }
}

/// He et al.'s CIFAR augmentation: zero-pad by `padding` pixels, take a random crop of the
/// original size, flip horizontally with probability ½.
pub fn pad_crop_flip(image: &ImageU8, padding: usize, rng: &mut impl Rng) -> ImageU8 {
    let (h, w) = (image.height, image.width);
    let dy = rng.random_range(0..=2 * padding) as isize - padding as isize;
    let dx = rng.random_range(0..=2 * padding) as isize - padding as isize;
    let flip = rng.random_bool(0.5);
    let mut data = vec![0u8; image.data.len()];
    for c in 0..image.channels {
        for y in 0..h {
            let sy = y as isize + dy;
            if sy < 0 || sy >= h as isize {
                continue;
            }
            for x in 0..w {
                let sx = x as isize + dx;
                if sx < 0 || sx >= w as isize {
                    continue;
                }
                let tx = if flip { w - 1 - x } else { x };
                data[c * h * w + y * w + tx] =
                    image.data[c * h * w + sy as usize * w + sx as usize];
            }
        }
    }
    ImageU8 {
        data,
        ..image.clone()
    }
}

/// Per-channel mean and standard deviation for normalisation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    /// Mean of each channel (in `[0, 1]` units).
    pub mean: Vec<f32>,
    /// Standard deviation of each channel.
    pub std: Vec<f32>,
}

impl Normalization {
    /// CIFAR-10's training-set statistics.
    pub fn cifar10() -> Self {
        Self {
            mean: vec![0.4914, 0.4822, 0.4465],
            std: vec![0.2470, 0.2435, 0.2616],
        }
    }

    /// ImageNet's training-set statistics (torchvision's and timm's `Normalize`).
    pub fn imagenet() -> Self {
        Self {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    /// Statistics measured over `images` (all the same channel count).
    pub fn measure<'a>(images: impl IntoIterator<Item = &'a ImageU8>) -> Self {
        let mut sum = Vec::<f64>::new();
        let mut sq = Vec::<f64>::new();
        let mut count = 0f64;
        for image in images {
            if sum.is_empty() {
                sum = vec![0.0; image.channels];
                sq = vec![0.0; image.channels];
            }
            let pixels = image.height * image.width;
            for c in 0..image.channels.min(sum.len()) {
                for &v in &image.data[c * pixels..(c + 1) * pixels] {
                    let v = v as f64 / 255.0;
                    sum[c] += v;
                    sq[c] += v * v;
                }
            }
            count += pixels as f64;
        }
        let count = count.max(1.0);
        let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, &m)| ((q / count - (m as f64).powi(2)).max(1e-12).sqrt() as f32).max(1e-3))
            .collect();
        Self { mean, std }
    }

    /// `(x / 255 − mean) / std`, channels first.
    pub fn apply(&self, image: &ImageU8, out: &mut Vec<f32>) {
        let pixels = image.height * image.width;
        for c in 0..image.channels {
            let (m, s) = (
                self.mean.get(c).copied().unwrap_or(0.0),
                self.std.get(c).copied().unwrap_or(1.0),
            );
            out.extend(
                image.data[c * pixels..(c + 1) * pixels]
                    .iter()
                    .map(|&v| (v as f32 / 255.0 - m) / s),
            );
        }
    }
}

fn flip_plane<T: Copy>(plane: &mut [T], h: usize, w: usize, horizontal: bool) {
    if horizontal {
        for row in plane.chunks_exact_mut(w) {
            row.reverse();
        }
    } else {
        for y in 0..h / 2 {
            for x in 0..w {
                plane.swap(y * w + x, (h - 1 - y) * w + x);
            }
        }
    }
}

fn rotate90_plane<T: Copy + Default>(plane: &[T], h: usize, w: usize) -> Vec<T> {
    // Counter-clockwise: new[h' = w][w' = h], new[y][x] = old[x][w - 1 - y].
    let mut out = vec![T::default(); plane.len()];
    for y in 0..w {
        for x in 0..h {
            out[y * h + x] = plane[x * w + (w - 1 - y)];
        }
    }
    out
}

fn crop_plane<T: Copy>(
    plane: &[T],
    w: usize,
    top: usize,
    left: usize,
    ch: usize,
    cw: usize,
) -> Vec<T> {
    (top..top + ch)
        .flat_map(|y| plane[y * w + left..y * w + left + cw].iter().copied())
        .collect()
}

/// A geometric transform applied identically to an image and its mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Geometric {
    /// Mirror left–right.
    FlipHorizontal,
    /// Mirror top–bottom.
    FlipVertical,
    /// Rotate by 90° counter-clockwise.
    Rotate90,
    /// Keep the `[height, width]` window at `(top, left)`.
    Crop {
        /// First row.
        top: usize,
        /// First column.
        left: usize,
        /// Rows kept.
        height: usize,
        /// Columns kept.
        width: usize,
    },
}

/// Applies `t` to every plane of `item` (image channels, mask, instance ids) alike.
pub fn apply_geometric(item: &SegmentationItem, t: Geometric) -> SegmentationItem {
    let (h, w) = (item.image.height, item.image.width);
    fn each<T: Copy + Default>(
        data: &[T],
        planes: usize,
        h: usize,
        w: usize,
        t: Geometric,
    ) -> Vec<T> {
        let size = h * w;
        let mut out = Vec::with_capacity(data.len());
        for p in 0..planes {
            let mut plane = data[p * size..(p + 1) * size].to_vec();
            match t {
                Geometric::FlipHorizontal => flip_plane(&mut plane, h, w, true),
                Geometric::FlipVertical => flip_plane(&mut plane, h, w, false),
                Geometric::Rotate90 => plane = rotate90_plane(&plane, h, w),
                Geometric::Crop {
                    top,
                    left,
                    height,
                    width,
                } => plane = crop_plane(&plane, w, top, left, height, width),
            }
            out.extend(plane);
        }
        out
    }
    let (nh, nw) = match t {
        Geometric::Rotate90 => (w, h),
        Geometric::Crop { height, width, .. } => (height, width),
        _ => (h, w),
    };
    SegmentationItem {
        image: ImageF32 {
            channels: item.image.channels,
            height: nh,
            width: nw,
            data: each(&item.image.data, item.image.channels, h, w, t),
        },
        mask: each(&item.mask, 1, h, w, t),
        instances: item.instances.as_ref().map(|ids| each(ids, 1, h, w, t)),
    }
}

/// Random segmentation augmentation: crop to `crop` (if the image is larger), random flips and
/// 90° rotations (square crops only), and intensity jitter (gain × [0.8, 1.2], offset ± 0.05)
/// on the image alone.
pub fn augment_segmentation(
    item: &SegmentationItem,
    crop: Option<[usize; 2]>,
    rng: &mut impl Rng,
) -> SegmentationItem {
    let mut out = item.clone();
    if let Some([ch, cw]) = crop {
        let (h, w) = (out.image.height, out.image.width);
        if h >= ch && w >= cw && (h, w) != (ch, cw) {
            let top = rng.random_range(0..=h - ch);
            let left = rng.random_range(0..=w - cw);
            out = apply_geometric(
                &out,
                Geometric::Crop {
                    top,
                    left,
                    height: ch,
                    width: cw,
                },
            );
        }
    }
    if rng.random_bool(0.5) {
        out = apply_geometric(&out, Geometric::FlipHorizontal);
    }
    if rng.random_bool(0.5) {
        out = apply_geometric(&out, Geometric::FlipVertical);
    }
    if out.image.height == out.image.width {
        for _ in 0..rng.random_range(0..4) {
            out = apply_geometric(&out, Geometric::Rotate90);
        }
    }
    let gain = rng.random_range(0.8..1.2f32);
    let offset = rng.random_range(-0.05..0.05f32);
    for v in &mut out.image.data {
        *v = (*v * gain + offset).clamp(0.0, 1.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataRng;
    use rand::SeedableRng;

    fn item(h: usize, w: usize) -> SegmentationItem {
        // Image value = mask value = a unique pattern per pixel, so alignment is checkable.
        let mask: Vec<u8> = (0..h * w)
            .map(|i| u8::from((i * 7 + i / w).is_multiple_of(3)))
            .collect();
        let image = ImageF32 {
            channels: 2,
            height: h,
            width: w,
            data: mask.iter().chain(&mask).map(|&m| m as f32).collect(),
        };
        let instances = Some((0..h * w).map(|i| i as u32).collect());
        SegmentationItem {
            image,
            mask,
            instances,
        }
    }

    #[test]
    fn masks_stay_aligned_under_every_transform() {
        let mut rng = DataRng::seed_from_u64(7);
        for _ in 0..50 {
            let original = item(9, 12);
            let out = augment_segmentation(&original, Some([8, 8]), &mut rng);
            assert_eq!(out.image.shape(), [2, 8, 8]);
            let pixels = 64;
            for p in 0..pixels {
                // Jitter maps 1 to >= 0.75 and 0 to <= 0.05: the image still shows the mask.
                let (a, b) = (out.image.data[p], out.image.data[pixels + p]);
                assert_eq!(a, b, "channels move together");
                assert_eq!(
                    out.mask[p] == 1,
                    a > 0.5,
                    "mask and image aligned at pixel {p}"
                );
                let id = out.instances.as_ref().unwrap()[p] as usize;
                assert_eq!(
                    original.mask[id], out.mask[p],
                    "instance ids move with the mask"
                );
            }
        }
    }

    #[test]
    fn rotation_and_flips_are_exact() {
        let it = item(2, 3);
        let r = apply_geometric(&it, Geometric::Rotate90);
        assert_eq!((r.image.height, r.image.width), (3, 2));
        // Four rotations are the identity; two flips too.
        let back = (0..3).fold(r, |x, _| apply_geometric(&x, Geometric::Rotate90));
        assert_eq!(back, it);
        let f = apply_geometric(
            &apply_geometric(&it, Geometric::FlipVertical),
            Geometric::FlipVertical,
        );
        assert_eq!(f, it);
        let ids = apply_geometric(&it, Geometric::FlipHorizontal)
            .instances
            .unwrap();
        assert_eq!(ids, vec![2, 1, 0, 5, 4, 3]);
    }

    #[test]
    fn pad_crop_flip_keeps_content_and_shape() {
        let mut rng = DataRng::seed_from_u64(1);
        let image = ImageU8 {
            channels: 3,
            height: 32,
            width: 32,
            data: vec![9; 3 * 32 * 32],
        };
        let mut saw_padding = false;
        for _ in 0..20 {
            let out = pad_crop_flip(&image, 4, &mut rng);
            assert_eq!(out.shape(), [3, 32, 32]);
            let zeros = out.data.iter().filter(|&&v| v == 0).count();
            assert!(zeros <= 3 * (8 * 32 + 8 * 32));
            saw_padding |= zeros > 0;
        }
        assert!(saw_padding);
    }

    #[test]
    fn normalisation_and_resize() {
        let image = ImageU8 {
            channels: 1,
            height: 2,
            width: 2,
            data: vec![0, 255, 0, 255],
        };
        let n = Normalization::measure([&image]);
        assert!((n.mean[0] - 0.5).abs() < 1e-6 && (n.std[0] - 0.5).abs() < 1e-6);
        let mut out = Vec::new();
        n.apply(&image, &mut out);
        assert_eq!(out, vec![-1.0, 1.0, -1.0, 1.0]);
        let big = resize_bilinear(&image, 4, 4);
        assert_eq!(big.shape(), [1, 4, 4]);
        assert_eq!(big.data[0], 0);
        assert_eq!(big.data[3], 255);
        assert_eq!(to_channels(&image, 3).data.len(), 12);
    }
}
