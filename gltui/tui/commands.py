"""What the command palette (ctrl+p) reaches beyond the keys: the exports, the report and the
status, through the same functions as `gltui export`, `gltui report` and `gltui status`.

Exports and the report are written under the project folder (`exports/`, `report/`), each in a
thread worker with its own connection to the project, so the labeling screen never waits; a
notification names what was written, or the one line of what went wrong. Each export gets a new
name (the round and the time), so an earlier one is never overwritten.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from rich.text import Text
from textual.app import SystemCommand

# format, what it is, the name's ending (a folder where there is none)
EXPORTS = (
    ("csv", "file,label CSV of every label", ".csv"),
    ("labelstudio", "Label Studio JSON, predictions as pre-annotations", ".json"),
    ("imagefolder", "the original images in one folder per class", ""),
    ("model", "the round's model (gltui.load_model reads it)", ""),
)


def palette_commands(app) -> Iterator[SystemCommand]:
    """The palette's export, report and status commands for the app's session."""
    for fmt, what, _ in EXPORTS:
        yield SystemCommand(f"Export {fmt}", f"{what}, into exports/ of the project",
                            partial(start_export, app, fmt))
    yield SystemCommand("Report", "learning curves, class histograms and galleries into report/",
                        partial(start_report, app))
    yield SystemCommand("Status", "every run of the project, as `gltui status` prints it",
                        partial(show_status, app))


def export_path(project_path: Path, run: str, round: int, fmt: str) -> Path:
    ending = next(end for f, _, end in EXPORTS if f == fmt)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(project_path) / "exports" / f"{run}-round{round}-{fmt}-{stamp}{ending}"


def start_export(app, fmt: str) -> None:
    session = app.session
    round = app.last_summary.round if app.last_summary is not None else 0
    out = export_path(session.path, session.run, round, fmt)
    app.notify(f"Exporting {fmt} to {out} …", title="Export")
    app.run_worker(partial(_export, app, session.path, session.run, fmt, out), thread=True,
                   group="palette", exit_on_error=False)


def _export(app, path: Path, run: str, fmt: str, out: Path) -> None:
    from gltui.outputs.export import export
    from gltui.project import Project

    def job() -> str:
        with Project.open(path) as project:  # one connection per thread
            out.parent.mkdir(parents=True, exist_ok=True)
            n = export(project, run, fmt, out)
        return f"wrote {out}" if fmt == "model" else f"{n} images to {out}"

    _report_back(app, "Export", job)


def start_report(app) -> None:
    out = Path(app.session.path) / "report"
    app.notify(f"Writing the report into {out} …", title="Report")
    app.run_worker(partial(_report, app, app.session.path, out), thread=True, group="palette",
                   exit_on_error=False)


def _report(app, path: Path, out: Path) -> None:
    from gltui.outputs.report import write_report
    from gltui.project import Project

    def job() -> str:
        with Project.open(path) as project:
            return f"wrote {write_report(project, out)}"

    _report_back(app, "Report", job)


def _report_back(app, title: str, job) -> None:
    """Run job in this worker thread; its line, or its error's first line, as a notification."""
    try:
        line, severity = job(), "information"
    except Exception as err:  # noqa: BLE001 - one line on screen; the app keeps running
        line, severity = (str(err).splitlines() or [type(err).__name__])[0], "error"
    app.call_from_thread(app.notify, line, title=title, severity=severity, timeout=10)


def status_text(project) -> Text:
    """`gltui status`'s tables for an open project, as text for the screen."""
    from gltui.views.tables import curve_table, status_table

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):  # the tables print to stdout (progress.out)
        summaries = project.summaries()
        status_table(project, summaries)
        curve_table(summaries)
    return Text.from_ansi(buffer.getvalue())


def show_status(app) -> None:
    from gltui.tui.screens.help import TextOverlay

    app.push_screen(TextOverlay(status_text(app.session.project), title="Status"))
