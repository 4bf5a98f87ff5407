"""Scoring strategies: one float per pool image, higher = more informative = labeled first.

    rde               the paper: mean over k augmented copies of each copy's softmax entropy in
                      bits (the mean of the entropies, not the entropy of the mean)
    entropy           entropy of the un-augmented image's softmax (rde with k = 0)
    margin            1 - (p_top1 - p_top2) of the un-augmented image
    least-confidence  1 - p_top1 of the un-augmented image
    random            uniform noise: the baseline; needs no model
    bald              BALD (Houlsby et al. 2011; Gal et al. 2017): the mutual information between
                      the prediction and the model, estimated over k samples that are each an
                      augmented copy *and* a dropout mask (MC dropout): the entropy of the mean
                      softmax minus the mean of the copies' entropies, in bits. High where the
                      samples disagree, not where each one is merely unsure

The pool is scored in chunks, the unit of progress and of resume: chunk i's random draws come from
`derive_seed(seed, i)` alone, so a pass that skips the chunks an interrupted pass already stored
yields exactly the scores the uninterrupted pass would have. Each chunk's uint8 images cross to the
device once; the float conversion, the k augmented copies (stacked into one batch, so the network
sees large batches instead of k small ones), the forward (inference mode, bf16 autocast on CUDA) and
the entropy all stay there, and only one float per image comes back. On CUDA the images come from a
pool resident in device memory when it fits (device.pool_on), else from host memory through pinned
buffers that a reader thread fills a chunk or two ahead (device.chunks_to_device); on the CPU each
chunk is read when its turn comes.

A pass can be split across processes (learn/distributed.py): each computes the chunks it is dealt
(the others in `skip`), and since a chunk's scores depend only on (seed, chunk_index, chunk_size,
forward_batch, k) and the model, the gathered scores are those of one process, provided every
rank uses the same forward_batch (rank 0 chooses it and tells the others).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Container, Iterator

import numpy as np
import torch
from torch import nn

from gltui.config import STRATEGIES as STRATEGY_NAMES
from gltui.learn.augment import Augment
from gltui.learn.device import chunks_to_device, make_generator, resolve_device, to_float
from gltui.learn.seeding import derive_seed

LN2 = math.log(2.0)


def entropy_bits(probs: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """-sum p log2 p along `dim`, with 0 log 0 = 0 (xlogy), so one-hot rows give exactly 0."""
    return -torch.special.xlogy(probs, probs).sum(dim) / LN2


def _rde(probs: torch.Tensor) -> torch.Tensor:
    return entropy_bits(probs).mean(0)  # (k, B, C) -> per-copy entropy (k, B) -> mean over copies


def _entropy(probs: torch.Tensor) -> torch.Tensor:
    return entropy_bits(probs[0])


def _margin(probs: torch.Tensor) -> torch.Tensor:
    top2 = probs[0].topk(2, dim=-1).values
    return 1.0 - (top2[:, 0] - top2[:, 1])


def _least_confidence(probs: torch.Tensor) -> torch.Tensor:
    return 1.0 - probs[0].max(-1).values


def _bald(probs: torch.Tensor) -> torch.Tensor:
    # clamp: in float32 a mutual information of 0 can come out as -1e-7
    return (entropy_bits(probs.mean(0)) - entropy_bits(probs).mean(0)).clamp_min(0.0)


@dataclass(frozen=True)
class Strategy:
    name: str
    # probs (copies, B, C) -> (B,); None: no model
    reduce: Callable[[torch.Tensor], torch.Tensor] | None
    augmented: bool  # scores k augmented copies (else the single un-augmented image)
    dropout: bool = False  # each copy also draws a dropout mask (MC dropout; seeded per chunk)


_IMPLEMENTED = (
    Strategy("rde", _rde, augmented=True),
    Strategy("entropy", _entropy, augmented=False),
    Strategy("margin", _margin, augmented=False),
    Strategy("least-confidence", _least_confidence, augmented=False),
    Strategy("random", None, augmented=False),
    Strategy("bald", _bald, augmented=True, dropout=True),
)
# Keyed and ordered by the names in gltui.config (their one home): a name there without an
# implementation here fails at import.
STRATEGIES: dict[str, Strategy] = {
    name: next(s for s in _IMPLEMENTED if s.name == name) for name in STRATEGY_NAMES
}


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]


def default_forward_batch(device: torch.device) -> int:
    """Rows (images x copies) per forward.

    CPUs peak at small batches whose activations stay in cache: the MNIST net's forward peaked at
    64 rows with both 1 and 2 threads on a 2-core machine (32-512 measured; 256 rows ran 15-25%
    slower). More threads need more rows to share out. GPUs want large batches to fill the device:
    16384 rows make the default chunk (2048 images) x k=8 one forward, ~4 GB of bf16 activations
    for the MNIST net at most.

    The value is part of what the scores are a function of (the augmentation draws are made per
    forward), and on the CPU it follows this process's thread count: a distributed pass therefore
    uses rank 0's value on every rank rather than each rank's own.
    """
    if device.type == "cpu":
        return min(1024, max(64, 32 * torch.get_num_threads()))
    return 16384


def score_chunks(
    model: nn.Module | None,
    images: np.ndarray | torch.Tensor,
    strategy: str,
    *,
    k: int,
    augment: Augment,
    seed: int,
    chunk_size: int,
    device: str | torch.device = "cpu",
    skip: Container[int] = (),
    cancel: Callable[[], bool] | None = None,
    forward_batch: int | None = None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield (chunk_index, start_offset, scores float32) for each chunk of uint8 (N, C, H, W)
    `images`.

    Chunks come in order; those in `skip` are not computed (a resumed pass). `cancel()` is asked
    before each chunk. `forward_batch` caps the rows of one forward (images x k copies) so that a
    large chunk does not need the memory of chunk_size x k activations at once; the default suits
    the device. Scores are a function of (seed, chunk_index, chunk_size, forward_batch, k).
    """
    return _chunks(model, images, strategy, k=k, augment=augment, seed=seed, chunk_size=chunk_size,
                   device=device, skip=skip, cancel=cancel, forward_batch=forward_batch)


