"""How long `q` (and ctrl+c) take to leave the TUI while a round trains, in a real terminal.

The sample project (sample_data/mnist, 3,000 digits: what plain `gltui` opens) is built once in
a temporary GLTUI_HOME; each trial copies it, starts `gltui PROJECT` in a detached tmux pane
(100x32, halfcell images), waits until the dashboard shows the round's epochs, waits a random
0-1.5 s more so the key lands inside an epoch, sends the key, and times the moment the process
has exited (tmux's pane_dead, polled every 5 ms). It also keeps the line the TUI prints on exit,
and checks that the project is whole and the round resumable (phase train, a checkpoint).

    .venv/bin/python benchmarks/bench_quit.py [--trials 5] [--keys q,C-c] [--repo PATH] [--json]

--repo runs another checkout's gltui (PYTHONPATH) on the same project, to compare with an older
version. Not a test (tests/test_tui_truth.py asserts the behaviour, not the time); the numbers
depend on the machine. Needs tmux.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TMUX = shutil.which("tmux")


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


class Pane:
    """One command in a detached tmux session of its own server; the pane stays after exit."""

    def __init__(self, command: str):
        self.socket = f"gltui-bench-{uuid.uuid4().hex[:8]}"
        self._tmux("new-session", "-d", "-s", "b", "-x", "100", "-y", "32", command)
        self._tmux("set-option", "-t", "b", "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        return subprocess.run([TMUX, "-L", self.socket, *args], check=True,
                              capture_output=True, text=True).stdout

    def screen(self) -> str:
        # -J: wrapped lines joined; -S -40: with the lines scrolled off the top
        return self._tmux("capture-pane", "-p", "-J", "-S", "-40", "-t", "b")

    def dead(self) -> bool:
        return self._tmux("display-message", "-p", "-t", "b", "#{pane_dead}").strip() == "1"

    def send(self, key: str) -> None:
        self._tmux("send-keys", "-t", "b", key)

    def close(self) -> None:
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], capture_output=True)


def sample_project(home: Path, repo: Path) -> Path:
    """The sample project as `repo`'s gltui builds it (a project's schema is its version's)."""
    code = ("from gltui.run.sample import ensure_sample_project; "
            "print(ensure_sample_project()[0])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo,
                          env={**os.environ, "GLTUI_HOME": str(home), "PYTHONPATH": str(repo)})
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return Path(proc.stdout.strip().splitlines()[-1])


def resumable(path: Path) -> dict:
    conn = sqlite3.connect(path / "gltui.db")
    try:
        phase, round = conn.execute("SELECT phase, round FROM runs WHERE name = 'main'").fetchone()
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    ckpt = path / "checkpoints" / "main" / f"train-round{round:03d}.ckpt"
    return {"phase": phase, "round": round, "integrity": ok, "checkpoint": ckpt.exists()}


def trial(template: Path, work: Path, repo: Path, key: str, rng: random.Random,
          timeout: float) -> dict:
    path = work / f"proj-{uuid.uuid4().hex[:6]}"
    shutil.copytree(template, path)
    command = (f"cd {repo} && PYTHONPATH={repo} exec {sys.executable} -m gltui {path} "
               "--images halfcell")
    pane = Pane(command)
    try:
        deadline = time.monotonic() + timeout
        while "epoch " not in pane.screen():
            if pane.dead() or time.monotonic() > deadline:
                raise SystemExit(f"no epoch on screen:\n{pane.screen()}")
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        shown = pane.screen()
        pane.send(key)
        sent = time.monotonic()
        while not pane.dead():
            if time.monotonic() - sent > 120:
                raise SystemExit(f"still running 120 s after {key}:\n{pane.screen()}")
            time.sleep(0.005)
        seconds = time.monotonic() - sent
        final = pane.screen()
        said = [line for line in final.splitlines() if line.startswith("gltui:")]
        if not said:
            shown_lines = [line for line in final.splitlines() if line.strip()]
            log(f"no exit line; the screen after exit: {shown_lines[-3:]}")
        epoch = next((line.strip() for line in shown.splitlines() if "epoch " in line), "")
    finally:
        pane.close()
    out = {"key": key, "seconds": round(seconds, 3), "epoch_on_screen": epoch,
           "exit_line": said[-1] if said else None, **resumable(path)}
    shutil.rmtree(path, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="trials per key (default 5)")
    parser.add_argument("--keys", default="q,C-c", help="tmux key names (default q,C-c)")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the gltui checkout to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait for the first epoch on screen")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if TMUX is None:
        raise SystemExit("bench_quit needs tmux")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="gltui-bench-quit-") as tmp:
        tmp = Path(tmp)
        log("building the sample project ...")
        template = sample_project(tmp / "home", args.repo.resolve())
        results = []
        for key in args.keys.split(","):
            for i in range(args.trials):
                r = trial(template, tmp, args.repo.resolve(), key, rng, args.timeout)
                log(f"{key} #{i + 1}: {r['seconds']:.3f} s  ({r['epoch_on_screen']})  "
                    f"then {r['phase']} round {r['round']}, checkpoint {r['checkpoint']}, "
                    f"integrity {r['integrity']}")
                log(f"   {r['exit_line']}")
                results.append(r)
    summary = {}
    for key in args.keys.split(","):
        times = [r["seconds"] for r in results if r["key"] == key]
        summary[key] = {"median_s": round(statistics.median(times), 3),
                        "max_s": round(max(times), 3), "n": len(times)}
        log(f"{key}: median {summary[key]['median_s']:.3f} s, max {summary[key]['max_s']:.3f} s "
            f"over {len(times)} trials")
    if args.json:
        print(json.dumps({"repo": str(args.repo), "cpus": os.cpu_count(),
                          "summary": summary, "trials": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
