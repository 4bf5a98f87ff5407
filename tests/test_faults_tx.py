"""Real SIGKILLs inside open transactions and inside the export swap: all or nothing.

Each test kills a real subprocess at a named point of tests/faults.py (GLTUI_FAULT, armed by
tests/faults_launch.py or by LABEL_SCRIPT below; the package itself has no fault hook):

  label         the oracle's transaction, after all the queue's labels are written, before COMMIT
  person-label  a person's label (Labeler.label -> Store.add_label), after the label row, the
                queue entry and the event are written, before COMMIT
  export        the export built in its temporary file or folder, before the rename

and then reads the project with a fresh connection: what the killed transaction wrote is absent
as a whole (nothing half-applied), and the same action run again applies as a whole. The engine's
resume after each of these is in tests/test_engine.py; `gltui add`'s points are its own tests'.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import fault_env, run_gltui

from gltui.cli import main
from gltui.project import Labeler, Project

ORACLE_ARGS = ["--oracle", "--quiet", "--max-rounds", "2", "--device", "cpu"]
# A person's label in its own process, as the TUI gives it: no torch, one committed transaction.
# With GLTUI_FAULT set, tests/faults.py arms it first.
LABEL_SCRIPT = """
import sys
sys.path.insert(0, sys.argv.pop(1))
import faults
faults.install_from_env()
from gltui.project import Labeler, Project
project = Project.open(sys.argv[1])
Labeler(project, "main").label(int(sys.argv[2]), int(sys.argv[3]))
print("committed")
"""


def snapshot(path: Path) -> dict:
    """What a label transaction touches: the active labels, every label row (undone ones too, by
    their count), the current queue's statuses, the label events, and the phase and round."""
    with Project.open(path) as project:
        store = project.store
        row = store.run("main")
        assert store.integrity_check() == "ok" and store.duplicate_active_labels() == 0
        return {
            "labels": sorted((item, label, source, rnd)
                             for item, _, label, _, source, rnd, _ in store.labeled_detail("main")),
            "queue": [(e.item, e.status, e.label) for e in store.queue("main", row.round)],
            "label_events": len(store.events("main", ["label"], limit=1_000_000)),
            "phase": (row.phase, row.round),
        }


def label_in_a_process(path: Path, item: int, label: int, env: dict | None = None):
    from conftest import REPO_ROOT

    return run_gltui_python(LABEL_SCRIPT, str(REPO_ROOT / "tests"), str(path), str(item),
                            str(label), env=env)


def run_gltui_python(script: str, *args: str, env: dict | None = None):
    import os
    import subprocess

    from conftest import REPO_ROOT

    return subprocess.run([sys.executable, "-c", script, *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})})


def test_oracle_label_transaction_killed_before_commit_leaves_the_whole_queue_pending(
        label_project):
    before = snapshot(label_project)
    assert before["phase"] == ("label", 1) and len(before["queue"]) == 20
    assert {status for _, status, _ in before["queue"]} == {"pending"}

    killed = run_gltui("run", str(label_project), *ORACLE_ARGS, env=fault_env("label"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # It died inside the transaction: all 20 labels had been written, none is visible.
    assert snapshot(label_project) == before

    assert main(["run", str(label_project), *ORACLE_ARGS]) == 0  # the same command, whole
    after = snapshot(label_project)
    with Project.open(label_project) as project:
        queued = [item for item, _, _ in before["queue"]]
        truth = dict(zip(queued, project.store.true_labels(np.asarray(queued)).tolist()))
        round1 = {(item, label) for item, label, source, rnd in after["labels"]
                  if source == "oracle" and rnd == 1}
        assert round1 == set(truth.items())  # every queued image, with its true label
        assert all(e.status == "labeled" for e in project.store.queue("main", 1))
    assert after["phase"] == ("done", 1)


@pytest.mark.parametrize("relabel", [False, True], ids=["new-label", "relabel"])
def test_person_label_killed_before_commit_is_absent_as_a_whole(relabel, label_project):
    """A new label (label row + queue entry + event) and a relabel (the old row marked undone +
    the new row + queue + event): killed before COMMIT, the item is exactly as before."""
    with Project.open(label_project) as project:
        item = project.store.queue("main", 1)[3].item
        if relabel:
            Labeler(project, "main").label(item, 3)  # committed in this process
    before = snapshot(label_project)

    killed = label_in_a_process(label_project, item, 5, env=fault_env("person-label"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert killed.stdout == ""  # it never returned from the label
    assert killed.stderr.strip() == "gltui: test fault injection active (GLTUI_FAULT=person-label)"
    assert snapshot(label_project) == before

    again = label_in_a_process(label_project, item, 5)
    assert again.returncode == 0 and again.stdout.strip() == "committed", again.stderr
    after = snapshot(label_project)
    assert (item, 5, "human", 1) in after["labels"]
    assert [row for row in after["labels"] if row[0] == item] == [(item, 5, "human", 1)]
    assert after["label_events"] == before["label_events"] + 1
    assert dict((i, s) for i, s, _ in after["queue"])[item] == "labeled"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "imagefolder"])
def test_export_killed_before_the_swap_leaves_no_export_and_the_next_one_is_whole(
        fmt, label_project, tmp_path):
    out = tmp_path / "out" / ("export" if fmt == "imagefolder" else f"export.{fmt}")
    want = tmp_path / "want" / out.name
    assert main(["export", str(label_project), "--format", fmt, "--out", str(want)]) == 0

    killed = run_gltui("export", str(label_project), "--format", fmt, "--out", str(out),
                       env=fault_env("export"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not out.exists()  # never a half export under the target's name
    # What a SIGKILL leaves: the dot-named temporary beside the target (no code runs to remove it)
    left = [p.name for p in out.parent.iterdir()]
    assert len(left) == 1 and left[0].startswith(f".{out.name}.tmp"), left

    again = run_gltui("export", str(label_project), "--format", fmt, "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert tree(out) == tree(want)
    if fmt != "imagefolder":  # the file's temp name is fixed: the next export reuses it
        assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


def tree(path: Path) -> dict:
    """A file's bytes, or a folder's relative paths and bytes."""
    if path.is_file():
        return {".": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}
