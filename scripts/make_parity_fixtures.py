#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures that `crates/models/tests/parity.rs` checks.

For each case: a model with random weights and randomised batch-norm running statistics, in
eval mode, a fixed input and PyTorch's output for it:

    <out>/<case>/weights.{pth,pt,safetensors}   the weights, in the case's format
    <out>/<case>/input.npy                      float32 NCHW input
    <out>/<case>/expected.npy                   PyTorch's output (logits or mask logits)
    <out>/manifest.json                         what each case is

Small cases (committed, checked in CI) go to crates/models/tests/fixtures/interop; with
--full, torchvision's resnet18, resnet50 and densenet121 go to
crates/models/tests/fixtures/interop-full (git-ignored; the test runs when they exist).

Needs torch, torchvision, numpy and safetensors; not run in CI. Usage:

    python3 scripts/make_parity_fixtures.py            # the small fixtures
    python3 scripts/make_parity_fixtures.py --full     # the full-size ones
    python3 scripts/make_parity_fixtures.py --keys     # torchvision's key lists
    python3 scripts/make_parity_fixtures.py --only cifar-wrn16-2   # one case, manifest merged
    python3 scripts/make_parity_fixtures.py --wrn-counts           # the paper's WRN sizes

PyTorch's outputs differ in the last bits from one CPU to another: rewriting every case on
another machine changes committed `expected.npy` files within the test's tolerance. Add a new
case with `--only`.
"""

import argparse
import json
import os
import re

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SMALL_DIR = os.path.join(ROOT, "crates/models/tests/fixtures/interop")
FULL_DIR = os.path.join(ROOT, "crates/models/tests/fixtures/interop-full")


# --- The CIFAR ResNet of the common public code (He et al. 2015, options A and B) -----------


class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class CifarBasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1, option="A", residual=True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.residual = residual
        self.shortcut = nn.Sequential()
        if residual and (stride != 1 or in_planes != planes):
            if option == "A":
                pad = planes // 4
                self.shortcut = LambdaLayer(
                    lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad), "constant", 0)
                )
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
                )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, depth, option="A", residual=True, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, n, 1, option, residual)
        self.layer2 = self._stage(32, n, 2, option, residual)
        self.layer3 = self._stage(64, n, 2, option, residual)
        self.linear = nn.Linear(64, num_classes)

    def _stage(self, planes, n, stride, option, residual):
        blocks = []
        for s in [stride] + [1] * (n - 1):
            blocks.append(CifarBasicBlock(self.in_planes, planes, s, option, residual))
            self.in_planes = planes
        return nn.Sequential(*blocks)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3]).flatten(1)
        return self.linear(out)


# --- The seed's U-Net ---------------------------------------------------------------------


def conv_block(in_c, out_c):
    return nn.Sequential(
        nn.Conv2d(in_c, out_c, 3, padding=1),
        nn.BatchNorm2d(out_c),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_c, out_c, 3, padding=1),
        nn.BatchNorm2d(out_c),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    def __init__(self, in_channels=3, out_channels=1, base=64, depth=4):
        super().__init__()
        self.depth = depth
        w = lambda i: base * 2**i
        for i in range(depth):
            setattr(self, f"enc{i + 1}", conv_block(in_channels if i == 0 else w(i - 1), w(i)))
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = conv_block(w(depth - 1), w(depth))
        for i in range(depth):
            setattr(self, f"up{i + 1}", nn.ConvTranspose2d(w(i + 1), w(i), 2, stride=2))
            setattr(self, f"dec{i + 1}", conv_block(w(i + 1), w(i)))
        self.out = nn.Conv2d(base, out_channels, 1)

    def forward(self, x):
        skips = []
        for i in range(self.depth):
            x = getattr(self, f"enc{i + 1}")(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for i in reversed(range(self.depth)):
            x = getattr(self, f"up{i + 1}")(x)
            x = getattr(self, f"dec{i + 1}")(torch.cat([x, skips[i]], dim=1))
        return self.out(x)


# --- Highway networks (Srivastava et al. 2015) ----------------------------------------------


class HighwayLayer(nn.Module):
    def __init__(self, width, gate_bias=-2.0):
        super().__init__()
        self.transform = nn.Linear(width, width)
        self.gate = nn.Linear(width, width)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward(self, x):
        h = F.relu(self.transform(x))
        t = torch.sigmoid(self.gate(x))
        return h * t + x * (1 - t)


class HighwayMLP(nn.Module):
    def __init__(self, in_features=784, width=50, depth=10, num_classes=10):
        super().__init__()
        self.input = nn.Linear(in_features, width)
        self.layers = nn.ModuleList([HighwayLayer(width) for _ in range(depth)])
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x):
        x = F.relu(self.input(x.flatten(1)))
        for layer in self.layers:
            x = layer(x)
        return self.classifier(x)


class HighwayConvLayer(nn.Module):
    def __init__(self, channels, gate_bias=-2.0):
        super().__init__()
        self.transform = nn.Conv2d(channels, channels, 3, padding=1)
        self.gate = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward(self, x):
        h = F.relu(self.transform(x))
        t = torch.sigmoid(self.gate(x))
        return h * t + x * (1 - t)


class HighwayConv(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, widths=(16, 32, 64), layers_per_stage=3):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.transitions = nn.ModuleList(
            [nn.Conv2d(a, b, 3, padding=1) for a, b in zip(widths, widths[1:])]
        )
        self.pool = nn.MaxPool2d(2)
        self.stages = nn.ModuleList(
            [nn.ModuleList([HighwayConvLayer(w) for _ in range(layers_per_stage)]) for w in widths]
        )
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        x = F.relu(self.stem(x))
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = self.pool(F.relu(self.transitions[i - 1](x)))
            for layer in stage:
                x = layer(x)
        return self.fc(x.mean(dim=(2, 3)))


# --- Wide ResNet for CIFAR (Zagoruyko & Komodakis 2016), as the authors' code computes it ----
# (github.com/szagoruyko/wide-residual-networks, pytorch/resnet.py): pre-activation blocks,
# a 1×1 shortcut on the pre-activated input where the shape changes, dropout between the
# convolutions. Module names are skipnet's (`layerN.i.bn1/conv1/bn2/conv2/shortcut`, `bn`, `fc`).


class WideBlock(nn.Module):
    def __init__(self, in_planes, planes, stride, dropout=0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.dropout = dropout
        self.shortcut = (nn.Conv2d(in_planes, planes, 1, stride, 0, bias=False)
                         if in_planes != planes or stride != 1 else None)

    def forward(self, x):
        o = F.relu(self.bn1(x))
        y = F.relu(self.bn2(self.conv1(o)))
        y = F.dropout(y, p=self.dropout, training=self.training)
        z = self.conv2(y)
        return z + (self.shortcut(o) if self.shortcut is not None else x)


class CifarWideResNet(nn.Module):
    def __init__(self, depth, k, num_classes=10, dropout=0.0):
        super().__init__()
        assert (depth - 4) % 6 == 0
        n = (depth - 4) // 6
        widths = [16 * k, 32 * k, 64 * k]
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        planes = 16
        for i, (w, stride) in enumerate(zip(widths, [1, 2, 2])):
            blocks = []
            for j in range(n):
                blocks.append(WideBlock(planes, w, stride if j == 0 else 1, dropout))
                planes = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.bn = nn.BatchNorm2d(planes)
        self.fc = nn.Linear(planes, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        return self.fc(F.relu(self.bn(x)).mean(dim=(2, 3)))


def wrn_parameter_counts():
    """Trainable parameters of the paper's CIFAR-10 Wide ResNets (for crates/models/tests/zoo.rs)."""
    for depth, k in [(40, 4), (16, 8), (28, 10)]:
        n = sum(p.numel() for p in CifarWideResNet(depth, k).parameters())
        print(f"cifar-wrn{depth}-{k}: {n} parameters")


