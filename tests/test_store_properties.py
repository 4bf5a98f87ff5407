"""Property-based tests of the store: random sequences of label, skip, undo, advance and reopen
keep the invariants, checked against a plain-Python model of what a person did.

Invariants after every step:
- each pool item is in exactly one of: unlabeled pool, labeled (and, while queued, pending);
- labeled + unlabeled pool == pool size; no item has two active labels;
- the active labels equal the model's (no label disappears, undo takes back exactly the last
  action of the round);
- rounds only grow.
"""

from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gltui.store import Store

N_POOL, N_CLASSES = 30, 3


class StoreMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        import tempfile
        from pathlib import Path

        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "gltui.db"
        self.store = Store(self.path, create=True)
        self.store.insert_dataset([str(c) for c in range(N_CLASSES)],
                                  [f"{i}.png" for i in range(N_POOL)],
                                  np.zeros(N_POOL, dtype=np.uint8),
                                  np.arange(N_POOL, dtype=np.int64) % N_CLASSES)
        self.store.create_run("r", "rde", 0, "{}", np.array([0, 1]), np.array([0, 1]))
        self.round = 0
        self.labels = {0: 0, 1: 1}  # the model: item -> active label
        self.actions: list[tuple] = []  # this round's label/skip actions, for undo
        self.status: dict[int, str] = {}  # this round's queue: item -> pending|labeled|skipped

    def teardown(self):
        self.store.close()
        self.dir.cleanup()

    # -- rules ---------------------------------------------------------------------------------

    @rule(size=st.integers(1, 5))
    def advance(self, size):
        """query: a new round queues some unlabeled pool items (what the engine does)."""
        pool = self.store.unlabeled_pool("r")
        items = pool[:size]
        self.round += 1
        self.store.write_queue("r", self.round, items, np.linspace(1, 0, len(items)),
                               [[[0, 1.0]]] * len(items), "label")
        self.actions, self.status = [], {int(i): "pending" for i in items}

    @precondition(lambda self: any(s == "pending" for s in self.status.values()))
    @rule(pick=st.integers(0, 100), label=st.integers(0, N_CLASSES - 1))
    def label(self, pick, label):
        pending = sorted(i for i, s in self.status.items() if s == "pending")
        item = pending[pick % len(pending)]
        self.store.add_label("r", self.round, item, label, "human")
        self.actions.append(("label", item, self.labels.get(item)))
        self.labels[item], self.status[item] = label, "labeled"

    @precondition(lambda self: any(s == "pending" for s in self.status.values()))
    @rule(pick=st.integers(0, 100))
    def skip(self, pick):
        pending = sorted(i for i, s in self.status.items() if s == "pending")
        item = pending[pick % len(pending)]
        self.store.skip("r", self.round, item)
        self.actions.append(("skip", item, None))
        self.status[item] = "skipped"

    @rule()
    def undo(self):
        got = self.store.undo_last("r", self.round)
        if not self.actions:
            assert got is None
            return
        kind, item, _ = self.actions.pop()
        assert got == item
        if kind == "label":
            del self.labels[item]
        self.status[item] = "pending"

    @rule()
    def reopen(self):
        """A process that dies and comes back: a fresh connection sees every commit."""
        self.store.close()
        self.store = Store(self.path)

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def labels_match_the_model(self):
        items, labels = self.store.labeled("r")
        assert dict(zip(items.tolist(), labels.tolist())) == self.labels
        assert self.store.duplicate_active_labels() == 0

    @invariant()
    def every_item_in_exactly_one_place(self):
        labeled = set(self.store.labeled("r")[0].tolist())
        unlabeled = set(self.store.unlabeled_pool("r").tolist())
        assert labeled.isdisjoint(unlabeled)
        assert labeled | unlabeled == set(range(N_POOL))
        assert self.store.count_labeled("r") + self.store.count_unlabeled_pool("r") == N_POOL
        queue = {e.item: e.status for e in self.store.queue("r", self.round)}
        assert queue == self.status
        assert all(i in unlabeled for i, s in queue.items() if s != "labeled")

    @invariant()
    def rounds_only_grow(self):
        assert self.store.run("r").round == self.round


StoreMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestStoreProperties = StoreMachine.TestCase
