"""Verbs side by side (gltui/project/locks.py): what may run at once, and what a busy project says.

Races are staged at known instants: a process is paused at a named point of tests/faults.py
(GLTUI_FAULT_SIGNAL=STOP: it sends itself SIGSTOP there, holding whatever it holds), the other
verb runs, then the first is let go (SIGCONT). So each test is the same interleaving every time:

  a run paused at the start of round 0's scoring (trained, its pixels mapped, the run lock held)
  an `add` paused after its longer pixels file is written and before it is renamed into place,
    or after the rename and before its items are committed (the add lock held)

What is checked: a busy lock is one line naming the holder (exit 2, nothing changed); `add`
works beside a run, and a run, even one created while `add` worked, sees the new images from
its next scoring pass; two `add`s serialize; `init --force` is refused while anything holds a
lock; a process that opened the project before an `add` reads the new images.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    REFERENCE_ARGS,
    REFERENCE_ENV,
    REPO_ROOT,
    SAMPLE_MNIST,
    gltui_command,
    init_args,
    read_digits,
    run_gltui,
)

from gltui.project import Project

sys.path.insert(0, str(REPO_ROOT))
from benchmarks.hostile import tree_hash  # noqa: E402

N_ITEMS = 1000  # the small project: 800 digits (pool, validation), 200 test digits


@pytest.fixture(scope="module")
def more_digits(tmp_path_factory) -> Path:
    """100 sample digits the small project does not hold, as an npz for `gltui add`."""
    x, y = read_digits(SAMPLE_MNIST, 900)
    path = tmp_path_factory.mktemp("more") / "more.npz"
    np.savez(path, x=x[800:], y=y[800:])
    return path


def paused(args: list[str], point: str, env: dict | None = None) -> subprocess.Popen:
    """`gltui ARGS` started through the fault launcher and stopped at `point` (SIGSTOP)."""
    env = {**REFERENCE_ENV, **(env or {}), "GLTUI_FAULT": point, "GLTUI_FAULT_SIGNAL": "STOP"}
    proc = subprocess.Popen([*gltui_command(env), *args], cwd=REPO_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env})
    deadline = time.time() + 120
    while _state(proc.pid) != "T":
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, f"{args} never reached {point}"
        time.sleep(0.02)
    return proc


def resume(proc: subprocess.Popen) -> subprocess.Popen:
    """Let a paused process go on and wait for it."""
    os.kill(proc.pid, signal.SIGCONT)
    proc.communicate(timeout=600)
    return proc


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]


def one_line(proc) -> str:
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1, (proc.returncode, proc.stderr)
    return lines[0]


def test_a_busy_project_is_one_line_naming_the_holder_and_nothing_changes(
        fresh_project, small_npz):
    run = paused(["run", str(fresh_project), *REFERENCE_ARGS], "phase:score")
    try:
        before = tree_hash(fresh_project)
        busy = (f"gltui: {fresh_project} is busy: run 'main' is being driven by another process "
                f"(pid {run.pid}, gltui run: scoring round 0); try again when it ends")
        assert one_line(run_gltui("run", str(fresh_project), *REFERENCE_ARGS)) == busy
        assert one_line(run_gltui(str(fresh_project))) == busy  # the TUI
        init = run_gltui(*init_args(fresh_project, small_npz, "--force"))
        assert one_line(init).startswith(f"gltui: {fresh_project} is busy: run 'main' is being "
                                         f"driven by another process (pid {run.pid}, gltui run")
        assert tree_hash(fresh_project) == before
        assert sorted(p.name for p in fresh_project.parent.iterdir()) == ["proj"]  # no temp
    finally:
        run.kill()
        run.communicate()


@pytest.mark.slow
def test_add_beside_a_run_lands_and_the_run_scores_the_new_images(fresh_project, more_digits):
    """The run is paused after training round 0 (its pixels mapped); `add` goes through (it no
    longer needs the run's lock); the run, let go, scores a pass that holds the new images."""
    run = paused(["run", str(fresh_project), *REFERENCE_ARGS], "phase:score")
    try:
        add = run_gltui("add", str(fresh_project), "--data", f"npz:{more_digits}")
        assert add.returncode == 0 and add.stderr == "", add.stderr
        assert "added 100 images" in add.stdout
    finally:
        resume(run)
    assert run.returncode == 0, run.stderr
    _check_scored_new_images(fresh_project, "main")


@pytest.mark.slow
def test_a_run_created_while_add_works_sees_the_new_images(fresh_project, more_digits):
    """The issue's IndexError: a run whose pixels were mapped before `add` renamed its file, and
    which reads the new items after `add` committed them."""
    add = paused(["add", str(fresh_project), "--data", f"npz:{more_digits}"], "add:written")
    run = None
    try:
        run = paused(["run", str(fresh_project), "--run", "b", *REFERENCE_ARGS], "phase:score")
        resume(add)
        assert add.returncode == 0, add.stderr
    finally:
        if add.poll() is None:
            resume(add)
        if run is not None:
            resume(run)
    assert run.returncode == 0, run.stderr
    _check_scored_new_images(fresh_project, "b")


def _check_scored_new_images(path: Path, run: str) -> None:
    with Project.open(path) as project:
        store = project.store
        assert store.item_end() == N_ITEMS + 100
        candidates, _, _ = store.scoring_pass(run, 0)
        assert (candidates >= N_ITEMS).sum() > 0  # the pass after the add holds new images
        assert store.run(run).phase == "done"
        assert store.integrity_check() == "ok" and store.duplicate_active_labels() == 0


def test_two_adds_serialize_the_second_is_one_busy_line(fresh_project, more_digits, tmp_path):
    first = paused(["add", str(fresh_project), "--data", f"npz:{more_digits}"], "add:written")
    try:
        before = tree_hash(fresh_project)
        x, y = read_digits(SAMPLE_MNIST, 950)
        np.savez(tmp_path / "other.npz", x=x[900:], y=y[900:])
        second = run_gltui("add", str(fresh_project), "--data", f"npz:{tmp_path / 'other.npz'}")
        assert one_line(second) == (
            f"gltui: {fresh_project} is busy: another process is adding images to it (pid "
            f"{first.pid}, gltui add); try again when it ends")
        assert tree_hash(fresh_project) == before
    finally:
        resume(first)
    assert first.returncode == 0, first.stderr
    again = run_gltui("add", str(fresh_project), "--data", f"npz:{tmp_path / 'other.npz'}")
    assert again.returncode == 0, again.stderr
    with Project.open(fresh_project) as project:
        assert project.store.item_end() == N_ITEMS + 150
        assert len(project.pixels) >= N_ITEMS + 150


def test_a_process_that_opened_the_project_before_an_add_reads_the_new_images(
        fresh_project, more_digits):
    """Project.pixels maps the file anew when `add` replaced it: a long-lived reader (the TUI,
    an export, a run) gets the new rows for the new item ids, not an IndexError."""
    x, _ = read_digits(SAMPLE_MNIST, 900)
    with Project.open(fresh_project) as project:
        old = project.pixels
        assert len(old) == N_ITEMS
        add = run_gltui("add", str(fresh_project), "--data", f"npz:{more_digits}")
        assert add.returncode == 0, add.stderr
        assert np.array_equal(project.image(N_ITEMS)[0], x[800])
        assert np.array_equal(project.pixels[:N_ITEMS], old)  # the old rows are the same
        assert project.pixels is project.pixels  # mapped once, not per access


@pytest.mark.slow
def test_readers_and_exports_work_while_a_run_is_driven(tmp_path, reference_project, capsys):
    """The run's lock held (a run is being driven): `status`, `report` and `export` work beside
    it (README "Guarantees"; `check` beside a run: tests/test_check.py's fixture), while a second
    driver and `predict` (it writes the run's predictions) are refused with one line."""
    import shutil

    from gltui.cli import main
    from gltui.project import run_lock

    path = tmp_path / "proj"
    shutil.copytree(reference_project, path)
    with Project.open(path) as project, run_lock(project, "main"):
        assert main(["status", str(path), "--json"]) == 0
        assert main(["report", str(path), "--out", str(tmp_path / "report")]) == 0
        assert main(["export", str(path), "--format", "csv", "--out",
                     str(tmp_path / "labels.csv")]) == 0
        for refused in (["run", str(path), *REFERENCE_ARGS],
                        ["predict", str(path), "--device", "cpu"]):
            capsys.readouterr()
            assert main(refused) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and "being driven by another process" in err[0], err
    assert (tmp_path / "report" / "report.md").exists()
    assert (tmp_path / "labels.csv").read_text().count("\n") == 41  # a header, 40 labels
