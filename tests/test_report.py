"""`gltui report` and `gltui experiment`: the curve arithmetic on hand-worked numbers, then a real
two-strategy, two-seed experiment on the small project (killed once and resumed) and its report."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import fault_env, gltui_command

from gltui.cli import main
from gltui.project import Project
from gltui.store import RoundRow
from gltui.views.curves import run_curve
from gltui.views.savings import CurvePoint, class_shares, group_curves, headline, mean_std, savings

ROOT = Path(__file__).resolve().parents[1]
RUNS = ["rde-s0", "random-s0", "rde-s1"]


# ---- pure computations, worked by hand ---------------------------------------------------------

RDE = [{20: 0.50, 40: 0.70, 80: 0.90}, {20: 0.60, 40: 0.80, 80: 0.94}]
RANDOM = [
    {20: 0.50, 40: 0.60, 80: 0.72, 160: 0.90, 320: 0.99},
    {20: 0.60, 40: 0.70, 80: 0.74, 160: 0.92},
    {20: 0.70, 40: 0.80, 80: 0.76},  # this seed stopped at 80
]


def grouped():
    return group_curves([("rde", c) for c in RDE] + [("random", c) for c in RANDOM])


def test_mean_and_sample_std_per_strategy_and_budget():
    groups = grouped()
    assert list(groups) == ["rde", "random"]
    rde = {p.budget: p for p in groups["rde"]}
    assert [p.budget for p in groups["rde"]] == [20, 40, 80]
    # rde at 20: (0.5 + 0.6) / 2 = 0.55; sample std sqrt((0.05² + 0.05²) / 1) = 0.0707107
    assert rde[20].mean == pytest.approx(0.55) and rde[20].std == pytest.approx(0.0707107, abs=1e-6)
    assert rde[80].mean == pytest.approx(0.92) and rde[80].std == pytest.approx(0.0282843, abs=1e-6)
    rnd = {p.budget: p for p in groups["random"]}
    # random at 20: 0.5, 0.6, 0.7 -> mean 0.6, std sqrt((0.01 + 0 + 0.01) / 2) = 0.1
    assert (rnd[20].mean, rnd[20].n) == (pytest.approx(0.6), 3)
    assert rnd[20].std == pytest.approx(0.1)
    # random at 80: 0.72, 0.74, 0.76 -> 0.74 ± 0.02
    assert rnd[80].mean == pytest.approx(0.74) and rnd[80].std == pytest.approx(0.02)
    # at 160 only two seeds got there: 0.90, 0.92 -> 0.91 ± 0.0141421, n = 2
    assert (rnd[160].mean, rnd[160].n) == (pytest.approx(0.91), 2)
    assert rnd[160].std == pytest.approx(0.0141421, abs=1e-6)
    assert (rnd[320].mean, rnd[320].std, rnd[320].n) == (pytest.approx(0.99), 0.0, 1)
    assert mean_std([0.3]) == (pytest.approx(0.3), 0.0)
    with pytest.raises(ValueError):
        mean_std([])


def test_savings_factor_per_random_budget_is_read_off_the_curve():
    groups = grouped()
    rows = {s.random_budget: s for s in savings(groups["rde"], groups["random"])}
    # random@20 = 0.60: rde@20 = 0.55 falls short, rde@40 = 0.75 reaches it; the crossing is a
    # quarter of the way in log2 labels: 20 * 2**0.25 = 23.78 labels, factor 20 / 23.78
    assert rows[20].guided_budget == 40 and not rows[20].at_most
    assert rows[20].guided_labels == pytest.approx(20 * 2 ** 0.25)
    assert rows[20].factor == pytest.approx(20 / (20 * 2 ** 0.25))
    # random@40 = 0.70: three quarters of the way from 20 to 40
    assert rows[40].guided_labels == pytest.approx(20 * 2 ** 0.75)
    # random@80 = 0.74: 0.95 of the way: 38.6 labels, factor 2.07 (the grid alone said 2)
    assert rows[80].factor == pytest.approx(80 / (20 * 2 ** 0.95))
    assert rows[80].guided_accuracy == pytest.approx(0.75)
    # random@160 = 0.91: rde@40 = 0.75, rde@80 = 0.92: (0.91 - 0.75) / 0.17 of the way
    assert rows[160].guided_budget == 80
    assert rows[160].guided_labels == pytest.approx(40 * 2 ** (0.16 / 0.17))
    # random@320 = 0.99: rde never gets there
    assert (rows[320].guided_budget, rows[320].factor) == (None, None)
    text = headline("rde", list(rows.values()))
    assert "does not reach random's mean accuracy at 320 labels (99.00 %)" in text
    assert "largest random budget it matches is 160 (with about 77 labels, savings factor 2.1)" \
        in text
    text = headline("rde", [rows[b] for b in (20, 40, 80, 160)])
    assert text.startswith("rde reaches random's mean accuracy at 160 labels (91.00 %) with "
                           "about 77 labels (read off its curve between 40 and 80"), text
    assert text.endswith("savings factor 2.1")


def test_savings_counts_equal_accuracy_as_reached_and_handles_no_hit():
    random = [CurvePoint(100, 0.8, 0.0, 1), CurvePoint(200, 0.9, 0.0, 1)]
    guided = [CurvePoint(25, 0.8, 0.0, 1), CurvePoint(50, 0.85, 0.0, 1)]
    rows = savings(guided, random)
    assert [(r.guided_budget, r.factor, r.at_most) for r in rows] == [(25, 4.0, True),
                                                                       (None, None, False)]
    text = headline("rde", rows[:1])
    assert "with at most 25 labels, its smallest budget" in text and text.endswith(">= 4")
    text = headline("rde", savings([CurvePoint(25, 0.1, 0, 1)], random))
    assert "does not reach" in text and "matches" not in text


def test_savings_read_both_curves_alike_so_a_dip_is_not_a_saving():
    """The demo on the AVX-512 EPYC (2026-12-07, README): random's 640-label accuracy (0.966) is
    below its 320-label one, so its last 320 labels bought nothing. Read off random's own curve
    it first had 0.966 at 160 * 2**(9/13) = 258.5 labels; margin had it at 160: factor 1.6, not
    the 640 / 160 = 4 that the old reading printed. Two identical curves read 1 everywhere."""
    budgets = [20, 40, 80, 160, 320, 640]
    guided = [CurvePoint(b, a, 0.0, 1) for b, a in
              zip(budgets, [0.415, 0.747, 0.944, 0.966, 0.971, 0.975])]
    random = [CurvePoint(b, a, 0.0, 1) for b, a in
              zip(budgets, [0.415, 0.747, 0.899, 0.957, 0.970, 0.966])]
    last = savings(guided, random)[-1]
    assert last.random_labels == pytest.approx(160 * 2 ** (0.009 / 0.013))
    assert (last.guided_labels, last.guided_from) == (160.0, 80)
    assert last.factor == pytest.approx(160 * 2 ** (0.009 / 0.013) / 160)
    text = headline("margin", [last])
    assert "(96.60 %), which random itself first had at about 259 labels, with 160 labels" in text
    assert text.endswith("savings factor 1.6")
    assert [s.factor for s in savings(random, random)] == [1.0] * 6
    # a fixed schedule (20, 30, 40): the crossing is named between its own grid points
    fixed = [CurvePoint(20, 0.5, 0, 1), CurvePoint(30, 0.7, 0, 1), CurvePoint(40, 0.8, 0, 1)]
    base = [CurvePoint(20, 0.5, 0, 1), CurvePoint(30, 0.55, 0, 1), CurvePoint(40, 0.6, 0, 1)]
    assert "between 20 and 30" in headline("rde", savings(fixed, base))


def round_row(**values) -> RoundRow:
    """A RoundRow with the given fields, every other one None."""
    return RoundRow(**{**{f.name: None for f in dataclasses.fields(RoundRow)}, **values})


def test_run_curve_uses_finished_rounds_and_the_chosen_metric():
    rounds = [round_row(**r) for r in [
        {"round": 0, "n_labeled": 20, "val_accuracy": 0.5, "test_accuracy": 0.4,
         "finished_at": 1.0},
        {"round": 1, "n_labeled": 40, "val_accuracy": 0.6, "test_accuracy": 0.55,
         "finished_at": 2.0},
        {"round": 2, "n_labeled": 40, "val_accuracy": 0.7, "test_accuracy": 0.65,
         "finished_at": 3.0},
        {"round": 3, "n_labeled": 80, "val_accuracy": 0.8, "test_accuracy": None,
         "finished_at": None},
    ]]
    assert run_curve(rounds, "test") == {20: 0.4, 40: 0.65}  # the later round at 40 stands
    assert run_curve(rounds, "validation") == {20: 0.5, 40: 0.7}


def test_class_shares():
    shares = class_shares([[1, 3, 0], [0, 0, 0], [2, 2, 4]])
    assert shares.tolist() == [[0.25, 0.75, 0.0], [0.0, 0.0, 0.0], [0.25, 0.25, 0.5]]


# ---- a real experiment: killed once, resumed, reported -----------------------------------------


def experiment_args(project: Path, report: Path, strategies: str, seeds: str, *extra: str):
    return ["experiment", str(project), "--strategies", strategies, "--seeds", seeds,
            "--max-rounds", "2", "--candidates", "200", "--report", str(report), "--quiet", *extra]


FIRST = ("rde,random", "0")  # the pair, killed once and resumed
SECOND = ("rde", "1")  # a second rde seed, so rde has a mean ± std band


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, small_project_template):
    """rde-s0, random-s0 and rde-s1, two rounds each (20 and 40 labels), 200 candidates scored a
    round. The first command runs as a real process SIGKILLed at the start of its first scoring
    pass, then the same command finishes the job; a second command adds rde-s1; then
    `gltui report` reports the whole project. (Three runs, not four: the test stays ~1 min on
    two busy cores.)"""
    base = tmp_path_factory.mktemp("experiment")
    project, report = base / "proj", base / "report"
    shutil.copytree(small_project_template, project)
    killed = subprocess.run(
        [*gltui_command(fault_env("phase:score")),
         *experiment_args(project, base / "first", *FIRST)],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **fault_env("phase:score")},
    )
    assert killed.returncode == -9, killed.stderr
    assert not (base / "first" / "report.md").exists()
    assert main(experiment_args(project, base / "first", *FIRST)) == 0
    assert main(experiment_args(project, base / "second", *SECOND)) == 0
    assert main(["report", str(project), "--out", str(report)]) == 0
    return project, report


@pytest.mark.slow
def test_experiment_resumes_and_runs_every_strategy_and_seed(experiment, capsys):
    project_path, report = experiment
    with Project.open(project_path) as project:
        rows = {r.name: r for r in project.store.runs()}
        assert set(rows) == {"main", *RUNS}
        curves = {}
        for name in RUNS:
            strategy, seed = name.rsplit("-s", 1)
            row = rows[name]
            assert (row.strategy, row.seed, row.phase) == (strategy, int(seed), "done")
            rounds = project.store.rounds(name)
            assert [(r.round, r.n_labeled) for r in rounds] == [(0, 20), (1, 40)]
            assert all(r.test_accuracy is not None for r in rounds)
            assert project.store.count_labeled(name) == 40
            assert project.run_config(name).score.candidates == 200
            curves[name] = {r.n_labeled: r.test_accuracy for r in rounds}
        assert project.store.duplicate_active_labels() == 0
        assert rows["main"].phase == "train" and project.store.rounds("main") == []
        # Same seed, same seed set and training seed: round 0 is the same model for rde and
        # random, though rde-s0's was trained before the kill and random-s0's after the resume.
        assert curves["rde-s0"][20] == curves["random-s0"][20]
        rde0 = set(project.store.labeled("rde-s0")[0].tolist())
        rnd0 = set(project.store.labeled("random-s0")[0].tolist())
        rde1 = set(project.store.labeled("rde-s1")[0].tolist())
        assert len(rde0 & rnd0) >= 20 and rde0 != rnd0  # shared seed set, different choices
        assert len(rde0 & rde1) < 20  # another seed, another seed set
    # The same command again: everything is done, nothing new is trained.
    first = report.parent / "first"
    capsys.readouterr()
    assert main(experiment_args(project_path, first, *FIRST)) == 0
    out = capsys.readouterr().out
    assert out.count("(goes on if its limit was raised)") == 2
    assert not re.search(r"round +\d+:", out)
    # The experiment's own report covers its runs only.
    text = (first / "report.md").read_text()
    assert "| rde-s0 |" in text and "| random-s0 |" in text and "rde-s1" not in text


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_report_files_runs_table_and_figures(experiment):
    project_path, report = experiment
    text = (report / "report.md").read_text()
    for name in RUNS:
        assert f"| {name} |" in text
    assert "**test** accuracy" in text
    for png in ("learning_curves.png", "class_distribution.png", "most_confusing.png",
                "least_confusing.png"):
        assert f"]({png})" in text
        width, height = png_size(report / png)
        assert width >= 300 and height >= 200
        assert (report / png).stat().st_size > 10_000  # real content, not an empty canvas

    # The accuracy table: one row per budget (20 and 40), the store's numbers in every run column.
    table = text.split("per labeled count")[1].split("\n\n")[1].splitlines()
    head = [c.strip() for c in table[0].strip("|").split("|")]
    assert head == ["labeled", *RUNS, "rde mean ± std"]  # random has one run: no band
    body = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    assert [row[0] for row in body] == ["20", "40"]
    with Project.open(project_path) as project:
        for row in body:
            for name, cell in zip(RUNS, row[1:]):
                acc = {r.n_labeled: r.test_accuracy for r in project.store.rounds(name)}
                assert cell == f"{100 * acc[int(row[0])]:.2f}"
        # The mean ± std cells agree with the run columns.
        for row in body:
            rde = [float(row[1 + RUNS.index(name)]) for name in ("rde-s0", "rde-s1")]
            mean, std = (float(v) for v in re.findall(r"[\d.]+", row[-1]))
            assert mean == pytest.approx(sum(rde) / 2, abs=0.006)
            assert std == pytest.approx(abs(rde[0] - rde[1]) / math.sqrt(2), abs=0.006)
        # Galleries: the first rde run's latest finished pass (round 0: round 1 ended the run).
        assert project.store.finished_passes("rde-s0") == [0]
    assert "Run rde-s0, round 0" in text and "200 images scored" in text
    assert "## Label savings" in text and "| 40 |" in text.split("## Label savings")[1]


def test_report_command_and_chosen_round(experiment, tmp_path, capsys):
    project_path, _ = experiment
    out = tmp_path / "r"
    assert main(["report", str(project_path), "--out", str(out), "--round", "0"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out / 'report.md'}"
    assert (out / "most_confusing.png").stat().st_size > 10_000
    text = (out / "report.md").read_text()
    assert "| main |" not in text and "Not shown (no finished round yet): main" in text
    for name in RUNS:
        assert f"| {name} |" in text


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_bad_input_exits_2_with_one_line(experiment, fresh_project, tmp_path, capsys):
    project_path, _ = experiment
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    capsys.readouterr()
    assert main(["report", str(fresh_project), "--out", str(tmp_path / "o")]) == 2
    assert "no run has a finished round" in error_line(capsys)
    assert not (tmp_path / "o").exists()
    assert main(["report", str(project_path), "--out", str(a_file)]) == 2
    assert "is a file" in error_line(capsys)
    assert main(["report", str(project_path), "--out", str(a_file / "sub")]) == 2
    assert "cannot write the report" in error_line(capsys)
    assert main(["report", str(project_path), "--out", str(tmp_path / "o"), "--round", "7"]) == 2
    assert "no finished scoring pass" in error_line(capsys)
    assert main(["experiment", str(fresh_project), "--strategies", "rde,guess",
                 "--report", str(tmp_path / "o")]) == 2
    assert "guess" in error_line(capsys)
    # A protocol change under existing runs is refused before anything changes.
    with Project.open(project_path) as before:
        runs_before = [(r.name, r.config, r.phase) for r in before.store.runs()]
    assert main(experiment_args(project_path, tmp_path / "o2", *FIRST, "--profile", "quick")) == 2
    assert "drop --profile" in error_line(capsys)
    with Project.open(project_path) as after:
        assert [(r.name, r.config, r.phase) for r in after.store.runs()] == runs_before
    assert not (tmp_path / "o2").exists()


def test_headless_modules_import_no_textual_and_no_pyplot():
    code = ("import sys, gltui.outputs.report, gltui.run.experiment; "
            "assert 'textual' not in sys.modules, 'textual'; "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot'")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
