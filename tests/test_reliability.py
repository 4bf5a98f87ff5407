"""Reliability: random SIGKILLs (benchmarks/chaos.py, short), Ctrl-C in train and score, and bad
project folders / databases / labels.csv at the CLI (exit 2, one line on stderr).

Cases already in tests/test_cli.py (`status` on a file, missing project, ...) or tests/test_data.py
(labels.csv errors at the reader level) are not repeated; see docs/reliability.md for the map.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCE_ARGS, REFERENCE_ENV, SAMPLE_MNIST, fault_env, init_args

from gltui.cli import main
from gltui.project import Project

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks import chaos  # noqa: E402

# The shared reference command (tests/conftest.py): 11 scoring chunks a pass, so a Ctrl-C aimed
# at the score phase lands inside it; its uninterrupted run is made once per session.
INT_ARGS = REFERENCE_ARGS


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# ---- random SIGKILLs -----------------------------------------------------------------------------


@pytest.mark.slow
def test_chaos_five_sigkills_one_per_phase_end_in_the_uninterrupted_state(
        tmp_path, small_project_template, reference_project, capsys):
    result = chaos.chaos(n=5, seed=7, workdir=tmp_path, template=small_project_template,
                         reference=reference_project, run_args=REFERENCE_ARGS, env=REFERENCE_ENV)
    with capsys.disabled():
        print(f"\nchaos, 5 kills: phases {result['phases']}, after start-up "
              f"{result['phases_after_startup']}, kill log (cycle, phase, round, how, s after "
              f"start-up, after start-up) {result['kill_log']}")
    assert result["kills"] == 5, result
    assert result["problems"] == [] and result["identical"], result
    assert len(result["phases"]) >= 4, result["kill_log"]  # a slow box may let one slip past
    # Every kill came after the child's start-up: from outside only once it held the run lock,
    # had entered Runner.drive (its GLTUI_STARTED marker: torch imported) and had visibly
    # worked; the named points are inside the engine.
    assert sum(result["phases_after_startup"].values()) == 5, result["kill_log"]
    outside = [k for k in result["kill_log"] if k[4] is not None]
    assert outside and all(k[4] > 0 for k in outside), result["kill_log"]


# ---- Ctrl-C --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uninterrupted_int(reference_project) -> dict:
    return chaos.final_state(reference_project)


def start_run(project: Path, **kw):
    return chaos.start_run(project, INT_ARGS, env={**REFERENCE_ENV, **kw.pop("env", {})}, **kw)


def _interrupt_in(project: Path, phase: str, ready) -> tuple[subprocess.CompletedProcess, str]:
    """Start `gltui run`, poll the database until `phase` is committed and ready(project) holds,
    then send SIGINT (what Ctrl-C sends). Returns the finished process and the phase it was in."""
    proc = start_run(project, stderr=subprocess.PIPE, text=True)
    lock = project / "checkpoints" / "main" / "lock"
    deadline = time.time() + 60
    seen = None
    try:
        while time.time() < deadline and proc.poll() is None:
            # the lock holds the driver's pid once it has imported the engine and started driving
            if lock.exists() and lock.read_text():
                seen = chaos.phase_of(project)[0]
                if seen == phase and ready(project):
                    break
            time.sleep(0.01)
        assert proc.poll() is None, f"the run ended before reaching {phase}"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, "", err), seen


def _has_epoch_checkpoint(project: Path) -> bool:
    return (project / "checkpoints" / "main" / "train-round000.ckpt").exists()


def _has_scored_chunk(project: Path) -> bool:
    with Project.open(project) as p:
        row = p.store.run("main")
        return bool(p.store.done_chunks("main", row.round))


@pytest.mark.parametrize("phase, ready", [
    pytest.param("train", _has_epoch_checkpoint, marks=pytest.mark.slow),
    ("score", _has_scored_chunk)])
def test_ctrl_c_exits_130_with_one_line_and_resumes_to_the_same_state(
        phase, ready, fresh_project, uninterrupted_int, one_thread):
    interrupted, seen = _interrupt_in(fresh_project, phase, ready)
    assert seen == phase
    assert interrupted.returncode == 130, interrupted.stderr
    lines = interrupted.stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0], lines
    state = chaos.final_state(fresh_project)
    assert state["phase"] != "done"
    assert state["tmp_files"] == [] and state["integrity"] == "ok"
    assert main(["run", str(fresh_project), *INT_ARGS]) == 0  # resumed here, one thread
    assert chaos.compare(chaos.final_state(fresh_project), uninterrupted_int) == []


@pytest.mark.parametrize("point", ["phase:evaluate", "phase:query", "phase:label", "label"])
@pytest.mark.slow
def test_ctrl_c_in_evaluate_query_and_label_exits_130_and_resumes_to_the_same_state(
        point, fresh_project, uninterrupted_int, one_thread):
    """The short phases last milliseconds, so SIGINT comes from inside the process at a named
    point (GLTUI_FAULT_SIGNAL=INT): the start of evaluate, query and label, and `label`, inside the
    oracle's transaction after the queue's labels are written but before the commit."""
    proc = start_run(fresh_project, stderr=subprocess.PIPE, text=True,
                     env=fault_env(point, GLTUI_FAULT_SIGNAL="INT"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    warning, *lines = err.strip().splitlines()  # the test switch announces itself first
    assert warning == f"gltui: test fault injection active (GLTUI_FAULT={point}, " \
                      "GLTUI_FAULT_SIGNAL=INT)", warning
    assert len(lines) == 1 and "interrupted" in lines[0], lines
    state = chaos.final_state(fresh_project)
    phase = "label" if point == "label" else point.partition(":")[2]
    assert state["phase"] == phase  # interrupted there, and nothing of the phase committed
    if point == "label":  # the oracle's transaction was rolled back: the queue is still pending
        assert all(status == "pending" for _, _, status, _, _ in state["queues"][state["round"]])
    assert state["tmp_files"] == [] and state["integrity"] == "ok" and state["duplicates"] == 0
    assert main(["run", str(fresh_project), *INT_ARGS]) == 0  # resumed here, one thread
    assert chaos.compare(chaos.final_state(fresh_project), uninterrupted_int) == []


# ---- bad project folders and databases -----------------------------------------------------------


@contextlib.contextmanager
def read_only(paths: list[Path]):
    """Make `paths` unwritable for this process: chmod for a normal user; for root, whom chmod
    does not stop, the immutable attribute (chattr +i), which stops root too."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o500 if p.is_dir() else 0o400)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", *map(str, paths)],
                                        capture_output=True).returncode != 0:
        pytest.skip("running as root without a filesystem that takes chattr +i")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", *map(str, paths)], check=True)


