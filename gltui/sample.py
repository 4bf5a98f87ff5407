"""The bundled sample project: `gltui --oracle` and plain `gltui` run on it.

Built from sample_data/mnist (3,000 real MNIST digits and a 1,000-digit test split) the first time
and reused after, so a second `gltui --oracle` resumes the same project. No torch.
"""

from __future__ import annotations

import os
from pathlib import Path

from gltui.config import Config, train_config
from gltui.project import DB_NAME, Project, ProjectError

SAMPLE_SPEC_DIR = Path(__file__).resolve().parent.parent / "sample_data" / "mnist"


def default_project_dir() -> Path:
    """Where the bundled sample project lives: $GLTUI_HOME, else the XDG data folder."""
    home = os.environ.get("GLTUI_HOME")
    if home:
        return Path(home) / "sample-mnist"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "gltui" / "sample-mnist"


def sample_config() -> Config:
    """Sized so the demo shows guided labeling at work (20 -> 640 labels) in minutes on 2 CPU
    cores: shorter rounds than `quick` (at most 12 epochs of at least 8 steps, patience 3),
    4 augmented copies per image, a random subset of 1,000 candidates scored per round."""
    config = Config(train=train_config("quick", max_epochs=12, patience=3, min_steps_per_epoch=8))
    config.score.k = 4
    config.score.candidates = 1000
    config.loop.budget = 640
    return config


def ensure_sample_project() -> tuple[Path, bool]:
    """Build the sample project from sample_data/ the first time, reuse it after; returns its
    path and whether it was built now."""
    from gltui import data

    path = default_project_dir()
    if (path / DB_NAME).exists():
        return path, False
    if not SAMPLE_SPEC_DIR.is_dir():
        raise ProjectError(f"{SAMPLE_SPEC_DIR}: the bundled sample data is missing; reinstall gltui")
    dataset = data.load(f"folder:{SAMPLE_SPEC_DIR}")
    Project.init(path, dataset, sample_config(), val_size=300, initial=20).close()
    return path, True
