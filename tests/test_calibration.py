"""Calibration (learn/calibrate.py) and the stop rule's automatic threshold (learn/stopping.py):
the numbers on hand-made data, and on a small project that the probabilities a person sees (the
queue's guesses, `predict`, the model folder) are the round model's softmax divided by the
temperature the round stored."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from gltui.cli import main
from gltui.learn import calibrate
from gltui.learn.stopping import stable_streak, thresholds, view_kappas
from gltui.project import Project


def test_ece_and_the_accuracy_of_confident_guesses_on_hand_made_numbers():
    # four guesses at 0.95 confidence, three right: ECE = |0.75 - 0.95| over that bin
    probs = np.array([[0.95, 0.05]] * 4)
    labels = np.array([0, 0, 0, 1])
    stats = calibrate.calibration(probs, labels)
    assert stats["ece"] == pytest.approx(0.20)
    assert stats["acc_at_90"] == pytest.approx(0.75) and stats["share_at_90"] == 1.0
    assert stats["accuracy"] == pytest.approx(0.75)


def test_temperature_fits_an_overconfident_model_and_temper_matches_dividing_logits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 2000)
    logits = rng.normal(0, 1, (2000, 3))
    logits[np.arange(2000), y] += 1.0  # some signal
    logits *= 4.0  # overconfident
    t = calibrate.fit_temperature(torch.tensor(logits), y)
    assert 3.0 < t < 5.5  # the scale put in, roughly
    before = calibrate.calibration(torch.tensor(logits).softmax(1).numpy(), y)["ece"]
    after = calibrate.calibration(calibrate.apply_temperature(torch.tensor(logits), t).numpy(),
                                  y)["ece"]
    assert after < before / 3


def test_the_stop_rule_with_a_threshold_per_round():
    assert stable_streak([0.5, 0.97, 0.98], [0.9, 0.96, 0.99]) == 0  # the last is below its own
    assert stable_streak([0.5, 0.97, 0.98], [0.9, 0.96, 0.975]) == 2
    assert stable_streak([None, 0.97], 0.9) == 1 and stable_streak([0.97, None], 0.9) == 0
    assert stable_streak([0.97], [None]) == 0
    a = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 1, 2, 0, 1, 1])
    got = view_kappas({0: a[0], 1: a[0]}, {0: a[0], 1: a[1]}, [0, 1, 2])
    assert got[0] == 1.0 and got[1] < 1.0 and got[2] is None
    assert thresholds(0.99, [0.5]) == 0.99 and thresholds(0.0, [0.5, None]) == [0.5, None]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_project_template):
    path = tmp_path_factory.mktemp("calibrated") / "proj"
    shutil.copytree(small_project_template, path)
    assert main(["run", str(path), "--oracle", "--quiet", "--max-rounds", "2", "--device",
                 "cpu"]) == 0
    return path


def test_the_probabilities_a_person_sees_are_the_calibrated_ones(trained, tmp_path):
    import gltui
    from gltui.learn.train import predict_proba
    from gltui.outputs import roundmodel

    with Project.open(trained) as project:
        saved = roundmodel.read_round(project, "main", 0)
        t = saved["temperature"]
        assert t >= 1.0 and "views" in saved["calibrated_on"]
        model = roundmodel.load_round(project, "main", 0, torch.device("cpu"))
        queue = project.store.queue("main", 1)
        want = predict_proba(model, np.asarray(project.pixels[[e.item for e in queue]]), "cpu",
                             temperature=t)
        for entry, row in zip(queue, want):  # the labeling screen's and review page's guesses
            c, p = entry.guesses[0]
            assert c == int(row.argmax()) and p == pytest.approx(float(row.max()), abs=1e-4)
    out = tmp_path / "model"
    assert main(["export", str(trained), "--format", "model", "--round", "0", "--out",
                 str(out)]) == 0
    loaded = gltui.load_model(out)
    assert loaded.meta["temperature"] == pytest.approx(t)
    with Project.open(trained) as project:
        x = np.asarray(project.pixels[:50])
        model = roundmodel.load_round(project, "main", 0, torch.device("cpu"))
        # the same arithmetic as the engine's: softmax(logits / T), exactly
        assert np.array_equal(loaded.predict_proba(x),
                              predict_proba(model, x, "cpu", temperature=t))


@pytest.mark.parametrize("fitted, stored", [(0.5, 1.0), (1.0, 1.0), (2.5, 2.5)])
def test_the_views_temperature_softens_but_never_sharpens(trained, monkeypatch, fitted, stored):
    """Strong views of the training images are easier than new images: a temperature fitted on
    them errs low, so the round stores max(1, T) (run/roundwork.temperature)."""
    from gltui.outputs import roundmodel
    from gltui.run import roundwork

    monkeypatch.setattr(calibrate, "views_temperature", lambda *a, **k: fitted)
    with Project.open(trained) as project:
        model = roundmodel.load_round(project, "main", 0, torch.device("cpu"))
        items, labels = project.store.labeled("main", up_to_round=0)
        t, on = roundwork.temperature(project.store, project.pixels, model, items, labels,
                                      torch.device("cpu"), 256, 0)
    assert t == stored and "views" in on


def test_each_round_stores_calibrated_guesses_for_the_images_offered_while_the_next_trains(
        trained):
    """The provisional queue's guesses come from the engine (run/roundwork.save_offered_guesses):
    the round model's calibrated top-3 on labeler.offered_items, never on a stop-set image."""
    from gltui.learn.train import predict_proba
    from gltui.outputs import roundmodel
    from gltui.project.labeler import offered_items

    with Project.open(trained) as project:
        round, stored = project.store.guesses("main", up_to_round=0)
        assert round == 0
        items = np.asarray(list(stored), dtype=np.int64)
        # drawn when round 0 ended: round 1's labels, given later, drop images from the draw
        # (and later ones of the same seeded order take their places)
        now = offered_items(project, "main", 0)
        assert len(items) == len(now) > 0 and np.isin(now, items).mean() > 0.5
        assert not np.isin(items, project.store.labeled("main", up_to_round=0)[0]).any()
        assert not np.isin(items, project.store.sample_set("stop")).any()
        model = roundmodel.load_round(project, "main", 0, torch.device("cpu"))
        want = predict_proba(model, np.asarray(project.pixels[items]), "cpu",
                             temperature=roundmodel.temperature(project, "main", 0))
        for item, row in zip(items, want):
            c, p = stored[int(item)][0]
            assert c == int(row.argmax()) and p == pytest.approx(float(row.max()), abs=1e-5)


