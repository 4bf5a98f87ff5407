"""Export a run's labeled set: csv, jsonl, or an imagefolder that torchvision's ImageFolder reads.

Each row: item name, class name, source (seed | oracle | human), round, time. No torch.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from gltui.data import save_image
from gltui.fsio import atomic_folder, atomic_write_text
from gltui.project import Project, ProjectError

FIELDS = ("item", "name", "label", "class", "source", "round", "time")


def export(project: Project, run: str, fmt: str, out: Path) -> int:
    """Write the export to `out` (a file for csv/jsonl, a folder for imagefolder); returns the
    number of labeled images. Written beside `out` first and renamed into place."""
    rows = [dict(zip(FIELDS, r)) for r in project.store.labeled_detail(run)]
    out = Path(out)
    if out.exists() and fmt == "imagefolder" and (not out.is_dir() or any(out.iterdir())):
        raise ProjectError(f"{out}: exists and is not an empty folder; choose a new --out")
    if out.is_dir() and fmt != "imagefolder":
        raise ProjectError(f"{out}: is a folder; give a file path for --format {fmt}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        atomic_write_text(out, _csv(rows))
    elif fmt == "jsonl":
        atomic_write_text(out, "".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "imagefolder":
        with atomic_folder(out) as tmp:
            for r in rows:
                folder = tmp / _safe(r["class"])
                folder.mkdir(exist_ok=True)
                stem = _safe(Path(r["name"]).stem if "/" not in r["name"] else r["name"].replace("/", "_"))
                save_image(project.image(r["item"]), folder / f"{stem}-{r['item']}.png")
    else:
        raise ProjectError(f"unknown export format {fmt!r}; use csv, jsonl or imagefolder")
    return len(rows)


def _csv(rows: list[dict]) -> str:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "_"

