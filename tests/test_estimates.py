"""The two per-round signals that need no labeled test set: the audit estimate (a random sample of
the pool, labeled, never trained on; accuracy with a Wilson interval) and the stop-set kappa
(Cohen's kappa of consecutive rounds' predictions) with `--stop-when-stable K`.

The arithmetic is checked against hand-worked values; the rest on real sample digits: an oracle
run with an audit set, whose audit images never reach a labeled set, a queue or a scoring pass,
whose estimate is the round model's real accuracy on them, and which status, status --json and
the report show with its n."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
from conftest import init_args
from test_cli import one_error_line, tree_digest

from gltui.cli import main
from gltui.config import Config
from gltui.errors import ProjectError
from gltui.learn.stopping import cohen_kappa, stable_streak
from gltui.project import Labeler, Project
from gltui.store import RoundRow
from gltui.views.estimates import Estimate, audit_estimates, stable_stop, wilson_interval

AUDIT = 60


# ---- arithmetic, against values worked by hand ---------------------------------------------


@pytest.mark.parametrize("correct, n, low, high", [
    # p = 0.8, z = 1.96: centre (0.8 + 3.8415/20) / 1.38415 = 0.71676,
    # half 1.96 * sqrt(0.016 + 0.0096037) / 1.38415 = 0.22658
    (8, 10, 0.4902, 0.9433),
    # p = 0: centre = half = (3.8415/20) / 1.38415 = 0.13877
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
    # p = 0.5, n = 100: centre 0.5, half 1.96 * sqrt(0.0025 + 0.000096) / 1.038415 = 0.09617
    (50, 100, 0.4038, 0.5962),
])
def test_wilson_interval_matches_hand_worked_values(correct, n, low, high):
    got = wilson_interval(correct, n)
    assert got == pytest.approx((low, high), abs=1e-4)
    est = Estimate(correct, n)
    assert est.accuracy == correct / n and est.n == n
    assert est.covers(correct / n)
    assert (f"n={n}" in est.text()) and (("only" in est.text()) == (n < 100))


def test_wilson_needs_a_sample():
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


@pytest.mark.parametrize("a, b, kappa", [
    # p_o = 3/4; rater a: (1/2, 1/2), b: (1/4, 3/4); p_e = 1/8 + 3/8 = 1/2 -> (3/4 - 1/2) / (1/2)
    ([0, 0, 1, 1], [0, 1, 1, 1], 0.5),
    ([0, 1, 0, 1], [1, 0, 1, 0], -1.0),  # p_o = 0, p_e = 1/2
    ([2, 0, 1, 2], [2, 0, 1, 2], 1.0),
    ([3, 3, 3], [3, 3, 3], 1.0),  # both constant and equal: p_e = 1, perfect agreement
    # p_o = 5/6 (all but the third); a: (2/6, 2/6, 2/6), b: (3/6, 1/6, 2/6);
    # p_e = (6 + 2 + 4) / 36 = 1/3; kappa = (5/6 - 1/3) / (2/3) = 3/4
    ([0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 2, 2], 0.75),
])
def test_cohen_kappa_matches_hand_worked_values(a, b, kappa):
    assert cohen_kappa(np.array(a), np.array(b)) == pytest.approx(kappa)


def _round(r: int, kappa: float | None, test: float = 0.5) -> RoundRow:
    blank = {f.name: None for f in dataclasses.fields(RoundRow)}
    return RoundRow(**{**blank, "round": r, "n_labeled": 20 * 2 ** r, "test_accuracy": test,
                       "finished_at": 1.0 + r, "stop_kappa": kappa})


def test_stable_rule_counts_rounds_in_a_row():
    assert stable_streak([None, 0.995, 0.97, 0.992, 0.999], 0.99) == 2
    assert stable_streak([0.995, None], 0.99) == 0
    rounds = [_round(0, None), _round(1, 0.995, 0.8), _round(2, 0.95), _round(3, 0.991, 0.9),
              _round(4, 0.999, 0.93)]
    assert stable_stop(rounds, 1, 0.99).round == 1
    assert stable_stop(rounds, 2, 0.99).round == 4
    assert stable_stop(rounds, 3, 0.99) is None


# ---- an oracle run with an audit set -----------------------------------------------------------


@pytest.fixture(scope="module")
def audited(tmp_path_factory, small_npz):
    """A small project with an audit set of 60, run with the oracle to 80 labels."""
    path = tmp_path_factory.mktemp("audit") / "proj"
    assert main(init_args(path, small_npz, "--audit", str(AUDIT), "--budget", "80")) == 0
    assert main(["run", str(path), "--oracle", "--quiet", "--device", "cpu"]) == 0
    return path


@pytest.mark.slow
def test_the_audit_set_is_a_random_draw_that_is_never_trained_on(audited):
    with Project.open(audited) as project:
        store = project.store
        audit = store.sample_set("audit")
        assert len(audit) == AUDIT == len(set(audit.tolist()))
        assert list(audit) != sorted(audit)  # kept in the order drawn
        assert store.count_items()["audit"] == AUDIT
        assert set(store.item_ids("audit").tolist()) == set(audit.tolist())
        pool = set(store.item_ids("pool").tolist())
        assert not pool & set(audit.tolist())
        # never labeled for training, never queued, never a scoring candidate
        labeled, _ = store.labeled("main")
        assert len(labeled) == 80 and not set(labeled.tolist()) & set(audit.tolist())
        row = store.run("main")
        for r in range(row.round + 2):
            assert not {e.item for e in store.queue("main", r)} & set(audit.tolist())
        for r in store.finished_passes("main"):
            assert not set(store.pass_scores("main", r)[0].tolist()) & set(audit.tolist())
        # the oracle labeled the whole audit set, with the true labels
        items, labels = store.audit_labels()
        assert sorted(items.tolist()) == sorted(audit.tolist())
        assert (labels == store.true_labels(items)).all()


def test_the_estimate_is_the_round_models_accuracy_on_the_audit_images(audited):
    from gltui.learn import train as training
    from gltui.project.folder import STOP_SHARE
    from gltui.run.engine import Runner, RunOptions

    with Project.open(audited) as project:
        estimates = audit_estimates(project.store, "main")
        rounds = project.store.rounds("main")
        assert sorted(estimates) == [r.round for r in rounds] == [0, 1, 2]
        items, labels = project.store.audit_labels()
        runner = Runner(project, "main", RunOptions(device="cpu"))  # as the run was driven
        for r in rounds:
            model = runner._load_model(r.round)
            direct = training.evaluate(model, project.pixels[items], labels, "cpu")
            assert estimates[r.round].n == AUDIT
            assert estimates[r.round].accuracy == pytest.approx(direct)
        # kappa from round 1 on, between consecutive rounds' stop-set predictions
        stop = project.store.sample_set("stop")
        pool = project.store.count_items()["pool"]
        assert len(stop) == min(Config().loop.stop_set, pool // STOP_SHARE)
        # never labeled, never queued: the kappa judges images no round trained on
        assert not set(stop.tolist()) & set(project.store.labeled("main")[0].tolist())
        queued = {e.item for r in range(4) for e in project.store.queue("main", r)}
        assert not set(stop.tolist()) & queued
        predicted = project.store.set_predictions("main", "stop")
        assert rounds[0].stop_kappa is None
        for r in rounds[1:]:
            want = cohen_kappa(predicted[r.round - 1], predicted[r.round])
            assert r.stop_kappa == pytest.approx(want) and -1 <= r.stop_kappa <= 1


def test_a_project_without_test_or_validation_split_draws_its_audit_estimates(audited):
    """A person's project (no test split, no validation split): the curve every view draws is
    the audit estimate per labeled count, not the training accuracy; without an audit label
    (or without the store) it stays the training accuracy, named as not an estimate."""
    from gltui.views.curves import AUDIT as AUDIT_METRIC
    from gltui.views.curves import TRAINING, learning_curves, metric_title

    with Project.open(audited) as project:
        summary = project.summary("main")
        rounds = [dataclasses.replace(r, test_accuracy=None) for r in summary.rounds]
        person = dataclasses.replace(summary, rounds=rounds, validated=False)
        estimates = audit_estimates(project.store, "main")
        curve, = learning_curves([person], project.store)
        assert curve.metric == AUDIT_METRIC and "estimate" in metric_title(curve.metric)
        assert curve.points == [(r.n_labeled, estimates[r.round].accuracy) for r in rounds]
        assert [p[1] for p in curve.points] != [r.val_accuracy for r in rounds]
        assert learning_curves([person])[0].metric == TRAINING


def test_status_json_and_report_show_the_estimate_with_its_n(audited, tmp_path, capsys):
    capsys.readouterr()
    assert main(["status", str(audited), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["audit"] == {"labeled": AUDIT, "size": AUDIT}
    rounds = data["runs"][0]["rounds"]
    for r in rounds:
        est = r["audit"]
        assert est["n"] == AUDIT and est["interval"] == "wilson 95%"
        assert est["low"] <= est["accuracy"] <= est["high"]
        assert est["accuracy"] == pytest.approx(est["correct"] / AUDIT)
    assert rounds[0]["stop_kappa"] is None and rounds[1]["stop_kappa"] is not None

    assert main(["status", str(audited)]) == 0
    out = capsys.readouterr().out
    assert "audit 60/60 labeled" in out and "accuracy estimate" in out
    last = rounds[-1]["audit"]
    assert f"{last['accuracy']:.3f} [{last['low']:.3f}, {last['high']:.3f}] n={AUDIT} (only " in out

    assert main(["report", str(audited), "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "## Accuracy estimate (audit set) and stability (kappa)" in text
    assert f"| main | 2 | 80 | {100 * last['accuracy']:.2f} [" in text
    assert f"| {AUDIT} | {100 * rounds[-1]['test_accuracy']:.2f} |" in text
    assert "rounds (" in text and "stops after round" in text


@pytest.mark.slow  # the fast lane keeps the estimate-is-the-accuracy test
def test_a_late_audit_label_counts_in_the_estimate(audited, tmp_path):
    """Predictions are stored, labels read when shown: relabeling one audit image (here to a
    wrong class) moves every round's estimate by exactly that image, and undo restores it."""
    path = tmp_path / "proj"
    shutil.copytree(audited, path)
    with Project.open(path) as project:
        labeler = Labeler(project, "main")
        before = audit_estimates(project.store, "main")
        item = int(project.store.sample_set("audit")[0])
        predicted = project.store.set_predictions("main", "audit")[2][0]
        wrong = (int(predicted) + 1) % 10
        truth = int(project.store.true_labels(np.array([item]))[0])
        labeler.label_audit(item, wrong)
        after = audit_estimates(project.store, "main")[2]
        assert after.n == AUDIT
        assert after.correct == before[2].correct - (predicted == truth)
        assert labeler.undo_audit() == item
        # the wrong label is undone and the old one stays undone: one image fewer
        assert audit_estimates(project.store, "main")[2].n == AUDIT - 1
        labeler.label_audit(item, truth)
        assert audit_estimates(project.store, "main") == before
        kinds = [k for _, k, _ in project.store.events("main", ["audit-label", "audit-undo"])]
        assert kinds[:4] == ["audit-label", "audit-undo", "audit-label"][::-1] + ["audit-label"]


