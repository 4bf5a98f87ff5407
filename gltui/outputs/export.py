"""Export a run's labels (and, with --with-predictions, the model's predictions for the rest):
csv, jsonl, an ImageFolder, a Label Studio import file, or the round model.

Every row says where its label came from: seed (the run's seed set, labels.csv labels included),
oracle, human, audit (the project's audit set, store/sets.py: images labeled only to measure the
model, never trained on; project-wide, so every run's export carries them; labeled by a person,
or by the oracle in an oracle run), or predicted (`gltui predict`, for images the run has not
labeled; its probability is `confidence`, its rde score `rde`). Each image is one row at most:
audit images are never in the pool, so no run labels or predicts them; should a run's label and
an audit label ever meet on one image, the run's label is the row (audit rows only add images
the run has not labeled) and no image with a label gets a predicted row. Row fields:

    file        the item's file name as the project knows it (relative to a folder: dataset)
    label       the class name
    source      seed | oracle | human | audit | predicted
    confidence  the predicted class's probability (predicted rows only)
    rde         the image's rde score in bits (predicted rows only)
    round       the round the label was given in, or the round whose model predicted it; empty
                (None) for audit labels, which belong to no round
    time        when (seconds since the epoch)
    item        the item id (the row of the project's pixels.npy)

The csv starts with `file,label`, so copied into a folder: dataset as labels.csv it is read back
by `gltui init --data folder:DIR`. The Label Studio file holds a task for every image of the
project but the test split (pool and audit), each with its label, its prediction or neither.
An ImageFolder of originals keeps each file's name and folders (CLASS/2024/06/IMG_0001.jpg).
Files are written beside the target and renamed into place; an existing target that is not
empty is refused. Nothing here imports torch except the model
format (gltui/modelfile.py).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

import numpy as np

from gltui.data import save_image
from gltui.errors import ProjectError, shell_command
from gltui.fsio import NAME_MAX, atomic_folder, atomic_write, name_fits
from gltui.project import Project

FORMATS = ("csv", "jsonl", "imagefolder", "labelstudio", "model")
FIELDS = ("file", "label", "source", "confidence", "rde", "round", "time", "item")
FOLDER_FORMATS = ("imagefolder", "model")
# Label Studio: the names of the labeling config's tags the results refer to (README shows the
# config: <Image name="image" value="$image"/> <Choices name="label" toName="image">).
LS_IMAGE, LS_CHOICES = "image", "label"
LS_LOCAL_FILES = "/data/local-files/?d="


def export(project: Project, run: str, fmt: str, out: Path, *, with_predictions: bool = False,
           min_confidence: float | None = None, originals: bool = False,
           document_root: Path | None = None, round: int | None = None,
           notes: list[str] | None = None) -> int:
    """Write the export to `out` (a file for csv/jsonl/labelstudio, a folder for imagefolder and
    model); returns the number of rows (images; tasks for labelstudio) written. Bad input raises
    ProjectError before anything is written. notes: gets one line for what a person should know
    (unlabeled images the predictions do not cover, such as images added since)."""
    out = Path(out)
    if fmt not in FORMATS:
        raise ProjectError(f"unknown export format {fmt!r}; use {', '.join(FORMATS)}")
    if min_confidence is not None and not with_predictions:
        raise ProjectError(f"--min-confidence {min_confidence:g} filters predictions; add "
                           "--with-predictions (or leave --min-confidence out)")
    min_confidence = 0.0 if min_confidence is None else min_confidence
    if not 0.0 <= min_confidence <= 1.0:
        raise ProjectError(f"--min-confidence {min_confidence:g}: give a probability in [0, 1]")
    if round is not None and fmt != "model":
        raise ProjectError(f"--round picks the round model of --format model; --format {fmt} "
                           "exports the labels as they are now: leave --round out")
    if document_root is not None and fmt != "labelstudio":
        raise ProjectError(f"--document-root is Label Studio's; --format {fmt} does not use it: "
                           "leave it out")
    _check_target(out, fmt)
    project.require_run(run)
    if fmt == "model":
        from gltui.outputs.modelfolder import write_model  # torch: only for this format

        write_model(project, run, out, round)
        return 1
    rows = export_rows(project, run, with_predictions=with_predictions,
                       min_confidence=min_confidence)
    if originals and fmt != "imagefolder":
        raise ProjectError("--originals goes with --format imagefolder")
    if with_predictions and notes is not None and (gap := prediction_gap(project, run, rows)):
        notes.append(gap)
    if fmt == "labelstudio":
        rows += _unlabeled_rows(project, rows)
    sources = None
    if originals or fmt == "labelstudio":
        sources = _originals(project, rows, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        _write_text(out, _csv(rows))
    elif fmt == "jsonl":
        _write_text(out, "".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "imagefolder":
        _imagefolder(project, rows, out, sources)
    else:
        root = Path(document_root or "/").expanduser().resolve()
        tasks = label_studio_tasks(project, run, rows, sources, root)
        _write_text(out, json.dumps(tasks, indent=1) + "\n")
    return len(rows)


def export_rows(project: Project, run: str, *, with_predictions: bool = False,
                min_confidence: float = 0.0) -> list[dict]:
    """The run's active labels (in the order given), then the project's active audit labels
    (in the order given) of images the run has not labeled, then, with predictions, one row per
    unlabeled pool image the run's prediction pass covers whose confidence is at least
    `min_confidence`."""
    rows = [{"file": d.name, "label": d.class_name, "source": d.source, "confidence": None,
             "rde": None, "round": d.round, "time": d.time, "item": d.item}
            for d in project.store.labeled_detail(run)]
    labeled = {r["item"] for r in rows}
    rows += [{"file": d.name, "label": d.class_name, "source": "audit", "confidence": None,
              "rde": None, "round": None, "time": d.time, "item": d.item}
             for d in project.store.audit_label_detail() if d.item not in labeled]
    if not with_predictions:
        return rows
    found = project.store.predictions(run)
    if found is None:
        raise ProjectError(f"run {run!r} has no predictions yet; make them with "
                           f"`{shell_command('predict', project.path, '--run', run)}`")
    labeled = {r["item"] for r in rows}  # the audit images too: a label, never a prediction
    keep = np.asarray([i not in labeled for i in found.items.tolist()], dtype=bool)
    keep &= found.probs >= min_confidence
    items = found.items[keep]
    names = project.store.item_names(items)
    started = project.store.predict_pass(run)
    for item, label, prob, score in zip(items.tolist(), found.labels[keep].tolist(),
                                        found.probs[keep].tolist(), found.scores[keep].tolist()):
        rows.append({"file": names[item], "label": project.classes[label], "source": "predicted",
                     "confidence": round(prob, 6), "rde": round(score, 6), "round": found.round,
                     "time": started.created_at, "item": item})
    return rows


def prediction_gap(project: Project, run: str, rows: list[dict]) -> str | None:
    """One line when unlabeled pool images have no prediction in the run's pass (images added
    since `gltui predict` ran, or unlabeled since), or None. rows: export_rows' rows."""
    found = project.store.predictions(run)
    predicted = set(found.items.tolist()) if found is not None else set()
    labeled = {r["item"] for r in rows if r["source"] != "predicted"}
    n = sum(1 for i in project.store.item_ids("pool").tolist()
            if i not in labeled and i not in predicted)
    if not n:
        return None
    return (f"{n} unlabeled pool image{'s have' if n != 1 else ' has'} no prediction (added or "
            "unlabeled since `gltui predict` ran); run "
            f"`{shell_command('predict', project.path, '--run', run)}` again to include them")


