"""Issue 13, end to end: a person labels their own images from zero in a real terminal (tmux).

A flat folder of 520 unlabeled JPEG digits of mixed sizes (real MNIST, no labels.csv) becomes a
project with `gltui init --classes`. A scripted person then, in `gltui PROJECT` under tmux:
labels the seed set; labels audit and provisional images while round 0 trains; labels two guided
queues, adding a class, marking an image unsure and relabeling one on the way; quits, restarts,
and every key press is in the database.

The person reads each image's file name off the screen and types its true digit (the script
knows the truth; a person would see the digit).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from gltui.project import Project

pytest.importorskip("textual")
from tests.test_tui_crash import TMUX, Terminal, _alive  # noqa: E402

pytestmark = pytest.mark.skipif(TMUX is None, reason="needs tmux for a real terminal")

N_IMAGES, QUEUE = 520, 10
NAME = re.compile(r"#\d+ of \d+[^\n]*\n[^\n]*?(d\d{4}\.jpg)")  # the name: the next line


@pytest.fixture
def digit_folder(tmp_path, shared_mnist_dir) -> tuple[Path, dict[str, int]]:
    from PIL import Image

    from gltui.data import load

    train = load(f"idx:{shared_mnist_dir}").train
    rng = np.random.default_rng(0)
    folder = tmp_path / "scans"
    folder.mkdir()
    truth = {}
    for i in range(N_IMAGES):
        size = int(rng.integers(40, 91))
        img = Image.fromarray(train.images[i, 0]).resize((size, size)).convert("RGB")
        name = f"d{i:04d}.jpg"
        img.save(folder / name, quality=90)
        truth[name] = int(train.labels[i])
    return folder, truth


class Person:
    """Reads the image name on the screen, types its digit, and waits for the screen to move on."""

    def __init__(self, term: Terminal, truth: dict[str, int]):
        self.term, self.truth = term, truth
        self.typed: list[tuple[str, str]] = []  # (image name, key), in order

    def current(self, timeout: float = 60.0) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.term.screen()
            found = NAME.search(shown)
            if found or time.monotonic() > deadline:
                assert found, f"no image on the screen:\n{shown}"
                return found.group(1), shown
            time.sleep(0.05)

    def press(self, key: str, right: bool = True) -> str:
        """One key on the image shown; returns its name once the screen shows another image."""
        name, _ = self.current()
        self.term.press(key if not right else str(self.truth[name]))
        self.typed.append((name, key if not right else str(self.truth[name])))
        deadline = time.monotonic() + 30
        while self.current()[0] == name:
            assert time.monotonic() < deadline, f"{name}: the key was not taken"
            time.sleep(0.05)
        return name

    def wait_for(self, text: str, timeout: float = 120.0) -> str:
        return self.term.wait_for(text, timeout)

    def wait_gone(self, text: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while text in self.term.screen():
            assert time.monotonic() < deadline, f"{text!r} stayed:\n{self.term.screen()}"
            time.sleep(0.1)


@pytest.mark.slow
def test_a_person_labels_their_own_images_from_zero(tmp_path, digit_folder):
    from gltui.cli import main

    folder, truth = digit_folder
    project = tmp_path / "P"
    args = ["init", str(project), "--data", f"folder:{folder}", "--classes",
            ",".join(map(str, range(10))), "--preset", "mnist", "--profile", "tiny",
            "--candidates", "200", "--k", "2", "--initial", str(QUEUE),
            "--schedule", f"fixed:{QUEUE}", "--audit", "20"]
    assert main(args) == 0
    started = time.monotonic()
    term = Terminal(project)
    try:
        term.start()
        person = Person(term, truth)
        # 1. the seed set, round 0
        seed = [person.press("") for _ in range(QUEUE)]
        # 2. while round 0 trains: audit images first (they need no model), then provisional
        person.wait_for("While")
        during = [person.press("") for _ in range(3)]
        # 3. the first guided queue: one unsure, one new class, the rest typed
        person.wait_gone("While")
        person.wait_for("model's guesses")
        unsure = person.press("n", right=False)
        term.press("c")
        person.wait_for("New class")
        for ch in "blot":
            term.press(ch)
        blotted, _ = person.current()
        term.press("Enter")
        person.typed.append((blotted, "10"))
        deadline = time.monotonic() + 30
        while person.current()[0] == blotted:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        queue1 = [person.press("") for _ in range(QUEUE - 2)]
        # 4. the second guided queue (provisional images first while round 1 trains)
        person.wait_for("While")
        during += [person.press("")]
        person.wait_gone("While")
        person.wait_for("model's guesses")
        queue2 = [person.press("") for _ in range(QUEUE)]
        # 5. relabel one earlier label from the history (the newest: queue2's last)
        term.press("h")
        person.wait_for("relabels it")
        relabeled = queue2[-1]
        new_label = (truth[relabeled] + 1) % 10
        term.press(str(new_label))
        person.wait_for(f"labeled {new_label}")
        term.press("Escape")
        time.sleep(0.5)
        # 6. quit, restart, quit again
        term.press("q")
        deadline = time.monotonic() + 60
        while term.pid and _alive(term.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        term.close()
        term = Terminal(project)
        term.start() if _queue_waits(project) else _start_any(term)
        term.press("q")
        time.sleep(1.0)
    finally:
        term.close()

    with Project.open(project) as p:
        store = p.store
        names = {v: k for k, v in store.item_names(range(len(truth) + 200)).items()}
        detail = {name: (label, source, rnd) for _, name, label, _, source, rnd, _ in
                  store.labeled_detail("main")}
        for name in seed + queue1 + queue2[:-1]:
            assert detail[name][:2] == (truth[name], "human"), name
        assert detail[blotted][0] == 10 and p.classes[10] == "blot"
        assert detail[relabeled][0] == new_label
        assert unsure not in detail
        kinds = [(k, d) for _, k, d in store.events("main", limit=10_000)]
        assert ("unsure", {"item": names[unsure], "round": 1}) in kinds
        assert any(k == "relabel" and d["item"] == names[relabeled] for k, d in kinds)
        audit_items, audit_labels = store.audit_labels()
        audited = {store.item_names([int(i)])[int(i)]: int(v)
                   for i, v in zip(audit_items, audit_labels)}
        for name in during:
            got = audited.get(name, detail.get(name, (None,))[0])
            assert got == truth[name], name
        assert store.integrity_check() == "ok" and store.duplicate_active_labels() == 0
        rounds = store.rounds("main")
        assert len(rounds) >= 2
    assert time.monotonic() - started < 240


def _queue_waits(project: Path) -> bool:
    with Project.open(project) as p:
        return p.summary("main").n_queued > 0


def _start_any(term: Terminal) -> None:
    """Start the TUI where no queue waits (it opens on the dashboard and resumes the run)."""
    import sys

    from tests.test_tui_crash import ROOT

    command = (f"cd {ROOT} && PYTHONPATH={ROOT} exec {sys.executable} -m gltui "
               f"{term.project} --images halfcell")
    term._tmux("new-session", "-d", "-s", "gl", "-x", "100", "-y", "32", command)
    term.pid = int(term._tmux("display-message", "-p", "-t", "gl", "#{pane_pid}").strip())
    term.wait_for("gltui")
