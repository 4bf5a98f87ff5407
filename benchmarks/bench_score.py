"""Scoring throughput: gltui's RDE pipeline against the model-only ceiling and against baal.

Three contenders on the same network (fresh Glorot weights, eval mode) and the same images:

  ceiling   the network's forward alone on ready float tensors already on the device, at the best
            of a few batch sizes. Scoring k copies per image can at best reach ceiling / k images/s.
  gltui     `score_all(..., "rde")`: uint8 pool -> device -> float -> k augmented copies ->
            forward -> softmax entropy -> mean over copies -> one float per image.
  baal      baal 2.1 `ModelWrapper.predict_on_dataset(iterations=k)` (MC dropout; no augmentation)
            on a TensorDataset of the same images, pre-converted to float (not timed: a head start
            for baal), plus `BALD().compute_score` to turn its (N, C, k) logits into one score.

Timing is in short windows of `--window` images (window x k forward rows), interleaved
round-robin: one window of each contender per round. On a shared machine the speed of a 2-thread
process jumps between levels as other processes come and go; the best window of each contender
compares them at the same level, the median shows the spread. A gltui window is one scoring chunk
(chunk_size = window), timed between the iterator's yields.

Targets: gltui >= 0.85 x ceiling / k, and gltui >= baal at the same k.

    python benchmarks/bench_score.py --json  # CPU defaults: n=1024, k=8, window 128, 8 rounds
    python benchmarks/bench_score.py --device cuda --n 60000 --json
"""

from __future__ import annotations

import copy
import itertools
import statistics
import time

import numpy as np
import torch
from _common import emit, environment, load_images, parser, quiet_baal, setup, sync, timed

from gltui.learn.augment import make_augment
from gltui.learn.models import build_model
from gltui.learn.score import default_forward_batch, score_chunks


