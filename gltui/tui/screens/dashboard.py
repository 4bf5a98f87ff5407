"""Dashboard: the run, the phase under way with its progress, the learning curves of every run
of the project, and the class distribution of the labeled set per round."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from gltui.tui.messages import SummaryRead
from gltui.tui.widgets.class_table import ClassTable
from gltui.tui.widgets.curve_plot import CurvePlot
from gltui.tui.widgets.progress_panel import ProgressPanel
from gltui.tui.widgets.run_panel import RunPanel
from gltui.tui.widgets.title_bar import TitleBar


def _box(id: str, title: str, content: Widget) -> Vertical:
    """One bordered panel of the dashboard."""
    box = Vertical(content, id=id, classes="box")
    box.border_title = title
    return box


class DashboardScreen(Screen):
    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self.summary = None  # this run's summary, as update_all last read it

    def compose(self) -> ComposeResult:
        app = self.app
        yield TitleBar()
        with VerticalScroll(id="dash-body"):
            with Horizontal(id="dash-top"):
                yield _box("run-box", "Run", RunPanel())
                yield _box("progress-box", "Now",
                           ProgressPanel(hz=app.progress_hz, show_timing=app.show_timing))
            with Horizontal(id="dash-bottom"):
                yield _box("curve-box", "Learning curves", CurvePlot())
                yield _box("class-box", "Labeled images per class", ClassTable())
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        n = len(self.app.session.classes)
        self.query_one("#class-box").styles.width = min(72, 16 + 5 * min(n, 12))
        self.update_all()

    def on_screen_resume(self) -> None:
        self.app.refresh_title(self)
        self.update_all()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 110, "-narrow")

    def update_all(self) -> None:
        """Everything from the store: after a phase change, a round, a label."""
        app = self.app
        summaries = app.session.summaries()
        mine = self.summary = next(s for s in summaries if s.name == app.session.run)
        self.post_message(SummaryRead(mine))
        others = [s for s in summaries if s.name != mine.name]
        self.query_one(RunPanel).show(mine, others, app.live.oracle, app.session.signals(mine))
        self.query_one(ProgressPanel).show(app.live, mine, urgent=True)
        self.query_one(CurvePlot).set_curves(app.session.curves(summaries), mine.name)
        self.query_one(ClassTable).set_rows(app.session.classes, app.session.class_history(mine))

    def update_progress(self, urgent: bool = False) -> None:
        """Only the live panel: epoch and chunk progress, throttled."""
        if self.summary is not None:
            self.query_one(ProgressPanel).show(self.app.live, self.summary, urgent=urgent)