# ---- a person's audit labels ---------------------------------------------------------------------


@pytest.fixture
def person(tmp_path, digits):
    images, _ = digits
    npz = tmp_path / "pool.npz"
    np.savez(npz, x=images[:400])
    path = tmp_path / "p"
    assert main(["init", str(path), "--data", f"npz:{npz}", "--classes",
                 ",".join(str(d) for d in range(10))]) == 0
    return path


def test_a_persons_project_gets_an_audit_queue_labeled_one_transaction_each(person, digits):
    with Project.open(person) as project:
        store = project.store
        audit = store.sample_set("audit")
        assert len(audit) == 40  # 10 % of 400 unlabeled images
        labeler = Labeler(project, "main")
        queue = labeler.audit_queue()
        assert queue == audit.tolist()
        assert not set(queue) & {e.item for e in labeler.queue()}  # not in the seed queue
        truth = digits[1][:400]
        for item in queue[:5]:  # a person labels the first five, in order
            labeler.label_audit(item, int(truth[item]))
        assert labeler.audit_queue() == queue[5:]
        assert labeler.undo_audit() == queue[4]
        assert labeler.audit_queue() == queue[4:]
        assert store.audit_labels()[0].tolist() == sorted(queue[:4])
        assert store.count_labeled("main") == 0  # audit labels are not the run's labels
        with pytest.raises(ProjectError, match="not in the audit set"):
            labeler.label_audit(int(store.item_ids("pool")[0]), 1)
        with pytest.raises(ProjectError, match="not a class"):
            labeler.label_audit(queue[0], 10)


