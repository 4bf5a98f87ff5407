"""The TUI driven by Pilot: labels, skips and undos land in the store; screens switch; a finished
queue retrains in the background and the next queue appears; the oracle; quitting mid-training.

Projects come from the small npz project (tests/conftest.py): round 0 is trained once per session
and copied per test, so only the tests about the worker train anything.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from conftest import wait_for

from gltui.project import Project

pytest.importorskip("textual")


def make(path: Path, **kw):
    from gltui.tui.app import make_app

    kw.setdefault("images", "halfcell")
    kw.setdefault("show_timing", False)
    kw.setdefault("autostart_delay", None)
    return make_app(path, **kw)


def db_state(path: Path, round: int = 1):
    with Project.open(path) as project:
        queue = project.store.queue("main", round)
        items, labels = project.store.labeled("main")
        return queue, dict(zip(items.tolist(), labels.tolist())), project.summary("main")


def test_label_keys_commit_each_label(label_project):
    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert screen.id == "labeling"
            queue, _, _ = db_state(label_project)
            assert screen.shown_item == queue[0].item  # most confusing first
            assert [e.rank for e in screen.entries] == sorted(e.rank for e in screen.entries)
            await pilot.press("3")
            # committed the moment the key was pressed: visible to another connection at once
            q, labels, _ = db_state(label_project)
            assert labels[queue[0].item] == 3 and q[0].status == "labeled"
            await pilot.press("7")
            q, labels, summary = db_state(label_project)
            assert labels[queue[1].item] == 7
            assert summary.n_labeled == 22
            assert screen.shown_item == queue[2].item
    asyncio.run(go())


def test_skip_and_undo(label_project):
    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            queue, _, _ = db_state(label_project)
            await pilot.press("s")
            q, _, _ = db_state(label_project)
            assert q[0].status == "skipped" and screen.shown_item == queue[1].item
            await pilot.press("5")
            q, labels, _ = db_state(label_project)
            assert labels[queue[1].item] == 5
            await pilot.press("u")  # undoes the label: pending again, the cursor back on it
            q, labels, _ = db_state(label_project)
            assert queue[1].item not in labels and q[1].status == "pending"
            assert screen.shown_item == queue[1].item
            await pilot.press("backspace")  # undoes the skip
            q, _, summary = db_state(label_project)
            assert q[0].status == "pending" and summary.n_labeled == 20
            assert screen.shown_item == queue[0].item
            await pilot.press("u")  # nothing left to undo: a notice, no change
            assert db_state(label_project)[2].n_labeled == 20
    asyncio.run(go())


def test_navigation_grid_and_class_picker(label_project):
    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            queue, _, _ = db_state(label_project)
            await pilot.press("right", "right")
            assert screen.shown_item == queue[2].item
            await pilot.press("left")
            assert screen.shown_item == queue[1].item
            await pilot.press("v")  # grid: ten at a time, the same cursor
            assert screen.grid_view and screen.query_one("#label-grid").display
            await pilot.press("down")  # one grid row is five images
            assert screen.cursor == 6
            await pilot.press("4")
            _, labels, _ = db_state(label_project)
            assert labels[queue[6].item] == 4
            await pilot.press("slash")  # the class list, filtered by typing
            await pilot.press("9", "enter")
            _, labels, _ = db_state(label_project)
            assert labels[queue[7].item] == 9  # the cursor had moved on to the next pending
            await pilot.press("v")
            assert not screen.grid_view
    asyncio.run(go())


def test_screen_switches_and_help(label_project):
    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("d")
            assert app.screen.id == "dashboard"
            curve = app.screen.query_one("CurvePlot")
            assert [len(c.points) for c in curve.curves] == [1]
            await pilot.press("g")
            assert app.screen.id == "gallery"
            gallery = app.session.gallery(20)
            shown = [t.item for t in app.screen.query_one("#most").query("Thumbnail")]
            assert shown == [g.item for g in gallery.most]
            assert gallery.most[0].score >= gallery.most[-1].score >= gallery.least[-1].score
            assert gallery.least[0].score <= gallery.least[-1].score
            await pilot.press("question_mark")
            assert type(app.screen).__name__ == "HelpScreen"
            await pilot.press("escape")
            assert app.screen.id == "gallery"
            await pilot.press("l")
            assert app.screen.id == "labeling"
    asyncio.run(go())


def test_images_none_draws_text(label_project):
    async def go():
        app = make(label_project, images="none")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            image = app.screen.query_one("#big-image")
            assert type(image).__name__ == "TextImage"
            text = str(image.render())
            assert "@" in text or "#" in text
    asyncio.run(go())


def test_round_completes_in_background(label_project):
    """Label the whole queue by keys; the worker retrains and rescores while the UI answers;
    the next queue appears on the labeling screen."""
    async def go():
        app = make(label_project, autostart_delay=0)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            for _ in range(19):
                await pilot.press("1")
            await pilot.press("s")
            # started (a fast machine may finish the tiny round before the key press returns)
            await wait_for(pilot, lambda: app.engine_thread is not None, 10, "the worker")
            await pilot.press("d")  # the UI stays responsive while the engine works
            assert app.screen.id == "dashboard"
            await pilot.press("l")
            await wait_for(pilot, lambda: app.live.worker == "idle" and screen.round == 2,
                           120, "the next queue")
            # the exponential schedule: as many as are labeled (20 seed + 19; one was skipped)
            assert len(screen.entries) == 39 and screen.pending() == 39
            assert screen.shown_item == screen.entries[0].item
            await pilot.press("d")
            assert [len(c.points) for c in app.screen.query_one("CurvePlot").curves] == [2]
    asyncio.run(go())
    queue, labels, summary = db_state(label_project, 2)
    assert summary.phase == "label" and summary.round == 2 and summary.n_labeled == 39
    assert len(queue) == 39 and all(e.guesses for e in queue)


def test_oracle_labels_then_stops_at_next_queue(label_project):
    def run_state():  # the store's word, not the UI's: its events may lag a busy worker by a round
        summary = db_state(label_project)[2]
        return summary.round, summary.phase

    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("o")  # the oracle labels this queue and the run goes on
            assert app.live.oracle and app.live.worker == "running"
            await wait_for(pilot, lambda: run_state() != (1, "label"), 30, "training")
            await pilot.press("o")  # off again: stop at the next label phase
            round, phase = run_state()  # at a label phase the engine may have read the switch
            stops = {round, round + 1} if phase == "label" else {round + 1}
            await wait_for(pilot, lambda: app.live.worker == "idle", 120, "the next label phase")
            assert app.screen.id == "labeling" and app.screen.round in stops
            return app.screen.round
    stopped = asyncio.run(go())
    _, _, summary = db_state(label_project, stopped)
    assert (summary.phase, summary.round) == ("label", stopped)
    assert summary.n_labeled == 20 * 2 ** (stopped - 1)  # every queue before it, labeled


def test_quit_mid_training_cancels_and_resumes(fresh_project):
    from gltui.config import Config
    from gltui.project import run_lock

    # a round that would train for ever: only q stops it
    with Project.open(fresh_project) as project:
        config = Config.from_json(project.require_run("main").config)
        config.train.max_epochs = config.train.patience = 10_000
        project.store.set_run_config("main", config.to_json(), {"max_epochs": 10_000})

    async def go():
        app = make(fresh_project)  # round 0 trains at once (autostart)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.live.epoch >= 1, 60, "the first epoch")
            await pilot.press("q")  # stops after the epoch under way (maybe done already)
            assert app.live.worker in ("stopping", "idle")
            await wait_for(pilot, lambda: not app.is_running, 60, "the app to exit")
        return app
    started = time.monotonic()
    app = asyncio.run(go())
    assert time.monotonic() - started < 90
    assert app.return_code == 0
    with Project.open(fresh_project) as project:
        assert project.require_run("main").phase == "train"  # resumable where it stopped
        assert project.train_checkpoint_path("main", 0).exists()
        with run_lock(project, "main"):  # nothing holds the lock any more
            pass


def test_run_app_refuses_a_locked_run(label_project, capsys):
    from gltui.project import run_lock
    from gltui.tui.app import run_app

    with Project.open(label_project) as project:
        with run_lock(project, "main"):
            code = run_app(label_project, images="none")
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "another process" in err


def test_run_app_bad_project_and_run(tmp_path, label_project, capsys):
    from gltui.tui.app import run_app

    assert run_app(tmp_path / "nothing", images="none") == 2
    assert run_app(label_project, run="nope", images="none") == 2
    assert run_app(label_project, images="bogus") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("gltui") or "--images" in line for line in lines)
