//! The U-Net paper's loss weight map (Ronneberger et al. 2015, eq. 2) for separating touching
//! objects, and the exact Euclidean distance transform it is built on.
//!
//! `w(x) = w_c(x) + w0 · exp(−(d1(x) + d2(x))² / (2σ²))` on background pixels, `w_c(x)` on
//! object pixels: `w_c` balances the two classes (each class carries half of the image's
//! weight), `d1` and `d2` are the distances to the nearest and the second-nearest object. The
//! border term is large only in the thin background gaps between objects that almost touch, so
//! a network trained with it learns to keep those gaps, and the connected components of its
//! output are the objects.

/// The paper's border weight `w0`.
pub const PAPER_W0: f32 = 10.0;
/// The paper's border width `σ`, in pixels.
pub const PAPER_SIGMA: f32 = 5.0;

/// Exact 1-D squared distance transform of the sampled function `f` (Felzenszwalb and
/// Huttenlocher 2012): `out[q] = min_p (q − p)² + f[p]`. `f` may hold `f32::INFINITY`.
fn distance_1d(f: &[f32], out: &mut [f32], v: &mut [usize], z: &mut [f64]) {
    let mut k = 0usize;
    // The first finite sample starts the lower envelope; none: all infinite.
    let Some(first) = f.iter().position(|x| x.is_finite()) else {
        out.fill(f32::INFINITY);
        return;
    };
    v[0] = first;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    for q in first + 1..f.len() {
        if !f[q].is_finite() {
            continue;
        }
        // z[0] = −∞, so the envelope never loses its first parabola here.
        let s = loop {
            let p = v[k];
            // In f64: the squares of large coordinates lose too much in f32.
            let s = ((f[q] as f64 + (q * q) as f64) - (f[p] as f64 + (p * p) as f64))
                / (2.0 * (q - p) as f64);
            if s <= z[k] {
                k -= 1;
            } else {
                break s;
            }
        };
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = f64::INFINITY;
    }
    k = 0;
    for (q, value) in out.iter_mut().enumerate() {
        while z[k + 1] < q as f64 {
            k += 1;
        }
        let p = v[k];
        let d = q as f32 - p as f32;
        *value = d * d + f[p];
    }
}

/// Exact Euclidean distance from every pixel to the nearest pixel where `target` is true
/// (0 on them; `f32::INFINITY` everywhere when there is none), row-major `height × width`.
pub fn distance_transform(target: &[bool], height: usize, width: usize) -> Vec<f32> {
    assert_eq!(target.len(), height * width, "mask of height × width");
    let mut grid: Vec<f32> = target
        .iter()
        .map(|&t| if t { 0.0 } else { f32::INFINITY })
        .collect();
    let side = height.max(width);
    let (mut f, mut out) = (vec![0f32; side], vec![0f32; side]);
    let (mut v, mut z) = (vec![0usize; side], vec![0f64; side + 1]);
    // Columns, then rows.
    for x in 0..width {
        for y in 0..height {
            f[y] = grid[y * width + x];
        }
        distance_1d(&f[..height], &mut out[..height], &mut v, &mut z);
        for y in 0..height {
            grid[y * width + x] = out[y];
        }
    }
    for y in 0..height {
        f[..width].copy_from_slice(&grid[y * width..(y + 1) * width]);
        distance_1d(&f[..width], &mut out[..width], &mut v, &mut z);
        grid[y * width..(y + 1) * width].copy_from_slice(&out[..width]);
    }
    grid.iter_mut().for_each(|d| *d = d.sqrt());
    grid
}

