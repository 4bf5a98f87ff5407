"""Chaos check: SIGKILL a real `gltui run` N times, spread over every phase, and compare with an
uninterrupted run.

    .venv/bin/python benchmarks/chaos.py [--n 20] [--seed 0] [--json] [--workdir DIR] [--random]

It builds a small project (the first 800 sample digits as npz, tiny profile, 100 validation
images, 20 seed labels, k = 2), runs `python -m gltui run P --oracle --quiet --max-rounds 3
--chunk-size 128` once without interruption (the reference), then, on fresh copies of the same
project, starts that command and SIGKILLs it, restarting it until the run is done. Kill i aims at
phase i mod 5 of (train, evaluate, score, query, label):

  train, score        hit from outside: the database is polled (through Project/Store, no SQL
                      here) until the phase is committed, then the kill follows after a random
                      delay (uniform over 0-1 s in train, 0-0.3 s in score);
  evaluate, query,    last milliseconds, so the process kills itself at a named point
  label               (GLTUI_FAULT, under GLTUI_TEST_FAULTS=1): the start of the phase, or for
                      label, half the time, inside the oracle's transaction after the labels
                      are written, before the commit.

The phase a kill landed in is read from the database afterwards and counted. With --random each
kill falls at a uniformly random instant of the run instead (the first version of this check;
most kills then land in train, the longest phase). A copy that reaches `done` is compared and a
fresh copy starts the next cycle, so kills land in every round. Each finished copy must equal the
reference: the same active labels (item, label, source, round), the same queues (item, rank,
status, label, score to 1e-6), a complete rounds table (same rounds, n_labeled, class
histograms, all finished), no duplicate active labels, `PRAGMA integrity_check` = ok, and no
`*.tmp` file left anywhere.

With --json the last line is one JSON object: kills, phases (phase -> kills), identical, seconds,
cycles, restarts, kill_log, problems. Exit status 0 when identical, 1 otherwise. Not a test (see
tests/test_reliability.py for the short version).
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
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from gltui.project import Project  # noqa: E402  (no torch: this process stays light)

SAMPLE_MNIST = REPO_ROOT / "sample_data" / "mnist"
POOL = 800
RUN_ARGS = ["--oracle", "--quiet", "--max-rounds", "3", "--chunk-size", "128"]


def make_npz(path: Path) -> Path:
    """The first 800 sample training digits (with labels) as an npz dataset."""
    from gltui.data import load

    train = load(f"folder:{SAMPLE_MNIST}").train
    np.savez(path, x=train.images[:POOL, 0], y=train.labels[:POOL])
    return path


def make_project(path: Path, npz: Path) -> Path:
    import contextlib

    from gltui.cli import main

    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the result (--json)
        code = main(["init", str(path), "--data", f"npz:{npz}", "--profile", "tiny",
                     "--val-size", "100", "--initial", "20", "--k", "2"])
    if code != 0:
        raise RuntimeError(f"gltui init failed with exit {code}")
    return path


def start_run(project: Path, run_args: list[str] = RUN_ARGS, env: dict | None = None,
              **kw) -> subprocess.Popen:
    """`python -m gltui run PROJECT ...` in a subprocess; `env` adds variables (GLTUI_FAULT...).

    The child gets SIGINT's default action back: a shell starts background jobs (`cmd &`) with
    SIGINT ignored, Python then installs no KeyboardInterrupt handler, and the Ctrl-C tests would
    test nothing when the suite itself runs in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "gltui", "run", str(project), *run_args], cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        preexec_fn=_default_sigint,
        stdout=kw.pop("stdout", subprocess.DEVNULL), stderr=kw.pop("stderr", subprocess.DEVNULL),
        **kw,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def phase_of(project: Path, run: str = "main") -> tuple[str, int]:
    """(phase, round) as committed in the database right now."""
    p = Project.open(project)
    try:
        row = p.store.run(run)
        return row.phase, row.round
    finally:
        p.close()


