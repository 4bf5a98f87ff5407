"""The engine's progress events: plain dataclasses, no torch, so every consumer (the headless
progress bars, the TUI) can import them without loading the learning stack."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PhaseStarted:
    run: str
    round: int
    phase: str


@dataclass
class EpochDone:
    run: str
    round: int
    epoch: int
    max_epochs: int
    train_loss: float
    val_accuracy: float
    best_val_accuracy: float
    patience_left: int
    seconds: float


@dataclass
class ChunkDone:
    run: str
    round: int
    done: int  # images scored so far in this pass
    total: int


@dataclass
class RoundFinished:
    run: str
    round: int
    n_labeled: int
    val_accuracy: float
    test_accuracy: float | None
    seconds: float
    validated: bool = True  # False: no validation split, val_accuracy is the training set's

    @property
    def fit_label(self) -> str:
        """How a view names val_accuracy: "val", or "train" without a validation split."""
        return "val" if self.validated else "train"


@dataclass
class QueueReady:
    run: str
    round: int
    size: int


@dataclass
class RunDone:
    run: str
    reason: str


Event = PhaseStarted | EpochDone | ChunkDone | RoundFinished | QueueReady | RunDone
