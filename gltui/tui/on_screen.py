"""Which image was on screen when a key was pressed: the rule that a key acts on the image the
person saw, never on one that arrived after it.

A key event carries the time it was read from the terminal (`Message.time`, Textual's clock).
The labeling screen records, after each repaint that put a new image under the cursor, when it
did (`drawn`). A key then acts on the image that was on screen at its time (`at`): normally the
one under the cursor; the provisional image a person was looking at when a new queue replaced it
between the key press and its handling; or nothing, when the image on screen then was answered
already (a key pressed twice before the next image was drawn).
"""

from __future__ import annotations

try:  # the clock Textual stamps its messages with (time.monotonic off Windows)
    from textual._time import get_time as now
except ImportError:  # pragma: no cover - a Textual that moved it
    from time import monotonic as now

KEEP = 64  # drawn images remembered: keys are handled within a few frames of their press


def same_image(a, b) -> bool:
    """Two entries for one image of one list (a queue re-read gives new entry objects)."""
    return a is b or (a is not None and b is not None and type(a) is type(b)
                      and a.item == b.item)


class OnScreen:
    """The entries drawn under the cursor, with the time each first appeared on screen."""

    def __init__(self) -> None:
        self.drawn_at: list[tuple[float, object]] = []  # oldest first
        self.showing = None  # the entry show() last put under the cursor (drawn or not yet)

    def showing_changed(self, entry) -> bool:
        """Whether `entry`, about to be shown under the cursor, is another image than the last
        one shown (the caller then records it once it is painted)."""
        if same_image(entry, self.showing):
            self.showing = entry
            return False
        self.showing = entry
        return True

    def drawn(self, entry) -> None:
        """`entry` is on screen from now (called after the repaint that drew it)."""
        self.drawn_at.append((now(), entry))
        del self.drawn_at[:-KEEP]

    def at(self, when: float):
        """The entry that was on screen at time `when`, or None (nothing drawn yet then)."""
        found = None
        for t, entry in self.drawn_at:
            if t > when:
                break
            found = entry
        return found
