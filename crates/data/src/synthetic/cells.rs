//! `synthetic-cells`: fluorescence-microscopy-like nuclei for segmentation, in the style of the
//! 2018 Data Science Bowl's fluorescence images and of optical sections of a nuclei stack.
//!
//! Each image has elliptical and irregular nuclei at a random magnification (about 4 to 24
//! pixels' radius), of brightness spread over more than an order of magnitude (log-uniform
//! 0.15–1, 6 % saturated at 1.3–2), with inner texture (mottling, chromatin grain, dark
//! nucleoli, bright chromocentres, a dimmer or brighter rim), some touching or clustered. The
//! focal plane cuts each nucleus at a random height: the mask is the in-plane cross-section,
//! the parts above and below add defocused light around it, and some nuclei lie wholly outside
//! the plane (light without a mask: up to 5 % of the nuclei, and 20–50 % in a tenth of the
//! images, as in the top and bottom slices of a stack). The whole field is blurred by the
//! optics, lies on an uneven background, and carries Poisson (shot) and Gaussian read noise at
//! a random gain. Each image is then stretched between its 0.5th and 99.5th percentiles, as a
//! real 16-bit image is when read, so training and prediction see intensities handled the same
//! way. Ground truth is the binary foreground mask; instance ids are kept.

use burn::data::dataset::{Dataset, DatasetError};
use rand::{Rng, RngExt};

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

/// One nucleus: centre, radius, elongation, orientation, boundary harmonics, and where the
/// focal plane cuts it.
struct Nucleus {
    cx: f32,
    cy: f32,
    radius: f32,
    aspect: f32,
    angle: f32,
    harmonics: [(f32, f32); 4],
    brightness: f32,
    softness: f32,
    /// Radius of the in-plane cross-section relative to the nucleus's outline: 1 when the
    /// focal plane cuts through its equator, smaller towards a pole, 0 when it lies wholly
    /// above or below the plane (then it is light without a mask).
    section: f32,
    /// Weight of the defocused light of the parts above and below the plane.
    halo: f32,
    /// Edge softness of that defocused light, relative to the radius.
    halo_softness: f32,
    /// Brightness change towards the rim (`< 0` dimmer, `> 0` brighter, as heterochromatin
    /// at the nuclear envelope often looks).
    rim: f32,
    texture_phase: [f32; 4],
    /// Bright chromocentres (`+`) and dark nucleoli (`−`): centre, radius, signed strength.
    spots: Vec<(f32, f32, f32, f32)>,
}

impl Nucleus {
    /// A nucleus at `(cx, cy)` of about `scale` pixels' radius; `out_of_plane` is the
    /// probability that it lies wholly outside the focal plane.
    fn random(rng: &mut impl Rng, cx: f32, cy: f32, scale: f32, out_of_plane: f64) -> Self {
        use std::f32::consts::{PI, TAU};
        let radius = scale * rng.random_range(0.75..1.3f32);
        let irregular = rng.random_bool(0.35);
        let harmonics = std::array::from_fn(|_| {
            let amp = if irregular {
                rng.random_range(0.0..0.09f32)
            } else {
                rng.random_range(0.0..0.025f32)
            };
            (amp, rng.random_range(0.0..TAU))
        });
        // Brightness over more than an order of magnitude: log-uniform 0.15–1, a few saturated.
        let brightness = if rng.random_bool(0.06) {
            rng.random_range(1.3..2.0)
        } else {
            (rng.random_range(0.15f32.ln()..0.0)).exp()
        };
        // Where the focal plane cuts the nucleus (its height normalised to ±1): a cut at
        // height z shows a cross-section of radius √(1 − z²) and the rest as defocused light.
        let (section, halo) = if rng.random_bool(out_of_plane) {
            (0.0, rng.random_range(0.25..0.7f32))
        } else {
            let z: f32 = if rng.random_bool(0.8) {
                rng.random_range(0.0..0.3)
            } else {
                rng.random_range(0.3..0.85)
            };
            ((1.0 - z * z).sqrt(), 0.4 * z)
        };
        let spots = (0..rng.random_range(0..5))
            .map(|_| {
                let (a, d) = (rng.random_range(0.0..TAU), rng.random_range(0.0..0.6f32));
                let strength = if rng.random_bool(0.6) {
                    -rng.random_range(0.3..0.7f32)
                } else {
                    rng.random_range(0.2..0.5f32)
                };
                (
                    a.cos() * d,
                    a.sin() * d,
                    rng.random_range(0.10..0.25f32),
                    strength,
                )
            })
            .collect();
        Self {
            cx,
            cy,
            radius,
            aspect: rng.random_range(0.6..1.0f32),
            angle: rng.random_range(0.0..PI),
            harmonics,
            brightness,
            softness: rng.random_range(0.03..0.10),
            section,
            halo,
            // Defocus spreads light over a distance on the camera, not a fraction of the
            // nucleus: at least 2.5 pixels.
            halo_softness: rng.random_range(0.25..0.5f32).max(2.5 / radius),
            rim: rng.random_range(-0.15..0.3),
            texture_phase: std::array::from_fn(|_| rng.random_range(0.0..TAU)),
            spots,
        }
    }

