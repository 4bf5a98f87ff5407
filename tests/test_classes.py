"""A class list that changes (issue 25): `gltui classes PROJECT --add NAME | --rename OLD NEW |
--merge A B`, and after each of them every verb: status (text and --json), report, every export
format, predict, the model export and `gltui.load_model`, and the next round (its output layer
grows with an added class). Bad input is one line, exit 2, nothing changed; a change is one
transaction with its event. Real data: 160 sample digits as a person's folder (labels.csv for 60).
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE_MNIST

from gltui.cli import main
from gltui.project import Labeler, Project, run_lock
from gltui.project.classes import ClassList

AUDIT = 10
DIGITS = [str(d) for d in range(10)]


def truth() -> dict[str, int]:
    """file name -> its digit, for every sample training digit."""
    rows = (SAMPLE_MNIST / "labels.csv").read_text().split()[1:]
    return {r.split(",")[0]: int(r.split(",")[1]) for r in rows}


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory) -> Path:
    """160 sample digits as a flat folder, with a labels.csv labeling the first 60."""
    folder = tmp_path_factory.mktemp("photos") / "digits"
    folder.mkdir()
    rows = (SAMPLE_MNIST / "labels.csv").read_text().split()[1:161]
    for row in rows:
        shutil.copyfile(SAMPLE_MNIST / row.split(",")[0], folder / row.split(",")[0])
    (folder / "labels.csv").write_text("file,label\n" + "\n".join(rows[:60]) + "\n")
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory, digit_folder) -> Path:
    """A person's project: round 0 trained on the 60 labels.csv labels, its queue waiting, half
    of the audit set labeled by the person (the true digits), predictions for the rest."""
    path = tmp_path_factory.mktemp("classes") / "proj"
    assert main(["init", str(path), "--data", f"folder:{digit_folder}", "--profile", "tiny",
                 "--k", "2", "--audit", str(AUDIT), "--semi", "off"]) == 0
    assert main(["run", str(path), "--quiet", "--device", "cpu"]) == 0
    assert main(["predict", str(path), "--device", "cpu"]) == 0
    digits = truth()
    with Project.open(path) as project:
        labeler = Labeler(project, "main")
        names = project.store.item_names(labeler.audit_queue())
        for item in labeler.audit_queue()[: AUDIT // 2]:
            labeler.label_audit(item, digits[names[item]])
    return path


@pytest.fixture
def proj(tmp_path, template) -> Path:
    dest = tmp_path / "proj"
    shutil.copytree(template, dest)
    return dest


def classes(path: Path, *change: str) -> int:
    return main(["classes", str(path), *change])


def fingerprint(path: Path) -> tuple:
    """Everything a class change could touch: the class table, every label and true label."""
    conn = sqlite3.connect(path / "gltui.db")
    try:
        return tuple(conn.execute(sql).fetchall() for sql in (
            "SELECT * FROM classes ORDER BY id", "SELECT * FROM labels ORDER BY id",
            "SELECT * FROM audit_labels ORDER BY id", "SELECT id, true_label FROM items",
            "SELECT COUNT(*) FROM events"))
    finally:
        conn.close()


def label_queue(path: Path, relabel: dict[int, int] | None = None) -> list[int]:
    """Answer the waiting queue with the true digits, a merged one as the class it went into
    (`relabel`: item -> class instead)."""
    digits = truth()
    with Project.open(path) as project:
        labeler = Labeler(project, "main")
        fold = ClassList.read(project.store).fold
        queue = [e.item for e in labeler.queue() if e.status == "pending"]
        names = project.store.item_names(queue)
        for item in queue:
            labeler.label(item, (relabel or {}).get(item, int(fold[digits[names[item]]])))
    return queue


def every_verb(path: Path, tmp_path: Path, capsys, *, model_outputs: int) -> dict:
    """status, status --json, report, predict, every export format, load_model: each must
    succeed; returns what they wrote for the caller's checks."""
    import gltui

    out: dict = {}
    capsys.readouterr()
    assert main(["status", str(path)]) == 0
    out["status"] = capsys.readouterr().out
    assert main(["status", str(path), "--json"]) == 0
    out["json"] = json.loads(capsys.readouterr().out)
    assert main(["report", str(path), "--out", str(tmp_path / "report")]) == 0
    out["report"] = (tmp_path / "report" / "report.md").read_text()
    capsys.readouterr()
    assert main(["predict", str(path), "--device", "cpu"]) == 0
    out["predict"] = capsys.readouterr().out.strip()
    for fmt, name in (("csv", "l.csv"), ("jsonl", "l.jsonl"), ("imagefolder", "folder"),
                      ("labelstudio", "ls.json"), ("model", "model")):
        target = tmp_path / name
        assert main(["export", str(path), "--format", fmt, "--out", str(target),
                     *(["--with-predictions"] if fmt != "model" else [])]) == 0, fmt
    with open(tmp_path / "l.csv") as fh:
        out["csv"] = list(csv.DictReader(fh))
    out["jsonl"] = [json.loads(line) for line in (tmp_path / "l.jsonl").read_text().splitlines()]
    out["folders"] = sorted(p.name for p in (tmp_path / "folder").iterdir())
    out["labelstudio"] = json.loads((tmp_path / "ls.json").read_text())
    model = gltui.load_model(tmp_path / "model")
    assert len(model.classes) == model_outputs
    with Project.open(path) as project:
        images = np.asarray(project.pixels[project.store.item_ids("pool")[:50]])
    predicted, probs = model.predict(images)
    assert len(predicted) == 50 and (predicted < model_outputs).all()
    out["model_classes"] = [model.classes[c] for c in predicted]
    return out


