//! Batch normalization in a few passes over the data.
//!
//! Input `x: [batch, channels, ...]` (any rank ≥ 2), statistics and affine
//! parameters `[channels]`. A channel's values are `batch` contiguous runs of
//! `plane = Π spatial dims` elements, so every pass walks memory in order:
//!
//! - inference (`batch_norm`): one pass, `y = (x − mean) · scale + β` with
//!   `scale = γ / √(var + ε)` (centring first keeps the precision of inputs far
//!   from zero with a small variance);
//! - training (`batch_norm_train`): one pass for the statistics (sum and sum of
//!   squares per channel, accumulated in f64), one for the output;
//! - its backward (`batch_norm_train_backward`): one pass for the two reductions
//!   `Σ dy` and `Σ dy · x̂`, one for `dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy · x̂))`.
//!
//! Burn's generic formulations run the same mathematics through transposed
//! copies and about a dozen element-wise operations.

use alloc::vec;
use alloc::vec::Vec;
use burn_std::Shape;
use num_traits::ToPrimitive;

use crate::FlexTensor;
use crate::ops::conv2d_gemm::{GemmFloat, new_tensor};

/// Where a channel's values lie: `batch` runs of `plane` elements, `channels`
/// planes apart.
#[derive(Debug, Clone, Copy)]
struct ChannelLayout {
    batch: usize,
    channels: usize,
    plane: usize,
}

impl ChannelLayout {
    fn of(shape: &Shape) -> Self {
        assert!(
            shape.num_dims() >= 2,
            "batch_norm: input must have a channel dimension, got {:?}",
            shape
        );
        let (batch, channels) = (shape[0], shape[1]);
        let plane = shape
            .num_elements()
            .checked_div(batch * channels)
            .unwrap_or(0);
        Self {
            batch,
            channels,
            plane,
        }
    }

    /// Values per channel.
    fn count(&self) -> usize {
        self.batch * self.plane
    }

    /// The runs of channel `c`.
    fn runs<'a, T>(&self, data: &'a [T], c: usize) -> impl Iterator<Item = &'a [T]> + 'a {
        let (channels, plane) = (self.channels, self.plane);
        (0..self.batch).map(move |b| &data[(b * channels + c) * plane..][..plane])
    }
}

fn per_channel<T: GemmFloat>(t: FlexTensor, channels: usize, what: &str) -> Vec<T> {
    let t = t.into_contiguous();
    let v: &[T] = t.storage();
    assert_eq!(
        v.len(),
        channels,
        "batch_norm: {what} has {} values, expected one per channel ({channels})",
        v.len()
    );
    v.to_vec()
}

/// Run `f(plane_index, plane)` over every `(batch, channel)` plane of `out`
/// (plane `p` holds channel `p % channels`), in parallel when the tensor is large.
fn for_each_plane<T: Send>(
    out: &mut [T],
    layout: ChannelLayout,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if layout.plane == 0 {
        return;
    }
    #[cfg(feature = "rayon")]
    if out.len() >= crate::ops::PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        let min_planes = (4096 / layout.plane).max(1);
        out.par_chunks_mut(layout.plane)
            .with_min_len(min_planes)
            .enumerate()
            .for_each(|(p, plane)| f(p, plane));
        return;
    }
    for (p, plane) in out.chunks_mut(layout.plane).enumerate() {
        f(p, plane);
    }
}

/// Per-channel values computed by `f(channel)`, in parallel when the tensor is large.
fn map_channels<R: Send>(layout: ChannelLayout, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    #[cfg(feature = "rayon")]
    if layout.channels * layout.count() >= crate::ops::PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        return (0..layout.channels).into_par_iter().map(f).collect();
    }
    (0..layout.channels).map(f).collect()
}

/// `y = (x − mean[c]) · scale[c] + beta[c]` for every value of channel `c`.
fn normalize<T: GemmFloat>(
    x: FlexTensor,
    layout: ChannelLayout,
    mean: &[T],
    scale: &[T],
    beta: &[T],
) -> FlexTensor {
    // A contiguous tensor nobody else holds (an inference network's activations)
    // is normalised in place; a shared one is copied first (copy on write).
    let mut out = x.into_contiguous();
    for_each_plane(out.storage_mut::<T>(), layout, |p, plane| {
        let c = p % layout.channels;
        let (m, a, b) = (mean[c], scale[c], beta[c]);
        for v in plane.iter_mut() {
            *v = (*v - m) * a + b;
        }
    });
    out
}

