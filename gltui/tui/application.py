"""The Textual app: screens, global keys, and the one engine thread that drives the run.

The engine thread opens its own connection to the project, drives the run through
`gltui.run.driver.drive` (the one driver of the CLI too: the same plan, device check and engine)
and posts every engine event back as it came, wrapped in one `EngineEvent` message
(messages.py); the oracle switch reaches the engine as a callable it polls once per label phase,
like cancel. The UI thread only reads the store and commits labels, so it stays responsive while
the engine trains and scores.

Quitting (q, ctrl+c) leaves at once: it asks the engine to stop at its next epoch or chunk and
does not wait for it. That is why the engine runs in a daemon thread of its own rather than a
Textual thread worker (whose executor the exit would wait for, an epoch or more: 7-13 s were
measured): every label is committed on its key press, and a round in flight resumes from its
last checkpoint on the next start (`run_app` ends the process without waiting for the thread,
as a kill -9 would, which the project survives by design). `exit_line` says what was saved.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import traceback
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from gltui.errors import GltuiError, shell_command
from gltui.run import events as ev
from gltui.tui import messages as m
from gltui.tui.commands import palette_commands
from gltui.tui.live import LiveProgress
from gltui.tui.screens.dashboard import DashboardScreen
from gltui.tui.screens.gallery import GalleryScreen
from gltui.tui.screens.help import HelpScreen
from gltui.tui.screens.labeling import LabelingScreen
from gltui.tui.session import Session
from gltui.tui.widgets.title_bar import TitleBar


def _import_engine() -> None:
    """Load the engine (and torch) now, in a thread, rather than on the first label key."""
    import gltui.run.engine  # noqa: F401


T = TypeVar("T")
SCREEN_NAMES = {"dashboard": "Dashboard", "labeling": "Label", "gallery": "Gallery"}


class GltuiApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "gltui"
    BINDINGS = [
        Binding("d", "show('dashboard')", "Dashboard"),
        Binding("l", "show('labeling')", "Label"),
        Binding("g", "show('gallery')", "Gallery"),
        Binding("k", "check", "Check", show=False),
        Binding("o", "toggle_oracle", "Oracle"),
        Binding("r", "resume", "Resume", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit(130)", "Quit", show=False, priority=True),  # exit 130, as the CLI
    ]

    def __init__(self, session: Session, image_class, *, device: str | None = None,
                 progress_hz: float = 4.0, show_timing: bool = True, autostart: bool = True,
                 autostart_delay: float | None = 1.5):
        super().__init__()
        self.session = session
        self.image_class = image_class
        self.device = device
        self.progress_hz = progress_hz
        self.show_timing = show_timing
        self.autostart = autostart
        self.autostart_delay = autostart_delay
        self.live = LiveProgress()
        self._summary = None  # the run's summary as last read (last_summary)
        self._cancel = threading.Event()
        self._quitting = False
        self._exit_code = 0  # 130 once ctrl+c asked to quit (the headless CLI's code)
        # the oracle reads the dataset's own labels: offered only where every pool image has one
        self.has_oracle = session.project.has_true_labels()
        self._autostart_timer = None
        self.engine_thread: threading.Thread | None = None  # the drive under way, if any
        self._classes_at_drive = 0
        self.in_flight: tuple[int | None, str | None] | None = None  # (round, phase) at quit
        self._saved_at_start = session.saved_counts()

    # -- start ----------------------------------------------------------------------------------

    def on_mount(self) -> None:
        if "gltui.run.engine" not in sys.modules:  # a daemon thread: quitting never waits for it
            threading.Thread(target=_import_engine, name="gltui-preload", daemon=True).start()
        self.install_screen(DashboardScreen(), "dashboard")
        self.install_screen(LabelingScreen(), "labeling")
        self.install_screen(GalleryScreen(), "gallery")
        summary = self._summary = self.session.summary()
        waiting = summary.phase == "label" and summary.n_queued > 0
        self.push_screen("labeling" if waiting else "dashboard")
        if self.autostart and summary.phase != "done" and not waiting:
            self.start_drive()

    @property
    def last_summary(self):
        """The run's summary as last read from the store (screens read it; the app keeps it)."""
        return self._summary

    # -- screens --------------------------------------------------------------------------------

    def action_show(self, name: str) -> None:
        while isinstance(self.screen, ModalScreen):
            self.pop_screen()
        if self.screen is not self.get_screen(name):
            self.switch_screen(name)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Hide the key of the screen that is showing (the footer has room for the others)."""
        if action == "show" and parameters and self.screen.id == parameters[0]:
            return False
        if action == "toggle_oracle" and not self.has_oracle:
            return False  # no true labels: neither shown in the footer nor bound
        return True

    def action_check(self) -> None:
        """The check page (screens/check.py) over the current screen; back on it, the screen
        reads the store afresh (a fix there changed a label)."""
        from gltui.tui.screens.check import CheckScreen

        while isinstance(self.screen, ModalScreen) and not isinstance(self.screen, CheckScreen):
            self.pop_screen()
        if not isinstance(self.screen, CheckScreen):
            self.push_screen(CheckScreen(), lambda _: self._update_screen(full=True))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def refresh_title(self, screen: Screen | None = None) -> None:
        screen = screen or self.screen
        summary = self.last_summary
        if summary is None:
            return
        running = self.live.worker in ("running", "stopping") and self.live.phase is not None
        for bar in screen.query(TitleBar):
            bar.show(project=Path(self.session.path).name, run=summary.name,
                     strategy=summary.strategy,
                     round=self.live.round if running else summary.round,
                     phase=self.live.phase if running else summary.phase,
                     worker=self.live.worker, oracle=self.live.oracle,
                     screen=SCREEN_NAMES.get(screen.id or "", ""))

    def _update_screen(self, *, full: bool, queue: bool = False) -> None:
        """Bring the visible screen up to date; the others catch up when they are shown."""
        if full or self._summary is None:
            self._summary = self.session.summary()
        screen = self.screen
        if isinstance(screen, DashboardScreen):
            screen.update_all() if full else screen.update_progress()
        elif isinstance(screen, LabelingScreen) and (full or queue):
            screen.reload()
        self.refresh_title(screen)

    # -- the engine worker ----------------------------------------------------------------------

    def start_drive(self) -> None:
        """Drive the run in the background until it needs labels (or is done)."""
        if self._autostart_timer is not None:
            self._autostart_timer.stop()
            self._autostart_timer = None
        if self.live.worker in ("running", "stopping") or self._quitting:
            return
        self._cancel.clear()
        self.live.worker, self.live.error = "running", None
        self.live.phase = None
        # the engine sizes its model's output by the classes it read at the start of the drive
        self._classes_at_drive = len(self.session.class_list.fold)
        self.engine_thread = threading.Thread(target=self._drive, name="gltui-engine",
                                              daemon=True)
        self.engine_thread.start()
        self.refresh_title()

    def _post(self, message) -> None:
        """A message from the engine thread; none once the app has closed (a quit does not wait
        for the engine, which may report an epoch after the app is gone)."""
        try:
            self.post_message(message)
        except RuntimeError:  # the event loop is closed
            pass

    def _drive(self) -> str:
        """The engine thread: drive the run until it needs labels, is done, or is cancelled."""
        from gltui.project import Project
        from gltui.run import driver

        try:
            with Project.open(self.session.path) as project:  # one connection per thread
                # The same driver as `gltui run`; this app holds the run's lock (run_app).
                outcome = driver.drive(
                    project, self.session.run, oracle=lambda: self.live.oracle,
                    device=self.device, cancel=self._cancel.is_set, locked=True,
                    on_event=lambda event: self._post(m.EngineEvent(event)))
        except Exception as err:  # noqa: BLE001 - shown on screen, the app keeps running
            line = (str(err).splitlines() or [type(err).__name__])[0]
            self._post(m.DriveFailed(line, traceback.format_exc()))
            return "failed"
        self._post(m.DriveEnded(outcome))
        return outcome

    def on_engine_event(self, message: m.EngineEvent) -> None:
        event = message.event
        if isinstance(event, ev.PhaseStarted):
            self.live.phase_changed(event.round, event.phase)
            self._update_screen(full=True)
        elif isinstance(event, ev.EpochDone):
            self.live.epoch_done(event)
            self._update_screen(full=False)
        elif isinstance(event, ev.ChunkDone):
            self.live.chunk_done(event)
            self._update_screen(full=False)
        elif isinstance(event, ev.RoundFinished):
            self.live.round_done(event, self.show_timing)
            self._update_screen(full=True)
        elif isinstance(event, ev.QueueReady):
            self._update_screen(full=True)
        elif isinstance(event, ev.RunDone):
            self.notify(f"The run is done: {event.reason}", title="Run done", timeout=8)

    def on_drive_ended(self, msg: m.DriveEnded) -> None:
        self.live.worker = "idle"
        self.live.phase = None
        if self._quitting:
            self.exit(self._exit_code, return_code=self._exit_code)
            return
        self._update_screen(full=True)
        if msg.outcome == "label":
            if self.live.oracle:  # switched on while the worker stopped for labels
                self.start_drive()
                return
            summary = self.last_summary
            self.notify(f"Round {summary.round}: {summary.n_queued} images to label (l).",
                        title="Queue ready")
        elif msg.outcome == "cancelled":
            self.notify("The engine stopped; r resumes where it stopped.")

    def on_drive_failed(self, msg: m.DriveFailed) -> None:
        self.live.worker, self.live.error = "failed", msg.error
        self.log.error(msg.detail)
        if self._quitting:
            self.exit(1)
            return
        self.notify(msg.error, title="The engine stopped", severity="error", timeout=15)
        self._update_screen(full=True)

    # -- writes: the one error boundary of the UI thread ------------------------------------

    def write(self, what: str, call: Callable[[], T]) -> tuple[bool, T | None]:
        """Run one write action of a screen (a label, skip, undo, review fix, history edit, new
        class, check fix or dismissal): (True, its result), or, when it could not be written
        (another process holds the write lock, a full disk, a read-only folder, a refused name),
        (False, None) after one line in place. Nothing was written then, and the screen stays
        where it was."""
        try:
            return True, call()
        except GltuiError as err:
            line = str(err)
        except (sqlite3.Error, OSError) as err:  # the store and fsio translate theirs; a net
            line = (str(err).splitlines() or [type(err).__name__])[0]
        self.notify(f"The {what} was not saved: {line}", title="Not saved", severity="error",
                    timeout=15)
        return False, None

    # -- labels and the oracle ------------------------------------------------------------------

    def on_queue_changed(self, msg: m.QueueChanged) -> None:
        """The labeling screen committed a label, skip or undo."""
        pending, size = msg.pending, msg.size
        if self._autostart_timer is not None:
            self._autostart_timer.stop()
            self._autostart_timer = None
        if pending == 0 and size and self.autostart_delay is not None:
            if self.autostart_delay <= 0:
                self.start_drive()
            else:
                self._autostart_timer = self.set_timer(self.autostart_delay, self.start_drive)
        if self._summary is not None:
            self._summary.n_queued = pending

    def on_summary_read(self, msg: m.SummaryRead) -> None:
        """A screen read the summary afresh: the title and the banner show that one."""
        self._summary = msg.summary

    def action_toggle_oracle(self) -> None:
        if not self.has_oracle:
            self.notify("This project has no true labels, so there is no oracle: you label.")
            return
        self.live.oracle = not self.live.oracle
        if self.live.oracle:
            self.notify("Oracle on: the dataset's own labels label each queue. "
                        "o again stops at the next label phase.", title="Oracle")
            summary = self.session.summary()
            if summary.phase != "done":
                self.start_drive()
        else:
            self.notify("Oracle off: the run stops at the next label phase.", title="Oracle")
        self._update_screen(full=True)

    def action_resume(self) -> None:
        if self.live.worker in ("running", "stopping"):
            self.notify("The engine is already working.")
            return
        summary = self.session.summary()
        if summary.phase == "done":
            self.notify(f"The run is done: {summary.stop_reason}")
            return
        if summary.phase == "label" and summary.n_queued:
            oracle = ", or o for the oracle" if self.has_oracle else ""
            self.notify(f"{summary.n_queued} images wait for labels (l){oracle}.")
            return
        self.start_drive()

    def action_toggle_grid(self) -> None:
        self.action_show("labeling")
        self.get_screen("labeling").action_toggle_grid()

    # -- quitting -------------------------------------------------------------------------------

    def action_quit(self, code: int = 0) -> None:
        """Quit at once (q: exit code 0; ctrl+c: 130, as the headless CLI). A running engine is
        asked to stop at its next epoch or chunk, and not waited for: everything is committed
        already, and the round in flight resumes from its last checkpoint on the next start."""
        self._exit_code = max(self._exit_code, code)
        if self.live.worker in ("running", "stopping"):
            self._cancel.set()
            self.in_flight = (self.live.round, self.live.phase)
            self.live.worker = "stopping"
        self._quitting = True
        self.exit(self._exit_code, return_code=self._exit_code)

    def exit_line(self) -> str:
        """One line for after the exit: what this session saved, and what resumes."""
        labels, audit = self.session.saved_counts()
        given = max(0, labels + audit - sum(self._saved_at_start))
        what = ("no new labels" if given == 0 else
                f"{given} label{'s' if given != 1 else ''} saved")
        if self.session.relabeled:
            what += f", {self.session.relabeled} changed"
        line = (f"gltui: {what} this session ({labels} in run {self.session.run!r}"
                + (f", {audit} audit labels" if audit else "") + ")")
        if self.in_flight is not None:
            round, phase = self.in_flight
            what = f"round {round} ({phase})" if round is not None else "the round in flight"
            self.session.refresh_classes()
            grown = len(self.session.class_list.fold) != self._classes_at_drive
            if phase == "train" and grown:  # its checkpoint has an output fewer: trained anew
                line += (f"; {what} trains again from its first epoch on the next start, with "
                         "an output for the class added meanwhile "
                         f"({shell_command(self.session.path)})")
            else:
                line += (f"; {what} resumes from its last checkpoint on the next start "
                         f"({shell_command(self.session.path)})")
        return line

    # -- command palette ------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Dashboard", "Run, progress, learning curves, class counts",
                            lambda: self.action_show("dashboard"))
        yield SystemCommand("Label", "Label the queued images",
                            lambda: self.action_show("labeling"))
        yield SystemCommand("Gallery", "Most and least confusing pool images",
                            lambda: self.action_show("gallery"))
        yield SystemCommand("Check labels", "Likely label mistakes, near-duplicates and leaks: "
                            "fix or dismiss each", self.action_check)
        yield SystemCommand("Grid view", "Label ten images at a time / one large image",
                            self.action_toggle_grid)
        if self.has_oracle:
            yield SystemCommand("Oracle on/off", "Let the dataset's labels label the queues",
                                self.action_toggle_oracle)
        yield SystemCommand("Resume run", "Train, score and query until the next queue",
                            self.action_resume)
        yield SystemCommand("Help", "Keys and what the numbers mean", self.action_help)
        yield from palette_commands(self)  # export, report, status
        yield from super().get_system_commands(screen)
