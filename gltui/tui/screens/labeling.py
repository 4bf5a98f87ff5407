"""Labeling: the queued images, most confusing first, drawn large, with the model's guesses.

Every key press is committed at once (project.Labeler); the cursor then moves on to the next
pending image. When nothing is pending any more the app retrains in the background and the next
queue appears here when it is ready. Meanwhile the screen offers the *provisional queue*
(Session.provisional: audit images, then the previous pass's next-ranked images), so the person
never waits; those labels count for the next round, and the new queue replaces it when ready.

Enter accepts the model's top guess; `e` reviews the confident guesses a page at a time
(screens/review.py); `h` lists earlier labels to relabel (screens/history.py); `c` adds a class
(screens/class_name.py); `n` marks an image unsure (never trained on).
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
[b]⏎[/]    accept the top guess
[b]/[/]    class list  [b]c[/] new class
[b]s[/]    skip  [b]n[/] unsure  [b]u[/] undo
[b]e[/]    review sure guesses
[b]h[/]    history  [b]v[/] grid  [b]←/→[/] move"""


class LabelingScreen(Screen):
    BINDINGS = [
        Binding("0", "label(0)", "Label", key_display="0-9"),
        *[Binding(str(i), f"label({i})", f"Label {i}", show=False) for i in range(1, 10)],
        Binding("slash", "pick_class", "Classes", key_display="/", show=False),
        Binding("enter", "confirm_guess", "Accept guess", key_display="⏎", show=False),
        Binding("s", "skip", "Skip"),
        Binding("n", "unsure", "Unsure", show=False),
        Binding("u", "undo", "Undo"),
        Binding("c", "add_class", "New class", show=False),
        Binding("h", "history", "History", show=False),
        Binding("e", "review", "Review", show=False),
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
        self.provisional = False  # entries are the provisional queue (Session.provisional)
        self.random_queue = False  # the queue was drawn at random: no score to show
        self._audit_undo: list[bool] = []  # provisional actions, newest last: was it an audit?
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
        queue = session.queue(summary)
        if summary.round != self.round:
            current = None
        self.round = summary.round
        self.random_queue = session.random_picks(summary.round)
        if any(e.status == "pending" for e in queue) or summary.phase == "done":
            self.entries, self.provisional = queue, False
        elif not self.provisional:  # the queue is done: offer the provisional one meanwhile
            self.entries, self.provisional = session.provisional(summary), True
            self._audit_undo = []
            current = None
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
                                            size=len(self.entries), class_names=session.classes,
                                            strategy=session.strategy,
                                            random_pick=self.random_queue)
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
            elif e.status in ("skipped", "unsure"):
                caption.append(e.status, style="yellow")
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
        if self.provisional:
            return self._provisional_banner()
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

    def _provisional_banner(self) -> Text:
        live, entry = self.app.live, self._entry()
        what = "an audit image (never trained on)" if getattr(entry, "audit", False) else \
            "next-ranked by the last pass (counts for the next round)"
        if live.worker == "failed":
            return Text(f"The engine stopped: {live.error} (r retries)", style="bold red")
        working = (f"round {live.round} {live.phase or 'working'}" if live.worker == "running"
                   else "the next queue is on its way")
        if entry is None or entry.status != "pending":
            return Text(f"While {working}: nothing more to offer; the next queue appears here.",
                        style="bold yellow")
        return Text(f"While {working}: {what}.", style="bold cyan")

    # -- actions --------------------------------------------------------------------------------

    def _entry(self):
        return self.entries[self.cursor] if self.entries else None

    def _can_label(self) -> bool:
        if not self.entries:
            self.app.bell()
            return False
        if self.app.live.worker == "running" and not self.provisional:
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
        audit = getattr(entry, "audit", False)
        saved, _ = self.app.write("label", lambda: session.label(entry.item, index, audit=audit))
        if not saved:  # not saved, so not shown as saved: the image stays pending under the cursor
            return
        entry.status, entry.label = "labeled", index
        self._audit_undo.append(audit)
        self._advance()

    def action_confirm_guess(self) -> None:
        """Enter: the model's top guess is the label (a human label, committed now)."""
        entry = self._entry()
        if entry is None or not entry.guesses or entry.status != "pending":
            self.app.bell()
            return
        self.action_label(int(entry.guesses[0][0]))

    def label_class(self, index: int | None) -> None:
        if index is not None:
            self.action_label(index)

    def action_pick_class(self) -> None:
        if not self._can_label():
            return
        from gltui.tui.screens.class_picker import ClassPicker

        self.app.push_screen(ClassPicker(self.app.session.classes), self.label_class)

    def action_skip(self) -> None:
        self._leave("skipped")

    def action_unsure(self) -> None:
        """n: the person cannot tell; recorded, out of the queue, never trained on."""
        self._leave("unsure")

    def _leave(self, status: str) -> None:
        """Skip the image, or mark it unsure: an event, and the cursor moves on."""
        if not self._can_label():
            return
        entry = self.entries[self.cursor]
        if entry.status != "pending":
            self.app.bell()
            return
        session = self.app.session
        write = session.skip if status == "skipped" else session.unsure
        saved, _ = self.app.write("skip" if status == "skipped" else "unsure mark",
                                  lambda: write(entry.item))
        if not saved:
            return
        entry.status = status
        self._audit_undo.append(False)
        self._advance()

    def action_add_class(self) -> None:
        from gltui.tui.screens.class_name import ClassNamePrompt

        self.app.push_screen(ClassNamePrompt(list(self.app.session.classes)), self._class_named)

    def _class_named(self, name: str | None) -> None:
        if name is None:
            return
        saved, index = self.app.write("new class", lambda: self.app.session.add_class(name))
        if not saved:
            return
        key = str(index) if index < 10 else "/"
        self.app.notify(f"Class {name!r} added ({key}); the next round's model learns it.")
        entry = self._entry()
        if entry is not None and entry.status == "pending":
            self.action_label(index)

    def action_history(self) -> None:
        from gltui.tui.screens.history import HistoryScreen

        self.app.push_screen(HistoryScreen(), lambda _: self._back_from_list())

    def action_review(self) -> None:
        if self.provisional or not self.entries:
            self.app.notify("Review works on a queue the model chose (with its guesses).")
            return
        from gltui.tui.screens.review import ReviewScreen

        self.app.push_screen(ReviewScreen(), lambda _: self._back_from_list())

    def _back_from_list(self) -> None:
        """Back from history or review: the queue as the store has it now."""
        self.reload()
        if not self.provisional:
            self.post_message(QueueChanged(self.pending(), len(self.entries)))

    def action_undo(self) -> None:
        if not self._can_label():
            return
        audit = self.provisional and bool(self._audit_undo) and self._audit_undo[-1]
        saved, item = self.app.write("undo", lambda: self.app.session.undo(audit=audit))
        if not saved:
            return
        if self._audit_undo and self.provisional:
            self._audit_undo.pop()
        if item is None:
            self.app.notify("Nothing to undo in this round.")
            return
        if self.provisional and item not in {e.item for e in self.entries}:
            self.provisional = False  # a label of the finished queue: back to that queue
            self.reload()
        for i, e in enumerate(self.entries):
            if e.item == item:
                e.status, e.label = "pending", None
                self.cursor = i
        self.show()
        if not self.provisional:
            self.post_message(QueueChanged(self.pending(), len(self.entries)))

    def _advance(self) -> None:
        self.cursor = self._next_pending(self.cursor)
        if self.provisional:  # provisional labels never start or delay a round
            self.show()
            return
        pending, size = self.pending(), len(self.entries)
        if pending == 0:
            self.reload()  # the queue is done: the provisional queue takes its place at once
        else:
            self.show()
        self.post_message(QueueChanged(pending, size))

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
