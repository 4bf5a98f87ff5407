"""A grey 28x28, 10-class image set that is not handwriting, built from nothing but PIL: the
second judge of the recipe beside MNIST (issue 17: "test your defaults on more than MNIST").

Each image is one filled or outlined shape (circle, square, triangle pointing up, triangle
pointing down, plus, X, ring, horizontal bar, vertical bar, diamond) of random size, position
jitter, tilt (+-15 degrees), stroke, contrast, clutter (short strokes and dots) and noise, drawn
at 4x and downsampled. Classes differ by outline and orientation: a square and a diamond are the
same shape turned 45 degrees, a plus and an X too, the two triangles are mirror images
top-bottom. So the handwriting distortions (elastic field, shear, rotation +-25 degrees) can blur
the classes into each other, as on a clothing or object set.

It is written in MNIST's IDX format (gzip), so every tool that reads MNIST reads it:

    .venv/bin/python benchmarks/grey_shapes.py --out /tmp/grey-shapes          # ~20 s
    .venv/bin/python benchmarks/label_efficiency.py --data /tmp/grey-shapes ...
    gltui init P --data idx:/tmp/grey-shapes

Deterministic for a seed (numpy and PIL only).
"""

from __future__ import annotations

import argparse
import gzip
import math
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ("circle", "square", "triangle-up", "triangle-down", "plus", "x", "ring",
           "h-bar", "v-bar", "diamond")
SIZE, SCALE = 28, 4


def _polygon(cx: float, cy: float, r: float, angles_deg) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(math.radians(a)), cy + r * math.sin(math.radians(a)))
            for a in angles_deg]


def draw(label: int, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 uint8 image of class `label`."""
    big = SIZE * SCALE
    bg = int(rng.integers(0, 120))
    fg = min(255, bg + int(rng.integers(40, 180)))  # low to high contrast
    img = Image.new("L", (big, big), bg)
    d = ImageDraw.Draw(img)
    cx = big / 2 + rng.uniform(-3, 3) * SCALE
    cy = big / 2 + rng.uniform(-3, 3) * SCALE
    r = rng.uniform(4.5, 11) * SCALE
    width = int(rng.uniform(1.5, 3.5) * SCALE)
    filled = rng.random() < 0.5
    tilt = rng.uniform(-15, 15)  # some rotation within every class
    for _ in range(int(rng.integers(0, 4))):  # clutter: short strokes and dots anywhere
        x0, y0 = rng.uniform(0, big, 2)
        x1, y1 = np.array([x0, y0]) + rng.uniform(-4, 4, 2) * SCALE
        d.line([(x0, y0), (x1, y1)], fill=int(rng.integers(bg, fg + 1)),
               width=int(rng.uniform(1, 2.5) * SCALE))
    name = CLASSES[label]
    fill, outline = (fg, None) if filled else (None, fg)

    def poly(angles):
        points = _polygon(cx, cy, r, [a + tilt for a in angles])
        if filled:
            d.polygon(points, fill=fg)
        else:
            d.line(points + points[:1], fill=fg, width=width, joint="curve")

    def bar(angle, length, thick):
        dx, dy = math.cos(math.radians(angle)) * length, math.sin(math.radians(angle)) * length
        d.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=fg, width=int(thick))

    if name == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=outline,
                  width=width if not filled else 0)
    elif name == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fg, width=width)
        r2 = r * rng.uniform(0.35, 0.55)
        d.ellipse([cx - r2, cy - r2, cx + r2, cy + r2], outline=fg, width=width)
    elif name == "square":
        poly([45, 135, 225, 315])
    elif name == "diamond":
        poly([0, 90, 180, 270])
    elif name == "triangle-up":
        poly([270, 30, 150])
    elif name == "triangle-down":
        poly([90, 210, 330])
    elif name in ("plus", "x"):
        base = 0 if name == "plus" else 45
        thick = rng.uniform(2, 4) * SCALE
        bar(base + tilt, r, thick)
        bar(base + 90 + tilt, r, thick)
    elif name in ("h-bar", "v-bar"):
        base = 0 if name == "h-bar" else 90
        bar(base + tilt, r, rng.uniform(3, 6) * SCALE)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.5) * SCALE / 2))
    small = np.asarray(img.resize((SIZE, SIZE), Image.BILINEAR), dtype=np.float32)
    small += rng.normal(0, rng.uniform(4, 28), small.shape)
    return np.clip(small, 0, 255).astype(np.uint8)


def make(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), n).astype(np.uint8)
    images = np.stack([draw(int(y), rng) for y in labels])
    return images, labels


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    n = len(images)
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">IIII", 2051, n, SIZE, SIZE) + images.tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">II", 2049, n) + labels.tobytes())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder to write the IDX files into")
    p.add_argument("--train", type=int, default=20000, help="training (pool) images")
    p.add_argument("--test", type=int, default=5000, help="test images")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    write_idx(args.out, "train", *make(args.train, args.seed))
    write_idx(args.out, "t10k", *make(args.test, args.seed + 1))
    (args.out / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    print(f"{args.out}: {args.train} training and {args.test} test images, classes "
          + ", ".join(CLASSES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
