"""Where the tch backend's backward pass loses to PyTorch, measured on one libtorch.

burn-tch runs PyTorch's kernels, but Burn's autodiff decides which kernels a backward pass calls.
For the operations below burn-tch 0.22 has no native backward and Burn falls back to its generic
formulation (burn-backend 0.22.1, `ops/modules/conv.rs` and `ops/modules/base.rs`):

- conv2d input gradient: `conv_transpose2d(grad, weight)`;
- conv2d weight gradient: `conv2d(x.swap(0, 1), grad.swap(0, 1)).swap(0, 1)` (batch and
  channels swapped, so the output gradient becomes a kernel as large as the feature map);
- batch-norm training statistics and backward: reductions and element-wise ops
  (`mean_dim` over `swap_dims(0, 1)` + `reshape`, which copies);
- ReLU backward: `mask_fill(output <= 0, 0)` (a comparison, then a masked copy).

PyTorch's autograd calls `convolution_backward`, `native_batch_norm_backward` and
`threshold_backward` instead. This script times both formulations with the same libtorch, same
threads, for every layer shape of a CIFAR ResNet-56 training step at batch 128, and prints the
per-step totals. Run it with the Python of `cargo xtask libtorch` (torch 2.9.0, the libtorch
burn-tch links):

    ~/.cache/skipnet/libtorch-2.9.0/bin/python bench/tch_backward_breakdown.py
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def timed(fn, iters):
    fn()
    samples = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def conv_backward(x, w, grad, stride, native):
    if native:
        return lambda: torch.ops.aten.convolution_backward(
            grad, x, w, None, [stride] * 2, [1] * 2, [1] * 2, False, [0, 0], 1, [True, True, False]
        )
    out_pad = x.shape[-1] - ((grad.shape[-1] - 1) * stride - 2 + 3)

    def burn():
        F.conv_transpose2d(grad, w, stride=stride, padding=1, output_padding=out_pad)
        wg = F.conv2d(
            x.transpose(0, 1), grad.transpose(0, 1), padding=1, dilation=stride
        ).transpose(0, 1)
        return wg[:, :, :3, :3]

    return burn


def bn_backward(x, gamma, grad, native):
    eps = 1e-5
    mean = x.mean((0, 2, 3))
    var = x.var((0, 2, 3), unbiased=False)
    if native:
        return lambda: torch.ops.aten.native_batch_norm_backward(
            grad, x, gamma, None, None, mean, 1 / (var + eps).sqrt(), True, eps, [True, True, True]
        )
    c = x.shape[1]
    per_channel = (1, c, 1, 1)

    def burn():
        inv_std = (var + eps).sqrt().reciprocal().reshape(per_channel)
        normalized = (x - mean.reshape(per_channel)) * inv_std
        grad_flat = grad.transpose(0, 1).reshape(c, -1)
        ngrad_flat = (grad * normalized).transpose(0, 1).reshape(c, -1)
        grad_flat.sum(1)
        ngrad_flat.sum(1)
        mean_grad = grad_flat.mean(1).reshape(per_channel)
        mean_ngrad = ngrad_flat.mean(1).reshape(per_channel)
        return (gamma.reshape(per_channel) * inv_std) * ((grad - mean_grad) - normalized * mean_ngrad)

    return burn


def bn_forward(x, gamma, beta, native):
    if native:
        return lambda: F.batch_norm(x, None, None, gamma, beta, training=True)
    c = x.shape[1]
    per_channel = (1, c, 1, 1)

    def burn():
        mean = x.transpose(0, 1).reshape(c, -1).mean(1).reshape(per_channel)
        centered = x - mean
        var = (centered * centered).transpose(0, 1).reshape(c, -1).mean(1)
        return F.batch_norm(x, mean.reshape(c), var, gamma, beta, training=False)

    return burn


def relu_backward(y, grad, native):
    if native:
        return lambda: torch.ops.aten.threshold_backward(grad, y, 0.0)
    return lambda: grad.masked_fill(y <= 0, 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n = args.batch
    # CIFAR ResNet-56: 3 stages of 9 basic blocks (2 convs, 2 BN, 2 ReLU each) at 16/32/64
    # channels on 32/16/8 px; the first conv of stages 2 and 3 has stride 2; plus the stem.
    layers = []  # (count, in_channels, out_channels, in_side, stride)
    layers.append((1, 3, 16, 32, 1))
    for stage, (c, side) in enumerate([(16, 32), (32, 16), (64, 8)]):
        if stage == 0:
            layers.append((18, c, c, side, 1))
        else:
            layers.append((1, c // 2, c, side * 2, 2))
            layers.append((17, c, c, side, 1))
    totals = {}
    for count, cin, cout, side_in, stride in layers:
        side_out = side_in // stride
        x = torch.randn(n, cin, side_in, side_in)
        w = torch.randn(cout, cin, 3, 3)
        y = torch.randn(n, cout, side_out, side_out)
        grad = torch.randn_like(y)
        gamma, beta = torch.rand(cout) + 0.5, torch.randn(cout)
        for name, make in [
            ("conv2d backward", lambda native: conv_backward(x, w, grad, stride, native)),
            ("batch norm forward (train)", lambda native: bn_forward(y, gamma, beta, native)),
            ("batch norm backward", lambda native: bn_backward(y, gamma, grad, native)),
            ("relu backward", lambda native: relu_backward(y, grad, native)),
        ]:
            for native in (True, False):
                seconds = timed(make(native), args.iters) * count
                key = (name, "PyTorch native" if native else "Burn's generic")
                totals[key] = totals.get(key, 0.0) + seconds
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {n}, "
          "CIFAR ResNet-56 layer shapes, seconds per training step:")
    print("| operation | PyTorch native | Burn's generic on libtorch | extra |")
    print("|---|---|---|---|")
    names = sorted({k[0] for k in totals}, key=lambda s: list(dict.fromkeys(k[0] for k in totals)).index(s))
    extra_total = 0.0
    for name in names:
        native = totals[(name, "PyTorch native")]
        burn = totals[(name, "Burn's generic")]
        extra_total += burn - native
        print(f"| {name} | {native:.3f} s | {burn:.3f} s | {burn - native:+.3f} s |")
    print(f"| total | | | {extra_total:+.3f} s |")


if __name__ == "__main__":
    main()
