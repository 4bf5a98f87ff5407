"""A project on disk, and everything that changes it short of training: the folder, its database
and pixels (folder.py), a person's labels (labeler.py), runs and their options (runs.py), more
images (add.py), the pixel file (pixels.py) and the one-driver-per-run lock (locks.py).

Owns: what `gltui init`, `add`, `status` and the TUI's labels do to a project. May import:
config, errors, fsio, data/, store/, and learn.seeding (pure). Never torch, never Textual: reading
a project stays fast and headless.
"""

from gltui.project.folder import DB_NAME, PIXELS_NAME, Project, RunSummary, stored_spec
from gltui.project.labeler import Labeler
from gltui.project.locks import run_lock

__all__ = ["DB_NAME", "PIXELS_NAME", "Labeler", "Project", "RunSummary", "run_lock", "stored_spec"]
