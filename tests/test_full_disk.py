"""A disk that is really full: gltui on a tmpfs of a few hundred KB to a few MB (issue 26).

tests/test_reliability.py and tests/test_engine.py make the disk "full" by making one write raise
ENOSPC; here the filesystem itself runs out, wherever the first write that does not fit happens
to be (the pixels file, a checkpoint, SQLite's journal, an exported file). Each time: exit 2,
one line saying the disk is full, no traceback, no temporary file or folder left, nothing that
was there changed; with room again, the same command goes on, and a run ends exactly in the
uninterrupted reference's state.

Mounting a tmpfs needs root (CAP_SYS_ADMIN); elsewhere these tests are skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REFERENCE_ARGS, REFERENCE_ENV, final_state, init_args, run_gltui

from gltui.cli import main

# The full suite only: the fast lane has the patched-ENOSPC tests of init, export and checkpoints
# (tests/test_reliability.py, tests/test_engine.py).
pytestmark = pytest.mark.slow


def mount(point: Path, size_kb: int, remount: bool = False) -> None:
    options = f"size={size_kb}k" + (",remount" if remount else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        if remount:
            raise RuntimeError(done.stderr)
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    """A function that mounts a tmpfs of `size_kb` at a fresh folder and returns it; each one is
    unmounted at the end (lazily, should a file still be open)."""
    mounted = []

    def make(size_kb: int) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        mount(point, size_kb)
        mounted.append(point)
        return point

    yield make
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def fill(disk: Path) -> Path:
    """A file that takes every byte the disk has left."""
    import errno

    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as err:
        assert err.errno == errno.ENOSPC, err
    finally:
        os.close(fd)
    return filler


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_init_on_a_full_disk_is_one_line_and_leaves_nothing(small_disk, small_npz, capsys):
    disk = small_disk(256)  # the pixels alone are ~770 KB
    capsys.readouterr()
    assert main(init_args(disk / "proj", small_npz)) == 2
    line = one_line(capsys.readouterr().err)
    assert "the disk is full" in line and ".tmp" not in line, line
    assert list(disk.iterdir()) == []  # no project, no temporary folder


@pytest.mark.parametrize("fmt", ["csv", "imagefolder", "model"])
def test_an_export_onto_a_full_disk_is_one_line_and_leaves_nothing(fmt, small_disk, label_project,
                                                                   capsys):
    """csv: a file; imagefolder: a folder of PNGs; model: the round model's folder (its weights
    are torch.save's: they broke into a traceback on a full disk before they were made in
    memory first)."""
    disk = small_disk(1024)  # room for the export once the filler is gone
    filler = fill(disk)
    out = disk / ("export.csv" if fmt == "csv" else "export")
    before = files_of(label_project)
    capsys.readouterr()
    assert main(["export", str(label_project), "--format", fmt, "--out", str(out)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "the disk is full" in line and ".tmp" not in line, line
    assert list(disk.iterdir()) == [filler]
    after = files_of(label_project)
    assert {k: v for k, v in after.items() if not k.startswith("gltui.db")} == \
        {k: v for k, v in before.items() if not k.startswith("gltui.db")}
    filler.unlink()  # room again: the same export works
    assert main(["export", str(label_project), "--format", fmt, "--out", str(out)]) == 0
    assert out.exists()


def test_a_run_whose_disk_fills_stops_with_one_line_and_resumes_to_the_reference(
        small_disk, small_project_template, reference_state):
    """The project on a tmpfs with ~300 KB to spare: the run's first epoch checkpoint or round
    model (each ~550 KB) does not fit. Exit 2, one line, no temporary file; remounted larger, the
    same command ends exactly where the uninterrupted reference run ends."""
    used = sum(p.stat().st_size for p in small_project_template.rglob("*") if p.is_file())
    disk = small_disk(used // 1024 + 300)
    path = disk / "proj"
    shutil.copytree(small_project_template, path)
    failed = run_gltui("run", str(path), *REFERENCE_ARGS, env=REFERENCE_ENV)
    assert failed.returncode == 2, failed.stderr
    line = one_line(failed.stderr)
    assert "the disk is full" in line and ".tmp" not in line, line
    assert list(path.rglob("*.tmp")) == []
    mount(disk, 16 * 1024, remount=True)
    resumed = run_gltui("run", str(path), *REFERENCE_ARGS, env=REFERENCE_ENV)
    assert resumed.returncode == 0, resumed.stderr
    assert final_state(path) == reference_state


def test_add_onto_a_full_disk_is_one_line_and_changes_nothing(small_disk, small_project_template,
                                                               tmp_path, capsys):
    """`add` writes the pixels file anew beside the old one: with ~100 KB to spare it does not
    fit. Exit 2, one line, the project byte for byte as it was; with room, the same add lands."""
    import numpy as np
    from conftest import SAMPLE_MNIST, read_digits

    x, y = read_digits(SAMPLE_MNIST, 900)
    more = tmp_path / "more.npz"
    np.savez(more, x=x[800:], y=y[800:])
    used = sum(p.stat().st_size for p in small_project_template.rglob("*") if p.is_file())
    disk = small_disk(used // 1024 + 100)
    path = disk / "proj"
    shutil.copytree(small_project_template, path)
    before = files_of(path)
    capsys.readouterr()
    assert main(["add", str(path), "--data", f"npz:{more}"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "the disk is full" in line and ".tmp" not in line, line
    after = files_of(path)
    after.pop("checkpoints/add.lock", None)  # the file of the flock add took: it stays
    assert after == before
    mount(disk, 8 * 1024, remount=True)
    assert main(["add", str(path), "--data", f"npz:{more}"]) == 0
    from gltui.project import Project

    with Project.open(path) as project:
        assert project.store.item_end() == len(project.pixels) == before_items(before) + 100


def before_items(files: dict[str, bytes]) -> int:
    """How many images a project's pixels.npy held (its header's first dimension)."""
    import io

    import numpy as np

    return len(np.load(io.BytesIO(files["pixels.npy"]), mmap_mode=None))