def final_state(project: Path, run: str = "main") -> dict:
    """Everything that must be identical between a killed-and-resumed and an uninterrupted run,
    plus the invariants (integrity, duplicates, temp files) as plain values."""
    p = Project.open(project)
    try:
        store = p.store
        row = store.run(run)
        labels = [(item, label, source, rnd)
                  for item, _, label, _, source, rnd, _ in store.labeled_detail(run)]
        rounds = store.rounds(run)
        queues = {
            r: [(e.item, e.rank, e.status, e.label, round(float(e.score), 6))
                for e in store.queue(run, r)]
            for r in range(row.round + 2)
        }
        return {
            "phase": row.phase, "round": row.round, "stop_reason": row.stop_reason,
            "labels": sorted(labels),
            "rounds": [(r.round, r.n_labeled, r.class_hist) for r in rounds],
            "rounds_finished": all(r.finished_at is not None for r in rounds),
            "queues": {r: q for r, q in queues.items() if q},
            "integrity": store.integrity_check(),
            "duplicates": store.duplicate_active_labels(),
            "tmp_files": sorted(str(f.relative_to(project)) for f in project.rglob("*.tmp")),
        }
    finally:
        p.close()


def compare(got: dict, want: dict) -> list[str]:
    """Problems found in `got` (a chaos copy) against `want` (the reference); [] when equal."""
    problems = []
    for key in ("phase", "round", "stop_reason", "labels", "rounds", "queues"):
        if got[key] != want[key]:
            problems.append(f"{key} differs")
    if not got["rounds_finished"]:
        problems.append("a round is not finished")
    if got["integrity"] != "ok":
        problems.append(f"integrity_check: {got['integrity']}")
    if got["duplicates"]:
        problems.append(f"{got['duplicates']} duplicate active labels")
    if got["tmp_files"]:
        problems.append(f"temp files left: {got['tmp_files']}")
    return problems


PHASES = ("train", "evaluate", "score", "query", "label")
LONG_PHASES = {"train": 1.0, "score": 0.3}  # phase -> window (s) after it is seen for the kill


def _kill_in(copy: Path, target: str, rng: random.Random) -> tuple[subprocess.Popen, str, float]:
    """Start `gltui run` on `copy` and SIGKILL it inside `target`. Returns the finished process,
    how the kill was placed, and the delay after the phase was seen (0 for a named point).

    train and score last long enough to be hit from outside: the database is polled until the
    phase is committed, then the kill follows after uniform(0, window) seconds. evaluate, query
    and label last milliseconds, which a poll from outside almost never hits, so the process
    kills itself at a named point (GLTUI_FAULT): the start of the phase, or, for label, half the
    time inside the oracle's transaction after the labels are written and before the commit."""
    if target not in LONG_PHASES:
        point = "label" if target == "label" and rng.random() < 0.5 else f"phase:{target}"
        proc = start_run(copy, env={"GLTUI_TEST_FAULTS": "1", "GLTUI_FAULT": point},
                         stderr=subprocess.PIPE)
        return proc, point, 0.0
    proc = start_run(copy, stderr=subprocess.PIPE)
    delay = rng.uniform(0.0, LONG_PHASES[target])
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline:
        if phase_of(copy)[0] == target:
            time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    return proc, f"{target} +{delay:.2f} s", delay


