"""Labeling: the queued images, most confusing first, drawn large, with the model's guesses.

Every key press is committed at once (project.Labeler); the cursor then moves on to the next
pending image. When nothing is pending any more the app retrains in the background and the next
queue appears here when it is ready.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from gltui.tui.images import cell_aspect, fit_cells
from gltui.tui.messages import QueueChanged
from gltui.tui.widgets.guess_panel import GuessPanel
from gltui.tui.widgets.queue_strip import QueueStrip
from gltui.tui.widgets.thumbnail import Thumbnail
from gltui.tui.widgets.title_bar import TitleBar

GRID_COLUMNS, GRID_ROWS = 5, 2

KEY_HELP = """\
[b]0-9[/]  label as that class
[b]/[/]    pick from the class list
[b]s[/]    skip   [b]u[/] undo
[b]←/→[/]  move   [b]v[/] grid view
[b]o[/]    oracle labels the rest"""


class LabelingScreen(Screen):
    BINDINGS = [
        Binding("0", "label(0)", "Label", key_display="0-9"),
        *[Binding(str(i), f"label({i})", f"Label {i}", show=False) for i in range(1, 10)],
        Binding("slash", "pick_class", "Classes", key_display="/", show=False),
        Binding("s", "skip", "Skip"),
        Binding("u", "undo", "Undo"),
        Binding("backspace", "undo", "Undo", show=False),
        Binding("left", "move(-1)", "Previous", show=False),
        Binding("right", "move(1)", "Next", show=False),
        Binding("up", "move_row(-1)", "Up", show=False),
        Binding("down", "move_row(1)", "Down", show=False),
        Binding("home", "jump('first')", "First", show=False),
        Binding("end", "jump('last')", "Last", show=False),
        Binding("v", "toggle_grid", "Grid"),
    ]

    def __init__(self) -> None:
        super().__init__(id="labeling")
        self.entries: list = []
        self.cursor = 0
        self.round: int | None = None
        self.grid_view = False
        self.shown_item: int | None = None  # what the big image shows (the benchmark reads it)
        self._image_cells = (0, 0)

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        image_class = self.app.image_class
        yield TitleBar()
        with Horizontal(id="label-body"):
            with Container(id="stage"):
                yield image_class(id="big-image")
            with Grid(id="label-grid"):
                for i in range(GRID_COLUMNS * GRID_ROWS):
                    yield Thumbnail(image_class, classes="grid-cell")
            with Vertical(id="label-side"):
                yield GuessPanel(id="guesses")
                yield Static(KEY_HELP, id="key-help")
        yield QueueStrip(id="queue-strip")
        yield Static(id="label-banner")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#label-grid").display = False
        self.reload()

    def on_resize(self) -> None:
        self.call_after_refresh(self._size_image)

    def _size_image(self) -> None:
        """Fit the big image to the stage: as large as it goes, never distorted."""
        stage = self.query_one("#stage")
        pic = self.query_one("#big-image")
        shape = self.app.session.project.pixels.shape  # N, C, H, W
        cols, rows = fit_cells(stage.content_size.width, stage.content_size.height,
                               int(shape[3]), int(shape[2]), cell_aspect(type(pic)))
        if cols and (pic.styles.width is None or (cols, rows) != self._image_cells):
            self._image_cells = (cols, rows)
            pic.styles.width, pic.styles.height = cols, rows

    def on_screen_resume(self) -> None:
        self.app.refresh_title(self)
        self.reload()

    # -- state ----------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the queue afresh (a new round, an oracle pass, a resumed screen)."""
        session = self.app.session
        summary = session.summary()
        current = self.entries[self.cursor].item if self.entries else None
        self.entries = session.queue(summary)
        if summary.round != self.round:
            current = None
        self.round = summary.round
        items = [e.item for e in self.entries]
        if current in items:
            self.cursor = items.index(current)
        else:
            self.cursor = self._next_pending(-1)
        self.show()

    def pending(self) -> int:
        return sum(e.status == "pending" for e in self.entries)

    def _next_pending(self, after: int) -> int:
        n = len(self.entries)
        for step in range(1, n + 1):
            i = (after + step) % n
            if self.entries[i].status == "pending":
                return i
        return min(max(after, 0), max(0, n - 1))

    # -- drawing --------------------------------------------------------------------------------

    def show(self) -> None:
        app = self.app
        session = app.session
        entry = self.entries[self.cursor] if self.entries else None
        big = self.query_one("#big-image")
        stage, grid = self.query_one("#stage"), self.query_one("#label-grid")
        was_hidden = not stage.display
        stage.display = not self.grid_view and entry is not None
        if was_hidden and stage.display:
            self.call_after_refresh(self._size_image)
        grid.display = self.grid_view and entry is not None
        self.query_one("#label-side").display = entry is not None
        self.query_one(QueueStrip).display = entry is not None
        if entry is not None:
            if self.grid_view:
                self._show_grid()
            elif entry.item != self.shown_item:
                big.image = session.picture(entry.item)
                self.shown_item = entry.item
            self.query_one(GuessPanel).show(entry, name=session.item_name(entry.item),
                                            size=len(self.entries), class_names=session.classes)
            self.query_one(QueueStrip).show(self.entries, self.cursor, session.classes)
            self._prefetch()
        self.query_one("#label-banner", Static).update(self._banner())

    def _show_grid(self) -> None:
        session = self.app.session
        page = GRID_COLUMNS * GRID_ROWS
        start = self.cursor // page * page
        for i, cell in enumerate(self.query(Thumbnail)):
            k = start + i
            if k >= len(self.entries):
                cell.show(None, None, "")
                continue
            e = self.entries[k]
            caption = Text(no_wrap=True, overflow="ellipsis")
            if e.status == "labeled":
                caption.append(f"✓ {session.class_name(e.label)}", style="green")
            elif e.status == "skipped":
                caption.append("skipped", style="yellow")
            else:
                guess = session.class_name(e.guesses[0][0]) + "?" if e.guesses else "?"
                caption.append(f"{k + 1}. {guess}")
            cell.show(e.item, session.picture(e.item), caption)
            cell.set_class(k == self.cursor, "-cursor")

    def _prefetch(self) -> None:
        """Decode the next few images now, so moving on only swaps a ready picture in."""
        session = self.app.session
        for e in self.entries[self.cursor + 1: self.cursor + 4]:
            session.picture(e.item)

    def _banner(self) -> Text:
        app = self.app
        live = app.live
        if self.entries and self.pending() == 0:
            if live.worker == "running":
                return Text("Queue done: the engine is retraining…", style="bold yellow")
            return Text(f"All {len(self.entries)} done. Retraining starts in a moment "
                        "(u undoes the last label).", style="bold green")
        if self.entries:
            return Text("")
        summary = app.last_summary
        if summary is not None and summary.phase == "done":
            return Text(f"The run is done: {summary.stop_reason or ''}. "
                        "d: dashboard · g: gallery · q: quit", style="bold green")
        if live.worker == "running":
            what = {"train": "training", "evaluate": "evaluating", "score": "scoring the pool",
                    "query": "choosing the next images", "label": "labeling (oracle)"}
            phase = what.get(live.phase or "", live.phase or "working")
            return Text(f"Round {live.round}: {phase}… the next queue appears here when it is "
                        "ready (d: dashboard).", style="bold yellow")
        if live.worker == "failed":
            return Text(f"The engine stopped: {live.error} (r retries)", style="bold red")
        return Text("Nothing to label right now (r resumes the run).", style="dim")

    # -- actions --------------------------------------------------------------------------------

    def _can_label(self) -> bool:
        if not self.entries:
            self.app.bell()
            return False
        if self.app.live.worker == "running":
            self.app.notify("The engine is working on this run; wait for the next queue.",
                            severity="warning")
            return False
        return True

    def action_label(self, index: int) -> None:
        session = self.app.session
        if index >= len(session.classes) or not self._can_label():
            if index >= len(session.classes):
                self.app.bell()
            return
        entry = self.entries[self.cursor]
        session.label(entry.item, index)
        entry.status, entry.label = "labeled", index
        self._advance()

    def label_class(self, index: int | None) -> None:
        if index is not None:
            self.action_label(index)

    def action_pick_class(self) -> None:
        if not self._can_label():
            return
        from gltui.tui.screens.class_picker import ClassPicker

        self.app.push_screen(ClassPicker(self.app.session.classes), self.label_class)

    def action_skip(self) -> None:
        if not self._can_label():
            return
        entry = self.entries[self.cursor]
        if entry.status != "pending":
            self.app.bell()
            return
        self.app.session.skip(entry.item)
        entry.status = "skipped"
        self._advance()

    def action_undo(self) -> None:
        if not self._can_label():
            return
        item = self.app.session.undo()
        if item is None:
            self.app.notify("Nothing to undo in this round.")
            return
        for i, e in enumerate(self.entries):
            if e.item == item:
                e.status, e.label = "pending", None
                self.cursor = i
        self.show()
        self.post_message(QueueChanged(self.pending(), len(self.entries)))

    def _advance(self) -> None:
        self.cursor = self._next_pending(self.cursor)
        self.show()
        self.post_message(QueueChanged(self.pending(), len(self.entries)))

    def action_move(self, step: int) -> None:
        if self.entries:
            self.cursor = min(max(0, self.cursor + step), len(self.entries) - 1)
            self.show()

    def action_move_row(self, step: int) -> None:
        self.action_move(step * (GRID_COLUMNS if self.grid_view else 1))

    def action_jump(self, where: str) -> None:
        if self.entries:
            self.cursor = 0 if where == "first" else len(self.entries) - 1
            self.show()

    def action_toggle_grid(self) -> None:
        self.grid_view = not self.grid_view
        self.shown_item = None
        self.show()
