"""Shared helpers of the learning-core benchmarks: the image pool, timing, arguments, JSON output.

Benchmarks are not tests: they print throughputs and the ratios between them measured in ONE run
on the same network and images, because absolute CPU figures move with machine load while ratios
measured side by side mostly do not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from gltui import data  # noqa: E402
from gltui.learn.device import resolve_device  # noqa: E402

SHARED_MNIST = REPO_ROOT.parent / "shared" / "datasets" / "mnist"
SAMPLE_MNIST = REPO_ROOT / "sample_data" / "mnist"


def parser(description: str, n: int, k: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    p.add_argument("--k", type=int, default=k,
                   help="augmented copies (scoring) / MC iterations (baal)")
    p.add_argument("--n", type=int, default=n, help="pool / labeled-set size in images")
    p.add_argument("--data", default="",
                   help="dataset SPEC (default: the shared MNIST, else sample_data)")
    p.add_argument("--model", default="auto", help="mnist | cifar | auto")
    p.add_argument("--threads", type=int, default=0,
                   help="torch intra-op threads (0: torch's default)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    return p


def setup(args: argparse.Namespace) -> torch.device:
    if args.threads:
        torch.set_num_threads(args.threads)
    return resolve_device(args.device)


def load_images(spec: str, n: int) -> tuple[np.ndarray, np.ndarray, int, str]:
    """The first n training images (uint8 N x C x H x W, cycled if the set is smaller), labels,
    classes."""
    if not spec:
        spec = (f"idx:{SHARED_MNIST}" if (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file()
                else f"folder:{SAMPLE_MNIST}")
    ds = data.load(spec)
    images, labels = np.asarray(ds.train.images), np.asarray(ds.train.labels)
    idx = np.arange(n) % len(images)
    return np.ascontiguousarray(images[idx]), labels[idx].astype(np.int64), len(ds.classes), spec


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds of one call, with the device drained before and after (GPU work is asynchronous)."""
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def environment(device: torch.device) -> dict:
    env = {
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    try:
        env["load_average_1min"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return env


def quiet_baal() -> None:
    """baal logs every predict/train call to stdout through structlog; keep the output readable."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def emit(result: dict, as_json: bool) -> None:
    """Human-readable lines, then (with --json) the whole result as the last line."""
    for key, value in result.items():
        if key != "environment":
            print(f"{key:>36}: {json.dumps(value) if isinstance(value, dict) else value}")
    if as_json:
        print(json.dumps(result, sort_keys=True))
