"""A person's own folders as they keep them (issue 25): nested folders whose relative paths are
the image names, a labels.csv naming images by those paths, sub-folders that are labels only
when they name a class, images of any shape letterboxed (aspect kept, black bars) to the model's
input, counts per folder, unique names across `add`, originals exported under their own names,
and a Label Studio task for every image but the test split. Real digits from sample_data/ saved
as photos of other shapes (wide, tall), and plain white rectangles where the geometry is the
point. No training: these run in the fast lane."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE_MNIST
from PIL import Image

from gltui.cli import main
from gltui.data import folder_lines, load
from gltui.project import Labeler, Project


def digit(i: int) -> Image.Image:
    """The i-th sample digit (a real MNIST image, 28x28 grey) as RGB."""
    return Image.open(SAMPLE_MNIST / f"{i:05d}.png").convert("RGB")


def out_err(capsys) -> tuple[str, str]:
    got = capsys.readouterr()
    return got.out, got.err


@pytest.fixture
def phone_dump(tmp_path) -> Path:
    """photos/2024/06: 8 wide JPEGs (60x40), 2024/07: 8 tall ones (40x60), cat/: 6 square PNGs
    (a class folder), a white 64x16 banner at the top, and a labels.csv naming one nested file."""
    root = tmp_path / "photos"
    for sub, size in (("2024/06", (60, 40)), ("2024/07", (40, 60))):
        (root / sub).mkdir(parents=True)
        for i in range(8):
            digit(i + (0 if sub.endswith("06") else 8)).resize(size).save(
                root / sub / f"IMG_{i:04d}.jpg", quality=90)
    (root / "cat").mkdir()
    for i in range(6):
        digit(20 + i).resize((30, 30)).save(root / "cat" / f"c{i}.png")
    Image.new("RGB", (64, 16), (255, 255, 255)).save(root / "banner.png")
    (root / "labels.csv").write_text("file,label\n2024/06/IMG_0001.jpg,dog\n")
    return root


def test_nested_folder_with_classes_names_images_by_relative_path(phone_dump, tmp_path, capsys):
    project = tmp_path / "proj"
    assert main(["init", str(project), "--data", f"folder:{phone_dump}", "--classes", "cat,dog",
                 "--initial", "3", "--audit", "2"]) == 0
    out, err = out_err(capsys)
    # one line says what letterboxing did; one short line per folder says what came from where
    assert len(err.strip().splitlines()) == 1
    assert "letterboxed to 32x32 RGB" in err and "17 images not square" in err, err
    for line in ("(top level): 1 image", "2024/06: 8 images (1 labeled)", "2024/07: 8 images",
                 "cat: 6 images (6 labeled)"):
        assert f"  {line}\n" in out, out
    with Project.open(project) as opened:
        assert opened.classes == ["cat", "dog"]
        names = opened.store.item_names(range(opened.store.item_end()))
        assert "2024/06/IMG_0001.jpg" in names.values() and "banner.png" in names.values()
        assert len(set(names.values())) == len(names) == 23
    labels = tmp_path / "labels.csv"
    assert main(["export", str(project), "--format", "csv", "--out", str(labels)]) == 0
    rows = {r["file"]: r["label"] for r in csv.DictReader(labels.open())}
    assert rows == {"2024/06/IMG_0001.jpg": "dog", **{f"cat/c{i}.png": "cat" for i in range(6)}}


def test_a_folder_is_a_class_only_when_it_names_one(phone_dump):
    # With a class list, 2024/ is where photos are kept; without one, every top-level folder is a
    # class (and the labels.csv's "dog" is then no class of the folder: refused in one line).
    with_list = load(f"folder:{phone_dump}", classes=["cat", "dog", "2023"], resize=(28, 28))
    assert with_list.classes == ["cat", "dog", "2023"]
    by_name = dict(zip(with_list.train.names, with_list.train.labels.tolist()))
    assert by_name["2024/07/IMG_0003.jpg"] == -1 and by_name["cat/c0.png"] == 0
    assert by_name["2024/06/IMG_0001.jpg"] == 1
    (phone_dump / "labels.csv").unlink()
    without = load(f"folder:{phone_dump}", resize=(28, 28))
    assert without.classes == ["2024", "cat"]
    assert dict(zip(without.train.names, without.train.labels.tolist()))["2024/07/IMG_0003.jpg"] \
        == 0


def test_one_top_level_folder_without_a_class_list_is_refused_in_one_line(phone_dump, tmp_path,
                                                                          capsys):
    """Photos kept in one sub-folder (2024/) would make a one-class labeled set, which nothing can
    learn: init refuses in one line naming --classes, and writes nothing."""
    shutil.rmtree(phone_dump / "cat")
    (phone_dump / "labels.csv").unlink()
    (phone_dump / "banner.png").unlink()
    project = tmp_path / "proj"
    assert main(["init", str(project), "--data", f"folder:{phone_dump}"]) == 2
    _, err = out_err(capsys)
    assert len(err.strip().splitlines()) == 1 and "'2024' would be the only class" in err, err
    assert "--classes" in err and not project.exists()
    assert main(["init", str(project), "--data", f"folder:{phone_dump}", "--classes", "cat,dog",
                 "--initial", "3", "--val-size", "0"]) == 0
    with Project.open(project) as opened:
        assert opened.classes == ["cat", "dog"] and opened.store.item_end() == 16


def test_labels_csv_classes_go_through_the_one_validator(phone_dump):
    (phone_dump / "labels.csv").write_text("file,label\n2024/06/IMG_0001.jpg,a/b\n")
    with pytest.raises(Exception) as err:
        load(f"folder:{phone_dump}", resize=(28, 28))
    assert "line 2" in str(err.value) and "path separator" in str(err.value)
    (phone_dump / "labels.csv").write_text("file,label\n2024/06/IMG_0001.jpg,bird\n")
    with pytest.raises(Exception) as err:
        load(f"folder:{phone_dump}", classes=["cat", "dog"], resize=(28, 28))
    assert "'bird', which the class list does not hold (cat, dog)" in str(err.value)


def _white_rows_and_cols(image: np.ndarray) -> tuple[int, int]:
    """(rows, columns) of the white part of a (C, H, W) image; every other pixel must be black."""
    white = image.min(axis=0) > 200
    assert image[:, ~white].max(initial=0) < 20, "outside the white part, black"
    rows, cols = int(white.any(axis=1).sum()), int(white.any(axis=0).sum())
    assert white.sum() == rows * cols, "one white rectangle"
    return rows, cols


def test_a_wide_white_image_becomes_a_quarter_white_letterboxed_input(tmp_path, capsys):
    """Issue 25's target: a 64x16 all-white image among square digits becomes a 28x28 input whose
    white rows are a quarter of the rows (7 of 28), the rest black; a tall 16x64 one, a quarter
    of the columns. The project's pixels are what training, scoring and every view read."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(10):
        shutil.copyfile(SAMPLE_MNIST / f"{i:05d}.png", folder / f"{i:05d}.png")
    Image.new("L", (64, 16), 255).save(folder / "wide.png")
    Image.new("L", (16, 64), 255).save(folder / "tall.png")
    project = tmp_path / "proj"
    assert main(["init", str(project), "--data", f"folder:{folder}", "--classes", "a,b",
                 "--initial", "2", "--audit", "0"]) == 0
    err = out_err(capsys)[1]
    assert "letterboxed to 28x28 grey" in err and "2 images not square" in err, err
    with Project.open(project) as opened:
        names = {n: i for i, n in opened.store.item_names(range(12)).items()}
        wide, tall = opened.image(names["wide.png"]), opened.image(names["tall.png"])
        digit0 = opened.image(names["00000.png"])
    assert wide.shape == (1, 28, 28)
    assert _white_rows_and_cols(wide) == (7, 28)
    assert wide[0, :10].max() == 0 and wide[0, -10:].max() == 0  # black bars above and below
    assert _white_rows_and_cols(tall) == (28, 7)
    assert np.array_equal(digit0[0], np.asarray(Image.open(SAMPLE_MNIST / "00000.png")))
    # --resize HxW still forces the shape: stretched, the banner is white all over
    forced = tmp_path / "forced"
    assert main(["init", str(forced), "--data", f"folder:{folder}", "--classes", "a,b",
                 "--initial", "2", "--audit", "0", "--resize", "28x28"]) == 0
    with Project.open(forced) as opened:
        names = {n: i for i, n in opened.store.item_names(range(12)).items()}
        assert _white_rows_and_cols(opened.image(names["wide.png"])) == (28, 28)


