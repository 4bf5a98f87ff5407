"""The queue at a glance: one cell per entry, most confusing first. A labeled entry shows the key
of its class (0-9, as typed; a class past key 9: its first letter), · is pending, - skipped,
? unsure; the cursor is reversed. Long queues show a window around the cursor."""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.widgets import Static


class QueueStrip(Static):
    DEFAULT_CSS = "QueueStrip { height: 2; text-wrap: nowrap; text-overflow: ellipsis; }"

    def show(self, entries, cursor: int, class_name: Callable[[int | None], str],
             class_key: Callable[[int], int | None] = lambda index: None) -> None:
        width = max(10, (self.content_size.width or 80))
        cells = max(1, (width - 1) // 2)
        start = 0
        if len(entries) > cells:
            start = min(max(0, cursor - cells // 2), len(entries) - cells)
        strip = Text(no_wrap=True, overflow="crop")
        for i in range(start, min(len(entries), start + cells)):
            e = entries[i]
            if e.status == "labeled":
                key = class_key(e.label)
                mark = str(key) if key is not None and key < 10 else class_name(e.label)[:1]
                style = "green"
            elif e.status == "skipped":
                mark, style = "-", "yellow"
            elif e.status == "unsure":
                mark, style = "?", "magenta"
            else:
                mark, style = "·", ""
            if i == cursor:
                style = "reverse bold"
            strip.append(mark, style=style)
            strip.append(" ")
        pending = sum(e.status == "pending" for e in entries)
        labeled = sum(e.status == "labeled" for e in entries)
        unsure = sum(e.status == "unsure" for e in entries)
        skipped = len(entries) - pending - labeled - unsure
        info = Text(no_wrap=True, overflow="ellipsis")
        info.append(f"{cursor + 1}/{len(entries)}", style="bold")
        info.append(f"  ·  {pending} pending · {labeled} labeled · {skipped} skipped", style="dim")
        if unsure:
            info.append(f" · {unsure} unsure", style="dim")
        both = Text("\n", no_wrap=True, overflow="crop").join([strip, info])
        both.no_wrap = True
        self.update(both)
