"""The labeling screen's banner: one line saying what the person may do now, or why there is
nothing to label (the run trains, failed, or is done). A pure function of the screen's list and
the app's live state; it draws nothing itself."""

from __future__ import annotations

from rich.text import Text


def banner(screen) -> Text:
    """The line above the labeling screen's image: what the person may do now, or why there is
    nothing to label."""
    app = screen.app
    live = app.live
    if screen.provisional:
        return _provisional(screen)
    if screen.entries and screen.pending() == 0:
        if live.worker == "running":
            return Text("Queue done: the engine is retraining…", style="bold yellow")
        return Text(f"All {len(screen.entries)} done. Retraining starts in a moment "
                    "(u undoes the last label).", style="bold green")
    if screen.entries:
        return Text("")
    summary = app.last_summary
    if summary is not None and summary.phase == "done":
        return Text(f"The run is done: {summary.stop_reason or ''}. "
                    "d: dashboard · g: gallery · q: quit", style="bold green")
    if live.worker == "running":
        what = {"train": "training", "evaluate": "evaluating", "score": "scoring the pool",
                "query": "choosing the next images",
                "label": "labeling (oracle)" if app.has_oracle else "labeling"}
        phase = what.get(live.phase or "", live.phase or "working")
        return Text(f"Round {live.round}: {phase}… the next queue appears here when it is "
                    "ready (d: dashboard).", style="bold yellow")
    if live.worker == "failed":
        return Text(f"The engine stopped: {live.error} (r retries)", style="bold red")
    return Text("Nothing to label right now (r resumes the run).", style="dim")



def _provisional(screen) -> Text:
    """While a round trains: the provisional image under the cursor, and what it is for."""
    live, entry = screen.app.live, screen.current
    what = "an audit image (never trained on)" if getattr(entry, "audit", False) else \
        "a random pool image (counts for the next round)"
    if live.worker == "failed":
        return Text(f"The engine stopped: {live.error} (r retries)", style="bold red")
    working = (f"round {live.round} {live.phase or 'working'}" if live.worker == "running"
               else "the next queue is on its way")
    if entry is None or entry.status != "pending":
        return Text(f"While {working}: nothing more to offer; the next queue appears here.",
                    style="bold yellow")
    return Text(f"While {working}: {what}.", style="bold cyan")
