"""Runs of one seed share the rounds they have in common: a round whose fit (ranks.FitCall.key:
labels, seeds, settings, starting weights) another run has already made takes that run's model
instead of training again (roundwork.trained_elsewhere), and ends in exactly the state that
training it would have given.

The small semi-supervised project of conftest, warm start 40: rounds 0 (20 labels) and 1 (40
labels, the first queue drawn at random) are the same for every strategy of one seed; round 1's
queue is the first that each strategy chooses itself.
"""

from __future__ import annotations

import shutil

import pytest
import torch
from conftest import final_state, init_args

from gltui.cli import main
from gltui.project import Project

RUN = ["--oracle", "--quiet", "--max-rounds", "2", "--chunk-size", "64", "--device", "cpu"]


@pytest.fixture(scope="module")
def template(tmp_path_factory, small_npz):
    path = tmp_path_factory.mktemp("reuse") / "proj"
    assert main(init_args(path, small_npz, "--semi", "on", "--warm-start", "40")) == 0
    return path


def _saved(path, run, round):
    with Project.open(path) as project:
        return torch.load(project.model_path(run, round), map_location="cpu", weights_only=True)


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_second_run_takes_the_shared_rounds_and_ends_as_if_it_had_trained_them(
        tmp_path, template, one_thread):
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    shutil.copytree(template, shared)
    shutil.copytree(template, alone)
    assert main(["run", str(shared), *RUN]) == 0  # main (margin) trains rounds 0 and 1
    random_run = ["--run", "random", "--strategy", "random", *RUN]
    assert main(["run", str(shared), *random_run]) == 0  # takes them
    assert main(["run", str(alone), *random_run]) == 0  # trains them itself

    for round in (0, 1):
        taken, trained = _saved(shared, "random", round), _saved(alone, "random", round)
        main_model = _saved(shared, "main", round)
        assert taken["seconds"] == 0.0 < trained["seconds"]  # taken, not trained again
        assert taken["fit_key"] == trained["fit_key"] == main_model["fit_key"]
        assert _same_weights(taken["model"], trained["model"])
        assert _same_weights(taken["model"], main_model["model"])
        assert taken["temperature"] == trained["temperature"]
    assert final_state(shared, "random") == final_state(alone, "random")


def test_a_run_of_another_seed_trains_its_own_rounds(tmp_path, template, one_thread):
    path = tmp_path / "proj"
    shutil.copytree(template, path)
    one_round = ["--oracle", "--quiet", "--max-rounds", "1", "--device", "cpu"]
    assert main(["run", str(path), *one_round]) == 0
    assert main(["run", str(path), "--run", "other", "--seed", "7", *one_round]) == 0
    mine, other = _saved(path, "main", 0), _saved(path, "other", 0)
    assert other["seconds"] > 0.0
    assert other["fit_key"] != mine["fit_key"]
    assert not _same_weights(other["model"], mine["model"])
