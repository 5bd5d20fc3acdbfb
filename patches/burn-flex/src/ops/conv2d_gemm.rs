//! 2D convolution and its gradients as GEMMs over NCHW column buffers.
//!
//! Each `(batch item, group)` pair unfolds its input window into a column
//! buffer `col: [k = channels_per_group * kernel_h * kernel_w, s = out_h * out_w]`
//! (row-major, one row per kernel tap). With the weight read as it is stored,
//! `w_g: [out_channels_per_group, k]`, the three operations are one GEMM each:
//!
//! - forward:         `y_g  = w_g · col`, written straight into the NCHW output;
//! - input gradient:  `col' = w_gᵀ · dy_g`, folded back onto the input (col2im);
//! - weight gradient: `dw_g += dy_g · colᵀ`, summed over the batch.
//!
//! Stride-1 convolutions with short output rows unfold from a zero-bordered copy
//! of the input instead, one contiguous copy per kernel tap, with output rows
//! `padded_w` apart (see [`conv2d`]); their gradients use the same layout, the
//! output gradient spread to padded rows and col2im one contiguous add per tap.
//!
//! No layout conversion is needed on either side (NCHW in, NCHW out), and the
//! gradients avoid the transposed convolution and batch/channel-swapped
//! convolution that Burn's generic backward passes compose. A 1×1 kernel with
//! stride 1 and no padding uses the input itself as its column buffer.
//!
//! Work is split over the batch: each rayon task owns its column buffer and
//! calls a single-threaded GEMM; with fewer batch items than threads the GEMM
//! itself runs on rayon instead. The weight gradient sums fixed-size batch
//! chunks in chunk order, so results do not depend on scheduling.
//!
//! Asymmetric padding is handled by the geometry itself (only the leading
//! padding moves the window; the output size comes from the output tensor),
//! so no padded copy of the input is made.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::ConvOptions;
use burn_backend::ops::conv::calculate_conv_output_size_asymmetric;
use burn_std::{Bytes, Shape};
use num_traits::Float;

use crate::{FlexTensor, Layout};

/// Element types the GEMM path computes in (f32 and f64; half types are
/// widened to f32 by the callers).
pub(crate) trait GemmFloat:
    Float + bytemuck::Pod + burn_backend::Element + Send + Sync + 'static
{
}
impl GemmFloat for f32 {}
impl GemmFloat for f64 {}

/// Batch items summed into one partial weight gradient before the partials
/// are added in order. Fixed, so the summation order never depends on the
/// number of threads or on scheduling.
const WEIGHT_GRAD_CHUNK: usize = 8;

/// Widest output row unfolded on row-padded planes
/// ([`Conv2dGeometry::is_row_padded`]). Chosen by timing the forward pass on the
/// 3×3 convolutions of CIFAR and ImageNet ResNets (8- to 56-wide rows): at 56 the
/// row-by-row unfolding was as fast or faster.
const ROW_PADDED_MAX_WIDTH: usize = 32;

/// Shapes and options of one 2D convolution, as the GEMM formulation sees them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conv2dGeometry {
    batch: usize,
    channels_in: usize,
    in_h: usize,
    in_w: usize,
    channels_out: usize,
    kernel_h: usize,
    kernel_w: usize,
    out_h: usize,
    out_w: usize,
    stride: [usize; 2],
    /// Leading padding (top, left); trailing padding only shows in `out_h`/`out_w`.
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
}

impl Conv2dGeometry {
    /// Geometry of `conv2d(x: [batch, channels_in, in_h, in_w], weight: [channels_out,
    /// channels_in / groups, kernel_h, kernel_w])`; the output size follows the
    /// (possibly asymmetric) padding.
    pub(crate) fn new(x_shape: &Shape, w_shape: &Shape, options: &ConvOptions<2>) -> Self {
        assert_eq!(x_shape.num_dims(), 4, "conv2d: input must be rank 4");
        assert_eq!(w_shape.num_dims(), 4, "conv2d: weight must be rank 4");
        let groups = options.groups;
        assert!(
            groups > 0
                && x_shape[1].is_multiple_of(groups)
                && w_shape[0].is_multiple_of(groups)
                && w_shape[1] * groups == x_shape[1],
            "conv2d: input channels {} and weight {:?} do not match groups {}",
            x_shape[1],
            w_shape,
            groups
        );
        let out = |dim: usize| {
            calculate_conv_output_size_asymmetric(
                w_shape[2 + dim],
                options.stride[dim],
                options.padding[dim],
                options.dilation[dim],
                x_shape[2 + dim],
            )
        };
        Self {
            batch: x_shape[0],
            channels_in: x_shape[1],
            in_h: x_shape[2],
            in_w: x_shape[3],
            channels_out: w_shape[0],
            kernel_h: w_shape[2],
            kernel_w: w_shape[3],
            out_h: out(0),
            out_w: out(1),
            stride: options.stride,
            padding: options.padding_begin(),
            dilation: options.dilation,
            groups,
        }
    }

    fn in_per_group(&self) -> usize {
        self.channels_in / self.groups
    }

    fn out_per_group(&self) -> usize {
        self.channels_out / self.groups
    }

    /// Rows of a column buffer: one per (input channel of the group, kernel tap).
    fn col_rows(&self) -> usize {
        self.in_per_group() * self.kernel_h * self.kernel_w
    }

    fn in_plane(&self) -> usize {
        self.in_h * self.in_w
    }