def chaos(n: int = 20, seed: int = 0, workdir: Path | None = None, min_delay: float = 0.5,
          log=lambda line: None, max_restarts: int = 400, spread: bool = True) -> dict:
    """Kill a real `gltui run` n times; return the summary (see module doc). With `spread` the
    kills cycle through the phases (train, evaluate, score, query, label; see _kill_in); without,
    each falls at a uniformly random instant of the run (most then land in train)."""
    started = time.time()
    own_tmp = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="gltui-chaos-")) if own_tmp else Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        npz = make_npz(workdir / "small.npz")
        template = make_project(workdir / "template", npz)

        ref = workdir / "uninterrupted"
        shutil.copytree(template, ref)
        t0 = time.time()
        proc = start_run(ref, stderr=subprocess.PIPE)
        _, err = proc.communicate()
        whole = time.time() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"uninterrupted run failed ({proc.returncode}): {err.decode()}")
        want = final_state(ref)
        reference_problems = compare(want, want)
        log(f"uninterrupted run: {whole:.1f} s, {len(want['rounds'])} rounds, "
            f"{len(want['labels'])} labels")

        rng = random.Random(seed)
        high = max(min_delay + 0.5, whole)
        kills, cycles, restarts = 0, 0, 0
        phases: Counter = Counter()
        kill_log: list[tuple[int, str, int, str]] = []
        problems: list[str] = list(reference_problems)
        while kills < n and restarts < max_restarts:
            cycles += 1
            copy = workdir / f"cycle{cycles:02d}"
            shutil.copytree(template, copy)
            while restarts < max_restarts:
                restarts += 1
                if kills >= n:  # the kills are spent: finish this copy undisturbed
                    proc, how = start_run(copy, stderr=subprocess.PIPE), "none"
                elif spread:
                    proc, how, _ = _kill_in(copy, PHASES[kills % len(PHASES)], rng)
                else:
                    proc = start_run(copy, stderr=subprocess.PIPE)
                    delay = rng.uniform(min_delay, high)
                    how = f"random +{delay:.2f} s"
                    try:
                        proc.wait(timeout=delay)
                    except subprocess.TimeoutExpired:
                        proc.send_signal(signal.SIGKILL)
                _, err = proc.communicate()
                if proc.returncode == -signal.SIGKILL:
                    phase, rnd = phase_of(copy)  # committed phase = the one the kill landed in
                    kills += 1
                    phases[phase] += 1
                    kill_log.append((cycles, phase, rnd, how))
                    log(f"kill {kills:2d}: cycle {cycles}, {how:>22}: {phase} round {rnd}")
                elif proc.returncode != 0:
                    problems.append(f"cycle {cycles}: gltui run exited {proc.returncode}: "
                                    f"{err.decode().strip()[-300:]}")
                    break
                if phase_of(copy)[0] == "done":
                    break
            got = final_state(copy)
            found = compare(got, want)
            problems += [f"cycle {cycles}: {p}" for p in found]
            log(f"cycle {cycles}: {'identical' if not found else '; '.join(found)}")
        if kills < n:
            problems.append(f"only {kills} of {n} kills in {restarts} starts")
        return {
            "kills": kills, "phases": dict(sorted(phases.items())), "identical": not problems,
            "spread": spread, "seconds": round(time.time() - started, 1), "cycles": cycles,
            "restarts": restarts, "uninterrupted_seconds": round(whole, 1),
            "n": n, "seed": seed, "kill_log": kill_log, "problems": problems,
        }
    finally:
        if own_tmp:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="SIGKILLs to deliver (default 20)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill-time RNG")
    ap.add_argument("--min-delay", type=float, default=0.5,
                    help="with --random: shortest sleep before a kill")
    ap.add_argument("--random", action="store_true",
                    help="kill at uniformly random instants instead of cycling through the phases")
    ap.add_argument("--workdir", type=Path, help="keep the projects here (default: a temp dir)")
    ap.add_argument("--json", action="store_true", help="one JSON object as the last line")
    args = ap.parse_args(argv)
    result = chaos(args.n, args.seed, args.workdir, args.min_delay, spread=not args.random,
                   log=lambda line: print(line, file=sys.stderr if args.json else sys.stdout,
                                          flush=True))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"kills {result['kills']}  phases {result['phases']}  identical "
              f"{result['identical']}  cycles {result['cycles']}  {result['seconds']} s")
        for p in result["problems"]:
            print(f"  problem: {p}")
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
