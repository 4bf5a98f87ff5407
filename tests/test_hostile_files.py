"""Hostile files coming in (issue 26): bounded reads (the pixel count from the header before any
decoding, PIL's bomb warning as the file's one line), FIFOs and devices refused by stat before
they are opened, undecodable images all named in one line, and a killed `add`'s temporary pixels
file that neither `init --force` nor the next `add` trips over. The battery is
benchmarks/hostile_files.py (which prints each case's time and peak RSS); here each case runs in
its own process and must exit 2 with one line of at most 300 characters, no traceback or
warning, under 512 MB peak RSS, within a generous time cap, and leave the project unchanged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE_MNIST, fault_env, run_gltui
from PIL import Image

from benchmarks import hostile_files as battery
from gltui.cli import main
from gltui.data import DataError, load
from gltui.project import Project

TIME_CAP_S = 20  # generous: the cases take under 1 s on an idle machine; a hang is killed here

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> tuple[list[battery.Case], Path]:
    return battery.build(tmp_path_factory.mktemp("hostile"))


def test_every_hostile_file_gets_one_line_and_changes_nothing(cases):
    built, project = cases
    assert len(built) >= 19
    failures = {}
    for case in built:
        argv = [str(project) if a == "PROJECT" else a for a in case.argv]
        before = battery.fingerprint(project)
        outcome = battery.run(argv, timeout=TIME_CAP_S)
        problems = battery.check(case, outcome)
        if outcome.seconds >= TIME_CAP_S:
            problems.append(f"took {outcome.seconds:.1f} s")
        if battery.fingerprint(project) != before:
            problems.append("the project changed")
        if case.rc == 2 and "init" == argv[0] and Path(argv[1]).exists():
            problems.append("a refused init left a project folder")
        if problems:
            failures[case.name] = (problems, outcome.err[-300:])
    assert not failures, failures


def test_a_huge_image_is_refused_from_its_header_before_decoding(tmp_path, monkeypatch):
    """Mutation-proof for "before decoding": the 9000x9000 file is refused with nothing decoded
    (PIL's load never runs), and the array is never sized from it."""
    from PIL import ImageFile

    folder = tmp_path / "scans"
    folder.mkdir()
    Image.new("L", (9000, 9000)).save(folder / "a.png")
    shutil.copyfile(SAMPLE_MNIST / "00000.png", folder / "b.png")
    loads = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load",
                        lambda self: loads.append(self.size) or real(self))
    allocated = []
    real_empty = np.empty
    monkeypatch.setattr(np, "empty", lambda shape, *a, **k: allocated.append(shape)
                        or real_empty(shape, *a, **k))
    with pytest.raises(DataError) as err:
        load(f"folder:{folder}", conform=lambda c: (c, 28, 28))
    assert "a.png: too large (9000x9000, 81 megapixels" in str(err.value)
    assert (9000, 9000) not in loads
    assert not any(len(s) == 4 and s[2:] == (9000, 9000) for s in allocated)


def test_add_names_every_unreadable_file(tmp_path, capsys):
    base = tmp_path / "base"
    base.mkdir()
    for i in range(12):
        shutil.copyfile(SAMPLE_MNIST / f"{i:05d}.png", base / f"{i:05d}.png")
    project = tmp_path / "proj"
    assert main(["init", str(project), "--data", f"folder:{base}", "--classes", "a,b",
                 "--initial", "2", "--audit", "0"]) == 0
    more = tmp_path / "more"
    more.mkdir()
    shutil.copyfile(SAMPLE_MNIST / "00100.png", more / "good.png")
    (more / "empty.png").write_bytes(b"")
    (more / "text.jpg").write_text("not an image")
    capsys.readouterr()
    assert main(["add", str(project), "--data", f"folder:{more}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) <= 300, err
    assert "2 image files cannot be read" in err
    assert "empty.png (empty file, 0 bytes)" in err and "text.jpg (cannot identify" in err


def test_a_killed_add_leaves_nothing_that_blocks_the_next_start(tmp_path):
    """A SIGKILL after add wrote its new pixels file (under fsio's temporary name) leaves
    .pixels.npy.tmp; `init --force` replaces the project anyway, and the next `add` removes it
    (under the run locks) and succeeds."""
    base = tmp_path / "base"
    base.mkdir()
    for i in range(12):
        shutil.copyfile(SAMPLE_MNIST / f"{i:05d}.png", base / f"{i:05d}.png")
    more = tmp_path / "more"
    more.mkdir()
    for i in range(100, 105):
        shutil.copyfile(SAMPLE_MNIST / f"{i:05d}.png", more / f"{i:05d}.png")
    init = ["init", "--data", f"folder:{base}", "--classes", "a,b", "--initial", "2",
            "--audit", "0"]
    for name in ("forced", "added"):
        project = tmp_path / name
        assert main([init[0], str(project), *init[1:]]) == 0
        proc = run_gltui("add", str(project), "--data", f"folder:{more}",
                         env=fault_env("add:written"))
        assert proc.returncode == -9, proc.stderr
        assert (project / ".pixels.npy.tmp").is_file()
    forced = tmp_path / "forced"
    assert main([init[0], str(forced), *init[1:], "--force"]) == 0
    assert sorted(p.name for p in forced.iterdir()) == ["checkpoints", "gltui.db", "pixels.npy"]
    added = tmp_path / "added"
    assert main(["add", str(added), "--data", f"folder:{more}"]) == 0
    assert not (added / ".pixels.npy.tmp").exists()
    with Project.open(added) as project:
        assert project.store.item_end() == len(project.pixels) == 17
