"""The far share of a queue (learn/select.select_far): on features with a known layout, it takes
the typical image of each region no labeled image is near, one a region, before the regions
beside the labeled ones and never a lone outlier; it draws the same images again from the same
generator; and a queue with it holds the guided top picks plus distinct far ones."""

from __future__ import annotations

import numpy as np

from gltui.learn.select import select_far, select_queue, select_seed


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def layout(seed: int = 0):
    """Four tight regions in 8 dimensions: A (400 images) and B (300) each hold a labeled
    image, C (200) and D (150) hold none; and 3 lone outliers as far from everything as C."""
    rng = np.random.default_rng(seed)
    axes = np.eye(8)
    regions = {"A": (axes[0], 400), "B": (axes[1], 300), "C": (axes[2], 200),
               "D": (axes[3], 150)}
    parts, names = [], []
    for name, (centre, size) in regions.items():
        parts.append(centre + 0.05 * rng.standard_normal((size, 8)))
        names += [name] * size
    parts.append(axes[5:8] + 0.01 * rng.standard_normal((3, 8)))
    names += ["outlier"] * 3
    features = unit(np.concatenate(parts))
    labeled = unit(np.stack([axes[0], axes[1]]) + 0.01)
    return features, np.array(names), labeled


def test_the_far_share_takes_each_uncovered_region_once_and_no_outlier():
    features, names, labeled = layout()
    picked = select_far(features, labeled, 2, np.random.default_rng(1))
    assert sorted(names[picked]) == ["C", "D"], names[picked]  # not C twice, not an outlier
    # the typical image: nearer its region's centre than most of the region
    for i in picked:
        members = np.flatnonzero(names == names[i])
        centre = unit(features[members].mean(0, keepdims=True))[0]
        assert features[i] @ centre >= np.quantile(features[members] @ centre, 0.9)
    # with C and D covered too, what is left is near a labeled image: A or B, never an outlier
    more = select_far(features, labeled, 4, np.random.default_rng(1))
    assert set(names[more[:2]]) == {"C", "D"} and "outlier" not in set(names[more])


def test_the_same_generator_draws_the_same_far_images_and_few_regions_fill_at_random():
    features, names, labeled = layout(seed=3)
    first = select_far(features, labeled, 5, np.random.default_rng(7))
    assert np.array_equal(first, select_far(features, labeled, 5, np.random.default_rng(7)))
    # more images asked for than there are regions: the rest come at random, all distinct
    few = features[:6]
    picked = select_far(few, labeled, 6, np.random.default_rng(0))
    assert sorted(picked.tolist()) == list(range(6))
    assert len(select_far(features, labeled, 0, np.random.default_rng(0))) == 0


def test_a_queue_with_a_far_share_keeps_the_guided_top_and_adds_distinct_far_images():
    features, names, labeled = layout(seed=5)
    scores = np.zeros(len(features))
    top = np.flatnonzero(names == "A")[:10]
    scores[top] = np.arange(10, 0, -1)  # A's first ten are the most confusing
    queue = select_queue(scores, 14, at_random=False, predicted=None, classes=3,
                         random_share=2 / 7, rng=np.random.default_rng(0),
                         far=(features, labeled))
    assert len(queue) == 14 and len(set(queue.tolist())) == 14
    assert set(top.tolist()) <= set(queue.tolist())  # 10 guided
    explored = [i for i in queue if i not in set(top.tolist())]
    assert {"C", "D"} <= set(names[explored])
    assert [scores[i] for i in queue] == sorted((scores[i] for i in queue), reverse=True)


def test_a_new_project_explores_far_with_semi_rounds_and_at_random_without(tmp_path, small_npz,
                                                                          small_project_template):
    """`gltui init`: the far share where the rounds learn from the pool too, the measured random
    share with labels only (init_args: --semi off), and --explore overrides either."""
    from conftest import init_args

    from gltui.cli import main
    from gltui.project import Project

    with Project.open(small_project_template) as project:
        assert project.run_config("main").score.explore == "random"
    for name, extra, want in (("semi", [], "far"), ("drawn", ["--explore", "random"], "random"),
                              ("labels-far", ["--semi", "off", "--explore", "far"], "far")):
        path = tmp_path / name
        assert main(init_args(path, small_npz)[:-2] + extra) == 0
        with Project.open(path) as project:
            assert project.run_config("main").score.explore == want, name


