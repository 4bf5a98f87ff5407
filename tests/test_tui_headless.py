"""Headless modules never import Textual (nor does the TUI package import torch at import)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    return {name.split(".")[0] for name in out}


def test_headless_modules_do_not_import_textual():
    loaded = _modules_after(
        "import gltui.run.engine, gltui.project, gltui.store, gltui.data, gltui.learn, gltui.cli"
    )
    assert "gltui" in loaded and "torch" in loaded
    assert "textual" not in loaded and "textual_image" not in loaded


def test_tui_entry_point_imports_neither_textual_nor_torch():
    """`gltui.tui.app` stays light until run_app: TEXTUAL_FPS must be set before Textual loads."""
    loaded = _modules_after("import gltui.tui.app, gltui.tui.session")
    assert "textual" not in loaded and "torch" not in loaded