    fn out_plane(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Values in one column buffer (none for a pointwise convolution, whose input
    /// is its own column buffer).
    fn col_len(&self) -> usize {
        if self.is_pointwise() {
            0
        } else {
            self.col_rows() * self.out_plane()
        }
    }

    /// A 1×1 kernel at stride 1 without padding: the input is its own column buffer.
    fn is_pointwise(&self) -> bool {
        self.kernel_h == 1
            && self.kernel_w == 1
            && self.stride == [1, 1]
            && self.padding == [0, 0]
            && self.out_h == self.in_h
            && self.out_w == self.in_w
    }

    /// Whether the three operations run on row-padded planes (see [`conv2d`]): stride 1,
    /// not pointwise (a pointwise convolution needs no unfolding at all), and short
    /// output rows (at most [`ROW_PADDED_MAX_WIDTH`]) that the padding widens by at
    /// most a quarter. Short rows are where unfolding row by row costs most per
    /// value; on long rows it is cheap and the wider GEMM would not pay.
    fn is_row_padded(&self) -> bool {
        self.stride == [1, 1]
            && !self.is_pointwise()
            && self.out_h > 0
            && self.out_w > 0
            && self.out_w <= ROW_PADDED_MAX_WIDTH
            && 4 * (self.kernel_w - 1) * self.dilation[1] <= self.out_w
    }

    /// Width of a zero-padded input row, `out_w + (kernel_w - 1) · dilation_w` at stride 1.
    fn padded_w(&self) -> usize {
        self.out_w + (self.kernel_w - 1) * self.dilation[1]
    }

    /// Height of a zero-padded input plane, `out_h + (kernel_h - 1) · dilation_h` at stride 1.
    fn padded_h(&self) -> usize {
        self.out_h + (self.kernel_h - 1) * self.dilation[0]
    }

    /// Columns of the row-padded GEMM: output rows `padded_w` apart, rounded up to
    /// a multiple of 16 so the GEMM's row blocks stay whole. The columns past
    /// `out_w` in each row are computed and thrown away.
    fn padded_positions(&self) -> usize {
        ((self.out_h - 1) * self.padded_w() + self.out_w).next_multiple_of(16)
    }

    /// Values of one padded input group, `[in_per_group, padded_h, padded_w]`, plus
    /// the slack the rounded-up last GEMM columns read.
    fn padded_input_len(&self) -> usize {
        let exact = (self.out_h - 1) * self.padded_w() + self.out_w;
        self.in_per_group() * self.padded_h() * self.padded_w() + self.padded_positions() - exact
    }

    /// Scratch values one task needs: on the row-padded path a padded input group,
    /// a column buffer `[col_rows, padded_positions]` and a padded output group
    /// `[out_per_group, padded_positions]` (each operation uses all three);
    /// otherwise the column buffer alone.
    fn scratch_len(&self) -> usize {
        if self.is_row_padded() {
            let n = self.padded_positions();
            self.padded_input_len() + self.col_rows() * n + self.out_per_group() * n
        } else {
            self.col_len()
        }
    }

    /// Every input row of one group, as `(start in x, start in xpad)`, `x:
    /// [in_per_group, in_h, in_w]` and `xpad: [in_per_group, padded_h, padded_w]`;
    /// [`padded_row_len`](Self::padded_row_len) values each.
    fn input_rows(&self) -> impl Iterator<Item = (usize, usize)> + use<> {
        let (wp, hp) = (self.padded_w(), self.padded_h());
        let [ph, pw] = self.padding;
        let rows = self.in_h.min(hp.saturating_sub(ph));
        let (in_plane, in_w) = (self.in_plane(), self.in_w);
        (0..self.in_per_group()).flat_map(move |c| {
            (0..rows).map(move |y| (c * in_plane + y * in_w, c * hp * wp + (y + ph) * wp + pw))
        })
    }

    /// Values of an input row that lie inside its padded row.
    fn padded_row_len(&self) -> usize {
        self.in_w
            .min(self.padded_w().saturating_sub(self.padding[1]))
    }

    /// Every output row of `channels` channels, as `(start in y, start in ypad)`,
    /// `y: [channels, out_h, out_w]` and `ypad: [channels, padded_positions]`;
    /// `out_w` values each.
    fn output_rows(&self, channels: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
        let (n, wp, ow, plane, oh) = (
            self.padded_positions(),
            self.padded_w(),
            self.out_w,
            self.out_plane(),
            self.out_h,
        );
        (0..channels)
            .flat_map(move |o| (0..oh).map(move |oy| (o * plane + oy * ow, o * n + oy * wp)))
    }

    /// Copy one group of one batch item, `x: [in_per_group, in_h, in_w]`, into the
    /// interior of `xpad: [in_per_group, padded_h, padded_w]`. The border is left
    /// as it is: zero from allocation, and never written.
    fn pad_rows<T: GemmFloat>(&self, x: &[T], xpad: &mut [T]) {
        let len = self.padded_row_len();
        for (plain, padded) in self.input_rows() {
            xpad[padded..][..len].copy_from_slice(&x[plain..][..len]);
        }
    }

    /// Fill `col: [col_rows, padded_positions]` from a padded input group: the row
    /// of tap `(c, i, j)` is `xpad[c]` read from the tap's offset on, so column `q`
    /// of it is the input value under output position `q` (rows `padded_w` apart).
    fn unfold_padded<T: GemmFloat>(&self, xpad: &[T], col: &mut [T]) {
        let n = self.padded_positions();
        for (r, row) in col.chunks_mut(n).enumerate() {
            row.copy_from_slice(&xpad[self.tap_offset(r)..][..n]);
        }
    }

    /// Offset into a padded input group of the first value column buffer row `r`
    /// (input channel `c`, tap `(i, j)`) reads: `c · padded_h · padded_w + i · dh · padded_w + j · dw`.
    fn tap_offset(&self, r: usize) -> usize {
        let (kh, kw) = (self.kernel_h, self.kernel_w);
        let (c, i, j) = (r / (kh * kw), r / kw % kh, r % kw);
        let wp = self.padded_w();
        c * self.padded_h() * wp + i * self.dilation[0] * wp + j * self.dilation[1]
    }

    /// Copy the output rows of `ypad: [channels, padded_positions]` (rows
    /// `padded_w` apart) into `y: [channels, out_h, out_w]`, dropping the columns
    /// past `out_w`.
    fn crop_output_rows<T: GemmFloat>(&self, ypad: &[T], y: &mut [T]) {
        let ow = self.out_w;
        for (plain, padded) in self.output_rows(y.len() / self.out_plane()) {
            y[plain..][..ow].copy_from_slice(&ypad[padded..][..ow]);
        }
    }

    /// Copy `y: [channels, out_h, out_w]` into the output rows of `ypad: [channels,
    /// padded_positions]` (the adjoint of [`crop_output_rows`](Self::crop_output_rows)).
    /// The columns past `out_w` are left as they are: zero from allocation, and
    /// never written, so they add nothing to the GEMMs that read them.
    fn pad_output_rows<T: GemmFloat>(&self, y: &[T], ypad: &mut [T]) {
        let ow = self.out_w;
        for (plain, padded) in self.output_rows(y.len() / self.out_plane()) {
            ypad[padded..][..ow].copy_from_slice(&y[plain..][..ow]);
        }
    }

    /// Add every row of `col: [col_rows, padded_positions]` onto the padded input
    /// group at its tap's offset (the adjoint of [`unfold_padded`](Self::unfold_padded)).
    fn fold_padded<T: GemmFloat>(&self, col: &[T], xpad: &mut [T]) {
        let n = self.padded_positions();
        for (r, row) in col.chunks(n).enumerate() {
            for (d, &v) in xpad[self.tap_offset(r)..][..n].iter_mut().zip(row) {
                *d = *d + v;
            }
        }
    }

    /// Copy the interior of `xpad: [in_per_group, padded_h, padded_w]` into
    /// `x: [in_per_group, in_h, in_w]` (the adjoint of [`pad_rows`](Self::pad_rows);
    /// input values no output reads are left as they are).
    fn crop_rows<T: GemmFloat>(&self, xpad: &[T], x: &mut [T]) {
        let len = self.padded_row_len();
        for (plain, padded) in self.input_rows() {
            x[plain..][..len].copy_from_slice(&xpad[padded..][..len]);
        }
    }

    /// Range of output indices `o` along one axis whose input index
    /// `o * stride + tap * dilation - pad` lies in `[0, size)`.
    fn valid_range(
        out: usize,
        size: usize,
        stride: usize,
        pad: usize,
        tap_offset: usize,
    ) -> (usize, usize) {
        // input = o * stride + tap_offset - pad  ∈ [0, size)
        let lo = if pad > tap_offset {
            (pad - tap_offset).div_ceil(stride)
        } else {
            0
        };
        let hi = if size + pad > tap_offset {
            ((size + pad - tap_offset - 1) / stride + 1).min(out)
        } else {
            0
        };
        (lo.min(hi), hi)
    }

    /// Unfold one group of one batch item, `x: [in_per_group, in_h, in_w]`, into
    /// `col: [col_rows, out_plane]`. Out-of-input positions are zero.
    fn im2col<T: GemmFloat>(&self, x: &[T], col: &mut [T]) {
        let (kh, kw) = (self.kernel_h, self.kernel_w);
        let (out_h, out_w) = (self.out_h, self.out_w);
        let [sh, sw] = self.stride;
        let [ph, pw] = self.padding;
        let [dh, dw] = self.dilation;
        let plane = self.out_plane();
        for c in 0..self.in_per_group() {
            let x_c = &x[c * self.in_plane()..(c + 1) * self.in_plane()];
            for i in 0..kh {
                let (oy_lo, oy_hi) = Self::valid_range(out_h, self.in_h, sh, ph, i * dh);
                for j in 0..kw {
                    let row = &mut col[((c * kh + i) * kw + j) * plane..][..plane];
                    let (ox_lo, ox_hi) = Self::valid_range(out_w, self.in_w, sw, pw, j * dw);
                    row[..oy_lo * out_w].fill(T::zero());
                    row[oy_hi * out_w..].fill(T::zero());
                    for oy in oy_lo..oy_hi {
                        let iy = oy * sh + i * dh - ph;
                        let dst = &mut row[oy * out_w..(oy + 1) * out_w];
                        dst[..ox_lo].fill(T::zero());
                        dst[ox_hi..].fill(T::zero());
                        if ox_lo < ox_hi {
                            let x_row = &x_c[iy * self.in_w..(iy + 1) * self.in_w];
                            let ix0 = ox_lo * sw + j * dw - pw;
                            if sw == 1 {
                                dst[ox_lo..ox_hi]
                                    .copy_from_slice(&x_row[ix0..ix0 + (ox_hi - ox_lo)]);
                            } else {
                                for (k, d) in dst[ox_lo..ox_hi].iter_mut().enumerate() {
                                    *d = x_row[ix0 + k * sw];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Fold `col: [col_rows, out_plane]` back onto one group of one batch item,
    /// `dx: [in_per_group, in_h, in_w]`, adding every tap to the input position it
    /// read (the adjoint of [`im2col`](Self::im2col)). `dx` must start zeroed.
    fn col2im<T: GemmFloat>(&self, col: &[T], dx: &mut [T]) {
        let (kh, kw) = (self.kernel_h, self.kernel_w);
        let (out_h, out_w) = (self.out_h, self.out_w);
        let [sh, sw] = self.stride;
        let [ph, pw] = self.padding;
        let [dh, dw] = self.dilation;
        let plane = self.out_plane();
        for c in 0..self.in_per_group() {
            let dx_c = &mut dx[c * self.in_plane()..(c + 1) * self.in_plane()];
            for i in 0..kh {
                let (oy_lo, oy_hi) = Self::valid_range(out_h, self.in_h, sh, ph, i * dh);
                for j in 0..kw {
                    let row = &col[((c * kh + i) * kw + j) * plane..][..plane];
                    let (ox_lo, ox_hi) = Self::valid_range(out_w, self.in_w, sw, pw, j * dw);
                    if ox_lo >= ox_hi {
                        continue;
                    }
                    for oy in oy_lo..oy_hi {
                        let iy = oy * sh + i * dh - ph;
                        let src = &row[oy * out_w + ox_lo..oy * out_w + ox_hi];
                        let ix0 = ox_lo * sw + j * dw - pw;
                        let dx_row = &mut dx_c[iy * self.in_w..(iy + 1) * self.in_w];
                        if sw == 1 {
                            for (d, &s) in dx_row[ix0..ix0 + src.len()].iter_mut().zip(src) {
                                *d = *d + s;
                            }
                        } else {
                            for (k, &s) in src.iter().enumerate() {
                                let d = &mut dx_row[ix0 + k * sw];
                                *d = *d + s;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `dst[m, n] (+)= Σ_k lhs[m, k] · rhs[k, n]`, every operand addressed by
/// (row stride, column stride) in elements.
///
/// # Safety
/// Every index reached through the strides must lie inside its buffer, and `dst`
/// must not overlap `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_strided<T: GemmFloat>(
    [m, n, k]: [usize; 3],
    dst: *mut T,
    dst_rs: usize,
    accumulate: bool,
    lhs: *const T,
    [lhs_rs, lhs_cs]: [usize; 2],
    rhs: *const T,
    [rhs_rs, rhs_cs]: [usize; 2],
    parallel: bool,
) {
    #[cfg(feature = "rayon")]
    let parallelism = if parallel && m * n * k >= 64 * 64 * 64 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    #[cfg(not(feature = "rayon"))]
    let parallelism = {
        let _ = parallel;
        gemm::Parallelism::None
    };
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Run `work(item, out_item, col, parallel)` for every batch item, `out` split
/// into equal per-item chunks; in parallel over items when there are enough of
/// them. `col` is a scratch column buffer of `col_len` values, allocated once
/// per task rather than per item; `parallel` says whether the GEMMs inside may
/// use threads themselves.
fn for_each_item<T: GemmFloat, F>(out: &mut [T], items: usize, col_len: usize, work: F)
where
    F: Fn(usize, &mut [T], &mut [T], bool) + Sync + Send,
{
    if items == 0 || out.is_empty() {
        return;
    }
    let per_item = out.len() / items;
    // In parallel over items when there is at least one per thread (without rayon, one thread).
    #[cfg(feature = "rayon")]
    {
        let threads = rayon::current_num_threads();
        if items >= threads && threads > 1 {
            use rayon::prelude::*;
            out.par_chunks_mut(per_item).enumerate().for_each_init(
                || vec![T::zero(); col_len],
                |col, (b, chunk)| work(b, chunk, col, false),
            );
            return;
        }
    }
    let mut col = vec![T::zero(); col_len];
    for (b, chunk) in out.chunks_mut(per_item).enumerate() {
        work(b, chunk, &mut col, true);
    }
}

/// A contiguous tensor of `data` in `shape`, with `T`'s dtype.
pub(crate) fn new_tensor<T: GemmFloat>(data: Vec<T>, shape: Shape) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(shape),
        T::dtype(),
    )
}

/// Forward 2D convolution, `[batch, channels_out, out_h, out_w]`.
///
/// Stride-1 convolutions with short output rows ([`Conv2dGeometry::is_row_padded`])
/// unfold on row-padded planes: each input group is copied once into a
/// zero-bordered plane `[in_per_group, padded_h, padded_w]`; a kernel tap's row
/// of the column buffer is then one contiguous copy of that plane at the tap's
/// offset, with output positions `padded_w` apart instead of `out_w`. The GEMM
/// computes `padded_w - out_w` throw-away columns per output row, and the rows
/// are copied out of its result. This replaces one short copy and up to two
/// fills per (tap, output row) with one long copy per tap. Other convolutions
/// unfold row by row ([`Conv2dGeometry::im2col`]) and the GEMM writes straight
/// into the output.
pub(crate) fn conv2d<T: GemmFloat>(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let geo = Conv2dGeometry::new(x.layout().shape(), weight.layout().shape(), options);
    let (x, weight) = (x.into_contiguous(), weight.into_contiguous());
    let (x, w): (&[T], &[T]) = (x.storage(), weight.storage());
    let bias = bias.map(FlexTensor::into_contiguous);
    let bias: Option<&[T]> = bias.as_ref().map(|b| b.storage());

    let (cpg, opg, rows, plane) = (
        geo.in_per_group(),
        geo.out_per_group(),
        geo.col_rows(),
        geo.out_plane(),
    );
    let x_item = geo.channels_in * geo.in_plane();
    let mut out = vec![T::zero(); geo.batch * geo.channels_out * plane];
    if geo.is_row_padded() {
        let n = geo.padded_positions();
        for_each_item(
            &mut out,
            geo.batch,
            geo.scratch_len(),
            |b, y, scratch, parallel| {
                // xpad: the group's input inside a zero border; col: one shifted copy
                // of xpad per tap, [rows, n]; ypad: the GEMM's output, [opg, n].
                let (xpad, rest) = scratch.split_at_mut(geo.padded_input_len());
                let (col, ypad) = rest.split_at_mut(rows * n);
                for g in 0..geo.groups {
                    let x_g = &x[b * x_item + g * cpg * geo.in_plane()..][..cpg * geo.in_plane()];
                    geo.pad_rows(x_g, xpad);
                    if let Some(bias) = bias {
                        for (o, row) in ypad.chunks_mut(n).enumerate() {
                            row.fill(bias[g * opg + o]);
                        }
                    }
                    geo.unfold_padded(xpad, col);
                    // ypad[opg, n] (+)= w_g[opg, rows] · col[rows, n]
                    unsafe {
                        gemm_strided(
                            [opg, n, rows],
                            ypad.as_mut_ptr(),
                            n,
                            bias.is_some(),
                            w[g * opg * rows..].as_ptr(),
                            [rows, 1],
                            col.as_ptr(),
                            [n, 1],
                            parallel,
                        );
                    }
                    geo.crop_output_rows(ypad, &mut y[g * opg * plane..(g + 1) * opg * plane]);
                }
            },
        );
        return new_tensor(
            out,
            Shape::new([geo.batch, geo.channels_out, geo.out_h, geo.out_w]),
        );
    }
    for_each_item(&mut out, geo.batch, geo.col_len(), |b, y, col, parallel| {
        for g in 0..geo.groups {
            let x_g = &x[b * x_item + g * cpg * geo.in_plane()..][..cpg * geo.in_plane()];
            let col: &[T] = if geo.is_pointwise() {
                x_g
            } else {
                geo.im2col(x_g, col);
                col
            };
            let y_g = &mut y[g * opg * plane..(g + 1) * opg * plane];
            if let Some(bias) = bias {
                for (o, row) in y_g.chunks_mut(plane).enumerate() {
                    row.fill(bias[g * opg + o]);
                }
            }
            // y_g[opg, plane] (+)= w_g[opg, rows] · col[rows, plane]
            unsafe {
                gemm_strided(
                    [opg, plane, rows],
                    y_g.as_mut_ptr(),
                    plane,
                    bias.is_some(),
                    w[g * opg * rows..].as_ptr(),
                    [rows, 1],
                    col.as_ptr(),
                    [plane, 1],
                    parallel,
                );
            }
        }
    });
    new_tensor(
        out,
        Shape::new([geo.batch, geo.channels_out, geo.out_h, geo.out_w]),
    )
}

/// Gradient of a 2D convolution with respect to its input, `[batch, channels_in, in_h, in_w]`.
pub(crate) fn conv2d_x_backward<T: GemmFloat>(
    x_shape: &Shape,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let geo = Conv2dGeometry::new(x_shape, weight.layout().shape(), options);
    check_output_grad(&geo, output_grad.layout().shape());
    let (weight, output_grad) = (weight.into_contiguous(), output_grad.into_contiguous());
    let (w, dy): (&[T], &[T]) = (weight.storage(), output_grad.storage());

    let (cpg, opg, rows, plane) = (
        geo.in_per_group(),
        geo.out_per_group(),
        geo.col_rows(),
        geo.out_plane(),
    );
    let dy_item = geo.channels_out * plane;
    let mut dx = vec![T::zero(); geo.batch * geo.channels_in * geo.in_plane()];
    if geo.is_row_padded() {
        let n = geo.padded_positions();
        for_each_item(
            &mut dx,
            geo.batch,
            geo.scratch_len(),
            |b, dx_b, scratch, parallel| {
                // dxpad: the group's input gradient inside a border; col: [rows, n];
                // dypad: the output gradient with rows padded_w apart, [opg, n].
                let (dxpad, rest) = scratch.split_at_mut(geo.padded_input_len());
                let (col, dypad) = rest.split_at_mut(rows * n);
                for g in 0..geo.groups {
                    geo.pad_output_rows(&dy[b * dy_item + g * opg * plane..][..opg * plane], dypad);
                    // col[rows, n] = w_gᵀ[rows, opg] · dypad[opg, n]
                    unsafe {
                        gemm_strided(
                            [rows, n, opg],
                            col.as_mut_ptr(),
                            n,
                            false,
                            w[g * opg * rows..].as_ptr(),
                            [1, rows],
                            dypad.as_ptr(),
                            [n, 1],
                            parallel,
                        );
                    }
                    dxpad.fill(T::zero());
                    geo.fold_padded(col, dxpad);
                    geo.crop_rows(
                        dxpad,
                        &mut dx_b[g * cpg * geo.in_plane()..][..cpg * geo.in_plane()],
                    );
                }
            },
        );
        return new_tensor(dx, x_shape.clone());
    }
    for_each_item(
        &mut dx,
        geo.batch,
        geo.col_len(),
        |b, dx_b, col, parallel| {
            for g in 0..geo.groups {
                let dy_g = &dy[b * dy_item + g * opg * plane..][..opg * plane];
                let dx_g = &mut dx_b[g * cpg * geo.in_plane()..(g + 1) * cpg * geo.in_plane()];
                // col[rows, plane] = w_gᵀ[rows, opg] · dy_g[opg, plane]; a pointwise
                // convolution writes it straight into dx.
                let target = if geo.is_pointwise() {
                    dx_g.as_mut_ptr()
                } else {
                    col.as_mut_ptr()
                };
                unsafe {
                    gemm_strided(
                        [rows, plane, opg],
                        target,
                        plane,
                        false,
                        w[g * opg * rows..].as_ptr(),
                        [1, rows],
                        dy_g.as_ptr(),
                        [plane, 1],
                        parallel,
                    );
                }
                if !geo.is_pointwise() {
                    geo.col2im(col, dx_g);
                }
            }
        },
    );
    new_tensor(dx, x_shape.clone())
}

/// Gradient of a 2D convolution with respect to its weight, `[channels_out,
/// channels_in / groups, kernel_h, kernel_w]`.
pub(crate) fn conv2d_weight_backward<T: GemmFloat>(
    x: FlexTensor,
    w_shape: &Shape,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let geo = Conv2dGeometry::new(x.layout().shape(), w_shape, options);
    check_output_grad(&geo, output_grad.layout().shape());
    let (x, output_grad) = (x.into_contiguous(), output_grad.into_contiguous());
    let (x, dy): (&[T], &[T]) = (x.storage(), output_grad.storage());

    let (cpg, opg, rows, plane) = (
        geo.in_per_group(),
        geo.out_per_group(),
        geo.col_rows(),
        geo.out_plane(),
    );
    let x_item = geo.channels_in * geo.in_plane();
    let dy_item = geo.channels_out * plane;
    let w_len = geo.channels_out * rows;
    // Columns of the row-padded GEMM (unused on the row-by-row path).
    let np = if geo.is_row_padded() {
        geo.padded_positions()
    } else {
        0
    };

    // dw over the batch items of one chunk, accumulated in place.
    let chunk_grad =
        |items: core::ops::Range<usize>, dw: &mut [T], col: &mut [T], parallel: bool| {
            for (n, b) in items.enumerate() {
                for g in 0..geo.groups {
                    let x_g = &x[b * x_item + g * cpg * geo.in_plane()..][..cpg * geo.in_plane()];
                    let dy_g = &dy[b * dy_item + g * opg * plane..][..opg * plane];
                    if geo.is_row_padded() {
                        let (xpad, rest) = col.split_at_mut(geo.padded_input_len());
                        let (col, dypad) = rest.split_at_mut(rows * np);
                        geo.pad_rows(x_g, xpad);
                        geo.unfold_padded(xpad, col);
                        geo.pad_output_rows(dy_g, dypad);
                        // dw_g[opg, rows] += dypad[opg, np] · colᵀ[np, rows]
                        unsafe {
                            gemm_strided(
                                [opg, rows, np],
                                dw[g * opg * rows..].as_mut_ptr(),
                                rows,
                                n > 0,
                                dypad.as_ptr(),
                                [np, 1],
                                col.as_ptr(),
                                [1, np],
                                parallel,
                            );
                        }
                        continue;
                    }
                    let col: &[T] = if geo.is_pointwise() {
                        x_g
                    } else {
                        geo.im2col(x_g, col);
                        col
                    };
                    // dw_g[opg, rows] += dy_g[opg, plane] · colᵀ[plane, rows]
                    unsafe {
                        gemm_strided(
                            [opg, rows, plane],
                            dw[g * opg * rows..].as_mut_ptr(),
                            rows,
                            n > 0,
                            dy_g.as_ptr(),
                            [plane, 1],
                            col.as_ptr(),
                            [1, plane],
                            parallel,
                        );
                    }
                }
            }
        };

    let chunks = geo.batch.div_ceil(WEIGHT_GRAD_CHUNK).max(1);
    let mut partials = vec![T::zero(); chunks * w_len];
    let chunk_range =
        |c: usize| c * WEIGHT_GRAD_CHUNK..((c + 1) * WEIGHT_GRAD_CHUNK).min(geo.batch);
    for_each_item(
        &mut partials,
        chunks,
        geo.scratch_len(),
        |c, dw, col, parallel| chunk_grad(chunk_range(c), dw, col, parallel),
    );
    let (first, rest) = partials.split_at_mut(w_len);
    for partial in rest.chunks(w_len) {
        for (d, &p) in first.iter_mut().zip(partial) {
            *d = *d + p;
        }
    }
    partials.truncate(w_len);
    new_tensor(partials, w_shape.clone())
}

/// Gradient of a 2D convolution with respect to its bias, `[channels_out]`: the output
/// gradient summed over batch and space.
pub(crate) fn conv2d_bias_backward<T: GemmFloat>(output_grad: FlexTensor) -> FlexTensor {
    let shape = output_grad.layout().shape().clone();
    let (batch, channels) = (shape[0], shape[1]);
    let plane = shape.num_elements() / (batch * channels).max(1);
    let output_grad = output_grad.into_contiguous();
    let dy: &[T] = output_grad.storage();
    let mut grad = vec![T::zero(); channels];
    for b in 0..batch {
        for (c, g) in grad.iter_mut().enumerate() {
            let row = &dy[(b * channels + c) * plane..][..plane];
            *g = *g + row.iter().fold(T::zero(), |s, &v| s + v);
        }
    }
    new_tensor(grad, Shape::new([channels]))
}

fn check_output_grad(geo: &Conv2dGeometry, shape: &Shape) {
    assert!(
        shape.num_dims() == 4
            && shape[0] == geo.batch
            && shape[1] == geo.channels_out
            && shape[2] == geo.out_h
            && shape[3] == geo.out_w,
        "conv2d backward: output gradient {:?} does not match the convolution's output [{}, {}, {}, {}]",
        shape,
        geo.batch,
        geo.channels_out,
        geo.out_h,
        geo.out_w
    );
}

/// Whether a float dtype has a native GEMM path here (others go through f32).
pub(crate) fn is_gemm_dtype(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F64)
}

/// Whether a forward convolution goes through [`conv2d`] here rather than one
/// of flex's special-purpose kernels: every shape except canonical depthwise
/// convolutions and the few-channel filters (≤ 4 inputs, ≤ 16 outputs), which
/// have direct kernels of their own in `conv.rs`.
pub(crate) fn prefers_gemm_forward(x_shape: &Shape, w_shape: &Shape, groups: usize) -> bool {
    if x_shape.num_dims() != 4 || w_shape.num_dims() != 4 {
        return false;
    }
    let (channels_in, channels_out) = (x_shape[1], w_shape[0]);
    let depthwise = groups > 1 && w_shape[1] == 1 && channels_out == channels_in;
    let few_channels = groups == 1 && channels_in <= 4 && channels_out <= 16;
    !depthwise && !few_channels
}

#[cfg(test)]
mod tests {
    //! Every path against a direct f64 evaluation of the convolution sum and its
    //! two adjoints, through the backend's public `ModuleOps` hooks.
    use super::*;
    use crate::Flex;
    use burn_backend::TensorData;
    use burn_backend::ops::ModuleOps;

    /// Deterministic values in [-1, 1).
    fn values(seed: u64, count: usize) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
        (0..count)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn tensor(data: Vec<f32>, shape: &[usize]) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(data, shape.to_vec()))
    }

    fn read(t: FlexTensor) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    struct Case {
        x: [usize; 4],
        w: [usize; 4],
        options: ConvOptions<2>,
    }

    fn case(
        x: [usize; 4],
        w: [usize; 4],
        stride: [usize; 2],
        padding: [(usize, usize); 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Case {
        Case {
            x,
            w,
            options: ConvOptions::new_with_padding(stride, padding, dilation, groups),
        }
    }

    /// Output, input gradient, weight gradient and bias gradient of
    /// `Σ conv2d(x, w, b) · dy`, evaluated term by term in f64.
    fn reference(
        c: &Case,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        dy: &[f32],
        geo: &Conv2dGeometry,
    ) -> [Vec<f32>; 4] {
        let [batch, cin, h, wd] = c.x;
        let [cout, cpg, kh, kw] = c.w;
        let opg = cout / c.options.groups;
        let (oh, ow) = (geo.out_h, geo.out_w);
        let mut y = vec![0.0f64; batch * cout * oh * ow];
        let mut dx = vec![0.0f64; x.len()];
        let mut dw = vec![0.0f64; w.len()];
        let mut db = vec![0.0f64; cout];
        for b in 0..batch {
            for o in 0..cout {
                let g = o / opg;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let yi = ((b * cout + o) * oh + oy) * ow + ox;
                        let mut acc = bias[o] as f64;
                        let d = dy[yi] as f64;
                        db[o] += d;
                        for ci in 0..cpg {
                            let cc = g * cpg + ci;
                            for i in 0..kh {
                                for j in 0..kw {
                                    let iy = (oy * c.options.stride[0] + i * c.options.dilation[0])
                                        as isize
                                        - c.options.padding[0].0 as isize;
                                    let ix = (ox * c.options.stride[1] + j * c.options.dilation[1])
                                        as isize
                                        - c.options.padding[1].0 as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                        continue;
                                    }
                                    let xi = ((b * cin + cc) * h + iy as usize) * wd + ix as usize;
                                    let wi = ((o * cpg + ci) * kh + i) * kw + j;
                                    acc += x[xi] as f64 * w[wi] as f64;
                                    dx[xi] += w[wi] as f64 * d;
                                    dw[wi] += x[xi] as f64 * d;
                                }
                            }
                        }
                        y[yi] = acc;
                    }
                }
            }
        }
        [y, dx, dw, db].map(|v| v.into_iter().map(|v| v as f32).collect())
    }

    fn assert_close(what: &str, got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{what}: lengths differ");
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let diff = got
            .iter()
            .zip(want)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            diff <= 1e-5 * scale,
            "{what}: max |Δ| = {diff} (largest value {scale})"
        );
    }

    fn check(c: &Case, seed: u64) {
        let geo = geometry(c);
        let out_shape = [c.x[0], c.w[0], geo.out_h, geo.out_w];
        let x = values(seed, c.x.iter().product());
        let w = values(seed + 1, c.w.iter().product());
        let bias = values(seed + 2, c.w[0]);
        let dy = values(seed + 3, out_shape.iter().product());
        let [y_ref, dx_ref, dw_ref, db_ref] = reference(c, &x, &w, &bias, &dy, &geo);
        let label = format!("x {:?} w {:?} {:?}", c.x, c.w, c.options);

        let y = Flex::conv2d(
            tensor(x.clone(), &c.x),
            tensor(w.clone(), &c.w),
            Some(tensor(bias.clone(), &[c.w[0]])),
            c.options.clone(),
        );
        assert_eq!(y.layout().shape().to_vec(), out_shape.to_vec(), "{label}");
        assert_close(&format!("{label}: output"), &read(y), &y_ref);
        let dx = Flex::conv2d_x_backward(
            tensor(x.clone(), &c.x),
            tensor(w.clone(), &c.w),
            tensor(dy.clone(), &out_shape),
            c.options.clone(),
        );
        assert_close(&format!("{label}: input gradient"), &read(dx), &dx_ref);
        let dw = Flex::conv2d_weight_backward(
            tensor(x.clone(), &c.x),
            tensor(w.clone(), &c.w),
            tensor(dy.clone(), &out_shape),
            c.options.clone(),
        );
        assert_close(&format!("{label}: weight gradient"), &read(dw), &dw_ref);
        let db = Flex::conv2d_bias_backward(
            tensor(x, &c.x),
            tensor(bias, &[c.w[0]]),
            tensor(dy, &out_shape),
        );
        assert_close(&format!("{label}: bias gradient"), &read(db), &db_ref);
    }

    #[test]
    fn listed_shapes_match_the_direct_sum() {
        let p = |a, b| [(a, a), (b, b)];
        let cases = [
            // The CIFAR nets' stem: 3 → 16 channels, 3×3 (a few-channel forward kernel).
            case([8, 3, 32, 32], [16, 3, 3, 3], [1, 1], p(1, 1), [1, 1], 1),
            // ResNet 3×3, stride 1 and 2 (the CIFAR nets' downsampling).
            case([2, 16, 8, 8], [16, 16, 3, 3], [1, 1], p(1, 1), [1, 1], 1),
            case([3, 16, 9, 9], [32, 16, 3, 3], [2, 2], p(1, 1), [1, 1], 1),
            // stride 3, odd sizes, no padding.
            case([2, 5, 11, 7], [6, 5, 3, 3], [3, 3], p(0, 0), [1, 1], 1),
            // batch 1, 7×7 stem at stride 2.
            case([1, 3, 15, 13], [8, 3, 7, 7], [2, 2], p(3, 3), [1, 1], 1),
            case([1, 8, 15, 13], [8, 8, 7, 7], [2, 2], p(3, 3), [1, 1], 1),
            // 1×1: pointwise and strided projection.
            case([2, 12, 6, 6], [20, 12, 1, 1], [1, 1], p(0, 0), [1, 1], 1),
            case([2, 12, 7, 7], [20, 12, 1, 1], [2, 2], p(0, 0), [1, 1], 1),
            // groups (ResNeXt style) and depthwise.
            case([2, 8, 7, 7], [12, 2, 3, 3], [1, 1], p(1, 1), [1, 1], 4),
            case([2, 6, 7, 7], [6, 1, 3, 3], [1, 1], p(1, 1), [1, 1], 6),
            // dilation 2.
            case([2, 6, 10, 9], [5, 6, 3, 3], [1, 1], p(2, 2), [2, 2], 1),
            // asymmetric padding (TensorFlow "same" at stride 2).
            case(
                [2, 6, 8, 8],
                [7, 6, 3, 3],
                [2, 2],
                [(0, 1), (1, 2)],
                [1, 1],
                1,
            ),
            // non-square kernel and padding larger than the kernel reach.
            case([2, 6, 5, 8], [4, 6, 1, 5], [1, 2], p(0, 2), [1, 1], 1),
            case([1, 6, 3, 3], [4, 6, 3, 3], [1, 1], p(3, 3), [1, 1], 1),
        ];
        for (i, c) in cases.iter().enumerate() {
            check(c, 10 * i as u64);
        }
    }

    /// Stride-1 shapes that run on row-padded planes (forward and both gradients).
    fn row_padded_cases() -> Vec<Case> {
        let p = |a, b| [(a, a), (b, b)];
        vec![
            // The CIFAR nets' 3×3 convolutions at their three widths (reduced batch).
            case([2, 16, 32, 32], [16, 16, 3, 3], [1, 1], p(1, 1), [1, 1], 1),
            case([2, 32, 16, 16], [32, 32, 3, 3], [1, 1], p(1, 1), [1, 1], 1),
            case([3, 64, 8, 8], [64, 64, 3, 3], [1, 1], p(1, 1), [1, 1], 1),
            // batch 1, odd sizes, no padding.
            case([1, 5, 11, 13], [4, 5, 3, 3], [1, 1], p(0, 0), [1, 1], 1),
            // dilation 2.
            case([2, 6, 20, 24], [5, 6, 3, 3], [1, 1], p(2, 2), [2, 2], 1),
            // groups.
            case([2, 8, 12, 12], [12, 2, 3, 3], [1, 1], p(1, 1), [1, 1], 4),
            // asymmetric padding.
            case(
                [2, 6, 12, 16],
                [7, 6, 3, 3],
                [1, 1],
                [(0, 1), (2, 1)],
                [1, 1],
                1,
            ),
            // non-square and 5×5 kernels.
            case([2, 6, 5, 24], [4, 6, 1, 5], [1, 1], p(0, 2), [1, 1], 1),
            case([2, 4, 9, 20], [3, 4, 5, 5], [1, 1], p(2, 2), [1, 1], 1),
            // padding beyond the kernel's reach: whole output rows read only zeros.
            case([1, 6, 3, 12], [4, 6, 3, 3], [1, 1], p(3, 3), [1, 1], 1),
        ]
    }

    fn geometry(c: &Case) -> Conv2dGeometry {
        Conv2dGeometry::new(
            &Shape::from(c.x.to_vec()),
            &Shape::from(c.w.to_vec()),
            &c.options,
        )
    }

    #[test]
    fn row_padded_path_matches_the_direct_sum() {
        for (i, c) in row_padded_cases().iter().enumerate() {
            assert!(geometry(c).is_row_padded(), "x {:?} w {:?}", c.x, c.w);
            check(c, 500 + 10 * i as u64);
        }
    }

    #[test]
    fn row_padding_is_chosen_for_short_stride_one_rows_only() {
        let p = |a, b| [(a, a), (b, b)];
        let row_padded = |c: Case| geometry(&c).is_row_padded();
        // ResNet-50's 3×3 convolutions: 28, 14 wide yes; 56 wide and 7 wide no.
        assert!(row_padded(case(
            [1, 128, 28, 28],
            [128, 128, 3, 3],
            [1, 1],
            p(1, 1),
            [1, 1],
            1
        )));
        assert!(row_padded(case(
            [1, 256, 14, 14],
            [256, 256, 3, 3],
            [1, 1],
            p(1, 1),
            [1, 1],
            1
        )));
        assert!(!row_padded(case(
            [1, 64, 56, 56],
            [64, 64, 3, 3],
            [1, 1],
            p(1, 1),
            [1, 1],
            1
        )));
        assert!(!row_padded(case(
            [1, 512, 7, 7],
            [512, 512, 3, 3],
            [1, 1],
            p(1, 1),
            [1, 1],
            1
        )));
        // Strided and pointwise convolutions never.
        assert!(!row_padded(case(
            [1, 16, 32, 32],
            [32, 16, 3, 3],
            [2, 2],
            p(1, 1),
            [1, 1],
            1
        )));
        assert!(!row_padded(case(
            [1, 16, 32, 32],
            [32, 16, 1, 1],
            [1, 1],
            p(0, 0),
            [1, 1],
            1
        )));
    }

    #[test]
    fn seeded_random_shapes_match_the_direct_sum() {
        let mut draw = values(99, 12 * 16)
            .into_iter()
            .map(|v| ((v + 1.0) * 1000.0) as usize);
        let mut next = |n: usize| draw.next().unwrap() % n;
        for seed in 0..12 {
            let groups = [1, 1, 2, 3][next(4)];
            let cpg = 1 + next(5);
            let opg = 1 + next(5);
            let kernel = [1 + next(5), 1 + next(5)];
            let stride = [1 + next(3), 1 + next(3)];
            let dilation = [1 + next(2), 1 + next(2)];
            let padding = [(next(3), next(3)), (next(3), next(3))];
            let size = [
                kernel[0] * dilation[0] + next(8),
                kernel[1] * dilation[1] + next(8),
            ];
            let c = case(
                [1 + next(3), groups * cpg, size[0], size[1]],
                [groups * opg, cpg, kernel[0], kernel[1]],
                stride,
                padding,
                dilation,
                groups,
            );
            check(&c, 1000 + seed);
        }
    }

    #[test]
    fn half_precision_computes_in_f32() {
        use burn_std::f16;
        let x: Vec<f16> = values(5, 2 * 4 * 6 * 6)
            .into_iter()
            .map(f16::from_f32)
            .collect();
        let w: Vec<f16> = values(6, 3 * 4 * 3 * 3)
            .into_iter()
            .map(f16::from_f32)
            .collect();
        let dy: Vec<f16> = values(7, 2 * 3 * 6 * 6)
            .into_iter()
            .map(f16::from_f32)
            .collect();
        let t = |v: &Vec<f16>, s: &[usize]| {
            FlexTensor::from_data(TensorData::new(v.clone(), s.to_vec()))
        };
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let dw = Flex::conv2d_weight_backward(
            t(&x, &[2, 4, 6, 6]),
            t(&w, &[3, 4, 3, 3]),
            t(&dy, &[2, 3, 6, 6]),
            options.clone(),
        );
        assert_eq!(dw.dtype(), burn_backend::DType::F16);
        let wide = |v: &Vec<f16>, s: &[usize]| tensor(v.iter().map(|h| h.to_f32()).collect(), s);
        let dw32 = Flex::conv2d_weight_backward(
            wide(&x, &[2, 4, 6, 6]),
            wide(&w, &[3, 4, 3, 3]),
            wide(&dy, &[2, 3, 6, 6]),
            options,
        );
        let got: Vec<f32> = dw
            .into_data()
            .try_to_vec::<f16>()
            .unwrap()
            .iter()
            .map(|h| h.to_f32())
            .collect();
        let want: Vec<f32> = read(dw32)
            .iter()
            .map(|&v| f16::from_f32(v).to_f32())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn weight_gradient_does_not_depend_on_thread_count() {
        let c = case(
            [20, 8, 6, 6],
            [8, 8, 3, 3],
            [1, 1],
            [(1, 1), (1, 1)],
            [1, 1],
            1,
        );
        let x = values(1, c.x.iter().product());
        let dy = values(2, 20 * 8 * 36);
        let run = || {
            read(Flex::conv2d_weight_backward(
                tensor(x.clone(), &c.x),
                tensor(values(3, 8 * 8 * 9), &c.w),
                tensor(dy.clone(), &[20, 8, 6, 6]),
                c.options.clone(),
            ))
        };
        let default = run();
        #[cfg(feature = "rayon")]
        {
            let single = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap()
                .install(run);
            assert_eq!(default, single);
        }
        assert_eq!(default, run());
    }
}
