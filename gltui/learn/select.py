"""Which scored candidates make the next queue: the selection policy, as pure numpy.

A guided queue (`select_queue`) is the top scores, class-balanced by the round model's predicted
classes (`select_balanced`, with `balance`), plus `random_share` of the queue drawn at random from
the other candidates (docs/results/recipe.md: a guided-only queue fell far behind random on a grey
set of shapes); the queue is ordered by score, most confusing first. A queue that ranks at random
(a random run, or a guided run below its warm start) takes the top random scores.

The share beside the guided picks explores: at random, or `far` (`select_far`): the typical image
of each region of the pool that lies farthest from every labeled image, in the round model's
features. Uncertainty cannot find what a model is sure of and wrong about: a semi-supervised
model of 40 MNIST labels took a whole style of 7s for 3s (726 pool images, every one confident);
the far share's queue held two of them and the next model lost that error, the random share's
held one and kept it. On grey shapes the far share gained most at the first guided queue and
lost at the next (docs/results/mnist-semi.md, "The far share").
"""

from __future__ import annotations

import math

import numpy as np


def select_queue(scores: np.ndarray, n: int, *, at_random: bool, predicted: np.ndarray | None,
                 classes: int, random_share: float, rng: np.random.Generator,
                 far: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Indices into `scores` of the next queue of `n`, most confusing first. `predicted`: the
    round model's class per candidate (None: no balancing); `rng` draws the random share;
    `far`: (features of the candidates, of the labeled images) makes it the far share."""
    if at_random:
        return select_top(scores, n)
    guided = n - int(np.floor(n * random_share + 0.5))
    if predicted is not None:
        order = select_balanced(scores, predicted, guided, classes)
    else:
        order = select_top(scores, guided)
    rest = np.setdiff1d(np.arange(len(scores)), order)
    size = min(n - guided, len(rest))
    if far is not None:
        features, labeled = far
        covered = np.concatenate([labeled, features[order]])  # the guided picks get labels too
        explored = rest[select_far(features[rest], covered, size, rng)]
    else:
        explored = rng.choice(rest, size=size, replace=False)
    picked = np.r_[order, explored]
    return picked[select_top(scores[picked], len(picked))]


FAR_SAMPLE = 20_000  # candidates the regions are found in (k-means' cost grows with them)
FAR_REGIONS = 256  # at most this many regions


def select_far(features: np.ndarray, covered: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray:
    """Indices into `features` (unit rows) of `n` images, each the typical image of a region of
    the candidates far from `covered` (unit rows: the labeled images' features).

    The regions are k-means clusters (k = covered + 2n, at most FAR_REGIONS) of at most
    FAR_SAMPLE candidates drawn by `rng`; a region's typical image is the one nearest its
    centre, and a region of fewer than a quarter of the average size (outliers) is left out.
    Greedily, the typical image farthest from everything covered is taken and then counts as
    covered (k-center over typical images, as TypiClust's typicality and coreset's distance,
    Hacohen et al. 2022, Sener & Savarese 2018). Candidates the regions cannot supply are drawn
    at random."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    sample = np.arange(len(features))
    if len(sample) > FAR_SAMPLE:
        sample = np.sort(rng.choice(sample, size=FAR_SAMPLE, replace=False))
    x = (features if len(sample) == len(features) else features[sample]).astype(np.float64)
    k = min(len(covered) + 2 * n, FAR_REGIONS, len(x))
    centres = x[rng.choice(len(x), size=k, replace=False)]
    for _ in range(20):  # Lloyd's iterations
        distances = (centres ** 2).sum(1)[None, :] - 2 * (x @ centres.T)
        region = distances.argmin(1)
        sizes = np.bincount(region, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, region, x)
        centres = np.where(sizes[:, None] > 0, sums / np.maximum(sizes, 1)[:, None], centres)
    distances = (centres ** 2).sum(1)[None, :] - 2 * (x @ centres.T)
    region = distances.argmin(1)
    sizes = np.bincount(region, minlength=k)
    regions = np.flatnonzero(sizes >= len(x) / k / 4)
    typical = np.array([np.flatnonzero(region == r)[distances[region == r, r].argmin()]
                        for r in regions], dtype=np.int64)
    far = np.full(len(typical), np.inf)
    if len(covered) and len(typical):
        far = (1.0 - x[typical] @ covered.astype(np.float64).T).min(1)
    picked: list[int] = []
    while len(picked) < min(n, len(typical)):
        best = int(np.argmax(far))
        picked.append(int(typical[best]))
        far = np.minimum(far, 1.0 - x[typical] @ x[typical[best]])
        far[best] = -np.inf
    chosen = sample[np.asarray(picked, dtype=np.int64)]
    if len(chosen) < n:  # too few regions: the rest at random
        others = np.setdiff1d(np.arange(len(features)), chosen)
        chosen = np.r_[chosen, rng.choice(others, size=min(n - len(chosen), len(others)),
                                          replace=False)]
    return chosen


SEED_SAMPLE = 4_000  # images the seed draw looks at: plenty for 2n regions, and its rows stay small
SEED_CELLS, SEED_BINS = 4, 6  # ... each seen as a 4 x 4 grid of 6-bin edge-orientation histograms


def select_seed(pixels, ids: np.ndarray, n: int, rng: np.random.Generator,
                covered: np.ndarray | None = None) -> np.ndarray:
    """`n` of `ids` (sorted) for a seed set, before any model exists: select_far on the images'
    edges (edge_histograms), centred and scaled to unit rows, at most SEED_SAMPLE of them drawn
    by `rng`: the typical image of each of 2n regions of the pool, far from each other and from
    `covered` (ids already labeled). Edges, not pixels: on a set of grey shapes regions of pooled
    pixels follow size and contrast, and 20 images held 7.6 of 10 classes (random: 9.0), their
    edges 9.4 (docs/results/seed_draw.md). `pixels`: (N, C, H, W) uint8, indexed by id (a
    memmap: only the sample is read, a block at a time)."""
    ids = np.asarray(ids, dtype=np.int64)
    if n >= len(ids):
        return np.sort(ids)
    sample = ids
    if len(ids) > SEED_SAMPLE:
        sample = np.sort(rng.choice(ids, SEED_SAMPLE, replace=False))
    known = np.asarray([] if covered is None else covered, dtype=np.int64)
    if len(known) > SEED_SAMPLE:
        known = rng.choice(known, SEED_SAMPLE, replace=False)
    want = np.r_[sample, np.sort(known)]
    rows = np.concatenate([edge_histograms(np.asarray(pixels[want[i:i + 32]]))
                           for i in range(0, len(want), 32)])
    rows -= rows.mean(0)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True) + 1e-9
    return np.sort(sample[select_far(rows[:len(sample)], rows[len(sample):], n, rng)])


def edge_histograms(images: np.ndarray, cells: int = SEED_CELLS,
                    bins: int = SEED_BINS) -> np.ndarray:
    """(N, cells * cells * bins) float32 unit rows: for each (C, H, W) uint8 image (colour
    averaged to grey), the gradient magnitude summed by orientation (`bins` over 0-180 degrees)
    in each cell of a `cells` x `cells` grid, as HOG does without its block normalisation: what
    outlines and strokes an image has, and where."""
    grey = images.astype(np.float32).mean(1)
    gy, gx = np.zeros_like(grey), np.zeros_like(grey)
    gy[:, 1:-1] = grey[:, 2:] - grey[:, :-2]
    gx[:, :, 1:-1] = grey[:, :, 2:] - grey[:, :, :-2]
    magnitude = np.hypot(gx, gy)
    which = np.minimum((np.mod(np.arctan2(gy, gx), np.pi) / np.pi * bins).astype(int), bins - 1)
    n, height, width = grey.shape
    rows = np.linspace(0, height, min(cells, height) + 1).astype(int)[:-1]
    cols = np.linspace(0, width, min(cells, width) + 1).astype(int)[:-1]
    out = np.stack([np.add.reduceat(np.add.reduceat(np.where(which == b, magnitude, 0), rows,
                                                    axis=1), cols, axis=2)
                    for b in range(bins)], axis=-1).reshape(n, -1)
    return out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-6)


