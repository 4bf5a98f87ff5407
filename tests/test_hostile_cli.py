"""Hostile arguments and names a person's shell can produce: each is one line on stderr, exit 2,
and no change (found by an exploratory session on 2026-12-08; before, each was a traceback, a
24 GB allocation, or a device replaced by a file)."""

from __future__ import annotations

import os
import shutil
import stat
import sys

import numpy as np
import pytest
from conftest import REFERENCE_ARGS, SAMPLE_MNIST, one_error_line
from PIL import Image

from gltui.cli import main


def test_export_refuses_a_fifo_and_leaves_it_a_fifo(fresh_project, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["export", str(fresh_project), "--format", "csv", "--out", str(fifo)]) == 2
    assert "device, pipe or socket" in one_error_line(capsys)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_export_under_a_file_names_the_file(fresh_project, tmp_path, capsys):
    (tmp_path / "afile").write_text("data")
    for fmt, name in (("csv", "x.csv"), ("imagefolder", "d"), ("labelstudio", "x.json")):
        out = tmp_path / "afile" / name
        assert main(["export", str(fresh_project), "--format", fmt, "--out", str(out)]) == 2
        assert f"{tmp_path / 'afile'}: is a file" in one_error_line(capsys)
    assert (tmp_path / "afile").read_text() == "data"


def test_export_refuses_a_name_longer_than_a_file_system_takes(fresh_project, tmp_path, capsys):
    out = tmp_path / ("x" * 250 + ".csv")
    assert main(["export", str(fresh_project), "--format", "csv", "--out", str(out)]) == 2
    assert "longer than a file system takes" in one_error_line(capsys)
    # a long name that fits, temporary name included, is written
    ok = tmp_path / ("y" * 230 + ".csv")
    assert main(["export", str(fresh_project), "--format", "csv", "--out", str(ok)]) == 0
    assert ok.read_text().startswith("file,label")


@pytest.mark.parametrize("verb", ["init", "experiment"])
def test_a_seed_the_database_cannot_store_is_refused(tmp_path, small_npz, verb, capsys):
    big = str(2**63)
    args = (["init", str(tmp_path / "p"), "--data", f"npz:{small_npz}", "--seed", big]
            if verb == "init" else ["experiment", str(tmp_path / "p"), "--seeds", f"0,{big}"])
    assert main(args) == 2
    assert "a seed is a whole number" in one_error_line(capsys)
    assert not (tmp_path / "p").exists()


def test_a_huge_label_is_refused_before_any_allocation(tmp_path, capsys):
    x = np.zeros((30, 28, 28), np.uint8)
    for top in (10**12, 10_000):
        y = np.zeros(30, np.int64)
        y[3] = top
        np.savez(tmp_path / "d.npz", x=x, y=y)
        assert main(["init", str(tmp_path / "p"), "--data", f"npz:{tmp_path / 'd.npz'}"]) == 2
        assert f"label {top} would make" in one_error_line(capsys)
        assert not (tmp_path / "p").exists()


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses non-UTF-8 file names")
def test_a_file_name_that_is_not_utf8_is_named_in_one_line(tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in sorted(os.listdir(SAMPLE_MNIST))[:12]:
        if name.endswith(".png"):
            shutil.copy(SAMPLE_MNIST / name, folder / name)
    bad = os.fsencode(folder) + b"/bad\xff\xfe.png"
    shutil.copy(SAMPLE_MNIST / "00000.png", bad)
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}", "--classes", "a,b",
                 "--initial", "2"]) == 2
    line = one_error_line(capsys)
    assert "bad\\xff\\xfe.png: the file name is not UTF-8 text" in line
    assert not (tmp_path / "p").exists()


