"""`gltui check` on real MNIST: does it find planted label mistakes and planted near copies, and
how long does it take (issue 25)?

A person's project made from the shared MNIST (IDX): 1,000 labeled training digits of which 50
carry a wrong label (a random other digit), and a 10,000-image unlabeled pool holding 200 near
copies of other pool digits and 20 near copies of test digits (leaks); 2,000 test digits. A near
copy is the same digit shifted 1 px (one of the 8 directions), brightness x0.9 or x1.1, and
re-saved as JPEG q75 (PIL). `gltui init` (quick profile, the mnist preset; its audit set: 200
pool images) then `gltui check --json`, both in this process, both timed. Targets:

  (a) >= 40 of the 50 wrong labels among the first 100 label issues (80 % in the first 2x)
  (b) >= 95 % of the planted copies grouped with their source, < 1 % of the reported groups
      false (explained by no planted copy)
  (c) the check in <= 5 min on 2 idle cores

    python benchmarks/health_check.py --out docs/results/health_check.md

The markdown (and --json's object) holds the figures, the command, the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from gltui import data  # noqa: E402
from gltui.cli import main as gltui  # noqa: E402

SHARED_MNIST = REPO_ROOT.parent / "shared" / "datasets" / "mnist"
SHIFTS = [(0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (-1, -1), (1, -1), (-1, 1)]


def near_copy(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(H, W) uint8: shifted 1 px, brightness +-10 %, JPEG q75 round trip."""
    from PIL import Image

    dy, dx = SHIFTS[rng.integers(len(SHIFTS))]
    x = np.roll(image.astype(np.float32), (dy, dx), axis=(0, 1)) * rng.choice([0.9, 1.1])
    buf = io.BytesIO()
    Image.fromarray(np.clip(x, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=75)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())))


def make_dataset(folder: Path, args) -> dict:
    """The npz and what was planted in it, by item name."""
    mnist = data.load(f"idx:{SHARED_MNIST}")
    x, y = mnist.train.images[:, 0], mnist.train.labels
    x_test, y_test = mnist.test.images[:args.test, 0], mnist.test.labels[:args.test]
    rng = np.random.default_rng(args.seed)
    natural = args.pool - args.copies - args.leaks
    order = rng.permutation(len(x))[:args.labeled + natural]
    labeled, pool = order[:args.labeled], order[args.labeled:]
    given = y[labeled].copy()
    wrong = rng.choice(args.labeled, args.wrong, replace=False)
    given[wrong] = (given[wrong] + rng.integers(1, 10, args.wrong)) % 10
    sources = rng.choice(natural, args.copies, replace=False)  # positions within the pool part
    leaked = rng.choice(len(x_test), args.leaks, replace=False)
    copies = ([near_copy(x[pool[s]], rng) for s in sources]
              + [near_copy(x_test[t], rng) for t in leaked])
    images = np.concatenate([x[labeled], x[pool], np.stack(copies)])
    labels = np.concatenate([given, np.full(natural + len(copies), -1)])
    path = folder / "mnist-health.npz"
    np.savez(path, x=images, y=labels, x_test=x_test, y_test=y_test)
    first_copy = args.labeled + natural
    name = "train:{}".format
    return {
        "npz": path,
        "wrong": {name(i) for i in wrong},
        "planted": [{name(args.labeled + s), name(first_copy + k)} for k, s in enumerate(sources)],
        "leaks": [{f"test/test:{t}", name(first_copy + args.copies + k)}
                  for k, t in enumerate(leaked)],
    }