def select_top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` highest scores, highest first; ties go to the lower index; NaN ranks
    last."""
    if n < 0:
        raise ValueError(f"cannot select {n} images")
    scores = np.asarray(scores, dtype=np.float64)
    key = np.where(np.isnan(scores), np.inf, -scores)  # ascending sort of -score = highest first
    return np.argsort(key, kind="stable")[:n]


def select_balanced(scores: np.ndarray, predicted: np.ndarray, n: int, classes: int) -> np.ndarray:
    """Indices of `n` images, highest score first, at most ceil(n / classes) per class the
    round's model *predicts* (no true label is looked at); where the caps leave places over,
    the next-highest scores fill them. Uncertainty alone piles the picks onto the few classes a
    weak model confuses most and starves the rest (docs/results/recipe.md)."""
    order = select_top(scores, len(scores))
    cap = math.ceil(n / max(classes, 1))
    taken = np.zeros(max(classes, int(np.max(predicted, initial=0)) + 1), dtype=int)
    picked = []
    for i in order:
        if len(picked) == n:
            break
        if taken[predicted[i]] < cap:
            taken[predicted[i]] += 1
            picked.append(i)
    if len(picked) < n:
        chosen = set(picked)
        picked += [i for i in order if i not in chosen][: n - len(picked)]
    return np.asarray(picked, dtype=np.int64)

