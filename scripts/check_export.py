#!/usr/bin/env python3
"""Round trip: PyTorch loads a safetensors file written by `cargo xtask import` strictly and
gives the outputs the parity fixture expects.

    cargo xtask import resnet50 --weights crates/models/tests/fixtures/interop-full/resnet50/weights.pth --out /tmp/r50.safetensors
    python3 scripts/check_export.py /tmp/r50.safetensors crates/models/tests/fixtures/interop-full/resnet50

Works for every case of make_parity_fixtures.py (the case folder names the architecture).
"""

import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_parity_fixtures as fx  # noqa: E402


def build(case):
    arch = case["arch"]
    tv = fx.torchvision.models
    if arch in ("resnet18", "resnet50", "densenet121"):
        return getattr(tv, arch)(weights=None)
    return {
        "cifar-resnet20": lambda: fx.CifarResNet(20, "A"),
        "cifar-resnet8-b": lambda: fx.CifarResNet(8, "B"),
        "cifar-plain8": lambda: fx.CifarResNet(8, "A", residual=False),
        "densenet-tiny": lambda: tv.DenseNet(growth_rate=8, block_config=(2, 3),
                                             num_init_features=16, bn_size=2, num_classes=10),
        "cifar-densenet-bc100": fx.cifar_densenet_bc100,
        "unet": lambda: fx.UNet(3, 1, base=case.get("unet_width", 64), depth=4),
        "highway-mlp": fx.HighwayMLP,
        "highway-conv": fx.HighwayConv,
    }[arch]()


def main():
    exported, case_dir = sys.argv[1], sys.argv[2].rstrip("/")
    name = os.path.basename(case_dir)
    with open(os.path.join(os.path.dirname(case_dir), "manifest.json")) as f:
        case = json.load(f)[name]
    model = build(case)
    result = model.load_state_dict(load_file(exported), strict=True)
    model.eval()
    x = torch.from_numpy(np.load(os.path.join(case_dir, "input.npy")))
    expected = np.load(os.path.join(case_dir, "expected.npy"))
    with torch.no_grad():
        y = model(x).numpy()
    diff = float(np.abs(y - expected).max())
    print(f"{name}: load_state_dict(strict=True) -> {result}; max |Δ| = {diff:.3e}")
    sys.exit(0 if diff <= 1e-4 else 1)


if __name__ == "__main__":
    main()
