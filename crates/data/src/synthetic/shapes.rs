//! `synthetic-shapes`: 32×32 RGB images of 10 classes of shapes and patterns, with random
//! colours, position, scale, rotation, background gradients, clutter and noise. Learnable, but
//! not trivially: a ResNet-20 needs a few epochs.

use burn::data::dataset::{Dataset, DatasetError};
use rand::{Rng, RngExt};

use super::{item_rng, normal};
use crate::error::{DataError, Result};
use crate::image::ImageU8;
use crate::item::ClassificationItem;

/// The class names, index = label.
pub const SHAPE_CLASSES: [&str; 10] = [
    "circle", "square", "triangle", "plus", "ring", "diamond", "stripes", "checker", "cross",
    "star",
];

/// Side of every image.
pub const SHAPE_SIZE: usize = 32;

/// Whether the point `(x, y)` in the shape's unit frame (radius ≈ 1) is inside class `label`.
fn inside(label: usize, x: f32, y: f32) -> bool {
    let r = (x * x + y * y).sqrt();
    match label {
        0 => r < 0.9,
        1 => x.abs() < 0.75 && y.abs() < 0.75,
        2 => y < 0.6 && y > -0.9 + 1.73 * x.abs() * 0.9,
        3 => (x.abs() < 0.28 && y.abs() < 0.95) || (y.abs() < 0.28 && x.abs() < 0.95),
        4 => r < 0.95 && r > 0.55,
        5 => x.abs() + y.abs() < 0.95,
        6 => r < 0.95 && (x * 3.2).rem_euclid(2.0) < 1.0,
        7 => {
            x.abs() < 0.85
                && y.abs() < 0.85
                && (((x + 1.0) * 2.4).floor() as i32 + ((y + 1.0) * 2.4).floor() as i32) % 2 == 0
        }
        8 => x.abs() < 0.95 && y.abs() < 0.95 && ((x - y).abs() < 0.3 || (x + y).abs() < 0.3),
        _ => {
            let theta = y.atan2(x);
            r < 0.45 + 0.5 * (0.5 + 0.5 * (5.0 * theta).cos()).powf(2.0)
        }
    }
}

fn random_colour(rng: &mut impl Rng) -> [f32; 3] {
    [rng.random(), rng.random(), rng.random()]
}

fn luminance(c: [f32; 3]) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