def test_a_small_projects_whole_audit_set_fits_the_temperature(trained, tmp_path):
    """A small project's audit set holds fewer than 30 images: once every one is labeled (at
    least 10), the temperature is fitted on them, not on the labeled images' views (in a
    person's trial 27 of 27 audit labels were never used, and a model at 33 % audit accuracy
    showed its guesses at 1.00)."""
    from gltui.outputs import roundmodel
    from gltui.run import roundwork

    assert roundwork.audit_calibrates(27, 27) and roundwork.audit_calibrates(30, 1000)
    assert not roundwork.audit_calibrates(27, 100) and not roundwork.audit_calibrates(9, 9)
    path = tmp_path / "proj"
    shutil.copytree(trained, path)
    with Project.open(path) as project:
        store = project.store
        items, labels = store.labeled("main")
        model = roundmodel.load_round(project, "main", 0, torch.device("cpu"))
        views = roundwork.temperature(store, project.pixels, model, items, labels,
                                      torch.device("cpu"), 256, seed=0)
        assert store.sample_set("audit") is None  # drawn here: a small project's whole set
        few = store.unlabeled_pool("main")[:12]
        assert store.save_sample_set("audit", few, seed=0)
        truth = store.true_labels(few)
        store.add_audit_labels(few[:11], truth[:11], "human")
        one_short = roundwork.temperature(store, project.pixels, model, items, labels,
                                          torch.device("cpu"), 256, seed=0)
        store.add_audit_labels(few[11:], truth[11:], "human")
        fitted = roundwork.temperature(store, project.pixels, model, items, labels,
                                       torch.device("cpu"), 256, seed=0)
    assert "views" in views[1] and one_short == views
    assert fitted[1] == "12 audit labels" and fitted[0] != views[0]
