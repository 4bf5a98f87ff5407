"""Runs and their rounds: creation, phase changes, config changes, round results."""

from __future__ import annotations

import json

import numpy as np

from gltui.store.connection import timestamp
from gltui.store.rows import ROUND_COLUMNS, RoundRow, RunRow
from gltui.store.schema import PHASES, full_config, stored_config


class RunsMixin:
    """Runs and rounds (part of Store)."""

    def create_run(
        self,
        name: str,
        strategy: str,
        seed: int,
        config_json: str,
        seed_items: np.ndarray,
        seed_labels: np.ndarray | None,
    ) -> None:
        """A new run. The seed items with a label (seed_labels >= 0) are labeled at once; the
        rest (-1, or all of them when seed_labels is None) are queued for a person to label
        first (round 0). With nothing to label, the run starts at train."""
        now = timestamp()
        if seed_labels is None:
            seed_labels = np.full(len(seed_items), -1, np.int64)
        known = np.asarray(seed_labels) >= 0
        phase = "train" if known.all() else "label"
        with self.transaction():
            self.conn.execute(
                "INSERT INTO runs(name, strategy, seed, config, phase, round, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                (name, strategy, seed, stored_config(config_json), phase, now, now),
            )
            self.conn.executemany(
                "INSERT INTO labels(run, item, label, source, round, created_at) "
                "VALUES (?, ?, ?, 'seed', 0, ?)",
                [(name, int(i), int(y), now)
                 for i, y in zip(seed_items[known], np.asarray(seed_labels)[known])],
            )
            if not known.all():
                unknown = np.asarray(seed_items)[~known]
                self._write_queue(name, 0, unknown, np.zeros(len(unknown)), None)
            self._event(name, "run-created", {"strategy": strategy, "seed": seed, "phase": phase})

    def run(self, name: str) -> RunRow | None:
        row = self.conn.execute(
            "SELECT name, strategy, seed, config, phase, round, stop_reason, created_at, "
            "updated_at FROM runs WHERE name = ?",
            (name,),
        ).fetchone()
        return None if row is None else _run_row(row)

    def runs(self) -> list[RunRow]:
        rows = self.conn.execute(
            "SELECT name, strategy, seed, config, phase, round, stop_reason, created_at, "
            "updated_at FROM runs ORDER BY created_at, name"
        )
        return [_run_row(r) for r in rows]

    def set_phase(
        self, run: str, phase: str, round: int | None = None, stop_reason: str | None = None
    ) -> None:
        """Move a run to a phase. Call inside the transaction that commits the outcome."""
        assert phase in PHASES, phase
        with self.transaction():
            if round is None:
                self.conn.execute(
                    "UPDATE runs SET phase = ?, stop_reason = ?, updated_at = ? WHERE name = ?",
                    (phase, stop_reason, timestamp(), run),
                )
            else:
                self.conn.execute(
                    "UPDATE runs SET phase = ?, round = ?, stop_reason = ?, updated_at = ? "
                    "WHERE name = ?",
                    (phase, round, stop_reason, timestamp(), run),
                )
            self._event(run, "phase", {"phase": phase, "round": round, "stop": stop_reason})

    def set_run_config(self, run: str, config_json: str, changes: dict) -> None:
        """New options for a run (its seed and strategy stay those of its columns)."""
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET config = ?, updated_at = ? WHERE name = ?",
                (stored_config(config_json), timestamp(), run),
            )
            self._event(run, "config", changes)

    # -- rounds ----------------------------------------------------------------------------------

    def save_round(self, run: str, round: int, values: dict, next_phase: str | None = None,
                   stop_reason: str | None = None) -> None:
        """Upsert a round's results; with next_phase, the phase change commits with them."""
        with self.transaction():
            row = {"run": run, "round": round, **values}
            if isinstance(row.get("class_hist"), (list, dict)):
                row["class_hist"] = json.dumps(row["class_hist"])
            cols = ", ".join(row)
            marks = ", ".join("?" * len(row))
            updates = ", ".join(f"{k} = excluded.{k}" for k in row if k not in ("run", "round"))
            self.conn.execute(
                f"INSERT INTO rounds({cols}) VALUES ({marks}) "
                f"ON CONFLICT(run, round) DO UPDATE SET {updates}",
                list(row.values()),
            )
            if next_phase is not None:
                self.set_phase(run, next_phase, stop_reason=stop_reason)

    def rounds(self, run: str) -> list[RoundRow]:
        rows = self.conn.execute(
            f"SELECT {', '.join(ROUND_COLUMNS)} FROM rounds WHERE run = ? ORDER BY round", (run,)
        )
        out = []
        for row in rows:
            values = dict(zip(ROUND_COLUMNS, row))
            hist = values.pop("class_hist")
            out.append(RoundRow(**values, class_hist=json.loads(hist) if hist else None))
        return out


def _run_row(row) -> RunRow:
    """A runs row with its full config: the stored one plus the strategy and seed columns."""
    name, strategy, seed, config, *rest = row
    return RunRow(name, strategy, seed, full_config(config, strategy, seed), *rest)
