"""What a person takes away (issue 14): the audit labels in every export (source `audit`, once per
image, never a predicted row), and a project's stored data spec that resolves from any working
directory (export --originals and the Label Studio paths of a `folder:` project). Real data:
sample_data/mnist, through test_takeaway's photo folder (160 digits, labels.csv for 60)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from test_takeaway import photo_folder  # noqa: F401  (a fixture: 160 sample digits as files)

from gltui.cli import main
from gltui.project import Labeler, Project

LS_PREFIX = "/data/local-files/?d="
AUDIT = 10


# ---- a person's project with audit labels --------------------------------------------------------


@pytest.fixture(scope="module")
def audit_project(tmp_path_factory, photo_folder) -> tuple[Path, dict[int, str]]:  # noqa: F811
    """A person's project on the photo folder with an audit set of 10: round 0 trained on the
    labels.csv labels, predictions for the rest, then audit labels given through the Labeler
    (one in a class named while labeling, one relabeled, one undone). Returns the project and
    {item: class name} of the active audit labels. Copy it before changing it."""
    path = tmp_path_factory.mktemp("audit") / "proj"
    assert main(["init", str(path), "--data", f"folder:{photo_folder}", "--profile", "tiny",
                 "--k", "2", "--initial", "20", "--audit", str(AUDIT)]) == 0
    assert main(["run", str(path), "--quiet"]) == 0  # round 0, then the queue waits for a person
    assert main(["predict", str(path)]) == 0
    with Project.open(path) as project:
        labeler = Labeler(project, "main")
        todo = labeler.audit_queue()
        assert len(todo) == AUDIT
        cat = labeler.add_class("cat")  # a name that is not its index: the rows must say "cat"
        given = {}
        for item, label in zip(todo[:5], [3, 1, 4, 1, 5]):
            labeler.label_audit(item, label)
            given[item] = label
        labeler.label_audit(todo[5], cat)
        given[todo[5]] = cat
        labeler.label_audit(todo[0], 9)  # relabeled: only the newest label is exported
        given[todo[0]] = 9
        labeler.label_audit(todo[6], 2)
        assert labeler.undo_audit() == todo[6]  # undone: not exported
        expected = {item: project.classes[label] for item, label in given.items()}
    assert expected[todo[5]] == "cat" and expected[todo[0]] == "9"
    return path, expected


def _names(path: Path, items) -> dict[int, str]:
    with Project.open(path) as project:
        return project.store.item_names(list(items))


def test_audit_images_are_kept_out_of_the_run(audit_project):
    """Why an image cannot normally be both a run's label and an audit label: the audit set is
    its own split, so no run labels, queues or predicts its images."""
    path, _ = audit_project
    with Project.open(path) as project:
        store = project.store
        audit = set(store.sample_set("audit").tolist())
        assert len(audit) == AUDIT
        assert audit == set(store.item_ids("audit").tolist())
        assert not audit & set(store.item_ids("pool").tolist())
        assert not audit & set(store.labeled("main")[0].tolist())
        assert not audit & set(store.predictions("main").items.tolist())
        assert not audit & {e.item for e in store.queue("main", store.run("main").round)}


@pytest.mark.parametrize("with_predictions", [False, True])
def test_csv_and_jsonl_carry_the_audit_labels_once(audit_project, tmp_path, with_predictions):
    path, expected = audit_project
    names = _names(path, expected)
    extra = ["--with-predictions"] if with_predictions else []
    assert main(["export", str(path), "--format", "csv", *extra,
                 "--out", str(tmp_path / "out.csv")]) == 0
    assert main(["export", str(path), "--format", "jsonl", *extra,
                 "--out", str(tmp_path / "out.jsonl")]) == 0
    from_csv = list(csv.DictReader((tmp_path / "out.csv").open()))
    from_jsonl = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    for rows in (from_csv, from_jsonl):
        files = [r["file"] for r in rows]
        assert len(files) == len(set(files))  # one row per image
        audit = [r for r in rows if r["source"] == "audit"]
        assert {int(r["item"]): r["label"] for r in audit} == expected
        assert {r["file"] for r in audit} == {names[i] for i in expected}
        assert all(r["round"] in ("", None) and float(r["time"]) > 0 for r in audit)
        assert {r["source"] for r in rows} == ({"seed", "audit", "predicted"} if with_predictions
                                              else {"seed", "audit"})
    # 150 pool images (60 labeled, the rest predicted) and the 6 labeled audit images.
    assert len(from_csv) == (150 + len(expected) if with_predictions else 60 + len(expected))
    assert [r["file"] for r in from_csv] == [r["file"] for r in from_jsonl]


def test_imagefolder_holds_each_audit_image_once_in_its_class(audit_project, photo_folder,  # noqa: F811
                                                              tmp_path):
    path, expected = audit_project
    names = _names(path, expected)
    for originals in ([], ["--originals"]):
        out = tmp_path / f"folder{len(originals)}"
        assert main(["export", str(path), "--format", "imagefolder", "--with-predictions",
                     *originals, "--out", str(out)]) == 0
        files = sorted(out.rglob("*.png"))
        assert len(files) == 150 + len(expected)
        for item, label in expected.items():
            if originals:  # the original file under its own name, in its class folder
                found = [f for f in files if f.name == names[item]]
                assert found[0].read_bytes() == (photo_folder / names[item]).read_bytes()
            else:  # the model's input, named after the item
                found = [f for f in files if f.stem.endswith(f"-{item}")]
            assert [f.parent.name for f in found] == [label]


def test_label_studio_annotates_the_audit_images(audit_project, photo_folder, tmp_path):  # noqa: F811
    path, expected = audit_project
    out = tmp_path / "tasks.json"
    root = photo_folder.parent
    assert main(["export", str(path), "--format", "labelstudio", "--with-predictions",
                 "--document-root", str(root), "--out", str(out)]) == 0
    tasks = json.loads(out.read_text())
    assert len(tasks) == 150 + AUDIT  # every image but the test split: the pool and the audit set
    items = [t["data"]["gltui_item"] for t in tasks]
    assert len(items) == len(set(items))
    with Project.open(path) as project:
        audit_items = set(project.store.item_ids("audit").tolist())
    bare = [t for t in tasks if "annotations" not in t and "predictions" not in t]
    assert {t["data"]["gltui_item"] for t in bare} == audit_items - set(expected)
    audit = {t["data"]["gltui_item"]: t for t in tasks if t["data"]["gltui_item"] in expected}
    assert set(audit) == set(expected)
    for item, task in audit.items():
        assert "predictions" not in task
        (annotation,) = task["annotations"]
        (result,) = annotation["result"]
        assert result["value"]["choices"] == [expected[item]]
        assert (root / unquote(task["data"]["image"][len(LS_PREFIX):])).is_file()


def test_a_run_label_on_an_audit_image_is_its_one_row(audit_project, tmp_path):
    """Should a run's label and an audit label meet on one image (not through gltui's own paths,
    see test_audit_images_are_kept_out_of_the_run), the run's label is the row."""
    template, expected = audit_project
    path = tmp_path / "proj"
    shutil.copytree(template, path)
    item, other = sorted(expected)[:2]
    with Project.open(path) as project:
        label = (project.classes.index(expected[item]) + 1) % 10
        project.store.add_label("main", None, item, label, "human")
        run_label = project.classes[label]
    out = tmp_path / "out.jsonl"
    assert main(["export", str(path), "--format", "jsonl", "--out", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    mine = [r for r in rows if r["item"] == item]
    assert [(r["source"], r["label"]) for r in mine] == [("human", run_label)]
    assert [(r["source"], r["label"]) for r in rows if r["item"] == other] \
        == [("audit", expected[other])]


# ---- the stored spec resolves from any working directory --------------------------------------


def _init_from(cwd: Path, spec: str, project: Path, monkeypatch, *extra: str) -> str:
    """`gltui init` run from `cwd`; returns the spec the project stored."""
    monkeypatch.chdir(cwd)
    assert main(["init", str(project), "--data", spec, "--profile", "tiny", "--initial", "20",
                 *extra]) == 0
    with Project.open(project) as opened:
        return opened.meta["spec"]


def test_a_relative_folder_spec_exports_from_another_directory(photo_folder, tmp_path,  # noqa: F811
                                                               monkeypatch):
    project = tmp_path / "proj"
    stored = _init_from(photo_folder.parent, f"folder:{photo_folder.name}", project,
                        monkeypatch, "--audit", "0")
    assert stored == f"folder:{photo_folder.resolve()}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copytree(photo_folder, elsewhere / photo_folder.name)  # a decoy where cwd would lead
    (elsewhere / photo_folder.name / "00000.png").write_bytes(b"not the original")
    monkeypatch.chdir(elsewhere)
    given = dict(r.split(",") for r in (photo_folder / "labels.csv").read_text().split()[1:])
    assert main(["export", str(project), "--format", "imagefolder", "--originals",
                 "--out", "originals"]) == 0
    files = sorted((elsewhere / "originals").rglob("*.png"))
    assert len(files) == len(given)
    for f in files:
        assert f.parent.name == given[f.name]
        assert f.read_bytes() == (photo_folder / f.name).read_bytes()
    assert main(["export", str(project), "--format", "labelstudio", "--out", "tasks.json"]) == 0
    tasks = json.loads((elsewhere / "tasks.json").read_text())
    assert len(tasks) == 160  # every image a task, the 60 labeled ones with their label
    assert sum("annotations" in t for t in tasks) == len(given)
    for task in tasks:
        image = Path("/" + unquote(task["data"]["image"][len(LS_PREFIX):]))
        assert image == photo_folder.resolve() / task["data"]["file"]
        assert image.is_file()


def test_a_relative_file_spec_is_stored_absolute(small_npz, tmp_path, monkeypatch):
    project = tmp_path / "proj"
    stored = _init_from(small_npz.parent, f"npz:{small_npz.name}", project, monkeypatch,
                        "--val-size", "100")
    assert stored == f"npz:{small_npz.resolve()}"


def test_a_project_with_a_relative_spec_keeps_working(photo_folder, tmp_path, monkeypatch):  # noqa: F811
    """Projects made before specs were stored absolute are not migrated: from the directory they
    were made in, their exports still find the original files."""
    project = tmp_path / "proj"
    _init_from(photo_folder.parent, f"folder:{photo_folder}", project, monkeypatch,
               "--audit", "0")
    with Project.open(project) as opened:
        opened.store.set_meta({"spec": f"folder:{photo_folder.name}"})  # as typed, relative
    assert main(["export", str(project), "--format", "labelstudio", "--out",
                 str(tmp_path / "tasks.json")]) == 0
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert len(tasks) == 160
    assert all(Path("/" + unquote(t["data"]["image"][len(LS_PREFIX):])).is_file() for t in tasks)


# ---- images added after `gltui predict` ----------------------------------------------------------


def test_with_predictions_after_add_says_which_images_have_none(audit_project, photo_folder,  # noqa: F811
                                                                 tmp_path, capsys):
    """`add` after `predict`: the export still holds every prediction there is, and one line on
    stderr says how many unlabeled images have none and how to get them (predict again). Images
    of the same names get a suffix, so the csv's file column stays unambiguous."""
    template, _ = audit_project
    path = tmp_path / "proj"
    shutil.copytree(template, path)
    more = tmp_path / "more"
    more.mkdir()
    from PIL import Image

    for name in sorted(p.name for p in photo_folder.glob("*.png"))[:4]:  # names it has already
        Image.open(photo_folder / name).transpose(Image.Transpose.ROTATE_90).save(more / name)
    assert main(["add", str(path), "--data", f"folder:{more}"]) == 0
    capsys.readouterr()
    out = tmp_path / "with.csv"
    assert main(["export", str(path), "--format", "csv", "--with-predictions",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "4 unlabeled pool images have no prediction" in err and "gltui predict" in err
    rows = list(csv.DictReader(out.open()))
    files = [r["file"] for r in rows]
    assert len(files) == len(set(files)) == 156  # as before the add: 150 pool + 6 audit labels
    with Project.open(path) as project:
        end = project.store.item_end()
        new = project.store.item_names(range(end - 4, end))
    assert all("~2." in name for name in new.values()), new
    # without --with-predictions there is nothing to say
    assert main(["export", str(path), "--format", "csv", "--out", str(tmp_path / "l.csv")]) == 0
    assert capsys.readouterr().err == ""