def test_images_too_small_for_the_networks_are_refused_at_init(tmp_path, capsys):
    folder = tmp_path / "icons"
    folder.mkdir()
    for i in range(12):
        Image.fromarray(np.full((6, 6), 20 * i, np.uint8)).save(folder / f"{i:02d}.png")
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}", "--classes", "a,b",
                 "--initial", "2"]) == 2
    assert "images of 6x6 px are too small for the networks" in one_error_line(capsys)
    assert not (tmp_path / "p").exists()
    # the fix the line names works
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}", "--classes", "a,b",
                 "--initial", "2", "--resize", "28x28"]) == 0


def test_a_reader_that_went_away_ends_quietly(fresh_project, tmp_path, monkeypatch, capsys):
    class GonePipe:
        """stdout after `| head -1` exited: every write and flush fails."""

        def __init__(self, fd: int):
            self.fd = fd

        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self) -> int:
            return self.fd

    fd = os.open(tmp_path / "sink", os.O_WRONLY | os.O_CREAT)
    monkeypatch.setattr(sys, "stdout", GonePipe(fd))
    assert main(["classes", str(fresh_project)]) == 1
    os.close(fd)
    assert capsys.readouterr().err == ""


def test_a_refused_run_is_one_line_on_stderr(tmp_path):
    """`gltui run` into a file or pipe: its progress bars would leave a blank line before the
    refusal (rich's transient display off a terminal)."""
    from conftest import run_gltui

    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in sorted(os.listdir(SAMPLE_MNIST))[:30]:
        if name.endswith(".png"):
            shutil.copy(SAMPLE_MNIST / name, folder / name)
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}", "--classes",
                 "a,b", "--initial", "2", "--profile", "tiny"]) == 0
    done = run_gltui("run", str(tmp_path / "p"), "--oracle", "--max-rounds", "1")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert "oracle mode needs true labels" in done.stderr


@pytest.mark.parametrize("extra, says", [(["--round", "99"], "--round picks the round model"),
                                         (["--document-root", "/"], "--document-root is Label")])
def test_an_export_option_the_format_does_not_use_is_refused(fresh_project, tmp_path, capsys,
                                                             extra, says):
    out = tmp_path / "labels.csv"
    assert main(["export", str(fresh_project), "--format", "csv", "--out", str(out),
                 *extra]) == 2
    assert says in one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("args, says", [
    (["run", "{p}", "--k", "0"], "--k: '0' must be at least 1"),
    (["run", "{p}", "--chunk-size", "0"], "--chunk-size: '0' must be at least 1"),
    (["{p}", "--fps", "0"], "--fps: '0': give a rate above 0"),
    (["{p}", "--fps", "nan"], "--fps: 'nan': give a rate above 0"),
])
def test_a_number_that_cannot_work_is_refused_before_anything_runs(fresh_project, capsys, args,
                                                                   says):
    before = (fresh_project / "gltui.db").read_bytes()
    assert main([a.format(p=fresh_project) for a in args]) == 2
    assert says in one_error_line(capsys)
    assert (fresh_project / "gltui.db").read_bytes() == before


def test_a_lost_model_of_a_finished_run_names_a_fix_that_works(tmp_path, reference_project,
                                                               capsys):
    """A finished run does not train its rounds again, so `gltui run` is not the fix to name."""
    path = tmp_path / "p"
    shutil.copytree(reference_project, path)
    (path / "checkpoints" / "main" / "model-round001.pt").unlink()
    assert main(["predict", str(path), "--device", "cpu"]) == 2
    line = one_error_line(capsys)
    assert "copy it back from a backup, or give another round with --round (0)" in line
    assert main(["predict", str(path), "--round", "0", "--device", "cpu"]) == 0


def test_a_folder_another_process_filled_meanwhile_is_named_as_such(tmp_path):
    """Two `gltui init`s of one folder at once: the loser's line says what happened, not 'free
    some space or fix the permissions'."""
    from gltui.errors import DiskError
    from gltui.fsio import atomic_folder

    target = tmp_path / "p"
    with pytest.raises(DiskError, match="something else wrote there meanwhile"):
        with atomic_folder(target) as tmp:
            (tmp / "mine").write_text("mine")
            target.mkdir()
            (target / "theirs").write_text("theirs")  # the winner's project
    assert [f.name for f in target.iterdir()] == ["theirs"]
    assert [f.name for f in tmp_path.iterdir()] == ["p"]  # no temporary folder left