# ---- --stop-when-stable ------------------------------------------------------------------------


@pytest.mark.slow
def test_stop_when_stable_ends_the_run(fresh_project, capsys):
    """With a fixed threshold of 0.0001 (the rule, not the threshold, is under test; a tiny
    model's rounds rarely agree much), `--stop-when-stable 1` ends the run at round 1, the first
    round with a kappa; the stop reason says so."""
    assert main(["run", str(fresh_project), "--oracle", "--quiet", "--stop-when-stable", "1",
                 "--stable-kappa", "0.0001"]) == 0
    with Project.open(fresh_project) as project:
        row = project.require_run("main")
        kappa = project.store.rounds("main")[1].stop_kappa
        if kappa < 0.0001:
            pytest.skip(f"this tiny model's rounds disagree completely (kappa {kappa})")
        assert row.phase == "done" and row.round == 1
        assert row.stop_reason.startswith("predictions stable: kappa")
        assert ">= 0.0001 for 1 rounds in a row" in row.stop_reason
        loop = project.run_config("main").loop
        assert (loop.stable_rounds, loop.stable_kappa) == (1, 0.0001)


@pytest.mark.slow
def test_the_automatic_threshold_is_each_rounds_own_agreement(fresh_project):
    """By default (no --stable-kappa) the rule compares each round's kappa with the round's own
    agreement between the stop set and an augmented view of it: the run stops exactly at the
    first round whose kappa reaches it, or never when none does."""
    from gltui.learn.stopping import cohen_kappa
    from gltui.views.estimates import round_ceilings

    assert main(["run", str(fresh_project), "--oracle", "--quiet", "--stop-when-stable", "1",
                 "--max-rounds", "4", "--device", "cpu"]) == 0
    with Project.open(fresh_project) as project:
        assert project.run_config("main").loop.stable_kappa == 0.0
        rounds = project.store.rounds("main")
        ceilings = round_ceilings(project.store, "main")
        stop = project.store.set_predictions("main", "stop")
        view = project.store.set_predictions("main", "stop-view")
        for r in rounds:
            assert ceilings[r.round] == pytest.approx(cohen_kappa(stop[r.round], view[r.round]))
        fired = [r for r in rounds if r.stop_kappa is not None
                 and r.stop_kappa >= ceilings[r.round]]
        row = project.require_run("main")
        if fired:
            assert row.round == fired[0].round
            assert "own agreement under augmentation" in row.stop_reason
        else:
            assert row.stop_reason == "4 rounds done"


