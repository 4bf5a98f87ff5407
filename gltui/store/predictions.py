"""Predictions (`gltui predict`): one pass per run over its unlabeled pool, committed per chunk.

A pass fixes its candidates (item ids), round, chunk size and k when it starts; each chunk's
predicted classes, their probabilities and rde scores are one row, committed as the chunk
finishes, so a resumed pass skips the chunks already stored. A new pass of the same run (another
round, or a pool that changed) replaces the old one in the same transaction that starts it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gltui.store.connection import timestamp


@dataclass(frozen=True)
class PredictPass:
    run: str
    round: int
    chunk_size: int
    n_chunks: int
    k: int
    forward_batch: int  # rows per forward: the rde draws depend on it, so a resume reuses it
    candidates: np.ndarray  # int64 item ids, ascending
    created_at: float


@dataclass(frozen=True)
class Predictions:
    """A finished pass, item by item (aligned arrays)."""

    round: int
    items: np.ndarray  # int64
    labels: np.ndarray  # int64 predicted class
    probs: np.ndarray  # float32 probability of that class
    scores: np.ndarray  # float32 rde score (bits)


class PredictionsMixin:
    """Prediction passes and their chunks (part of Store)."""

    def start_predict_pass(self, run: str, round: int, candidates: np.ndarray, chunk_size: int,
                           k: int, forward_batch: int) -> None:
        """A new pass for `run`, replacing its old pass and chunks, in one transaction."""
        n_chunks = (len(candidates) + chunk_size - 1) // chunk_size
        with self.transaction():
            self.conn.execute("DELETE FROM predictions WHERE run = ?", (run,))
            self.conn.execute(
                "INSERT OR REPLACE INTO predict_passes(run, round, chunk_size, n_chunks, k, "
                "forward_batch, candidates, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run, round, chunk_size, n_chunks, k, forward_batch,
                 np.asarray(candidates, dtype="<i8").tobytes(), timestamp()),
            )
            self._event(run, "predict-start", {"round": round, "n": int(len(candidates))})

    def predict_pass(self, run: str) -> PredictPass | None:
        row = self.conn.execute(
            "SELECT round, chunk_size, n_chunks, k, forward_batch, candidates, created_at "
            "FROM predict_passes WHERE run = ?", (run,)).fetchone()
        if row is None:
            return None
        return PredictPass(run, *row[:5], np.frombuffer(row[5], dtype="<i8").astype(np.int64),
                           row[6])

    def save_prediction_chunk(self, run: str, chunk: int, start: int, labels: np.ndarray,
                              probs: np.ndarray, scores: np.ndarray) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO predictions(run, chunk, start, labels, probs, scores) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run, chunk, start, np.asarray(labels, "<i4").tobytes(),
                 np.asarray(probs, "<f4").tobytes(), np.asarray(scores, "<f4").tobytes()),
            )

    def done_prediction_chunks(self, run: str) -> set[int]:
        return {r[0] for r in self.conn.execute(
            "SELECT chunk FROM predictions WHERE run = ?", (run,))}

    def prediction_versions(self, run: str) -> dict[int, int]:
        """chunk -> rowid: a chunk written again gets a new rowid (the resume test's proof)."""
        return dict(self.conn.execute(
            "SELECT chunk, rowid FROM predictions WHERE run = ?", (run,)))

    def predictions(self, run: str) -> Predictions | None:
        """The run's finished pass, or None (no pass, or one with chunks still missing)."""
        started = self.predict_pass(run)
        if started is None:
            return None
        rows = self.conn.execute(
            "SELECT labels, probs, scores FROM predictions WHERE run = ? ORDER BY chunk",
            (run,)).fetchall()
        if len(rows) != started.n_chunks:
            return None

        def joined(col: int, dtype: str, out) -> np.ndarray:
            parts = [np.frombuffer(r[col], dtype=dtype) for r in rows]
            return (np.concatenate(parts) if parts else np.zeros(0, dtype)).astype(out)

        return Predictions(started.round, started.candidates, joined(0, "<i4", np.int64),
                           joined(1, "<f4", np.float32), joined(2, "<f4", np.float32))
