"""The CLI contract: init, status, export round trips, and bad input (exit 2, one line, no
change)."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE_MNIST, init_args, one_error_line

from gltui.cli import main
from gltui.data import load
from gltui.project import Project


def tree_digest(path: Path) -> str:
    """A digest of every file under path (names and bytes): 'nothing changed' made checkable."""
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(path)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_init_and_status_json(tmp_path, small_npz, capsys):
    proj = tmp_path / "p"
    assert main(init_args(proj, small_npz)) == 0
    capsys.readouterr()
    assert main(["status", str(proj), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    run = status["runs"][0]
    assert (run["name"], run["strategy"], run["phase"], run["round"]) == ("main", "rde", "train", 0)
    assert run["n_labeled"] == 20 and run["n_pool"] == 800 - 100 - 20
    assert status["items"] == {"pool": 700, "val": 100, "test": 200}
    assert run["rounds"] == []


@pytest.mark.parametrize("argv, words", [
    (["init", "{tmp}/new", "--data", "nosuchkind:x"], "unknown kind"),
    (["init", "{tmp}/new", "--data", "folder:/no/such/folder"], "/no/such/folder"),
    (["init", "{tmp}/new", "--data", "idx:{bad_idx}"], "magic"),
    (["init", "{tmp}/new", "--data", "npz:{npz}", "--initial", "0"], "at least 1"),
    (["init", "{tmp}/new", "--data", "npz:{npz}", "--initial", "500"], "pool"),
    (["init", "{tmp}/new", "--data", "npz:{npz}", "--val-size", "800"], "0 pool images"),
    (["init", "{tmp}/new", "--data", "npz:{empty_npz}"], "no images"),
    (["init", "{tmp}/new"], "--data"),
    (["run", "{missing}"], "gltui init"),
    (["run", "{p}", "--max-rounds", "many"], "many"),
    (["run", "{p}", "--schedule", "linear"], "exponential or fixed"),
    (["run", "{p}", "--target-accuracy", "2000"], "accuracy"),
    (["run", "{p}", "--strategy", "random"], "another run"),
    (["run", "{p}", "--run", "bad name!", "--strategy", "random"], "run name"),
    (["status", "{file}"], "is a file"),
    (["export", "{p}", "--format", "xml", "--out", "x"], "xml"),
    (["export", "{p}", "--format", "csv", "--out", "{tmp}/e.csv", "--run", "nope"],
     "no run 'nope'"),
    (["init", "{p}", "--data", "npz:{npz}"], "already a gltui project"),
    (["init", "{tmp}/new", "--data", "folder:{unlabeled}"], "no class names"),
    (["bogus-command"], ""),
])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(
        argv, words, fresh_project, small_npz, tmp_path, capsys):
    bad_idx = tmp_path / "badidx"
    bad_idx.mkdir()
    (bad_idx / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x09\x03" + b"\x00" * 100)
    (bad_idx / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 8)
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    unlabeled = tmp_path / "unlabeled"  # a flat folder of real digits without labels.csv
    unlabeled.mkdir()
    for png in sorted(SAMPLE_MNIST.glob("*.png"))[:40]:
        shutil.copy(png, unlabeled / png.name)
    empty_npz = tmp_path / "empty.npz"  # an empty pool
    np.savez(empty_npz, x=np.zeros((0, 28, 28), np.uint8), y=np.zeros(0, np.int64))
    fill = dict(empty_npz=empty_npz, p=fresh_project, missing=tmp_path / "missing",
                bad_idx=bad_idx, npz=small_npz, file=a_file, tmp=tmp_path, unlabeled=unlabeled)
    argv = [a.format(**fill) for a in argv]
    before = tree_digest(fresh_project)
    capsys.readouterr()
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert words in line
    assert tree_digest(fresh_project) == before
    assert not (tmp_path / "new").exists()


def test_a_refused_second_driver_changes_nothing(fresh_project, capsys):
    """The lock is held, deterministically, by this process (flock conflicts across open file
    descriptions, even in one process): a second `gltui run` with other options is refused, and
    neither the run's options nor its events nor any file changed (issue 16)."""
    from gltui.project import run_lock

    with Project.open(fresh_project) as project:
        with run_lock(project, "main"):
            before = tree_digest(fresh_project)
            runs_before = [(r.name, r.config, r.phase, r.round) for r in project.store.runs()]
            events_before = project.store.events("main")
            capsys.readouterr()
            assert main(["run", str(fresh_project), "--max-rounds", "5", "--k", "3",
                         "--quiet"]) == 2
            assert "being driven by another process" in one_error_line(capsys)
            runs_after = [(r.name, r.config, r.phase, r.round) for r in project.store.runs()]
            assert runs_after == runs_before
            assert project.store.events("main") == events_before
            assert tree_digest(fresh_project) == before
            # An existing run asked for another strategy is refused before the lock is even tried.
            assert main(["run", str(fresh_project), "--strategy", "margin", "--quiet"]) == 2
            assert "uses strategy rde" in one_error_line(capsys)
            assert tree_digest(fresh_project) == before