/// `γ / √(var + ε)` per channel.
fn scales<T: GemmFloat>(gamma: &[T], variance: &[T], epsilon: f64) -> Vec<T> {
    gamma
        .iter()
        .zip(variance)
        .map(|(&g, &v)| g * inv_std(v, epsilon))
        .collect()
}

fn inv_std<T: GemmFloat>(variance: T, epsilon: f64) -> T {
    T::one() / (variance + T::from(epsilon).unwrap()).sqrt()
}

/// Inference batch norm with the given statistics, one pass.
pub(crate) fn batch_norm<T: GemmFloat>(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
) -> FlexTensor {
    let shape = x.layout().shape().clone();
    let layout = ChannelLayout::of(&shape);
    let c = layout.channels;
    let (gamma, beta) = (
        per_channel::<T>(gamma, c, "gamma"),
        per_channel::<T>(beta, c, "beta"),
    );
    let (mean, variance) = (
        per_channel::<T>(mean, c, "mean"),
        per_channel::<T>(variance, c, "variance"),
    );
    let scale = scales(&gamma, &variance, epsilon);
    normalize(x, layout, &mean, &scale, &beta)
}

/// Training batch norm: output, batch mean and biased batch variance.
pub(crate) fn batch_norm_train<T: GemmFloat>(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    epsilon: f64,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let shape = x.layout().shape().clone();
    let layout = ChannelLayout::of(&shape);
    let c = layout.channels;
    let (gamma, beta) = (
        per_channel::<T>(gamma, c, "gamma"),
        per_channel::<T>(beta, c, "beta"),
    );
    let x = x.into_contiguous();
    let data: &[T] = x.storage();

    // One pass per channel: Σx and Σx² in f64 (exact enough for f32 data that
    // E[x²] − E[x]² does not lose the variance to cancellation).
    let n = layout.count().max(1) as f64;
    let stats: Vec<(T, T)> = map_channels(layout, |ch| {
        let (mut sum, mut sum_sq) = (0.0f64, 0.0f64);
        for run in layout.runs(data, ch) {
            for &v in run {
                let v = wide(v);
                sum += v;
                sum_sq += v * v;
            }
        }
        let mean = sum / n;
        let variance = (sum_sq / n - mean * mean).max(0.0);
        (T::from(mean).unwrap(), T::from(variance).unwrap())
    });
    let mean: Vec<T> = stats.iter().map(|s| s.0).collect();
    let variance: Vec<T> = stats.iter().map(|s| s.1).collect();

    let scale = scales(&gamma, &variance, epsilon);
    let output = normalize(x, layout, &mean, &scale, &beta);
    (
        output,
        new_tensor(mean, Shape::new([c])),
        new_tensor(variance, Shape::new([c])),
    )
}

/// Gradients of [`batch_norm_train`]: input, γ and β.
pub(crate) fn batch_norm_train_backward<T: GemmFloat>(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    output_grad: FlexTensor,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let shape = x.layout().shape().clone();
    assert_eq!(
        output_grad.layout().shape(),
        &shape,
        "batch_norm backward: output gradient shape differs from the input's"
    );
    let layout = ChannelLayout::of(&shape);
    let c = layout.channels;
    let gamma = per_channel::<T>(gamma, c, "gamma");
    let (mean, variance) = (
        per_channel::<T>(mean, c, "mean"),
        per_channel::<T>(variance, c, "variance"),
    );
    let inv: Vec<T> = variance.iter().map(|&v| inv_std(v, epsilon)).collect();
    let (x, output_grad) = (x.into_contiguous(), output_grad.into_contiguous());
    let (xs, dys): (&[T], &[T]) = (x.storage(), output_grad.storage());

    // One pass per channel: Σ dy and Σ dy · (x − mean), accumulated in f64.
    let sums: Vec<(f64, f64)> = map_channels(layout, |ch| {
        let m = wide(mean[ch]);
        let (mut sum_dy, mut sum_dy_xc) = (0.0f64, 0.0f64);
        for (xr, dr) in layout.runs(xs, ch).zip(layout.runs(dys, ch)) {
            for (&xv, &dv) in xr.iter().zip(dr) {
                let dv = wide(dv);
                sum_dy += dv;
                sum_dy_xc += dv * (wide(xv) - m);
            }
        }
        (sum_dy, sum_dy_xc)
    });
    let n = layout.count().max(1) as f64;
    let beta_grad: Vec<T> = sums.iter().map(|s| T::from(s.0).unwrap()).collect();
    // Σ dy · x̂ = inv_std · Σ dy · (x − mean)
    let gamma_grad: Vec<T> = (0..c)
        .map(|i| T::from(sums[i].1 * wide(inv[i])).unwrap())
        .collect();

    // dx = γ·inv · (dy − Σdy/n − x̂ · Σ(dy·x̂)/n) with x̂ = (x − mean)·inv, written
    // per channel as dx = a·dy + b·(x − mean) + d.
    let coefficients: Vec<[T; 4]> = (0..c)
        .map(|i| {
            let inv_f = wide(inv[i]);
            let g_inv = wide(gamma[i]) * inv_f;
            let b = -g_inv * inv_f * inv_f * sums[i].1 / n;
            let d = -g_inv * sums[i].0 / n;
            let to = |v: f64| T::from(v).unwrap();
            [to(g_inv), to(b), to(d), mean[i]]
        })
        .collect();
    let mut dx = vec![T::zero(); dys.len()];
    let plane = layout.plane;
    for_each_plane(&mut dx, layout, |p, dx_plane| {
        let [a, b, d, m] = coefficients[p % c];
        let (x_plane, dy_plane) = (&xs[p * plane..][..plane], &dys[p * plane..][..plane]);
        for ((out, &xv), &dv) in dx_plane.iter_mut().zip(x_plane).zip(dy_plane) {
            *out = a * dv + b * (xv - m) + d;
        }
    });
    (
        new_tensor(dx, shape),
        new_tensor(gamma_grad, Shape::new([c])),
        new_tensor(beta_grad, Shape::new([c])),
    )
}

