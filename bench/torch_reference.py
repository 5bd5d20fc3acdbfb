#!/usr/bin/env python3
"""PyTorch eager reference for `cargo xtask bench --vs-torch`: the same cases (model, batch,
input shape), the same training step (forward, cross-entropy or BCE + soft Dice, backward, SGD
momentum 0.9) and the same timing (warm-up, then the median of timed iterations).

Prints one line per measurement, then a JSON list as the last line. Standalone:

    python3 bench/torch_reference.py --threads 2
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import make_parity_fixtures as fx  # noqa: E402  (the reference CIFAR ResNet and U-Net)

STANDARD = [
    {"arch": "cifar-resnet20", "batch": 128, "input": [3, 32, 32], "train": True},
    {"arch": "cifar-resnet56", "batch": 128, "input": [3, 32, 32], "train": True},
    {"arch": "resnet18", "batch": 16, "input": [3, 224, 224], "train": True},
    {"arch": "resnet50", "batch": 16, "input": [3, 224, 224], "train": True},
    {"arch": "densenet121", "batch": 16, "input": [3, 224, 224], "train": False},
    {"arch": "unet", "batch": 4, "input": [3, 128, 128], "train": True},
]


def build(arch):
    if arch.startswith("cifar-resnet"):
        return fx.CifarResNet(int(arch[len("cifar-resnet"):]), "A")
    if arch == "unet":
        return fx.UNet(3, 1, base=64, depth=4)
    return getattr(torchvision.models, arch)(weights=None)


def macs(model, x):
    """Multiply-accumulates of convolutions and linear layers for one image (forward hooks)."""
    total = [0]

    def conv_hook(m, inp, out):
        k = m.weight.numel() // m.out_channels if isinstance(m, torch.nn.Conv2d) else None
        if isinstance(m, torch.nn.Conv2d):
            total[0] += out[0].numel() * k
        elif isinstance(m, torch.nn.ConvTranspose2d):
            total[0] += inp[0][0].numel() * m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
        elif isinstance(m, torch.nn.Linear):
            total[0] += m.in_features * m.out_features

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear))]
    with torch.no_grad():
        model.eval()(x[:1])
    for h in hooks:
        h.remove()
    return total[0]


def fused(model):
    """The eval-mode model with batch norms folded into the convolutions before them."""
    import torch.fx.experimental.optimization as fx_opt

    return fx_opt.fuse(model.eval())


def timed(step, warmup, iters):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(max(iters, 1)):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def dice_bce(logits, masks):
    bce = F.binary_cross_entropy_with_logits(logits, masks)
    p = torch.sigmoid(logits)
    inter = (p * masks).sum()
    dice = 1 - (2 * inter + 1) / (p.sum() + masks.sum() + 1)
    return bce + dice


def measure(case, warmup, iters, device, channels_last=False):
    torch.manual_seed(0)
    model = build(case["arch"]).to(device)
    c, h, w = case["input"]
    x = torch.randn(case["batch"], c, h, w, device=device)
    if channels_last:
        # NHWC activations and weights (torch.channels_last), PyTorch's own recipe for it.
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    flops_per_image = macs(model, x)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    results = []
    modes = (["train"] if case["train"] else []) + ["infer", "infer-folded"]
    for mode in modes:
        if mode == "train":
            model.train()
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            if case["arch"] == "unet":
                target = (torch.rand(case["batch"], 1, h, w, device=device) < 0.3).float()
                loss_fn = dice_bce
            else:
                classes = model(x[:2]).shape[1]
                target = torch.randint(0, classes, (case["batch"],), device=device)
                loss_fn = F.cross_entropy

            phases = []

            def step():
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), target)
                loss.item()
                t1 = time.perf_counter()
                loss.backward()
                sync()
                t2 = time.perf_counter()
                opt.step()
                sync()
                phases.append([t1 - t0, t2 - t1, time.perf_counter() - t2])
        else:
            model.eval()
            # `infer-folded`: PyTorch's own conv-BN fusion (torch.fx traces the model and
            # folds every batch norm that follows a convolution), the counterpart of
            # skipnet's Model::fold_batch_norm.
            net = fused(model) if mode == "infer-folded" else model

            def step():
                with torch.no_grad():
                    net(x).sum().item()
                sync()
        seconds = timed(step, warmup, iters)
        ips = case["batch"] / seconds
        timed_phases = phases[warmup:] if mode == "train" else None
        factor = 6 if mode == "train" else 2
        results.append({
            "arch": case["arch"], "mode": mode, "batch": case["batch"], "input": case["input"],
            "seconds": seconds, "images_per_s": ips,
            "gflop_per_s": ips * flops_per_image * factor / 1e9, "peak_rss_mb": None,
            "phases": [statistics.median(p[i] for p in timed_phases) for i in range(3)]
            if timed_phases else None,
            "version": torch.__version__,
        })
        print(f"{case['arch']:<16} {mode:<12} batch {case['batch']:>3}  {seconds:8.3f} s  "
              f"{ips:8.1f} img/s", file=sys.stderr)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases-json", help="cases as `cargo xtask bench` sends them")
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels-last", action="store_true",
                        help="NHWC memory format for the model and input (a measurement of "
                        "what the layout is worth; `cargo xtask bench` does not pass it)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = json.loads(args.cases_json) if args.cases_json else STANDARD
    device = torch.device(args.device)
    print(
        f"PyTorch {torch.__version__} eager on {args.device}, {torch.get_num_threads()} threads"
        + (", channels-last" if args.channels_last else ""),
        file=sys.stderr,
    )
    out = []
    for case in cases:
        out.extend(measure(case, args.warmup, args.iters, device, args.channels_last))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
