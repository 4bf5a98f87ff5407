"""Property-based tests of the engine with a person at the keyboard and crashes in between.

hypothesis drives a real Runner on the small project (tests/conftest.py) through random
sequences of: a person's label / skip / undo / finishing the queue (each a committed transaction
through Labeler), a person's label that crashes inside its open transaction (the `person-label`
fault point, before COMMIT), `advance` (the engine drives the run until it waits for a person again
or is done; with the oracle on, it labels what is still pending in one transaction), and `advance`
that crashes at the n-th fault point of the engine (the start of any phase, after any epoch
checkpoint, after any scoring chunk, and inside the oracle's open label transaction), followed by
a restart on a fresh connection. Scoring passes have 10-11 chunks (chunk size 64), so a crash after
a chunk leaves a pass half done and the next drive resumes it in the middle.

The crash is an exception raised where tests/test_engine.py sends a real SIGKILL: it unwinds
through the open transaction (rolled back) like a dying process whose transaction never commits;
the real SIGKILLs at the same points are in tests/test_engine.py, tests/test_faults_tx.py,
tests/test_reliability.py and benchmarks/chaos.py. tests/test_mutation.py plants a bug in a copy
of the package and shows this test failing.

Reproducible on any machine: the engine runs on the CPU with 2 torch threads (the scoring forward
batch follows the thread count, and a GPU's floats differ), and hypothesis is derandomized, so the
same sequences run everywhere and the counts asserted at the end (crashes of each kind, a pass
resumed in the middle, a run reaching `done`) do not depend on the machine or on which tests ran
before in the same process.

Invariants after every step, against a plain-Python model of what the person did:
- the active labels are exactly the seed labels plus the person's (no label disappears, none
  appears, undo takes back exactly the last action of the round);
- each pool item is in exactly one of: unlabeled pool, labeled; the current queue's entries not
  labeled are in the unlabeled pool; labeled + unlabeled == pool size;
- the queue's statuses match the model;
- the round and the rounds table only grow; integrity_check is ok; no item has two active labels.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import faults  # tests/faults.py: the fault points, wrapped around gltui's functions
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from gltui.config import Config
from gltui.project import Labeler, Project, run_lock
from gltui.run import engine

MAX_ROUNDS = 3  # rounds 0, 1, 2: two queues for the person, then done
CHUNK_SIZE = 64  # 640-680 candidates: 10-11 chunks a pass
THREADS = 2


class Crash(BaseException):
    """Stands in for SIGKILL at an engine fault point (BaseException: nothing catches it)."""


@pytest.fixture
def pinned_threads():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


# The default 600 s timeout was hit on 2 cores at a load average of ~15 (other test runs beside
# it); a timeout inside a hypothesis example is then reported as a flaky replay, not as slowness.
@pytest.mark.timeout(1800)
@pytest.mark.slow
def test_person_and_engine_with_crashes_keep_the_invariants(label_project, monkeypatch,
                                                            pinned_threads, capsys):
    template = label_project  # round 0 trained, round 1's 20 images queued for a person
    with Project.open(template) as project:
        config = Config.from_json(project.require_run("main").config)
        config.loop.max_rounds = MAX_ROUNDS
        config.score.chunk_size = CHUNK_SIZE
        project.store.set_run_config("main", config.to_json(),
                                     {"max_rounds": MAX_ROUNDS, "chunk_size": CHUNK_SIZE})

    fault_calls = {"n": 0, "crash_at": None, "crash_on": None, "person": False, "points": []}
    # across examples: the test must have exercised each kind of crash and a finished run
    seen = {"crashes": 0, "in_transaction": 0, "person_label": 0, "mid_pass": 0, "done": 0}

    def fault_point(point: str) -> None:
        if point == "person-label":
            if fault_calls["person"]:
                raise Crash(point)
            return
        fault_calls["n"] += 1
        fault_calls["points"].append(point)
        if fault_calls["n"] == fault_calls["crash_at"] or point == fault_calls["crash_on"]:
            raise Crash(point)

    faults.install(fault_point, monkeypatch.setattr)  # undone after the test

    class EngineMachine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.dir = tempfile.TemporaryDirectory()
            self.path = Path(self.dir.name) / "proj"
            shutil.copytree(template, self.path)
            self.project = Project.open(self.path)
            self.labeler = Labeler(self.project, "main")
            items, labels = self.project.store.labeled("main")
            self.labels = dict(zip(items.tolist(), labels.tolist()))  # the model: item -> label
            self.pool = set(self.project.store.unlabeled_pool("main").tolist()) | set(self.labels)
            self._new_round()

        def teardown(self):
            if hasattr(self, "project"):
                seen["done"] += self.phase == "done"
                self.project.close()
                self.dir.cleanup()

        def _new_round(self):
            row = self.project.require_run("main")
            self.round, self.phase = row.round, row.phase
            self.n_rounds = len(self.project.store.rounds("main"))
            self.actions: list[tuple[str, int, int | None]] = []  # this round's, for undo
            self.status = {e.item: e.status for e in self.labeler.queue()}

        def _pending(self) -> list[int]:
            return sorted(i for i, s in self.status.items() if s == "pending")

        def _restart(self):
            self.project.close()
            self.project = Project.open(self.path)
            self.labeler = Labeler(self.project, "main")

        # -- the person ----------------------------------------------------------------------

        # A few single actions per round, then the person finishes the queue: keeps the number
        # of steps to reach `done` small enough for hypothesis to get there.
        @precondition(lambda self: self.phase == "label" and self._pending()
                      and len(self.actions) < 5)
        @rule(pick=st.integers(0, 100), label=st.integers(0, 9))
        def label(self, pick, label):
            pending = self._pending()
            item = pending[pick % len(pending)]
            self.labeler.label(item, label)
            self.actions.append(("label", item, self.labels.get(item)))
            self.labels[item], self.status[item] = label, "labeled"

        @precondition(lambda self: self.phase == "label" and self._pending()
                      and len(self.actions) < 5)
        @rule(pick=st.integers(0, 100))
        def skip(self, pick):
            pending = self._pending()
            item = pending[pick % len(pending)]
            self.labeler.skip(item)
            self.actions.append(("skip", item, None))
            self.status[item] = "skipped"

        @precondition(lambda self: self.phase == "label")
        @rule()
        def undo(self):
            got = self.labeler.undo()
            if not self.actions:
                assert got is None
                return
            kind, item, _ = self.actions.pop()
            assert got == item
            if kind == "label":
                del self.labels[item]
            self.status[item] = "pending"

        @precondition(lambda self: self.phase == "label" and self._pending())
        @rule(label=st.integers(0, 9))
        def finish_queue(self, label):
            """The person labels every image still pending, one commit each."""
            for item in self._pending():
                self.labeler.label(item, label)
                self.actions.append(("label", item, self.labels.get(item)))
                self.labels[item], self.status[item] = label, "labeled"

        @precondition(lambda self: self.phase == "label" and self._pending())
        @rule(pick=st.integers(0, 100), label=st.integers(0, 9))
        def label_killed(self, pick, label):
            """The process dies inside a person's label transaction, after the label row, the
            queue entry and the event are written, before COMMIT: none of it is there after the
            restart (the model does not change)."""
            pending = self._pending()
            fault_calls["person"] = True
            try:
                self.labeler.label(pending[pick % len(pending)], label)
                raise AssertionError("the person-label fault point was not reached")
            except Crash:
                seen["person_label"] += 1
            finally:
                fault_calls["person"] = False
            self._restart()

        @rule()
        def restart(self):
            """The process dies between keypresses and comes back: every commit is there."""
            self._restart()

        # -- the engine ----------------------------------------------------------------------

        @precondition(lambda self: self.phase != "done" and not self._pending())
        @rule(crash_at=st.integers(1, 24))
        def advance(self, crash_at):
            """The engine drives until a person is needed or the run is done, unless it dies
            first at its crash_at-th fault point (a round has about 21: 5 phase starts, up to 4
            epochs, 10-11 chunks, and the label transaction when the oracle labels; so most drives
            die, each after committing some progress), and is then restarted on a fresh
            connection."""
            self._drive(crash_at, oracle=False)

        @precondition(lambda self: self.phase != "done" and self._pending())
        @rule(crash_at=st.integers(1, 24), in_transaction=st.booleans())
        def advance_with_oracle(self, crash_at, in_transaction):
            """The person switches the oracle on with images still pending: the engine labels
            them with their true labels in one transaction, then drives on. With
            in_transaction the drive dies at the `label` point, inside that transaction after
            all its labels are written and before COMMIT; otherwise at its crash_at-th point."""
            self._drive(crash_at, oracle=True, crash_on="label" if in_transaction else None)

        def _drive(self, crash_at, oracle, crash_on=None):
            fault_calls["n"], fault_calls["crash_at"], fault_calls["points"] = 0, crash_at, []
            fault_calls["crash_on"] = crash_on
            pending = self._pending()
            crashed = None
            try:
                with run_lock(self.project, "main"):
                    # the oracle labels this round's queue only: asked once per label phase
                    answers = iter([oracle])
                    options = engine.RunOptions(oracle=lambda: next(answers, False),
                                                device="cpu")
                    engine.Runner(self.project, "main", options).drive()
            except Crash as crash:
                crashed = crash.args[0]
                seen["crashes"] += 1  # counted across examples
                seen["in_transaction"] += crashed == "label"
                self._restart()
            finally:
                fault_calls["crash_at"] = fault_calls["crash_on"] = None
            points = fault_calls["points"]
            if crashed == "chunk":
                scored = self.project.require_run("main").round
                _, _, n_chunks = self.project.store.scoring_pass("main", scored)
                seen["mid_pass"] += len(self.project.store.done_chunks("main", scored)) < n_chunks
            # The oracle's transaction committed iff the drive got past its `label` point.
            if "label" in points and crashed != "label":
                truth = self.project.store.true_labels(np.asarray(pending, dtype=np.int64))
                for item, label in zip(pending, truth.tolist()):
                    self.labels[item], self.status[item] = label, "labeled"
            row = self.project.require_run("main")
            if row.round != self.round:  # a new queue: the person starts afresh
                self._new_round()
            else:
                self.phase = row.phase

        # -- invariants ----------------------------------------------------------------------

        @invariant()
        def labels_match_the_model(self):
            items, labels = self.project.store.labeled("main")
            assert dict(zip(items.tolist(), labels.tolist())) == self.labels
            assert self.project.store.duplicate_active_labels() == 0

        @invariant()
        def every_item_in_exactly_one_place(self):
            store = self.project.store
            labeled = set(store.labeled("main")[0].tolist())
            unlabeled = set(store.unlabeled_pool("main").tolist())
            assert labeled.isdisjoint(unlabeled) and labeled | unlabeled == self.pool
            assert (store.count_labeled("main") + store.count_unlabeled_pool("main")
                    == len(self.pool))
            queue = {e.item: e.status for e in store.queue("main", self.round)}
            assert queue == self.status
            assert all(i in unlabeled for i, s in queue.items() if s != "labeled")

        @invariant()
        def rounds_only_grow(self):
            row = self.project.require_run("main")
            rounds = len(self.project.store.rounds("main"))
            assert row.round >= self.round and rounds >= self.n_rounds
            self.n_rounds = rounds

        @invariant()
        def database_is_whole(self):
            assert self.project.store.integrity_check() == "ok"

    run_state_machine_as_test(EngineMachine, settings=settings(
        # derandomize: the same examples every run, so CI is stable and the counts asserted
        # below (crashes happened, a run finished) hold by construction, not by luck.
        max_examples=10, stateful_step_count=20, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    ))
    with capsys.disabled():
        print(f"\nengine property test: {seen}")
    assert seen["crashes"] >= 5 and seen["done"] >= 1, seen
    assert seen["in_transaction"] >= 1 and seen["person_label"] >= 1, seen
    assert seen["mid_pass"] >= 1, seen