def test_unlabeled_images_added_to_an_experiment_leave_new_runs_seed_sets_alone(fresh_project,
                                                                               tmp_path):
    """A project whose every label was known at init (an oracle experiment) stays one when
    unlabeled images are added: a new run's seed set is drawn from the known labels as before,
    not every known label at once (162 of 200 in the session that found it)."""
    from gltui.config import Config
    from gltui.project import Project
    from gltui.project.runs import create_run

    x = np.zeros((10, 1, 28, 28), np.uint8)
    x[:, :, 10:18, 10:18] = 255
    np.savez(tmp_path / "more.npz", x=x)
    assert main(["add", str(fresh_project), "--data", f"npz:{tmp_path / 'more.npz'}"]) == 0
    with Project.open(fresh_project) as project:
        assert project.meta["labels_known"] is True
        config = Config.from_json(project.require_run("main").config)
        create_run(project, "after", "margin", config)
        main_seeds, _ = project.store.labeled("main")
        after_seeds, after_labels = project.store.labeled("after")
    assert len(main_seeds) == 20
    assert after_seeds.tolist() == main_seeds.tolist()
    assert (after_labels >= 0).all()


def test_an_oracle_run_goes_on_after_unlabeled_images_are_added(fresh_project, tmp_path):
    """An experiment's oracle run stopped (exit 2, "oracle mode needs true labels") once `add`
    brought images without labels, and every later --oracle run was refused: its queues picked
    the new images. An experiment's queues now come from its known labels; the added images
    are still in the project (unlabeled pool, predictions)."""
    from gltui.project import Project

    x = np.zeros((40, 1, 28, 28), np.uint8)
    x[:, :, 8:20, 8:20] = np.arange(40, dtype=np.uint8)[:, None, None, None] * 6
    np.savez(tmp_path / "more.npz", x=x)
    assert main(["add", str(fresh_project), "--data", f"npz:{tmp_path / 'more.npz'}"]) == 0
    assert main(["run", str(fresh_project), *REFERENCE_ARGS]) == 0
    with Project.open(fresh_project) as project:
        pool, truth = project.store.split_items("pool")
        added = pool[truth < 0]
        labeled, labels = project.store.labeled("main")
        queued = [e.item for e in project.store.queue("main", 1)]
    assert len(added) == 40  # the 40 new images are in the pool, unlabeled
    assert len(queued) == 20 and not np.isin(queued, added).any()
    assert len(labeled) == 40 and (labels >= 0).all()


def test_a_small_fully_labeled_folder_keeps_a_pool_with_the_default_validation(tmp_path, capsys):
    """The default validation split (10 %, at least 100) took all 60 images of a small labeled
    folder and the refusal named a --val-size never given; now it is at most a fifth."""
    from gltui.project import Project

    folder = tmp_path / "imgs"
    folder.mkdir()
    names = sorted(n for n in os.listdir(SAMPLE_MNIST) if n.endswith(".png"))[:60]
    for name in names:
        shutil.copy(SAMPLE_MNIST / name, folder / name)
    rows = dict(line.split(",", 1) for line in
                (SAMPLE_MNIST / "labels.csv").read_text().splitlines()[1:])
    (folder / "labels.csv").write_text(
        "file,label\n" + "".join(f"{n},{rows[n]}\n" for n in names))
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}"]) == 0
    with Project.open(tmp_path / "p") as project:
        assert len(project.store.split_items("val")[0]) == 12
        assert len(project.store.split_items("pool")[0]) == 48