@pytest.mark.parametrize("what, code, words", [
    ("folder", 2, "project folder is not writable"),  # a read-only mount, say
    pytest.param("database", 2, "read-only", marks=pytest.mark.slow),  # gltui.db itself only
])
def test_unwritable_project_fails_with_one_line_and_changes_nothing(
        what, code, words, fresh_project, capsys):
    before = chaos.final_state(fresh_project)
    paths = ([fresh_project, fresh_project / "checkpoints"] if what == "folder"
             else [fresh_project / "gltui.db"])
    with read_only(paths):
        for argv in (["run", str(fresh_project), *INT_ARGS], ["status", str(fresh_project)]):
            capsys.readouterr()
            got = main(argv)
            if argv[0] == "status" and what == "database":
                assert got == 0  # reading a read-only database works
                continue
            assert got == code, argv
            line = one_error_line(capsys)
            assert words in line and (what == "database" or str(fresh_project) in line), line
    assert chaos.final_state(fresh_project) == before
    assert main(["run", str(fresh_project), *INT_ARGS]) == 0  # writable again: it goes on


def test_an_add_refused_by_a_read_only_database_leaves_pixels_alone(fresh_project, tmp_path,
                                                                    capsys):
    """`add` on a read-only gltui.db was refused ("nothing was written") after pixels.npy had
    grown by the new images: it now finds out before it writes the pixels."""
    from PIL import Image

    more = tmp_path / "more"
    more.mkdir()
    for i in range(3):
        Image.fromarray(np.full((28, 28), 50 * i + 7, np.uint8)).save(more / f"n{i}.png")
    pixels = fresh_project / "pixels.npy"
    before = pixels.read_bytes()
    with read_only([fresh_project / "gltui.db"]):
        capsys.readouterr()
        assert main(["add", str(fresh_project), "--data", f"folder:{more}"]) == 2
        assert "read-only" in one_error_line(capsys)
    assert pixels.read_bytes() == before
    assert not (fresh_project / ".pixels.npy.tmp").exists()
    assert main(["add", str(fresh_project), "--data", f"folder:{more}"]) == 0  # writable again


