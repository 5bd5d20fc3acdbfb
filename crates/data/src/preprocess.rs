//! Preprocessing presets: how a classifier's input is made from an image, in training and in
//! inference, recorded in a run's `config.json` so that train, predict and eval agree.
//!
//! - [`Preset::Imagenet`] — torchvision's ImageNet recipe. Inference: resize the shorter side to
//!   `crop · 8/7` (256 for a 224 crop) with an antialiasing triangle (bilinear) filter, centre
//!   crop, ImageNet mean/std — torchvision's `Resize(256) + CenterCrop(224) + ToTensor +
//!   Normalize`. Training: `RandomResizedCrop(crop)` (scale 0.08–1, ratio 3/4–4/3) and a random
//!   horizontal flip.
//! - [`Preset::Cifar`] — He et al.'s CIFAR recipe: images at the model's input size (squashed
//!   if they differ), the dataset's mean/std; training: pad by 4, random crop, flip.
//! - [`Preset::None`] — images at the model's input size, the dataset's mean/std, no
//!   augmentation.
//!
//! Resampling is the `image` crate's ([`RESAMPLING`]); `tests/preprocess_parity.rs` compares
//! the ImageNet preset with torchvision's tensor for a real photo.

use std::fmt;
use std::str::FromStr;

use image::imageops::FilterType;
use image::{ImageBuffer, Luma};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::image::ImageU8;
use crate::transform::{Normalization, pad_crop_flip, resize_bilinear, to_channels};

/// A preprocessing recipe, by name (`--preprocess`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// torchvision's ImageNet recipe (resize + centre crop; random-resized-crop + flip).
    Imagenet,
    /// He et al.'s CIFAR recipe (input size; pad-crop-flip).
    Cifar,
    /// Input size, no augmentation.
    None,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 3] = [Preset::Imagenet, Preset::Cifar, Preset::None];

    /// The name on the command line and in `config.json`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Imagenet => "imagenet",
            Preset::Cifar => "cifar",
            Preset::None => "none",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = DataError;

    fn from_str(name: &str) -> Result<Self, DataError> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                DataError::invalid(
                    "preprocess",
                    format!("unknown preset '{name}'; valid presets: imagenet, cifar, none"),
                )
            })
    }
}

/// The crop side of the ImageNet preset when none is given (torchvision's 224).
pub const IMAGENET_CROP: usize = 224;
/// Random-resized-crop's range of the crop's area, as a fraction of the image's (torchvision).
pub const RRC_SCALE: [f64; 2] = [0.08, 1.0];
/// Random-resized-crop's range of the crop's aspect ratio (torchvision).
pub const RRC_RATIO: [f64; 2] = [3.0 / 4.0, 4.0 / 3.0];
/// The resampling filter of every resize of the ImageNet preset: the `image` crate's
/// triangle filter, which is bilinear with the support widened by the downscale factor
/// (antialiased, as PIL's `BILINEAR` that torchvision calls). Chosen by measurement against
/// torchvision: see `docs/results/preprocess-parity.json`.
pub const RESAMPLING: FilterType = FilterType::Triangle;
/// Padding of the CIFAR preset's random crop.
pub const CIFAR_PADDING: usize = 4;

/// The shorter side the ImageNet preset resizes to for a `crop`: `crop · 8/7` (the crop is
/// 87.5 % of it, timm's `crop_pct`), 256 for 224.
pub fn imagenet_resize(crop: usize) -> usize {
    crop * 8 / 7
}

/// How a classifier's input is made: the preset, the model's input `[channels, height,
/// width]` and the normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// The recipe.
    pub preset: Preset,
    /// `[channels, height, width]` of the model's input.
    pub input: [usize; 3],
    /// Per-channel mean and standard deviation, in `[0, 1]` units.
    pub normalization: Normalization,
}

impl Preprocessing {
    /// torchvision's ImageNet recipe for RGB crops of `crop × crop`, ImageNet's mean/std.
    pub fn imagenet(crop: usize) -> Self {
        Self {
            preset: Preset::Imagenet,
            input: [3, crop, crop],
            normalization: Normalization::imagenet(),
        }
    }

