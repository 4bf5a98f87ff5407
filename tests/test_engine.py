"""The state machine: transitions, stop rules, and resume after a real SIGKILL in every phase.

The small project (tests/conftest.py) has 700 pool digits, a tiny training profile and k = 2, so
a round takes about a second. Kills are real SIGKILLs of a `gltui run` subprocess, placed either
at a named point (GLTUI_FAULT, armed by tests/faults_launch.py: tests/faults.py wraps gltui's
functions at the start of each phase, after an epoch checkpoint, after a scoring chunk, inside
the oracle's label transaction) or at a random instant, timed from the end of the child's start-up
(its GLTUI_STARTED marker: the run lock taken, torch imported, Runner.drive entered).

Every run compared with the uninterrupted one is the shared reference command (tests/conftest.py:
REFERENCE_ARGS, on the CPU with one torch thread), so the reference run is made once per session
and shared with tests/test_reliability.py and tests/test_distributed.py. Resumes run in this
process (no torch import per resume) with the same single thread.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REFERENCE_ARGS, REFERENCE_ENV, fault_env, final_state, gltui_command, run_gltui

from gltui.cli import main
from gltui.project import Project

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.chaos import holds_lock  # noqa: E402

RUN_ARGS = REFERENCE_ARGS  # --oracle --quiet --max-rounds 2 --chunk-size 64 --device cpu


def gltui(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return run_gltui(*args, env={**REFERENCE_ENV, **(env or {})}, **kw)


@pytest.fixture
def uninterrupted(reference_state) -> dict:
    return reference_state


def resume(project: Path) -> None:
    """The same command again, in this process (one thread, like the reference)."""
    assert main(["run", str(project), *RUN_ARGS]) == 0


def test_oracle_run_doubles_the_labeled_set_each_round(uninterrupted):
    assert uninterrupted["phase"] == "done"
    assert [n for _, n, _ in uninterrupted["rounds"]] == [20, 40]
    # Round r's labels came from the queue chosen by the model of round r-1.
    by_round = {}
    for _, _, source, rnd in uninterrupted["labels"]:
        by_round.setdefault(rnd, set()).add(source)
    assert by_round == {0: {"seed"}, 1: {"oracle"}}
    for _, n, hist in uninterrupted["rounds"]:
        assert sum(hist) == n


def test_stops_at_label_phase_without_oracle(fresh_project):
    assert main(["run", str(fresh_project), "--quiet", "--chunk-size", "256"]) == 0
    with Project.open(fresh_project) as project:
        s = project.summary("main")
        assert (s.phase, s.round, s.n_queued, s.n_labeled) == ("label", 1, 20, 20)
        queue = project.store.queue("main", 1)
        scores = [e.score for e in queue]
        assert scores == sorted(scores, reverse=True)  # most confusing first
        assert all(len(e.guesses) == 3 for e in queue)
    # Running again without the oracle changes nothing: the queue waits for a person.
    assert main(["run", str(fresh_project), "--quiet"]) == 0
    with Project.open(fresh_project) as again:
        assert again.summary("main").n_queued == 20


@pytest.mark.parametrize("fault", [  # the fast lane kills in scoring; the full suite everywhere
    *(pytest.param(f, marks=pytest.mark.slow)
      for f in ("phase:train", "epoch:2", "phase:evaluate")),
    "chunk:2",
    *(pytest.param(f, marks=pytest.mark.slow)
      for f in ("phase:score", "phase:query", "phase:label", "label")),
])
def test_resume_after_sigkill_equals_uninterrupted(fault, fresh_project, uninterrupted,
                                                   one_thread):
    killed = gltui("run", str(fresh_project), *RUN_ARGS, env=fault_env(fault))
    assert killed.returncode == -signal.SIGKILL, (fault, killed.stderr)
    assert final_state(fresh_project)["phase"] != "done"
    resume(fresh_project)
    assert final_state(fresh_project) == uninterrupted
    leftovers = [p for p in fresh_project.rglob("*.tmp")]
    assert leftovers == []


@pytest.mark.slow
def test_a_run_stopped_by_its_limit_goes_on_when_the_limit_is_raised(fresh_project, uninterrupted,
                                                                    one_thread):
    """`--max-rounds 1` ends the run after round 0; the same command with the reference's
    `--max-rounds 2` then goes on (round 0 scored and queried as if it had not stopped) and ends
    in the reference's state. A run still at its limit stays done."""
    once = [a if a != "2" else "1" for a in RUN_ARGS]  # --max-rounds 1
    assert main(["run", str(fresh_project), *once]) == 0
    assert final_state(fresh_project)["phase"] == "done"
    assert main(["run", str(fresh_project), *once]) == 0  # the limit stands: nothing moves
    with Project.open(fresh_project) as project:
        assert project.require_run("main").round == 0
    resume(fresh_project)  # --max-rounds 2
    assert final_state(fresh_project) == uninterrupted


