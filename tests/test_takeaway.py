"""What a person takes away (issue 14, parts 2-5): `gltui predict`, exports with predictions
(csv / jsonl / ImageFolder / Label Studio), the model export and `gltui.load_model`, `gltui add`,
and bad input (one line, exit 2, nothing changed). Real data: sample_data/mnist."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from conftest import REPO_ROOT, SAMPLE_MNIST, fault_env, init_args, run_gltui

from gltui.cli import main
from gltui.project import Project, run_lock
from gltui.project.locks import add_lock

# ---- projects ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_template(tmp_path_factory, small_npz) -> Path:
    """The small npz project (800 digits) after two oracle rounds, scoring chunks of 200."""
    path = tmp_path_factory.mktemp("trained") / "proj"
    assert main(init_args(path, small_npz, "--chunk-size", "200")) == 0
    assert main(["run", str(path), "--oracle", "--quiet", "--max-rounds", "2",
                 "--device", "cpu"]) == 0  # exact comparisons below: the CPU
    return path


@pytest.fixture(scope="module")
def predicted_template(tmp_path_factory, trained_template) -> Path:
    path = tmp_path_factory.mktemp("predicted") / "proj"
    shutil.copytree(trained_template, path)
    assert main(["predict", str(path), "--device", "cpu"]) == 0
    return path


def _copy(template: Path, tmp_path: Path, name: str = "proj") -> Path:
    dest = tmp_path / name
    shutil.copytree(template, dest)
    return dest


def _fingerprint(path: Path) -> tuple:
    """What must not change when a command is refused: the database's rows and the pixels."""
    with Project.open(path) as project:
        store = project.store
        state = (store.count_items(), store.item_end(), len(store.labeled_detail("main")),
                 store.predict_pass("main") is not None, store.integrity_check())
    return state, hashlib.sha256((path / "pixels.npy").read_bytes()).hexdigest()


def _fails_with_one_line(args: list[str], capsys, *needles: str) -> None:
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


# ---- predict -------------------------------------------------------------------------------------


def test_predict_covers_every_unlabeled_pool_image(predicted_template):
    with Project.open(predicted_template) as project:
        found = project.store.predictions("main")
        assert np.array_equal(found.items, project.store.unlabeled_pool("main"))
        assert found.round == 1  # the latest finished round of a 2-round run
        assert ((found.probs > 0) & (found.probs <= 1)).all()
        assert (found.labels >= 0).all() and (found.labels < len(project.classes)).all()
        assert ((found.scores >= 0) & (found.scores <= np.log2(len(project.classes)) + 1e-5)).all()
        assert project.store.predict_pass("main").n_chunks == 4  # 760 images in chunks of 200


