"""Every message the UI passes around, in one module (toolong's layout).

The engine worker turns each engine event into one of these and posts it to the app from its
thread. Epoch and chunk progress can come many times a second, so those messages `can_replace`
an older one of their kind still waiting in the queue: the UI never falls behind the engine.
This module does not import the engine (nor torch); `from_engine` goes by the event's type name.
"""

from __future__ import annotations

from textual.message import Message


class PhaseChanged(Message):
    def __init__(self, run: str, round: int, phase: str) -> None:
        super().__init__()
        self.run, self.round, self.phase = run, round, phase


class EpochProgress(Message):
    def __init__(self, run: str, round: int, epoch: int, max_epochs: int, train_loss: float,
                 val_accuracy: float, best_val_accuracy: float, patience_left: int,
                 seconds: float) -> None:
        super().__init__()
        self.run, self.round, self.epoch, self.max_epochs = run, round, epoch, max_epochs
        self.train_loss, self.val_accuracy = train_loss, val_accuracy
        self.best_val_accuracy, self.patience_left, self.seconds = (
            best_val_accuracy, patience_left, seconds)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EpochProgress)


class ScoreProgress(Message):
    def __init__(self, run: str, round: int, done: int, total: int) -> None:
        super().__init__()
        self.run, self.round, self.done, self.total = run, round, done, total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ScoreProgress)


class RoundDone(Message):
    def __init__(self, run: str, round: int, n_labeled: int, val_accuracy: float,
                 test_accuracy: float | None, seconds: float) -> None:
        super().__init__()
        self.run, self.round, self.n_labeled = run, round, n_labeled
        self.val_accuracy, self.test_accuracy, self.seconds = val_accuracy, test_accuracy, seconds


class QueueArrived(Message):
    def __init__(self, run: str, round: int, size: int) -> None:
        super().__init__()
        self.run, self.round, self.size = run, round, size


class RunFinished(Message):
    def __init__(self, run: str, reason: str) -> None:
        super().__init__()
        self.run, self.reason = run, reason


class DriveEnded(Message):
    """The worker returned: outcome is "label", "done" or "cancelled"."""

    def __init__(self, outcome: str) -> None:
        super().__init__()
        self.outcome = outcome


class DriveFailed(Message):
    """The worker raised: one line for the screen, the traceback for the log."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__()
        self.error, self.detail = error, detail


class QueueChanged(Message):
    """A label, skip or undo was committed on the labeling screen (pending is what is left)."""

    def __init__(self, pending: int, size: int) -> None:
        super().__init__()
        self.pending, self.size = pending, size


_FROM_ENGINE = {
    "PhaseStarted": (PhaseChanged, ("run", "round", "phase")),
    "EpochDone": (EpochProgress, ("run", "round", "epoch", "max_epochs", "train_loss",
                                  "val_accuracy", "best_val_accuracy", "patience_left",
                                  "seconds")),
    "ChunkDone": (ScoreProgress, ("run", "round", "done", "total")),
    "RoundFinished": (RoundDone, ("run", "round", "n_labeled", "val_accuracy", "test_accuracy",
                                  "seconds")),
    "QueueReady": (QueueArrived, ("run", "round", "size")),
    "RunDone": (RunFinished, ("run", "reason")),
}


def from_engine(event) -> Message | None:
    """The message for an engine event (None for an event this UI does not know)."""
    known = _FROM_ENGINE.get(type(event).__name__)
    if known is None:
        return None
    cls, fields = known
    return cls(*(getattr(event, f) for f in fields))
