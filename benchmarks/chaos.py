"""Chaos check: SIGKILL a real `gltui run` N times, spread over every phase, and compare with an
uninterrupted run.

    .venv/bin/python benchmarks/chaos.py [--n 20] [--seed 0] [--json] [--workdir DIR] [--random]

It builds a small project (the first 800 sample digits as npz, tiny profile, 100 validation
images, 20 seed labels, k = 2), runs `python -m gltui run P --oracle --quiet --max-rounds 3
--chunk-size 128` once without interruption (the reference), then, on fresh copies of the same
project, starts that command and SIGKILLs it, restarting it until the run is done. Kill i aims at
phase i mod 5 of (train, evaluate, score, query, label):

  train, score        hit from outside, timed from the moment the child is past its start-up:
                      it holds the run lock (the lock file names its pid), its engine has
                      started driving (the child, started through tests/faults_launch.py with
                      GLTUI_STARTED, writes a marker file when it enters `Runner.drive`: after
                      the lock and the torch import), and the database or the epoch checkpoint
                      shows its engine at work in the target phase (the phase moved there, a
                      scoring chunk was committed, or an epoch checkpoint was written since it
                      took the lock); then the kill follows after a random delay (uniform over
                      0-1 s in train, 0-0.3 s in score). Polled through Project/Store, no SQL;
  evaluate, query,    last milliseconds, so the process kills itself at a named point
  label               (GLTUI_FAULT, armed by tests/faults_launch.py; the package has no fault
                      hook): the start of the phase, or for label, half the time, inside the
                      oracle's transaction after the labels are written, before the commit.

The phase a kill landed in is read from the database afterwards and counted, and so are the kills
that landed after the child's start-up (`phases_after_startup`): the named points are inside the
engine by construction; a kill from outside counts only if the child's start-up marker was
there before the kill. A Python that imports torch takes ~1.5 s to start, so a kill clock started
with the process (the first version) put many "train" kills into the start-up. With --random
each kill falls uniform(--min-delay, the uninterrupted run's length) seconds after the child's
start-up marker (most kills then land in train, the longest phase). A copy that reaches `done` is
compared and a fresh copy starts the next cycle, so kills land in every round. Each finished copy
must equal the reference: the same active labels (item, label, source, round), the same queues
(item, rank, status, label, score to 1e-6), a complete rounds table (same rounds, n_labeled,
class histograms, all finished), no duplicate active labels, `PRAGMA integrity_check` = ok, and
no `*.tmp` file left anywhere.

With --json the last line is one JSON object: kills, phases (phase -> kills),
phases_after_startup, identical, seconds, cycles, restarts, kill_log (cycle, phase, round, how,
seconds from the end of the child's start-up to the kill or null, after start-up), problems.
Exit status 0 when identical, 1 otherwise. Not a test (see
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
    """`python -m gltui run PROJECT ...` in a subprocess; `env` adds variables. With GLTUI_FAULT
    among them it starts through tests/faults_launch.py, which arms that fault (tests/faults.py).

    The child gets SIGINT's default action back: a shell starts background jobs (`cmd &`) with
    SIGINT ignored, Python then installs no KeyboardInterrupt handler, and the Ctrl-C tests would
    test nothing when the suite itself runs in the background."""
    return subprocess.Popen(
        [*gltui_command(env), "run", str(project), *run_args], cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        preexec_fn=_default_sigint,
        stdout=kw.pop("stdout", subprocess.DEVNULL), stderr=kw.pop("stderr", subprocess.DEVNULL),
        **kw,
    )


def gltui_command(env: dict | None = None) -> list[str]:
    """`python -m gltui`, or `python tests/faults_launch.py` when `env` names a GLTUI_FAULT or
    GLTUI_STARTED (test hooks the package does not have)."""
    if env and (env.get("GLTUI_FAULT") or env.get("GLTUI_STARTED")):
        return [sys.executable, str(REPO_ROOT / "tests" / "faults_launch.py")]
    return [sys.executable, "-m", "gltui"]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def phase_of(project: Path, run: str = "main") -> tuple[str, int]:
    """(phase, round) as committed in the database right now."""
    with Project.open(project) as p:
        row = p.store.run(run)
        return row.phase, row.round


def final_state(project: Path, run: str = "main") -> dict:
    """Everything that must be identical between a killed-and-resumed and an uninterrupted run,
    plus the invariants (integrity, duplicates, temp files) as plain values."""
    with Project.open(project) as p:
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


def holds_lock(project: Path, pid: int, run: str = "main") -> bool:
    """Whether process `pid` holds the run lock: the lock file names the holder's pid
    (gltui.project.run_lock writes it right after taking the flock)."""
    try:
        text = (project / "checkpoints" / run / "lock").read_text()
    except OSError:
        return False
    return text.split()[1:2] == [str(pid)]


def progress_mark(project: Path, run: str = "main") -> tuple:
    """What changes when the engine does work: the committed phase and round, the number of
    committed scoring chunks of the round, and the round's epoch checkpoint (its mtime)."""
    with Project.open(project) as p:
        row = p.store.run(run)
        chunks = len(p.store.done_chunks(run, row.round)) if row.phase == "score" else 0
    ckpt = project / "checkpoints" / run / f"train-round{row.round:03d}.ckpt"
    try:
        mtime = ckpt.stat().st_mtime_ns
    except OSError:
        mtime = 0
    return row.phase, row.round, chunks, mtime


