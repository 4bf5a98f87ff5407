"""A person's project: `gltui init` on images without labels, named classes, mixed sizes and
modes, a labels.csv covering some files, and the bad input around them (exit 2, one line,
nothing created). Real digits from sample_data/, saved as JPEG photos of mixed sizes."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE_MNIST

from gltui.cli import main
from gltui.config import PERSON_SCHEDULE
from gltui.project import Project

CLASSES = ",".join(str(d) for d in range(10))


def truth() -> dict[str, str]:
    with open(SAMPLE_MNIST / "labels.csv", newline="") as fh:
        return {row["file"]: row["label"] for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """120 real digits as RGB JPEGs of random sizes 40..90 px, in a flat folder with no labels."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos") / "scans"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in sorted(truth())[:120]:
        size = int(rng.integers(40, 91))
        im = Image.open(SAMPLE_MNIST / name).convert("RGB").resize((size, size))
        im.save(folder / (Path(name).stem + ".jpg"), quality=90)
    return folder


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_unlabeled_mixed_folder_starts_from_nothing(photos, tmp_path, capsys):
    # Without a preset, RGB photos become the colour net's 32x32 RGB; with the digits preset,
    # the mnist net's 28x28 grey. One line says what was converted, and to what.
    assert main(["init", str(tmp_path / "auto"), "--data", f"folder:{photos}", "--classes",
                 CLASSES]) == 0
    assert "letterboxed to 32x32 RGB" in capsys.readouterr().err
    proj = tmp_path / "p"
    assert main(["init", str(proj), "--data", f"folder:{photos}", "--classes", CLASSES,
                 "--preset", "mnist"]) == 0
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1
    assert "differ in size or mode" in err and "28x28 grey" in err
    # The next step is the TUI, never --oracle: there are no true labels.
    assert f"next: gltui {proj}" in out and "--oracle" not in out
    with Project.open(proj) as project:
        assert project.pixels.shape == (120, 1, 28, 28)
        assert project.classes == [str(d) for d in range(10)]
        # no validation split taken; 10 % of the unlabeled images set aside as the audit set
        assert project.store.count_items() == {"pool": 108, "audit": 12}
        assert not project.has_true_labels()
        main_run = project.summary("main")
        assert (main_run.phase, main_run.n_labeled, main_run.n_queued) == ("label", 0, 20)
        # A person's queues are sized for a sitting, not doubled.
        assert project.run_config("main").loop.schedule == PERSON_SCHEDULE


def test_labels_csv_labels_are_trained_on_not_turned_into_validation(photos, tmp_path, capsys):
    """25 files labeled by the person: all 25 count as labeled in `main`, none become validation,
    and init warns (one line) that the labels name fewer classes than --classes."""
    data = tmp_path / "scans"
    data.mkdir()
    names = sorted(p.name for p in photos.iterdir())
    for name in names:
        (data / name).write_bytes((photos / name).read_bytes())
    labels = truth()
    # 25 files, none of them a 4 or a 7: the labels name 8 of the 10 classes
    given = {n: labels[Path(n).stem + ".png"] for n in names
             if labels[Path(n).stem + ".png"] not in "47"}
    given = dict(list(given.items())[:25])
    named = set(given.values())
    assert len(given) == 25 and len(named) == 8
    with open(data / "labels.csv", "w", newline="") as fh:
        fh.write("file,label\n" + "".join(f"{n},{y}\n" for n, y in given.items()))
    for extra in ([], ["--val-size", "0"]):
        proj = tmp_path / f"p{len(extra)}"
        capsys.readouterr()
        assert main(["init", str(proj), "--data", f"folder:{data}", "--classes", CLASSES,
                     *extra]) == 0
        err = capsys.readouterr().err
        assert f"name {len(named)} of the 10 classes" in err
        with Project.open(proj) as project:
            # no validation split; the audit set (10 %) comes from the 95 unlabeled images only
            assert project.store.count_items() == {"pool": 111, "audit": 9}
            items, got = project.store.labeled("main")
            by_name = project.store.item_names(items.tolist())
            pairs = zip(items.tolist(), got.tolist())
            assert {by_name[i]: project.classes[y] for i, y in pairs} == given
            assert project.summary("main").phase == "train"  # 25 >= the seed set: ready to train


def test_npz_with_images_only_and_a_classes_file(tmp_path, digits, capsys):
    images, _ = digits
    npz = tmp_path / "pool.npz"
    np.savez(npz, x=images[:200])
    names = tmp_path / "classes.txt"
    names.write_text("# digits\n" + "\n".join(f"digit-{d}" for d in range(10)) + "\n")
    proj = tmp_path / "p"
    assert main(["init", str(proj), "--data", f"npz:{npz}", "--classes-file", str(names)]) == 0
    with Project.open(proj) as project:
        assert project.classes == [f"digit-{d}" for d in range(10)]
        assert project.summary("main").n_queued == 20
    # An explicit --schedule stands; with true labels (an oracle experiment) doubling stays.
    np.savez(tmp_path / "labeled.npz", x=images[:200], y=digits[1][:200])
    for data, extra, want in ((npz, ["--schedule", "exponential", "--classes-file", str(names)],
                               "exponential"),
                              (tmp_path / "labeled.npz", [], "exponential")):
        other = tmp_path / f"q{len(extra)}"
        assert main(["init", str(other), "--data", f"npz:{data}", *extra]) == 0
        with Project.open(other) as project:
            assert project.run_config("main").loop.schedule == want


@pytest.mark.parametrize("extra, words", [
    (["--classes", "a,,b"], "a class name is empty"),
    (["--classes", "a,b,a"], "'a' is given twice"),
    (["--classes", "0,1,2"], "which the class list does not hold"),
    (["--classes-file", "{tmp}/missing.txt"], "--classes-file"),
    (["--classes", "a,b", "--classes-file", "{tmp}/x.txt"], "not allowed with"),
])
def test_bad_classes_exit_2_with_one_line_and_create_nothing(extra, words, tmp_path, capsys):
    data = tmp_path / "scans"
    data.mkdir()
    for name in sorted(truth())[:40]:
        (data / name).write_bytes((SAMPLE_MNIST / name).read_bytes())
    (data / "labels.csv").write_text("file,label\n" + "".join(
        f"{n},{y}\n" for n, y in list(truth().items())[:40]))
    proj = tmp_path / "p"
    capsys.readouterr()
    argv = ["init", str(proj), "--data", f"folder:{data}", *[a.format(tmp=tmp_path) for a in extra]]
    assert main(argv) == 2
    assert words in error_line(capsys)
    assert not proj.exists()


def test_a_folder_without_images_exits_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{empty}", "--classes", "a,b"]) == 2
    assert "no image files" in error_line(capsys)
    assert not (tmp_path / "p").exists()
