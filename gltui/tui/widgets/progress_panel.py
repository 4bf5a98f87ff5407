"""The phase under way: epochs with validation accuracy and patience (or, without a validation
split, the training accuracy of a fixed schedule), or scoring chunks, with an estimate of the
time left. Redraws at most `hz` times a second whatever the event rate. The oracle is offered
only where the project has true labels."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from gltui.tui.live import LiveProgress


def _bar(fraction: float, width: int) -> str:
    fraction = min(max(fraction, 0.0), 1.0)
    full = int(fraction * width)
    return "█" * full + "░" * (width - full)


def _secs(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


class ProgressPanel(Static):
    DEFAULT_CSS = "ProgressPanel { height: auto; min-height: 5; }"

    def __init__(self, *, hz: float = 4.0, show_timing: bool = True, id: str | None = None):
        super().__init__(id=id)
        self.interval = 1.0 / max(0.2, hz)
        self.show_timing = show_timing
        self._last = 0.0
        self._timer = None
        self._args = None

    def show(self, live: LiveProgress, summary, *, urgent: bool = False) -> None:
        """Draw now if urgent or the last draw is old enough, else once the interval is up."""
        self._args = (live, summary)
        wait = self._last + self.interval - time.monotonic()
        if urgent or wait <= 0:
            self._draw()
        elif self._timer is None:
            self._timer = self.set_timer(wait, self._draw)

    def _draw(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        if self._args is not None:
            self.update(render(*self._args, show_timing=self.show_timing,
                               width=max(20, self.content_size.width or 60),
                               oracle=getattr(self.app, "has_oracle", True)))


def render(live: LiveProgress, summary, *, show_timing: bool, width: int,
           oracle: bool = True) -> Text:
    """oracle: the project has true labels, so `o` (the oracle) is offered; summary.validated:
    it has a validation split, so epochs report validation accuracy and may stop early."""
    text = Text(no_wrap=True, overflow="ellipsis")
    bar_w = max(10, min(40, width - 30))
    phase = live.phase if live.worker in ("running", "stopping") else summary.phase
    rnd = live.round if live.worker in ("running", "stopping") and live.round is not None \
        else summary.round
    if live.worker == "failed":
        text.append("The engine stopped with an error:\n", style="bold red")
        text.append(f"{live.error}\n")
        text.append("Fix it and press r to retry, or quit: everything committed is kept.",
                    style="dim")
        return text
    if live.worker in ("running", "stopping"):
        text.append(f"round {rnd} · ", style="bold")
        text.append(f"{phase}", style="bold yellow")
        if live.worker == "stopping":
            text.append("  stopping after this epoch/chunk…", style="red")
        text.append("\n")
        if phase == "train" and live.max_epochs:
            text.append(f"epoch {live.epoch}/{live.max_epochs} ")
            text.append(_bar(live.epoch / live.max_epochs, bar_w), style="green")
            text.append("\n")
            validated = getattr(summary, "validated", True)
            if validated:
                text.append(f"val acc {live.val_accuracy:.3f} · best "
                            f"{live.best_val_accuracy:.3f} · patience {live.patience_left}\n")
            else:  # a fixed schedule on every label: the accuracy is the training set's
                text.append(f"train acc {live.val_accuracy:.3f} · fixed schedule\n")
            eta = live.train_eta()
            if show_timing and eta:
                soon, late = eta if validated else (eta[1], eta[1])
                span = _secs(soon) if _secs(soon) == _secs(late) else \
                    f"{_secs(soon)} (early stop) to {_secs(late)} (epoch limit)"
                text.append(f"{live.epoch_time():.1f} s/epoch · ETA {span}", style="dim")
        elif phase == "score" and live.to_score:
            text.append(f"scored {live.scored:,}/{live.to_score:,} ")
            text.append(_bar(live.scored / live.to_score, bar_w), style="cyan")
            text.append("\n")
            eta = live.score_eta()
            if show_timing and eta:
                rate, left = eta
                text.append(f"{rate:,.0f} images/s · ETA {_secs(left)}", style="dim")
        elif phase == "train":
            text.append("starting the round (loading data, first epoch)…", style="dim")
        else:
            text.append(f"{phase}…", style="dim")
    elif summary.phase == "label":
        text.append(f"round {summary.round} · ", style="bold")
        text.append("waiting for labels", style="bold cyan")
        text.append(f"\n{summary.n_queued} images queued: press l to label them"
                    + (", or o to let the oracle label" if oracle else ""))
    elif summary.phase == "done":
        text.append("run done", style="bold green")
        text.append(f": {summary.stop_reason or ''}")
    else:
        text.append(f"round {summary.round} · {summary.phase} (paused)\n", style="bold")
        text.append("press r to resume", style="dim")
    if live.recent:
        text.append("\n")
        for line in live.recent[-3:]:
            text.append(f"\n{line}", style="dim")
    return text