def _unlabeled_rows(project: Project, rows: list[dict]) -> list[dict]:
    """A row with neither label nor prediction (source None) for every pool and audit image
    that `rows` leaves out: Label Studio gets every image but the test split as a task."""
    have = {r["item"] for r in rows}
    items = np.sort(np.concatenate([project.store.item_ids("pool"),
                                    project.store.item_ids("audit")]))
    items = [i for i in items.tolist() if i not in have]
    names = project.store.item_names(items)
    return [{"file": names[i], "label": None, "source": None, "confidence": None, "rde": None,
             "round": None, "time": None, "item": i} for i in items]


def _check_target(out: Path, fmt: str) -> None:
    """Refuse an --out that cannot become the export (the write goes to a temporary file or folder
    beside it, renamed over it at the end): a device, FIFO or socket (it would be replaced by a
    plain file), a path under a file, a name longer than the file system takes, a non-empty one."""
    if not name_fits(out):
        raise ProjectError(f"--out {out.name[:40]}...: the name is longer than a file system "
                           f"takes ({NAME_MAX} bytes, less room for a temporary name); choose a "
                           "shorter one")
    if out.exists() and not (out.is_file() or out.is_dir()):
        raise ProjectError(f"{out}: is a device, pipe or socket, not a file or folder; give --out "
                           "a new path")
    above = out.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise ProjectError(f"{above}: is a file, so it cannot hold --out {out}; choose another "
                           "--out")
    if fmt in FOLDER_FORMATS:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ProjectError(f"{out}: exists and is not an empty folder; choose a new --out")
    elif out.is_dir():
        raise ProjectError(f"{out}: is a folder; give a file path for --format {fmt}")
    elif out.exists() and out.stat().st_size > 0:
        raise ProjectError(f"{out}: exists and is not empty; choose a new --out")


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _originals(project: Project, rows: list[dict], fmt: str) -> dict[int, Path]:
    from gltui.project.add import original_paths

    items = np.asarray([r["item"] for r in rows], dtype=np.int64)
    found = original_paths(project, items, {r["item"]: r["file"] for r in rows})
    missing = [r["item"] for r in rows if r["item"] not in found]
    if missing:
        what = "--format labelstudio" if fmt == "labelstudio" else "--originals"
        raise ProjectError(f"{what} needs the original image files, which only folder: data "
                           f"has ({project.meta.get('spec')}); export --format imagefolder "
                           "without --originals instead")
    return found