def class_header(report: str) -> str:
    """The header row of the report's per-class table."""
    return next(line for line in report.splitlines() if line.startswith("| run | 0 |"))


def written_labels(out: dict) -> set[str]:
    """Every class name any export or the model wrote."""
    names = {r["label"] for r in out["csv"]} | {r["label"] for r in out["jsonl"]}
    for task in out["labelstudio"]:
        for part in task.get("annotations", []) + task.get("predictions", []):
            names.update(part["result"][0]["value"]["choices"])
    return names | set(out["folders"]) | set(out["model_classes"])


# ---- add ----------------------------------------------------------------------------------------


def test_add_then_every_verb_and_the_next_round_learns_it(proj, tmp_path, capsys):
    capsys.readouterr()
    assert classes(proj, "--add", "smudge") == 0
    assert "added class 'smudge'" in capsys.readouterr().out
    # Before any round learned it: the latest model has 10 outputs, and every verb still works
    # (the report used to crash on class histograms of different lengths).
    before = every_verb(proj, tmp_path / "before", capsys, model_outputs=10)
    assert before["json"]["classes"] == DIGITS + ["smudge"]
    assert "| smudge |" in class_header(before["report"])
    # Label the queue, three of its images as the new class, and train the next round.
    queue = label_queue(proj)
    with Project.open(proj) as project:
        labeler = Labeler(project, "main")
        for item in queue[:3]:
            labeler.relabel(item, 10)
    assert main(["run", str(proj), "--quiet", "--device", "cpu"]) == 0
    with Project.open(proj) as project:
        rounds = project.store.rounds("main")
        assert [len(r.class_hist) for r in rounds if r.class_hist] == [10, 11]
        assert rounds[-1].class_hist[10] == 3
    after = every_verb(proj, tmp_path / "after", capsys, model_outputs=11)
    hists = [r["class_hist"] for r in after["json"]["runs"][0]["rounds"] if r["class_hist"]]
    assert [len(h) for h in hists] == [11, 11] and hists[0][10] == 0 and hists[1][10] == 3
    assert "smudge" in after["report"]
    assert {"smudge"} <= {r["label"] for r in after["csv"] if r["source"] == "human"}
    assert "smudge" in after["folders"]


def test_add_refuses_a_bad_or_existing_name_with_one_line(proj, capsys):
    before = fingerprint(proj)
    for name, needle in (("3", "exists already"), ("a,b", "comma"), ("  ", "empty"),
                         ("x/y", "path separator"), ("--force", "starts with '-'")):
        capsys.readouterr()  # `--add=NAME`: a leading '-' reaches the validator, as it once did
        assert classes(proj, f"--add={name}") == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
    assert fingerprint(proj) == before


