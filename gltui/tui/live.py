"""The live state of the run being driven: what the progress panel and the title bar show.

Fed by the worker's messages on the UI thread; knows nothing of Textual widgets. Timings come from
`time.monotonic()`; the panel leaves them out when the app runs with `show_timing=False` (tests,
snapshots), so what is drawn is then a pure function of the messages received.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class LiveProgress:
    worker: str = "idle"  # idle | running | stopping | failed
    oracle: bool = False  # the oracle labels the queues (toggled with `o`)
    phase: str | None = None
    round: int | None = None
    phase_started: float = 0.0
    # training
    epoch: int = 0
    max_epochs: int = 0
    val_accuracy: float | None = None
    best_val_accuracy: float | None = None
    patience_left: int | None = None
    epoch_seconds: list[float] = field(default_factory=list)
    # scoring
    scored: int = 0
    to_score: int = 0
    score_started: float = 0.0
    score_start_count: int = 0
    # outcome lines
    recent: list[str] = field(default_factory=list)
    error: str | None = None

    def phase_changed(self, round: int, phase: str) -> None:
        self.round, self.phase = round, phase
        self.phase_started = time.monotonic()
        if phase == "train":
            self.epoch, self.max_epochs = 0, 0
            self.val_accuracy = self.best_val_accuracy = self.patience_left = None
            self.epoch_seconds = []
        if phase == "score":
            self.scored = self.to_score = 0
            self.score_started = 0.0

    def epoch_done(self, msg) -> None:
        self.round, self.phase = msg.round, "train"
        self.epoch, self.max_epochs = msg.epoch, msg.max_epochs
        self.val_accuracy, self.best_val_accuracy = msg.val_accuracy, msg.best_val_accuracy
        self.patience_left = msg.patience_left
        self.epoch_seconds.append(float(msg.seconds))

    def chunk_done(self, msg) -> None:
        self.round, self.phase = msg.round, "score"
        if not self.score_started:  # the first report says where a (resumed) pass starts
            self.score_started, self.score_start_count = time.monotonic(), msg.done
        self.scored, self.to_score = msg.done, msg.total

    def round_done(self, msg, show_timing: bool = True) -> None:
        test = "" if msg.test_accuracy is None else f"  test {msg.test_accuracy:.3f}"
        took = f"  ({msg.seconds:.0f} s)" if show_timing else ""
        self.recent.append(f"round {msg.round}: {msg.n_labeled} labeled  "
                           f"{msg.fit_label} {msg.val_accuracy:.3f}{test}{took}")
        del self.recent[:-4]

    # -- estimates ------------------------------------------------------------------------------

    def epoch_time(self) -> float | None:
        recent = self.epoch_seconds[-5:]
        return sum(recent) / len(recent) if recent else None

    def train_eta(self) -> tuple[float, float] | None:
        """(seconds if early stopping comes as soon as it can, seconds at the epoch limit)."""
        per = self.epoch_time()
        if per is None or not self.max_epochs:
            return None
        left = max(0, self.max_epochs - self.epoch)
        soon = min(left, self.patience_left if self.patience_left is not None else left)
        return soon * per, left * per

    def score_eta(self) -> tuple[float, float] | None:
        """(images per second, seconds left) of the scoring pass under way."""
        if not self.score_started or self.scored <= self.score_start_count:
            return None
        seconds = max(1e-6, time.monotonic() - self.score_started)
        rate = (self.scored - self.score_start_count) / seconds
        return rate, (self.to_score - self.scored) / rate
