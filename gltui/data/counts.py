"""How many images each source folder brought: what `init` and `add` print for folder: data.

An image's name is its path relative to the data folder (`2024/06/IMG_0001.jpg`), so its folder
is the name's parent. One short line per folder, largest first when there are many; past
MAX_LINES folders, one compact line with the largest few and a count of the rest.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from gltui.data.core import IndexNames, shorten

MAX_LINES = 8  # folders listed one a line; more become one summary line
SUMMARY_SHOWN = 5  # folders named in the summary line


def folder_of(name: str) -> str:
    """The folder part of an item name ('' at the top level)."""
    head, sep, _ = str(name).rpartition("/")
    return head if sep else ""


def folder_lines(names: Sequence[str], labels: np.ndarray | None = None,
                 verb: str = "") -> list[str]:
    """'2024/06: 120 images (12 labeled)' per folder, or one summary line for many; [] for
    a flat folder or items without file names (npz, npy, idx, cifar). verb: a word after the
    count ('added')."""
    if isinstance(names, IndexNames) or not len(names):
        return []
    folders = [folder_of(n) for n in names]
    count = Counter(folders)
    if len(count) < 2:
        return []
    labeled: Counter = Counter()
    if labels is not None:
        labeled.update(f for f, y in zip(folders, np.asarray(labels).tolist()) if y >= 0)
    word = f" {verb}" if verb else ""

    def one(folder: str) -> str:
        n, k = count[folder], labeled[folder]
        extra = f" ({k} labeled)" if k else ""
        return (f"{shorten(folder, 60) if folder else '(top level)'}: {n} "
                f"image{'s' if n != 1 else ''}{word}{extra}")

    order = sorted(count, key=lambda f: (-count[f], f))
    if len(count) <= MAX_LINES:
        return [one(f) for f in sorted(count)]
    shown = ", ".join(f"{shorten(f, 30) if f else '(top level)'} {count[f]}"
                      for f in order[:SUMMARY_SHOWN])
    return [f"{len(names)} images{word} from {len(count)} folders; the largest: {shown}, and "
            f"{len(count) - SUMMARY_SHOWN} more folders"]


def skipped_text(skipped: dict[str, int]) -> str:
    """'skipped 10 files gltui does not read as images (.gif 5, .tif 5)', or '' for none: the
    files of a folder: source left out, by extension, in one phrase for init's and add's line."""
    total = sum(skipped.values())
    if not total:
        return ""
    order = sorted(skipped, key=lambda ext: (-skipped[ext], ext))
    shown = ", ".join(f"{shorten(ext, 12)} {skipped[ext]}"
                      for ext in order[:SUMMARY_SHOWN])
    more = ", ..." if len(order) > SUMMARY_SHOWN else ""
    return (f"skipped {total} file{'s' if total != 1 else ''} gltui does not read as images "
            f"({shown}{more})")
