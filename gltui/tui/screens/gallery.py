"""Gallery: the most and the least confusing pool images of the latest scored round."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from gltui.config import strategy_info
from gltui.tui.widgets.thumbnail import Thumbnail
from gltui.tui.widgets.title_bar import TitleBar

PER_SIDE = 20


class GalleryScreen(Screen):
    def __init__(self) -> None:
        super().__init__(id="gallery")
        self._shown = None

    @property
    def info(self):
        return strategy_info(self.app.session.strategy)

    def compose(self) -> ComposeResult:
        image_class = self.app.image_class
        yield TitleBar()
        with VerticalScroll(id="gallery-body"):
            yield Static(id="gallery-note")
            yield Static(self.info.gallery_title(most=True), classes="gallery-title")
            with Grid(id="most", classes="gallery-grid"):
                for _ in range(PER_SIDE):
                    yield Thumbnail(image_class)
            yield Static(self.info.gallery_title(most=False), classes="gallery-title")
            with Grid(id="least", classes="gallery-grid"):
                for _ in range(PER_SIDE):
                    yield Thumbnail(image_class)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        self.app.refresh_title(self)
        self.load()

    def on_resize(self) -> None:
        columns = max(4, min(10, (self.size.width - 2) // 12))
        for grid in self.query(".gallery-grid"):
            grid.styles.grid_size_columns = columns

    def load(self) -> None:
        session = self.app.session
        gallery = session.gallery(PER_SIDE)
        key = None if gallery is None else (gallery.round, gallery.n_scored,
                                            tuple(g.label for g in gallery.most + gallery.least))
        if key == self._shown and key is not None:
            return
        self._shown = key
        note = self.query_one("#gallery-note", Static)
        if gallery is None:
            note.update(Text("No scoring pass has ranked the pool by confusion yet: the gallery "
                             f"fills once a round is scored by {session.strategy} (a random run's "
                             f"passes, and those below the warm start of {session.warm_start} "
                             "labels, pick at random).", style="dim"))
            for cell in self.query(Thumbnail):
                cell.show(None, None, "")
            return
        note.update(Text(f"Round {gallery.round}: {gallery.n_scored:,} pool images scored "
                         f"({self.info.described}, {self.info.unit or 'no unit'}).", style="dim"))
        for grid_id, items in (("#most", gallery.most), ("#least", gallery.least)):
            cells = list(self.query_one(grid_id).query(Thumbnail))
            for cell, g in zip(cells, items + [None] * (len(cells) - len(items))):
                if g is None:
                    cell.show(None, None, "")
                    continue
                caption = Text(f"{g.score:.2f}", no_wrap=True)  # the unit is in the note
                if g.label is not None:
                    caption.append(f" ✓{session.class_name(g.label)}", style="green")
                cell.show(g.item, session.picture(g.item), caption)