def test_database_that_is_not_sqlite_exits_2(fresh_project, capsys):
    (fresh_project / "gltui.db").write_bytes(b"this is not a database\n" * 100)
    for wal in fresh_project.glob("gltui.db-*"):
        wal.unlink()
    capsys.readouterr()
    assert main(["status", str(fresh_project)]) == 2
    assert "not a gltui project database" in one_error_line(capsys)


def test_database_of_a_newer_gltui_exits_2(fresh_project, capsys):
    with Project.open(fresh_project) as project:
        project.store.set_meta({"schema_version": 99})  # stored as text '99', as _migrate writes it
    capsys.readouterr()
    assert main(["status", str(fresh_project)]) == 2
    line = one_error_line(capsys)
    assert "newer" in line and "upgrade" in line


@pytest.mark.parametrize("command", ["init", "run"])
def test_project_path_that_is_a_file_exits_2(command, tmp_path, small_npz, capsys):
    a_file = tmp_path / "afile"
    a_file.write_text("mine")
    argv = init_args(a_file, small_npz) if command == "init" else ["run", str(a_file)]
    capsys.readouterr()
    assert main(argv) == 2
    assert str(a_file) in one_error_line(capsys)
    assert a_file.read_text() == "mine"


@pytest.mark.parametrize("rows, subfolder, words", [
    (lambda names: [(names[0], "3"), (names[0], "4")], False, "line 3"),  # duplicate, conflicting
    # class sub-folders fix the class set, so 'cat' is unknown
    (lambda names: [(names[0], "3"), (names[1], "cat")], True, "unknown class 'cat'"),
])
def test_init_with_a_bad_labels_csv_exits_2_naming_it(rows, subfolder, words, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    pngs = sorted(SAMPLE_MNIST.glob("*.png"))[:6]
    for png in pngs[:4]:
        shutil.copy(png, data / png.name)
    if subfolder:
        (data / "3").mkdir()
        for png in pngs[4:]:
            shutil.copy(png, data / "3" / png.name)
    names = [p.name for p in pngs[:4]]
    (data / "labels.csv").write_text(
        "file,label\n" + "".join(f"{f},{y}\n" for f, y in rows(names)))
    capsys.readouterr()
    assert main(["init", str(tmp_path / "proj"), "--data", f"folder:{data}"]) == 2
    line = one_error_line(capsys)
    assert "labels.csv" in line and words in line
    assert not (tmp_path / "proj").exists()


# ---- a full disk in init and export --------------------------------------------------------------


def enospc(path) -> OSError:
    import errno

    return OSError(errno.ENOSPC, "No space left on device", str(path))


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("force", [False, True], ids=["new", "force-over-a-project"])
def test_disk_full_in_init_exits_2_leaves_no_temp_folder_and_changes_nothing(
        force, tmp_path, small_npz, small_project_template, monkeypatch, capsys):
    """The pixels are half written when the disk fills: exit 2, one line, the temporary folder
    beside PROJECT removed; PROJECT absent, or with --force the old project byte for byte."""
    import gltui.project.folder as project_module

    target = tmp_path / "proj"
    if force:
        shutil.copytree(small_project_template, target)
    before = files_of(target) if force else None
    real = project_module.write_pixels_file

    def full_disk(path, parts):
        real(path, parts)  # the bytes went to the temp folder's file, then the disk filled
        raise enospc(path)

    monkeypatch.setattr(project_module, "write_pixels_file", full_disk)
    capsys.readouterr()
    assert main(init_args(target, small_npz, *(["--force"] if force else []))) == 2
    line = one_error_line(capsys)
    assert "the disk is full" in line and ".tmp" not in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == (["proj"] if force else [])
    if force:
        assert files_of(target) == before


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "imagefolder"])
def test_disk_full_in_export_exits_2_leaves_no_temp_and_changes_nothing(
        fmt, label_project, tmp_path, monkeypatch, capsys):
    """fsync reports ENOSPC (where a full disk shows up for written data): exit 2, one line, no
    temporary file or folder beside the target, no target, the project unchanged."""
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    out = out_dir / ("export" if fmt == "imagefolder" else f"export.{fmt}")
    before, state = files_of(label_project), chaos.final_state(label_project)

    def full_disk(fd):
        raise enospc(out)

    monkeypatch.setattr(os, "fsync", full_disk)
    capsys.readouterr()
    assert main(["export", str(label_project), "--format", fmt, "--out", str(out)]) == 2
    monkeypatch.undo()
    line = one_error_line(capsys)
    assert "the disk is full" in line and str(out) in line and ".tmp" not in line, line
    assert list(out_dir.iterdir()) == []
    after = files_of(label_project)  # gltui.db by its contents (a reader may checkpoint the WAL)
    assert {k: v for k, v in after.items() if not k.startswith("gltui.db")} == \
        {k: v for k, v in before.items() if not k.startswith("gltui.db")}
    assert chaos.final_state(label_project) == state
    # and with space again, the same export works
    assert main(["export", str(label_project), "--format", fmt, "--out", str(out)]) == 0


