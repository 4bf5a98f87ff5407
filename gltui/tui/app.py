"""Entry points of the TUI: `make_app()` builds the app (the CLI and the tests use it alike) and
`run_app()` runs it for `gltui PROJECT`.

This module imports neither Textual nor torch at import time: `--fps` must reach Textual
(TEXTUAL_FPS) before Textual is first imported, and the renderer must be chosen (textual-image
probes the terminal) before the app owns the terminal.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gltui.tui.images import RENDERERS, image_widget_class


def make_app(
    project: str | Path | None = None,
    run: str = "main",
    *,
    images: str = "auto",
    fps: float | None = None,
    device: str | None = None,
    show_timing: bool = True,
    autostart: bool = True,
    autostart_delay: float | None = 1.5,
    session=None,
    image_class=None,
):
    """The gltui app on a project (or on an open `Session`).

    images: the renderer (auto|sixel|tgp|halfcell|unicode|none); tests pin halfcell or unicode.
    fps: a lower redraw rate for slow links (progress redraws follow it too).
    show_timing: False leaves elapsed times and ETAs out (deterministic snapshots).
    autostart: drive the run at start when it is not waiting for labels.
    autostart_delay: seconds between the last label of a queue and retraining (a moment to undo);
        None never retrains by itself (benchmarks).
    """
    from gltui.tui.application import GltuiApp
    from gltui.tui.session import Session

    if session is None:
        session = Session(project, run)
    if image_class is None:
        image_class = image_widget_class(images)
    hz = 4.0 if not fps else max(0.5, min(4.0, float(fps)))
    return GltuiApp(session, image_class, device=device, progress_hz=hz,
                    show_timing=show_timing, autostart=autostart, autostart_delay=autostart_delay)


def run_app(
    project: str | Path,
    run: str = "main",
    images: str = "auto",
    fps: float | None = None,
    device: str | None = None,
) -> int:
    """Run the TUI until the user quits, then say in one line what was saved. Holds the run's
    lock for the whole session, so no other process drives the same run meanwhile. Returns the
    exit code: 0 (130 after ctrl+c), or 2 with one line on stderr for bad input (no project,
    unknown run, the run locked by another process). Quitting while the engine works ends the
    process at once (`_leave_now`)."""
    if images not in RENDERERS:
        return _fail(f"--images {images!r}: choose one of {', '.join(RENDERERS)}")
    if fps:
        os.environ["TEXTUAL_FPS"] = str(max(1, round(float(fps))))  # read at Textual's import
    from gltui.errors import ProjectError, RunLocked
    from gltui.project import run_lock
    from gltui.tui.session import Session

    try:
        session = Session(project, run)
    except ProjectError as err:
        return _fail(f"gltui: {err}")
    try:
        try:
            with run_lock(session.project, run):
                app = make_app(session=session, image_class=image_widget_class(images), fps=fps,
                               device=None if device in (None, "auto") else device)
                app.run()
                code = app.return_code or 0
                print(app.exit_line(), flush=True)
                if app.engine_thread is not None and app.engine_thread.is_alive():
                    _leave_now(session, code)
                return code
        except RunLocked as err:
            return _fail(f"gltui: {err}")
    finally:
        session.close()


def _leave_now(session, code: int) -> None:
    """End the process without waiting for the engine thread, which stops only at its next
    epoch or chunk (seconds): everything is committed, and what a kill -9 leaves the next start
    resumes (README: every phase commits with its outcome; checkpoints are renamed into place).
    The kernel drops the run's lock."""
    session.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _fail(message: str) -> int:
    print(message.splitlines()[0], file=sys.stderr)
    return 2