def test_one_pass_gives_the_far_features_and_the_classes_predict_proba_gives(digits):
    """engine._select reads the far share's features and class balance's classes from one pass
    over the candidates (training.features with_classes: each net's head on its embed)."""
    import pytest
    import torch

    from gltui.learn import train as training
    from gltui.learn.models import build_model

    grey = digits[0][:70, None]  # real sample digits: an untrained net's features vary on them
    for name, channels in (("mnist", 1), ("cifar", 3), ("small", 1)):
        size = (32, 32) if channels == 3 else (28, 28)
        model = build_model(name, channels, size, 10, generator=torch.Generator().manual_seed(1))
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():  # an untrained net guesses one class: spread its last layer
            last.weight.normal_(0, 50, generator=torch.Generator().manual_seed(2))
            last.bias.zero_()
        x = grey if channels == 1 else np.pad(np.repeat(grey, 3, 1), ((0, 0), (0, 0), (2, 2),
                                                                         (2, 2)))
        feats, classes = training.features(model, x, batch_size=32, with_classes=True)
        assert np.array_equal(feats, training.features(model, x, batch_size=32))
        want = training.predict_proba(model, x, batch_size=32).argmax(1)
        assert np.array_equal(classes, want), name
        assert len(set(want.tolist())) > 1, name  # a net that guesses one class proves little
        assert feats.shape[0] == 70 and np.allclose(np.linalg.norm(feats, axis=1), 1.0,
                                                    atol=1e-5)
    with pytest.raises(AttributeError):
        torch.nn.Linear(2, 2).head  # noqa: B018 - only gltui's nets have a head


def test_the_seed_draw_covers_the_digits_classes_that_a_random_draw_misses(digits):
    """learn/select.select_seed, a run's seed set since 2026-12-08 (benchmarks/seed_draw.py:
    on the sample pool 9.95 of 10 classes in 20 images against 8.4 at random, and round 0 far
    more accurate): on 600 sample digits, 20 images of 8 draws cover more classes than random
    draws of the same generators, every draw holds distinct images of the ids it was given, and
    the same generator draws the same set."""
    x, y = digits
    images = x[:, None]
    ids = np.arange(0, len(x), dtype=np.int64)
    far, drawn = [], []
    for seed in range(8):
        chosen = select_seed(images, ids, 20, np.random.default_rng(seed))
        assert len(np.unique(chosen)) == 20 and np.isin(chosen, ids).all()
        assert (np.diff(chosen) > 0).all()  # sorted, as a seed set is stored
        far.append(len(set(y[chosen].tolist())))
        drawn.append(len(set(y[np.random.default_rng(seed).choice(ids, 20, replace=False)])))
    assert np.array_equal(select_seed(images, ids, 20, np.random.default_rng(3)),
                          select_seed(images, ids, 20, np.random.default_rng(3)))
    assert np.mean(far) >= 9.5 and np.mean(far) > np.mean(drawn), (far, drawn)


def test_the_seed_draw_sees_shapes_by_their_edges_not_their_size_and_contrast():
    """On grey shapes (benchmarks/grey_shapes.py) regions of pooled pixels follow size and
    contrast: 20 far images held 7.6 of 10 classes where random ones held 9.0. On the edges'
    orientation histograms the far draw holds 9.5 (1,000 shapes, 8 draws), none below 8."""
    from benchmarks.grey_shapes import make

    x, y = make(1000, 0)
    ids = np.arange(len(x), dtype=np.int64)
    held = [len(set(y[select_seed(x[:, None], ids, 20, np.random.default_rng(seed))].tolist()))
            for seed in range(8)]
    assert np.mean(held) >= 9 and min(held) >= 8, held


def test_the_seed_draw_keeps_away_from_the_images_already_labeled(digits):
    """A person's labels.csv labels join the seed set: the draw fills it up with images unlike
    them. With every 0-4 already covered, the 10 drawn are mostly of 5-9."""
    x, y = digits
    images = x[:, None]
    covered = np.flatnonzero(y <= 4)[:100]
    rest = np.setdiff1d(np.arange(len(x)), covered)
    chosen = select_seed(images, rest, 10, np.random.default_rng(0), covered=covered)
    assert not np.isin(chosen, covered).any()
    assert (y[chosen] >= 5).sum() >= 7, y[chosen]


def test_a_new_project_draws_its_seed_set_far_and_an_old_or_asked_one_at_random(tmp_path,
                                                                                small_npz):
    """`gltui init` stores seed_draw far (the default) or random (--seed-draw random); a
    project made before the draw (no seed_draw in its meta) keeps drawing at random, so its new
    runs start where its old ones did."""
    from conftest import init_args

    from gltui.cli import main
    from gltui.config import Config
    from gltui.project import Project
    from gltui.project.runs import create_run

    seeds = {}
    for name, extra in (("far", []), ("random", ["--seed-draw", "random"])):
        path = tmp_path / name
        assert main(init_args(path, small_npz) + extra) == 0
        with Project.open(path) as project:
            assert project.meta["seed_draw"] == name
            seeds[name] = project.store.labeled("main")[0]
    assert len(seeds["far"]) == len(seeds["random"]) == 20
    assert not np.array_equal(seeds["far"], seeds["random"])
    with Project.open(tmp_path / "far") as project:
        del project.meta["seed_draw"]  # as a project made before the draw
        config = Config.from_json(project.require_run("main").config)
        create_run(project, "old", "margin", config)
        assert np.array_equal(project.store.labeled("old")[0], seeds["random"])