def test_predict_twice_computes_nothing_and_prints_one_line(predicted_template, tmp_path, capsys):
    path = _copy(predicted_template, tmp_path)
    with Project.open(path) as project:
        versions = project.store.prediction_versions("main")
    capsys.readouterr()
    assert main(["predict", str(path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "4 of 4 chunks were stored already" in out, out
    with Project.open(path) as project:
        assert project.store.prediction_versions("main") == versions


def test_predict_resumes_after_a_kill_with_the_uninterrupted_results(
        trained_template, predicted_template, tmp_path):
    path = _copy(trained_template, tmp_path)
    proc = run_gltui("predict", str(path), "--device", "cpu", env=fault_env("chunk:2"))
    assert proc.returncode == -9, proc.stderr
    with Project.open(path) as project:
        assert project.store.done_prediction_chunks("main") == {0, 1}
        assert project.store.predictions("main") is None  # unfinished: exports refuse it
        before = project.store.prediction_versions("main")
    proc = run_gltui("predict", str(path), "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert "2 of 4 chunks were stored already" in proc.stdout
    resumed, whole = Project.open(path), Project.open(predicted_template)
    try:
        after = resumed.store.prediction_versions("main")
        assert {c: after[c] for c in before} == before  # finished chunks were not computed again
        a, b = resumed.store.predictions("main"), whole.store.predictions("main")
        for field in ("items", "labels", "probs", "scores"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), field
    finally:
        resumed.close()
        whole.close()


def test_predict_rde_scores_are_the_scoring_pass_scores(predicted_template):
    """predict goes through the scoring loop: with the same seed its rde scores are the scores."""
    import torch

    from gltui.learn import score as scoring
    from gltui.learn.augment import make_augment
    from gltui.learn.seeding import derive_seed
    from gltui.outputs.roundmodel import load_finished, network

    with Project.open(predicted_template) as project:
        found = project.store.predictions("main")
        started = project.store.predict_pass("main")
        _, _, config = network(project, "main")
        model = load_finished(project, "main", 1, torch.device("cpu"))
        scores = scoring.score_all(
            model, np.asarray(project.pixels[found.items]), "rde", k=config.score.k,
            augment=make_augment(config.train.augment, 1), chunk_size=started.chunk_size,
            seed=derive_seed(project.require_run("main").seed, 1, "predict"),
            forward_batch=started.forward_batch)
        assert np.array_equal(scores, found.scores)


def test_predict_with_no_finished_round_is_refused(fresh_project, capsys):
    before = _fingerprint(fresh_project)
    _fails_with_one_line(["predict", str(fresh_project)], capsys, "no finished round")
    _fails_with_one_line(["export", str(fresh_project), "--format", "model", "--out",
                          str(fresh_project.parent / "m")], capsys, "no finished round")
    assert _fingerprint(fresh_project) == before
    assert not (fresh_project.parent / "m").exists()


def test_predict_round_must_be_finished(predicted_template, tmp_path, capsys):
    path = _copy(predicted_template, tmp_path)
    _fails_with_one_line(["predict", str(path), "--round", "7"], capsys, "no finished round 7")
    # another round replaces the pass
    assert main(["predict", str(path), "--round", "0", "--device", "cpu"]) == 0
    with Project.open(path) as project:
        assert project.store.predictions("main").round == 0


def test_predict_is_refused_while_the_run_is_driven(predicted_template, tmp_path, capsys):
    path = _copy(predicted_template, tmp_path)
    with Project.open(path) as project:
        with run_lock(project, "main"):
            _fails_with_one_line(["predict", str(path), "--round", "0"], capsys, "being driven")


# ---- exports with predictions --------------------------------------------------------------------


def test_csv_and_jsonl_with_predictions(predicted_template, tmp_path):
    out = tmp_path / "all.csv"
    assert main(["export", str(predicted_template), "--format", "csv", "--with-predictions",
                 "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("file,label,source,")
    rows = list(csv.DictReader(text.splitlines()))
    with Project.open(predicted_template) as project:
        found = project.store.predictions("main")
        labeled, labels = project.store.labeled("main")
        assert len(rows) == len(labeled) + len(found.items) == 800 - 100  # the pool
        assert {r["source"] for r in rows} == {"seed", "oracle", "predicted"}
        predicted = [r for r in rows if r["source"] == "predicted"]
        assert [int(r["item"]) for r in predicted] == found.items.tolist()
        assert [r["label"] for r in predicted] == [project.classes[c] for c in found.labels]
        assert np.allclose([float(r["confidence"]) for r in predicted], found.probs, atol=1e-6)
        given = {int(r["item"]): r["label"] for r in rows if r["source"] != "predicted"}
        assert given == {i: project.classes[y] for i, y in zip(labeled.tolist(), labels.tolist())}
        assert all(r["confidence"] == "" for r in rows if r["source"] != "predicted")
        threshold = float(np.median(found.probs))
        jl = tmp_path / "sure.jsonl"
        assert main(["export", str(predicted_template), "--format", "jsonl", "--with-predictions",
                     "--min-confidence", str(threshold), "--out", str(jl)]) == 0
        records = [json.loads(line) for line in jl.read_text().splitlines()]
        sure = [r for r in records if r["source"] == "predicted"]
        assert len(sure) == int((found.probs >= threshold).sum())
        assert all(r["confidence"] >= threshold - 1e-6 for r in sure)
        assert len(records) - len(sure) == len(labeled)  # the person's labels are never filtered


def test_imagefolder_with_predictions_has_every_pool_image(predicted_template, tmp_path):
    out = tmp_path / "folder"
    assert main(["export", str(predicted_template), "--format", "imagefolder",
                 "--with-predictions", "--out", str(out)]) == 0
    assert sum(1 for _ in out.rglob("*.png")) == 700


def test_export_bad_input_changes_nothing(predicted_template, trained_template, tmp_path, capsys):
    p = str(predicted_template)
    taken = tmp_path / "taken.csv"
    taken.write_text("keep me\n")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    before = _fingerprint(predicted_template)
    _fails_with_one_line(["export", p, "--format", "csv", "--out", str(taken)], capsys,
                         "exists and is not empty")
    for fmt in ("imagefolder", "model"):
        _fails_with_one_line(["export", p, "--format", fmt, "--out", str(full)], capsys,
                             "not an empty folder")
    for bad in ("1.5", "-0.1", "x"):
        _fails_with_one_line(["export", p, "--format", "csv", "--with-predictions",
                              "--min-confidence", bad, "--out", str(tmp_path / "a.csv")], capsys,
                             "--min-confidence")
    _fails_with_one_line(["export", str(trained_template), "--format", "csv", "--with-predictions",
                          "--out", str(tmp_path / "b.csv")], capsys, "no predictions")
    _fails_with_one_line(["export", p, "--format", "labelstudio", "--out",
                          str(tmp_path / "ls.json")], capsys, "original image files")
    assert taken.read_text() == "keep me\n" and [f.name for f in full.iterdir()] == ["x"]
    assert sorted(f.name for f in tmp_path.iterdir()) == ["full", "taken.csv"]
    assert _fingerprint(predicted_template) == before


def test_exports_do_not_import_torch(predicted_template, tmp_path):
    code = (
        "import sys\n"
        "from gltui.cli import main\n"
        f"assert main(['export', {str(predicted_template)!r}, '--format', 'csv', "
        f"'--with-predictions', '--out', {str(tmp_path / 'e.csv')!r}]) == 0\n"
        "import gltui\n"
        "assert callable(gltui.load_model)\n"
        "bad = [m for m in ('torch', 'textual', 'kornia') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr


# ---- the model -----------------------------------------------------------------------------------


def test_model_export_reproduces_predict_in_a_fresh_process(predicted_template, tmp_path):
    out = tmp_path / "model"
    assert main(["export", str(predicted_template), "--format", "model", "--out", str(out)]) == 0
    assert sorted(f.name for f in out.iterdir()) == ["model.json", "model.pt"]
    meta = json.loads((out / "model.json").read_text())
    from gltui import __version__

    assert meta["classes"] == [str(i) for i in range(10)]
    assert meta["input_shape"] == [1, 28, 28] and meta["network"] == "small"  # tiny's net
    assert meta["gltui_version"] == __version__ and (meta["run"], meta["round"]) == ("main", 1)
    assert "/ 255" in meta["preprocessing"]["to_float"]
    with Project.open(predicted_template) as project:
        found = project.store.predictions("main")
        images = np.asarray(project.pixels[found.items])
    np.save(tmp_path / "images.npy", images)
    code = (
        "import sys, numpy as np, gltui\n"
        f"m = gltui.load_model({str(out)!r})\n"
        f"classes, probs = m.predict(np.load({str(tmp_path / 'images.npy')!r}))\n"
        f"np.save({str(tmp_path / 'classes.npy')!r}, classes)\n"
        f"np.save({str(tmp_path / 'probs.npy')!r}, probs)\n"
        "assert m.classes[0] == '0' and not m.model.training\n"
        "assert 'gltui.project' not in sys.modules  # needs no project\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(np.load(tmp_path / "classes.npy"), found.labels)
    # The same arithmetic (softmax(logits / T), float32). Bit for bit only where the forwards hold
    # the same images: predict's forwards follow its chunks, and on an AVX-512 CPU a convolution's
    # last bit depends on the batch (measured: 17 of 660 probabilities 1-2 ulp apart).
    assert np.allclose(np.load(tmp_path / "probs.npy"), found.probs, rtol=0, atol=1e-6)


def test_load_model_refuses_code_in_the_weights(predicted_template, tmp_path):
    """weights_only=True: a model.pt that would run code on unpickling is refused, unrun."""
    import pickle

    import gltui

    out = tmp_path / "model"
    assert main(["export", str(predicted_template), "--format", "model", "--out", str(out)]) == 0
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (out / "model.pt").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="model.pt is not a torch weights file of tensors only"):
        gltui.load_model(out)
    assert not marker.exists()
    with pytest.raises(ValueError, match="not a gltui model folder"):
        gltui.load_model(tmp_path)


# ---- a folder dataset: labels.csv round trip, originals, Label Studio ----------------------------


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    """160 sample digits as a flat folder, with a labels.csv labeling the first 60."""
    folder = tmp_path_factory.mktemp("photos") / "digits"
    folder.mkdir()
    rows = (SAMPLE_MNIST / "labels.csv").read_text().split()[1:161]
    for row in rows:
        shutil.copyfile(SAMPLE_MNIST / row.split(",")[0], folder / row.split(",")[0])
    (folder / "labels.csv").write_text("file,label\n" + "\n".join(rows[:60]) + "\n")
    return folder


@pytest.fixture(scope="module")
def person_project(tmp_path_factory, photo_folder) -> Path:
    """A person's project on photo_folder: its labels.csv labels are run main's seed labels;
    round 0 trained on them, then predictions for the rest."""
    path = tmp_path_factory.mktemp("person") / "proj"
    assert main(["init", str(path), "--data", f"folder:{photo_folder}", "--profile", "tiny",
                 "--k", "2", "--initial", "20", "--audit", "0"]) == 0
    # round 0, then the queue waits for a person
    assert main(["run", str(path), "--quiet", "--device", "cpu"]) == 0
    assert main(["predict", str(path), "--device", "cpu"]) == 0
    return path


def test_labels_csv_labels_are_in_every_export_and_the_csv_reads_back(
        person_project, photo_folder, tmp_path):
    given = dict(r.split(",") for r in (photo_folder / "labels.csv").read_text().split()[1:])
    out = tmp_path / "labels.csv"
    assert main(["export", str(person_project), "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert {r["file"]: r["label"] for r in rows} == given
    assert {r["source"] for r in rows} == {"seed"}
    assert main(["export", str(person_project), "--format", "jsonl", "--out",
                 str(tmp_path / "l.jsonl")]) == 0
    assert {json.loads(x)["file"] for x in (tmp_path / "l.jsonl").read_text().splitlines()} \
        == set(given)
    # The csv is a labels.csv: put it beside the images and `gltui init` reads it back.
    again = tmp_path / "again"
    shutil.copytree(photo_folder, again)
    with_predictions = tmp_path / "with.csv"
    assert main(["export", str(person_project), "--format", "csv", "--with-predictions",
                 "--out", str(with_predictions)]) == 0
    shutil.copyfile(with_predictions, again / "labels.csv")
    from gltui.data import load

    back = load(f"folder:{again}")
    exported = {r["file"]: r["label"] for r in csv.DictReader(with_predictions.open())}
    assert len(exported) == 160
    assert {n: back.classes[y] for n, y in zip(back.train.names, back.train.labels.tolist())} \
        == exported


def test_imagefolder_originals_are_the_original_files(person_project, photo_folder, tmp_path):
    out = tmp_path / "originals"
    assert main(["export", str(person_project), "--format", "imagefolder", "--with-predictions",
                 "--originals", "--out", str(out)]) == 0
    files = sorted(out.rglob("*.png"))
    assert len(files) == 160
    assert len({f.name for f in files}) == 160  # each under its own file name
    for f in files[:40]:
        assert f.read_bytes() == (photo_folder / f.name).read_bytes()
    seeds = dict(r.split(",") for r in (photo_folder / "labels.csv").read_text().split()[1:])
    for name, label in seeds.items():
        assert (out / label / name).read_bytes() == (photo_folder / name).read_bytes()


def test_label_studio_tasks(person_project, photo_folder, tmp_path):
    out = tmp_path / "tasks.json"
    root = photo_folder.parent
    assert main(["export", str(person_project), "--format", "labelstudio", "--with-predictions",
                 "--document-root", str(root), "--out", str(out)]) == 0
    tasks = json.loads(out.read_text())
    assert len(tasks) == 160
    prefix = "/data/local-files/?d="
    for task in tasks:
        image = task["data"]["image"]
        assert image.startswith(prefix)
        assert (root / unquote(image[len(prefix):])).is_file()  # resolves under the doc root
    predicted = [t for t in tasks if "predictions" in t]
    labeled = [t for t in tasks if "annotations" in t]
    assert len(predicted) == 100 and len(labeled) == 60
    pre = predicted[0]["predictions"][0]
    assert pre["model_version"].endswith("run main round 0") and 0 < pre["score"] <= 1
    (result,) = pre["result"]
    assert (result["from_name"], result["to_name"], result["type"]) == ("label", "image", "choices")
    assert result["value"]["choices"][0] in [str(i) for i in range(10)]
    # Without --document-root the paths are absolute, under the file system's root.
    assert main(["export", str(person_project), "--format", "labelstudio", "--out",
                 str(tmp_path / "abs.json")]) == 0
    first = json.loads((tmp_path / "abs.json").read_text())[0]["data"]["image"]
    assert Path("/" + unquote(first[len(prefix):])).is_file()


# ---- add -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def more_digits(tmp_path_factory, small_npz) -> Path:
    """An npz of 60 new digits (sample digits 800-859) and 10 the small project holds already
    (twice one of them: a duplicate within the batch too)."""
    from gltui.data import load

    train = load(f"folder:{SAMPLE_MNIST}").train
    x = np.concatenate([train.images[800:860, 0], train.images[:10, 0], train.images[:1, 0]])
    y = np.concatenate([train.labels[800:860], train.labels[:10], train.labels[:1]])
    path = tmp_path_factory.mktemp("more") / "more.npz"
    np.savez(path, x=x, y=y)
    return path


def test_add_converts_skips_duplicates_and_the_next_pass_sees_the_images(
        predicted_template, more_digits, tmp_path, capsys):
    path = _copy(predicted_template, tmp_path)
    with Project.open(path) as before:
        n_items, pool = before.store.item_end(), before.store.count_items()["pool"]
        old_pixels = np.asarray(before.pixels).copy()
    capsys.readouterr()
    assert main(["add", str(path), "--data", f"npz:{more_digits}"]) == 0
    assert "added 60 images to the pool" in (out := capsys.readouterr().out)
    assert "skipped 11 exact duplicates" in out  # 10 the project holds, 1 repeated in the batch
    with Project.open(path) as project:
        assert project.store.item_end() == n_items + 60
        assert project.store.count_items()["pool"] == pool + 60
        assert len(project.pixels) == n_items + 60
        assert np.array_equal(project.pixels[:n_items], old_pixels)
        data = np.load(more_digits)
        assert np.array_equal(project.pixels[n_items:, 0], data["x"][:60])
        new = np.arange(n_items, n_items + 60)
        assert np.array_equal(project.store.true_labels(new), data["y"][:60])
        assert np.isin(new, project.store.unlabeled_pool("main")).all()
        assert project.store.integrity_check() == "ok"
    # The next pass (here predict's; scoring reads the same unlabeled pool) covers them.
    capsys.readouterr()
    assert main(["predict", str(path), "--device", "cpu"]) == 0
    with Project.open(path) as project:
        assert np.isin(new, project.store.predictions("main").items).all()
    # Adding the same data again adds nothing.
    assert main(["add", str(path), "--data", f"npz:{more_digits}"]) == 0
    assert "added 0 images" in capsys.readouterr().out


def test_add_bad_input_changes_nothing(trained_template, tmp_path, capsys):
    path = _copy(trained_template, tmp_path)
    before = _fingerprint(path)
    cats = tmp_path / "cats"  # a folder named cat is just a folder; a label cat is refused
    (cats / "cat").mkdir(parents=True)
    shutil.copyfile(SAMPLE_MNIST / "00000.png", cats / "cat" / "a.png")
    (cats / "labels.csv").write_text("file,label\ncat/a.png,cat\n")
    _fails_with_one_line(["add", str(path), "--data", f"folder:{cats}"], capsys,
                         "as 'cat', which the class list does not hold")
    _fails_with_one_line(["add", str(path), "--data", f"folder:{tmp_path / 'nope'}"], capsys)
    with Project.open(path) as project:  # another add at work (a run does not stop an add:
        with add_lock(project):           # tests/test_concurrency.py)
            _fails_with_one_line(["add", str(path), "--data", f"folder:{SAMPLE_MNIST / 'test'}"],
                                 capsys, "is busy: another process is adding images to it")
    assert _fingerprint(path) == before
    assert sorted(f.name for f in path.iterdir()) == sorted(
        f.name for f in trained_template.iterdir())


@pytest.mark.parametrize("point", ["add:written", "add:renamed", "add:inserted"])
def test_add_killed_at_any_step_leaves_the_old_project_or_the_new(
        trained_template, more_digits, tmp_path, point):
    whole = _copy(trained_template, tmp_path, "whole")
    assert run_gltui("add", str(whole), "--data", f"npz:{more_digits}").returncode == 0
    path = _copy(trained_template, tmp_path)
    old = _fingerprint(path)
    proc = run_gltui("add", str(path), "--data", f"npz:{more_digits}", env=fault_env(point))
    assert proc.returncode == -9, proc.stderr
    with Project.open(path) as project:  # opens: never a broken project
        assert project.store.integrity_check() == "ok"
        n = project.store.item_end()
        assert n == old[0][1]  # every kill point is before the commit: the old project
        assert len(project.pixels) >= n
        assert project.store.count_items() == old[0][0]
    proc = run_gltui("add", str(path), "--data", f"npz:{more_digits}")
    assert proc.returncode == 0 and "added 60 images" in proc.stdout, proc.stderr
    a, b = Project.open(path), Project.open(whole)
    try:
        assert np.array_equal(np.asarray(a.pixels), np.asarray(b.pixels))
        assert a.store.count_items() == b.store.count_items()
        ids = np.arange(a.store.item_end())
        assert a.store.item_names(ids) == b.store.item_names(ids)
        assert np.array_equal(a.store.true_labels(ids), b.store.true_labels(ids))
    finally:
        a.close()
        b.close()
    assert not [f for f in path.iterdir() if f.name.startswith(".")]  # no temp file left


# ---- end to end ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_labeled_to_160_then_predictions_agree_at_the_test_accuracy(tmp_path):
    """A project labeled to 160 images by the oracle, then predict and an export with
    predictions: the predicted labels of the unlabeled images agree with their true labels at the
    test accuracy the run reports (-2 to +8 points: see below); the model export gives the same
    predictions. The tiny profile, labels only (~20 s on one thread; the demo's semi-supervised
    rounds took ~5.5 min): a prediction put on the wrong image would agree at ~10 %."""
    path = tmp_path / "e2e"
    assert main(["init", str(path), "--data", f"folder:{SAMPLE_MNIST}", "--profile", "tiny",
                 "--k", "2", "--val-size", "100", "--candidates", "500", "--semi", "off"]) == 0
    assert main(["run", str(path), "--oracle", "--quiet", "--budget", "160",
                 "--device", "cpu"]) == 0
    assert main(["predict", str(path), "--device", "cpu"]) == 0
    out = tmp_path / "all.jsonl"
    assert main(["export", str(path), "--format", "jsonl", "--with-predictions",
                 "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    predicted = [r for r in rows if r["source"] == "predicted"]
    with Project.open(path) as project:
        assert project.store.count_labeled("main") == 160
        assert len(predicted) == project.store.count_items()["pool"] - 160
        items = np.asarray([r["item"] for r in predicted])
        truth = project.store.true_labels(items)
        guess = np.asarray([project.classes.index(r["label"]) for r in predicted])
        agreement = float((guess == truth).mean())
        test_accuracy = project.store.rounds("main")[-1].test_accuracy
        images = np.asarray(project.pixels[items])
    print(f"agreement {agreement:.4f} test accuracy {test_accuracy:.4f}")
    # The sample's pool digits are easier than its test digits for a weak model, and more so once
    # guided picks took the hard ones: measured on the 2-core AMD EPYC, 0.842 against 0.793
    # (+4.9 points, one torch thread), 0.882 against 0.846 (+3.6, two); a random run on one
    # thread: 0.743 against 0.693 (+5.0); at 96 % (the demo's semi rounds) +3.5. Never below the
    # test accuracy by more than 2.
    assert -0.02 <= agreement - test_accuracy <= 0.08, (agreement, test_accuracy)
    assert main(["export", str(path), "--format", "model", "--out", str(tmp_path / "m")]) == 0
    import gltui

    classes, _ = gltui.load_model(tmp_path / "m").predict(images)
    assert np.array_equal(classes, guess)