/// A value in f64, the precision the per-channel sums accumulate in.
fn wide<T: ToPrimitive>(v: T) -> f64 {
    ToPrimitive::to_f64(&v).expect("float values convert to f64")
}

#[cfg(test)]
mod tests {
    //! Against the textbook formulas evaluated in f64, through the backend's public hooks.
    use super::*;
    use crate::Flex;
    use burn_backend::TensorData;
    use burn_backend::ops::ModuleOps;

    fn values(seed: u64, count: usize, scale: f32, offset: f32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
        (0..count)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0) * scale + offset
            })
            .collect()
    }

    fn tensor(data: Vec<f32>, shape: &[usize]) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(data, shape.to_vec()))
    }

    fn read(t: FlexTensor) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn assert_close(what: &str, got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}: lengths differ");
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let diff = got
            .iter()
            .zip(want)
            .fold(0.0f64, |m, (&a, &b)| m.max((a as f64 - b).abs()));
        assert!(
            diff <= 1e-5 * scale,
            "{what}: max |Δ| = {diff:e} (largest value {scale})"
        );
    }

    /// Channel of every element of a `[batch, channels, plane...]` tensor.
    fn channel_of(shape: &[usize], i: usize) -> usize {
        let plane: usize = shape[2..].iter().product();
        (i / plane) % shape[1]
    }

    #[test]
    fn training_statistics_output_and_gradients_match_the_formulas() {
        let eps = 1e-5;
        for (seed, shape) in [
            vec![4, 3, 5, 5],
            vec![2, 16, 32, 32], // large enough to run on several threads
            vec![7, 5],          // rank 2 (BatchNorm1d)
            vec![3, 4, 9],       // rank 3
            vec![1, 2, 1, 1],    // one value... per sample: a two-value channel
        ]
        .into_iter()
        .enumerate()
        {
            let seed = seed as u64 * 10;
            let n = shape.iter().product::<usize>();
            let c = shape[1];
            let count = (n / c) as f64;
            // Per-channel offsets far from zero and a wide spread.
            let x = values(seed, n, 3.0, 20.0);
            let gamma = values(seed + 1, c, 1.0, 0.5);
            let beta = values(seed + 2, c, 1.0, 0.0);
            let dy = values(seed + 3, n, 1.0, 0.1);

            let mut mean = vec![0.0f64; c];
            for (i, &v) in x.iter().enumerate() {
                mean[channel_of(&shape, i)] += v as f64 / count;
            }
            let mut var = vec![0.0f64; c];
            for (i, &v) in x.iter().enumerate() {
                let ch = channel_of(&shape, i);
                var[ch] += (v as f64 - mean[ch]).powi(2) / count;
            }
            let inv: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
            let xhat: Vec<f64> = (0..n)
                .map(|i| {
                    let ch = channel_of(&shape, i);
                    (x[i] as f64 - mean[ch]) * inv[ch]
                })
                .collect();
            let y: Vec<f64> = (0..n)
                .map(|i| {
                    let ch = channel_of(&shape, i);
                    xhat[i] * gamma[ch] as f64 + beta[ch] as f64
                })
                .collect();
            let (mut dbeta, mut dgamma) = (vec![0.0f64; c], vec![0.0f64; c]);
            for i in 0..n {
                let ch = channel_of(&shape, i);
                dbeta[ch] += dy[i] as f64;
                dgamma[ch] += dy[i] as f64 * xhat[i];
            }
            let dx: Vec<f64> = (0..n)
                .map(|i| {
                    let ch = channel_of(&shape, i);
                    gamma[ch] as f64
                        * inv[ch]
                        * (dy[i] as f64 - dbeta[ch] / count - xhat[i] * dgamma[ch] / count)
                })
                .collect();

            let label = format!("{shape:?}");
            let train = Flex::batch_norm_train(
                tensor(x.clone(), &shape),
                tensor(gamma.clone(), &[c]),
                tensor(beta.clone(), &[c]),
                eps,
            );
            assert_close(&format!("{label} output"), &read(train.output), &y);
            assert_close(&format!("{label} mean"), &read(train.mean.clone()), &mean);
            assert_close(
                &format!("{label} variance"),
                &read(train.variance.clone()),
                &var,
            );
            let grads = Flex::batch_norm_train_backward(
                tensor(x.clone(), &shape),
                tensor(gamma.clone(), &[c]),
                train.mean,
                train.variance,
                eps,
                tensor(dy.clone(), &shape),
            );
            assert_close(&format!("{label} x gradient"), &read(grads.x_grad), &dx);
            assert_close(
                &format!("{label} gamma gradient"),
                &read(grads.gamma_grad),
                &dgamma,
            );
            assert_close(
                &format!("{label} beta gradient"),
                &read(grads.beta_grad),
                &dbeta,
            );

            // Inference with the batch's own statistics gives the training output.
            let inference = Flex::batch_norm(
                tensor(x, &shape),
                tensor(gamma, &[c]),
                tensor(beta, &[c]),
                tensor(mean.iter().map(|&v| v as f32).collect(), &[c]),
                tensor(var.iter().map(|&v| v as f32).collect(), &[c]),
                eps,
            );
            assert_close(&format!("{label} inference"), &read(inference), &y);
        }
    }

    #[test]
    fn normalising_in_place_leaves_shared_and_strided_inputs_intact() {
        use burn_backend::ops::FloatTensorOps;
        let (shape, c, eps) = ([2, 3, 4, 4], 3, 1e-5);
        let x = values(7, 96, 2.0, 1.0);
        let stats = |seed| tensor(values(seed, c, 0.5, 1.0), &[c]);
        let run = |input: FlexTensor| {
            read(Flex::batch_norm(
                input,
                stats(1),
                stats(2),
                stats(3),
                stats(4),
                eps,
            ))
        };
        let expected = run(tensor(x.clone(), &shape));

        // A second handle on the same storage: the caller's values must survive.
        let shared = tensor(x.clone(), &shape);
        assert_eq!(run(shared.clone()), expected);
        assert_eq!(read(shared), x);
        let train_input = tensor(x.clone(), &shape);
        let _ = Flex::batch_norm_train(train_input.clone(), stats(1), stats(2), eps);
        assert_eq!(read(train_input), x);

        // A transposed view (not contiguous) gives the same values as its copy.
        let swapped = Flex::float_swap_dims(tensor(x.clone(), &shape), 2, 3);
        let copy = tensor(read(swapped.clone()), &shape);
        assert_eq!(run(swapped), run(copy));
    }

    #[test]
    fn half_precision_keeps_its_dtype() {
        use burn_std::f16;
        let x: Vec<f16> = values(1, 2 * 3 * 4, 1.0, 0.0)
            .into_iter()
            .map(f16::from_f32)
            .collect();
        let ones = vec![f16::from_f32(1.0); 3];
        let zeros = vec![f16::from_f32(0.0); 3];
        let t = |v: Vec<f16>, s: &[usize]| FlexTensor::from_data(TensorData::new(v, s.to_vec()));
        let train = Flex::batch_norm_train(t(x, &[2, 3, 4]), t(ones, &[3]), t(zeros, &[3]), 1e-5);
        assert_eq!(train.output.dtype(), burn_backend::DType::F16);
        assert_eq!(train.mean.dtype(), burn_backend::DType::F16);
        let out: Vec<f32> = train
            .output
            .into_data()
            .try_to_vec::<f16>()
            .unwrap()
            .iter()
            .map(|h| f32::from(*h))
            .collect();
        // Normalised: each channel's 8 values have mean ≈ 0.
        for ch in 0..3 {
            let sum: f32 = (0..2)
                .flat_map(|b| (0..4).map(move |i| (b * 3 + ch) * 4 + i))
                .map(|i| out[i])
                .sum();
            assert!(sum.abs() < 0.02, "channel {ch}: sum {sum}");
        }
    }
}