# ---- two processes writing one project -----------------------------------------------------------


@pytest.mark.slow
def test_two_runs_driven_at_once_on_one_project_lose_nothing(small_project_template, tmp_path,
                                                             reference_state):
    """Two `gltui run` processes write one gltui.db at the same time (runs `main` and `b`, the
    reference command each, their commits interleaved; SQLite serialises them, a writer waits
    for the other's transaction): both finish, and each run ends exactly in the reference state."""
    from conftest import final_state

    path = tmp_path / "proj"
    shutil.copytree(small_project_template, path)
    procs = [start_run(path, stderr=subprocess.PIPE, text=True),
             chaos.start_run(path, ["--run", "b", *INT_ARGS], env=REFERENCE_ENV,
                             stderr=subprocess.PIPE, text=True)]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    assert final_state(path, "main") == reference_state
    assert final_state(path, "b") == reference_state


def test_a_write_lock_held_past_the_busy_timeout_exits_2_with_one_line_and_changes_nothing(
        fresh_project, monkeypatch, capsys):
    """Another connection (another program, say) holds the database's write lock: `gltui run`
    with new options waits BUSY_TIMEOUT_S (here 0.2 s), then exits 2 with one line saying so;
    the run's config is unchanged. Released, the same command goes through."""
    from gltui.store import connection

    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.2)
    holder = Project.open(fresh_project)
    config = holder.require_run("main").config
    argv = ["run", str(fresh_project), "--max-rounds", "1", "--quiet", "--device", "cpu"]
    try:
        with holder.store.transaction():
            capsys.readouterr()
            assert main(argv) == 2
            line = one_error_line(capsys)
            assert "write lock" in line and "nothing was written" in line, line
        assert holder.require_run("main").config == config
    finally:
        holder.close()
    assert main(argv) == 0
