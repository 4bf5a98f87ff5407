"""The bundled sample project: `gltui --oracle` and plain `gltui` run on it.

Built from sample_data/mnist (3,000 real MNIST digits and a 1,000-digit test split) the first time
and reused after, so a second `gltui --oracle` resumes the same project. The demo drives the
guided run `main` and, beside it, the run `random` on the same seed set. No torch here.

Every label the demo uses is counted: there is no validation split (a person has none either),
so each round trains on all its labels for a fixed schedule (training.fit without a validation
set), and the curve is the 1,000-image test split's accuracy, read only to report.
"""

from __future__ import annotations

import os
from pathlib import Path

from gltui.config import BASELINE_STRATEGY, Config, semi_config, train_config
from gltui.errors import ProjectError
from gltui.project import DB_NAME, Project
from gltui.project.runs import Knobs
from gltui.run import driver

SAMPLE_SPEC_DIR = Path(__file__).resolve().parents[2] / "sample_data" / "mnist"


def default_project_dir() -> Path:
    """Where the bundled sample project lives: $GLTUI_HOME, else the XDG data folder."""
    home = os.environ.get("GLTUI_HOME")
    if home:
        return Path(home) / "sample-mnist"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "gltui" / "sample-mnist"


BASELINE_RUN = BASELINE_STRATEGY  # the demo's random-selection run, beside the guided one


def sample_config() -> Config:
    """Sized so the demo shows guided beside random labeling (20 -> 640 labels) in under 4
    minutes on 2 CPU cores (2 min 45-55 s measured: README, "The sample demo"): semi-supervised
    rounds of the `demo` profile (config.SEMI_PROFILES); labels-only rounds (`--semi off`) take
    the paper's digit augmentation (these are handwritten digits), 12 epochs of at least 8 steps
    a round on every label (no validation split: a fixed schedule). 4 augmented copies per image,
    a random subset of 1,000 candidates scored per round. docs/results/recipe.md measures the
    choices."""
    config = Config(train=train_config("quick", max_epochs=12, min_steps_per_epoch=8,
                                       augment="digits"))  # handwriting: the paper's distortions
    config.score.k = 4
    config.score.candidates = 1000
    config.loop.budget = 640
    config.semi = semi_config("demo")  # semi-supervised rounds, sized for the demo's 4 minutes
    return config


def drive_demo(project: Project, run: str, *, device: str | None = None,
               on_event=lambda event: None) -> str:
    """`gltui --oracle` on the sample project: the guided run, then the random run on the same
    seed set (the project's seed); returns the guided run's outcome. Both resume."""
    outcome = driver.drive(project, run, oracle=True, device=device, on_event=on_event)
    driver.drive(project, BASELINE_RUN, Knobs(strategy=BASELINE_STRATEGY), oracle=True,
                 device=device, on_event=on_event)
    return outcome


def ensure_sample_project() -> tuple[Path, bool]:
    """Build the sample project from sample_data/ the first time, reuse it after; returns its
    path and whether it was built now."""
    from gltui import data

    path = default_project_dir()
    if (path / DB_NAME).exists():
        return path, False
    if not SAMPLE_SPEC_DIR.is_dir():
        raise ProjectError(f"{SAMPLE_SPEC_DIR}: the bundled sample data is missing; reinstall "
                           f"gltui")
    dataset = data.load(f"folder:{SAMPLE_SPEC_DIR}")
    Project.init(path, dataset, sample_config(), val_size=0, initial=20).close()
    return path, True
