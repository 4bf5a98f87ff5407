"""Labeling: the queued images, most confusing first, drawn large, with the model's guesses.

Every key press is committed at once (project.Labeler); the cursor then moves on to the next
pending image. When nothing is pending any more the app retrains in the background and the next
queue appears here when it is ready. Meanwhile the screen offers the *provisional queue*
(Session.provisional: audit images, then a seeded random draw of the pool), so the person
never waits; those labels count for the next round, and the new queue replaces it when ready.

A key acts on the image on screen when it was pressed (tui/on_screen.py), never on a newer
one; pressed twice before the next image was drawn, it acts once and says so. Keys are
positions among the classes in use (Session.key_class): after a merge they shift.

Enter accepts the top guess; `e` reviews confident guesses (screens/review.py), `h` relabels
(screens/history.py), `c` adds a class (screens/class_name.py), `n` marks unsure (never trained).
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from gltui.tui.banner import banner
from gltui.tui.images import cell_aspect, fit_cells
from gltui.tui.messages import QueueChanged
from gltui.tui.on_screen import OnScreen, same_image
from gltui.tui.widgets.guess_panel import KEY_HELP, GuessPanel
from gltui.tui.widgets.queue_strip import QueueStrip
from gltui.tui.widgets.thumbnail import Thumbnail
from gltui.tui.widgets.title_bar import TitleBar

GRID_COLUMNS, GRID_ROWS = 5, 2
# Keys that act on an image: handled with the key's own time (on_key); the bindings are for show.
IMAGE_KEYS = {*(str(i) for i in range(10)), "enter", "s", "n", "slash", "c"}


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
        self.on_screen = OnScreen()  # which image was under the cursor when

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
        if self.on_screen.showing_changed(entry):  # on screen from the repaint that draws it
            self.call_after_refresh(self.on_screen.drawn, entry)
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
            self.query_one(GuessPanel).show(
                entry, name=session.item_name(entry.item), size=len(self.entries),
                class_name=session.class_name, class_key=session.class_key,
                classes=session.classes, strategy=session.strategy,
                random_pick=self.random_queue)
            self.query_one(QueueStrip).show(self.entries, self.cursor, session.class_name,
                                            session.class_key)
            self._prefetch()
        self.query_one("#label-banner", Static).update(banner(self))

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

    # -- actions --------------------------------------------------------------------------------

    @property
    def current(self):
        """The entry under the cursor (None with an empty list)."""
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

    def on_key(self, event: events.Key) -> None:
        """A key that acts on an image acts on the one on screen when it was pressed."""
        if event.key not in IMAGE_KEYS:
            return
        event.stop()
        event.prevent_default()  # not through the bindings as well
        entry = self._target(event.time)
        if entry is None:
            return
        key = event.key
        if key.isdigit():
            self.label_key(int(key), entry)
        elif key == "enter":
            self.confirm_guess(entry)
        elif key in ("s", "n"):
            self._leave("skipped" if key == "s" else "unsure", entry)
        elif key == "slash":
            self.pick_class(entry)
        else:
            self.add_class(entry)

    def _target(self, when: float):
        """The entry a key pressed at `when` acts on (see the module doc), or None after a bell
        (and one line when the image it was pressed on was answered already)."""
        current = self.current
        seen = self.on_screen.at(when)
        if current is None or seen is None:
            self.app.bell()
            return None
        if same_image(seen, current):
            return current
        seen = self._listed(seen)
        if seen.status == "pending":
            return seen  # the image the person was looking at, replaced since (a new queue)
        self.app.bell()
        self.app.notify("That key was pressed before this image was on screen, so it did "
                        "nothing; press it again to answer this one.", severity="warning")
        return None

    def _listed(self, entry):
        """The entry as this list holds it now: a list re-read while a key's prompt was open (a
        new class, the class picker) has new entry objects, and a label given through the prompt
        must mark the listed one, or the screen shows it pending and the round never starts."""
        return next((e for e in self.entries if same_image(e, entry)), entry)

    def _answered(self, entry, what: str) -> None:
        """After a write on `entry`: the cursor moves on, or, for an image no longer under the
        cursor (a new queue replaced it after the key was pressed), one line says what was done."""
        if same_image(entry, self.current):
            self._advance()
            return
        self.app.notify(f"{self.app.session.item_name(entry.item)}: {what} (the image on "
                        "screen when the key was pressed; this one is untouched).")
        self.show()

    def action_label(self, key: int) -> None:
        """A label key through its binding (the footer): the image under the cursor."""
        if self.current is None:
            self.app.bell()
            return
        self.label_key(key, self.current)

    def label_key(self, key: int, entry) -> None:
        """Key `key` (0-9): the key-th class in use."""
        index = self.app.session.key_class(key)
        if index is None:
            self.app.bell()
            return
        self.label_index(index, entry)

    def label_index(self, index: int, entry) -> None:
        session = self.app.session
        if not self._can_label():
            return
        entry = self._listed(entry)
        audit = getattr(entry, "audit", False)
        saved, _ = self.app.write("label", lambda: session.label(entry.item, index, audit=audit))
        if not saved:  # not saved, so not shown as saved: the image stays pending under the cursor
            return
        entry.status, entry.label = "labeled", index
        self._audit_undo.append(audit)
        self._answered(entry, f"labeled {session.class_name(index)}")

    def action_confirm_guess(self) -> None:
        if self.current is not None:
            self.confirm_guess(self.current)

    def confirm_guess(self, entry) -> None:
        """Enter: the model's top guess is the label (a human label, committed now)."""
        if entry.status != "pending":
            self.app.bell()
            return
        if not entry.guesses:
            self.app.notify("No guess for this image yet: label it with 0-9 or /.",
                            severity="warning")
            return
        self.label_index(int(entry.guesses[0][0]), entry)

    def action_pick_class(self) -> None:
        if self.current is not None:
            self.pick_class(self.current)

    def pick_class(self, entry) -> None:
        """/: a class by name, for the image on screen now (even if a queue replaces it)."""
        if not self._can_label():
            return
        from gltui.tui.screens.class_picker import ClassPicker

        def chosen(key: int | None) -> None:
            if key is not None:
                self.label_key(key, entry)

        self.app.push_screen(ClassPicker(self.app.session.classes), chosen)

    def action_skip(self) -> None:
        if self.current is not None:
            self._leave("skipped", self.current)

    def action_unsure(self) -> None:
        """n: the person cannot tell; recorded, out of the queue, never trained on."""
        if self.current is not None:
            self._leave("unsure", self.current)

    def _leave(self, status: str, entry) -> None:
        """Skip the image, or mark it unsure: an event, and the cursor moves on."""
        if not self._can_label():
            return
        entry = self._listed(entry)
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
        self._answered(entry, "skipped" if status == "skipped" else "marked unsure")

    def action_add_class(self) -> None:
        self.add_class(self.current)

    def add_class(self, entry, name: str = "") -> None:
        """c: name a new class; the image on screen now (if pending) is labeled with it. A name
        that could not be saved comes back in the prompt, for Enter once the write can go."""
        from gltui.tui.screens.class_name import ClassNamePrompt

        self.app.push_screen(ClassNamePrompt(list(self.app.session.classes), name),
                             lambda name: self._class_named(name, entry))

    def _class_named(self, name: str | None, entry) -> None:
        if name is None:
            return
        session = self.app.session
        saved, index = self.app.write("new class", lambda: session.add_class(name))
        if not saved:
            self.add_class(entry, name)
            return
        key = session.class_key(index)
        key = str(key) if key is not None and key < 10 else "/"
        self.app.notify(f"Class {name!r} added ({key}); the next round's model learns it.")
        entry = self._listed(entry) if entry is not None else None
        if entry is not None and entry.status == "pending":
            self.label_index(index, entry)

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
        """Back from history or review: the queue as the store has it now, and the app told
        how much of it is left, also when the review confirmed all of it (the screen has then
        turned to the provisional queue, and the next round must still start: a hand trial's
        round waited for ever after its last page was confirmed)."""
        was_queue = not self.provisional
        self.reload()
        if not self.provisional:
            self.post_message(QueueChanged(self.pending(), len(self.entries)))
        elif was_queue:  # the queue was finished on the list page
            queue = self.app.session.queue()
            if queue:
                self.post_message(QueueChanged(
                    sum(e.status == "pending" for e in queue), len(queue)))

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