def test_add_letterboxes_keeps_names_unique_and_originals_keep_their_names(
        phone_dump, tmp_path, capsys):
    project = tmp_path / "proj"
    assert main(["init", str(project), "--data", f"folder:{phone_dump}", "--classes", "cat,dog",
                 "--initial", "3", "--audit", "0"]) == 0
    more = tmp_path / "more"
    (more / "2024" / "06").mkdir(parents=True)
    (more / "2025").mkdir()
    digit(40).resize((60, 40)).save(more / "2024" / "06" / "IMG_0001.jpg")  # a name taken
    digit(41).resize((20, 80)).save(more / "2025" / "IMG_0001.jpg")  # a name that is free
    capsys.readouterr()
    assert main(["add", str(project), "--data", f"folder:{more}"]) == 0
    out, err = out_err(capsys)
    assert "added 2 images" in out
    assert "1 name the project had already got a suffix (2024/06/IMG_0001.jpg -> " \
           "2024/06/IMG_0001~2.jpg)" in out
    assert "  2024/06: 1 image added\n" in out and "  2025: 1 image added\n" in out
    assert "letterboxed to 32x32, 2 images not square" in err
    with Project.open(project) as opened:
        end = opened.store.item_end()
        names = opened.store.item_names(range(end))
        assert len(set(names.values())) == end == 25
        new = {n: i for i, n in names.items() if i >= 23}
        assert set(new) == {"2024/06/IMG_0001~2.jpg", "2025/IMG_0001.jpg"}
        tall = opened.image(new["2025/IMG_0001.jpg"])
        assert tall[:, :, :10].max() == 0 and tall[:, :, -10:].max() == 0  # black side bars
        labeler = Labeler(opened, "main")
        for item in new.values():
            labeler.label(item, opened.classes.index("dog"))
    out_dir = tmp_path / "by-class"
    assert main(["export", str(project), "--format", "imagefolder", "--originals",
                 "--out", str(out_dir)]) == 0
    files = {f.relative_to(out_dir).as_posix(): f for f in out_dir.rglob("*") if f.is_file()}
    assert set(files) == {"dog/2024/06/IMG_0001.jpg", "dog/2024/06/IMG_0001~2.jpg",
                          "dog/2025/IMG_0001.jpg", *(f"cat/c{i}.png" for i in range(6))}
    assert files["dog/2024/06/IMG_0001~2.jpg"].read_bytes() == \
        (more / "2024" / "06" / "IMG_0001.jpg").read_bytes()
    assert files["dog/2024/06/IMG_0001.jpg"].read_bytes() == \
        (phone_dump / "2024" / "06" / "IMG_0001.jpg").read_bytes()
    # the csv's file column names each image once, and reads back as a labels.csv
    labels = tmp_path / "labels.csv"
    assert main(["export", str(project), "--format", "csv", "--out", str(labels)]) == 0
    files_col = [r["file"] for r in csv.DictReader(labels.open())]
    assert len(files_col) == len(set(files_col)) == 9


