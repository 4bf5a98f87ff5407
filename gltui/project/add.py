"""`gltui add PROJECT --data SPEC`: more images into an existing project's pool, and where every
image of a project came from (its original file, for exports that copy originals).

The images are read and letterboxed to the project's input shape (aspect kept, black bars), as
`init` letterboxes a mixed folder; a folder: source is read as `init` reads it, recursively, a
top-level sub-folder labeling its images only when it names a class of the project. Exact
duplicates (the same pixels after conversion, by a 128-bit BLAKE2b of the bytes) of an image the
project holds, or of an earlier image of the same batch, are skipped and counted. Labels in the
new data become the new items' true labels (what an oracle answers); a class name the project
does not know is refused.

Item names stay unique within the project (the csv's `file` column names one image): a new image
whose name (its path relative to the added folder) a project item has already gets a suffix,
`IMG_0001~2.jpg`; the batch records the original name, so `export --originals` finds the file.

Atomic: a kill at any instant leaves the old project or the new one. The steps:
  1. the new pixels file (the used rows of pixels.npy, then the new images) is written beside it
     and fsynced;
  2. it is renamed over pixels.npy: the project is still the old one, since no item refers to the
     extra rows (row i of pixels.npy is item i; a later `add` overwrites them);
  3. one transaction inserts the items, the item counts and the source of the batch: the new one.
Before step 1 a write to gltui.db is tried and rolled back, so a database that cannot be written
(read-only, locked) refuses the add before pixels.npy changes.
The add lock is held throughout, so two `add`s cannot interleave (project/locks.py); runs go on
meanwhile and see the new images from their next round (Project.pixels maps the new file). A
temporary pixels file a killed `add` left behind is removed first (under the lock, so it is no
other add's). Near copies (not exact) of images the project holds, or within the batch, are
only warned of (data/duplicates.scan: at most 10,000 images looked at). No torch.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from gltui import data as data_mod
from gltui.data.core import shorten
from gltui.data.duplicates import scan
from gltui.errors import ProjectError
from gltui.fsio import atomic_write
from gltui.project import PIXELS_NAME, Project
from gltui.project.locks import add_lock
from gltui.project.pixels import write_pixels

ADDITIONS = "additions"  # meta: [{"spec", "first", "count", "renamed"?}] per added batch, in
# order; renamed: {item id: original relative path} for the items whose name got a suffix
SUFFIX = "~"  # name~2.png: the second image of that name in the project
HASH_BLOCK = 65536  # images hashed per block of a memory-mapped pool


@dataclass
class AddOutcome:
    added: int
    duplicates: int  # skipped: their pixels are in the project already (or earlier in the batch)
    n_pool: int  # pool images after the add
    note: str | None  # the reader's conversion note, or that a test split was left out
    renamed: dict[str, str] = field(default_factory=dict)  # original name -> unique name given
    folders: list[str] = field(default_factory=list)  # images added per source folder
    skipped: str = ""  # files of the source that are not images gltui reads (data.skipped_text)

    def line(self) -> str:
        """What `gltui add` prints: one line, then one short line per source folder."""
        text = (f"added {self.added} images to the pool ({self.n_pool} now); skipped "
                f"{self.duplicates} exact duplicate{'s' if self.duplicates != 1 else ''}")
        if self.renamed:
            old, new = next(iter(self.renamed.items()))
            n = len(self.renamed)
            text += (f"; {n} name{'s' if n != 1 else ''} the project had already got a suffix "
                     f"({shorten(old, 50)} -> {shorten(new, 50)}{', ...' if n > 1 else ''})")
        if self.skipped:
            text += f"; {self.skipped}"
        return "\n".join([text, *(f"  {line}" for line in self.folders)])


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
    ProjectError or DataError before anything is written on bad input, RunLocked while another
    `add` works on the project."""
    c, h, w = (int(v) for v in project.meta["shape"])
    kind, path = data_mod.parse_spec(spec)
    dataset = data_mod.load(spec, resize=(h, w), channels=c, fit="letterbox",
                            classes=project.classes)
    images = dataset.train.images
    labels = _project_labels(project, dataset)
    notes = [dataset.note] if dataset.note else []
    if dataset.test is not None and len(dataset.test.names):
        notes.append(f"its {len(dataset.test.names)} test images were not added (only the pool "
                     "grows)")
    with add_lock(project):  # one add at a time; runs go on (project/locks.py)
        target = project.path / PIXELS_NAME
        leftover = target.with_name(f".{PIXELS_NAME}.tmp")  # fsio.atomic_write's temporary name
        with contextlib.suppress(OSError):
            leftover.unlink(missing_ok=True)  # a killed add's; ours is made below
        first = project.store.item_end()
        seen = set(pixel_hashes(project.pixels[:first]))
        keep = []
        for i, digest in enumerate(pixel_hashes(images)):
            if digest not in seen:
                seen.add(digest)
                keep.append(i)
        keep = np.asarray(keep, dtype=np.int64)
        given = [str(dataset.train.names[int(i)]) for i in keep]
        names, renamed = unique_names(given, project.store.item_names(range(first)).values())
        if len(keep):
            project.store.check_writable()  # a read-only gltui.db: refused before pixels.npy
            new_rows = images[keep]
            atomic_write(target, lambda fh: _write(fh, [project.pixels[:first], new_rows]))
            batch = {"spec": f"{kind}:{path.resolve()}", "first": first, "count": len(keep)}
            if renamed:
                batch["renamed"] = {str(first + i): given[i] for i in renamed}
            additions = [*project.store.meta().get(ADDITIONS, []), batch]
            project.store.append_items(first, names, labels[keep], {ADDITIONS: additions})
            project.pixels = np.load(target, mmap_mode="r")
            project.meta = project.store.meta()
    if len(keep):  # near copies of what the project holds: a warning, after the lock
        near = scan(project.pixels[:first + len(keep)], new_from=first, seed=first)
        notes += [line] if (line := near.note(str(project.path))) else []
    return AddOutcome(added=len(keep), duplicates=len(images) - len(keep),
                      n_pool=project.store.count_items().get("pool", 0),
                      note="; ".join(notes) or None,
                      renamed={given[i]: names[i] for i in renamed},
                      folders=data_mod.folder_lines(given, labels[keep], "added"),
                      skipped=data_mod.skipped_text(dataset.skipped))


def unique_names(names: list[str], taken: Iterable[str]) -> tuple[list[str], list[int]]:
    """`names` with each one that is in `taken` (or earlier in `names`) given the first free
    suffix before its extension (`a/IMG_1.jpg` -> `a/IMG_1~2.jpg`), and the positions renamed."""
    used = set(taken)
    out, renamed = [], []
    for i, name in enumerate(names):
        if name in used:
            stem, dot, ext = name.rpartition(".")
            if not dot or "/" in ext or not stem or stem.endswith("/"):
                stem, dot, ext = name, "", ""
            k = 2
            while f"{stem}{SUFFIX}{k}{dot}{ext}" in used:
                k += 1
            name = f"{stem}{SUFFIX}{k}{dot}{ext}"
            renamed.append(i)
        used.add(name)
        out.append(name)
    return out, renamed


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
            out[item] = roots[b] / batches[b].get("renamed", {}).get(str(item), names[item])
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
