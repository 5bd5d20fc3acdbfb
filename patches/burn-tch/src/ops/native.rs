//! Native backward operations: libtorch's own kernels where Burn's generic formulations would
//! run otherwise (see `PATCHES.md` at the repository root of skipnet, which carries this patch).
//!
//! Convolution and batch-norm gradients go through a small C++ shim (`src/native/backward.cpp`)
//! because tch 0.22 does not bind `at::convolution_backward` or `at::native_batch_norm_backward`;
//! everything else uses tch's bindings. The shim is compiled by `build.rs` where libtorch's
//! headers are found (`cfg(burn_tch_native_backward)`); without it the generic paths stay.

use crate::{LibTorch, TchTensor};
use burn_backend::ops::{ConvOptions, conv::pad_asymmetric_conv_input};
use std::ffi::{CStr, c_char, c_int};
use torch_sys::C_tensor;

unsafe extern "C" {
    fn burn_tch_free_message(message: *mut c_char);
    fn burn_tch_convolution_backward(
        grad_output: *const C_tensor,
        input: *const C_tensor,
        weight: *const C_tensor,
        stride: *const i64,
        padding: *const i64,
        dilation: *const i64,
        spatial_dims: i64,
        groups: i64,
        want_input: c_int,
        want_weight: c_int,
        grad_input: *mut *mut C_tensor,
        grad_weight: *mut *mut C_tensor,
    ) -> *mut c_char;
    fn burn_tch_channels_last(tensor: *const C_tensor, out: *mut *mut C_tensor) -> *mut c_char;
    fn burn_tch_batch_norm_backward(
        grad_output: *const C_tensor,
        input: *const C_tensor,
        weight: *const C_tensor,
        save_mean: *const C_tensor,
        save_invstd: *const C_tensor,
        eps: f64,
        grad_input: *mut *mut C_tensor,
        grad_weight: *mut *mut C_tensor,
        grad_bias: *mut *mut C_tensor,
    ) -> *mut c_char;
}

/// Panics with libtorch's message where the shim reported one (as tch's own `unwrap`s do).
fn check(message: *mut c_char, operation: &str) {
    if message.is_null() {
        return;
    }
    // SAFETY: a non-null result is a NUL-terminated string the shim allocated with malloc.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    unsafe { burn_tch_free_message(message) };
    panic!("libtorch {operation} failed: {text}");
}

/// Takes ownership of a tensor the shim allocated.
fn adopt(tensor: *mut C_tensor, operation: &str) -> tch::Tensor {
    assert!(!tensor.is_null(), "libtorch {operation} returned no tensor");
    // SAFETY: the shim returns a `new at::Tensor`, which `tch::Tensor` owns and frees on drop.
    unsafe { tch::Tensor::from_ptr(tensor) }
}

/// Which gradient of a convolution to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConvGradient {
    Input,
    Weight,
}

/// `at::convolution_backward` for a non-transposed convolution: the gradient of `x` or of
/// `weight`. Asymmetric padding is applied to `x` explicitly first (as `conv2d` does), and the
/// input gradient cropped back to `x`'s shape.
pub(crate) fn convolution_backward(
    x: TchTensor,
    weight: &TchTensor,
    output_grad: &TchTensor,
    options: ConvOptions<2>,
    gradient: ConvGradient,
) -> TchTensor {
    let input_shape = x.tensor.size();
    let padding_added = options.is_asymmetric().then(|| options.padding_begin());
    let (x, options) = pad_asymmetric_conv_input::<LibTorch, 2>(x, options);
    let stride = options.stride.map(|v| v as i64);
    let padding = options.padding_begin().map(|v| v as i64);
    let dilation = options.dilation.map(|v| v as i64);
    let mut grad_input: *mut C_tensor = std::ptr::null_mut();
    let mut grad_weight: *mut C_tensor = std::ptr::null_mut();
    let want_input = gradient == ConvGradient::Input;
    // SAFETY: the tensor pointers are live for the call; the arrays hold 2 values each; the
    // shim writes only the requested outputs.
    let message = unsafe {
        burn_tch_convolution_backward(
            output_grad.tensor.as_ptr(),
            x.tensor.as_ptr(),
            weight.tensor.as_ptr(),
            stride.as_ptr(),
            padding.as_ptr(),
            dilation.as_ptr(),
            2,
            options.groups as i64,
            c_int::from(want_input),
            c_int::from(!want_input),
            &mut grad_input,
            &mut grad_weight,
        )
    };
    check(message, "convolution_backward");
    if !want_input {
        return TchTensor::new(adopt(grad_weight, "convolution_backward"));
    }
    let mut grad = adopt(grad_input, "convolution_backward");
    if let Some(begin) = padding_added {
        // The gradient of the explicitly padded input, cropped back to the input.
        for (axis, begin) in begin.iter().enumerate() {
            grad = grad.narrow(axis as i64 + 2, *begin as i64, input_shape[axis + 2]);
        }
        grad = grad.contiguous();
    }
    TchTensor::new(grad)
}

/// `at::native_batch_norm_backward` in training mode: the gradients of input, gamma and beta.
pub(crate) fn batch_norm_backward(
    x: &tch::Tensor,
    gamma: &tch::Tensor,
    mean: &tch::Tensor,
    invstd: &tch::Tensor,
    epsilon: f64,
    output_grad: &tch::Tensor,
) -> [tch::Tensor; 3] {
    let mut grads: [*mut C_tensor; 3] = [std::ptr::null_mut(); 3];
    let [grad_input, grad_weight, grad_bias] = &mut grads;
    // SAFETY: the tensor pointers are live for the call; the shim writes all three outputs
    // on success.
    let message = unsafe {
        burn_tch_batch_norm_backward(
            output_grad.as_ptr(),
            x.as_ptr(),
            gamma.as_ptr(),
            mean.as_ptr(),
            invstd.as_ptr(),
            epsilon,
            grad_input,
            grad_weight,
            grad_bias,
        )
    };
    check(message, "native_batch_norm_backward");
    grads.map(|grad| adopt(grad, "native_batch_norm_backward"))
}

/// Whether convolutions run on channels-last (NHWC) tensors: `BURN_TCH_CHANNELS_LAST=0` turns
/// it off, anything else (or nothing) leaves it on. oneDNN's CPU convolutions work in NHWC;
/// given NCHW tensors libtorch reorders every input, weight and output around each call.
/// Element-wise operations keep the layout, so a network's activations stay NHWC from the first
/// convolution on. Values are unchanged (a layout, not a computation): reading a tensor's data
/// goes through a reshape, which copies into logical order.
pub(crate) fn channels_last_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED
        .get_or_init(|| std::env::var("BURN_TCH_CHANNELS_LAST").map_or(true, |v| v.trim() != "0"))
}

/// A 4-D tensor in channels-last memory order (the same storage where it already is); other
/// ranks unchanged.
pub(crate) fn channels_last(tensor: TchTensor) -> TchTensor {
    if tensor.tensor.dim() != 4 {
        return tensor;
    }
    let mut out: *mut C_tensor = std::ptr::null_mut();
    // SAFETY: the tensor pointer is live for the call; the shim writes `out` on success.
    let message = unsafe { burn_tch_channels_last(tensor.tensor.as_ptr(), &mut out) };
    check(message, "contiguous(channels_last)");
    let converted = adopt(out, "contiguous(channels_last)");
    if converted.data_ptr() == tensor.tensor.data_ptr() {
        // Already channels-last: keep the original handle and its storage tracking.
        tensor
    } else {
        TchTensor::new(converted)
    }
}