def _imagefolder(project: Project, rows: list[dict], out: Path,
                 sources: dict[int, Path] | None) -> None:
    """CLASS/STEM-ITEM.png of the project's pixels (the model's input, letterboxed), or with
    `sources` a copy of each original file under its own name (_original_names). Predicted rows
    go to the same class folders: the csv/jsonl say which."""
    folders = class_folders([*project.classes, *(r["label"] for r in rows)])
    names = _original_names(rows, folders) if sources is not None else {}
    with atomic_folder(out) as tmp:
        for r in rows:
            folder = tmp / folders[r["label"]]
            folder.mkdir(exist_ok=True)
            if sources is not None:
                target = tmp / names[r["item"]]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(sources[r["item"]], target)
            else:
                stem = _safe(str(Path(r["file"]).with_suffix("")).replace("/", "_"))
                save_image(project.image(r["item"]), folder / f"{stem}-{r['item']}.png")


def label_studio_tasks(project: Project, run: str, rows: list[dict], sources: dict[int, Path],
                       document_root: Path) -> list[dict]:
    """Label Studio's JSON import format: one task per image, `data.image` the original file as
    Label Studio's local-files URL (/data/local-files/?d=PATH, PATH relative to its
    LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, here `document_root`); the run's labels as
    `annotations` (audit labels too: labels like a person's), the predictions as `predictions`
    (pre-annotations) with their `score` and the `model_version` that made them, each result a
    `choices` value for an image classification config."""
    tasks = []
    for r in rows:
        path = sources[r["item"]]
        try:
            rel = path.relative_to(document_root)
        except ValueError:
            raise ProjectError(f"{path}: not under --document-root {document_root}; give the "
                               "folder Label Studio serves local files from") from None
        result = [{"from_name": LS_CHOICES, "to_name": LS_IMAGE, "type": "choices",
                   "value": {"choices": [r["label"]]}}]
        task = {"data": {LS_IMAGE: LS_LOCAL_FILES + quote(rel.as_posix(), safe="/"),
                         "gltui_item": r["item"], "file": r["file"]}}
        if r["source"] is None:  # neither label nor prediction: a task to label
            pass
        elif r["source"] == "predicted":
            task["predictions"] = [{
                "model_version": f"gltui {project.path.name} run {run} round {r['round']}",
                "score": r["confidence"],
                "result": result,
            }]
        else:
            task["annotations"] = [{"result": result, "ground_truth": r["source"] == "oracle"}]
        tasks.append(task)
    return tasks