def test_label_studio_has_a_task_for_every_image_but_the_test_split(phone_dump, tmp_path,
                                                                   capsys):
    (phone_dump / "test").mkdir()
    for i in range(3):
        digit(60 + i).save(phone_dump / "test" / f"t{i}.png")
    project = tmp_path / "proj"
    assert main(["init", str(project), "--data", f"folder:{phone_dump}", "--classes", "cat,dog",
                 "--initial", "3", "--audit", "4"]) == 0
    out = tmp_path / "tasks.json"
    assert main(["export", str(project), "--format", "labelstudio", "--document-root",
                 str(tmp_path), "--out", str(out)]) == 0
    tasks = json.loads(out.read_text())
    with Project.open(project) as opened:
        counts = opened.store.count_items()
        assert counts == {"pool": 19, "audit": 4, "test": 3}
        assert sorted(t["data"]["gltui_item"] for t in tasks) == sorted(
            opened.store.item_ids("pool").tolist() + opened.store.item_ids("audit").tolist())
    assert sum("annotations" in t for t in tasks) == 7  # the class folder and labels.csv
    bare = [t for t in tasks if "annotations" not in t and "predictions" not in t]
    assert len(bare) == 23 - 7
    for task in tasks:
        path = task["data"]["image"].split("?d=", 1)[1]
        assert (tmp_path / path).is_file()
    assert "exported 23 images" in capsys.readouterr().out


def test_min_confidence_without_predictions_is_one_line(phone_dump, tmp_path, capsys):
    project = tmp_path / "proj"
    assert main(["init", str(project), "--data", f"folder:{phone_dump}", "--classes", "cat,dog",
                 "--initial", "3"]) == 0
    capsys.readouterr()
    assert main(["export", str(project), "--format", "csv", "--min-confidence", "0.9",
                 "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--with-predictions" in err, err
    assert not (tmp_path / "x.csv").exists()


def test_many_folders_make_one_compact_line():
    names = [f"2023/{m:02d}/{d:02d}/IMG_{i}.jpg" for m in range(1, 13) for d in (1, 15)
             for i in range(m)]
    (line,) = folder_lines(names)
    assert line.startswith(f"{len(names)} images from 24 folders; the largest: 2023/12/01 12, ")
    assert line.endswith("and 19 more folders") and len(line) < 200
    assert folder_lines(["a.png", "b.png"]) == []  # a flat folder: nothing to say