/// Generates item `index` of the dataset seeded with `seed`.
pub fn generate(seed: u64, index: usize) -> ClassificationItem {
    let mut rng = item_rng(seed, index);
    let label = rng.random_range(0..SHAPE_CLASSES.len());
    let n = SHAPE_SIZE;
    let mut pixels = vec![[0f32; 3]; n * n];

    // Background: a colour with a linear gradient.
    let bg = random_colour(&mut rng);
    let (gx, gy) = (
        rng.random_range(-0.3..0.3f32),
        rng.random_range(-0.3..0.3f32),
    );
    for y in 0..n {
        for x in 0..n {
            let t = gx * (x as f32 / n as f32 - 0.5) + gy * (y as f32 / n as f32 - 0.5);
            pixels[y * n + x] = bg.map(|c| c + t);
        }
    }
    // Clutter: a few small bars and dots in random colours.
    for _ in 0..rng.random_range(0..4) {
        let colour = random_colour(&mut rng);
        let (cx, cy) = (rng.random_range(0..n) as f32, rng.random_range(0..n) as f32);
        let (len, angle) = (
            rng.random_range(2.0..7.0f32),
            rng.random_range(0.0..std::f32::consts::PI),
        );
        let thick = rng.random_range(0.6..1.4f32);
        for y in 0..n {
            for x in 0..n {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                let along = dx * angle.cos() + dy * angle.sin();
                let across = -dx * angle.sin() + dy * angle.cos();
                if along.abs() < len && across.abs() < thick {
                    pixels[y * n + x] = colour;
                }
            }
        }
    }
    // The shape, in a colour that stands out from the background.
    let fg = loop {
        let c = random_colour(&mut rng);
        if (luminance(c) - luminance(bg)).abs() > 0.25 {
            break c;
        }
    };
    let scale = rng.random_range(7.0..13.0f32);
    let margin = scale * 0.7;
    let cx = rng.random_range(margin..n as f32 - margin);
    let cy = rng.random_range(margin..n as f32 - margin);
    let angle = rng.random_range(0.0..std::f32::consts::TAU);
    let (sin, cos) = angle.sin_cos();
    let aspect = rng.random_range(0.85..1.15f32);
    for y in 0..n {
        for x in 0..n {
            // 2×2 supersampling for soft edges.
            let mut cover = 0.0;
            for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let (dx, dy) = (
                    (x as f32 + ox - cx) / scale,
                    (y as f32 + oy - cy) / (scale * aspect),
                );
                let (u, v) = (dx * cos + dy * sin, -dx * sin + dy * cos);
                if inside(label, u, v) {
                    cover += 0.25;
                }
            }
            let p = &mut pixels[y * n + x];
            for c in 0..3 {
                p[c] = p[c] * (1.0 - cover) + fg[c] * cover;
            }
        }
    }
    // Sensor noise.
    let sigma = rng.random_range(0.02..0.08f32);
    let mut data = vec![0u8; 3 * n * n];
    for (i, p) in pixels.iter().enumerate() {
        for c in 0..3 {
            let v = p[c] + sigma * normal(&mut rng);
            data[c * n * n + i] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    ClassificationItem {
        image: ImageU8 {
            channels: 3,
            height: n,
            width: n,
            data,
        },
        label,
    }
}

/// `synthetic-shapes` of `len` items from `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticShapes {
    /// Seed of the whole dataset.
    pub seed: u64,
    /// Number of items.
    pub len: usize,
}

impl SyntheticShapes {
    /// `len` items generated from `seed`.
    pub fn new(seed: u64, len: usize) -> Self {
        Self { seed, len }
    }

    /// The item at `index`.
    pub fn item(&self, index: usize) -> Result<ClassificationItem> {
        if index >= self.len {
            return Err(DataError::invalid(
                "index",
                format!("{index} past the end ({} items)", self.len),
            ));
        }
        Ok(generate(self.seed, index))
    }
}

impl Dataset<ClassificationItem> for SyntheticShapes {
    fn get(&self, index: usize) -> Result<ClassificationItem, DatasetError> {
        self.item(index).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_balanced_and_varied() {
        let a = SyntheticShapes::new(42, 2000);
        let b = SyntheticShapes::new(42, 2000);
        assert_eq!(a.get(17).unwrap(), b.get(17).unwrap());
        assert_ne!(
            a.get(17).unwrap(),
            SyntheticShapes::new(43, 2000).get(17).unwrap()
        );
        let mut counts = [0usize; 10];
        for i in 0..a.len() {
            counts[a.get(i).unwrap().label] += 1;
        }
        for c in counts {
            assert!((150..250).contains(&c), "{counts:?}");
        }
        let item = a.get(0).unwrap();
        assert_eq!(item.image.shape(), [3, 32, 32]);
        let mean =
            item.image.data.iter().map(|&v| v as f64).sum::<f64>() / item.image.data.len() as f64;
        assert!(mean > 5.0 && mean < 250.0);
        assert!(a.get(2000).is_err());
    }

    #[test]
    fn every_class_is_drawn() {
        // The shape covers a reasonable part of the unit frame for every class.
        for label in 0..10 {
            let mut hits = 0;
            for i in 0..40 {
                for j in 0..40 {
                    if inside(label, i as f32 / 20.0 - 1.0, j as f32 / 20.0 - 1.0) {
                        hits += 1;
                    }
                }
            }
            assert!(hits > 200 && hits < 1500, "class {label}: {hits}");
        }
    }
}