# --- DenseNets (torchvision; the CIFAR ones with a 3×3 stem) ---------------------------------


def cifar_densenet_bc100():
    net = torchvision.models.DenseNet(
        growth_rate=12, block_config=(16, 16, 16), num_init_features=24, bn_size=4,
        num_classes=10,
    )
    net.features.conv0 = nn.Conv2d(3, 24, 3, padding=1, bias=False)
    del net.features.norm0, net.features.relu0, net.features.pool0
    return net


def to_legacy_densenet_keys(state):
    """torchvision's pre-0.3 DenseNet names: `denselayer1.norm1.weight` → `denselayer1.norm.1.weight`."""
    pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))([12])\.(.*)$")
    return {pattern.sub(r"\1.\2.\3", k): v for k, v in state.items()}


# --- Writing -------------------------------------------------------------------------------


def randomise(model, seed):
    """Random weights (PyTorch's init under `seed`) and batch norms away from the identity."""
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            m.reset_parameters()
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.6, 1.4)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.6, 1.6)
                m.num_batches_tracked.fill_(7)
    for m in model.modules():
        if isinstance(m, (HighwayLayer, HighwayConvLayer)):
            nn.init.constant_(m.gate.bias, -2.0)
    return model.eval()


ONLY = None


def write_case(out_dir, manifest, name, model, input_shape, fmt, arch, seed=0, wrap=None,
               rename=None, **extra):
    if ONLY is not None and name != ONLY:
        return
    model = randomise(model, seed)
    torch.manual_seed(seed + 1)
    x = torch.randn(*input_shape)
    with torch.no_grad():
        y = model(x)
    case_dir = os.path.join(out_dir, name)
    os.makedirs(case_dir, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if rename:
        state = rename(state)
    weights = f"weights.{fmt}"
    path = os.path.join(case_dir, weights)
    if fmt == "safetensors":
        save_file(state, path)
    else:
        torch.save(wrap(state) if wrap else state, path)
    np.save(os.path.join(case_dir, "input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(case_dir, "expected.npy"), y.numpy().astype(np.float32))
    with open(os.path.join(case_dir, "keys.txt"), "w") as f:
        for k, v in model.state_dict().items():
            f.write(f"{k} {list(v.shape)}\n")
    manifest[name] = dict(arch=arch, weights=weights, **extra)
    print(f"{name}: {sum(v.numel() for v in state.values())} values, "
          f"output {list(y.shape)}, max |y| {y.abs().max():.3f}")


def small(manifest):
    out = SMALL_DIR
    write_case(out, manifest, "cifar-resnet20", CifarResNet(20, "A"), (2, 3, 32, 32), "pth",
               "cifar-resnet20")
    write_case(out, manifest, "cifar-resnet8-b", CifarResNet(8, "B"), (2, 3, 32, 32),
               "safetensors", "cifar-resnet8-b", seed=1)
    write_case(out, manifest, "cifar-plain8", CifarResNet(8, "A", residual=False),
               (2, 3, 32, 32), "pth", "cifar-plain8", seed=2)
    write_case(out, manifest, "densenet-tiny-legacy",
               torchvision.models.DenseNet(growth_rate=8, block_config=(2, 3),
                                           num_init_features=16, bn_size=2, num_classes=10),
               (2, 3, 64, 64), "pth", "densenet-tiny", seed=3, rename=to_legacy_densenet_keys)
    write_case(out, manifest, "cifar-densenet-bc100", cifar_densenet_bc100(), (2, 3, 32, 32),
               "safetensors", "cifar-densenet-bc100", seed=4)
    write_case(out, manifest, "unet-w4", UNet(3, 1, base=4, depth=4), (1, 3, 32, 32), "pt",
               "unet", seed=5, unet_width=4,
               wrap=lambda s: {"epoch": 12, "model_state_dict": s,
                               "optimizer_state_dict": {"state": {0: {"momentum_buffer":
                                                                      torch.zeros(3)}},
                                                        "param_groups": []}})
    write_case(out, manifest, "highway-mlp", HighwayMLP(), (4, 1, 28, 28), "pth", "highway-mlp",
               seed=6, wrap=lambda s: {f"module.{k}": v for k, v in s.items()})
    write_case(out, manifest, "highway-conv", HighwayConv(), (2, 3, 32, 32), "safetensors",
               "highway-conv", seed=7)
    write_case(out, manifest, "cifar-wrn16-2", CifarWideResNet(16, 2, dropout=0.3),
               (2, 3, 32, 32), "safetensors", "cifar-wrn16-2", seed=8)


def full(manifest):
    out = FULL_DIR
    for arch in ["resnet18", "resnet50", "densenet121"]:
        model = getattr(torchvision.models, arch)(weights=None)
        write_case(out, manifest, arch, model, (2, 3, 224, 224), "pth", arch, seed=11)


TORCHVISION_ARCHS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                     "resnext50_32x4d", "wide_resnet50_2", "densenet121", "densenet161",
                     "densenet169", "densenet201"]


def keys():
    """torchvision's state_dict keys and shapes of every ImageNet architecture of the zoo."""
    out = os.path.join(SMALL_DIR, "torchvision-keys")
    os.makedirs(out, exist_ok=True)
    for arch in TORCHVISION_ARCHS:
        model = getattr(torchvision.models, arch)(weights=None)
        with open(os.path.join(out, f"{arch}.txt"), "w") as f:
            for k, v in model.state_dict().items():
                f.write(f"{k} {list(v.shape)}\n")
        print(f"{arch}: {len(model.state_dict())} keys")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="torchvision's full-size models")
    parser.add_argument("--keys", action="store_true",
                        help="only torchvision's key lists (torchvision-keys/*.txt)")
    parser.add_argument("--only", metavar="CASE",
                        help="write only this case, keeping the manifest's other entries")
    parser.add_argument("--wrn-counts", action="store_true",
                        help="only print the paper's Wide ResNets' parameter counts")
    args = parser.parse_args()
    if args.keys:
        return keys()
    if args.wrn_counts:
        return wrn_parameter_counts()
    out = FULL_DIR if args.full else SMALL_DIR
    torch.set_num_threads(2)
    manifest = {}
    if args.only:
        global ONLY
        ONLY = args.only
        with open(os.path.join(out, "manifest.json")) as f:
            manifest = json.load(f)
    (full if args.full else small)(manifest)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
