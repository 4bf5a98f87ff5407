"""Screens and keys that tell the truth (issue 25), driven by Pilot on real sample digits:

- the provisional queue (offered while a round trains) is a seeded random draw, not file order,
  and shows the last round model's guesses (stored by the round's evaluation: the call the
  engine makes is emulated here with the real round model, `store_guesses`);
- Enter with no guess says so in one line and writes nothing;
- a key acts on the image that was on screen when it was pressed: a key pressed before a new
  queue replaced the screen labels the image the person saw, never the new one; a key pressed
  twice before the next image was drawn does nothing the second time;
- after `gltui classes` changes the list, keys are positions among the classes in use and every
  panel reads the new names;
- no oracle offer without true labels, no validation wording without a validation split;
- the history holds every label, audit labels and unsure marks included, and says which is which;
- q and ctrl+c leave at once while a round trains, and say what was saved.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import wait_for

from gltui.cli import main
from gltui.project import Labeler, Project, run_lock

pytest.importorskip("textual")

from tests.test_tui_failures import notifications  # noqa: E402


def make(path, **kw):
    from gltui.tui.app import make_app

    kw.setdefault("images", "halfcell")
    kw.setdefault("show_timing", False)
    kw.setdefault("autostart", False)
    kw.setdefault("autostart_delay", None)
    return make_app(path, **kw)


def store_guesses(path: Path, round: int) -> np.ndarray:
    """What the engine's evaluation of `round` stores (the one call asked of the engine): the
    round model's probabilities on labeler.offered_items, through Store.save_guesses."""
    import torch

    from gltui.learn.train import predict_proba
    from gltui.outputs.roundmodel import load_round
    from gltui.project.labeler import offered_items

    with Project.open(path) as project:
        items = offered_items(project, "main", round)
        model = load_round(project, "main", round, torch.device("cpu"))
        probs = predict_proba(model, np.asarray(project.pixels[items]), torch.device("cpu"), 256)
        project.store.save_guesses("main", round, items, probs)
    return items


@pytest.fixture(scope="module")
def person_template(tmp_path_factory, digits):
    """A person's project (300 digits, no labels, no validation split, an audit set of 20):
    the seed set labeled by a person, round 0 trained, its queue waiting, the round-0 model's
    guesses stored on what the TUI offers next; three audit labels."""
    from gltui.run import engine

    x, y = digits
    root = tmp_path_factory.mktemp("truth")
    np.savez(root / "pool.npz", x=x[:300])
    path = root / "proj"
    assert main(["init", str(path), "--data", f"npz:{root / 'pool.npz'}", "--classes",
                 ",".join(str(d) for d in range(10)), "--profile", "tiny", "--k", "2",
                 "--audit", "20", "--semi", "off"]) == 0
    with Project.open(path) as project:
        labeler = Labeler(project, "main")
        for e in labeler.queue():
            labeler.label(e.item, int(y[e.item]))
        for item in labeler.audit_queue()[:3]:
            labeler.label_audit(item, int(y[item]))
        with run_lock(project, "main"):
            assert engine.Runner(project, "main", engine.RunOptions(device="cpu")).drive() \
                == "label"
    store_guesses(path, 0)
    return path


@pytest.fixture
def person(tmp_path, person_template) -> Path:
    dest = tmp_path / "person"
    shutil.copytree(person_template, dest)
    return dest


def training(path: Path) -> None:
    """The run as while round 1 trains: the TUI then offers the provisional queue."""
    with Project.open(path) as project:
        project.store.set_phase("main", "train", 1)


def text(widget) -> str:
    """What a widget shows, as plain text (a rich Table too)."""
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(widget.content)
    return out.getvalue()


async def drawn(pilot, screen) -> None:
    """Until the image under the cursor has been painted (the key rule's clock)."""
    from gltui.tui.on_screen import same_image

    await wait_for(pilot, lambda: screen.on_screen.drawn_at and same_image(
        screen.on_screen.drawn_at[-1][1], screen.current), 10, "the image drawn")


# ---- the provisional queue -----------------------------------------------------------------------