def measure(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        planted = make_dataset(Path(tmp), args)
        project = Path(tmp) / "project"
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert gltui(["init", str(project), "--data", f"npz:{planted['npz']}", "--preset",
                          "mnist", "--semi", "off", "--seed", str(args.seed)]) == 0
        init_seconds = time.perf_counter() - started
        out = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(out):
            assert gltui(["check", str(project), "--json", "--device", "cpu"]) == 0
        check_seconds = time.perf_counter() - started
    result = json.loads(out.getvalue())
    issues = [i["file"] for i in result["label_issues"]]
    groups = [set(g) for g in result["near_duplicates"]]
    pairs = planted["planted"] + planted["leaks"]
    found = [any(p <= g for g in groups) for p in planted["planted"]]
    leaks_found = [any(p <= g and d["leak"] for g, d in zip(groups, result["duplicate_groups"]))
                   for p in planted["leaks"]]
    false_groups = [sorted(g) for g in groups if not any(p <= g for p in pairs)]
    return {
        "wrong_in_first_100": len(planted["wrong"] & set(issues[:2 * args.wrong])),
        "wrong": len(planted["wrong"]),
        "label_issues": len(issues),
        "wrong_among_all_issues": len(planted["wrong"] & set(issues)),
        "copies_found": int(sum(found)), "copies": len(found),
        "leaks_found": int(sum(leaks_found)), "leaks": len(leaks_found),
        "groups": len(groups), "false_groups": len(false_groups),
        "false_group_files": false_groups[:10],
        "init_seconds": round(init_seconds, 1), "check_seconds": round(check_seconds, 1),
        "images": result["images_checked"], "labels": result["labels_checked"],
    }


def markdown(r: dict, args, env: dict) -> str:
    false_share = r["false_groups"] / max(1, r["groups"])
    ok = {"a": r["wrong_in_first_100"] >= 0.8 * r["wrong"],
          "b": r["copies_found"] >= 0.95 * r["copies"] and false_share < 0.01,
          "c": r["check_seconds"] <= 300}
    mark = {True: "met", False: "**missed**"}
    falses = "".join(f"\n  - {', '.join(g)}" for g in r["false_group_files"])
    rows = [
        (f"(a) >= {0.8 * r['wrong']:.0f} of the {r['wrong']} wrong labels in the first "
         f"{2 * r['wrong']} label issues",
         f"**{r['wrong_in_first_100']}** of {r['wrong']} ({r['wrong_among_all_issues']} among "
         f"all {r['label_issues']} issues)", ok["a"]),
        ("(b) >= 95 % of planted copies grouped, < 1 % of groups false",
         f"**{r['copies_found']}** of {r['copies']} grouped; {r['false_groups']} of "
         f"{r['groups']} groups false ({100 * false_share:.1f} %)", ok["b"]),
        ("(c) check <= 5 min on 2 idle cores",
         f"**{r['check_seconds']:.0f} s** (init {r['init_seconds']:.0f} s)", ok["c"]),
    ]
    table = "\n".join(["| target | measured | |", "| --- | --- | --- |",
                       *(f"| {a} | {b} | {mark[c]} |" for a, b, c in rows)])
    return f"""# `gltui check` on real MNIST (issue 25)

A person's project from the shared MNIST: {args.labeled:,} labeled training digits of which
{args.wrong} carry a wrong label (a random other digit), a {args.pool:,}-image unlabeled pool
holding {args.copies} near copies of other pool digits and {args.leaks} near copies of test
digits, and {args.test:,} test digits ({r['images']:,} images in all, 200 of the pool set aside
as the audit set by `init`). A near copy: the same digit shifted 1 px (one of 8 directions),
brightness x0.9 or x1.1, re-saved as JPEG q75. `gltui init --preset mnist --semi off`, then
`gltui check --json` (4 folds of the small net, 20 epochs each, 4 views; the near-duplicate
search over every image).

```bash
{env['command']}
```

Machine: {env['machine']}; torch {env['torch']} CPU, no GPU; {env['threads']}; load average
before the run {env['load_before']}, after {env['load_after']}.

{table}

Leaks: {r['leaks_found']} of the {r['leaks']} test-digit copies in the pool were reported as a
LEAK (their group spans the test split and the pool). A copy that `init` drew into the audit
set sits beside a test image, two evaluation images: its group is listed, not as a leak. A pool
copy drawn into the audit set is a leak, rightly: an audit image with a near copy in the pool.

False groups (no planted copy in them), at most 10:{falses or ' none.'}

The near-duplicate distance (data/duplicates.py: 1 - the best normalised correlation over +-1 px
alignments) was calibrated in a probe on 10,000 and 59,000 MNIST training digits with 1,000
planted copies each: copies measured at most 0.008, the closest distinct digits 0.0136 (plain
vertical 1s, near-identical pixel for pixel); 2 natural pairs of 59,000 digits fell under the
threshold of 0.01.
"""


def _has_avx2() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    return cpuinfo.is_file() and "avx2" in cpuinfo.read_text()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labeled", type=int, default=1000)
    p.add_argument("--wrong", type=int, default=50)
    p.add_argument("--pool", type=int, default=10_000)
    p.add_argument("--copies", type=int, default=200)
    p.add_argument("--leaks", type=int, default=20)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="write the markdown here")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = p.parse_args(argv)
    import torch

    env = {"command": ".venv/bin/python benchmarks/health_check.py "
                      + " ".join(argv if argv is not None else sys.argv[1:]),
           "machine": f"{platform.machine()}"
                      f"{' AVX2' if _has_avx2() else ''}, "
                      f"{os.cpu_count()} cores",
           "torch": torch.__version__.split("+")[0],
           "threads": f"{torch.get_num_threads()} torch threads (OMP_NUM_THREADS="
                      f"{os.environ.get('OMP_NUM_THREADS', 'unset')})",
           "load_before": " ".join(f"{v:.2f}" for v in os.getloadavg())}
    result = measure(args)
    env["load_after"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown(result, args, env))
    print(json.dumps({**result, **env}) if args.json else json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
