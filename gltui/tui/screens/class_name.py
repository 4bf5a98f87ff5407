"""Name a new class while labeling: one line of input, Enter adds it, Escape cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from gltui.data.classes import check_class_name
from gltui.errors import ProjectError


class ClassNamePrompt(ModalScreen[str | None]):
    DEFAULT_CSS = """
    ClassNamePrompt { align: center middle; }
    #class-name-box { width: 60; height: auto; border: round $primary; background: $surface;
                      padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, existing: list[str], name: str = "") -> None:
        super().__init__()
        self.existing = existing  # the project's class names: a new one must differ
        self.typed = name  # typed already (a name that could not be saved comes back)

    def compose(self) -> ComposeResult:
        help_line = (f"New class number {len(self.existing)}: the image under the cursor is "
                     "labeled with it. Escape cancels.")
        with Vertical(id="class-name-box"):
            yield Static(help_line, id="class-name-help")
            yield Input(self.typed, placeholder="class name", id="class-name-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            name = check_class_name(event.value, self.existing)
        except ProjectError as err:
            self.notify(str(err), severity="warning")
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)