    /// Normalised radial coordinate: < 1 inside the outline; and the rotated coordinates.
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

    /// Whether a point at radial coordinate `rho` ([`Self::rho`]) is in the in-plane
    /// cross-section, and how deep (smaller is deeper).
    fn inside(&self, rho: f32) -> Option<f32> {
        let depth = rho / self.section;
        (self.section > 0.0 && depth < 1.0).then_some(depth)
    }

    /// Emitted intensity (before optics and noise) at a point of [`Self::rho`] coordinates
    /// `(rho, u, v)`; `grain` is the image's chromatin texture there.
    fn intensity(&self, (rho, u, v): (f32, f32, f32), grain: f32) -> f32 {
        let halo = self.halo / (1.0 + ((rho - 1.0) / self.halo_softness).exp());
        if self.section == 0.0 {
            return self.brightness * halo;
        }
        let r = rho / self.section;
        let edge = 1.0 / (1.0 + ((r - 1.0) / self.softness).exp());
        if edge < 1e-3 {
            return self.brightness * halo;
        }
        let (u, v) = (u / self.section, v / self.section);
        let p = &self.texture_phase;
        let mottling = 0.82
            + 0.09 * (5.0 * u + p[0]).sin() * (4.0 * v + p[1]).cos()
            + 0.07 * (9.0 * u + 7.0 * v + p[2]).sin()
            + 0.04 * (13.0 * v - 11.0 * u + p[3]).cos();
        let spots: f32 = self
            .spots
            .iter()
            .map(|(sx, sy, sr, strength)| {
                strength * (-((u - sx).powi(2) + (v - sy).powi(2)) / (sr * sr)).exp()
            })
            .sum();
        let rim = 1.0 + self.rim * r.clamp(0.0, 1.0).powi(4);
        let body = ((mottling + spots) * rim * grain).max(0.05);
        self.brightness * (edge * body + (1.0 - edge) * halo)
    }
}

