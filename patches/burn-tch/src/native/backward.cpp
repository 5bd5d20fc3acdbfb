// Backward operations (and a memory-format conversion) through libtorch's own ATen operators,
// for burn-tch.
//
// tch 0.22 binds neither `at::convolution_backward` nor `at::native_batch_norm_backward` (their
// `std::array<bool, N>` output masks are outside what its generator emits), so Burn's generic
// formulations ran instead: conv2d's input gradient as a transposed convolution, its weight
// gradient as a convolution with batch and channels swapped, batch norm's backward as a dozen
// element-wise passes. These two functions call the kernels PyTorch's autograd calls; they
// compute nothing themselves.
//
// Tensors cross as `at::Tensor*` (tch's `C_tensor`); results are new heap tensors owned by the
// caller (wrapped by `tch::Tensor::from_ptr`). A failure returns a malloc'd message (freed by
// `burn_tch_free_message`), success returns null.

#include <ATen/core/Tensor.h>
#include <ATen/ops/convolution_backward.h>
#include <ATen/ops/native_batch_norm_backward.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

namespace {
char *copy_message(const char *what) {
  size_t length = std::strlen(what);
  char *message = static_cast<char *>(std::malloc(length + 1));
  if (message != nullptr) {
    std::memcpy(message, what, length + 1);
  }
  return message;
}
} // namespace

extern "C" {

void burn_tch_free_message(char *message) { std::free(message); }

// Gradients of a (non-transposed) convolution with respect to its input and/or weight.
// `stride`, `padding` and `dilation` hold `spatial_dims` values each; a gradient is computed
// and written only where its `want_*` flag is non-zero.
char *burn_tch_convolution_backward(const at::Tensor *grad_output, const at::Tensor *input,
                                    const at::Tensor *weight, const int64_t *stride,
                                    const int64_t *padding, const int64_t *dilation,
                                    int64_t spatial_dims, int64_t groups, int want_input,
                                    int want_weight, at::Tensor **grad_input,
                                    at::Tensor **grad_weight) {
  try {
    std::vector<int64_t> output_padding(static_cast<size_t>(spatial_dims), 0);
    auto grads = at::convolution_backward(
        *grad_output, *input, *weight, /*bias_sizes=*/::std::nullopt,
        at::IntArrayRef(stride, spatial_dims), at::IntArrayRef(padding, spatial_dims),
        at::IntArrayRef(dilation, spatial_dims), /*transposed=*/false, output_padding, groups,
        std::array<bool, 3>{want_input != 0, want_weight != 0, false});
    if (want_input != 0) {
      *grad_input = new at::Tensor(std::move(std::get<0>(grads)));
    }
    if (want_weight != 0) {
      *grad_weight = new at::Tensor(std::move(std::get<1>(grads)));
    }
    return nullptr;
  } catch (const std::exception &error) {
    return copy_message(error.what());
  }
}

// Gradients of batch norm in training mode (batch statistics) with respect to its input,
// weight (gamma) and bias (beta). `save_mean` and `save_invstd` are the batch mean and
// 1 / sqrt(biased variance + eps) per channel, as `at::native_batch_norm` returns them.
char *burn_tch_batch_norm_backward(const at::Tensor *grad_output, const at::Tensor *input,
                                   const at::Tensor *weight, const at::Tensor *save_mean,
                                   const at::Tensor *save_invstd, double eps,
                                   at::Tensor **grad_input, at::Tensor **grad_weight,
                                   at::Tensor **grad_bias) {
  try {
    auto grads = at::native_batch_norm_backward(
        *grad_output, *input, *weight, /*running_mean=*/::std::nullopt,
        /*running_var=*/::std::nullopt, *save_mean, *save_invstd, /*train=*/true, eps,
        std::array<bool, 3>{true, true, true});
    *grad_input = new at::Tensor(std::move(std::get<0>(grads)));
    *grad_weight = new at::Tensor(std::move(std::get<1>(grads)));
    *grad_bias = new at::Tensor(std::move(std::get<2>(grads)));
    return nullptr;
  } catch (const std::exception &error) {
    return copy_message(error.what());
  }
}

// `tensor` in channels-last (NHWC) memory order: a new tensor, sharing storage with `tensor`
// where it already is (`Tensor::contiguous` returns itself then).
char *burn_tch_channels_last(const at::Tensor *tensor, at::Tensor **out) {
  try {
    *out = new at::Tensor(tensor->contiguous(at::MemoryFormat::ChannelsLast));
    return nullptr;
  } catch (const std::exception &error) {
    return copy_message(error.what());
  }
}

} // extern "C"
