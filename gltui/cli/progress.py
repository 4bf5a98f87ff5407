"""Headless progress: rich bars on stderr while a run is driven. No Textual.

Round lines go to stdout (one per finished round) so a log of `gltui run --oracle` reads as the
learning curve; the bars go to stderr and vanish when they finish.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from gltui.run import events
from gltui.views.tables import out

err = Console(stderr=True, highlight=False)


class ProgressView:
    """Consumes engine events (gltui.events): one bar for the phase under way, one line per
    round."""

    def __init__(self, enabled: bool = True):
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            # bars only on a terminal: into a file or pipe rich would leave a blank line behind,
            # and a refusal must stay one line
            disable=not (enabled and err.is_terminal),
        )
        self.task = None
        self.phase_started = time.time()

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def _bar(self, description: str, total: float | None, info: str = "") -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(description, total=total, info=info)

    def handle(self, event) -> None:
        if isinstance(event, events.PhaseStarted):
            self.phase_started = time.time()
            label = f"{event.run} r{event.round} {event.phase}"
            self._bar(label, None)
        elif isinstance(event, events.EpochDone):
            info = (f"val {event.val_accuracy:.4f} best {event.best_val_accuracy:.4f} "
                    f"patience {event.patience_left}")
            if self.task is not None:
                self.progress.update(self.task, total=event.max_epochs, completed=event.epoch,
                                     info=info)
        elif isinstance(event, events.ChunkDone):
            if self.task is not None:
                self.progress.update(self.task, total=event.total, completed=event.done,
                                     info="images scored")
        elif isinstance(event, events.RoundFinished):
            test = "   n/a" if event.test_accuracy is None else f"{event.test_accuracy:.4f}"
            out.print(
                f"{event.run} round {event.round:>2}: {event.n_labeled:>6} labeled  "
                f"{event.fit_label:<5} "
                f"{event.val_accuracy:.4f}"
                f"  test {test}  {event.seconds:6.1f} s"
            )
        elif isinstance(event, events.QueueReady):
            if self.task is not None:
                self.progress.remove_task(self.task)
                self.task = None