def predict_chunks(model: nn.Module, images: np.ndarray | torch.Tensor, *,
                   temperature: float = 1.0, **kw
                   ) -> Iterator[tuple[int, int, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Yield (chunk_index, start, (classes int64, probabilities float32, rde float32)) per chunk.

    The keywords are score_chunks' (k, augment, seed, chunk_size, device, skip, cancel,
    forward_batch): this is its rde pass (the same loop and draws, so the rde values are those
    scores) plus each image's predicted class and that class's probability from the un-augmented
    image's float32 forward (no autocast: what a loaded model export computes on uint8 / 255),
    calibrated by the round's `temperature` (softmax(logits / T); the rde scores stay raw)."""
    return _chunks(model, images, "rde", calibrated=temperature, **kw)


def _chunks(model, images, strategy: str, *, k, augment, seed, chunk_size, device="cpu", skip=(),
            cancel=None, forward_batch=None, calibrated: float | None = None) -> Iterator[tuple]:
    """The chunk loop behind score_chunks and predict_chunks."""
    strat = get_strategy(strategy)
    device = resolve_device(device)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive; got {chunk_size}")
    copies = max(k, 1) if strat.augmented else 1
    if strat.reduce is not None:
        if model is None:
            raise ValueError(f"strategy {strategy!r} needs a model")
        model.eval()
    rows = forward_batch or default_forward_batch(device)
    # images per forward; the k copies of an image share a batch
    per_forward = max(1, rows // copies)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else contextlib.nullcontext())

    n = len(images)
    todo = [(i, start, min(start + chunk_size, n))
            for i, start in enumerate(range(0, n, chunk_size)) if i not in skip]
    # Only the chunks to compute are read (a model-free strategy reads none).
    loader = (chunks_to_device(images, [(a, b) for _, a, b in todo], device)
              if strat.reduce is not None else None)
    try:
        for chunk_index, start, stop in todo:
            if cancel is not None and cancel():
                return
            g = make_generator(device, derive_seed(seed, chunk_index))
            if loader is None:
                yield chunk_index, start, torch.rand(stop - start, generator=g,
                                                     device=device).cpu().numpy()
                continue
            x = next(loader)
            with _mc_dropout(model, strat.dropout, device,
                             derive_seed(seed, chunk_index, "dropout")):
                scores = _score_chunk(model, x, strat, copies, k, augment, g, per_forward,
                                      autocast, calibrated)
            yield chunk_index, start, scores
    finally:
        if loader is not None:
            loader.close()


@contextlib.contextmanager
def _mc_dropout(model: nn.Module, on: bool, device: torch.device, seed: int):
    """With `on`, the model's dropout layers sample masks (the rest stays in eval mode) from the
    global generator seeded for this chunk alone, so a resumed pass gets the same masks; the
    caller's generator state and the model's eval mode come back afterwards."""
    if not on:
        yield
        return
    dropouts = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for m in dropouts:
            m.train()
        try:
            yield
        finally:
            for m in dropouts:
                m.eval()


def _score_chunk(model, x, strat, copies, k, augment, g, per_forward, autocast, calibrated=None):
    """One chunk's scores: uint8 images `x` on the device, in forwards of `per_forward` images.
    With a temperature `calibrated`, (classes, calibrated probabilities, scores): the
    un-augmented forward draws nothing from `g`, so the scores stay those of the plain pass."""
    parts, classes, top = [], [], []
    with torch.inference_mode():
        for s in range(0, len(x), per_forward):
            xb = to_float(x[s:s + per_forward])
            if calibrated is not None:
                p, c = (model(xb).float() / calibrated).softmax(-1).max(-1)
                top.append(p)
                classes.append(c)
            if strat.augmented and k > 0:
                # (k*b, C, H, W), copy-major: row j*b + i is copy j of image i. Augmented
                # outside autocast: sampling coordinates in bf16 would be off by a pixel.
                xb = augment(xb.repeat(copies, 1, 1, 1), g)
            with autocast:
                logits = model(xb)
            logits = logits.float()  # softmax and entropy in float32 even under bf16
            probs = logits.softmax(-1).view(copies, -1, logits.shape[-1])
            parts.append(strat.reduce(probs))
    scores = torch.cat(parts).cpu().numpy().astype(np.float32, copy=False)
    if calibrated is None:
        return scores
    return (torch.cat(classes).cpu().numpy().astype(np.int64), torch.cat(top).cpu().numpy(), scores)


def score_all(model: nn.Module | None, images: np.ndarray | torch.Tensor, strategy: str,
              **kw) -> np.ndarray:
    """Every chunk's scores concatenated: the uninterrupted pass, for callers that need no
    resume."""
    out = np.empty(len(images), dtype=np.float32)
    for _, start, scores in score_chunks(model, images, strategy, **kw):
        out[start:start + len(scores)] = scores
    return out