/// Generates image `index` of `config`.
pub fn generate(config: &SyntheticCellsConfig, index: usize) -> SegmentationItem {
    let mut rng = item_rng(config.seed ^ 0xCE11_5EED, index);
    let n = config.size;
    let size = n as f32;

    // How deep the field is against the focal plane: in most images few nuclei lie wholly
    // above or below it; in some (the top and bottom slices of a stack) many do.
    let out_of_plane = if rng.random_bool(0.1) {
        rng.random_range(0.2..0.5)
    } else {
        rng.random_range(0.0..0.05)
    };
    // The magnification: nuclei of about 4 to 24 pixels' radius (log-uniform; at most a
    // quarter of the image side), as many as cover 10–45 % of the field.
    let scale = rng
        .random_range(4f32.ln()..24f32.ln())
        .exp()
        .min(size / 4.0);
    let cover = rng.random_range(0.10..0.45f32);
    let count = ((cover * size * size / (std::f32::consts::PI * 0.8 * scale * scale)).round()
        as usize)
        .max(2);
    // Place nuclei: some scattered, some in touching clusters. Nuclei in the plane do not
    // overlap (touching is fine); those outside it may lie over anything.
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
        let candidate = Nucleus::random(&mut rng, cx, cy, scale, out_of_plane);
        let overlaps = candidate.section > 0.0
            && nuclei.iter().filter(|o| o.section > 0.0).any(|o| {
                let d = ((o.cx - cx).powi(2) + (o.cy - cy).powi(2)).sqrt();
                d < 0.75 * (o.radius + candidate.radius)
            });
        if !overlaps {
            nuclei.push(candidate);
        }
    }

    // Chromatin grain: smoothed noise, multiplying the nuclei's emission.
    let grain_strength = rng.random_range(0.0..0.35f32);
    let mut grain: Vec<f32> = (0..n * n).map(|_| normal(&mut rng)).collect();
    gaussian_blur(&mut grain, n, n, rng.random_range(0.7..1.5));
    let grain_scale = (grain.iter().map(|g| g * g).sum::<f32>() / (n * n) as f32)
        .sqrt()
        .max(1e-6);
    for g in &mut grain {
        *g = (1.0 + grain_strength * *g / grain_scale).max(0.2);
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
                let reach = nucleus.radius * 2.0;
                if (px - nucleus.cx).abs() > reach || (py - nucleus.cy).abs() > reach {
                    continue;
                }
                let at = nucleus.rho(px, py);
                signal[y * n + x] += nucleus.intensity(at, grain[y * n + x]);
                if let Some(depth) = nucleus.inside(at.0)
                    && depth < best
                {
                    best = depth;
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

    #[test]
    fn nuclei_span_brightness_sizes_and_focal_depths() {
        use rand::SeedableRng;
        let mut rng = crate::DataRng::seed_from_u64(1);
        let nuclei: Vec<Nucleus> = (0..4000)
            .map(|_| Nucleus::random(&mut rng, 0.0, 0.0, 10.0, 0.3))
            .collect();
        let brightness: Vec<f32> = nuclei.iter().map(|n| n.brightness).collect();
        let (lo, hi) = brightness
            .iter()
            .fold((f32::MAX, 0f32), |(lo, hi), &b| (lo.min(b), hi.max(b)));
        assert!(hi / lo > 10.0, "brightness {lo}..{hi}");
        let saturated = brightness.iter().filter(|&&b| b > 1.0).count() as f64 / 4000.0;
        assert!((0.04..0.08).contains(&saturated), "{saturated}");
        // Out of the plane: light, no mask.
        let outside: Vec<&Nucleus> = nuclei.iter().filter(|n| n.section == 0.0).collect();
        let fraction = outside.len() as f64 / 4000.0;
        assert!((0.27..0.33).contains(&fraction), "{fraction}");
        let ghost = outside[0];
        assert!(ghost.inside(ghost.rho(0.0, 0.0).0).is_none());
        assert!(ghost.intensity(ghost.rho(0.0, 0.0), 1.0) > 0.0);
        // Cut off the equator: the mask is a smaller cross-section with defocused light round it.
        let cut = nuclei
            .iter()
            .find(|n| (0.5..0.8).contains(&n.section))
            .expect("a nucleus cut near a pole");
        // A point on the major axis between the cross-section and the outline.
        let r = cut.radius * (cut.section + 1.0) / 2.0;
        let (s, c) = cut.angle.sin_cos();
        let between = cut.rho(cut.cx + r * c, cut.cy + r * s);
        assert!(cut.inside(cut.rho(cut.cx, cut.cy).0).is_some());
        assert!(cut.inside(between.0).is_none());
        assert!(cut.intensity(between, 1.0) > 0.0);
        // Magnification varies between images: nucleus areas differ by an order of magnitude.
        let cells = SyntheticCells::new(0, 40, 96).unwrap();
        let mean_areas: Vec<f64> = (0..40)
            .map(|i| {
                let item = cells.get(i).unwrap();
                let ids = item.instances.unwrap();
                let objects: std::collections::BTreeSet<_> =
                    ids.iter().filter(|&&id| id > 0).collect();
                ids.iter().filter(|&&id| id > 0).count() as f64 / objects.len().max(1) as f64
            })
            .collect();
        let (small, large) = mean_areas
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &a| (lo.min(a), hi.max(a)));
        assert!(large / small > 10.0, "mean nucleus areas {small}..{large}");
    }
}