    /// The image the model sees in inference: converted to the input's channels, then resized
    /// and centre-cropped (ImageNet) or resized to the input (the others).
    pub fn eval_image(&self, image: &ImageU8) -> ImageU8 {
        let [c, h, w] = self.input;
        let image = to_channels(image, c);
        match self.preset {
            Preset::Imagenet => {
                let resized = resize_shorter_side(&image, imagenet_resize(h.min(w)));
                center_crop(&resized, h, w)
            }
            Preset::Cifar | Preset::None => fit(image, h, w),
        }
    }

    /// The image the model sees in training: the preset's augmentation drawn from `rng`.
    pub fn train_image(&self, image: &ImageU8, rng: &mut impl Rng) -> ImageU8 {
        let [c, h, w] = self.input;
        let image = to_channels(image, c);
        match self.preset {
            Preset::Imagenet => {
                let crop = random_resized_crop(&image, h, w, rng);
                if rng.random_bool(0.5) {
                    flip_horizontal(&crop)
                } else {
                    crop
                }
            }
            Preset::Cifar => pad_crop_flip(&fit(image, h, w), CIFAR_PADDING, rng),
            Preset::None => fit(image, h, w),
        }
    }

    /// The normalised `[channels, height, width]` values of a prepared image, appended to
    /// `out`.
    pub fn normalise(&self, image: &ImageU8, out: &mut Vec<f32>) {
        self.normalization.apply(image, out);
    }

    /// [`Self::eval_image`] then [`Self::normalise`]: the model's input for `image`.
    pub fn eval_tensor(&self, image: &ImageU8) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.input.iter().product());
        self.normalise(&self.eval_image(image), &mut out);
        out
    }
}

/// `image` at `h × w`: itself when it already is, else bilinear-resized (no antialiasing: the
/// small datasets' recipe).
fn fit(image: ImageU8, h: usize, w: usize) -> ImageU8 {
    if (image.height, image.width) == (h, w) {
        image
    } else {
        resize_bilinear(&image, h, w)
    }
}

/// Resizes every channel to `height × width` with [`RESAMPLING`] (antialiased when
/// shrinking).
pub fn resize(image: &ImageU8, height: usize, width: usize) -> ImageU8 {
    resize_with(image, height, width, RESAMPLING)
}

/// Resizes every channel to `height × width` with the `image` crate's `filter` (its support
/// widened by the scale when shrinking).
pub fn resize_with(image: &ImageU8, height: usize, width: usize, filter: FilterType) -> ImageU8 {
    if (image.height, image.width) == (height, width) {
        return image.clone();
    }
    let pixels = image.height * image.width;
    let mut data = Vec::with_capacity(image.channels * height * width);
    for c in 0..image.channels {
        let plane: ImageBuffer<Luma<u8>, Vec<u8>> = ImageBuffer::from_raw(
            image.width as u32,
            image.height as u32,
            image.data[c * pixels..(c + 1) * pixels].to_vec(),
        )
        .expect("a plane holds height × width samples");
        let resized = image::imageops::resize(&plane, width as u32, height as u32, filter);
        data.extend_from_slice(resized.as_raw());
    }
    ImageU8 {
        channels: image.channels,
        height,
        width,
        data,
    }
}

/// torchvision's `Resize(side)`: the shorter side becomes `side`, the longer one
/// `⌊side · long / short⌋`, the aspect kept.
pub fn resize_shorter_side(image: &ImageU8, side: usize) -> ImageU8 {
    resize_shorter_side_with(image, side, RESAMPLING)
}

/// [`resize_shorter_side`] with the `image` crate's `filter`.
pub fn resize_shorter_side_with(image: &ImageU8, side: usize, filter: FilterType) -> ImageU8 {
    let (h, w) = (image.height, image.width);
    let (short, long) = (h.min(w), h.max(w));
    if short == side || short == 0 {
        return image.clone();
    }
    let new_long = side * long / short;
    if h <= w {
        resize_with(image, side, new_long, filter)
    } else {
        resize_with(image, new_long, side, filter)
    }
}

/// Python's `round` (half to even), as torchvision's `CenterCrop` uses it.
fn round_half_even(x: f64) -> i64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && (r as i64) % 2 != 0 {
        (r - x.signum()) as i64
    } else {
        r as i64
    }
}

