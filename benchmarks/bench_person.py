"""A scripted person at the labeling screen of the sample project (Textual Pilot, the real app).

(a) idle time between queues: the person labels round 1's queue, and the app retrains and
    rescores in its background worker (as `gltui PROJECT` does, autostart at once). The person
    then labels whatever the screen offers (the provisional queue: audit images, then the
    previous pass's next-ranked images) until the next queue replaces it. Idle time is the time
    the screen offered nothing pending to label, summed from the end of one queue to the first
    image of the next. For comparison, the time from the end of the queue to the next queue is
    what a person waited before the provisional queue existed.
(b) labels per minute on the same queue (a copy of the project each): typing every label (the
    true digit) vs confirm-guess (Enter when the model's top guess is right, else the digit).

The scripted person pauses --read seconds per image (looking at it) and --choose seconds more
when a digit must be typed (finding the key); Enter needs no choosing. With 0 and 0 the figures
are the UI's own speed; the defaults are a stated model of a person, not a measurement of one.

    .venv/bin/python benchmarks/bench_person.py [--read 0.8] [--choose 0.6] [--pace 1.0] [--json]
        [--person]

By default the project is the demo's (`gltui --oracle`'s sample project, its short `demo`
rounds), at round 1's queue. --person makes the project a person gets instead: `gltui init` with
its defaults on the sample's images (profile `quick`, semi `person`), with the seed labels and
the queues up to --labeled labels (40) given by the oracle, at the next queue (40 labeled: the
queue of 40 to 80).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def sample_at_queue(workdir: Path) -> Path:
    """The sample project with round 0 trained and round 1's queue waiting (built once)."""
    from gltui.project import Project, run_lock
    from gltui.run import engine
    from gltui.run.sample import ensure_sample_project

    os.environ["GLTUI_HOME"] = str(workdir)
    path, _ = ensure_sample_project()
    with Project.open(path) as project:
        with run_lock(project, "main"):
            assert engine.Runner(project, "main").drive() == "label"
    return path


def person_at_queue(workdir: Path, labeled: int) -> Path:
    """A project made by `gltui init` (its defaults) on the sample's images, with the queues up to
    `labeled` labels given by the oracle, waiting at the next queue (built once)."""
    import subprocess

    from gltui.project import Project, run_lock
    from gltui.run import engine

    path = workdir / "person"
    subprocess.run([sys.executable, "-m", "gltui", "init", str(path), "--data",
                    f"folder:{ROOT / 'sample_data' / 'mnist'}", "--val-size", "0"], check=True,
                   stdout=subprocess.DEVNULL)
    with Project.open(path) as project:
        # the oracle labels the queues up to `labeled` labels; then a person is awaited
        options = engine.RunOptions(
            oracle=lambda: len(project.store.labeled("main")[0]) < labeled)
        with run_lock(project, "main"):
            assert engine.Runner(project, "main", options).drive() == "label"
    return path


def truth_of(path: Path) -> dict[int, int]:
    from gltui.project import Project

    with Project.open(path) as project:
        pool, truth = project.store.split_items("pool")
        audit = project.store.sample_set("audit")
        out = dict(zip(pool.tolist(), truth.tolist()))
        if audit is not None and len(audit):
            out.update(zip(audit.tolist(), project.store.true_labels(audit).tolist()))
        return out


def make(path: Path, **kw):
    from gltui.tui.app import make_app

    return make_app(path, images="halfcell", show_timing=False, **kw)


async def idle_between_queues(path: Path, truth: dict, read: float, choose: float,
                              timeout: float) -> dict:
    app = make(path, autostart_delay=0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        start_round = screen.round
        n_queue = 0
        while screen.pending() and not screen.provisional:  # round 1's queue, typed
            entry = screen.entries[screen.cursor]
            await asyncio.sleep(read + choose)
            await pilot.press(str(truth[entry.item]))
            n_queue += 1
        queue_done = time.monotonic()
        idle = 0.0
        provisional = 0
        while screen.round == start_round or screen.provisional:
            if time.monotonic() - queue_done > timeout:
                raise SystemExit(f"no new queue after {timeout:.0f} s")
            entry = screen.entries[screen.cursor] if screen.entries else None
            if entry is None or entry.status != "pending":
                t = time.monotonic()
                await pilot.pause(0.05)
                idle += time.monotonic() - t
                continue
            await asyncio.sleep(read + choose)
            if screen.provisional and screen.entries and screen.entries[screen.cursor] is entry:
                await pilot.press(str(truth[entry.item]))
                provisional += 1
        next_queue = time.monotonic() - queue_done
    return {"queue_labels": n_queue, "provisional_labels": provisional,
            "idle_s": round(idle, 2), "queue_to_queue_s": round(next_queue, 1)}


async def label_queue(path: Path, truth: dict, confirm: bool, read: float, choose: float) -> dict:
    app = make(path, autostart_delay=None)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        n = keys_enter = right = 0
        started = time.monotonic()
        while screen.pending() and not screen.provisional:
            entry = screen.entries[screen.cursor]
            label = truth[entry.item]
            guess_right = bool(entry.guesses) and entry.guesses[0][0] == label
            right += guess_right
            if confirm and guess_right:
                await asyncio.sleep(read)
                await pilot.press("enter")
                keys_enter += 1
            else:
                await asyncio.sleep(read + choose)
                await pilot.press(str(label))
            n += 1
        seconds = time.monotonic() - started
    return {"labels": n, "seconds": round(seconds, 2),
            "labels_per_minute": round(60 * n / seconds, 1), "enter_keys": keys_enter,
            "top_guess_right": right}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--read", type=float, default=0.8, help="seconds looking at each image")
    ap.add_argument("--choose", type=float, default=0.6,
                    help="extra seconds to find and type a digit (Enter needs none)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--person", action="store_true",
                    help="a project made by `gltui init`'s defaults instead of the demo's")
    ap.add_argument("--labeled", type=int, default=40,
                    help="with --person: the labels given before the person's queue (20: the "
                         "queue to 40, a round from scratch; 40: the queue of 40 to 80)")
    args = ap.parse_args()
    threads = os.environ.get("GLTUI_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    work = Path(tempfile.mkdtemp(prefix="bench-person-"))
    try:
        if args.person:
            log("making a project with init's defaults and training rounds 0 and 1 ...")
            template = person_at_queue(work, args.labeled)
        else:
            log("building the sample project and training round 0 ...")
            template = sample_at_queue(work / "home")
        truth = truth_of(template)
        result = {"project": "person (init's defaults)" if args.person else "demo",
                  "read_s": args.read, "choose_s": args.choose, "cpus": os.cpu_count()}
        for mode in ("typing", "confirm"):
            copy = work / f"speed-{mode}"
            shutil.copytree(template, copy)
            result[mode] = asyncio.run(label_queue(copy, truth, mode == "confirm", args.read,
                                                   args.choose))
            log(mode, result[mode])
        copy = work / "idle"
        shutil.copytree(template, copy)
        result["idle"] = asyncio.run(idle_between_queues(copy, truth, args.read, args.choose,
                                                         args.timeout))
        log("idle", result["idle"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