def test_provisional_queue_is_a_seeded_random_draw_with_the_last_models_guesses(person):
    from gltui.project.labeler import random_draw
    from gltui.tui.widgets.guess_panel import GuessPanel

    training(person)
    with Project.open(person) as project:
        store = project.store
        audit_todo = store.audit_queue()
        queued = np.asarray([e.item for e in store.queue("main", 1)])
        draw = random_draw(store, "main", 0, 200, taken=queued).tolist()
        _, stored = store.guesses("main")

    async def go():
        app = make(person)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("l")
            screen = app.screen
            assert screen.provisional
            entries = list(screen.entries)
            await drawn(pilot, screen)
            panel = text(screen.query_one(GuessPanel))
            return entries, panel
    entries, panel = asyncio.run(go())
    audit = [e.item for e in entries if e.audit]
    pool = [e.item for e in entries if not e.audit]
    assert audit == audit_todo  # audit images first, in the set's drawn order
    assert pool == draw[: len(pool)] and len(pool) > 100
    assert pool != sorted(pool)  # not file-name (id) order
    assert all(e.guesses and e.guessed_by == 0 for e in entries)
    assert all(e.guesses[0][0] == stored[e.item][0][0] for e in entries)
    assert "round 0 model's guesses" in panel and "audit image" in panel
    # Seeded: the same draw in another session; another round draws another order.
    with Project.open(person) as project:
        assert random_draw(project.store, "main", 0, 200, taken=queued).tolist() == draw
        assert random_draw(project.store, "main", 1, 200, taken=queued).tolist() != draw


def test_enter_without_a_guess_says_so_and_writes_nothing(person):
    training(person)
    with Project.open(person) as project:
        project.store.conn.execute("DELETE FROM guesses")

    async def go():
        app = make(person)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("l")
            screen = app.screen
            await drawn(pilot, screen)
            entry = screen.current
            assert screen.provisional and not entry.guesses
            conn = app.session.project.store.conn
            commits = []
            conn.set_trace_callback(lambda sql: commits.append(sql) if "COMMIT" in sql else 0)
            await pilot.press("enter")
            await pilot.pause()
            conn.set_trace_callback(None)
            said = [n for n in notifications(app) if "No guess" in n[1]]
            return entry, said, commits, screen.current
    entry, said, commits, after = asyncio.run(go())
    assert len(said) == 1 and "\n" not in said[0][1] and "0-9 or /" in said[0][1]
    assert commits == [] and after is entry and entry.status == "pending"


# ---- a key acts on the image on screen when it was pressed ---------------------------------------


def test_a_key_pressed_before_a_new_queue_was_drawn_labels_the_image_that_was_on_screen(person):
    from textual import events

    from gltui.run.events import QueueReady
    from gltui.tui.messages import EngineEvent

    training(person)

    async def go():
        app = make(person)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("l")
            screen = app.screen
            await drawn(pilot, screen)
            seen = screen.current
            assert screen.provisional and seen.audit
            key = events.Key("3", "3")  # pressed now, while `seen` is on screen...
            with Project.open(person) as project:  # ...and the new queue arrives
                project.store.set_phase("main", "label", 1)
            app.post_message(EngineEvent(QueueReady("main", 1, 20)))
            await pilot.pause()
            assert not screen.provisional  # the queue replaced the provisional images
            first = screen.current
            app.post_message(key)  # ...handled only now
            await pilot.pause()
            await pilot.pause()
            return seen, first, screen.current, notifications(app)
    seen, first, after, said = asyncio.run(go())
    with Project.open(person) as project:
        audit = dict(zip(*project.store.audit_labels()))
        labeled = dict(zip(*project.store.labeled("main")))
    assert audit[seen.item] == 3  # the image the person saw got the key
    assert first.item not in labeled and first.status == "pending"  # the new one did not
    assert after is first
    assert any("on screen when the key was pressed" in n[1] for n in said)


def test_a_key_pressed_twice_before_the_next_image_was_drawn_acts_once(label_project):
    from textual import events

    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            await drawn(pilot, screen)
            first, second = screen.entries[0], screen.entries[1]
            keys = [events.Key("4", "4"), events.Key("4", "4")]  # both before `second` showed
            for key in keys:
                app.post_message(key)
            await pilot.pause()
            await pilot.pause()
            return first, second, notifications(app)
    first, second, said = asyncio.run(go())
    with Project.open(label_project) as project:
        labeled = dict(zip(*project.store.labeled("main")))
    assert labeled[first.item] == 4 and second.item not in labeled
    assert any("pressed before this image was on screen" in n[1] for n in said)


def test_keys_typed_one_after_another_still_label_each_image(label_project):
    """The rule costs a person nothing: keys pressed after each image appeared all land."""
    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            items = [e.item for e in screen.entries[:5]]
            for k in "12345":
                await drawn(pilot, screen)
                await pilot.press(k)
            await pilot.press("q")
            return items, app.exit_line()
    items, line = asyncio.run(go())
    assert line == "gltui: 5 labels saved this session (25 in run 'main')"
    with Project.open(label_project) as project:
        labeled = dict(zip(*project.store.labeled("main")))
    assert [labeled[i] for i in items] == [1, 2, 3, 4, 5]


# ---- the class list changes ----------------------------------------------------------------------


