"""`gltui predict`: the round model's class, probability and rde score for every unlabeled pool
image of a run, stored in the project (store/predictions.py) for the exports.

The pass goes through the scoring loop (learn/score.predict_chunks: the same batched device path,
chunks, seeds and augmentation as a scoring pass) and commits each chunk as it finishes; a
resumed predict over the same round and pool skips the chunks already stored. The rde draws of
chunk i come from derive_seed(derive_seed(run seed, round, "predict"), i), so a resumed pass
stores exactly what an uninterrupted one would have (on the CPU). The run's lock is held
throughout: a run being driven and its predictions never interleave.

The round's network comes from outputs/roundmodel.py. Imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gltui.learn import score as scoring
from gltui.learn.augment import make_augment
from gltui.learn.device import ItemRows, pool_on, resolve_device
from gltui.learn.seeding import derive_seed
from gltui.outputs import roundmodel
from gltui.outputs.roundmodel import finished_round, load_finished, network
from gltui.project import Project, run_lock
from gltui.project.classes import ClassList


@dataclass
class PredictOutcome:
    run: str
    round: int
    n_items: int  # unlabeled pool images predicted
    computed: int  # chunks computed by this call (the rest were stored already)
    n_chunks: int
    class_counts: dict[str, int]  # predicted images per class
    mean_probability: float

    def line(self) -> str:
        counts = ", ".join(f"{c} {n}" for c, n in self.class_counts.items() if n)
        resumed = (f"; {self.n_chunks - self.computed} of {self.n_chunks} chunks were stored "
                   "already" if self.computed < self.n_chunks else "")
        return (f"predicted {self.n_items} unlabeled images of run {self.run!r} with the round "
                f"{self.round} model: mean probability {self.mean_probability:.3f}"
                f"{f' ({counts})' if counts else ''}{resumed}")


def predict(project: Project, run: str = "main", round: int | None = None, *,
            device: str | None = None, on_chunk: Callable[[int, int], None] | None = None
            ) -> PredictOutcome:
    """Predict every unlabeled pool image of `run` with its round model (default: the latest
    finished round) and store the result; resumes an interrupted pass of the same round and pool.
    Raises ProjectError before anything is written on bad input, RunLocked while the run is
    being driven."""
    round = finished_round(project, run, round)
    _, shape, config = network(project, run)
    store = project.store
    with run_lock(project, run):
        dev = resolve_device(device or config.device)
        model = load_finished(project, run, round, dev)
        candidates = store.unlabeled_pool(run)
        chunk_size, k = config.score.chunk_size, config.score.k
        started = store.predict_pass(run)
        if not (started is not None and started.round == round and started.k == k
                and started.chunk_size == chunk_size
                and np.array_equal(started.candidates, candidates)):
            store.start_predict_pass(run, round, candidates, chunk_size, k,
                                     scoring.default_forward_batch(dev))
            started = store.predict_pass(run)
        done = store.done_prediction_chunks(run)
        todo = [c for c in range(started.n_chunks) if c not in done]
        if todo:
            pixels = pool_on(project.pixels, dev)
            chunks = scoring.predict_chunks(
                model, ItemRows(pixels, started.candidates), k=k,
                augment=make_augment(config.train.augment, shape[0]),
                seed=derive_seed(project.require_run(run).seed, round, "predict"),
                chunk_size=chunk_size, device=dev, skip=done,
                forward_batch=started.forward_batch,
                temperature=roundmodel.temperature(project, run, round))
            for chunk, start, (labels, probs, scores) in chunks:
                store.save_prediction_chunk(run, chunk, start, labels, probs, scores)
                if on_chunk is not None:
                    on_chunk(chunk + 1, started.n_chunks)
    result = store.predictions(run)
    counts = np.bincount(result.labels, minlength=len(project.classes))
    classes = ClassList.read(store)
    return PredictOutcome(
        run=run, round=round, n_items=len(result.items), computed=len(todo),
        n_chunks=started.n_chunks,
        # per class in use: a merged class's predictions (an earlier model's) count as its target's
        class_counts=dict(zip(classes.live_names, classes.fold_counts(counts))),
        mean_probability=float(result.probs.mean()) if len(result.probs) else float("nan"),
    )
