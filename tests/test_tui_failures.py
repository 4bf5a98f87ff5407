"""The TUI when something fails: the engine worker raises, and a label cannot be written.

In both the person sees one line on screen (a notification), the app keeps running, and nothing
already committed is lost; a label that was not written is not shown as given.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import wait_for

from gltui.project import Project

pytest.importorskip("textual")


def make(path: Path, **kw):
    from gltui.tui.app import make_app

    return make_app(path, images="halfcell", show_timing=False, autostart=False,
                    autostart_delay=None, **kw)


def notifications(app) -> list[tuple[str, str, str]]:
    """(title, message, severity) of the notifications the app shows (its toasts)."""
    return [(n.title, n.message, n.severity) for n in app._notifications]


def db_labels(path: Path) -> dict[int, int]:
    with Project.open(path) as project:
        items, labels = project.store.labeled("main")
        return dict(zip(items.tolist(), labels.tolist()))


def first_queue(path: Path) -> list[int]:
    with Project.open(path) as project:
        return [e.item for e in project.store.queue("main", 1)]


def test_engine_worker_failure_is_one_line_on_screen_and_the_app_keeps_running(
        label_project, monkeypatch):
    from gltui.run import engine

    def broken(self):
        raise RuntimeError("the engine broke here\nTraceback-like second line")

    monkeypatch.setattr(engine.Runner, "drive", broken)
    queue = first_queue(label_project)

    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            app.start_drive()  # what r, o or a finished queue do
            await wait_for(pilot, lambda: app.live.worker == "failed", 60, "the worker to fail")
            assert app.live.error == "the engine broke here"
            await pilot.pause(0.2)
            # One line, the error's first: no traceback reaches the person.
            assert ("The engine stopped", "the engine broke here", "error") in notifications(app)
            # The app keeps running: a label key still commits.
            assert app.is_running and app.screen.id == "labeling"
            await pilot.press("4")
            assert db_labels(label_project)[queue[0]] == 4
    asyncio.run(go())


def test_a_label_that_cannot_be_written_is_shown_not_saved_and_nothing_is_lost(
        label_project, monkeypatch):
    """Another process holds the database's write lock past the busy timeout (here 0.2 s): the
    key's label is not written, the person is told in one line, the image stays pending under
    the cursor; labels given before are all there; the same key after the lock is released
    commits."""
    from gltui.store import connection

    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.2)
    queue = first_queue(label_project)

    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            await pilot.press("3")  # committed
            assert db_labels(label_project)[queue[0]] == 3
            # a second connection, as another process has
            with Project.open(label_project) as holder:
                with holder.store.transaction():  # holds the write lock
                    await pilot.press("5")
                    await pilot.pause(0.2)
                    assert app.is_running
                    told = [(t, m) for t, m, severity in notifications(app) if severity == "error"]
                    assert len(told) == 1 and told[0][0] == "Not saved", told
                    message = told[0][1]
                    assert message.startswith("The label was not saved: ") and \
                        "write lock" in message and "\n" not in message, message
                    assert screen.shown_item == queue[1]  # still on the image it could not label
                    assert [e.status for e in screen.entries][:2] == ["labeled", "pending"]
            labels = db_labels(label_project)
            assert labels[queue[0]] == 3 and queue[1] not in labels  # nothing lost, nothing faked
            await pilot.press("5")  # the lock is free again: the same key commits
            assert db_labels(label_project)[queue[1]] == 5
            assert screen.shown_item == queue[2]
    asyncio.run(go())


def db_dump(path: Path) -> list[str]:
    """The whole database as SQL text: what a refused write must leave as it was."""
    import sqlite3

    conn = sqlite3.connect(path / "gltui.db")
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


async def _open_review_page(pilot, app) -> None:
    """The review page with at least one confident guess on it (threshold lowered as needed)."""
    await pilot.press("e")
    review = app.screen
    assert type(review).__name__ == "ReviewScreen"
    while not review.page and review.threshold > 0.06:
        await pilot.press("minus")
    assert review.page, "no guess on the review page"


async def _wrong_guess_key(pilot, app) -> None:
    """A digit that is not the first review entry's top guess: the fix key."""
    await pilot.press(str((app.screen.page[0].guesses[0][0] + 1) % 10))


# action: (what the screen calls the write, keys before the lock, keys under it)
WRITE_ACTIONS = {
    "skip": ("skip", [], ["s"]),
    "unsure": ("unsure mark", [], ["n"]),
    "undo": ("undo", ["3"], ["u"]),
    "history edit": ("new label", ["3", "h"], ["5"]),
    "new class": ("new class", ["c", *"smudge"], ["enter"]),
    "review fix": ("label", [_open_review_page], [_wrong_guess_key]),
    "review page": ("page", [_open_review_page], ["enter"]),
}


# The fast lane keeps one (the new class: its prompt comes back); the full suite runs them all.
@pytest.mark.parametrize("action", [
    a if a == "new class" else pytest.param(a, marks=pytest.mark.slow) for a in WRITE_ACTIONS])
def test_every_write_action_under_a_held_write_lock_is_one_line_and_changes_nothing(
        label_project, monkeypatch, action):
    """Another process holds the write lock past the busy timeout: each write action of the
    screens (label has its own test above; the check page's fix is in test_tui_check) shows one
    line in place, writes nothing (the database dumped before and after is the same) and the app
    goes on; with the lock released, the same keys write."""
    from gltui.store import connection

    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.2)
    what, before, under = WRITE_ACTIONS[action]

    async def press(pilot, app, keys) -> None:
        for key in keys:
            await (key(pilot, app) if callable(key) else pilot.press(key))

    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            await press(pilot, app, before)
            screen = app.screen
            dump = db_dump(label_project)
            with Project.open(label_project) as holder:
                with holder.store.transaction():  # holds the write lock
                    await press(pilot, app, under)
                    await pilot.pause(0.2)
                    assert app.is_running
                    told = [(t, msg) for t, msg, sev in notifications(app) if sev == "error"]
                    assert len(told) == 1 and told[0][0] == "Not saved", told
                    message = told[0][1]
                    assert message.startswith(f"The {what} was not saved: ") and \
                        "write lock" in message and "\n" not in message, message
            assert db_dump(label_project) == dump  # nothing written, nothing half-written
            if action == "new class":  # the prompt is back with the name typed
                assert type(app.screen).__name__ == "ClassNamePrompt"
                assert app.screen.query_one("Input").value == "smudge"
            else:
                assert app.screen is screen  # where the keys left it
            await press(pilot, app, under)  # the lock is free again: the same keys write
            await pilot.pause(0.1)
            assert db_dump(label_project) != dump
    asyncio.run(go())