def started_env(env: dict | None, marker: Path) -> dict:
    """`env` plus GLTUI_STARTED: the child (through tests/faults_launch.py) writes its pid to
    `marker` when its engine starts driving, after the run lock and the torch import."""
    marker.unlink(missing_ok=True)
    return {**(env or {}), "GLTUI_STARTED": str(marker)}


class Watch:
    """Follows a child from outside: when it took the run lock, when its start-up ended (the
    GLTUI_STARTED marker: the engine entered `Runner.drive`, torch imported), and whether its
    engine has visibly worked since the lock (the progress mark moved)."""

    def __init__(self, project: Path, proc: subprocess.Popen, marker: Path):
        self.project, self.proc, self.marker = project, proc, marker
        self.locked_at: float | None = None
        self.started_at: float | None = None
        self.mark: tuple | None = None
        self.worked = False

    def poll(self) -> None:
        if self.locked_at is None:
            if not holds_lock(self.project, self.proc.pid):
                return
            self.locked_at, self.mark = time.time(), progress_mark(self.project)
        if self.started_at is None and self.marker.exists():
            self.started_at = time.time()
        if not self.worked and progress_mark(self.project) != self.mark:
            self.worked = True

    @property
    def started(self) -> bool:
        return self.started_at is not None

    def kill(self) -> tuple[float | None, bool]:
        """SIGKILL now; returns (seconds since the child's start-up ended, whether it had)."""
        self.poll()
        if self.proc.poll() is not None:
            return None, False
        self.proc.send_signal(signal.SIGKILL)
        since = None if self.started_at is None else round(time.time() - self.started_at, 3)
        return since, self.started


def _kill_in(copy: Path, target: str, rng: random.Random, run_args: list[str] = RUN_ARGS,
             env: dict | None = None) -> tuple[subprocess.Popen, str, float | None, bool]:
    """Start `gltui run` on `copy` and SIGKILL it inside `target`. Returns the finished process,
    how the kill was placed, the seconds from the end of the child's start-up (its marker) to
    the kill (None for a named point) and whether the kill came after the child's start-up.

    train and score last long enough to be hit from outside: the clock starts once the child
    holds the run lock and the phase is `target` with the engine visibly at work in it (the
    phase moved there, or a chunk or an epoch checkpoint appeared, since the lock was taken);
    the kill follows after uniform(0, window) seconds. evaluate, query and label last
    milliseconds, which a poll from outside almost never hits, so the process kills itself at a
    named point (GLTUI_FAULT): the start of the phase, or, for label, half the time inside the
    oracle's transaction after the labels are written and before the commit."""
    if target not in LONG_PHASES:
        point = "label" if target == "label" and rng.random() < 0.5 else f"phase:{target}"
        proc = start_run(copy, run_args, env={**(env or {}), "GLTUI_FAULT": point},
                         stderr=subprocess.PIPE)
        return proc, point, None, True
    marker = copy.parent / f"{copy.name}.started"
    proc = start_run(copy, run_args, env=started_env(env, marker), stderr=subprocess.PIPE)
    watch = Watch(copy, proc, marker)
    delay = rng.uniform(0.0, LONG_PHASES[target])
    deadline = time.time() + 120
    since, after = None, False
    while proc.poll() is None and time.time() < deadline:
        watch.poll()
        if watch.started and watch.worked and phase_of(copy)[0] == target:
            time.sleep(delay)
            since, after = watch.kill()
            break
        time.sleep(0.005)
    return proc, f"{target} +{delay:.2f} s after its work was seen", since, after


