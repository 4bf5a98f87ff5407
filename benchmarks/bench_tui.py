"""Responsiveness of the labeling screen while a run trains in the background.

Drives the real app (App.run_test, keys posted as the terminal driver posts them) and measures,
for every key press, the time from the press to the first frame that shows the next image
(label -> next pending image, undo -> the undone image, arrow -> the neighbour). Meanwhile another
run of the same project is driven by the oracle, training and scoring without pause: in a thread
of this process by default (the app's own worker shares the process and the GIL the same way), or
in a second process.

The headless driver skips writing to a terminal, so each frame is still encoded into terminal
bytes here (`render_segments`), as a real terminal would need.

    .venv/bin/python benchmarks/bench_tui.py [--images halfcell] [--background thread] [--json]

The last line with --json is one JSON object. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def prepare(args, workdir: Path) -> Path:
    """A project waiting for labels: a copy of --project, or the sample digits, round 0 trained."""
    path = workdir / "proj"
    if args.project:
        shutil.copytree(args.project, path)
        return path
    from gltui.cli import main as cli

    log("building the sample project (tiny profile) and training round 0 …")
    assert cli(["init", str(path), "--data", f"folder:{ROOT / 'sample_data' / 'mnist'}",
                "--profile", "tiny", "--val-size", "200", "--initial", "40", "--k", "2",
                "--candidates", "600"]) == 0
    from gltui.project import Project, run_lock
    from gltui.run import engine

    with Project.open(path) as project:
        with run_lock(project, "main"):
            assert engine.Runner(project, "main").drive() == "label"
    return path


class Background:
    """Another run of the project, driven by the oracle until stopped."""

    def __init__(self, path: Path, mode: str):
        self.path, self.mode = path, mode
        self.stop = threading.Event()
        self.events = 0
        self.phases: dict[str, int] = {}
        self.thread = self.proc = None

    def start(self) -> None:
        if self.mode == "none":
            return
        from gltui.project import Project
        from gltui.project.runs import create_run

        with Project.open(self.path) as project:
            if project.store.run("background") is None:
                create_run(project, "background", "rde", project.run_config("main"))
        if self.mode == "process":
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gltui", "run", str(self.path), "--oracle", "--quiet",
                 "--run", "background"], cwd=ROOT, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            return
        self.thread = threading.Thread(target=self._drive, daemon=True)
        self.thread.start()

    def _drive(self) -> None:
        from gltui.project import Project, run_lock
        from gltui.run import engine

        project = Project.open(self.path)

        def on_event(event) -> None:
            self.events += 1
            name = type(event).__name__
            self.phases[name] = self.phases.get(name, 0) + 1

        options = engine.RunOptions(oracle=lambda: True, cancel=self.stop.is_set,
                                    on_event=on_event)
        try:
            with run_lock(project, "background"):
                engine.Runner(project, "background", options).drive()
        except engine.Cancelled:
            pass
        finally:
            project.close()

    def finish(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        if self.proc is not None:
            self.proc.send_signal(2)
            self.proc.wait()


async def measure(path: Path, args) -> dict:
    from textual import events

    from gltui.tui.app import make_app

    app = make_app(path, images=args.images, autostart=False, autostart_delay=None)
    frames: list[float] = []
    shown: list[tuple[float, int | None]] = []
    width, height = (int(v) for v in args.size.split("x"))
    samples: dict[str, list[float]] = {"label": [], "undo": [], "move": []}
    rng = random.Random(0)

    async with app.run_test(size=(width, height)) as pilot:
        real_display = app._display

        def display(screen, renderable):
            if renderable is not None and hasattr(renderable, "render_segments"):
                renderable.render_segments(app.console)  # the bytes a terminal would get
            frames.append(time.perf_counter())
            return real_display(screen, renderable)

        app._display = display
        screen = app.screen
        real_show = screen.show

        def show():
            real_show()
            shown.append((time.perf_counter(), screen.shown_item))

        screen.show = show
        await pilot.pause(0.5)
        if not screen.entries:
            raise SystemExit("the project has no queue to label")
        n = len(screen.entries) - 1  # never finish the queue: nothing retrains in the app

        async def press(key: str, kind: str) -> None:
            before = screen.shown_item
            t0 = time.perf_counter()
            # What the terminal driver does with a key: post it to the app. (Pilot.press would
            # then wait for the process to go idle, which it never does while a run trains.)
            app.post_message(events.Key(key, key if len(key) == 1 else None))
            deadline = t0 + 5
            while True:
                changed = [t for t, item in shown if t >= t0 and item != before]
                if changed and any(f >= changed[0] for f in frames):
                    frame = next(f for f in frames if f >= changed[0])
                    samples[kind].append((frame - t0) * 1000)
                    break
                if time.perf_counter() > deadline:
                    log(f"no new frame for {key!r} within 5 s")
                    break
                await asyncio.sleep(0.0005)
            await asyncio.sleep(rng.uniform(0.02, 0.08))  # a fast person's pace

        started = time.perf_counter()
        while sum(map(len, samples.values())) < args.presses:
            for _ in range(n):
                await press(str(rng.randrange(10)), "label")
            for _ in range(n):
                await press("u", "undo")
            for key in ["right"] * 5 + ["left"] * 5:
                await press(key, "move")
        seconds = time.perf_counter() - started
    return {"samples": samples, "seconds": seconds}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a project waiting for labels (copied)")
    parser.add_argument("--images", default="halfcell",
                        choices=("sixel", "tgp", "halfcell", "unicode", "none"))
    parser.add_argument("--background", default="thread", choices=("thread", "process", "none"))
    parser.add_argument("--presses", type=int, default=300)
    parser.add_argument("--size", default="120x40", help="terminal size COLSxROWS")
    parser.add_argument("--json", action="store_true", help="one JSON object as the last line")
    args = parser.parse_args()

    import gltui.run.engine  # noqa: F401 - start-up (torch's import) is not what is measured

    with tempfile.TemporaryDirectory(prefix="bench-tui-") as tmp:
        path = prepare(args, Path(tmp))
        background = Background(path, args.background)
        background.start()
        time.sleep(3 if args.background != "none" else 0)  # let it get into training
        try:
            result = asyncio.run(measure(path, args))
        finally:
            background.finish()
    everything = [v for vs in result["samples"].values() for v in vs]
    summary = {
        "benchmark": "tui_keypress_to_next_image",
        "images": args.images,
        "size": args.size,
        "background": args.background,
        "background_events": background.events,
        "background_event_kinds": background.phases,
        "cpus": os.cpu_count(),
        "presses": len(everything),
        "seconds": round(result["seconds"], 1),
        "p50_ms": round(pct(everything, 50), 1),
        "p95_ms": round(pct(everything, 95), 1),
        "max_ms": round(max(everything), 1),
        "mean_ms": round(statistics.fmean(everything), 1),
        **{f"{kind}_p95_ms": round(pct(v, 95), 1) for kind, v in result["samples"].items()},
    }
    if args.json:
        print(json.dumps(summary))
    else:
        for k, v in summary.items():
            print(f"{k:>24}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
