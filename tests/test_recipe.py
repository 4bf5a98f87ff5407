"""The selection and training recipe: a fixed schedule without a validation split, the warm
start, class-balanced guided picks, the random share of a guided queue, and the grey default.
docs/results/recipe.md measures what each does to the curves; these tests check what each is."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import init_args

from gltui import config
from gltui.cli import main
from gltui.config import Config, LoopConfig, ScoreConfig, auto_preset, train_config
from gltui.learn.augment import make_augment
from gltui.learn.select import select_balanced, select_top
from gltui.learn.train import fit
from gltui.project import Project
from gltui.run.sample import sample_config


def test_fit_without_a_validation_set_runs_its_schedule_and_keeps_the_last_weights(digits):
    x, y = digits
    x = x[:, None]  # (N, 1, 28, 28)
    cfg = train_config("tiny", max_epochs=3, patience=1)  # patience 1 would stop a validated fit
    last = {}

    def on_epoch(report, make_checkpoint):
        last.update(make_checkpoint()["model"])

    result = fit("auto", x[:60], y[:60], x[:0], y[:0], 10, cfg, seed=3, device="cpu",
                 on_epoch=on_epoch)
    assert result.epochs == 3 and result.best_epoch == 3 and result.stopped == "max-epochs"
    state = result.model.state_dict()
    assert all(torch.equal(state[k].cpu(), last[k]) for k in state)
    # The accuracy it reports is the training set's (nothing is chosen by it).
    assert 0.0 <= result.best_val_accuracy <= 1.0


def test_select_balanced_caps_each_predicted_class_and_fills_from_the_top():
    scores = np.array([9, 8, 7, 6, 5, 4, 3, 2], dtype=float)
    predicted = np.array([0, 0, 0, 0, 1, 0, 2, 0])
    # n 6, 3 classes: at most 2 a class; class 1 and 2 have one image each, so the top of the
    # rest fills the last two places.
    picked = select_balanced(scores, predicted, 6, 3)
    assert list(picked[:4]) == [0, 1, 4, 6]
    assert sorted(picked) == [0, 1, 2, 3, 4, 6] and len(set(picked)) == 6
    assert list(select_balanced(scores, np.arange(8) % 4, 4, 4)) == list(select_top(scores, 4))


def test_old_run_configs_keep_the_paper_selection_and_new_ones_get_the_recipe():
    old = Config.from_json('{"model": "auto", "loop": {"budget": 80}, "score": {"k": 4}}')
    assert old.loop.warm_start == 0 and old.score.balance is False
    assert old.score.random_share == 0.0 and old.loop.budget == 80
    assert old.score.explore == "random"  # a run saved before the far share draws at random
    assert (config.default_explore(True), config.default_explore(False)) == ("far", "random")
    new = Config.from_json(Config().to_json())
    assert (new.loop.warm_start, new.score.balance, new.score.random_share, new.score.explore) \
        == (LoopConfig().warm_start, ScoreConfig().balance, ScoreConfig().random_share,
            ScoreConfig().explore) == (40, True, 0.5, "far")


def test_grey_images_get_the_mild_augmentation_and_the_sample_digits_the_paper_s():
    assert auto_preset(1) == "grey" and make_augment("auto", 1).name == "grey"
    assert sample_config().train.augment == "digits"
    x = torch.rand(4, 1, 28, 28)
    assert make_augment("grey", 1)(x, torch.Generator().manual_seed(0)).shape == x.shape


def _queue(path, run, round):
    with Project.open(path) as project:
        return [(e.item, e.score) for e in project.store.queue(run, round)], \
            project.store.pass_scores(run, round - 1)


@pytest.mark.timeout(900)
def test_warm_start_draws_the_random_run_s_queue_then_rde_takes_over(tmp_path, small_npz):
    """rde and random with one seed: the same queue while fewer than --warm-start images are
    labeled, then rde's own. With --random-share 0 --no-balance the guided queue is the plain
    top-n of the scoring pass (the paper's rule); by default (semi-supervised rounds: --semi
    on is what init_args drops) half of it is the far share (learn/select.select_far), with
    --explore random half is drawn at random."""
    path = tmp_path / "p"
    assert main(init_args(path, small_npz)[:-2] + ["--warm-start", "40", "--budget", "80"]) == 0
    for run, extra in (("rde", []), ("random", ["--strategy", "random"]),
                       ("plain", ["--random-share", "0", "--no-balance"]),
                       ("drawn", ["--explore", "random"])):
        assert main(["run", str(path), "--run", run, "--oracle", "--quiet", "--device", "cpu",
                     *extra]) == 0
    rde1, _ = _queue(path, "rde", 1)
    assert [i for i, _ in rde1] == [i for i, _ in _queue(path, "random", 1)[0]]  # warm start
    assert [i for i, _ in _queue(path, "plain", 1)[0]] == [i for i, _ in rde1]
    rde2, (candidates, scores) = _queue(path, "rde", 2)
    random2, _ = _queue(path, "random", 2)
    plain2, (p_candidates, p_scores) = _queue(path, "plain", 2)
    assert len(rde2) == len(plain2) == 40 and len({i for i, _ in rde2}) == 40
    assert [i for i, _ in plain2] == list(p_candidates[select_top(p_scores, 40)])
    assert {i for i, _ in rde2} != {i for i, _ in random2}
    # Half guided (the top of the pass, at most 2 a predicted class of 10), half drawn at random
    # from the rest; the queue is ordered by score, most confusing first.
    assert [s for _, s in rde2] == sorted((s for _, s in rde2), reverse=True)
    top = set(candidates[select_top(scores, 20 * 10)].tolist())
    assert sum(i in top for i, _ in rde2) >= 20
    plain = {i for i, _ in plain2}
    assert np.array_equal(candidates, p_candidates) and np.array_equal(scores, p_scores)
    assert sum(i not in plain for i, _ in rde2) >= 15  # the far half: mostly not the top 40
    # --explore random: the same guided half (the same model and pass), another explored half
    with Project.open(path) as project:
        assert project.run_config("rde").score.explore == "far"  # semi-supervised: the default
        assert project.run_config("drawn").score.explore == "random"
    drawn2, (d_candidates, d_scores) = _queue(path, "drawn", 2)
    assert np.array_equal(d_candidates, candidates) and np.array_equal(d_scores, scores)
    shared = {i for i, _ in drawn2} & {i for i, _ in rde2}
    assert 20 <= len(shared) < 40


def test_without_a_validation_split_curves_say_training_and_target_accuracy_is_refused(
        tmp_path, small_npz, capsys):
    from gltui.project import RunSummary
    from gltui.store import RoundRow
    from gltui.views.curves import TRAINING, VALIDATION, learning_curves, metric_title

    rows = [RoundRow(round=r, n_labeled=20 * 2 ** r, val_accuracy=1.0, test_accuracy=None,
                     epochs=12, best_epoch=12, train_seconds=1.0, score_seconds=1.0,
                     profile="quick", finished_at=1.0 + r, class_hist=[], stop_kappa=None)
            for r in range(2)]

    def summary(validated):
        return RunSummary("main", "rde", 0, "label", 2, 40, 100, 0, None, "quick", rows,
                          validated=validated)

    curve, = learning_curves([summary(False)])
    assert curve.metric == TRAINING and "not an estimate" in metric_title(curve.metric)
    assert learning_curves([summary(True)])[0].metric == VALIDATION

    path = tmp_path / "p"
    assert main(init_args(path, small_npz) + ["--val-size", "0"]) == 0
    def state():
        with Project.open(path) as project:
            return [tuple(vars(r).values()) for r in project.store.runs()]

    before = state()
    capsys.readouterr()
    assert main(["run", str(path), "--oracle", "--quiet", "--target-accuracy", "0.9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no validation split" in err[0] and "--stop-when-stable" in err[0]
    assert state() == before


def test_warm_start_queues_show_no_score_and_the_gallery_skips_random_passes(tmp_path, small_npz):
    """Below the warm start a pass ranks at random: its scores are random draws. The gallery
    (TUI and report) leaves such a pass out, asking for it by round is refused, the labeling
    screen says "picked at random" instead of a score, and the provisional queue built on it
    carries no score. From the first guided pass on, all of it is back."""
    import asyncio

    from gltui.errors import ProjectError
    from gltui.project import run_lock
    from gltui.run import engine
    from gltui.tui.app import make_app
    from gltui.tui.session import Session
    from gltui.tui.widgets.guess_panel import GuessPanel
    from gltui.views.galleries import gallery, ranked_at_random

    path = tmp_path / "p"
    assert main(init_args(path, small_npz)[:-2] + ["--warm-start", "40"]) == 0
    with Project.open(path) as project:
        with run_lock(project, "main"):
            assert engine.Runner(project, "main").drive() == "label"  # round 1's queue waits
        assert project.store.finished_passes("main") == [0]
        assert ranked_at_random(project.store, "main", 0)
        assert gallery(project.store, "main") is None
        with pytest.raises(ProjectError, match="ranked by confusion"):
            gallery(project.store, "main", 0)
    session = Session(path)
    try:
        assert session.random_picks(1) and not session.random_picks(0)
        ranked = [e for e in session.provisional() if not e.audit]
        assert ranked and all(np.isnan(e.score) for e in ranked)
    finally:
        session.close()

    async def screen_text() -> tuple[str, str]:
        app = make_app(path, images="none", show_timing=False, autostart=False,
                       autostart_delay=None)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.2)
            guess = str(app.screen.query_one(GuessPanel).render())
            await pilot.press("g")
            await pilot.pause(0.2)
            return guess, str(app.screen.query_one("#gallery-note").render())

    guess, note = asyncio.run(screen_text())
    assert "picked at random" in guess and "bits" not in guess
    assert "ranked the pool by confusion" in note and "warm start of 40" in note

    # Label round 1's queue (the oracle): 40 labels, so round 1's pass is rde's own.
    assert main(["run", str(path), "--oracle", "--quiet", "--device", "cpu", "--budget", "80"]) == 0
    with Project.open(path) as project:
        assert not ranked_at_random(project.store, "main", 1)
        assert gallery(project.store, "main").round == 1
    session = Session(path)
    try:
        assert not session.random_picks(2)
    finally:
        session.close()