/// The weight map of an instance-label image (0 = background, other values = object ids),
/// row-major `height × width`, with border weight `w0` and width `sigma` (pixels). With
/// `w0 = 0` it is the class-balance term alone.
pub fn unet_weight_map(
    instances: &[u32],
    height: usize,
    width: usize,
    w0: f32,
    sigma: f32,
) -> Vec<f32> {
    assert_eq!(instances.len(), height * width, "labels of height × width");
    let pixels = instances.len().max(1) as f32;
    let foreground = instances.iter().filter(|&&id| id != 0).count() as f32;
    // Each class carries half the weight; a class absent from the image gets weight 1.
    let class_weight = |fraction: f32| {
        if fraction > 0.0 {
            (0.5 / fraction).clamp(0.1, 10.0)
        } else {
            1.0
        }
    };
    let (w_fg, w_bg) = (
        class_weight(foreground / pixels),
        class_weight(1.0 - foreground / pixels),
    );
    let mut weights: Vec<f32> = instances
        .iter()
        .map(|&id| if id != 0 { w_fg } else { w_bg })
        .collect();
    if w0 <= 0.0 || sigma <= 0.0 {
        return weights;
    }
    // Nearest and second-nearest object distance of each background pixel, each object's
    // distance computed in its bounding box widened by the reach of the border term.
    let mut ids: Vec<u32> = instances.iter().copied().filter(|&id| id != 0).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() < 2 {
        return weights;
    }
    let reach = (4.0 * sigma).ceil() as usize;
    let mut d1 = vec![f32::INFINITY; instances.len()];
    let mut d2 = vec![f32::INFINITY; instances.len()];
    for &id in &ids {
        let (mut top, mut left, mut bottom, mut right) = (height, width, 0, 0);
        for y in 0..height {
            for x in 0..width {
                if instances[y * width + x] == id {
                    top = top.min(y);
                    bottom = bottom.max(y);
                    left = left.min(x);
                    right = right.max(x);
                }
            }
        }
        let (y0, x0) = (top.saturating_sub(reach), left.saturating_sub(reach));
        let (y1, x1) = (
            (bottom + reach + 1).min(height),
            (right + reach + 1).min(width),
        );
        let (wh, ww) = (y1 - y0, x1 - x0);
        let window: Vec<bool> = (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (y, x)))
            .map(|(y, x)| instances[y * width + x] == id)
            .collect();
        let distance = distance_transform(&window, wh, ww);
        for y in 0..wh {
            for x in 0..ww {
                let p = (y + y0) * width + x + x0;
                let d = distance[y * ww + x];
                if d < d1[p] {
                    d2[p] = d1[p];
                    d1[p] = d;
                } else if d < d2[p] {
                    d2[p] = d;
                }
            }
        }
    }
    let two_sigma_sq = 2.0 * sigma * sigma;
    for (p, weight) in weights.iter_mut().enumerate() {
        if instances[p] == 0 && d2[p].is_finite() {
            let sum = d1[p] + d2[p];
            *weight += w0 * (-(sum * sum) / two_sigma_sq).exp();
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataRng;
    use rand::{RngExt, SeedableRng};

    fn brute_force(target: &[bool], height: usize, width: usize) -> Vec<f32> {
        (0..height * width)
            .map(|p| {
                let (y, x) = ((p / width) as f32, (p % width) as f32);
                target
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| **t)
                    .map(|(q, _)| {
                        let (qy, qx) = ((q / width) as f32, (q % width) as f32);
                        ((y - qy).powi(2) + (x - qx).powi(2)).sqrt()
                    })
                    .fold(f32::INFINITY, f32::min)
            })
            .collect()
    }

    #[test]
    fn the_distance_transform_is_exact_on_random_masks() {
        let mut rng = DataRng::seed_from_u64(11);
        for case in 0..40 {
            let (h, w) = (rng.random_range(1..24), rng.random_range(1..31));
            let density = [0.01, 0.05, 0.3, 0.9][case % 4];
            let target: Vec<bool> = (0..h * w).map(|_| rng.random_bool(density)).collect();
            let ours = distance_transform(&target, h, w);
            let truth = brute_force(&target, h, w);
            for (p, (a, b)) in ours.iter().zip(&truth).enumerate() {
                assert!(
                    (a == b) || (a - b).abs() <= 1e-4 * b.max(1.0),
                    "case {case} ({h}×{w}) pixel {p}: {a} vs {b}"
                );
            }
        }
        // No target at all: infinite everywhere.
        assert!(
            distance_transform(&[false; 6], 2, 3)
                .iter()
                .all(|d| d.is_infinite())
        );
    }

    #[test]
    fn the_border_weight_peaks_in_the_gap_between_two_touching_discs() {
        let (h, w) = (40, 60);
        // Two discs of radius 10 whose edges are 2 pixels apart, centres on row 20.
        let (c1, c2, r) = ((20.0f32, 18.0f32), (20.0f32, 41.0f32), 10.0f32);
        let labels: Vec<u32> = (0..h * w)
            .map(|p| {
                let (y, x) = ((p / w) as f32, (p % w) as f32);
                let inside = |(cy, cx): (f32, f32)| (y - cy).powi(2) + (x - cx).powi(2) <= r * r;
                if inside(c1) {
                    1
                } else if inside(c2) {
                    2
                } else {
                    0
                }
            })
            .collect();
        let map = unet_weight_map(&labels, h, w, PAPER_W0, PAPER_SIGMA);
        let (argmax, max) =
            map.iter().enumerate().fold(
                (0, f32::MIN),
                |(i, m), (j, &v)| if v > m { (j, v) } else { (i, m) },
            );
        let (y, x) = (argmax / w, argmax % w);
        assert_eq!(labels[argmax], 0, "the maximum is on background");
        assert!(
            (28..=31).contains(&x) && (18..=22).contains(&y),
            "max at ({y}, {x})"
        );
        // Gap pixels: w_c + nearly w0 (d1 + d2 = gap width); far background: w_c only.
        let background = map[2 * w + 2];
        assert!(max > background + 0.5 * PAPER_W0, "{max} vs {background}");
        // Without the border term the map is the class balance alone: two values.
        let balance = unet_weight_map(&labels, h, w, 0.0, PAPER_SIGMA);
        let mut values: Vec<f32> = balance.clone();
        values.sort_by(f32::total_cmp);
        values.dedup();
        assert_eq!(values.len(), 2);
        let mean = balance.iter().sum::<f32>() / balance.len() as f32;
        assert!(
            (mean - 1.0).abs() < 1e-4,
            "balanced weights average 1: {mean}"
        );
        // One object: no border term.
        let single: Vec<u32> = labels.iter().map(|&l| u32::from(l == 1)).collect();
        assert_eq!(
            unet_weight_map(&single, h, w, PAPER_W0, PAPER_SIGMA),
            unet_weight_map(&single, h, w, 0.0, PAPER_SIGMA)
        );
    }
}
