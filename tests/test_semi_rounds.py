"""Semi-supervised rounds in the engine (learn/semi through run/engine): the unlabeled images a
round learns from are never an audit, stop-set, validation or test image; a round killed at any
instant resumes to the identical state; `--semi on|off` is a run knob like the others.

The projects are the tiny ones of conftest (tiny training and semi profiles), on the CPU with
one torch thread where results are compared exactly.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from conftest import REFERENCE_ENV, fault_env, final_state, init_args, run_gltui

from gltui.cli import main
from gltui.project import Project

SEMI_RUN = ["--oracle", "--quiet", "--max-rounds", "2", "--chunk-size", "64", "--device", "cpu"]


@pytest.fixture(scope="module")
def semi_template(tmp_path_factory, small_npz):
    """A small oracle project whose run learns from the pool too, with an audit set (oracle
    labeled) so that every kind of held-out image exists."""
    path = tmp_path_factory.mktemp("semi") / "proj"
    # The last --semi wins over init_args' "--semi off".
    assert main(init_args(path, small_npz, "--semi", "on", "--audit", "40")) == 0
    return path


@pytest.fixture(scope="module")
def semi_reference(tmp_path_factory, semi_template):
    """semi_template after one uninterrupted two-round run (one thread, the CPU)."""
    path = tmp_path_factory.mktemp("semi-ref") / "proj"
    shutil.copytree(semi_template, path)
    proc = run_gltui("run", str(path), *SEMI_RUN, env=REFERENCE_ENV)
    assert proc.returncode == 0, proc.stderr
    return path


def weights(path, round: int) -> dict:
    return torch.load(path / "checkpoints" / "main" / f"model-round{round:03d}.pt",
                      weights_only=True)


def test_init_stores_semi_and_the_round_model_is_the_small_net(semi_reference):
    with Project.open(semi_reference) as project:
        config = project.run_config("main")
        assert config.semi.enabled and config.semi.profile == "tiny"
    saved = weights(semi_reference, 1)
    assert saved["network"] == "small" and saved["network_options"] == {"width": 8}


def test_a_project_s_guided_strategy_is_margin_with_semi_rounds_and_rde_without(
        semi_template, small_project_template):
    """config.default_strategy: what `init` gives `main`, and what `experiment` compares with
    random when no --strategies are named."""
    from gltui.run.experiment import default_strategies

    for path, guided in ((semi_template, "margin"), (small_project_template, "rde")):
        with Project.open(path) as project:
            assert project.store.run("main").strategy == guided
            assert project.run_config("main").score.strategy == guided
            assert default_strategies(project) == [guided, "random"]


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["epoch:1", "epoch:2", "phase:evaluate", "chunk:1"])
def test_a_semi_round_killed_resumes_to_the_identical_state(fault, tmp_path, semi_template,
                                                            semi_reference):
    path = tmp_path / "proj"
    shutil.copytree(semi_template, path)
    killed = run_gltui("run", str(path), *SEMI_RUN, env={**REFERENCE_ENV, **fault_env(fault)})
    assert killed.returncode == -9, killed.stderr
    resumed = run_gltui("run", str(path), *SEMI_RUN, env=REFERENCE_ENV)
    assert resumed.returncode == 0, resumed.stderr
    assert final_state(path) == final_state(semi_reference)
    for round in (0, 1):
        got, want = weights(path, round)["model"], weights(semi_reference, round)["model"]
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], want[k]) for k in want), f"round {round} differs"


def test_no_audit_stop_validation_or_test_image_reaches_training(tmp_path, semi_template,
                                                                 monkeypatch, one_thread):
    """Every image a semi-supervised round trains on, labeled or not, as the training call
    receives it (the ids and the pixels themselves), is a pool image outside the stop set."""
    import gltui.learn.semi.train as semi_train
    from gltui.project.runs import Knobs
    from gltui.run import driver
    from gltui.run.ranks import FitCall

    seen: list[tuple[np.ndarray, np.ndarray]] = []
    batches: list[np.ndarray] = []
    real_run, real_fit = FitCall.run, semi_train.fit_semi

    def recording_run(self, pixels, device, group, on_epoch=None):
        assert self.semi is not None and self.unlabeled_ids is not None
        seen.append((np.asarray(self.train_ids), np.asarray(self.unlabeled_ids)))
        return real_run(self, pixels, device, group, on_epoch)

    def recording_fit(model_name, train_x, train_y, unlabeled_x, *args, **kw):
        batches.append(np.asarray(unlabeled_x))
        return real_fit(model_name, train_x, train_y, unlabeled_x, *args, **kw)

    monkeypatch.setattr(FitCall, "run", recording_run)
    monkeypatch.setattr(semi_train, "fit_semi", recording_fit)
    path = tmp_path / "proj"
    shutil.copytree(semi_template, path)
    with Project.open(path) as project:
        assert driver.drive(project, "main", Knobs(max_rounds=2), oracle=True,
                            device="cpu") == "done"
        store = project.store
        held_out = {
            "audit": set(store.sample_set("audit").tolist()),
            "stop": set(store.sample_set("stop").tolist()),
            "val": set(store.item_ids("val").tolist()),
            "test": set(store.item_ids("test").tolist()),
        }
        pool = set(store.item_ids("pool").tolist())
        pixels = np.asarray(project.pixels)
    assert all(held_out.values()), "the project must hold every kind of held-out image"
    assert len(seen) == 2 and len(batches) == 2
    for (train_ids, unlabeled_ids), unlabeled_x in zip(seen, batches):
        for name, items in held_out.items():
            assert not items & set(train_ids.tolist()), f"a {name} image was trained on (labeled)"
            assert not items & set(unlabeled_ids.tolist()), f"a {name} image was trained on"
        assert set(unlabeled_ids.tolist()) <= pool
        assert not set(unlabeled_ids.tolist()) & set(train_ids.tolist())
        assert np.array_equal(unlabeled_x, pixels[unlabeled_ids])  # what the batches draw from


def test_semi_is_a_run_knob(tmp_path, semi_template):
    path = tmp_path / "proj"
    shutil.copytree(semi_template, path)
    assert main(["run", str(path), "--semi", "off", "--max-rounds", "1", "--oracle", "--quiet",
                 "--device", "cpu"]) == 0
    with Project.open(path) as project:
        assert not project.run_config("main").semi.enabled
        kinds = [e.kind for e in project.store.events("main", ["config"])]
    assert kinds, "the change is recorded"
    saved = weights(path, 0)
    # labels only: the run's own net (the tiny profile's small net at its default width; the
    # paper's net under the other profiles), not the semi-supervised rounds' (width 8)
    assert (saved["network"], saved["network_options"]) == ("small", {})
    assert main(["run", str(path), "--semi", "maybe"]) == 2


@pytest.mark.slow
def test_a_semi_run_under_torchrun_equals_one_process(tmp_path, semi_template, semi_reference):
    """Two ranks: rank 0 trains the semi-supervised round alone (the other waits), both score;
    the end state and every round's weights are the single process's."""
    from test_distributed import torchrun

    path = tmp_path / "proj"
    shutil.copytree(semi_template, path)
    proc = torchrun(2, str(path), *SEMI_RUN)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert final_state(path) == final_state(semi_reference)
    for round in (0, 1):
        got, want = weights(path, round)["model"], weights(semi_reference, round)["model"]
        assert all(torch.equal(got[k], want[k]) for k in want), f"round {round} differs"