def _write_text(out: Path, text: str) -> None:
    """fsio's atomic write of `text`."""
    def write(fh) -> None:
        fh.write(text.encode("utf-8"))
        fh.flush()

    atomic_write(out, write)


def _original_names(rows: list[dict], folders: dict[str, str]) -> dict[int, Path]:
    """CLASS/NAME per row, CLASS the class's folder (class_folders), NAME the item's name: its
    path relative to the data folder (`2024/06/IMG_0001.jpg`, unique within the project), less a
    first folder that is the class folder itself (`cat/c0.png` -> cat/c0.png, not
    cat/cat/c0.png) where that path is free."""
    full = {r["item"]: Path(folders[r["label"]]) / _relative(r["file"]) for r in rows}
    taken = set(full.values())
    out: dict[int, Path] = {}
    for r in rows:
        target = full[r["item"]]
        parts = target.parts
        if len(parts) > 2 and parts[1] == parts[0]:
            short = Path(*parts[1:])
            if short not in taken:
                target = short
                taken.add(short)
        out[r["item"]] = target
    return out


def class_folders(classes: Sequence[str]) -> dict[str, str]:
    """Each class name's ImageFolder folder, one per class and no two alike (not even in case:
    `Cat` and `cat` would share one folder on macOS or Windows): the name itself where it is
    one path component a file system takes (what `gltui init --data folder:` reads back as the
    same class), else its safe form (_safe) made unique by the class's index (`____-3`). The
    validator (data/classes) refuses separators, control characters, `.` and `..`; a name
    longer than a file system takes (NAME_MAX bytes) or one made before a rule was is what
    gets the safe form. Names are taken in the order given (the project's class order)."""
    order = list(dict.fromkeys(str(c) for c in classes))
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in order:
        fits = (name.strip(".") and not any(c in name for c in "/\\\0")
                and not any(ord(c) < 32 or ord(c) == 127 for c in name)
                and len(name.encode("utf-8", "surrogateescape")) <= NAME_MAX)
        if fits and name.casefold() not in taken:
            out[name] = name
            taken.add(name.casefold())
    for index, name in enumerate(order):
        if name in out:
            continue
        base = _safe(name).encode("utf-8", "surrogateescape")[:NAME_MAX - 24]
        base = base.decode("utf-8", "ignore") or "_"  # a letter cut in two is dropped
        folder, n = f"{base}-{index}", 0
        while folder.casefold() in taken:
            n += 1
            folder = f"{base}-{index}-{n}"
        out[name] = folder
        taken.add(folder.casefold())
    return out


def _relative(name: str) -> Path:
    """An item name as a relative path that stays inside the folder it is joined to. Item names
    are POSIX paths (data/folder.py): a backslash in one is a letter of a file's name."""
    parts = [p for p in str(name).split("/") if p not in ("", ".", "..")]
    return Path(*parts) if parts else Path("_")


def _safe(name: str) -> str:
    """`name` as one path component: letters, digits and -_. kept, anything else `_`; never
    empty, `.` or `..` (which would join to the folder itself or the one above it)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))
    return safe if safe.strip(".") else "_" * max(1, len(safe))