def test_init_force_replaces_and_folder_with_other_files_is_refused(
        tmp_path, small_npz, fresh_project, capsys):
    assert main(init_args(fresh_project, small_npz, "--force", "--seed", "3")) == 0
    with Project.open(fresh_project) as project:
        assert project.run_config("main").seed == 3
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(init_args(other, small_npz)) == 2
    assert "notes.txt" in one_error_line(capsys)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


@pytest.fixture(scope="module")
def finished_project(tmp_path_factory, small_project_template):
    import shutil

    path = tmp_path_factory.mktemp("fin") / "proj"
    shutil.copytree(small_project_template, path)
    assert main(["run", str(path), "--oracle", "--quiet", "--max-rounds", "2"]) == 0
    return path


def test_export_csv_and_jsonl_match_the_store(finished_project, tmp_path):
    with Project.open(finished_project) as project:
        items, labels = project.store.labeled("main")
        names = project.store.item_names(items)
        expected = {names[i]: project.classes[y] for i, y in zip(items.tolist(), labels.tolist())}
    assert main(["export", str(finished_project), "--format", "csv", "--out",
                 str(tmp_path / "l.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "l.csv")))
    assert {r["file"]: r["label"] for r in rows} == expected
    assert {r["source"] for r in rows} == {"seed", "oracle"}
    assert len(rows) == 40
    assert main(["export", str(finished_project), "--format", "jsonl", "--out",
                 str(tmp_path / "l.jsonl")]) == 0
    records = [json.loads(line) for line in open(tmp_path / "l.jsonl")]
    assert {r["file"]: r["label"] for r in records} == expected


def test_export_imagefolder_reimports_with_the_same_labels(finished_project, tmp_path):
    out = tmp_path / "folder"
    assert main(["export", str(finished_project), "--format", "imagefolder",
                 "--out", str(out)]) == 0
    again = load(f"folder:{out}")
    with Project.open(finished_project) as project:
        items, labels = project.store.labeled("main")
        # Files are named <stem>-<item>.png: map each back to its item and compare label and pixels.
        got = {int(Path(n).stem.rsplit("-", 1)[1]): (again.classes[y], i)
               for i, (n, y) in enumerate(zip(again.train.names, again.train.labels.tolist()))}
        assert sorted(got) == sorted(items.tolist())
        for item, label in zip(items.tolist(), labels.tolist()):
            cls, row = got[item]
            assert cls == project.classes[label]
            assert (again.train.images[row] == project.image(item)).all()


def test_reading_a_project_does_not_import_torch(finished_project):
    """status/export only read: they must not pay for torch (1.5 s) or Textual."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from gltui.cli import main\n"
        f"assert main(['status', {str(finished_project)!r}]) == 0\n"
        "bad = [m for m in ('torch', 'textual', 'kornia') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr


def test_status_into_a_file_never_cuts_a_name(fresh_project, capsys):
    """Piped into a file or a log (no terminal, rich's default 80 columns), `gltui status` prints
    its tables at their natural width: a long run name and its strategy come out whole."""
    from gltui.project import runs

    name = "random-seed-three-with-a-long-name"
    with Project.open(fresh_project) as project:
        runs.commit(project, runs.plan(project, name, runs.Knobs(strategy="random"), seed=3))
    capsys.readouterr()
    assert main(["status", str(fresh_project)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [name, "random", "3"] in [row[:3] for row in rows]
    assert not any("…" in cell for row in rows for cell in row)
