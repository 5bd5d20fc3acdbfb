//! `synthetic-cells`: fluorescence-microscopy-like nuclei for segmentation, in the style of the
//! 2018 Data Science Bowl's fluorescence images.
//!
//! Each image has elliptical and irregular nuclei of varied size, brightness and inner texture
//! (chromatin mottling, bright nucleoli), some touching or clustered, a few out of focus or
//! saturated; the whole field is blurred by the optics, lies on an uneven background, and
//! carries Poisson (shot) and Gaussian read noise at a random gain. Each image is then stretched
//! between its 0.5th and 99.5th percentiles, as a real 16-bit image is when read, so training
//! and prediction see intensities handled the same way. Ground truth is the binary foreground
//! mask; instance ids are kept.

use burn::data::dataset::{Dataset, DatasetError};
use rand::Rng;

use super::{gaussian_blur, item_rng, normal, poisson};
use crate::error::{DataError, Result};
use crate::image::ImageF32;
use crate::item::SegmentationItem;

/// Configuration of [`SyntheticCells`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticCellsConfig {
    /// Seed of the whole dataset.
    pub seed: u64,
    /// Number of images.
    pub len: usize,
    /// Side of the square images in pixels.
    pub size: usize,
}

/// One nucleus: centre, radius, elongation, orientation, boundary harmonics.
struct Nucleus {
    cx: f32,
    cy: f32,
    radius: f32,
    aspect: f32,
    angle: f32,
    harmonics: [(f32, f32); 4],
    brightness: f32,
    softness: f32,
    texture_phase: [f32; 4],
    nucleoli: Vec<(f32, f32, f32)>,
}

impl Nucleus {
    fn random(rng: &mut impl Rng, cx: f32, cy: f32, size: f32) -> Self {
        let radius = rng.random_range(0.035..0.10f32) * size;
        let irregular = rng.random_bool(0.35);
        let harmonics = std::array::from_fn(|_| {
            let amp = if irregular {
                rng.random_range(0.0..0.09f32)
            } else {
                rng.random_range(0.0..0.025f32)
            };
            (amp, rng.random_range(0.0..std::f32::consts::TAU))
        });
        let out_of_focus = rng.random_bool(0.08);
        let saturated = rng.random_bool(0.06);
        let nucleoli = (0..rng.random_range(0..4))
            .map(|_| {
                let (a, d) = (
                    rng.random_range(0.0..std::f32::consts::TAU),
                    rng.random_range(0.0..0.6f32),
                );
                (a.cos() * d, a.sin() * d, rng.random_range(0.10..0.22f32))
            })
            .collect();
        Self {
            cx,
            cy,
            radius,
            aspect: rng.random_range(0.6..1.0f32),
            angle: rng.random_range(0.0..std::f32::consts::PI),
            harmonics,
            brightness: if saturated {
                rng.random_range(1.3..2.0)
            } else {
                rng.random_range(0.25..0.9)
            },
            softness: if out_of_focus {
                rng.random_range(0.25..0.45)
            } else {
                rng.random_range(0.03..0.08)
            },
            texture_phase: std::array::from_fn(|_| rng.random_range(0.0..std::f32::consts::TAU)),
            nucleoli,
        }
    }

    /// Normalised radial coordinate: < 1 inside the boundary.
    fn rho(&self, x: f32, y: f32) -> (f32, f32, f32) {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let (s, c) = self.angle.sin_cos();
        let u = (dx * c + dy * s) / self.radius;
        let v = (-dx * s + dy * c) / (self.radius * self.aspect);
        let theta = v.atan2(u);
        let boundary = 1.0
            + self
                .harmonics
                .iter()
                .enumerate()
                .map(|(k, (amp, phase))| amp * ((k as f32 + 2.0) * theta + phase).cos())
                .sum::<f32>();
        ((u * u + v * v).sqrt() / boundary, u, v)
    }

