"""A small image with a caption under it: the cells of the labeling grid and the gallery.

The picture keeps its shape on screen in every renderer: its box in character cells is fitted
to the picture's pixel size and the terminal's cell shape (images.cell_aspect; a cell is about
twice as tall as wide). A tile whose height the layout sets (the labeling grid: `height: 100%`)
fits the box inside itself, under the caption's row; a tile of automatic height (the gallery)
is at most `max_cols` wide and `max_rows` tall.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from gltui.tui.images import cell_aspect, fit_cells


class Thumbnail(Vertical):
    DEFAULT_CSS = """
    Thumbnail { width: 1fr; height: auto; align: center top; }
    Thumbnail > .thumb-image { width: 12; height: 6; }
    Thumbnail > .thumb-caption { width: 100%; height: 1; text-align: center; text-wrap: nowrap;
                                  text-overflow: ellipsis; }
    Thumbnail.-cursor > .thumb-caption { text-style: reverse bold; }
    """

    def __init__(self, image_class, *, max_cols: int = 12, max_rows: int = 8,
                 id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.image_class = image_class
        self.max_cols, self.max_rows = max_cols, max_rows
        self.item: int | None = None
        self.box: tuple[int, int] | None = None  # the picture's (columns, rows), once fitted
        self._picture_size: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        yield self.image_class(classes="thumb-image")
        yield Static(classes="thumb-caption")

    def show(self, item: int | None, picture, caption: Text | str) -> None:
        if item != self.item:
            self.item = item
            self.query_one(".thumb-image").image = picture
            if picture is not None and picture.size != self._picture_size:
                self._picture_size = picture.size
                self.fit()
        self.query_one(".thumb-caption", Static).update(caption)
        self.display = item is not None

    def on_resize(self) -> None:
        self.fit()

    def fit(self) -> None:
        """Size the picture's box: as large as the tile allows, the picture's shape kept."""
        if self._picture_size is None:
            return
        if self.styles.height is not None and not self.styles.height.is_auto:
            width, height = self.content_size.width, self.content_size.height - 1
        else:
            width = min(self.max_cols, self.content_size.width or self.max_cols)
            height = self.max_rows
        box = fit_cells(width, height, *self._picture_size, cell_aspect(self.image_class))
        if box[0] and box != self.box:
            self.box = box
            image = self.query_one(".thumb-image")
            image.styles.width, image.styles.height = box
