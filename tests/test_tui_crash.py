"""A person's labeling session under a crash, in a real terminal: the TUI runs in tmux, keys are
sent as a person types them, and the process is SIGKILLed right after a keypress. On restart
every label the screen had acknowledged is in the database, and undo still walks back through
the previous session's history.

"Right after": the footer's count changing is the acknowledgement a person sees; the kill follows
the first screen capture that shows it (tens of milliseconds). A kill sent with no wait at all may
land before the key is read: then the label is simply not there, and the queue entry is still
pending (never half-written), which the last test checks.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from gltui.project import Project

pytest.importorskip("textual")
TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="needs tmux for a real terminal")
ROOT = Path(__file__).resolve().parents[1]


class Terminal:
    """`gltui PROJECT` in a detached tmux session of its own server (100x32)."""

    def __init__(self, project: Path):
        self.project = project
        self.socket = f"gltui-test-{uuid.uuid4().hex[:8]}"

    def _tmux(self, *args: str) -> str:
        return subprocess.run([TMUX, "-L", self.socket, *args], check=True,
                              capture_output=True, text=True).stdout

    def start(self) -> "Terminal":
        command = (f"cd {ROOT} && PYTHONPATH={ROOT} exec {sys.executable} -m gltui "
                   f"{self.project} --images halfcell")
        self._tmux("new-session", "-d", "-s", "gl", "-x", "100", "-y", "32", command)
        self.pid = int(self._tmux("display-message", "-p", "-t", "gl", "#{pane_pid}").strip())
        self.wait_for("pending")
        return self

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "gl")

    def wait_for(self, text: str, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.02)
        raise AssertionError(f"the screen never showed {text!r}:\n{self.screen()}")

    def press(self, key: str) -> None:
        self._tmux("send-keys", "-t", "gl", key)

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], capture_output=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def terminal_project(label_project):
    """A small project waiting for a person (round 1 queued) and a factory of terminals on it."""
    opened: list[Terminal] = []

    def open_terminal() -> Terminal:
        opened.append(Terminal(label_project))
        return opened[-1].start()

    yield label_project, open_terminal
    for term in opened:
        term.close()


def queue_state(path: Path) -> list[tuple[int, str, int | None]]:
    with Project.open(path) as project:
        assert project.store.integrity_check() == "ok"
        assert project.store.duplicate_active_labels() == 0
        return [(e.item, e.status, e.label) for e in project.store.queue("main", 1)]


def test_labels_pressed_before_a_sigkill_survive_and_undo_still_works(terminal_project):
    path, open_terminal = terminal_project
    before = queue_state(path)
    first, second, third = (item for item, _, _ in before[:3])

    term = open_terminal()
    term.press("3")
    term.wait_for("1 labeled")
    term.kill()  # right after the first label was acknowledged
    assert queue_state(path)[:2] == [(first, "labeled", 3), (second, "pending", None)]

    term = open_terminal()  # restart: the label is there and the screen goes on from the next image
    term.wait_for("1 labeled")
    term.press("5")
    term.wait_for("2 labeled")
    term.press("s")
    term.wait_for("1 skipped")
    term.kill()
    assert queue_state(path)[:3] == [(first, "labeled", 3), (second, "labeled", 5),
                                     (third, "skipped", None)]

    term = open_terminal()  # undo walks back through the killed session's history
    term.wait_for("2 labeled · 1 skipped")
    term.press("u")
    term.wait_for("2 labeled · 0 skipped")
    term.press("u")
    term.wait_for("1 labeled · 0 skipped")
    term.kill()
    state = queue_state(path)
    assert state[:3] == [(first, "labeled", 3), (second, "pending", None), (third, "pending", None)]
    assert state[3:] == before[3:]

    term = open_terminal()  # and the undone image is labeled again after one more restart
    term.wait_for("1 labeled · 0 skipped")
    term.press("7")
    term.wait_for("2 labeled")
    term.kill()
    assert queue_state(path)[:2] == [(first, "labeled", 3), (second, "labeled", 7)]


@pytest.mark.slow  # the fast lane keeps the labels-before-a-sigkill test
def test_a_sigkill_as_the_key_is_sent_leaves_the_label_whole_or_absent(terminal_project):
    path, open_terminal = terminal_project
    before = queue_state(path)
    first = before[0][0]
    for attempt in range(3):
        term = open_terminal()
        term.press("4")
        term.kill()  # no wait at all: the key may or may not have been read
        state = queue_state(path)
        assert state[0] in ((first, "labeled", 4), (first, "pending", None)), state[0]
        assert state[1:] == before[1:]
        if state[0][1] == "labeled":
            break
