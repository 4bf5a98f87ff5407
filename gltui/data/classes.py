"""Class names: the one validator every way in uses (--classes, --classes-file, a class sub-folder,
a labels.csv, `c` in the TUI, `gltui classes`).

A class name is what a person reads on screen and what the csv, ImageFolder and Label Studio
exports write, so it must survive all of them: not empty, no comma (a `--classes a,b` list and the
csv's `file,label` rows split on it), no line break or control character, no path separator (an
ImageFolder export makes a folder of it; nor `.` or `..`, which name a folder already: this one
and the one above it), no leading '-' (`gltui classes --rename OLD NEW` must
be able to name it), and at most MAX_NAME characters.

Names are kept in Unicode's composed form (NFC, `normal_form`): `café` typed on one keyboard and
`café` from a macOS file name (decomposed, NFD) look alike and are one class. A folder name or a
label read from a file is put in that form before it is compared with the class list.
"""

from __future__ import annotations

import unicodedata
from typing import Iterable, Sequence

from gltui.data.core import MAX_CLASSES
from gltui.errors import ProjectError

MAX_NAME = 100  # characters: a class name is a label on screen, not a sentence


def normal_form(name: str) -> str:
    """`name` in Unicode's composed form (NFC): how class names are kept and compared."""
    return unicodedata.normalize("NFC", str(name))


def check_class_name(name: str, existing: Sequence[str] = ()) -> str:
    """`name` stripped of surrounding spaces, in normal_form, or ProjectError saying what is
    wrong with it."""
    name = normal_form(str(name).strip())
    shown = name if len(name) <= 40 else name[:40] + "…"
    if not name:
        raise ProjectError("a class name is empty; give every class a name")
    if "," in name:
        raise ProjectError(f"class name {shown!r} holds a comma, which the class list and the csv "
                           "export cannot hold; use another character")
    if any(ch in name for ch in "/\\") or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ProjectError(f"class name {shown!r} holds a path separator or a control character; "
                           "use letters, digits, spaces or punctuation")
    if name in (".", ".."):
        raise ProjectError(f"class name {shown!r} names a folder already (this one or the one "
                           "above it), so an ImageFolder export cannot make it; use another name")
    if name.startswith("-"):
        raise ProjectError(f"class name {shown!r} starts with '-', which a command line reads as "
                           "an option (`gltui classes --rename` could not name it); drop the '-'")
    if len(name) > MAX_NAME:
        raise ProjectError(f"class name {shown!r} is {len(name)} characters long; keep it to "
                           f"{MAX_NAME}")
    if name in {normal_form(e) for e in existing}:
        raise ProjectError(f"class {shown!r} exists already")
    return name


def check_class_names(names: Iterable[str]) -> list[str]:
    """Every name checked (check_class_name) and none given twice; ProjectError naming the first
    problem briefly (a 10,000-name file with a repeat gives one short line)."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        name = check_class_name(name)
        if name in seen:
            shown = name if len(name) <= 40 else name[:40] + "…"
            raise ProjectError(f"class {shown!r} is given twice; name each class once")
        seen.add(name)
        out.append(name)
        if len(out) > MAX_CLASSES:
            raise ProjectError(f"more than {MAX_CLASSES:,} class names; is this the right file?")
    if not out:
        raise ProjectError("no class names given")
    return out
