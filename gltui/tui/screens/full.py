"""The full screens laid over the labeling screen (check, history, review): an opaque background,
and the class a digit key names there (a bell when the key names none, or nothing is listed)."""

from __future__ import annotations

from textual.screen import ModalScreen


class FullScreen(ModalScreen):
    DEFAULT_CSS = """
    FullScreen { background: $background; }
    """

    def class_for_key(self, key: int, listed: bool) -> int | None:
        """The class the key-th key names (Session.key_class), or None after a bell."""
        label = self.app.session.key_class(key)
        if not listed or label is None:
            self.app.bell()
            return None
        return label
