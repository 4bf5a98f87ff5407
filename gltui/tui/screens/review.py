"""Review: the queued images the model is confident about, grouped by its guess, a page at a time.

A page holds up to two rows of images that the model puts in one class: five a row in a terminal
of 120 columns or more, four from 96, three below (`columns_for`: at 80 columns five a row left
a 28-px digit 14 px wide in half-cells, three leave it 18). The person moves to a wrong one
and presses its right key (committed at once, like any label), then confirms the rest of the page
with Enter: the page's remaining guesses are human labels committed in one transaction (one key,
one transaction). `+`/`-` move the confidence threshold; Escape goes back to labeling.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Footer, Static

from gltui.tui.screens.full import FullScreen
from gltui.tui.session import CONFIDENT
from gltui.tui.widgets.thumbnail import Thumbnail
from gltui.views.words import count

COLUMNS, ROWS = 5, 2  # the most columns, and the rows of a page
PAGE = COLUMNS * ROWS
TILE_COLUMNS = 24  # the width a tile is given at least, columns permitting (columns_for)


def columns_for(width: int) -> int:
    """Tiles a row in a screen `width` cells wide: 3 to COLUMNS, each TILE_COLUMNS wide."""
    return max(3, min(COLUMNS, width // TILE_COLUMNS))


def pages(entries: list, size: int = PAGE) -> list[list]:
    """Pages of at most `size` entries, each of one guessed class (entries come grouped)."""
    out: list[list] = []
    for e in entries:
        if not out or len(out[-1]) == size or out[-1][0].guesses[0][0] != e.guesses[0][0]:
            out.append([])
        out[-1].append(e)
    return out


class ReviewScreen(FullScreen):
    DEFAULT_CSS = """
    #review-title { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    #review-grid { grid-size: 5 2; grid-gutter: 0 1; height: 1fr; padding: 0 1; }
    #review-grid Thumbnail { height: 100%; }
    #review-grid Thumbnail > .thumb-image { height: 1fr; width: auto; }
    """
    BINDINGS = [
        Binding("enter", "confirm_page", "Confirm page"),
        Binding("0", "fix(0)", "Fix", key_display="0-9"),
        *[Binding(str(i), f"fix({i})", show=False) for i in range(1, 10)],
        Binding("left", "move(-1)", "Previous", show=False),
        Binding("right", "move(1)", "Next", show=False),
        Binding("up", "move(-1, True)", "Up", show=False),
        Binding("down", "move(1, True)", "Down", show=False),
        Binding("pagedown", "next_page", "Next page", key_display="PgDn"),
        Binding("plus", "threshold(0.05)", "Threshold +", key_display="+"),
        Binding("minus", "threshold(-0.05)", "Threshold -", key_display="-", show=False),
        Binding("escape", "dismiss", "Back"),
    ]

    def __init__(self, threshold: float = CONFIDENT) -> None:
        super().__init__(id="review")
        self.threshold = threshold
        self.page: list = []
        self.columns = COLUMNS  # tiles a row: columns_for the screen's width
        self.page_index = 0
        self.cursor = 0
        self.fixed: dict[int, int] = {}  # item -> the label the person gave on this page
        self.confirmed = 0  # labels this visit committed (fixes and confirmations)

    def compose(self) -> ComposeResult:
        yield Static(id="review-title")
        with Grid(id="review-grid"):
            for _ in range(PAGE):
                yield Thumbnail(self.app.image_class, classes="grid-cell")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.columns = columns_for(self.app.size.width)
        self.query_one("#review-grid").styles.grid_size_columns = self.columns
        self.load()

    def on_resize(self) -> None:
        columns = columns_for(self.app.size.width)
        if columns == self.columns:
            return
        first = self.page[0].item if self.page else None
        self.columns = columns
        self.query_one("#review-grid").styles.grid_size_columns = columns
        self.load()
        where = [i for i, p in enumerate(self.pages) if any(e.item == first for e in p)]
        if where and where[0] != self.page_index:  # the page that holds the first image seen
            self.page_index, self.cursor = where[0], 0
            self.load()

    def load(self) -> None:
        """Read the queue afresh and show the current page (labeled images have left it)."""
        session = self.app.session
        self.pages = pages(session.confident(session.queue(), self.threshold),
                           self.columns * ROWS)
        self.page_index = min(self.page_index, max(0, len(self.pages) - 1))
        self.page = self.pages[self.page_index] if self.pages else []
        self.cursor = min(self.cursor, max(0, len(self.page) - 1))
        self.fixed = {}
        self.show()

    def show(self) -> None:
        session = self.app.session
        title = Text(no_wrap=True, overflow="ellipsis")
        if not self.page:
            title.append(f"No pending image has a guess of {self.threshold:.2f} or more "
                         "(- lowers the threshold, Escape goes back).", style="bold yellow")
        else:
            guess = self.page[0].guesses[0][0]
            title.append(f"The model says {session.class_name(guess)!r}", style="bold")
            title.append(f"  page {self.page_index + 1} of {len(self.pages)}, "
                         f"guesses >= {self.threshold:.2f}. Fix wrong ones with their key, "
                         "Enter confirms the rest.", style="dim")
        self.query_one("#review-title", Static).update(title)
        for i, cell in enumerate(self.query(Thumbnail)):
            if i >= len(self.page):
                cell.show(None, None, "")
                continue
            e = self.page[i]
            caption = Text(no_wrap=True, overflow="ellipsis")
            if e.item in self.fixed:
                caption.append(f"✓ {session.class_name(self.fixed[e.item])}", style="green")
            else:
                caption.append(f"{session.class_name(e.guesses[0][0])}? "
                               f"{float(e.guesses[0][1]):.2f}")
            cell.show(e.item, session.picture(e.item), caption)
            cell.set_class(i == self.cursor, "-cursor")

    def action_move(self, step: int, rows: bool = False) -> None:
        if self.page:
            step = step * self.columns if rows else step
            self.cursor = min(max(0, self.cursor + step), len(self.page) - 1)
            self.show()

    def action_fix(self, key: int) -> None:
        """A wrong guess fixed with the key of its class (the key-th class in use)."""
        session = self.app.session
        label = self.class_for_key(key, bool(self.page))
        if label is None:
            return
        entry = self.page[self.cursor]
        saved, _ = self.app.write("label", lambda: session.label(entry.item, label))
        if not saved:  # committed now like any label key, or not at all
            return
        self.fixed[entry.item] = label
        self.confirmed += 1
        self.action_move(1)

    def action_confirm_page(self) -> None:
        rest = [e for e in self.page if e.item not in self.fixed]
        if not self.page:
            self.app.bell()
            return
        if rest:
            saved, _ = self.app.write("page", lambda: self.app.session.confirm(
                [e.item for e in rest], [e.guesses[0][0] for e in rest]))
            if not saved:
                return
        self.confirmed += len(rest)
        self.notify(f"{count(len(self.page), 'label')}: {len(rest)} confirmed, "
                    f"{len(self.fixed)} fixed.")
        self.cursor = 0
        self.load()

    def action_next_page(self) -> None:
        if self.pages:
            self.page_index = (self.page_index + 1) % len(self.pages)
            self.cursor = 0
            self.load()

    def action_threshold(self, step: float) -> None:
        self.threshold = round(min(0.99, max(0.05, self.threshold + step)), 2)
        self.page_index = self.cursor = 0
        self.load()
