"""Snapshots of the main screens (pytest-textual-snapshot). The project state is written
directly, without training, so every number on screen is fixed; the renderer is pinned
(half-cell) and live timings are hidden (show_timing=False). Update with --snapshot-update."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gltui.config import Config
from gltui.project import Project
from gltui.project.runs import create_run

pytest.importorskip("pytest_textual_snapshot")


@pytest.fixture(scope="module")
def fixed_template(tmp_path_factory, small_project_template) -> Path:
    """Round 0 of `main` done (rde), a scoring pass, 20 queued with top-3 guesses; a `random`
    run finished after three rounds: all numbers made up and fixed."""
    path = tmp_path_factory.mktemp("snap") / "proj"
    shutil.copytree(small_project_template, path)
    with Project.open(path) as project:
        store = project.store
        hist0 = [3, 2, 2, 1, 3, 2, 1, 2, 2, 2]
        store.save_round("main", 0, {"n_labeled": 20, "val_accuracy": 0.41, "test_accuracy": 0.445,
                                     "epochs": 4, "class_hist": hist0, "finished_at": 1.0},
                         next_phase="score")
        pool = store.unlabeled_pool("main")
        rng = np.random.default_rng(0)
        scores = np.round(rng.uniform(0.05, 3.0, len(pool)), 3).astype(np.float32)
        store.start_pass("main", 0, pool, 4096)
        store.save_chunk("main", 0, 0, 0, scores)
        top = np.argsort(-scores, kind="stable")[:20]
        guesses = [[[int(c), p] for c, p in zip(rng.permutation(10)[:3], (0.5, 0.3, 0.1))]
                   for _ in top]
        store.write_queue("main", 1, pool[top], scores[top], guesses, "label")
        create_run(project, "random", "random",
                   Config.from_json(project.require_run("main").config))
        for r, (n, acc) in enumerate([(20, 0.40), (40, 0.52), (80, 0.63)]):
            store.save_round("random", r, {"n_labeled": n, "val_accuracy": acc - 0.02,
                                           "test_accuracy": acc, "epochs": 4,
                                           "class_hist": [n // 10] * 10, "finished_at": 1.0 + r})
        store.set_phase("random", "done", 2, stop_reason="3 rounds done")
    return path


@pytest.fixture
def snap_app(tmp_path, fixed_template):
    def build(images="halfcell", **kw):
        from gltui.tui.app import make_app

        dest = tmp_path / "proj"
        if not dest.exists():
            shutil.copytree(fixed_template, dest)
        return make_app(dest, images=images, show_timing=False, autostart=False,
                        autostart_delay=None, **kw)
    return build


def test_labeling_screen(snap_compare, snap_app):
    assert snap_compare(snap_app(), terminal_size=(120, 40))


def test_labeling_after_keys(snap_compare, snap_app):
    assert snap_compare(snap_app(), terminal_size=(120, 40), press=["3", "s", "7", "u"])


def test_labeling_grid(snap_compare, snap_app):
    assert snap_compare(snap_app(), terminal_size=(120, 40), press=["5", "v"])


def test_labeling_grid_true_aspect(snap_compare, snap_app):
    """Grid view in textual-image's unicode renderer on a 100x32 terminal: every digit in a
    square box (columns = 2 x rows, the VT340 cell of a non-terminal), none stretched."""
    assert snap_compare(snap_app(images="unicode"), terminal_size=(100, 32), press=["v"])


def test_labeling_small_terminal(snap_compare, snap_app):
    assert snap_compare(snap_app(), terminal_size=(80, 24))


def test_dashboard(snap_compare, snap_app):
    assert snap_compare(snap_app(), terminal_size=(120, 40), press=["1", "d"])


def test_dashboard_small_terminal(snap_compare, snap_app):
    assert snap_compare(snap_app(), terminal_size=(80, 24), press=["d"])


def test_gallery(snap_compare, snap_app):
    assert snap_compare(snap_app(), terminal_size=(120, 40), press=["g"])


def test_help(snap_compare, snap_app):
    assert snap_compare(snap_app(), terminal_size=(100, 30), press=["question_mark"])