def ceiling_window(model: torch.nn.Module, shape: tuple, device: torch.device, bs: int):
    """A callable timing forwards of one ready float batch; returns rows/s."""
    # as scoring
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    x = torch.rand(bs, *shape, device=device)

    def forwards(reps: int) -> None:
        with torch.inference_mode(), autocast:
            for _ in range(reps):
                model(x)

    forwards(1)  # warm-up: allocator, cuDNN/oneDNN algorithm choice

    def window(rows: int) -> float:
        reps = max(1, rows // bs)
        return reps * bs / timed(lambda: forwards(reps), device)

    return window


def gltui_windows(model: torch.nn.Module, pool: np.ndarray, k: int, window: int,
                  device: torch.device):
    """A callable scoring the next `window` pool images (one chunk, cycling); returns images/s."""
    augment = make_augment("auto", pool.shape[1])

    def passes():
        for seed in itertools.count():
            yield from score_chunks(model, pool, "rde", k=k, augment=augment, seed=seed,
                                    chunk_size=window, device=device)

    chunks = passes()
    next(chunks)  # warm-up

    def run() -> float:
        sync(device)
        t = time.perf_counter()
        _, _, scores = next(chunks)  # scores come back to the host: the chunk is complete
        return len(scores) / (time.perf_counter() - t)

    return run


def baal_windows(model: torch.nn.Module, pool: np.ndarray, k: int, window: int,
                 device: torch.device, rows_per_forward: int):
    """A callable running baal's MC-dropout scoring over the next `window` images, or why it
    cannot."""
    try:
        from baal.active.heuristics import BALD
        from baal.bayesian.dropout import patch_module
        from baal.modelwrapper import ModelWrapper, TrainingArgs
    except Exception as e:  # noqa: BLE001 - any import failure means "no peer", reported as such
        return None, f"baal not importable: {type(e).__name__}: {e}"
    quiet_baal()
    mc_model = patch_module(copy.deepcopy(model))  # Dropout -> MC dropout (active at eval time)
    args = TrainingArgs(batch_size=max(1, rows_per_forward // k), use_cuda=device.type == "cuda",
                        workers=0)
    wrapper = ModelWrapper(mc_model, args)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(pool).float().div_(255),
                                             torch.zeros(len(pool), dtype=torch.int64))
    heuristic = BALD()
    starts = itertools.cycle(range(0, len(pool) - window + 1, window))

    def score(start: int) -> np.ndarray:
        subset = torch.utils.data.Subset(dataset, range(start, start + window))
        logits = wrapper.predict_on_dataset(subset, iterations=k, verbose=False)  # (window, C, k)
        return heuristic.compute_score(logits)

    score(0)  # warm-up

    def run() -> float:
        start = next(starts)
        return window / timed(lambda: score(start), device)

    return run, "baal 2.1 predict_on_dataset(iterations=k) + BALD.compute_score"


def summary(rates: list[float]) -> dict:
    return {"best": round(max(rates), 1), "median": round(statistics.median(rates), 1),
            "windows": len(rates)}


def main() -> None:
    p = parser(__doc__.splitlines()[0], n=1024, k=8)
    p.add_argument("--window", type=int, default=0,
                   help="images per timed window (default: CPU 128, GPU 2048)")
    p.add_argument("--rounds", type=int, default=8, help="interleaved rounds of windows")
    p.add_argument("--batch-sizes", default="",
                   help="ceiling batch sizes (default: CPU 32..512, GPU 1024..16384)")
    args = p.parse_args()
    device = setup(args)
    pool, _, classes, spec = load_images(args.data, args.n)
    channels, size = pool.shape[1], tuple(pool.shape[2:])
    model = build_model(args.model, channels, size, classes,
                        generator=torch.Generator().manual_seed(0))
    model = model.to(device).eval()
    window = args.window or (128 if device.type == "cpu" else 2048)
    window = min(window, args.n)
    if args.batch_sizes:
        batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    else:
        batch_sizes = ([32, 64, 128, 256, 512] if device.type == "cpu"
                       else [1024, 2048, 4096, 8192, 16384])
    forward_batch = default_forward_batch(device)

    ceilings = {bs: ceiling_window(model, (channels, *size), device, bs) for bs in batch_sizes}
    gltui_run = gltui_windows(model, pool, args.k, window, device)
    baal_run, baal_note = baal_windows(model, pool, args.k, window, device, forward_batch)
    ceiling_rates: dict[int, list[float]] = {bs: [] for bs in batch_sizes}
    gltui_rates, baal_rates = [], []
    for _ in range(args.rounds):
        for bs, run in ceilings.items():
            ceiling_rates[bs].append(run(window * args.k))
        gltui_rates.append(gltui_run())
        if baal_run is not None:
            baal_rates.append(baal_run())

    ceiling_bs = max(ceiling_rates, key=lambda b: max(ceiling_rates[b]))
    ceiling_per_image = max(ceiling_rates[ceiling_bs]) / args.k
    result = {
        "benchmark": "score",
        "data": spec,
        "model": args.model,
        "image_shape": [channels, *size],
        "n": args.n,
        "k": args.k,
        "window_images": window,
        "gltui_forward_batch_rows": forward_batch,
        "ceiling_forward_rows_per_s": {str(b): summary(r) for b, r in ceiling_rates.items()},
        "ceiling_best_batch": ceiling_bs,
        "ceiling_images_per_s_at_k": round(ceiling_per_image, 1),
        "gltui_images_per_s": summary(gltui_rates),
        "ratio_gltui_to_ceiling_over_k": round(max(gltui_rates) / ceiling_per_image, 3),
        "target_ratio_to_ceiling": 0.85,
        "baal": baal_note,
    }
    if baal_rates:
        result["baal_images_per_s"] = summary(baal_rates)
        result["ratio_gltui_to_baal"] = round(max(gltui_rates) / max(baal_rates), 3)
    result["environment"] = environment(device)
    emit(result, args.json)


if __name__ == "__main__":
    main()