@pytest.mark.parametrize("change", ["more classes", "other weights"])
def test_a_model_file_of_another_project_is_refused_as_unreadable(tmp_path, reference_project,
                                                                  capsys, change):
    """A round model copied in from a project with more classes passed `predict` and then broke
    `export --with-predictions` (IndexError); weights of another shape were a traceback."""
    import torch

    path = tmp_path / "p"
    shutil.copytree(reference_project, path)
    model = path / "checkpoints" / "main" / "model-round001.pt"
    saved = torch.load(model, map_location="cpu", weights_only=True)
    if change == "more classes":
        saved["num_classes"] = 60
    else:
        saved["model"] = {k: v[:1] if v.ndim else v for k, v in saved["model"].items()}
    torch.save(saved, model)
    assert main(["predict", str(path), "--device", "cpu"]) == 2
    assert "model-round001.pt: the round 1 model of run 'main' is missing or unreadable" in \
        one_error_line(capsys)


def test_a_file_name_with_a_backslash_reads_back_from_the_exported_csv(tmp_path, capsys):
    r"""An image named `a\b.png` (legal on Linux) exports as written; read back as a labels.csv
    it was taken for the Windows path a/b.png and refused, and an --originals export copied it
    to the folder a/. A Windows path in a labels.csv still works."""
    from gltui.project import Project

    folder = tmp_path / "imgs"
    folder.mkdir()
    names = sorted(n for n in os.listdir(SAMPLE_MNIST) if n.endswith(".png"))[:12]
    for name in names:
        shutil.copy(SAMPLE_MNIST / name, folder / name)
    shutil.copy(SAMPLE_MNIST / names[0], folder / "odd\\name.png")
    (folder / "sub").mkdir()
    shutil.copy(SAMPLE_MNIST / names[1], folder / "sub" / "w.png")
    (folder / "labels.csv").write_text("file,label\nodd\\name.png,zero\nsub\\w.png,one\n")
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}", "--classes",
                 "zero,one", "--initial", "2"]) == 0, capsys.readouterr().err
    with Project.open(tmp_path / "p") as project:
        pool, truth = project.store.split_items("pool")
        names_of = project.store.item_names(pool.tolist())
        given = {names_of[int(i)]: int(t) for i, t in zip(pool, truth) if t >= 0}
    assert given == {"odd\\name.png": 0, "sub/w.png": 1}
    # An --originals copy keeps that name as one file, not the folder `odd/` it once made.
    out = tmp_path / "copies"
    assert main(["export", str(tmp_path / "p"), "--format", "imagefolder", "--originals",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "one/sub/w.png", "zero/odd\\name.png"]
    assert (out / "zero" / "odd\\name.png").read_bytes() == (folder / "odd\\name.png").read_bytes()


def _two_class_folder(tmp_path, n: int = 12) -> tuple:
    """A folder: dataset of n sample digits, the first 8 labeled a,b,a,b,... in a labels.csv."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    names = sorted(x for x in os.listdir(SAMPLE_MNIST) if x.endswith(".png"))[:n]
    for name in names:
        shutil.copy(SAMPLE_MNIST / name, folder / name)
    rows = "".join(f"{name},{'ab'[i % 2]}\n" for i, name in enumerate(names[:8]))
    (folder / "labels.csv").write_text("file,label\n" + rows)
    return folder, names


@pytest.mark.parametrize("name", [".", ".."])
def test_a_class_named_dot_or_dotdot_is_refused(tmp_path, name, capsys):
    """`.` and `..` name a folder already: an ImageFolder export of `..` wrote outside --out."""
    folder, _ = _two_class_folder(tmp_path)
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}", "--classes",
                 f"a,b,{name}"]) == 2
    assert "names a folder already" in one_error_line(capsys)
    assert not (tmp_path / "p").exists()
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}", "--classes",
                 "a,b", "--initial", "2"]) == 0
    capsys.readouterr()
    assert main(["classes", str(tmp_path / "p"), "--add", name]) == 2
    assert "names a folder already" in one_error_line(capsys)


def test_an_old_class_named_dotdot_exports_inside_out(tmp_path, capsys):
    """A project made before `.` and `..` were refused still exports every image inside --out,
    the originals too, and overwrites nothing beside it."""
    from gltui.project import Project

    folder, _ = _two_class_folder(tmp_path)
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}", "--classes",
                 "a,b", "--initial", "2"]) == 0
    with Project.open(tmp_path / "p") as project:
        project.store.rename_class(0, "..")
        project.store.rename_class(1, ".")
    exports = tmp_path / "exports"
    exports.mkdir()
    mine = exports / "00000.png"
    mine.write_text("my precious file")
    for out, extra in (("out", []), ("orig", ["--originals"])):
        assert main(["export", str(tmp_path / "p"), "--format", "imagefolder", "--out",
                     str(exports / out), *extra]) == 0, capsys.readouterr().err
        files = [p for p in (exports / out).rglob("*") if p.is_file()]
        assert len(files) == 8
        # every image in a class folder of its own, none loose at the root
        assert all(len(p.relative_to(exports / out).parts) == 2 for p in files)
        assert len({p.parent for p in files}) == 2
    assert sorted(p.name for p in exports.iterdir()) == ["00000.png", "orig", "out"]
    assert mine.read_text() == "my precious file"


def test_classes_whose_safe_forms_match_get_folders_of_their_own(tmp_path, capsys):
    """`🐶` and `😀`, `a b` and `a_b` were all written as `_`-folders: two classes in one folder,
    silently. Each class gets its own folder, under its own name (read back as the same
    classes), in the pixel export and the --originals copy alike; a name longer than a file
    system takes, and a second name that differs only in case, get a safe form of their own."""
    from gltui.project import Project

    classes = ["🐶", "😀", "a b", "a_b"]
    folder, names = _two_class_folder(tmp_path, 16)
    rows = "".join(f"{name},{classes[i % 4]}\n" for i, name in enumerate(names[:12]))
    (folder / "labels.csv").write_text("file,label\n" + rows)
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}", "--classes",
                 ",".join(classes), "--initial", "2"]) == 0, capsys.readouterr().err
    for out, extra in (("out", []), ("orig", ["--originals"])):
        assert main(["export", str(tmp_path / "p"), "--format", "imagefolder", "--out",
                     str(tmp_path / out), *extra]) == 0, capsys.readouterr().err
        counts = {d.name: len(list(d.iterdir())) for d in (tmp_path / out).iterdir()}
        assert counts == {c: 3 for c in classes}
    assert main(["init", str(tmp_path / "back"), "--data", f"folder:{tmp_path / 'orig'}",
                 "--initial", "2"]) == 0, capsys.readouterr().err
    with Project.open(tmp_path / "back") as project:
        assert sorted(project.classes) == sorted(classes)
    from gltui.outputs.export import class_folders

    long = "猫" * 100  # 300 bytes of UTF-8
    folders = class_folders(["Cat", "cat", long, "..", "x"])
    assert folders["Cat"] == "Cat" and folders["x"] == "x"
    assert len(set(f.casefold() for f in folders.values())) == 5
    assert all(len(f.encode()) <= 255 and f.strip(".") for f in folders.values())


@pytest.mark.parametrize("bad", ["rows", "channels", "float"])
def test_a_pixels_file_of_another_layout_is_refused_before_anything_is_written(
        reference_project, tmp_path, bad, capsys):
    """A pixels.npy with fewer rows than the project has items, three channels for its one, or
    float32 for uint8 (copied from elsewhere, rewritten by a script) gave tracebacks in predict,
    check, export and run, and `add` appended to it: every verb now refuses it in one line naming
    the file and a fix that keeps the labels, and the file is left as it is."""
    fresh_project = tmp_path / "proj"
    shutil.copytree(reference_project, fresh_project)
    pixels = fresh_project / "pixels.npy"
    good = np.load(pixels)
    wrong = {"rows": good[:10], "channels": np.repeat(good, 3, axis=1),
             "float": good.astype(np.float32)}[bad]
    np.save(pixels, wrong)
    before = pixels.read_bytes()
    more = tmp_path / "more"
    more.mkdir()
    for i in range(3):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(more / f"n{i}.png")
    for args in (["add", str(fresh_project), "--data", f"folder:{more}"],
                 ["predict", str(fresh_project), "--device", "cpu"],
                 ["check", str(fresh_project)],
                 ["export", str(fresh_project), "--format", "imagefolder", "--out",
                  str(tmp_path / "if")]):
        assert main(args) == 2, args
        line = one_error_line(capsys)
        assert str(pixels) in line and "not this project's" in line and "backup" in line, line
        assert "--force" not in line
    assert pixels.read_bytes() == before
    assert not (tmp_path / "if").exists()
    # the labels, all in gltui.db, still export: the fix the line names
    assert main(["export", str(fresh_project), "--format", "csv", "--out",
                 str(tmp_path / "l.csv")]) == 0
    assert (tmp_path / "l.csv").read_text().startswith("file,label,")


def test_a_lost_pixels_file_is_named_with_a_fix_that_keeps_the_labels(reference_project,
                                                                      tmp_path, capsys):
    """With pixels.npy gone the line said `gltui init --force`, which replaces gltui.db and every
    label in it. It now says to put the file back or make the project anew elsewhere, and the
    labels (a csv or jsonl export, gltui.db only) still export."""
    project = tmp_path / "proj"
    shutil.copytree(reference_project, project)
    (project / "pixels.npy").unlink()
    for args in (["export", str(project), "--format", "imagefolder", "--out", str(tmp_path / "d")],
                 ["predict", str(project), "--device", "cpu"]):
        assert main(args) == 2
        line = one_error_line(capsys)
        assert "pixels.npy: missing" in line and "backup" in line and "--force" not in line
    assert main(["export", str(project), "--format", "csv", "--out", str(tmp_path / "l.csv")]) == 0
    rows = (tmp_path / "l.csv").read_text().splitlines()
    assert rows[0].startswith("file,label,") and len(rows) > 20
    (project / "pixels.npy").write_bytes(b"not an array")
    assert main(["status", str(project)]) == 2
    line = one_error_line(capsys)
    assert "pixels.npy: unreadable" in line and "--force" not in line


@pytest.mark.parametrize("args", [["--run", "bad name"], ["--device", "cuda"]])
def test_a_refused_demo_command_creates_no_sample_project(tmp_path, monkeypatch, args, capsys):
    """`gltui --oracle --run 'bad name'` (or a GPU the machine lacks) built the 3 MB sample
    project first and printed a second line; now it is refused first and nothing is made."""
    if args[0] == "--device":
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    monkeypatch.setenv("GLTUI_HOME", str(tmp_path / "home"))
    for oracle in (["--oracle"], []):
        assert main([*oracle, *args]) == 2
        assert args[1].split()[0] in one_error_line(capsys)
        assert not (tmp_path / "home").exists() or not any((tmp_path / "home").iterdir())


def test_class_names_that_look_alike_are_one_class_whatever_their_unicode_form(tmp_path,
                                                                               capsys):
    """`café` decomposed (NFD: what macOS file names and tools write) and composed (NFC) were
    two names: a labels.csv in NFD was refused, a class folder in NFD was not a class, and
    `classes --add` took a second `café`. Every name is kept and compared in NFC."""
    import unicodedata

    from gltui.project import Project

    nfd = unicodedata.normalize("NFD", "café")
    nfc = unicodedata.normalize("NFC", "café")
    assert nfd != nfc
    folder, names = _two_class_folder(tmp_path, 16)
    (folder / nfd).mkdir()
    shutil.move(folder / names[15], folder / nfd / names[15])
    (folder / "labels.csv").write_text(f"file,label\n{names[0]},{nfd}\n{names[1]},thé\n")
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}", "--classes",
                 f"{nfc},thé", "--initial", "2"]) == 0, capsys.readouterr().err
    with Project.open(tmp_path / "p") as project:
        assert project.classes == [nfc, "thé"]
        pool, truth = project.store.split_items("pool")
        audit, audit_truth = project.store.split_items("audit")
        known = np.concatenate([truth, audit_truth])
        assert sorted(known[known >= 0].tolist()) == [0, 0, 1]
    capsys.readouterr()
    assert main(["classes", str(tmp_path / "p"), "--add", nfd]) == 2
    assert "exists already" in one_error_line(capsys)
    assert main(["classes", str(tmp_path / "p"), "--rename", nfd, "coffee"]) == 0


def test_the_commands_gltui_suggests_paste_back_as_one_argument_per_word(tmp_path, capsys):
    """`next: gltui run my proj --oracle` passed two arguments when pasted: every path and name
    in a suggested command is shell-quoted."""
    import shlex

    folder, _ = _two_class_folder(tmp_path)
    project = tmp_path / "my proj"
    assert main(["init", str(project), "--data", f"folder:{folder}", "--classes", "a,b",
                 "--initial", "2"]) == 0
    out = capsys.readouterr().out
    suggested = next(line for line in out.splitlines() if line.startswith("next: "))
    command = suggested.removeprefix("next: ").split("   ")[0]
    assert shlex.split(command)[:3] == ["gltui", str(project)] or \
        shlex.split(command)[:3] == ["gltui", "run", str(project)], command
    assert main(["status", str(tmp_path / "no proj")]) == 2
    line = one_error_line(capsys)
    command = line.split("`")[1]
    assert shlex.split(command) == ["gltui", "init", str(tmp_path / "no proj"), "--data", "SPEC"]


def test_a_run_a_headless_oracle_drives_is_said_to_be_held_by_it(reference_project, tmp_path,
                                                                 monkeypatch, capsys):
    """While `gltui --oracle PROJECT` drove a run, other verbs said "the TUI" held it; and
    `--run ''` was answered with a command to create a run named ''."""
    from gltui.project import Project, run_lock

    project = tmp_path / "proj"
    shutil.copytree(reference_project, project)
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "bin" / "gltui"), "--oracle", str(project)])
    with Project.open(project) as opened, run_lock(opened, "main"):
        assert main(["predict", str(project), "--device", "cpu"]) == 2
        line = one_error_line(capsys)
        assert "headless gltui --oracle" in line and "TUI" not in line, line
    assert main(["export", str(project), "--format", "csv", "--out", str(tmp_path / "x.csv"),
                 "--run", ""]) == 2
    line = one_error_line(capsys)
    assert "no run '' in" in line and "--run  " not in line and "create it" not in line, line


def test_files_the_folder_reader_leaves_out_are_counted_in_one_line(tmp_path, capsys):
    """.tif and .gif images were skipped without a word: init's and add's summary line now say
    how many, by extension (a notes.txt, a hidden file or labels.csv is no image left out)."""
    folder, names = _two_class_folder(tmp_path)
    (folder / "sub").mkdir()
    for i in range(3):
        Image.open(SAMPLE_MNIST / names[i]).save(folder / "sub" / f"scan{i}.tif")
    for i in range(2):
        Image.open(SAMPLE_MNIST / names[i]).save(folder / f"anim{i}.gif")
    (folder / "notes.txt").write_text("x")
    (folder / ".DS_Store").write_text("x")
    assert main(["init", str(tmp_path / "p"), "--data", f"folder:{folder}", "--classes", "a,b",
                 "--initial", "2"]) == 0
    created = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("created"))
    assert created.endswith("; skipped 5 files gltui does not read as images (.tif 3, "
                            ".gif 2)"), created
    more = tmp_path / "more"
    more.mkdir()
    Image.fromarray(np.full((28, 28), 99, np.uint8)).save(more / "new.png")
    Image.open(SAMPLE_MNIST / names[0]).save(more / "old.tif")
    assert main(["add", str(tmp_path / "p"), "--data", f"folder:{more}"]) == 0
    added = capsys.readouterr().out.splitlines()[0]
    assert added.startswith("added 1 images") and added.endswith(
        "; skipped 1 file gltui does not read as images (.tif 1)"), added
