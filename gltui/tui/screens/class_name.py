"""Name a new class while labeling: one line of input, Enter adds it, Escape cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ClassNamePrompt(ModalScreen[str | None]):
    DEFAULT_CSS = """
    ClassNamePrompt { align: center middle; }
    #class-name-box { width: 60; height: auto; border: round $primary; background: $surface;
                      padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, existing: list[str]) -> None:
        super().__init__()
        self.existing = existing  # the project's class names: a new one must differ

    def compose(self) -> ComposeResult:
        help_line = (f"New class number {len(self.existing)}: the image under the cursor is "
                     "labeled with it. Escape cancels.")
        with Vertical(id="class-name-box"):
            yield Static(help_line, id="class-name-help")
            yield Input(placeholder="class name", id="class-name-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if not name or name in self.existing or "," in name:
            why = "exists already" if name in self.existing else "needs a name without commas"
            self.notify(f"class {name!r} {why}", severity="warning")
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)