# ---- rename -------------------------------------------------------------------------------------


def test_rename_then_every_verb(proj, tmp_path, capsys):
    with Project.open(proj) as project:
        labeled = {int(i): int(v) for i, v in zip(*project.store.labeled("main"))}
    assert classes(proj, "--rename", "3", "three") == 0
    with Project.open(proj) as project:
        assert project.classes[3] == "three"
        assert {int(i): int(v) for i, v in zip(*project.store.labeled("main"))} == labeled
    out = every_verb(proj, tmp_path, capsys, model_outputs=10)
    assert out["json"]["classes"][3] == "three"
    names = written_labels(out)
    assert "3" not in names and "three" in {r["label"] for r in out["csv"]}
    assert "| three |" in class_header(out["report"])


def test_rename_refusals(proj, capsys):
    before = fingerprint(proj)
    for change, needle in ((["--rename", "nine", "9x"], "no class 'nine'"),
                           (["--rename", "3", "4"], "exists already"),
                           (["--rename", "3", "3"], "has that name already"),
                           (["--rename", "3", "a,b"], "comma")):
        capsys.readouterr()
        assert classes(proj, *change) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
    assert fingerprint(proj) == before


# ---- merge --------------------------------------------------------------------------------------


def test_merge_folds_every_label_and_every_view_reads_it(proj, tmp_path, capsys):
    with Project.open(proj) as project:
        store = project.store
        _, labels = store.labeled("main")
        n7, n1 = int((labels == 7).sum()), int((labels == 1).sum())
        audit_items, audit_labels = store.audit_labels()
        pool, true_pool = store.split_items("pool")
        predicted = store.predictions("main").labels
    assert n7 and n1
    capsys.readouterr()
    assert classes(proj, "--merge", "7", "1") == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("merged class '7' into '1'")
    with Project.open(proj) as project:
        store = project.store
        _, labels = store.labeled("main")
        assert (labels == 7).sum() == 0 and (labels == 1).sum() == n1 + n7
        assert store.conn.execute("SELECT COUNT(*) FROM labels WHERE label = 7").fetchone()[0] == 0
        assert (store.audit_labels()[1] == 7).sum() == 0
        assert store.audit_labels()[1].tolist() == np.where(audit_labels == 7, 1,
                                                            audit_labels).tolist()
        assert (store.split_items("pool")[1] == 7).sum() == 0
        assert project.classes[7] == "1" and len(project.classes) == 10  # the index stays
    # Every verb: the merged class never appears, earlier models' answers 7 read as 1.
    out = every_verb(proj, tmp_path, capsys, model_outputs=10)
    assert out["json"]["classes"] == [d for d in DIGITS if d != "7"]
    hist = out["json"]["runs"][0]["rounds"][0]["class_hist"]
    assert len(hist) == 9 and hist[1] == n1 + n7
    names = written_labels(out)
    assert "7" not in names and "1" in names
    assert "9 classes" in out["status"]
    assert class_header(out["report"]) == "| run | " + " | ".join(
        d for d in DIGITS if d != "7") + " | max/min at the end |"
    # The round-0 model still has its output 7: its answers there read "1" in predict's rows.
    assert (predicted == 7).any()  # it did answer 7 before the merge
    assert {r["label"] for r in out["csv"] if r["source"] == "predicted"} <= set(DIGITS) - {"7"}
    # predict's line counts them per class in use: the answers 7 under "1", none lost
    counts = dict(part.split() for part in out["predict"].split("(")[1].split(")")[0].split(", "))
    assert "7" not in counts and int(counts["1"]) >= int((predicted == 7).sum())
    assert sum(map(int, counts.values())) == len(predicted)
    # The next round trains with the tombstone's output left unlearned; every view still reads.
    label_queue(proj)
    assert main(["run", str(proj), "--quiet", "--device", "cpu"]) == 0
    out = every_verb(proj, tmp_path / "next", capsys, model_outputs=10)
    assert "7" not in written_labels(out)


