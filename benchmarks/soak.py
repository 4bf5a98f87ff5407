"""The soak: six gltui processes at once on one project, doing random things, some SIGKILLed.

    .venv/bin/python benchmarks/soak.py [--iterations 200] [--procs 6] [--seed 0] [--json]
                                        [--kill-rate 0.3] [--workdir DIR]

One small project (the first 800 sample digits, tiny profile, k = 2, chunks of 64, no
semi-supervised rounds) and its two runs: `main`, driven by the oracle, and `p`, a person's
run whose queues are labeled by a scripted person (its round 0 is driven at set-up, so its
first queue waits for the person). Up to --procs processes run at once; each
new one is a verb drawn at random:

  run-main   gltui run P --oracle --max-rounds 6          (trains, scores, labels with the oracle)
  run-p      gltui run P --run p --max-rounds 6           (stops at each queue for the person)
  label      a person labeling 1-8 pending images of run p in the TUI itself, its keys pressed
             by Textual's Pilot (benchmarks/soak_label.py), each key its own committed
             transaction, printing `ack ITEM LABEL` once the screen shows the label given: the
             acknowledged labels
  add        gltui add P --data npz:BATCH                 (the next 40 sample digits)
  predict    gltui predict P                              (run main's latest finished round)
  export     gltui export P --format csv|jsonl|imagefolder
  status     gltui status P --json

Each process is SIGKILLed, with probability --kill-rate, uniform(0.2, 2) s after it starts
(a verb that reads or exports ends in 1-2 s, so later kills would seldom land).
An iteration is one process ending; after each, this process (a reader beside the others)
checks: the project opens; PRAGMA integrity_check is ok; no item has two active labels; every
label acknowledged so far is active with its label; pixels.npy holds a row for every item; the
process's stderr holds no traceback, and an exit status other than 0 (or a kill) is 1 or 2
with exactly one line (a busy lock, a run with no finished round yet). At the end, with nothing
else running, `run main` is driven to its end undisturbed and checked the same way.

Then `run --run p` resumes once, undisturbed, and the end states of both runs are compared with
uninterrupted runs' (benchmarks/chaos.py: the same labels, rounds, queues with their scores, phase
and stop reason). That reference is a fresh project whose runs are driven alone, given the same
`add`s at the same points of each run, and run p the person's labels in the round each was given
(the soak's person labels only while p waits at its label phase: its script holds the run's lock):
which batches landed, in which order, is read off the soak project's pixels (each added block
of 40 rows is one batch file), and each round's scoring pass stored its candidates, whose
largest item says how many of those batches the round saw; the reference is driven round by
round (`--max-rounds r+1` stops it after round r's evaluation), p one queue at a time, and each
scoring step is taken once exactly the batches its round saw have landed. (Training reads the
labeled images only: the soak's runs are not semi-supervised.)

With --json the last line is one JSON object: iterations, kills, by_verb (verb -> processes),
exits (status -> count), acknowledged, busy (one-line refusals naming a busy lock), items,
adds_landed, reference ("same" or what differs), seconds, problems. Exit status 0 when there
is no problem. The test suite runs a short version (tests/test_soak.py, marked slow); results:
docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from gltui.project import Project  # noqa: E402

POOL, BATCH = 800, 40
MAX_ROUNDS = 5  # rounds 0-4 (20 to 320 labels): the stop is always the round limit, never the
# pool's size, which the adds make depend on timing (pool-based stops would make the reference
# replay below depend on when they were checked)
RUN = ["--quiet", "--max-rounds", str(MAX_ROUNDS), "--device", "cpu"]
VERBS = {"run-main": 3, "run-p": 2, "label": 3, "add": 2, "predict": 1, "export": 2,
         "status": 1}
LABEL = REPO_ROOT / "benchmarks" / "soak_label.py"  # the TUI, driven by Pilot


def make_project(work: Path) -> tuple[Path, list[Path]]:
    """The project and the npz batches `add` takes, in order."""
    from gltui.cli import main
    from gltui.data import load

    train = load(f"folder:{REPO_ROOT / 'sample_data' / 'mnist'}").train
    x, y = train.images[:, 0], train.labels
    np.savez(work / "pool.npz", x=x[:POOL], y=y[:POOL])
    batches = []
    for i, start in enumerate(range(POOL, len(x), BATCH)):
        path = work / f"batch{i:03d}.npz"
        np.savez(path, x=x[start:start + BATCH], y=y[start:start + BATCH])
        batches.append(path)
    project = work / "project"
    code = main(["init", str(project), "--data", f"npz:{work / 'pool.npz'}", "--profile", "tiny",
                 "--val-size", "100", "--initial", "20", "--k", "2", "--warm-start", "0",
                 "--semi", "off", "--chunk-size", "64"])
    if code != 0:
        raise RuntimeError("gltui init failed")
    # run p's first queue, so the scripted person has images to label from the start
    if main(["run", str(project), "--run", "p", *RUN]) != 0:
        raise RuntimeError("gltui run --run p failed")
    return project, batches


class Soak:
    def __init__(self, work: Path, seed: int, procs: int, kill_rate: float, log=print):
        self.work, self.procs, self.kill_rate, self.log = work, procs, kill_rate, log
        self.rng = random.Random(seed)
        self.project, self.batches = make_project(work)
        self.next_batch = 0
        self.acked: dict[int, int] = {}
        self.running: list[dict] = []
        self.count = 0
        self.stats = {"kills": 0, "by_verb": Counter(), "exits": Counter(), "busy": 0,
                      "problems": []}

    # -- processes ---------------------------------------------------------------------------

    def command(self, verb: str) -> list[str]:
        p, gltui = str(self.project), [sys.executable, "-m", "gltui"]
        if verb == "run-main":
            return [*gltui, "run", p, "--oracle", *RUN]
        if verb == "run-p":
            return [*gltui, "run", p, "--run", "p", *RUN]
        if verb == "label":
            return [sys.executable, str(LABEL), p, "p", str(self.rng.randrange(1 << 30))]
        if verb == "add":
            batch = self.batches[self.next_batch % len(self.batches)]
            self.next_batch += 1
            return [*gltui, "add", p, "--data", f"npz:{batch}"]
        if verb == "predict":
            return [*gltui, "predict", p, "--device", "cpu"]
        if verb == "export":
            fmt = self.rng.choice(["csv", "jsonl", "imagefolder"])
            name = f"e{self.count:04d}" + ("" if fmt == "imagefolder" else f".{fmt}")
            out = self.work / "exports" / name
            return [*gltui, "export", p, "--format", fmt, "--out", str(out)]
        return [*gltui, "status", p, "--json"]

    def start(self) -> None:
        verb = self.rng.choices(list(VERBS), weights=list(VERBS.values()))[0]
        self.count += 1
        out = open(self.work / "logs" / f"{self.count:04d}-{verb}.out", "w+")
        err = open(self.work / "logs" / f"{self.count:04d}-{verb}.err", "w+")
        proc = subprocess.Popen(self.command(verb), cwd=REPO_ROOT, stdout=out, stderr=err,
                                env={**os.environ, "PYTHONPATH": str(REPO_ROOT),
                                     "OMP_NUM_THREADS": "1"})
        kill_at = (time.time() + self.rng.uniform(0.2, 2.0)
                   if self.rng.random() < self.kill_rate else None)
        self.running.append({"verb": verb, "proc": proc, "out": out, "err": err,
                             "kill_at": kill_at, "n": self.count})
        self.stats["by_verb"][verb] += 1

    def reap(self) -> list[dict]:
        """The processes that ended (killing those whose time came)."""
        done = []
        for r in list(self.running):
            due = r["kill_at"] is not None and time.time() >= r["kill_at"]
            if due and r["proc"].poll() is None:
                r["proc"].send_signal(signal.SIGKILL)
            if r["proc"].poll() is not None:
                self.running.remove(r)
                done.append(r)
        return done

    # -- checks --------------------------------------------------------------------------------

    def finished(self, r: dict) -> None:
        code = r["proc"].returncode
        r["out"].seek(0), r["err"].seek(0)
        out, err = r["out"].read(), r["err"].read()
        r["out"].close(), r["err"].close()
        self.stats["exits"][str(code)] += 1
        if code == -signal.SIGKILL:
            self.stats["kills"] += 1
        for line in out.splitlines():
            if line.startswith("ack "):
                _, item, label = line.split()
                self.acked[int(item)] = int(label)
        where = f"#{r['n']} {r['verb']} (exit {code})"
        lines = err.splitlines()
        if "Traceback" in err:
            self.problem(f"{where}: a traceback: {err.strip()[-300:]}")
        elif code not in (0, -signal.SIGKILL):
            if code not in (1, 2) or len(lines) != 1:
                self.problem(f"{where}: {len(lines)} stderr lines: {err.strip()[-300:]}")
            elif "is busy" in lines[0]:
                self.stats["busy"] += 1
        self.check(where)

    def check(self, where: str) -> None:
        try:
            with Project.open(self.project) as project:
                store = project.store
                if store.integrity_check() != "ok":
                    self.problem(f"after {where}: integrity_check failed")
                if store.duplicate_active_labels():
                    self.problem(f"after {where}: an item with two active labels")
                if store.run("p") is not None:
                    items, labels = store.labeled("p")
                    active = dict(zip(items.tolist(), labels.tolist()))
                    lost = {i: lab for i, lab in self.acked.items() if active.get(i) != lab}
                    if lost:
                        self.problem(f"after {where}: acknowledged labels lost: {lost}")
                if len(project.pixels) < store.item_end():
                    self.problem(f"after {where}: pixels.npy has {len(project.pixels)} rows for "
                                 f"{store.item_end()} items")
        except Exception as err:  # the project must always open
            self.problem(f"after {where}: the project does not open: {err}")

    # -- the uninterrupted reference ------------------------------------------------------------

    def landed_batches(self) -> list[Path]:
        """The batch files whose `add` landed, in the order they landed: each block of BATCH
        rows after the first POOL is the pixels of one batch file."""
        with Project.open(self.project) as project:
            pixels = np.asarray(project.pixels[POOL:project.store.item_end()])
        files = {self._key(np.load(b)["x"]): b for b in self.batches}
        return [files[self._key(pixels[s:s + BATCH])] for s in range(0, len(pixels), BATCH)]

    @staticmethod
    def _key(x: np.ndarray) -> bytes:
        return np.ascontiguousarray(x, dtype=np.uint8).reshape(len(x), -1).tobytes()

    def horizons(self, run: str = "main") -> dict[int, int]:
        """Per round of `run` that was scored: how many added batches its pass saw."""
        with Project.open(self.project) as project:
            store = project.store
            out = {}
            for r in range(store.run(run).round + 1):
                started = store.scoring_pass(run, r)
                if started is not None:
                    seen = int(started[0].max()) + 1  # the largest candidate, and the rows before
                    out[r] = max(0, -(-(seen - POOL) // BATCH))
            return out

    def person_steps(self) -> tuple[list[tuple[int | None, dict]], list[tuple[int, int]]]:
        """Run p as the soak left it, as steps to replay: per round r >= 1 it trained, the
        person's labels of round r, then one `run --run p` (trains round r and, unless it is
        the run's last, scores it: the batches that pass saw must have landed). Then the labels
        given to the queue that waits at the end (a person stops mid-queue)."""
        with Project.open(self.project) as project:
            store = project.store
            given: dict[int, list[tuple[int, int]]] = {}
            for item, _, label, _, source, rnd, _ in store.labeled_detail("p"):
                if source == "human":
                    given.setdefault(rnd, []).append((item, label))
            trained = [r.round for r in store.rounds("p")]
            row = store.run("p")
        seen = self.horizons("p")
        steps = [(seen.get(r), {"labels": given.get(r, []), "run": True})
                 for r in trained if r >= 1]
        waiting = given.get(row.round, []) if row.phase == "label" else []
        return steps, waiting

    def compare_with_reference(self, batches: list[Path]) -> str:
        """Drive a fresh project's two runs alone, replaying the landed adds where the soak's
        runs saw them and run p's labels in the rounds the person gave them (module doc); "same"
        when both runs' end states equal the soak's, else what differs (also a problem)."""
        from benchmarks.chaos import compare, final_state
        from gltui.project import Labeler

        work = self.work / "reference"
        work.mkdir(exist_ok=True)
        reference, _ = make_project(work)
        gltui = [sys.executable, "-m", "gltui"]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}

        def call(*args: str) -> None:
            done = subprocess.run([*gltui, *args], cwd=REPO_ROOT, capture_output=True,
                                  text=True, env=env)
            if done.returncode != 0:
                raise RuntimeError(f"reference: gltui {args[0]} exited {done.returncode}: "
                                   f"{done.stderr[-300:]}")

        # Each step: (the batches that must have landed before it, i.e. what the round it
        # scores saw, or None when it scores nothing; what it does). main: `--max-rounds r+1`
        # scores round r-1 and trains round r; the last call scores the last scored round.
        seen = self.horizons("main")
        main_steps = [(seen.get(r - 1) if r else None, {"max_rounds": r + 1}) for r in seen]
        main_steps.append((seen[max(seen)] if seen else None, {"max_rounds": MAX_ROUNDS}))
        person, waiting = self.person_steps()
        queues = {"main": main_steps, "p": person}
        added = 0
        while any(queues.values()):  # the step that needs the fewest batches next
            run = min((r for r in queues if queues[r]),
                      key=lambda r: queues[r][0][0] if queues[r][0][0] is not None else added)
            need, step = queues[run].pop(0)
            if need is not None:
                if need < added:
                    raise RuntimeError(f"reference: run {run} saw {need} batches after "
                                       f"{added} had landed")
                for batch in batches[added:need]:
                    call("add", str(reference), "--data", f"npz:{batch}")
                added = need
            if run == "main":
                call("run", str(reference), "--oracle", "--quiet", "--max-rounds",
                     str(step["max_rounds"]), "--device", "cpu")
                continue
            self._label(reference, step["labels"], Labeler)
            call("run", str(reference), "--run", "p", *RUN)
        self._label(reference, waiting, Labeler)
        problems = []
        for run in ("main", "p"):
            found = compare(final_state(self.project, run), final_state(reference, run))
            problems += [f"run {run}: {p}" for p in found]
        for p in problems:
            self.problem(f"against the uninterrupted reference: {p}")
        return "same" if not problems else "; ".join(problems)

    @staticmethod
    def _label(reference: Path, labels: list[tuple[int, int]], labeler) -> None:
        """The person's labels of one queue, given in the same order (as the TUI gives them)."""
        if not labels:
            return
        with Project.open(reference) as project:
            person = labeler(project, "p")
            for item, label in labels:
                person.label(item, label)

    def problem(self, text: str) -> None:
        self.stats["problems"].append(text)
        self.log(f"PROBLEM {text}")

    # -- the soak ------------------------------------------------------------------------------

    def run(self, iterations: int) -> dict:
        (self.work / "logs").mkdir(exist_ok=True)
        (self.work / "exports").mkdir(exist_ok=True)
        started, ended = time.time(), 0
        while ended < iterations:
            while len(self.running) < self.procs and self.count < iterations:
                self.start()
            for r in self.reap():
                ended += 1
                self.finished(r)
                if ended % 10 == 0:
                    self.log(f"{ended} iterations, {self.stats['kills']} kills, "
                             f"{len(self.acked)} acknowledged labels, "
                             f"{time.time() - started:.0f} s")
            time.sleep(0.02)
        final = subprocess.run([sys.executable, "-m", "gltui", "run", str(self.project),
                                "--oracle", *RUN], cwd=REPO_ROOT, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT),
                                    "OMP_NUM_THREADS": "1"})
        if final.returncode != 0:
            self.problem(f"the final run exited {final.returncode}: {final.stderr[-300:]}")
        self.check("the final run")
        # run p resumed once, undisturbed: it ends at the queue that waits for the person
        final = subprocess.run([sys.executable, "-m", "gltui", "run", str(self.project),
                                "--run", "p", *RUN], cwd=REPO_ROOT, capture_output=True,
                               text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT),
                                               "OMP_NUM_THREADS": "1"})
        if final.returncode != 0:
            self.problem(f"run p's final resume exited {final.returncode}: "
                         f"{final.stderr[-300:]}")
        self.check("run p's final resume")
        with Project.open(self.project) as project:
            main_done = project.store.run("main").phase == "done"
            n_items = project.store.item_end()
        if not main_done:
            self.problem("run main did not reach done")
        landed = self.landed_batches()
        reference = self.compare_with_reference(landed)
        return {"iterations": ended, "procs": self.procs, "kills": self.stats["kills"],
                "by_verb": dict(self.stats["by_verb"]), "exits": dict(self.stats["exits"]),
                "acknowledged": len(self.acked), "busy": self.stats["busy"],
                "items": n_items, "adds_landed": len(landed),
                "reference": reference, "seconds": round(time.time() - started, 1),
                "problems": self.stats["problems"]}


def soak(iterations: int = 200, procs: int = 6, seed: int = 0, kill_rate: float = 0.3,
         workdir: Path | None = None, log=lambda line: None) -> dict:
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="gltui-soak-")) if own else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    try:
        return Soak(work, seed, procs, kill_rate, log).run(iterations)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--procs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kill-rate", type=float, default=0.3)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    result = soak(args.iterations, args.procs, args.seed, args.kill_rate, args.workdir,
                  log=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(result) if args.json else result)
    return 0 if not result["problems"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
