"""Near-duplicate images: groups of images that are copies of one another up to a small shift, a
change of brightness or contrast, or re-compression. numpy only (no torch), so `init` and `add`
use it as well as `gltui check`.

A perceptual hash alone does not separate near copies from different images of the same kind (on
MNIST a pHash distance that catches 38 of 40 planted copies also matches ~100,000 natural pairs
of the same digit). What does, in two stages:

1. candidates: each image is shifted (sub-pixel, in the Fourier domain) so that its intensity
   centroid sits at the centre, blurred and shrunk to a coarse grid (~8x8 per channel), and made
   mean-centred and unit-norm; chunked matrix products give each image's nearest later images by
   cosine (at most NEIGHBOURS, above CANDIDATE_MIN). Centring undoes a shift, so a shifted copy
   is its source's nearest neighbour here; without it a 1-px shift of a thin stroke sinks the
   copy below hundreds of look-alikes.
2. verification: the distance of a candidate pair is 1 - the largest normalised correlation
   (mean-centred, unit-norm pixels of the full-size image's interior) over the 9 alignments of
   +-1 px. On MNIST, 1,000 planted copies (1-px shift, brightness +-10 %, JPEG q75) measured
   <= 0.008; no two distinct digits of 10,000 came under 0.0136, and 2 pairs of 59,000 under
   0.01 (plain vertical 1s, near-identical pixel for pixel). MAX_DISTANCE sits between; it is
   calibrated on MNIST (docs/results/health_check.md).

Pairs within MAX_DISTANCE are joined into groups (union-find).

Outliers come from the same coarse vectors: an image's score is 1 - the mean cosine of its
OUTLIER_NEIGHBOURS most similar other images; an image far from all others (a robust z of its
score over OUTLIER_Z, and the score over OUTLIER_MIN_SCORE) is unusual for the set. On 10,000
MNIST digits with 16 planted images, the ten most unusual were all planted (noise, blank,
striped, inverted), digits on their side came 12th-46th, filled discs not at all (they look
like zeros); 2 natural digits passed z 8, none the score floor (the highest scored 0.241).

Cost: the candidate stage is
N^2/2 dot products of ~50 numbers; 10,000 MNIST images take ~2.5 s on one core in all, 59,000
~16 s. Images are read block by block, so a memory-mapped pool is never loaded whole. `scan`
is the bounded look `init` and `add` take: at most SCAN_LIMIT images and SCAN_BYTES of pixels,
new ones first.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass

import numpy as np

from gltui.errors import shell_command

MAX_DISTANCE = 0.01  # 1 - correlation: near copies <= 0.008, distinct digits >= 0.0136 (MNIST)
CANDIDATE_MIN = 0.96  # coarse cosine a pair needs to be verified (near copies: >= 0.98)
NEIGHBOURS = 8  # candidates kept per image: a group of more copies still joins through them
GRID = 8  # the coarse grid's side, about (cells per channel)
READ_BLOCK = 1024  # images read and converted at a time (the FFT holds ~16x their bytes)
ROW_BLOCK = 512  # query rows per matrix product (512 x N float32)
PAIR_BLOCK = 1024  # candidate pairs verified at a time
SCAN_LIMIT = 10_000  # images `scan` looks at: ~2.5 s on one core (init and add stay quick)
SCAN_BYTES = 8 << 20  # ... and at most this many bytes of pixels (10,000 MNIST images, 2,730 of
# 3x32x32): the look's memory and time stay bounded whatever the image size
OUTLIER_NEIGHBOURS = 5  # the neighbours an image's outlier score averages
OUTLIER_Z = 8.0  # robust z (median, MAD) an outlier's score passes (2 natural MNIST digits of
# 10,000 do) ...
OUTLIER_MIN_SCORE = 0.35  # ... and the score itself: planted noise, blanks, stripes and inverted
# digits scored 0.575-1.0 on MNIST, its most unusual natural digits ~0.18, and the two ordinary
# shapes a hand trial's 271 colour photos flagged without it 0.275 and 0.334
CHECK_LIMIT = 100_000  # images `gltui check` compares: ~45 s on one core (N^2: 59,000 take ~16 s)
CHECK_BYTES = 256 << 20  # ... and at most this many bytes of pixels (87,381 images of 3x32x32)


@dataclass(frozen=True)
class DuplicateGroup:
    members: np.ndarray  # indices into the images given, ascending
    distance: float  # the largest verified distance that joined the group (0 = identical)


def near_duplicates(images: np.ndarray, *, max_distance: float = MAX_DISTANCE,
                    neighbours: int = NEIGHBOURS,
                    vectors: np.ndarray | None = None) -> list[DuplicateGroup]:
    """Groups of near-identical images among uint8 `images` (N, C, H, W), closest groups first.
    An image belongs to one group at most; images with no near copy are in none. `vectors`:
    their coarse_vectors, where the caller has them already."""
    images = images if images.ndim == 4 else images[:, None]
    n = len(images)
    if n < 2:
        return []
    pairs = candidate_pairs(coarse_vectors(images) if vectors is None else vectors, neighbours)
    if not len(pairs):
        return []
    dist = pair_distances(images, pairs)
    keep = dist <= max_distance
    return _groups(n, pairs[keep], dist[keep])


@dataclass(frozen=True)
class DuplicateScan:
    """What `scan` found: groups holding a new image, their images, and how much was looked at."""

    groups: int
    images: int
    checked: int  # images compared
    total: int  # images there were

    def note(self, project: str) -> str | None:
        """The one warning line `init` and `add` print, or None when nothing was found."""
        if not self.groups:
            return None
        among = (f"among {self.checked:,} of the {self.total:,} images (a random draw)"
                 if self.checked < self.total else f"among the {self.total:,} images")
        return (f"{self.groups} group{'s' if self.groups != 1 else ''} of near-duplicate images "
                f"({self.images} images) {among}; `{shell_command('check', project)}` lists them")


def scan(images: np.ndarray, *, new_from: int = 0, limit: int = SCAN_LIMIT,
         seed: int = 0) -> DuplicateScan:
    """Near-duplicate groups that hold at least one image at or after `new_from` (0: any), among
    at most `limit` images: every new one (up to `limit`) and a seeded random draw of the rest.
    For `init` (new_from 0) and `add` (new_from: the first added image)."""
    images = images if images.ndim == 4 else images[:, None]
    n = len(images)
    limit = bounded_limit(images, limit, SCAN_BYTES)
    if n > limit:
        rows = bounded_rows(n, np.arange(new_from, n), limit, seed)
        picked = gather(images, rows)
    else:
        rows, picked = np.arange(n), images
    groups = [g for g in near_duplicates(picked) if rows[g.members[-1]] >= new_from]
    return DuplicateScan(groups=len(groups), images=sum(len(g.members) for g in groups),
                         checked=len(rows), total=n)


def bounded_limit(images: np.ndarray, limit: int, max_bytes: int) -> int:
    """How many of `images` a bounded look compares: `limit`, fewer where their pixels would
    pass `max_bytes` (at least 2)."""
    return max(2, min(limit, max_bytes // max(1, images[0].nbytes if len(images) else 1)))


def bounded_rows(n: int, first: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """At most `limit` of the rows 0..n-1, ascending: the rows in `first` (a seeded random draw
    of them if they are more than `limit`), then a seeded random draw of the others. The same
    arguments give the same rows, so a finding a person dismissed is found, and left out,
    again."""
    rng = np.random.default_rng(seed)
    first = np.asarray(first, dtype=np.int64)
    chosen = rng.choice(first, size=min(len(first), limit), replace=False)
    others = np.setdiff1d(np.arange(n), first, assume_unique=True)
    rest = rng.choice(others, size=min(len(others), limit - len(chosen)), replace=False)
    return np.sort(np.concatenate([rest, chosen]))


def coarse_vectors(images: np.ndarray) -> np.ndarray:
    """(N, d) float32, unit-norm: each image centred on its intensity centroid, blurred, shrunk
    to a ~GRID x GRID grid per channel and mean-centred (module docstring, stage 1)."""
    n, c, h, w = images.shape
    f = max(1, round(min(h, w) / GRID))
    ky, kx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    blur = np.exp(-2 * (np.pi * f / 4) ** 2 * (ky ** 2 + kx ** 2))  # Gaussian, sigma f/4 px
    out = np.empty((n, c * (h // f) * (w // f)), dtype=np.float32)
    for s in range(0, n, READ_BLOCK):
        x = np.asarray(images[s:s + READ_BLOCK], dtype=np.float32)
        grey = x.mean(1)
        weight = grey - grey.min(axis=(1, 2), keepdims=True)
        total = weight.sum(axis=(1, 2)) + 1e-6
        dy = (h - 1) / 2 - (weight.sum(2) * np.arange(h)).sum(1) / total
        dx = (w - 1) / 2 - (weight.sum(1) * np.arange(w)).sum(1) / total
        phase = np.exp(-2j * np.pi * (ky * dy[:, None, None] + kx * dx[:, None, None]))
        x = np.fft.irfft2(np.fft.rfft2(x) * (phase * blur)[:, None], s=(h, w))
        x = x[..., :h // f * f, :w // f * f].reshape(len(x), c, h // f, f, w // f, f).mean((3, 5))
        out[s:s + len(x)] = _unit(x.reshape(len(x), -1))
    return out


def outliers(vectors: np.ndarray, *, neighbours: int = OUTLIER_NEIGHBOURS,
             z: float = OUTLIER_Z,
             min_score: float = OUTLIER_MIN_SCORE) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of the images unlike all others (module docstring), most unusual first:
    score = 1 - the mean cosine of an image's `neighbours` nearest others, kept where its robust
    z over all scores passes `z` and the score `min_score`. Each ROW_BLOCK of rows is multiplied
    by every row."""
    n = len(vectors)
    k = min(neighbours, n - 1)
    if k < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    score = np.empty(n, dtype=np.float32)
    for s in range(0, n, ROW_BLOCK):
        sims = vectors[s:s + ROW_BLOCK] @ vectors.T
        sims[np.arange(len(sims)), np.arange(s, s + len(sims))] = -1.0  # not itself
        best = -np.partition(-sims, k - 1, axis=1)[:, :k]
        score[s:s + len(sims)] = 1 - best.mean(axis=1)
    median = float(np.median(score))
    spread = 1.4826 * float(np.median(np.abs(score - median))) or 1e-6
    rows = np.flatnonzero(((score - median) / spread > z) & (score >= min_score))
    rows = rows[np.argsort(-score[rows], kind="stable")]
    return rows, score[rows]


