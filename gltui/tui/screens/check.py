"""Check: the run's likely label mistakes and the project's near-duplicate groups, as `gltui
check` finds them (outputs/check.py), each fixed or dismissed with one key.

The check trains its cross-fitted models in a Textual thread worker with its own connection to
the project, so the page says "checking… (about N s)" and stays responsive; closing the page
cancels the worker after the epoch under way. Then the findings: label issues first, most
suspicious first (file, given label → likely class, score), then the near-duplicate groups
(each file with its split, LEAK where an evaluation image sits beside a training one), then the
outliers (images unlike every other one), with the highlighted image beside them. Findings a
person dismissed before are left out by the check. Opened again with nothing changed that the
check reads (outputs/check.check_key: the labels, classes, images, schedule), the page shows the
session's last check at once, less what was dismissed since, instead of training again.

    f, enter   a label issue: relabel the image to the likely class, as the history page
               relabels (Session.relabel: the old label row is marked undone, never deleted)
    d          dismiss the finding: its key goes into the project's meta, and no later check
               (this page or `gltui check`) lists it again
    u          take back the last dismissal of this visit: the finding is listed again, in
               its place
A near-duplicate group and an outlier have no fix: gltui has no action that takes an image out
of a run (a skip only leaves a queued image for now), so only `d` is offered there, and the page
says so. Each write goes through `app.write`: one that cannot be written is one line, and the
finding stays.
"""

from __future__ import annotations

import time
import traceback
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from gltui.outputs.check import DuplicateGroup, LabelIssue, Outlier
from gltui.tui import messages as m
from gltui.tui.screens.full import FullScreen
from gltui.tui.widgets.table_page import table_beside_image
from gltui.views.words import count

NO_FIX = "near copies: d dismisses them; no fix (gltui cannot take a copy out of a run)"
NO_FIX_OUTLIER = "an outlier: d dismisses it; no fix (gltui cannot take an image out of a run)"
# the columns' headers; their widths follow the table's width and the findings (column_widths)
COLUMNS = ("finding", "file", "label", "score")
FIXED = {"finding": 7, "score": 5}
NARROWEST_FILE = 8


def column_widths(table_width: int, label_needed: int) -> dict[str, int]:
    """The columns' widths in a table `table_width` cells wide (each column also takes 2 cells
    of padding): "label → likely" whole where it fits (a person must tell "three → two" from
    "three → one"), the file column the rest and at least NARROWEST_FILE; at 80 columns the
    table is 46 wide, 44 beside its scrollbar. The side panel shows the highlighted finding in
    full either way."""
    room = max(0, table_width - 2 * len(COLUMNS) - sum(FIXED.values()))
    label = max(len("label"), min(label_needed, room - NARROWEST_FILE))
    return {**FIXED, "file": max(NARROWEST_FILE, room - label), "label": label}


def seconds_left(elapsed: float, done: int, folds: int, prior: float) -> float:
    """The check's time still to go once `done` of its `folds` models are trained in `elapsed`
    seconds: the folds take alike, so the measured pace, whatever the machine's load (the prior
    estimate assumes an idle core: on a busy machine a check shown as 31 s took 150 s)."""
    if done < 1 or folds < 1:
        return prior
    return elapsed / done * max(0, folds - done)