def test_merged_class_labels_written_later_fold_into_the_target(proj):
    """No writer can give the merged class a label: the database folds it (a `gltui add` that
    names it, an oracle that read the true labels before the merge)."""
    assert classes(proj, "--merge", "7", "1") == 0
    with Project.open(proj) as project:
        store = project.store
        item = int(store.unlabeled_pool("main")[0])
        store.add_label("main", None, item, 7, "oracle")
        assert dict(zip(*store.labeled("main")))[item] == 1
        audit = store.audit_queue()[0]
        store.add_audit_label(audit, 7, "oracle")
        assert dict(zip(*store.audit_labels()))[audit] == 1
        with pytest.raises(Exception, match="merged into '1'"):
            Labeler(project, "main").label(int(store.unlabeled_pool("main")[0]), 7)


def test_merge_twice_and_the_chain_points_at_a_class_in_use(proj, capsys):
    assert classes(proj, "--merge", "7", "1") == 0
    assert classes(proj, "--merge", "1", "4") == 0
    with Project.open(proj) as project:
        assert project.classes[7] == project.classes[1] == "4"
        _, labels = project.store.labeled("main")
        assert not np.isin(labels, [1, 7]).any()
    capsys.readouterr()
    assert classes(proj) == 0
    listing = capsys.readouterr().out
    assert "7: merged into '4'" in listing and "1: merged into '4'" in listing
    assert classes(proj, "--add", "7") == 0  # a merged name is free again: a new class
    with Project.open(proj) as project:
        assert project.classes[10] == "7"


def test_merge_refusals_change_nothing(proj, capsys):
    before = fingerprint(proj)
    for change, needle in ((["--merge", "7", "7"], "one class"),
                           (["--merge", "seven", "1"], "no class 'seven'"),
                           (["--merge", "7", "one"], "no class 'one'")):
        capsys.readouterr()
        assert classes(proj, *change) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
    with Project.open(proj) as project:  # a run being driven: a merge would rewrite its labels
        with run_lock(project, "main"):
            capsys.readouterr()
            assert classes(proj, "--merge", "7", "1") == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and "being driven" in err[0] and "stop it" in err[0]
            # adding and renaming change no index: they go ahead beside the running run
            assert classes(proj, "--add", "smudge") == 0
            assert classes(proj, "--rename", "smudge", "blot") == 0
    after = fingerprint(proj)
    assert after[1:4] == before[1:4]  # no label or true label changed
    assert classes(proj, "--merge", "7", "1") == 0  # the run free again: the merge goes ahead


def test_merge_of_the_last_two_classes_is_refused(tmp_path, capsys):
    x = np.zeros((40, 8, 8), np.uint8)
    x[:, 0, 0] = np.arange(40)
    np.savez(tmp_path / "d.npz", x=x)
    path = tmp_path / "p"
    assert main(["init", str(path), "--data", f"npz:{tmp_path / 'd.npz'}", "--classes", "a,b",
                 "--initial", "4", "--audit", "0"]) == 0
    capsys.readouterr()
    assert classes(path, "--merge", "a", "b") == 2
    assert "leave one class" in capsys.readouterr().err


def test_a_change_is_one_transaction_with_its_event(proj, monkeypatch):
    """A failure at the last statement of the change (its event) leaves the old list and every
    label as they were: the change commits whole or not at all, so a kill at any instant leaves
    the old list or the new one."""
    from gltui.store import Store

    before = fingerprint(proj)

    def broken(self, run, kind, detail):
        raise OSError("disk gone at the event")

    monkeypatch.setattr(Store, "_event", broken)
    for change in (["--merge", "7", "1"], ["--rename", "3", "three"], ["--add", "smudge"]):
        assert classes(proj, *change) == 1
        assert fingerprint(proj) == before
    monkeypatch.undo()
    assert classes(proj, "--merge", "7", "1") == 0
    with Project.open(proj) as project:
        (event,) = project.store.conn.execute(
            "SELECT detail FROM events WHERE kind = 'merge-class'").fetchall()
    detail = json.loads(event[0])
    assert detail["index"] == 7 and detail["into"] == 1 and detail["labels"] > 0


def test_reading_the_class_list_imports_no_torch(proj):
    import subprocess
    import sys

    code = ("import sys; from gltui.cli import main; "
            f"assert main(['classes', {str(proj)!r}, '--rename', '3', 'three']) == 0; "
            f"assert main(['classes', {str(proj)!r}]) == 0; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