@pytest.mark.slow
def test_the_package_has_no_fault_hook(fresh_project, uninterrupted):
    """Fault injection lives in tests/faults.py: no module of gltui/ reads a fault variable, and
    a plain `python -m gltui` with the old switch and a fault set runs to the end, untouched."""
    package = ROOT / "gltui"
    assert not (package / "faults.py").exists()
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert "GLTUI_FAULT" not in text and "GLTUI_TEST_FAULTS" not in text, path
    proc = subprocess.run(
        [sys.executable, "-m", "gltui", "run", str(fresh_project), *RUN_ARGS], cwd=ROOT,
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), **REFERENCE_ENV,
             "GLTUI_TEST_FAULTS": "1", "GLTUI_FAULT": "phase:score"})
    assert proc.returncode == 0, proc.stderr
    assert "fault" not in proc.stderr
    assert final_state(fresh_project) == uninterrupted


def test_malformed_fault_exits_2_with_one_line(fresh_project):
    """The test launcher refuses a fault it does not know before gltui is imported: one line,
    exit 2, nothing changed (a typo in a kill test fails loudly instead of never killing)."""
    before = final_state(fresh_project)
    proc = gltui("run", str(fresh_project), *RUN_ARGS, env=fault_env("crash"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gltui: GLTUI_FAULT=crash: "), lines
    assert final_state(fresh_project) == before


@pytest.mark.parametrize("fault", ["epoch:abc", "chunk:0", "phase:nope", "label:1",
                                   "person-label:2", "export:x", "add:nope"])
def test_malformed_fault_specs_are_refused(fault):
    import faults

    with pytest.raises(faults.FaultSpecError, match=f"^GLTUI_FAULT={fault}: "):
        faults.parse(fault)
    with pytest.raises(faults.FaultSpecError, match="^GLTUI_FAULT_SIGNAL=TERM: "):
        faults.parse("phase:train", "TERM")


@pytest.mark.slow
def test_resume_after_kills_at_random_instants(fresh_project, uninterrupted, one_thread,
                                                tmp_path):
    """Each kill falls uniform(0, 1.5) s after the child's start-up ended: it holds the run lock
    and its engine has entered Runner.drive (the GLTUI_STARTED marker, written after the torch
    import), so no kill lands in Python's start-up or the ~1.5 s torch import. The drive takes
    3.7 s uninterrupted on an idle AVX-512 machine (more on AVX2), so each life is likely cut
    short and the next resumes further on, till the run is done."""
    rng = random.Random(1234)
    kills = 0
    for i in range(12):
        marker = tmp_path / f"started-{i}"
        env = {**REFERENCE_ENV, "GLTUI_STARTED": str(marker)}
        proc = subprocess.Popen(
            [*gltui_command(env), "run", str(fresh_project), *RUN_ARGS], cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 120
        while proc.poll() is None and not (holds_lock(fresh_project, proc.pid)
                                           and marker.exists()):
            assert time.time() < deadline, "the run never started driving"
            time.sleep(0.01)
        assert proc.poll() is not None or marker.read_text() == str(proc.pid)
        time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if final_state(fresh_project)["phase"] == "done":
            break
    resume(fresh_project)
    assert kills >= 2
    assert final_state(fresh_project) == uninterrupted


def test_second_driver_is_refused(fresh_project, capsys):
    """This process holds the run lock (deterministic, no race with a first run's start-up); a
    second `gltui run` process is refused with one line, and a reader still works."""
    from gltui.project import run_lock

    with Project.open(fresh_project) as project:
        with run_lock(project, "main"):
            second = gltui("run", str(fresh_project), *RUN_ARGS)
            assert second.returncode == 2
            assert "being driven by another process" in second.stderr
            assert len(second.stderr.strip().splitlines()) == 1
            capsys.readouterr()
            assert main(["status", str(fresh_project), "--json"]) == 0  # readers still work
            assert '"phase"' in capsys.readouterr().out


@pytest.mark.slow
def test_budget_and_target_accuracy_stop_rules(fresh_project):
    assert main(["run", str(fresh_project), "--oracle", "--quiet", "--budget", "50",
                 "--chunk-size", "256"]) == 0
    with Project.open(fresh_project) as project:
        s = project.summary("main")
        assert s.phase == "done" and "budget" in s.stop_reason
        assert [r.n_labeled for r in s.rounds] == [20, 40, 50]  # the last batch is cut to fit


def test_target_accuracy_stops_after_the_round_that_reaches_it(fresh_project):
    assert main(["run", str(fresh_project), "--oracle", "--quiet", "--target-accuracy", "0.05",
                 "--chunk-size", "256"]) == 0
    with Project.open(fresh_project) as project:
        s = project.summary("main")
        assert s.phase == "done" and "target accuracy" in s.stop_reason
        assert len(s.rounds) == 1 and s.rounds[0].val_accuracy >= 0.05


@pytest.mark.slow
def test_runs_share_pool_validation_and_test(fresh_project):
    assert main(["run", str(fresh_project), "--run", "random-1", "--strategy", "random",
                 "--seed", "1", "--oracle", "--quiet", "--max-rounds", "2"]) == 0
    assert main(["run", str(fresh_project), "--run", "rde-1", "--strategy", "rde",
                 "--seed", "1", "--oracle", "--quiet", "--max-rounds", "2"]) == 0
    with Project.open(fresh_project) as project:
        rand, rde = project.summary("random-1"), project.summary("rde-1")
        assert rand.strategy == "random" and rde.strategy == "rde"
        seeds_rand = [i for i, _, src, r in _labels(project, "random-1") if src == "seed"]
        seeds_rde = [i for i, _, src, r in _labels(project, "rde-1") if src == "seed"]
        assert seeds_rand == seeds_rde  # same seed, same starting set
        picked_rand = {i for i, _, src, _ in _labels(project, "random-1") if src == "oracle"}
        picked_rde = {i for i, _, src, _ in _labels(project, "rde-1") if src == "oracle"}
        assert picked_rand != picked_rde
        # Both were evaluated on the same test split.
        assert rand.rounds[0].test_accuracy is not None and rde.rounds[0].test_accuracy is not None


def _labels(project, run):
    """(item, label, source, round) of the run's active labels, by item (through the Store)."""
    return sorted((item, label, source, rnd)
                  for item, _, label, _, source, rnd, _ in project.store.labeled_detail(run))


@pytest.mark.slow
def test_damaged_model_file_is_retrained_to_the_same_result(fresh_project, uninterrupted,
                                                            one_thread):
    killed = gltui("run", str(fresh_project), *RUN_ARGS, env=fault_env("phase:score"))
    assert killed.returncode == -signal.SIGKILL
    model = fresh_project / "checkpoints" / "main" / "model-round000.pt"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])  # a disk fault
    resume(fresh_project)
    assert final_state(fresh_project) == uninterrupted


@pytest.mark.parametrize("keep", [0.5, 0.0], ids=["half", "empty"])
@pytest.mark.slow
def test_truncated_epoch_checkpoint_restarts_the_round_to_the_same_result(
        keep, fresh_project, uninterrupted, one_thread):
    killed = gltui("run", str(fresh_project), *RUN_ARGS, env=fault_env("epoch:2"))
    assert killed.returncode == -signal.SIGKILL
    ckpt = fresh_project / "checkpoints" / "main" / "train-round000.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[: int(ckpt.stat().st_size * keep)])  # a disk fault
    resume(fresh_project)
    assert final_state(fresh_project) == uninterrupted
    assert not ckpt.exists()  # the round finished and its epoch checkpoint was cleared


@pytest.mark.slow
def test_disk_full_while_checkpointing_exits_2_and_leaves_no_temp_file(
        fresh_project, monkeypatch, capsys):
    import errno
    import os

    real_fsync = os.fsync

    def full_disk(fd):
        # the bytes reached the temp file's pages; the disk fills as they are flushed (delayed
        # allocation: the write succeeds and fsync fails). torch.save writes into memory first
        # (roundmodel.torch_bytes), so the file's write is where a full disk shows.
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    capsys.readouterr()
    assert main(["run", str(fresh_project), *RUN_ARGS]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the disk is full" in err[0] and ".tmp" not in err[0], err
    assert list(fresh_project.rglob("*.tmp")) == []
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert main(["run", str(fresh_project), *RUN_ARGS]) == 0
    with Project.open(fresh_project) as project:
        assert project.summary("main").phase == "done"


def test_a_run_whose_selectable_pool_runs_out_ends_with_pool_exhausted(tmp_path):
    """Every pool image but the stop set (held out, never queued) gets labeled: the run ends
    "pool exhausted" rather than scoring an empty pool and failing in its query (a person's
    small project: its last 24 pool images were the stop set)."""
    import numpy as np
    from conftest import SAMPLE_MNIST, read_digits

    x, y = read_digits(SAMPLE_MNIST, 80)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    path = tmp_path / "proj"
    assert main(["init", str(path), "--data", f"npz:{tmp_path / 'd.npz'}", "--profile", "tiny",
                 "--val-size", "0", "--audit", "0", "--initial", "20", "--k", "2",
                 "--semi", "off", "--schedule", "fixed:20"]) == 0
    assert main(["run", str(path), "--oracle", "--quiet", "--device", "cpu"]) == 0
    with Project.open(path) as project:
        row = project.store.run("main")
        stop = project.stop_set(project.run_config("main").loop.stop_set)
        labeled = project.store.count_labeled("main")
    assert row.phase == "done" and row.stop_reason == "pool exhausted", row
    assert len(stop) > 0 and labeled == 80 - len(stop)
