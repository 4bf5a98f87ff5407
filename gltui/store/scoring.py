"""Scoring passes (per-chunk scores, committed as each chunk finishes) and the labeling queue."""

from __future__ import annotations

import json

import numpy as np

from gltui.store.queries import QUERIES
from gltui.store.rows import QueueEntry, ScoringPass


class ScoringMixin:
    """Scoring passes and the labeling queue (part of Store)."""

    def start_pass(self, run: str, round: int, candidates: np.ndarray, chunk_size: int) -> None:
        n_chunks = (len(candidates) + chunk_size - 1) // chunk_size
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO passes(run, round, chunk_size, n_chunks, candidates) "
                "VALUES (?, ?, ?, ?, ?)",
                (run, round, chunk_size, n_chunks, candidates.astype("<i8").tobytes()),
            )

    def scoring_pass(self, run: str, round: int) -> ScoringPass | None:
        """The started pass of `run`'s round, or None."""
        row = self.conn.execute(
            "SELECT candidates, chunk_size, n_chunks FROM passes WHERE run = ? AND round = ?",
            (run, round),
        ).fetchone()
        if row is None:
            return None
        return ScoringPass(np.frombuffer(row[0], dtype="<i8").astype(np.int64), row[1], row[2])

    def save_chunk(self, run: str, round: int, chunk: int, start: int, scores: np.ndarray) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO scores(run, round, chunk, start, scores) "
                "VALUES (?, ?, ?, ?, ?)",
                (run, round, chunk, start, scores.astype("<f4").tobytes()),
            )

    def done_chunks(self, run: str, round: int) -> set[int]:
        return {r[0] for r in self.conn.execute(QUERIES["done_chunks"], (run, round))}

    def chunk_versions(self, run: str, round: int) -> dict[int, int]:
        """chunk -> the rowid its scores were stored under. Writing a chunk again (INSERT OR
        REPLACE) gives it a new rowid, so equal versions before and after a resume prove that the
        finished chunks were skipped, not scored again (bench_scale's kill + resume check)."""
        return dict(self.conn.execute(
            "SELECT chunk, rowid FROM scores WHERE run = ? AND round = ?", (run, round)
        ))

    def pass_scores(self, run: str, round: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(candidates, scores) of a finished pass, or None when it is not complete."""
        started = self.scoring_pass(run, round)
        if started is None:
            return None
        candidates, _, n_chunks = started
        rows = self.conn.execute(QUERIES["pass_scores"], (run, round)).fetchall()
        if len(rows) != n_chunks:
            return None
        scores = np.concatenate([np.frombuffer(r[0], dtype="<f4") for r in rows] or [[]])
        return candidates, scores.astype(np.float32)

    def finished_passes(self, run: str) -> list[int]:
        """Rounds of the run whose scoring pass has every chunk stored, ascending (read-only)."""
        rows = self.conn.execute(
            "SELECT p.round FROM passes p WHERE p.run = ? AND p.n_chunks = "
            "(SELECT COUNT(*) FROM scores s WHERE s.run = p.run AND s.round = p.round) "
            "ORDER BY p.round",
            (run,),
        )
        return [r[0] for r in rows]

    def write_queue(
        self,
        run: str,
        round: int,
        items: np.ndarray,
        scores: np.ndarray,
        guesses: list | None,
        next_phase: str,
    ) -> None:
        """The queue of a round and the phase change to it, in one transaction. Images that
        got an active label before this transaction (a person labeling the provisional queue
        while the queue was being chosen) are left out here, where no label can slip in."""
        with self.transaction():
            labeled = self.labeled(run)[0]
            keep = ~np.isin(np.asarray(items), labeled)
            if not keep.all():
                items, scores = np.asarray(items)[keep], np.asarray(scores)[keep]
                guesses = None if guesses is None else [g for g, k in zip(guesses, keep) if k]
            self._write_queue(run, round, items, scores, guesses)
            self.set_phase(run, next_phase, round)

    def _write_queue(self, run, round, items, scores, guesses) -> None:
        self.conn.execute("DELETE FROM queue WHERE run = ? AND round = ?", (run, round))
        self.conn.executemany(
            "INSERT INTO queue(run, round, item, rank, score, status, guesses) "
            "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
            [
                (run, round, int(item), rank, float(score),
                 json.dumps(guesses[rank]) if guesses is not None else None)
                for rank, (item, score) in enumerate(zip(items, scores))
            ],
        )

    def queue(self, run: str, round: int) -> list[QueueEntry]:
        rows = self.conn.execute(QUERIES["queue"], (run, round))
        return [
            QueueEntry(item, rank, score, status, json.loads(g) if g else [],
                       label if status == "labeled" else None)
            for item, rank, score, status, g, label in rows
        ]

    def count_pending(self, run: str, round: int) -> int:
        return self._one(QUERIES["count_pending"], (run, round))