def chaos(n: int = 20, seed: int = 0, workdir: Path | None = None, min_delay: float = 0.5,
          log=lambda line: None, max_restarts: int = 400, spread: bool = True,
          template: Path | None = None, reference: Path | None = None,
          run_args: list[str] = RUN_ARGS, env: dict | None = None) -> dict:
    """Kill a real `gltui run` n times; return the summary (see module doc). With `spread` the
    kills cycle through the phases (train, evaluate, score, query, label; see _kill_in); without,
    each falls at a uniformly random instant of the run (most then land in train).

    `template` (a fresh project) and `reference` (a copy of it after an uninterrupted `gltui run
    ... run_args` with `env`) let a caller that already has both (the tests) skip building them;
    by default both are made here."""
    started = time.time()
    own_tmp = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="gltui-chaos-")) if own_tmp else Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if template is None:
            npz = make_npz(workdir / "small.npz")
            template = make_project(workdir / "template", npz)
        t0, whole = time.time(), None
        if reference is None:
            reference = workdir / "uninterrupted"
            shutil.copytree(template, reference)
            proc = start_run(reference, run_args, env=env, stderr=subprocess.PIPE)
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"uninterrupted run failed ({proc.returncode}): {err.decode()}")
            whole = time.time() - t0
        want = final_state(reference)
        reference_problems = compare(want, want)
        log(f"uninterrupted run: {'given' if whole is None else f'{whole:.1f} s'}, "
            f"{len(want['rounds'])} rounds, "
            f"{len(want['labels'])} labels")

        rng = random.Random(seed)
        high = max(min_delay + 0.5, whole or 0.0)
        kills, cycles, restarts = 0, 0, 0
        phases: Counter = Counter()
        after_startup: Counter = Counter()
        kill_log: list[tuple[int, str, int, str, float | None, bool]] = []
        problems: list[str] = list(reference_problems)
        while kills < n and restarts < max_restarts:
            cycles += 1
            copy = workdir / f"cycle{cycles:02d}"
            shutil.copytree(template, copy)
            while restarts < max_restarts:
                restarts += 1
                since, after = None, False
                if kills >= n:  # the kills are spent: finish this copy undisturbed
                    proc, how = start_run(copy, run_args, env=env, stderr=subprocess.PIPE), "none"
                elif spread:
                    proc, how, since, after = _kill_in(copy, PHASES[kills % len(PHASES)], rng,
                                                       run_args, env)
                else:
                    marker = copy.parent / f"{copy.name}.started"
                    proc = start_run(copy, run_args, env=started_env(env, marker),
                                     stderr=subprocess.PIPE)
                    delay = rng.uniform(min_delay, high)
                    how = f"random +{delay:.2f} s after start-up"
                    watch, deadline = Watch(copy, proc, marker), time.time() + 120
                    while proc.poll() is None and not watch.started and time.time() < deadline:
                        watch.poll()
                        time.sleep(0.005)
                    until = time.time() + delay
                    while proc.poll() is None and time.time() < until:
                        time.sleep(0.005)
                    since, after = watch.kill()
                _, err = proc.communicate()
                if proc.returncode == -signal.SIGKILL:
                    phase, rnd = phase_of(copy)  # committed phase = the one the kill landed in
                    kills += 1
                    phases[phase] += 1
                    after_startup[phase] += after
                    kill_log.append((cycles, phase, rnd, how, since, after))
                    log(f"kill {kills:2d}: cycle {cycles}, {how}: {phase} round {rnd}"
                        f"{'' if since is None else f', {since:.2f} s after start-up'}"
                        f"{'' if after else ' (in start-up)'}")
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
            "kills": kills, "phases": dict(sorted(phases.items())),
            "phases_after_startup": dict(sorted(after_startup.items())),
            "identical": not problems,
            "spread": spread, "seconds": round(time.time() - started, 1), "cycles": cycles,
            "restarts": restarts, "uninterrupted_seconds": whole and round(whole, 1),
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
        print(f"kills {result['kills']}  phases {result['phases']}  after start-up "
              f"{result['phases_after_startup']}  identical "
              f"{result['identical']}  cycles {result['cycles']}  {result['seconds']} s")
        for p in result["problems"]:
            print(f"  problem: {p}")
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