def candidate_pairs(vectors: np.ndarray, neighbours: int = NEIGHBOURS,
                    minimum: float = CANDIDATE_MIN) -> np.ndarray:
    """(P, 2) int64 pairs i < j: for each i its `neighbours` most similar later images whose
    cosine is at least `minimum`. Each block of rows is multiplied by the rows after its start
    only, and only each row's `neighbours` best are kept (argpartition), so memory stays at one
    ROW_BLOCK x N block however alike the images are."""
    n = len(vectors)
    found = []
    for s in range(0, n, ROW_BLOCK):
        e = min(n, s + ROW_BLOCK)
        sims = vectors[s:e] @ vectors[s:].T  # (rows, n - s)
        sims[np.tril_indices(e - s, 0, sims.shape[1])] = -1.0  # self and earlier images
        k = min(neighbours, sims.shape[1])
        cols = np.argpartition(-sims, k - 1, axis=1)[:, :k]  # each row's k best, any order
        score = np.take_along_axis(sims, cols, axis=1)
        rows, which = np.nonzero(score >= minimum)
        if len(rows):
            found.append(np.stack([rows + s, cols[rows, which] + s], axis=1))
    return np.concatenate(found).astype(np.int64) if found else np.zeros((0, 2), np.int64)


def pair_distances(images: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """1 - the largest normalised correlation of each pair over the +-1 px alignments (module
    docstring, stage 2): the interior of the first image against each shifted window of the
    second. float32 (P,)."""
    n, c, h, w = images.shape
    out = np.empty(len(pairs), dtype=np.float32)
    for s in range(0, len(pairs), PAIR_BLOCK):
        block = pairs[s:s + PAIR_BLOCK]
        a = np.asarray(images[block[:, 0]], dtype=np.float32)
        b = np.asarray(images[block[:, 1]], dtype=np.float32)
        if h < 3 or w < 3:  # too small to shift: plain correlation
            out[s:s + len(block)] = 1 - (_unit(a.reshape(len(a), -1))
                                         * _unit(b.reshape(len(b), -1))).sum(1)
            continue
        inner = _unit(a[..., 1:-1, 1:-1].reshape(len(a), -1))
        best = np.full(len(block), -1.0, dtype=np.float32)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                window = _unit(b[..., dy:h - 2 + dy, dx:w - 2 + dx].reshape(len(b), -1))
                np.maximum(best, np.einsum("ij,ij->i", inner, window), out=best)
        out[s:s + len(block)] = 1 - best
    return out


def gather(images: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """images[rows] (rows ascending), read block by block. For a memory-mapped pool the pages
    each block touched are dropped from this process's memory after it (MADV_DONTNEED: they are
    read again from the file if needed), so a draw spread over a large pool never holds it all."""
    out = np.empty((len(rows), *images.shape[1:]), dtype=images.dtype)
    handle = getattr(images, "_mmap", None)  # np.memmap's mapping (None for an in-memory array)
    for s in range(0, len(rows), READ_BLOCK):
        out[s:s + READ_BLOCK] = images[rows[s:s + READ_BLOCK]]
        if handle is not None and hasattr(mmap, "MADV_DONTNEED"):
            handle.madvise(mmap.MADV_DONTNEED)
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows mean-centred and scaled to unit norm (a flat row stays all zeros: it matches
    nothing)."""
    x = x - x.mean(1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norm > 1e-6, norm, np.inf)).astype(np.float32)


def _groups(n: int, pairs: np.ndarray, dist: np.ndarray) -> list[DuplicateGroup]:
    """Union-find over the verified pairs; each group with the largest distance that joined it,
    closest groups first (then by first member)."""
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for (i, j) in pairs.tolist():
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    members: dict[int, list[int]] = {}
    worst: dict[int, float] = {}
    for (i, j), d in zip(pairs.tolist(), dist.tolist()):
        r = root(i)
        worst[r] = max(worst.get(r, 0.0), d)
    for i in np.unique(pairs).tolist():
        members.setdefault(root(i), []).append(i)
    groups = [DuplicateGroup(np.asarray(sorted(m), dtype=np.int64), worst[r])
              for r, m in members.items()]
    return sorted(groups, key=lambda g: (g.distance, int(g.members[0])))