def test_after_a_merge_keys_are_the_classes_in_use_and_guesses_fold(label_project):
    from gltui.tui.widgets.class_table import ClassTable

    assert main(["classes", str(label_project), "--merge", "7", "1"]) == 0

    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert app.session.classes == ["0", "1", "2", "3", "4", "5", "6", "8", "9"]
            assert all(g[0] != 7 for e in screen.entries for g in e.guesses)
            first = screen.entries[0].item
            await drawn(pilot, screen)
            await pilot.press("7")  # the 8th class in use: "8"
            await drawn(pilot, screen)
            await pilot.press("9")  # past the end: nothing
            await pilot.press("d")
            await pilot.pause()
            header = text(app.screen.query_one(ClassTable)).splitlines()[0]
            return first, header
    first, header = asyncio.run(go())
    with Project.open(label_project) as project:
        assert dict(zip(*project.store.labeled("main")))[first] == 8
        assert project.store.count_labeled("main") == 21
    assert header.split() == ["n", "0", "1", "2", "3", "4", "5", "6", "8", "9"]


def test_the_side_panel_says_which_key_labels_which_class_and_the_strip_shows_keys(
        label_project):
    """Two classes that start alike (square, star): the legend maps every key to its class,
    the strip shows the key each image was labeled with (not a first letter), and an unsure
    mark counts as unsure, not as skipped."""
    from gltui.tui.widgets.guess_panel import GuessPanel
    from gltui.tui.widgets.queue_strip import QueueStrip

    for old, new in (("1", "square"), ("7", "star")):
        assert main(["classes", str(label_project), "--rename", old, new]) == 0

    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            for key in ("1", "7", "n"):
                await drawn(pilot, screen)
                await pilot.press(key)
            await drawn(pilot, screen)
            return text(screen.query_one(GuessPanel)), text(screen.query_one(QueueStrip))
    panel, strip = asyncio.run(go())
    legend = panel[panel.index("keys"):]
    assert " 1  square" in legend and " 7  star" in legend and " 9  9" in legend
    cells, info = strip.splitlines()[:2]
    assert cells.split()[:4] == ["1", "7", "?", "·"]
    assert "2 labeled · 0 skipped · 1 unsure" in info


def test_a_long_nested_name_keeps_its_file_name():
    from gltui.tui.widgets.guess_panel import shorten_left

    name = "2024/06/holiday in the mountains/camera two/IMG_0001.jpg"
    assert shorten_left(name, 30) == "…" + name[-29:] and len(shorten_left(name, 30)) == 30
    assert shorten_left(name, 30).endswith("camera two/IMG_0001.jpg")
    assert shorten_left("a/b.jpg", 30) == "a/b.jpg"


def test_a_rename_beside_the_open_tui_shows_on_the_next_redraw(label_project):
    from gltui.tui.widgets.class_table import ClassTable

    async def go():
        app = make(label_project)
        async with app.run_test(size=(120, 40)) as pilot:
            # the TUI holds no lock in this test; `gltui run` beside it holds the run's
            assert main(["classes", str(label_project), "--rename", "3", "three"]) == 0
            await pilot.press("d")
            await pilot.pause()
            return text(app.screen.query_one(ClassTable)), app.session.class_name(3)
    table, name = asyncio.run(go())
    assert "thre" in table.splitlines()[0] and name == "three"


# ---- screens that tell the truth -----------------------------------------------------------------


def test_no_oracle_offer_and_no_validation_wording_on_a_persons_project(person, label_project):
    from gltui.run.events import EpochDone
    from gltui.tui.live import LiveProgress
    from gltui.tui.widgets.progress_panel import render

    def panels(path: Path, oracle: bool) -> tuple[str, str]:
        with Project.open(path) as project:
            summary = project.summary("main")
        waiting = str(render(LiveProgress(), summary, show_timing=True, width=80, oracle=oracle))
        live = LiveProgress(worker="running")
        live.phase_changed(1, "train")
        for epoch in (1, 2):
            live.epoch_done(EpochDone("main", 1, epoch, 30, 0.5, 0.8, 0.8, 10, 1.0))
        return waiting, str(render(live, summary, show_timing=True, width=80, oracle=oracle))

    waiting, train = panels(person, oracle=False)
    assert "oracle" not in waiting and "press l" in waiting
    assert "train acc 0.800" in train and "val" not in train
    assert "patience" not in train and "early stop" not in train
    waiting, train = panels(label_project, oracle=True)
    assert "o to let the oracle label" in waiting
    assert "val acc 0.800" in train and "patience 10" in train

    async def go():
        app = make(person)
        async with app.run_test(size=(120, 40)) as pilot:
            app.action_resume()  # 20 images wait: said without the oracle
            await pilot.pause()
            return [n[1] for n in notifications(app)]
    said = asyncio.run(go())
    assert said and not any("oracle" in line for line in said)


