#!/usr/bin/env python3
"""Writes the fixture that `crates/data/tests/preprocess_parity.rs` checks, and the ImageNet-1k
class names skipnet ships.

    crates/data/tests/fixtures/preprocess/chelsea.png        a real photo (451 x 300 RGB; scikit-image's
                                                             "Chelsea the cat", CC0)
    crates/data/tests/fixtures/preprocess/imagenet.npy       torchvision's tensor for it, float32 [3, 224, 224]:
                                                             Resize(256) + CenterCrop(224) + ToTensor + Normalize
    crates/data/tests/fixtures/preprocess/manifest.json      versions and transforms used
    crates/data/src/imagenet_classes.txt                     torchvision's _IMAGENET_CATEGORIES, one per line

Needs torch, torchvision, pillow, numpy and scikit-image (for the photo); not run in CI.
Usage: python3 scripts/make_preprocess_fixture.py
"""

import json
import os
import shutil

import numpy as np
import PIL
import skimage
import torch
import torchvision
from PIL import Image
from torchvision import transforms
from torchvision.models._meta import _IMAGENET_CATEGORIES

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "crates/data/tests/fixtures/preprocess")
NAMES = os.path.join(ROOT, "crates/data/src/imagenet_classes.txt")

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def main():
    os.makedirs(OUT, exist_ok=True)
    photo = os.path.join(OUT, "chelsea.png")
    shutil.copyfile(os.path.join(os.path.dirname(skimage.__file__), "data", "chelsea.png"), photo)
    # As torchvision's ImageNet reference scripts and weights' transforms do (PIL path).
    image = Image.open(photo).convert("RGB")
    preprocess = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )
    tensor = preprocess(image).numpy().astype(np.float32)
    assert tensor.shape == (3, 224, 224)
    np.save(os.path.join(OUT, "imagenet.npy"), tensor)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(
            {
                "photo": "chelsea.png",
                "source": "scikit-image data/chelsea.png (CC0)",
                "size": list(image.size),
                "transform": "Resize(256) + CenterCrop(224) + ToTensor() + Normalize(mean, std), PIL input",
                "mean": MEAN,
                "std": STD,
                "torch": torch.__version__,
                "torchvision": torchvision.__version__,
                "pillow": PIL.__version__,
            },
            f,
            indent=2,
        )
        f.write("\n")
    assert len(_IMAGENET_CATEGORIES) == 1000
    with open(NAMES, "w") as f:
        f.write("\n".join(_IMAGENET_CATEGORIES) + "\n")
    print(f"wrote {OUT} and {NAMES}")


if __name__ == "__main__":
    main()
