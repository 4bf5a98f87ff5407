"""`gltui add PROJECT --data SPEC`: more images into an existing project's pool, and where every
image of a project came from (its original file, for exports that copy originals).

The images are read and converted to the project's input shape as `init` converts them; exact
duplicates (the same pixels after conversion, by a 128-bit BLAKE2b of the bytes) of an image the
project holds, or of an earlier image of the same batch, are skipped and counted. Labels in the
new data become the new items' true labels (what an oracle answers); a class name the project
does not know is refused.

Atomic: a kill at any instant leaves the old project or the new one. The steps:
  1. the new pixels file (the used rows of pixels.npy, then the new images) is written beside it
     and fsynced;
  2. it is renamed over pixels.npy: the project is still the old one, since no item refers to the
     extra rows (row i of pixels.npy is item i; a later `add` overwrites them);
  3. one transaction inserts the items, the item counts and the source of the batch: the new one.
Every run's lock is held throughout, so nothing drives a run meanwhile (and two `add`s cannot
interleave). Runs see the new images from their next scoring pass. No torch.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gltui import data as data_mod
from gltui.fsio import atomic_write
from gltui.project import PIXELS_NAME, Project, run_lock
from gltui.errors import ProjectError
from gltui.project.pixels import write_pixels

ADDITIONS = "additions"  # meta: [{"spec", "first", "count"}] per added batch, in order
HASH_BLOCK = 65536  # images hashed per block of a memory-mapped pool


@dataclass
class AddOutcome:
    added: int
    duplicates: int  # skipped: their pixels are in the project already (or earlier in the batch)
    n_pool: int  # pool images after the add
    note: str | None  # the reader's conversion note, or that a test split was left out

    def line(self) -> str:
        return (f"added {self.added} images to the pool ({self.n_pool} now); skipped "
                f"{self.duplicates} exact duplicate{'s' if self.duplicates != 1 else ''}")


def pixel_hashes(images: np.ndarray) -> list[bytes]:
    """A 128-bit BLAKE2b digest of each image's uint8 bytes (C, H, W order): equal digests mean
    equal pixels. Reads a memory-mapped array block by block."""
    out: list[bytes] = []
    for s in range(0, len(images), HASH_BLOCK):
        block = np.ascontiguousarray(images[s:s + HASH_BLOCK], dtype=np.uint8)
        out.extend(hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in block)
    return out


def add_images(project: Project, spec: str) -> AddOutcome:
    """Add the images of `spec` to the pool of `project` (see the module doc). Raises
    ProjectError or DataError before anything is written on bad input, RunLocked while a run
    is being driven."""
    c, h, w = (int(v) for v in project.meta["shape"])
    kind, path = data_mod.parse_spec(spec)
    dataset = data_mod.load(spec, resize=(h, w), channels=c)
    images = dataset.train.images
    labels = _project_labels(project, dataset)
    notes = [dataset.note] if dataset.note else []
    if dataset.test is not None and len(dataset.test.names):
        notes.append(f"its {len(dataset.test.names)} test images were not added (only the pool "
                     "grows)")
    with contextlib.ExitStack() as locks:
        for run in project.store.runs():
            locks.enter_context(run_lock(project, run.name))
        first = project.store.item_end()
        seen = set(pixel_hashes(project.pixels[:first]))
        keep = []
        for i, digest in enumerate(pixel_hashes(images)):
            if digest not in seen:
                seen.add(digest)
                keep.append(i)
        keep = np.asarray(keep, dtype=np.int64)
        if len(keep):
            target = project.path / PIXELS_NAME
            new_rows = images[keep]
            atomic_write(target, lambda fh: _write(fh, [project.pixels[:first], new_rows]))
            names = [str(dataset.train.names[int(i)]) for i in keep]
            batch = {"spec": f"{kind}:{path.resolve()}", "first": first, "count": len(keep)}
            additions = [*project.store.meta().get(ADDITIONS, []), batch]
            project.store.append_items(first, names, labels[keep], {ADDITIONS: additions})
            project.pixels = np.load(target, mmap_mode="r")
            project.meta = project.store.meta()
    return AddOutcome(added=len(keep), duplicates=len(images) - len(keep),
                      n_pool=project.store.count_items().get("pool", 0),
                      note="; ".join(notes) or None)


def _write(fh, parts: list[np.ndarray]) -> None:
    write_pixels(fh, parts)
    fh.flush()


def _project_labels(project: Project, dataset: data_mod.Dataset) -> np.ndarray:
    """The new images' labels as the project's class indices (-1 unknown); a class name the
    project does not know is a ProjectError."""
    n = len(dataset.train.names)
    if dataset.train.labels is None:
        return np.full(n, -1, dtype=np.int64)
    theirs = np.asarray(dataset.train.labels, dtype=np.int64)
    used = sorted(set(np.unique(theirs[theirs >= 0]).tolist()))
    unknown = [dataset.classes[i] for i in used if dataset.classes[i] not in project.classes]
    if unknown:
        raise ProjectError(
            f"{dataset.spec}: class {unknown[0]!r} is not a class of {project.path} (classes: "
            f"{', '.join(project.classes)}); rename or leave out those images")
    index = np.asarray([project.classes.index(name) if name in project.classes else -1
                        for name in dataset.classes] or [-1], dtype=np.int64)
    return np.where(theirs >= 0, index[np.clip(theirs, 0, None)], -1)


# ---- where each image came from ------------------------------------------------------------------


def original_paths(project: Project, items: np.ndarray, names: dict[int, str]) -> dict[int, Path]:
    """The original image file of each item, for items from `folder:` data (init's or an added
    batch's); items of other kinds of data have none and are left out. A folder that is no longer
    there is a ProjectError naming it."""
    batches = [{"spec": project.meta.get("spec", ""), "first": 0},
               *project.meta.get(ADDITIONS, [])]
    firsts = np.asarray([b["first"] for b in batches])
    roots: dict[int, Path | None] = {}
    out: dict[int, Path] = {}
    for item in np.asarray(items, dtype=np.int64).tolist():
        b = int(np.searchsorted(firsts, item, side="right")) - 1
        if b not in roots:
            roots[b] = _folder_root(batches[b]["spec"])
        if roots[b] is not None:
            out[item] = roots[b] / names[item]
    return out


def _folder_root(spec: str) -> Path | None:
    kind, _, rest = str(spec).partition(":")
    if kind != "folder":
        return None
    root = Path(rest).expanduser().resolve()
    if not root.is_dir():
        raise ProjectError(f"{root}: the image folder this project was made from is not there "
                           "any more; put it back to export the original files")
    return root
