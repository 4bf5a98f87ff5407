"""The statements the hot paths run, by name (their plans are tested), and shared row formats."""

from __future__ import annotations

import numpy as np

ITEM_COUNTS_KEY = "item_counts"  # meta: {split: count}, written with the items
ID_VALUE = np.dtype([("id", "<i8"), ("value", "<i8")])  # (id, int) rows read straight to numpy

# Counts every item (a full index scan): run once, when the items are inserted.
COUNT_ITEMS_SQL = "SELECT split, COUNT(*) FROM items GROUP BY split"

# The statements of the hot paths (status, labeling, the engine's score and query phases), by
# name, so that `query_plan` can show that each one searches an index rather than scanning a
# million-row table; the tests check every plan.
QUERIES: dict[str, str] = {
    "split_items": "SELECT id, coalesce(true_label, -1) FROM items WHERE split = ? ORDER BY id",
    "true_labels_range": "SELECT id, true_label FROM items WHERE id BETWEEN ? AND ? "
    "AND true_label IS NOT NULL",
    "labeled": "SELECT item, label FROM labels WHERE run = ? AND undone_at IS NULL ORDER BY item",
    "count_labeled": "SELECT COUNT(*) FROM labels WHERE run = ? AND undone_at IS NULL",
    "count_labeled_pool": "SELECT COUNT(*) FROM labels l JOIN items i ON i.id = l.item "
    "WHERE l.run = ? AND l.undone_at IS NULL AND i.split = 'pool'",
    "unlabeled_pool": "SELECT id FROM items WHERE split = 'pool' AND id NOT IN "
    "(SELECT item FROM labels WHERE run = ? AND undone_at IS NULL) ORDER BY id",
    "label_replace": "UPDATE labels SET undone_at = ? WHERE run = ? AND item = ? "
    "AND undone_at IS NULL",
    "queue_mark_labeled": "UPDATE queue SET status = 'labeled' WHERE run = ? AND round = ? "
    "AND item = ?",
    "undo_walk": "SELECT kind, detail FROM events WHERE run = ? "
    "AND kind IN ('label', 'skip', 'unsure', 'undo') ORDER BY id DESC",
    "queue": "SELECT q.item, q.rank, q.score, q.status, q.guesses, l.label FROM queue q "
    "LEFT JOIN labels l ON l.run = q.run AND l.item = q.item AND l.undone_at IS NULL "
    "WHERE q.run = ? AND q.round = ? ORDER BY q.rank",
    "count_pending": "SELECT COUNT(*) FROM queue WHERE run = ? AND round = ? "
    "AND status = 'pending'",
    "done_chunks": "SELECT chunk FROM scores WHERE run = ? AND round = ?",
    "pass_scores": "SELECT scores FROM scores WHERE run = ? AND round = ? ORDER BY chunk",
}
