"""A person's folder for hand trials, and the calibration of its round models on held-out images.

    .venv/bin/python benchmarks/photo_shapes.py make OUT          # OUT/photos/... + OUT/truth.csv
    .venv/bin/python benchmarks/photo_shapes.py held-out PROJECT TRUTH --round R [--audit-t]

`make` draws 271 colour "photos" (JPEG, 7 sizes from 40x72 to 96x54, almost none square) of four
shapes (circle, square, triangle: 75 each; star: 45) on gradient backgrounds, in nested folders
(2024/06, 2024/07, 2025/01/phone, camera), plus one planted near copy (a circle shifted 1 px,
re-saved at JPEG q75), and truth.csv (file,label) beside the photos folder, for the trial's own
checking only: the person labels by eye. `held-out` measures a round model of a project made from
it on the pool images no label touched (never trained on), against truth.csv: accuracy, mean
confidence, 15-bin ECE and the guesses shown at >= 0.90, with the round's stored temperature, T = 1,
and with --audit-t the temperature fitted now on the project's audit labels
(docs/results/calibration.md, "A person's small project").
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SIZES = [(64, 48), (48, 64), (80, 50), (50, 80), (60, 60), (96, 54), (40, 72)]
FOLDERS = ["2024/06", "2024/07", "2025/01/phone", "camera"]
KINDS = ["circle"] * 75 + ["square"] * 75 + ["triangle"] * 75 + ["star"] * 45


def make(out: Path, seed: int = 7) -> None:
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)

    def background(w: int, h: int) -> Image.Image:
        a = tuple(rng.randrange(0, 120) for _ in range(3))
        b = tuple(rng.randrange(60, 200) for _ in range(3))
        im = Image.new("RGB", (w, h))
        d = ImageDraw.Draw(im)
        for y in range(h):
            t = y / max(1, h - 1)
            d.line([(0, y), (w, y)], fill=tuple(int(a[i] * (1 - t) + b[i] * t) for i in range(3)))
        return im

    def shape(kind: str, w: int, h: int) -> Image.Image:
        im = background(w, h)
        d = ImageDraw.Draw(im)
        r = min(w, h) * rng.uniform(0.25, 0.4)
        cx, cy = w / 2 + rng.uniform(-w / 8, w / 8), h / 2 + rng.uniform(-h / 8, h / 8)
        colour = tuple(rng.randrange(150, 256) for _ in range(3))
        if kind == "circle":
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        else:
            corners = {"square": 4, "triangle": 3, "star": 10}[kind]
            a = rng.uniform(0, math.pi / 2 if kind == "square" else 2 * math.pi)
            radius = [r if kind != "star" or k % 2 == 0 else r * 0.45 for k in range(corners)]
            d.polygon([(cx + radius[k] * math.cos(a + 2 * math.pi * k / corners),
                        cy + radius[k] * math.sin(a + 2 * math.pi * k / corners))
                       for k in range(corners)], fill=colour)
        return im.filter(ImageFilter.GaussianBlur(0.6))

    photos, rows = out / "photos", []
    kinds = list(KINDS)
    rng.shuffle(kinds)
    for i, kind in enumerate(kinds):
        (w, h), folder = rng.choice(SIZES), rng.choice(FOLDERS)
        path = photos / folder / f"IMG_{i:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        shape(kind, w, h).save(path, quality=90)
        rows.append((f"{folder}/{path.name}", kind))
    source = next(r for r in rows if r[1] == "circle")
    im = Image.open(photos / source[0])
    im.transform(im.size, Image.AFFINE, (1, 0, 1, 0, 1, 0)).save(
        photos / "camera" / "IMG_copy.jpg", quality=75)
    rows.append(("camera/IMG_copy.jpg", "circle"))
    with open(out / "truth.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("file", "label"), *rows])
    print(f"{len(rows)} images in {photos}; truth in {out / 'truth.csv'}")


def held_out(project_path: Path, truth_csv: Path, round: int, audit_t: bool) -> None:
    import numpy as np
    import torch

    from gltui.learn import calibrate
    from gltui.learn.train import predict_proba
    from gltui.outputs import roundmodel
    from gltui.project import Project

    with open(truth_csv) as fh:
        truth = {r["file"]: r["label"] for r in csv.DictReader(fh)}
    cpu = torch.device("cpu")
    with Project.open(project_path) as project:
        classes = list(project.classes)
        ids = project.store.unlabeled_pool("main")
        names = project.store.item_names(ids)
        y = np.array([classes.index(truth[names[int(i)]]) for i in ids])
        model = roundmodel.load_round(project, "main", round, cpu)
        saved = roundmodel.read_round(project, "main", round)
        x = np.asarray(project.pixels[ids])
        temperatures = [(saved["temperature"], saved["calibrated_on"]), (1.0, "none")]
        if audit_t:
            items, labels = project.store.audit_labels()
            logits = calibrate.predict_logits(model, project.pixels[items], cpu, 256)
            temperatures.append((calibrate.fit_temperature(logits, labels),
                                 f"{len(items)} audit labels, fitted now"))
    for t, on in temperatures:
        c = calibrate.calibration(predict_proba(model, x, cpu, temperature=t), y)
        print(f"round {round}, T {t:.3f} ({on}): n {len(y)}, accuracy {c['accuracy']:.3f}, "
              f"mean confidence {c['mean_confidence']:.3f}, ECE {c['ece']:.3f}, shown >= 0.90 "
              f"{c['share_at_90']:.0%} (right {c['acc_at_90']:.3f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="verb", required=True)
    m = sub.add_parser("make")
    m.add_argument("out", type=Path)
    h = sub.add_parser("held-out")
    h.add_argument("project", type=Path)
    h.add_argument("truth", type=Path)
    h.add_argument("--round", type=int, required=True)
    h.add_argument("--audit-t", action="store_true")
    args = ap.parse_args(argv)
    if args.verb == "make":
        make(args.out)
    else:
        held_out(args.project, args.truth, args.round, args.audit_t)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