/// torchvision's `CenterCrop([height, width])`: the centred window, its offset rounded half
/// to even; an image smaller than the crop is padded with zeros first, as torchvision does.
pub fn center_crop(image: &ImageU8, height: usize, width: usize) -> ImageU8 {
    let (h, w) = (image.height, image.width);
    let top = round_half_even((h as f64 - height as f64) / 2.0);
    let left = round_half_even((w as f64 - width as f64) / 2.0);
    crop_padded(image, top, left, height, width)
}

/// The `height × width` window at `(top, left)` (which may reach outside: zeros there).
fn crop_padded(image: &ImageU8, top: i64, left: i64, height: usize, width: usize) -> ImageU8 {
    let (h, w) = (image.height as i64, image.width as i64);
    let mut data = vec![0u8; image.channels * height * width];
    for c in 0..image.channels {
        for y in 0..height {
            let sy = top + y as i64;
            if !(0..h).contains(&sy) {
                continue;
            }
            for x in 0..width {
                let sx = left + x as i64;
                if (0..w).contains(&sx) {
                    data[(c * height + y) * width + x] =
                        image.data[(c * h as usize + sy as usize) * w as usize + sx as usize];
                }
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

/// Mirrors left–right.
pub fn flip_horizontal(image: &ImageU8) -> ImageU8 {
    let mut data = image.data.clone();
    for row in data.chunks_exact_mut(image.width.max(1)) {
        row.reverse();
    }
    ImageU8 {
        data,
        ..image.clone()
    }
}

/// The window torchvision's `RandomResizedCrop.get_params` draws: `(top, left, height,
/// width)` of a crop with area in [`RRC_SCALE`] of the image's and aspect ratio in
/// [`RRC_RATIO`] (log-uniform); after ten misses, the largest centred crop within the ratio
/// range.
pub fn random_resized_window(
    height: usize,
    width: usize,
    rng: &mut impl Rng,
) -> (usize, usize, usize, usize) {
    let area = (height * width) as f64;
    let log_ratio = [RRC_RATIO[0].ln(), RRC_RATIO[1].ln()];
    for _ in 0..10 {
        let target = area * rng.random_range(RRC_SCALE[0]..RRC_SCALE[1]);
        let aspect = rng.random_range(log_ratio[0]..log_ratio[1]).exp();
        let w = (target * aspect).sqrt().round() as usize;
        let h = (target / aspect).sqrt().round() as usize;
        if 0 < w && w <= width && 0 < h && h <= height {
            let top = rng.random_range(0..=height - h);
            let left = rng.random_range(0..=width - w);
            return (top, left, h, w);
        }
    }
    let in_ratio = width as f64 / height as f64;
    let (w, h) = if in_ratio < RRC_RATIO[0] {
        (width, (width as f64 / RRC_RATIO[0]).round() as usize)
    } else if in_ratio > RRC_RATIO[1] {
        ((height as f64 * RRC_RATIO[1]).round() as usize, height)
    } else {
        (width, height)
    };
    let (h, w) = (h.clamp(1, height), w.clamp(1, width));
    ((height - h) / 2, (width - w) / 2, h, w)
}

/// torchvision's `RandomResizedCrop([height, width])`: a [`random_resized_window`] resized
/// to `height × width`.
pub fn random_resized_crop(
    image: &ImageU8,
    height: usize,
    width: usize,
    rng: &mut impl Rng,
) -> ImageU8 {
    let (top, left, h, w) = random_resized_window(image.height, image.width, rng);
    let window = crop_padded(image, top as i64, left as i64, h, w);
    resize(&window, height, width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataRng;
    use rand::SeedableRng;

    fn gradient(channels: usize, height: usize, width: usize) -> ImageU8 {
        let mut data = Vec::new();
        for c in 0..channels {
            for y in 0..height {
                for x in 0..width {
                    data.push(((x * 255 / width.max(1) + y + c * 40) % 256) as u8);
                }
            }
        }
        ImageU8 {
            channels,
            height,
            width,
            data,
        }
    }

    #[test]
    fn presets_parse_by_name_and_refuse_others() {
        for preset in Preset::ALL {
            assert_eq!(preset.name().parse::<Preset>().unwrap(), preset);
            assert_eq!(
                serde_json::to_string(&preset).unwrap(),
                format!("\"{preset}\"")
            );
        }
        let err = "timm".parse::<Preset>().unwrap_err().to_string();
        assert!(
            err.contains("valid presets: imagenet, cifar, none"),
            "{err}"
        );
    }

    #[test]
    fn the_imagenet_preset_resizes_the_shorter_side_then_crops_the_centre() {
        assert_eq!(imagenet_resize(224), 256);
        assert_eq!(imagenet_resize(32), 36);
        let photo = gradient(3, 300, 451);
        let resized = resize_shorter_side(&photo, 256);
        // torchvision: 256 × int(256 · 451 / 300) = 256 × 384.
        assert_eq!(resized.shape(), [3, 256, 384]);
        let tall = resize_shorter_side(&gradient(1, 451, 300), 256);
        assert_eq!(tall.shape(), [1, 384, 256]);
        let p = Preprocessing::imagenet(224);
        let input = p.eval_image(&gradient(1, 300, 451));
        assert_eq!(input.shape(), [3, 224, 224], "grey becomes RGB");
        assert_eq!(p.eval_tensor(&photo).len(), 3 * 224 * 224);
    }

    #[test]
    fn center_crop_rounds_half_to_even_and_pads_small_images() {
        assert_eq!(
            [0.5, 1.5, 2.5, -0.5, 3.2].map(round_half_even),
            [0, 2, 2, 0, 3]
        );
        let image = gradient(1, 5, 8);
        // (5 - 2) / 2 = 1.5 → 2; (8 - 3) / 2 = 2.5 → 2.
        let crop = center_crop(&image, 2, 3);
        assert_eq!(crop.data[0], image.data[2 * 8 + 2]);
        let padded = center_crop(&gradient(1, 2, 2), 4, 4);
        assert_eq!(padded.data[0], 0);
        assert_eq!(padded.data[5], gradient(1, 2, 2).data[0]);
    }

    #[test]
    fn shrinking_is_antialiased() {
        // A one-pixel checkerboard shrunk 4× is flat grey when the filter widens with the
        // scale; plain bilinear (two taps) keeps aliasing stripes.
        let size = 64;
        let data = (0..size * size)
            .map(|i| {
                if (i / size + i % size) % 2 == 0 {
                    255
                } else {
                    0
                }
            })
            .collect();
        let board = ImageU8 {
            channels: 1,
            height: size,
            width: size,
            data,
        };
        let small = resize(&board, 16, 16);
        let (min, max) = small
            .data
            .iter()
            .fold((255u8, 0u8), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(max - min <= 8, "antialiased: {min}..{max}");
    }

    #[test]
    fn random_resized_windows_stay_inside_and_follow_the_ranges() {
        let mut rng = DataRng::seed_from_u64(3);
        let (height, width) = (300, 451);
        for _ in 0..500 {
            let (top, left, h, w) = random_resized_window(height, width, &mut rng);
            assert!(top + h <= height && left + w <= width && h > 0 && w > 0);
            let fraction = (h * w) as f64 / (height * width) as f64;
            assert!(fraction <= 1.0 && fraction > 0.07, "{fraction}");
        }
        // A strip too thin for any ratio in range: the fallback centred crop.
        let (top, left, h, w) = random_resized_window(10, 1000, &mut rng);
        assert_eq!((top, h), (0, 10));
        assert_eq!(w, 13);
        assert_eq!(left, (1000 - 13) / 2);
        let p = Preprocessing::imagenet(32);
        let image = gradient(3, 60, 90);
        assert_eq!(p.train_image(&image, &mut rng).shape(), [3, 32, 32]);
    }

    #[test]
    fn the_small_presets_squash_to_the_input_and_only_cifar_augments() {
        let mut rng = DataRng::seed_from_u64(0);
        let none = Preprocessing {
            preset: Preset::None,
            input: [1, 8, 8],
            normalization: Normalization {
                mean: vec![0.0],
                std: vec![1.0],
            },
        };
        let image = gradient(3, 16, 12);
        assert_eq!(none.eval_image(&image).shape(), [1, 8, 8]);
        assert_eq!(none.train_image(&image, &mut rng), none.eval_image(&image));
        let cifar = Preprocessing {
            preset: Preset::Cifar,
            ..none.clone()
        };
        let differs =
            (0..20).any(|_| cifar.train_image(&image, &mut rng) != none.eval_image(&image));
        assert!(differs);
    }
}
