"""One rule for learning curves, three views: `gltui status` (its curve table and --json), the
TUI dashboard (Session.curves) and the report (report.collect) show the same numbers for one real
project holding finished rounds with test accuracies, and a round trained but not yet evaluated.
The same project, with one finished round lacking a test accuracy, switches all three views to
validation accuracy together. The gallery has one builder, which the TUI and the report share."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gltui.cli import main
from gltui.outputs.report import collect
from gltui.project import Project
from gltui.project.runs import Knobs
from gltui.run import driver
from gltui.run.events import PhaseStarted
from gltui.tui.session import Session
from gltui.views import curves, galleries


class StopBeforeEvaluate(Exception):
    """Stands for a process killed between training a round and evaluating it."""


@pytest.fixture(scope="module")
def project_path(tmp_path_factory, small_project_template) -> Path:
    """`main` (rde): rounds 0 and 1 finished. `random` (seed 1): round 0 finished, round 1
    trained and then stopped before its evaluation."""
    path = tmp_path_factory.mktemp("results") / "proj"
    shutil.copytree(small_project_template, path)
    assert main(["run", str(path), "--oracle", "--max-rounds", "2", "--candidates", "200",
                 "--quiet"]) == 0

    def stop(event):
        if isinstance(event, PhaseStarted) and event.phase == "evaluate" and event.round == 1:
            raise StopBeforeEvaluate

    with Project.open(path) as project:
        with pytest.raises(StopBeforeEvaluate):
            driver.drive(project, "random", Knobs(strategy="random", max_rounds=3), seed=1,
                       oracle=True, on_event=stop)
        cut = project.store.rounds("random")
        assert [(r.round, r.finished_at is not None) for r in cut] == [(0, True), (1, False)]
        assert cut[1].val_accuracy is not None and cut[1].n_labeled == 40  # trained, not evaluated
    return path


def status_curves(path: Path, capsys) -> tuple[str, dict[str, dict[int, float]]]:
    """(title, {run: {labeled: accuracy}}) read back from `gltui status`'s curve table.

    The table right-aligns every column, so a cell ends where its column's header ends."""
    assert main(["status", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if "by labeled images" in line)
    title, header, rows = lines[at], lines[at + 1], lines[at + 2:]
    names = [(name, header.index(f"{name} (") + len(f"{name} ({strategy})"))
             for name, strategy in (("main", "rde"), ("random", "random"))]
    curves: dict[str, dict[int, float]] = {name: {} for name, _ in names}
    for row in rows:
        if not row.strip() or not row.split()[0].isdigit():
            break
        for name, end in names:
            cell = row[:end].rsplit(" ", 1)[-1] if len(row) >= end else ""
            if cell.strip():
                curves[name][int(row.split()[0])] = float(cell)
    return title, curves


def three_views(path: Path, capsys) -> dict:
    title, status = status_curves(path, capsys)
    session = Session(path, "main")
    try:
        dashboard = session.curves()
    finally:
        session.close()
    with Project.open(path) as project:
        report = collect(project)
    assert {c.metric for c in dashboard} == {report.metric}  # one metric for the whole view
    return {
        "metric": report.metric,
        "title": title,
        "status": status,
        "dashboard": {c.run: dict(c.points) for c in dashboard},
        "report": {c.name: c.curve for c in report.runs},
    }


def rounded(curves: dict[str, dict[int, float]]) -> dict[str, dict[int, float]]:
    """The status table prints 4 decimals."""
    return {run: {n: round(acc, 4) for n, acc in c.items()} for run, c in curves.items()}


def test_status_dashboard_and_report_show_the_same_curves(project_path, capsys):
    views = three_views(project_path, capsys)
    assert views["metric"] == curves.TEST and views["title"].startswith("test accuracy")
    assert views["dashboard"] == views["report"]
    assert views["status"] == rounded(views["report"])

    with Project.open(project_path) as project:
        expected = {name: {r.n_labeled: r.test_accuracy for r in project.store.rounds(name)
                           if r.finished_at is not None} for name in ("main", "random")}
    assert views["report"] == expected
    # The unevaluated round (random at 40 labels) is on no curve, though it has a val accuracy.
    assert set(views["report"]["main"]) == {20, 40} and set(views["report"]["random"]) == {20}

    # status --json lists every round as stored, the unevaluated one too, with the same numbers.
    assert main(["status", str(project_path), "--json"]) == 0
    shown = {r["name"]: r["rounds"] for r in json.loads(capsys.readouterr().out)["runs"]}
    assert [(r["round"], r["test_accuracy"] is None) for r in shown["random"]] == [(0, False),
                                                                                     (1, True)]
    for name, curve in views["report"].items():
        assert {r["n_labeled"]: r["test_accuracy"] for r in shown[name]
                if r["test_accuracy"] is not None} == curve


def test_one_finished_round_without_test_accuracy_switches_every_view_to_validation(
        project_path, tmp_path, capsys):
    path = tmp_path / "proj"
    shutil.copytree(project_path, path)
    with Project.open(path) as project:
        # As a round evaluated before the project had a test split.
        project.store.save_round("random", 0, {"test_accuracy": None})
        expected = {name: {r.n_labeled: r.val_accuracy for r in project.store.rounds(name)
                           if r.finished_at is not None} for name in ("main", "random")}
    views = three_views(path, capsys)
    assert views["metric"] == curves.VALIDATION
    assert views["title"].startswith("validation accuracy")
    assert views["dashboard"] == views["report"] == expected
    assert views["status"] == rounded(expected)


def test_the_tui_and_the_report_build_the_same_gallery(project_path):
    session = Session(project_path, "main")
    try:
        shown = session.gallery(5)
        project = session.project
        same = galleries.gallery(project.store, "main", size=5)
        assert shown == same and shown.round == project.store.finished_passes("main")[-1]
        assert [g.score for g in shown.most] == sorted((g.score for g in shown.most), reverse=True)
        assert [g.score for g in shown.least] == sorted(g.score for g in shown.least)
        entries = shown.most + shown.least
        truth = project.store.true_labels([g.item for g in entries])
        assert [g.truth for g in entries] == truth.tolist()  # the oracle project knows them all
        items, labels = project.store.labeled("main")
        labeled = dict(zip(items.tolist(), labels.tolist()))
        assert [g.label for g in entries] == [labeled.get(g.item) for g in entries]
    finally:
        session.close()