    /// Emitted intensity at `(x, y)` (before optics and noise).
    fn intensity(&self, x: f32, y: f32) -> f32 {
        let (rho, u, v) = self.rho(x, y);
        let edge = 1.0 / (1.0 + ((rho - 1.0) / self.softness).exp());
        if edge < 1e-3 {
            return 0.0;
        }
        let p = &self.texture_phase;
        let mottling = 0.82
            + 0.09 * (5.0 * u + p[0]).sin() * (4.0 * v + p[1]).cos()
            + 0.07 * (9.0 * u + 7.0 * v + p[2]).sin()
            + 0.04 * (13.0 * v - 11.0 * u + p[3]).cos();
        let nucleoli: f32 = self
            .nucleoli
            .iter()
            .map(|(nx, ny, r)| 0.35 * (-((u - nx).powi(2) + (v - ny).powi(2)) / (r * r)).exp())
            .sum();
        // Slightly dimmer rim, as DNA stains often look.
        let rim = 1.0 - 0.15 * rho.clamp(0.0, 1.0).powi(4);
        self.brightness * edge * (mottling + nucleoli) * rim
    }
}

/// Generates image `index` of `config`.
pub fn generate(config: &SyntheticCellsConfig, index: usize) -> SegmentationItem {
    let mut rng = item_rng(config.seed ^ 0xCE11_5EED, index);
    let n = config.size;
    let size = n as f32;

    // Place nuclei: some scattered, some in touching clusters.
    let count = rng.random_range((n * n / 1600).max(3)..(n * n / 450).max(6));
    let mut nuclei: Vec<Nucleus> = Vec::with_capacity(count);
    for _ in 0..count {
        let (cx, cy) = match nuclei.last() {
            Some(prev) if rng.random_bool(0.4) => {
                let a = rng.random_range(0.0..std::f32::consts::TAU);
                let d = prev.radius * rng.random_range(1.6..2.3f32);
                (prev.cx + a.cos() * d, prev.cy + a.sin() * d)
            }
            _ => (rng.random_range(0.0..size), rng.random_range(0.0..size)),
        };
        let candidate = Nucleus::random(&mut rng, cx, cy, size);
        // Reject heavy overlaps (touching is fine, stacked nuclei are not).
        let overlaps = nuclei.iter().any(|o| {
            let d = ((o.cx - cx).powi(2) + (o.cy - cy).powi(2)).sqrt();
            d < 0.75 * (o.radius + candidate.radius)
        });
        if !overlaps {
            nuclei.push(candidate);
        }
    }

    // Render emission, ground truth and instance ids.
    let mut signal = vec![0f32; n * n];
    let mut mask = vec![0u8; n * n];
    let mut ids = vec![0u32; n * n];
    for y in 0..n {
        for x in 0..n {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let mut best = f32::MAX;
            for (i, nucleus) in nuclei.iter().enumerate() {
                if (px - nucleus.cx).abs() > nucleus.radius * 1.6
                    || (py - nucleus.cy).abs() > nucleus.radius * 1.6
                {
                    continue;
                }
                signal[y * n + x] += nucleus.intensity(px, py);
                let (rho, _, _) = nucleus.rho(px, py);
                if rho < 1.0 && rho < best {
                    best = rho;
                    mask[y * n + x] = 1;
                    ids[y * n + x] = i as u32 + 1;
                }
            }
        }
    }

    // Optics: point-spread blur.
    gaussian_blur(&mut signal, n, n, rng.random_range(0.6..1.6));

    // Uneven background: offset + gradient + a broad vignette.
    let offset = rng.random_range(0.01..0.08f32);
    let (gx, gy) = (
        rng.random_range(-0.04..0.04f32),
        rng.random_range(-0.04..0.04f32),
    );
    let vignette = rng.random_range(0.0..0.06f32);
    // Camera: photons per unit intensity (gain), read noise.
    let photons = rng.random_range(40.0..400.0f32);
    let read_noise = rng.random_range(0.004..0.02f32);
    let mut data = vec![0f32; n * n];
    for y in 0..n {
        for x in 0..n {
            let (u, v) = (x as f32 / size - 0.5, y as f32 / size - 0.5);
            let background = offset + gx * u + gy * v + vignette * (1.0 - 2.0 * (u * u + v * v));
            let expected = (signal[y * n + x] + background.max(0.0)) * photons;
            let value = poisson(&mut rng, expected) / photons + read_noise * normal(&mut rng);
            data[y * n + x] = value.max(0.0);
        }
    }
    // The same per-image robust stretch as a real deep image gets when read
    // (`Image::normalised`: 0.5th–99.5th percentiles to [0, 1]).
    crate::image::stretch_percentiles(&mut data, 0.005, 0.995);
    SegmentationItem {
        image: ImageF32 {
            channels: 1,
            height: n,
            width: n,
            data,
        },
        mask,
        instances: Some(ids),
    }
}

