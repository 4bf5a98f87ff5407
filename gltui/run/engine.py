"""The resumable state machine that drives one run. UI-free: progress leaves as events.

A run moves  label(r) -> train(r) -> evaluate(r) -> score(r) -> query(r) -> label(r+1) -> ...
until `done`. Round 0 starts at `train` with the seed labels (or at `label` when the seed set has
no true labels and a person must label it first). Each phase is idempotent and commits its
outcome together with the phase change, so a process killed at any instant resumes where it
stopped:

  train     checkpoints every epoch (temp file + rename); a resumed round continues after the
            last finished epoch. The round's model file is written before the phase moves on,
            and a resumed train phase that finds it goes straight to the commit. Another run's
            model of the same fit (ranks.FitCall.key) is taken instead of training again.
  evaluate  test accuracy and class histogram, then the stop rules; one commit.
  score     the candidate list is fixed when the pass starts; each chunk's scores are committed
            as they finish, and a resumed pass skips finished chunks.
  query     the next queue (learn/select: the top scores and an explored share; n from the
            schedule and the budget) with the model's top-3 guesses, one commit.
  label     the oracle labels the whole queue in one transaction; a person's labels each commit
            on their own (Labeler). When nothing is pending, the run goes on to train.

Every random draw derives from (run seed, round, phase, epoch | chunk): see gltui.learn.seeding.

Distributed (torchrun): rank 0 alone runs this Runner and touches the store, lock and files;
training and scoring are typed calls (run/ranks) it sends to the other ranks, then runs itself. A
single process runs the same calls. Fault injection lives in the tests (tests/faults.py).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from gltui.config import Config, strategy_info
from gltui.errors import ProjectError
from gltui.learn import distributed, schedule, select
from gltui.learn import score as scoring
from gltui.learn import train as training
from gltui.learn.device import pool_on, resolve_device
from gltui.learn.seeding import derive_seed
from gltui.learn.stopping import cohen_kappa, stable_streak, thresholds, view_kappas
from gltui.outputs import roundmodel
from gltui.outputs.roundmodel import ModelLost
from gltui.project import Project
from gltui.run import roundwork
from gltui.run.events import (
    ChunkDone,
    EpochDone,
    Event,
    PhaseStarted,
    QueueReady,
    RoundFinished,
    RunDone,
)
from gltui.run.ranks import FitCall, RankCall, ScoreCall


class Cancelled(Exception):
    """The caller asked the run to stop; everything committed so far stands."""


@dataclass
class RunOptions:
    # Label queues from the dataset's own labels? Polled once per label phase, so a UI may switch
    # it at any time; a headless caller passes a constant (lambda: True).
    oracle: Callable[[], bool] = field(default=lambda: False)
    device: str | None = None  # overrides the run's config for this process only
    cancel: Callable[[], bool] = field(default=lambda: False)  # polled between epochs and chunks
    on_event: Callable[[Event], None] = field(default=lambda event: None)
    group: distributed.Group | None = None  # a distributed run: this process is its rank 0


class Runner:
    """Drives one run of a project. Hold `gltui.project.run_lock` while using it."""

    def __init__(self, project: Project, run: str, options: RunOptions | None = None):
        self.project = project
        self.store = project.store
        self.run = run
        self.options = options or RunOptions()
        row = project.require_run(run)
        self.seed = row.seed
        self.config = Config.from_json(row.config)
        self.device = resolve_device(self.options.device or self.config.device)
        c, h, w = project.meta["shape"]
        self.shape = (int(c), int(h), int(w))
        self.num_classes = len(project.classes)
        self.semi = self.config.semi.enabled  # semi-supervised rounds (learn/semi)
        self.model_name, self.net_options = roundmodel.network_for(self.config, self.shape[0])
        self.group = self.options.group
        # Chosen once, here (on rank 0 when distributed, and sent to the other ranks): the scores
        # depend on it, and on the CPU its default follows this process's thread count.
        self.forward_batch = scoring.default_forward_batch(self.device)

    @property
    def pixels(self):
        """The project's pixels as training and scoring read them: the memmap, or on CUDA a copy
        in device memory when it fits (learn/device.pool_on, made once per mapping): current
        after a `gltui add` (Project.pixels maps the grown file anew)."""
        return pool_on(self.project.pixels, self.device)

    # -- driving ------------------------------------------------------------------------------

    def drive(self) -> str:
        """Run phases until the run is done (returns "done") or waits for a person at the label
        phase (returns "label"). Progress leaves through options.on_event, as in minGPT's
        trainer: the engine knows nothing of who listens."""
        while True:
            row = self.project.require_run(self.run)
            if row.phase == "done" and self._reopens(row):
                self.store.set_phase(self.run, "score", row.round)  # as if it had not stopped
                continue
            if row.phase == "done":
                self.emit(RunDone(self.run, row.stop_reason or "done"))
                return "done"
            step = getattr(self, f"_{row.phase}")
            if row.phase == "label":
                oracle = self.options.oracle()  # asked once: this answer decides the whole phase
                pending = 0 if oracle else self.store.count_pending(self.run, row.round)
                if pending:
                    self.emit(QueueReady(self.run, row.round, pending))
                    return "label"
                step = functools.partial(self._label, oracle=oracle)
            self._check_cancel()
            self.emit(PhaseStarted(self.run, row.round, row.phase))
            try:
                step(row.round)
            except ModelLost as lost:
                # The round's model file is damaged (a disk fault, not a crash of ours: it is
                # written to a temp file, fsynced and renamed). Training is deterministic, so the
                # round is trained again and the run goes on as if nothing had happened.
                lost.path.unlink(missing_ok=True)
                self.store.add_event(self.run, "model-lost", {"round": row.round,
                                                              "path": str(lost.path)})
                self.store.set_phase(self.run, "train", row.round)

    def _reopens(self, row) -> bool:
        """Whether a run that stopped at its label budget or round limit goes on: both were
        raised since (`gltui run PROJECT --budget N`) and the pool has images left. Its last
        round is then scored and queried as if it had never stopped, so the run ends where one
        given the higher limit from the start ends. Other stops (stable predictions, a target,
        an exhausted pool) stand."""
        reason, loop = row.stop_reason or "", self.config.loop
        if not (reason.startswith("label budget") or reason.endswith("rounds done")):
            return False
        if loop.budget and self.store.count_labeled(self.run) >= loop.budget:
            return False
        if loop.max_rounds and row.round + 1 >= loop.max_rounds:
            return False
        return len(self._candidates()) > 0

    def _candidates(self) -> np.ndarray:
        """The unlabeled pool images a queue may take (run/roundwork.scoring_candidates): never
        the stop set (held out to measure stability), in an experiment only known labels."""
        return roundwork.scoring_candidates(self.project, self.run, self._stop_set())

    def emit(self, event: Event) -> None:
        self.options.on_event(event)

    def _call(self, kind: type[RankCall], **fields) -> RankCall:
        """A FitCall or ScoreCall for this run's network (gltui.ranks)."""
        return kind(model_name=self.model_name, shape=self.shape, num_classes=self.num_classes,
                    augment=self.config.train.augment, **fields)

    def _announce(self, call: RankCall) -> None:
        """Send `call` to the other ranks of a distributed run, which run it with rank 0."""
        if self.group is not None:
            self.group.broadcast(call)

    def _check_cancel(self) -> None:
        if self.options.cancel():
            raise Cancelled()

    # -- phases -----------------------------------------------------------------------------------

    def _label(self, round: int, oracle: bool) -> None:
        pending = [e.item for e in self.store.queue(self.run, round) if e.status == "pending"]
        if pending and not oracle:
            return  # a person labels these; drive() stops here on its next look
        if pending:
            items = np.asarray(pending, dtype=np.int64)
            truth = self.store.true_labels(items)
            if (truth < 0).any():
                name = self.store.item_names([int(items[truth < 0][0])])
                raise ProjectError(
                    f"oracle mode needs true labels, but {next(iter(name.values()))} has none; "
                    "label this run in the TUI instead (`gltui PROJECT`)"
                )
            self.store.add_labels(self.run, round, items, truth, "oracle")
        self.store.set_phase(self.run, "train", round)

    def _train(self, round: int) -> None:
        model_path = self.project.model_path(self.run, round)
        if not model_path.exists():
            self._fit(round, model_path)
        saved = roundmodel.read_round(self.project, self.run, round)
        items, _ = self.store.labeled(self.run, up_to_round=round)
        self.store.save_round(
            self.run,
            round,
            {
                "n_labeled": len(items),
                "val_accuracy": saved["best_val_accuracy"],
                "epochs": saved["epochs"],
                "best_epoch": saved["best_epoch"],
                "train_seconds": saved["seconds"],
                "profile": self.config.train.profile,
            },
            next_phase="evaluate",
        )
        self.project.train_checkpoint_path(self.run, round).unlink(missing_ok=True)

    def fit_call(self, round: int, resume: dict | None = None) -> FitCall:
        """Everything round `round`'s training reads, as the FitCall the ranks run."""
        # Round r trains on the labels of rounds <= r (a person's labels given while it trains
        # belong to round r + 1: store/labels.py), so a resumed round trains on the same set.
        items, labels = self.store.labeled(self.run, up_to_round=round)
        train_ids, train_y, val_ids, val_y = self._train_val(round, items, labels)
        semi = {}
        if self.semi:
            unlabeled = roundwork.unlabeled_for_round(
                self.store, items, self._stop_set(), self.config.semi.max_unlabeled,
                derive_seed(self.seed, round, "unlabeled"))
            semi = dict(semi=self.config.semi, unlabeled_ids=unlabeled,
                        init=roundwork.warm_start(self.project, self.run, round, self.config,
                                                  self.model_name, self.net_options,
                                                  self.num_classes))
        return self._call(FitCall, train_ids=train_ids, train_y=train_y, val_ids=val_ids,
                          val_y=val_y, train=self.config.train,
                          seed=derive_seed(self.seed, round, "train"), resume=resume, **semi)

    def _fit(self, round: int, model_path: Path) -> None:
        ckpt_path = self.project.train_checkpoint_path(self.run, round)
        resume = roundwork.epoch_checkpoint(ckpt_path, self.num_classes, self.semi)

        def on_epoch(report, make_checkpoint) -> bool:
            roundmodel.save_file({**make_checkpoint(), "num_classes": self.num_classes},
                                 ckpt_path)
            self.emit(EpochDone(
                self.run, round, report.epoch, report.max_epochs, report.train_loss,
                report.val_accuracy, report.best_val_accuracy, report.patience_left,
                report.seconds,
            ))
            return not self.options.cancel()

        call = self.fit_call(round, resume)
        key = call.key(self.device, 1 if self.group is None else self.group.world_size)
        reused = None if resume else roundwork.trained_elsewhere(self.project, self.run, round,
                                                                 key, self.device)
        if reused is None:
            self._announce(call)
            result = call.run(self.pixels, self.device, self.group, on_epoch=on_epoch)
        else:
            result = reused[1]
        if result.stopped == "cancelled":
            raise Cancelled()
        temperature, calibrated_on = roundwork.temperature(
            self.store, self.pixels, result.model, call.train_ids, call.train_y, self.device,
            self.config.train.val_batch_size, derive_seed(self.seed, round, "calibrate"))
        roundmodel.save_round(
            self.project, self.run, round,
            {
                "model": result.model.state_dict() if reused is None else reused[0]["model"],
                "fit_key": key,
                "best_val_accuracy": float(result.best_val_accuracy),
                "best_epoch": int(result.best_epoch),
                "epochs": int(result.epochs),
                "seconds": float(result.seconds),
                "num_classes": self.num_classes,
                "network": self.model_name,
                "network_options": self.net_options,
                "temperature": temperature,
                "calibrated_on": calibrated_on,
            },
        )

    def _train_val(self, round: int, items: np.ndarray, labels: np.ndarray):
        """Training items and the validation set for early stopping, as (ids, labels) pairs: the
        project's validation split, or, for a project without one (a person's), no validation
        set: training.fit then follows a fixed schedule on every label (docs/results/recipe.md
        measures it against holding out a fifth of the labels to stop on)."""
        val_ids, val_y = self.store.split_labels("val")
        if len(val_ids):
            return items, labels, val_ids, val_y
        return items, labels, items[:0], labels[:0]

    def _stop_set(self) -> np.ndarray | None:
        return self.project.stop_set(self.config.loop.stop_set)

    def _load_model(self, round: int) -> torch.nn.Module:
        return roundmodel.load_round(self.project, self.run, round, self.device)

    def _evaluate(self, round: int) -> None:
        started = time.time()
        model = self._load_model(round)
        test_ids, test_y = self.store.split_labels("test")
        test_acc = None
        if len(test_ids):
            test_acc = training.evaluate(model, self.pixels[test_ids], test_y, self.device,
                                         self.config.train.val_batch_size)
        _, labels = self.store.labeled(self.run, up_to_round=round)
        hist = np.bincount(labels, minlength=self.num_classes).tolist()
        if self.options.oracle():
            self._oracle_labels_audit_set()
        predicted = self._predict_sets(model, round)
        kappa = self._stop_kappa(round, predicted.get("stop"))
        rows = self.store.rounds(self.run)
        this = next(r for r in rows if r.round == round)
        kappas = [r.stop_kappa for r in rows if r.round < round] + [kappa]
        ceilings = self._view_kappas(round, predicted)
        reason = self._stop_reason(round, len(labels), this.val_accuracy, kappas, ceilings)
        with self.store.transaction():  # the predictions on the sets commit with the round
            for name, classes in predicted.items():
                self.store.save_set_predictions(self.run, round, name, classes)
            roundwork.save_offered_guesses(
                self.project, self.run, round, model, self.pixels, self.device,
                self.config.train.val_batch_size,
                roundmodel.temperature(self.project, self.run, round))
            self.store.save_round(
                self.run, round,
                {"test_accuracy": test_acc, "class_hist": hist, "finished_at": time.time(),
                 "stop_kappa": kappa},
                next_phase="done" if reason else "score", stop_reason=reason,
            )
        self.emit(RoundFinished(self.run, round, len(labels), this.val_accuracy, test_acc,
                                (this.train_seconds or 0.0) + time.time() - started,
                                validated=self.store.has_validation_split()))

    def _oracle_labels_audit_set(self) -> None:
        """In oracle mode the oracle labels the audit images still without a label (a person
        labels them in the TUI), so that an oracle run's audit estimate is a person's."""
        todo = np.asarray(self.store.audit_queue(), dtype=np.int64)
        truth = self.store.true_labels(todo)
        if (truth >= 0).any():
            self.store.add_audit_labels(todo[truth >= 0], truth[truth >= 0], "oracle",
                                        run=self.run)

    def _predict_sets(self, model: torch.nn.Module, round: int) -> dict[str, np.ndarray]:
        """The round model's classes on the audit set and the stop set (store/sets.py; the stop
        set is drawn on first use), in one batched forward of the evaluation path."""
        sets = {"audit": self.store.sample_set("audit"),
                "stop": self._stop_set()}
        sets = {name: items for name, items in sets.items() if items is not None and len(items)}
        if not sets:
            return {}
        ids = np.concatenate(list(sets.values()))
        classes = training.predict_proba(model, self.pixels[ids], self.device,
                                         self.config.train.val_batch_size).argmax(1)
        bounds = np.cumsum([0] + [len(items) for items in sets.values()])
        out = {name: classes[a:b] for name, a, b in zip(sets, bounds[:-1], bounds[1:])}
        if "stop" in sets:
            weak = self.config.semi.weak if self.semi else self.config.train.augment
            out["stop-view"] = roundwork.predict_view(
                model, self.pixels[sets["stop"]], weak, self.shape[0],
                derive_seed(self.seed, round, "stop-view"), self.device,
                self.config.train.val_batch_size)
        return out

    def _stop_kappa(self, round: int, stop: np.ndarray | None) -> float | None:
        """Cohen's kappa of this round's and the previous round's classes on the stop set."""
        previous = self.store.set_predictions(self.run, "stop").get(round - 1)
        if stop is None or previous is None or len(previous) != len(stop):
            return None
        return cohen_kappa(previous, stop)

    def _next_batch(self, n_labeled: int) -> int:
        n = schedule.next_batch_size(self.config.loop.schedule, n_labeled)
        if self.config.loop.budget:
            n = min(n, self.config.loop.budget - n_labeled)
        return n

    def _view_kappas(self, round: int, predicted: dict) -> list[float | None]:
        """Every round's own agreement ceiling (learn/stopping.view_kappas), this one last."""
        stops = {**self.store.set_predictions(self.run, "stop"), round: predicted.get("stop")}
        views = {**self.store.set_predictions(self.run, "stop-view"),
                 round: predicted.get("stop-view")}
        rounds = [r.round for r in self.store.rounds(self.run) if r.round < round] + [round]
        return view_kappas(stops, views, rounds)

    def _stop_reason(self, round: int, n_labeled: int, val_accuracy: float,
                     kappas: list[float | None], ceilings: list[float | None]) -> str | None:
        """Why the run ends after this round, or None. kappas: the stop-set kappa of every
        round so far, this one last; ceilings: their own view agreement (the auto threshold)."""
        loop = self.config.loop
        validated = self.store.has_validation_split()  # else val_accuracy is training
        if loop.target_accuracy and validated and val_accuracy >= loop.target_accuracy:
            return f"target accuracy {loop.target_accuracy:g} reached ({val_accuracy:.4f})"
        limit = thresholds(loop.stable_kappa, ceilings)
        stable = stable_streak(kappas, limit)
        if loop.stable_rounds and stable >= loop.stable_rounds:
            said = (f"{loop.stable_kappa:g}" if loop.stable_kappa > 0 else
                    f"the round model's own agreement under augmentation ({ceilings[-1]:.4f})")
            return (f"predictions stable: kappa {kappas[-1]:.4f} between rounds on the stop "
                    f"set, >= {said} for {loop.stable_rounds} rounds in a row")
        if loop.budget and n_labeled >= loop.budget:
            return f"label budget {loop.budget} spent"
        if loop.max_rounds and round + 1 >= loop.max_rounds:
            return f"{loop.max_rounds} rounds done"
        pool = len(self._candidates())
        n = self._next_batch(n_labeled)
        if pool == 0:
            return "pool exhausted"
        if loop.schedule == "exponential" and pool < n:
            return f"pool ({pool}) smaller than the labeled set ({n_labeled})"
        return None

    def _score(self, round: int) -> None:
        started = time.time()
        cfg = self.config.score
        scoring_pass = self.store.scoring_pass(self.run, round)
        if scoring_pass is None:
            candidates = self._candidates()
            if cfg.candidates and len(candidates) > cfg.candidates:
                rng = np.random.default_rng(derive_seed(self.seed, round, "candidates"))
                candidates = np.sort(rng.choice(candidates, size=cfg.candidates, replace=False))
            self.store.start_pass(self.run, round, candidates, cfg.chunk_size)
            scoring_pass = self.store.scoring_pass(self.run, round)
        candidates, chunk_size, n_chunks = scoring_pass
        done = self.store.done_chunks(self.run, round)
        strategy = self._strategy(round)
        model = self._load_model(round) if strategy_info(strategy).ranks_by_model else None
        scored = sum(min(chunk_size, len(candidates) - c * chunk_size) for c in done)
        self.emit(ChunkDone(self.run, round, scored, len(candidates)))
        call = self._call(ScoreCall, strategy=strategy, candidates=candidates,
                          todo=[c for c in range(n_chunks) if c not in done], n_chunks=n_chunks,
                          k=cfg.k, seed=derive_seed(self.seed, round, "score"),
                          chunk_size=chunk_size, forward_batch=self.forward_batch,
                          net_options=self.net_options)
        if self.group is not None and model is not None:  # the other ranks get the weights too
            self._announce(replace(call, weights={k: v.detach().cpu()
                                                  for k, v in model.state_dict().items()}))
        else:
            self._announce(call)
        chunks = call.run(self.pixels, self.device, self.group, model=model,
                          cancel=self.options.cancel)
        for chunk, start, scores in chunks:  # ends early when cancelled
            self.store.save_chunk(self.run, round, chunk, start, scores)
            scored += len(scores)
            self.emit(ChunkDone(self.run, round, scored, len(candidates)))
        self._check_cancel()
        self.store.save_round(self.run, round, {"score_seconds": time.time() - started},
                              next_phase="query")

    def _strategy(self, round: int) -> str:
        """The run's strategy, or "random" while its labeled set is below the warm start."""
        return self.config.strategy_at(self.store.count_labeled(self.run, up_to_round=round))

    def _select(self, round: int, model, candidates: np.ndarray, scores: np.ndarray,
                n: int) -> np.ndarray:
        """Indices into candidates of the next queue (learn/select.py: the policy)."""
        cfg = self.config.score
        at_random = self.config.ranks_at_random(self.store.count_labeled(self.run, round))
        predicted = far = None
        batch = self.config.train.val_batch_size
        if cfg.explore == "far" and not at_random and cfg.random_share > 0:
            # one pass over the candidates gives the far share's features and balance's classes
            feats, classes = training.features(model, self.pixels[candidates], self.device,
                                               batch, with_classes=True)
            labeled = self.pixels[self.store.labeled(self.run)[0]]
            far = (feats, training.features(model, labeled, self.device, batch))
            predicted = classes if cfg.balance else None
        elif cfg.balance and not at_random:
            predicted = training.predict_proba(model, self.pixels[candidates], self.device,
                                               batch).argmax(1)
        rng = np.random.default_rng(derive_seed(self.seed, round, "random-share"))
        return select.select_queue(scores, n, at_random=at_random, predicted=predicted,
                                   classes=self.num_classes, random_share=cfg.random_share,
                                   rng=rng, far=far)

    def _query(self, round: int) -> None:
        result = self.store.pass_scores(self.run, round)
        if result is None:  # should not happen: score commits query only when complete
            self.store.set_phase(self.run, "score", round)
            return
        candidates, scores = result
        # Images a person labeled while this round trained and scored (the provisional queue)
        # are not queued again; their labels count for the next round.
        fresh = ~np.isin(candidates, self.store.labeled(self.run)[0])
        candidates, scores = candidates[fresh], scores[fresh]
        if len(candidates) == 0:  # every candidate labeled meanwhile, or none to begin with
            self.store.set_phase(self.run, "done", round, stop_reason="pool exhausted")
            return
        n_labeled = self.store.count_labeled(self.run, up_to_round=round)
        n = min(self._next_batch(n_labeled), len(candidates))
        model = self._load_model(round)
        order = self._select(round, model, candidates, scores, n)
        chosen, chosen_scores = candidates[order], scores[order]
        # The model's top-3 guesses travel with the queue, so the labeling screen needs no torch.
        probs = training.predict_proba(
            model, self.pixels[chosen], self.device, self.config.train.val_batch_size,
            temperature=roundmodel.temperature(self.project, self.run, round))
        top = np.argsort(-probs, axis=1, kind="stable")[:, :3]
        guesses = [[[int(c), float(np.round(p[c], 4))] for c in row] for row, p in zip(top, probs)]
        self.store.write_queue(self.run, round + 1, chosen, chosen_scores, guesses, "label")
