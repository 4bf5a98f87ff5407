"""Counts in words, for every line a person reads: `count(1, "group")` is "1 group"."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 label', '2 labels'; `plural` where adding an s is wrong ('1 copy', '3 copies')."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
