"""The gallery: the most and least confusing candidates of one finished scoring pass (by default the
run's latest that ranked by confusion), each with the run's own label (a person's project has no
true labels) and the dataset's true label where it is known."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gltui.config import Config
from gltui.errors import ProjectError
from gltui.store import Store

GALLERY_SIZE = 20  # images per gallery side, as in the paper's figures


@dataclass(frozen=True)
class GalleryItem:
    item: int
    score: float
    label: int | None  # this run's active label of the item, if it has one
    truth: int | None  # the dataset's true label, where known


@dataclass(frozen=True)
class Gallery:
    run: str
    round: int
    n_scored: int
    most: list[GalleryItem]  # highest score first
    least: list[GalleryItem]  # lowest score first


def ranked_at_random(store: Store, run: str, round: int) -> bool:
    """Whether round's scoring pass of `run` ranked at random (a random run, or a guided run's
    warm start): its scores are random draws, not confusion (Config.strategy_at)."""
    config = Config.from_json(store.run(run).config)
    return config.ranks_at_random(store.count_labeled(run, up_to_round=round))


def gallery(store: Store, run: str, round: int | None = None,
            size: int = GALLERY_SIZE) -> Gallery | None:
    """The `size` most and least confusing candidates of one finished scoring pass of `run`: the
    given round's, or the latest that ranked by confusion. None when the run has no such pass
    (none finished, or all ranked at random); ProjectError when the given round has none."""
    scored = [r for r in store.finished_passes(run) if not ranked_at_random(store, run, r)]
    if round is None:
        if not scored:
            return None
        round = scored[-1]
    elif round not in scored:
        have = ", ".join(map(str, scored)) or "none"
        raise ProjectError(
            f"--round {round}: run {run!r} has no finished scoring pass ranked by confusion for "
            f"that round (a pass below the warm start or of a random run ranks at random; rounds "
            f"with one: {have})"
        )
    candidates, scores = store.pass_scores(run, round)
    # The ranking a query uses (stable: among equal scores the lower item id first); the least
    # confusing are its tail, read from the end.
    ranking = np.argsort(-scores, kind="stable")
    most, least = ranking[:size], ranking[::-1][:size]
    shown = candidates[np.concatenate([most, least])]
    truth = store.true_labels(shown)
    labeled_items, labels = store.labeled(run)  # ordered by item
    at = np.clip(np.searchsorted(labeled_items, shown), 0, max(len(labeled_items) - 1, 0))
    has_label = (labeled_items[at] == shown) if len(labeled_items) else np.zeros(len(shown), bool)

    def entry(j: int, i: int) -> GalleryItem:
        return GalleryItem(int(candidates[i]), float(scores[i]),
                           int(labels[at[j]]) if has_label[j] else None,
                           int(truth[j]) if truth[j] >= 0 else None)

    return Gallery(run, round, len(candidates),
                   [entry(j, i) for j, i in enumerate(most)],
                   [entry(len(most) + j, i) for j, i in enumerate(least)])