def test_history_holds_audit_labels_and_unsure_marks_and_says_which(person):
    from textual.widgets import DataTable

    async def go():
        app = make(person)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            await drawn(pilot, screen)
            unsure = screen.current.item
            await pilot.press("n")
            await pilot.press("h")
            history = app.screen
            rows = list(history.rows)
            table = history.query_one(DataTable)
            kinds = {table.get_row_at(i)[3] for i in range(table.row_count)}
            # relabel the unsure image (newest first: it is row 0), then an audit label
            await pilot.press("5")
            audit_row = next(i for i, r in enumerate(history.rows) if r.kind == "audit")
            audited = history.rows[audit_row]
            table.move_cursor(row=audit_row)
            await pilot.press("6")
            return unsure, rows, kinds, audited
    unsure, rows, kinds, audited = asyncio.run(go())
    by_kind = {}
    for r in rows:
        by_kind.setdefault(r.kind, []).append(r)
    assert [r.item for r in by_kind["unsure"]] == [unsure] and rows[0].item == unsure
    assert len(by_kind["audit"]) == 3 and len(by_kind["human"]) == 20
    assert {"you", "audit (not trained on)", "unsure (not trained on)"} <= kinds
    with Project.open(person) as project:
        assert dict(zip(*project.store.labeled("main")))[unsure] == 5
        assert dict(zip(*project.store.audit_labels()))[audited.item] == 6
        assert project.store.unsure_marks("main") == []


# ---- quit at once --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("key, code", [("q", 0), ("ctrl+c", 130)])
def test_quit_while_a_round_trains_leaves_at_once_and_says_what_was_saved(
        fresh_project, key, code):
    """The engine is asked to stop and not waited for: the app has exited while the engine
    thread is still held at its cancel check; the thread stops at its next check; the round resumes
    from its checkpoint (tests/test_tui.py: test_quit_mid_training_cancels_and_resumes)."""
    from gltui.config import Config

    with Project.open(fresh_project) as project:  # a round that would train for ever
        config = Config.from_json(project.require_run("main").config)
        config.train.max_epochs = config.train.patience = 10_000
        config.train.min_steps_per_epoch = 40  # epochs of seconds: the quit lands inside one
        project.store.set_run_config("main", config.to_json(), {"max_epochs": 10_000})

    release = threading.Event()

    class HeldCancel(threading.Event):
        """The engine thread, once asked to stop, is held at its check until the test has seen
        the app exit: an app that waited for the thread would never exit."""
        def is_set(self) -> bool:
            asked = super().is_set()
            if asked:
                release.wait(60)
            return asked

    async def go():
        app = make(fresh_project, autostart=True)
        app._cancel = HeldCancel()
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.live.epoch >= 1, 120, "the first epoch")
            await pilot.press(key)
            await wait_for(pilot, lambda: not app.is_running, 5, "the app to exit")
            alive = app.engine_thread.is_alive()
        return app, alive
    app, alive = asyncio.run(go())
    release.set()
    assert alive  # not waited for
    assert app.return_code == code
    line = app.exit_line()
    assert line.startswith("gltui: no new labels this session") and "\n" not in line
    assert "round 0 (train) resumes from its last checkpoint on the next start" in line
    if key == "q":  # a class added during the round: the checkpoint has an output fewer
        assert main(["classes", str(fresh_project), "--add", "smudge"]) == 0
        assert "round 0 (train) trains again from its first epoch" in app.exit_line()
    app.engine_thread.join(120)  # cancelled at its next epoch
    assert not app.engine_thread.is_alive()
    with Project.open(fresh_project) as project:
        assert project.require_run("main").phase == "train"
        assert project.train_checkpoint_path("main", 0).exists()
    conn = sqlite3.connect(fresh_project / "gltui.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_a_margin_queue_says_what_its_score_is(tmp_path, small_npz):
    """A score without a unit names itself on the labeling screen ("1 - margin"); only an
    entropy gets bits and a maximum."""
    from conftest import init_args

    from gltui.run import engine
    from gltui.tui.widgets.guess_panel import GuessPanel

    path = tmp_path / "p"
    assert main(init_args(path, small_npz, "--strategy", "margin")) == 0
    with Project.open(path) as project:
        with run_lock(project, "main"):
            assert engine.Runner(project, "main").drive() == "label"  # round 1: margin's queue

    async def go() -> str:
        app = make(path, images="none")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.2)
            return text(app.screen.query_one(GuessPanel))

    panel = asyncio.run(go())
    assert "(1 - margin)" in panel and "bits" not in panel and "max" not in panel, panel