@pytest.mark.parametrize("argv, words", [
    (["run", "{p}", "--stop-when-stable", "0"], "at least 1"),
    (["run", "{p}", "--stop-when-stable", "x"], "whole number"),
    (["run", "{p}", "--stable-kappa", "1.5"], "[0, 1]"),
    (["init", "{tmp}/new", "--data", "npz:{npz}", "--audit", "5000"], "--audit 5000"),
    (["init", "{tmp}/new", "--data", "npz:{npz}", "--audit", "-1"], "negative"),
    (["init", "{tmp}/new", "--data", "npz:{npz}", "--audit", "680"], "twice the seed set"),
])
def test_bad_audit_and_stop_options_exit_2_and_change_nothing(
        argv, words, fresh_project, small_npz, tmp_path, capsys):
    argv = [a.format(p=fresh_project, tmp=tmp_path, npz=small_npz) for a in argv]
    before = tree_digest(fresh_project)
    capsys.readouterr()
    assert main(argv) == 2
    assert words in one_error_line(capsys)
    assert tree_digest(fresh_project) == before
    assert not (tmp_path / "new").exists()


def test_a_project_without_sets_shows_no_estimates(fresh_project, capsys):
    """An oracle project made without --audit has no audit set; before any round it has no stop
    set either: status --json adds nothing to its rounds and says there is no audit set."""
    capsys.readouterr()
    assert main(["status", str(fresh_project), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["audit"] is None and data["items"].get("audit", 0) == 0


def test_the_dashboard_shows_the_estimate_with_its_n_and_kappa(audited, tmp_path):
    import asyncio

    from gltui.tui.app import make_app
    from gltui.tui.widgets.run_panel import RunPanel

    path = tmp_path / "proj"
    shutil.copytree(audited, path)
    with Project.open(path) as project:
        last = project.store.rounds("main")[-1]
        est = audit_estimates(project.store, "main")[last.round]

    async def go():
        app = make_app(path, images="none", show_timing=False, autostart=False,
                       autostart_delay=None)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("d")
            await pilot.pause(0.2)
            text = str(app.screen.query_one(RunPanel).render())
            assert f"accuracy estimate r{last.round}: {est.accuracy:.3f}" in text
            low, high = est.interval
            assert f"audit n={AUDIT}, 95% [{low:.3f}, {high:.3f}] few!" in text
            assert f"test {last.test_accuracy:.3f}" in text
            assert f"kappa r1 {project_kappa(path, 1):.3f} · r2" in text
    asyncio.run(go())


def project_kappa(path, round: int) -> float:
    with Project.open(path) as project:
        return next(r.stop_kappa for r in project.store.rounds("main") if r.round == round)
