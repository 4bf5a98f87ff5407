"""A small image with a caption under it: the cells of the labeling grid and the gallery."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static


class Thumbnail(Vertical):
    DEFAULT_CSS = """
    Thumbnail { width: 1fr; height: auto; align-horizontal: center; }
    Thumbnail > .thumb-image { width: 12; height: 6; }
    Thumbnail > .thumb-caption { width: 100%; height: 1; text-align: center; }
    Thumbnail.-cursor > .thumb-caption { text-style: reverse bold; }
    """

    def __init__(self, image_class, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.image_class = image_class
        self.item: int | None = None

    def compose(self) -> ComposeResult:
        yield self.image_class(classes="thumb-image")
        yield Static(classes="thumb-caption")

    def show(self, item: int | None, picture, caption: Text | str) -> None:
        if item != self.item:
            self.item = item
            self.query_one(".thumb-image").image = picture
        self.query_one(".thumb-caption", Static).update(caption)
        self.display = item is not None