class CheckScreen(FullScreen):
    DEFAULT_CSS = """
    #check-title { height: 2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Back"),
        Binding("k", "dismiss", "Back", show=False),
        Binding("f", "fix", "Fix"),
        Binding("enter", "fix", "Fix", show=False, priority=True),  # before the table's select
        Binding("d", "drop", "Dismiss"),
        Binding("u", "undo_drop", "Undo dismiss"),
    ]

    def __init__(self) -> None:
        super().__init__(id="check")
        self.findings: list[LabelIssue | DuplicateGroup] = []
        self.result = None  # the worker's CheckResult, once it came
        self.error: str | None = None
        self.estimate = 0.0  # seconds, before the first fold: one core's, from the label count
        self.started = 0.0
        self.estimated_at = 0.0  # when `estimate` was made: the title counts down from it
        self.dropped: list[tuple[int, object]] = []  # (index, finding) dismissed this visit
        self.folds_done: tuple[int, int] | None = None
        self.reused = False  # the session's last check, shown again (nothing changed since)

    def compose(self) -> ComposeResult:
        yield Static(id="check-title")
        yield from table_beside_image(self.app.image_class, "check")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        self._columns(table)
        table.focus()
        session = self.app.session
        self.estimate = session.check_seconds()
        self.started = self.estimated_at = time.monotonic()
        last = session.last_check()
        if last is not None:  # nothing changed since the last check: no model to train
            self.reused = True
            self.on_check_done(m.CheckDone(last))
            return
        self.set_interval(1.0, self._tick)
        self._title()
        self.run_worker(partial(self._check, session.path, session.run, self.app.device),
                        thread=True, group="check", exit_on_error=False)

    # -- the worker (its own thread and connection) ---------------------------------------------

    def _check(self, path, run: str, device: str | None) -> None:
        from textual.worker import get_current_worker

        from gltui.errors import Cancelled
        from gltui.outputs.check import check
        from gltui.project import Project

        worker = get_current_worker()
        try:
            with Project.open(path) as project:
                result = check(project, run, device=device, cancel=lambda: worker.is_cancelled,
                               on_fold=lambda done, n: self.post_message(m.CheckProgress(done, n)))
        except Cancelled:  # the page was closed: nobody waits for the result
            return
        except Exception as err:  # noqa: BLE001 - one line on the page, the app keeps running
            line = (str(err).splitlines() or [type(err).__name__])[0]
            self.post_message(m.CheckFailed(line, traceback.format_exc()))
            return
        self.post_message(m.CheckDone(result))

    def on_check_progress(self, msg: m.CheckProgress) -> None:
        self.folds_done = (msg.done, msg.folds)
        self.estimate = seconds_left(time.monotonic() - self.started, msg.done, msg.folds,
                                     self.estimate)
        self.estimated_at = time.monotonic()
        self._title()

    def on_check_failed(self, msg: m.CheckFailed) -> None:
        self.error = msg.error
        self.log.error(msg.detail)
        self._title()
        self.query_one("#check-note", Static).update("")

    def on_check_done(self, msg: m.CheckDone) -> None:
        if not self.reused:
            self.app.session.remember_check(msg.result)
        self.result = msg.result
        self.findings = [*msg.result.label_issues, *msg.result.duplicates,
                         *msg.result.outliers]
        self.fill(keep=0)

    # -- showing --------------------------------------------------------------------------------

    def _tick(self) -> None:
        """Once a second while the check runs: the time left counts down between folds."""
        if self.result is None and self.error is None:
            self._title()

    def _title(self) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        if self.error is not None:
            title.append(f"The check stopped: {self.error}", style="bold red")
        elif self.result is None:
            left = " left" if self.folds_done else ""
            to_go = self.estimate - (time.monotonic() - self.estimated_at)
            title.append(f"checking… (about {max(1, round(to_go))} s{left})",
                         style="bold")
            if self.folds_done:
                title.append(f"  {self.folds_done[0]} of {self.folds_done[1]} cross-fitted "
                             "models trained", style="dim")
        else:
            issues = sum(isinstance(f, LabelIssue) for f in self.findings)
            groups = [f for f in self.findings if isinstance(f, DuplicateGroup)]
            leaks = sum(g.leak for g in groups)
            odd = sum(isinstance(f, Outlier) for f in self.findings)
            title.append(f"{count(issues, 'label issue')} (most suspicious first), "
                         f"{count(len(groups), 'near-duplicate group')}"
                         + (f" ({leaks} LEAKS)" if leaks else "")
                         + (f", {count(odd, 'outlier')}" if odd else ""), style="bold")
            if self.result.dismissed:
                title.append(f"  {self.result.dismissed} dismissed earlier, not listed",
                             style="dim")
            if self.reused:
                title.append("  (the last check: nothing changed since)", style="dim")
            if self.result.weak_models():
                title.append(f"  models agree with {self.result.agreement:.0%} of the labels: "
                             "most label issues are their errors", style="yellow")
        title.append("\n")
        if self.result is not None and not self.findings:
            title.append("Nothing left to look at. Escape goes back.", style="dim")
        elif isinstance(self.current, DuplicateGroup):
            title.append(NO_FIX, style="yellow")
        elif isinstance(self.current, Outlier):
            title.append(NO_FIX_OUTLIER, style="yellow")
        elif self.current is not None:
            title.append("f or enter relabels it to the likely class, d dismisses it", style="dim")
        self.query_one("#check-title", Static).update(title)

    def _columns(self, table: DataTable) -> None:
        """(Re)build the columns for the table's width and the findings' label cells."""
        needed = max((len(self._cells(f)[2]) for f in self.findings), default=0)
        # the vertical scrollbar (findings outgrow the page) covers the table's last cells: the
        # score column was cut to "scor" at every width
        width = (table.size.width or 46) - table.styles.scrollbar_size_vertical
        widths = column_widths(width, needed)
        table.clear(columns=True)
        for header in COLUMNS:
            table.add_column(header, width=widths[header])

    @staticmethod
    def _cells(f: LabelIssue | DuplicateGroup | Outlier) -> tuple[str, str, str, str]:
        if isinstance(f, LabelIssue):
            return ("label", f.file, f"{f.label} → {f.likely}", f"{f.score:.3f}")
        if isinstance(f, Outlier):
            return ("outlier", f.file, f.split, f"{f.score:.3f}")
        return ("LEAK" if f.leak else "copies", ", ".join(f.files), "", f"{f.distance:.3f}")

    def on_resize(self) -> None:
        if self.result is not None:  # after the layout, when the table has its new width
            row = max(0, self.query_one(DataTable).cursor_row)
            self.call_after_refresh(self.fill, row)

    def fill(self, keep: int = 0) -> None:
        table = self.query_one(DataTable)
        self._columns(table)
        for i, f in enumerate(self.findings):
            cells = self._cells(f)  # Text below: a name's brackets are not markup
            table.add_row(*(Text(c, no_wrap=True, overflow="ellipsis") for c in cells),
                          key=str(i))
        if self.findings:
            table.move_cursor(row=min(keep, len(self.findings) - 1))
        self._show(table.cursor_row)

    @property
    def current(self) -> LabelIssue | DuplicateGroup | Outlier | None:
        row = self.query_one(DataTable).cursor_row
        return self.findings[row] if 0 <= row < len(self.findings) else None

    def _show(self, index: int) -> None:
        self._title()
        self.refresh_bindings()
        note = self.query_one("#check-note", Static)
        f = self.current
        if f is None:
            note.update("")
            return
        session = self.app.session
        item = f.items[0] if isinstance(f, DuplicateGroup) else f.item
        self.query_one("#check-image").image = session.picture(item)
        if isinstance(f, LabelIssue):
            note.update(Text(f"{f.file}\nlabeled {f.label}; the models that never saw it say "
                             f"{f.likely} (score {f.score:.3f})\nf relabels it {f.likely}, "
                             "d dismisses"))
        elif isinstance(f, Outlier):
            note.update(Text(f"{f.file} [{f.split}]\nunlike every other image of the project "
                             f"(score {f.score:.3f}): a wrong file, a blank or damaged scan?\n"
                             "d dismisses; nothing to fix"))
        else:
            files = "\n".join(f"{name} [{split}]" for name, split in zip(f.files, f.splits))
            what = "LEAK: an evaluation image beside a training one\n" if f.leak else ""
            note.update(Text(f"{what}{files}\n(distance {f.distance:.3f}; shown: the first)\n"
                             "d dismisses; nothing to fix"))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Fix only on a label issue, dismiss only on a finding (hidden from the footer else)."""
        if action == "fix":
            return isinstance(self.current, LabelIssue)
        if action == "drop":
            return self.current is not None
        if action == "undo_drop":
            return bool(self.dropped)
        return True

    # -- the keys -------------------------------------------------------------------------------

    def action_fix(self) -> None:
        f = self.current
        if not isinstance(f, LabelIssue):
            self.app.bell()
            return
        session = self.app.session
        saved, _ = self.app.write("fix", lambda: session.relabel(f.item, f.likely_index))
        if saved:
            self.notify(f"{f.file}: {f.label} → {f.likely}")
            self._leave(f)

    def action_drop(self) -> None:
        f = self.current
        if f is None:
            self.app.bell()
            return
        saved, _ = self.app.write("dismissal",
                                  lambda: self.app.session.dismiss_finding(f.key))
        if saved:
            self.dropped.append((self.findings.index(f), f))
            self._leave(f)

    def action_undo_drop(self) -> None:
        if not self.dropped:
            self.app.bell()
            return
        index, f = self.dropped[-1]
        saved, _ = self.app.write("undo", lambda: self.app.session.undismiss_finding(f.key))
        if saved:
            self.dropped.pop()
            self.findings.insert(min(index, len(self.findings)), f)
            self.fill(keep=index)
            self.refresh_bindings()

    def _leave(self, finding) -> None:
        """A fixed or dismissed finding leaves the list; the cursor stays at its place."""
        index = self.findings.index(finding)
        self.findings.pop(index)
        self.fill(keep=index)