/// `synthetic-cells`: `len` images of `size × size` pixels from `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticCells {
    config: SyntheticCellsConfig,
}

impl SyntheticCells {
    /// A dataset of `len` images of `size × size` pixels; sizes below 16 are errors.
    pub fn new(seed: u64, len: usize, size: usize) -> Result<Self> {
        if !(16..=4096).contains(&size) {
            return Err(DataError::invalid(
                "image size",
                format!("{size} (16 to 4096 pixels)"),
            ));
        }
        Ok(Self {
            config: SyntheticCellsConfig { seed, len, size },
        })
    }

    /// The configuration.
    pub fn config(&self) -> SyntheticCellsConfig {
        self.config
    }

    /// The item at `index`.
    pub fn item(&self, index: usize) -> Result<SegmentationItem> {
        if index >= self.config.len {
            return Err(DataError::invalid(
                "index",
                format!("{index} past the end ({} items)", self.config.len),
            ));
        }
        Ok(generate(&self.config, index))
    }
}

impl Dataset<SegmentationItem> for SyntheticCells {
    fn get(&self, index: usize) -> Result<SegmentationItem, DatasetError> {
        self.item(index).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        self.config.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_like_nuclei_on_a_dark_background() {
        let cells = SyntheticCells::new(3, 8, 96).unwrap();
        let mut fractions = Vec::new();
        for i in 0..cells.len() {
            let item = cells.get(i).unwrap();
            assert_eq!(item.image.shape(), [1, 96, 96]);
            let (mut fg, mut bg, mut nf, mut nb) = (0.0, 0.0, 0.0, 0.0);
            for (v, &m) in item.image.data.iter().zip(&item.mask) {
                if m == 1 {
                    fg += v;
                    nf += 1.0;
                } else {
                    bg += v;
                    nb += 1.0;
                }
            }
            assert!(nf > 0.0, "image {i} has no nuclei");
            assert!(
                fg / nf > 2.0 * bg / nb + 0.1,
                "image {i}: nuclei {} vs background {}",
                fg / nf,
                bg / nb
            );
            fractions.push(item.foreground_fraction());
            let instances = item.instances.unwrap();
            let distinct: std::collections::BTreeSet<_> =
                instances.iter().filter(|&&id| id > 0).collect();
            assert!(
                distinct.len() >= 2,
                "image {i}: {} instances",
                distinct.len()
            );
        }
        // Sparse but not empty foreground, varying between images.
        for f in &fractions {
            assert!((0.02..0.6).contains(f), "{fractions:?}");
        }
        assert!(fractions.windows(2).any(|w| (w[0] - w[1]).abs() > 0.01));
        assert_eq!(
            cells.get(5).unwrap(),
            SyntheticCells::new(3, 8, 96).unwrap().get(5).unwrap()
        );
        assert!(SyntheticCells::new(0, 1, 8).is_err());
    }
}
