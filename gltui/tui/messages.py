"""Every message the UI passes around, in one module (toolong's layout).

The engine worker posts each engine event (a `gltui.events` dataclass) to the app from its thread,
wrapped in one `EngineEvent`; the app dispatches on the event's type. Epoch and chunk progress can
come many times a second, so such a message `can_replace` the one of the same kind and run just
before it in the queue: the UI never falls behind the engine. The check page's thread worker
posts its progress and its result to the page (`CheckProgress`, `CheckDone`, `CheckFailed`).
`gltui.events` is torch-free, and so is this module. Messages that only carry fields are
dataclasses (Textual's Message calls `__post_init__`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from gltui.run.events import ChunkDone, EpochDone, Event


class EngineEvent(Message):
    """One event of the engine, as it came (PhaseStarted, EpochDone, ChunkDone, ...)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        """A newer epoch (or chunk) report of the same run supersedes an older one."""
        if not isinstance(message, EngineEvent):
            return False
        mine, theirs = self.event, message.event
        return (isinstance(mine, (EpochDone, ChunkDone)) and type(theirs) is type(mine)
                and theirs.run == mine.run)


@dataclass
class DriveEnded(Message):
    """The worker returned: outcome is "label", "done" or "cancelled"."""

    outcome: str


@dataclass
class DriveFailed(Message):
    """The worker raised: one line for the screen, the traceback for the log."""

    error: str
    detail: str


@dataclass
class QueueChanged(Message):
    """A label, skip or undo was committed on the labeling screen (pending is what is left)."""

    pending: int
    size: int


@dataclass
class SummaryRead(Message):
    """A screen read the run's summary from the store afresh (the title bar shows it)."""

    summary: Any


@dataclass
class CheckProgress(Message):
    """The check page's worker trained `done` of its `folds` cross-fitted models."""

    done: int
    folds: int


@dataclass
class CheckDone(Message):
    """The check page's worker finished: its outputs.check.CheckResult (dismissals left out)."""

    result: Any


@dataclass
class CheckFailed(Message):
    """The check page's worker raised: one line for the page, the traceback for the log."""

    error: str
    detail: str
