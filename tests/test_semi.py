"""Semi-supervised rounds (learn/semi): determinism, bit-identical resume, the pool's effect, the
strong augmentation's seeding, warm starts, calibration helpers. Tiny sizes: a few seconds."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from conftest import SAMPLE_MNIST

from gltui import data
from gltui.learn import calibrate
from gltui.learn.semi import ALGORITHMS, SemiConfig, algorithm_class, semi_config
from gltui.learn.semi.strong import OPS, StrongAugment, StrongSpec, make_strong
from gltui.learn.semi.train import SemiEpochReport, fit_semi


@pytest.fixture(scope="module")
def digits():
    ds = data.load(f"folder:{SAMPLE_MNIST}")
    x, y = ds.train.images, ds.train.labels
    return x[:24], y[:24], x[100:260]  # labeled, labels, unlabeled


def _fit(digits, cfg=None, **kw):
    x, y, u = digits
    cfg = cfg or semi_config("tiny")
    kw = {"seed": 3, **kw}
    return fit_semi("small", x, y, kw.pop("unlabeled", u), x[:0], y[:0], 10, cfg, device="cpu",
                    **kw)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _roundtrip(obj: dict) -> dict:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_fit_is_deterministic_for_a_seed_and_leaves_the_global_rng_alone(digits):
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = _fit(digits)
    after = torch.rand(3)
    assert torch.equal(before, after)  # the caller's global stream is untouched
    b = _fit(digits)
    assert _same(a.model, b.model)
    c = _fit(digits, seed=4)
    assert not _same(a.model, c.model)
    assert a.epochs == 2 and a.stopped == "max-epochs" and not a.model.training


@pytest.mark.parametrize("algorithm,bf16",
                         [("fixmatch", "off"), ("flexmatch", "auto"), ("freematch", "on")])
def test_resume_after_an_epoch_is_bit_identical(digits, algorithm, bf16):
    cfg = semi_config("tiny", algorithm=algorithm, epochs=3, bf16=bf16)
    full = _fit(digits, cfg)
    saved = {}

    def stop_after_1(report, make_checkpoint):
        assert isinstance(report, SemiEpochReport)
        saved["ck"] = _roundtrip(make_checkpoint())  # survives torch.save / load(weights_only=True)
        return report.epoch < 1

    cut = _fit(digits, cfg, on_epoch=stop_after_1)
    assert cut.stopped == "cancelled" and cut.epochs == 1
    ck = saved["ck"]
    assert {"model", "ema", "optimizer", "algorithm_state", "epoch", "seed",
            "best_state"} <= ck.keys()
    resumed = _fit(digits, cfg, resume=ck)
    assert resumed.epochs == 3
    assert _same(full.model, resumed.model)
    with pytest.raises(ValueError):
        _fit(digits, cfg, seed=99, resume=ck)


def test_the_unlabeled_images_change_the_result(digits):
    x, y, u = digits
    with_pool = _fit(digits)
    other_pool = _fit(digits, unlabeled=u[::-1].copy())
    no_pool = _fit(digits, unlabeled=u[:0])
    assert not _same(with_pool.model, other_pool.model)
    assert not _same(with_pool.model, no_pool.model)
    # The labels-only baseline ignores the pool entirely.
    sup = semi_config("tiny", algorithm="supervised")
    assert _same(_fit(digits, sup).model, _fit(digits, sup, unlabeled=u[::-1].copy()).model)


def test_every_registered_algorithm_trains(digits):
    for name in ALGORITHMS:
        assert algorithm_class(name).name == name
        r = _fit(digits, semi_config("tiny", algorithm=name, epochs=1))
        assert all(torch.isfinite(v).all()
                   for v in r.model.state_dict().values() if v.is_floating_point())
    with pytest.raises(ValueError):
        algorithm_class("nope")


def test_warm_start_uses_the_previous_weights(digits):
    first = _fit(digits)
    init = {k: v.clone() for k, v in first.model.state_dict().items()}
    cfg = semi_config("tiny", warm_epochs=1)
    warm = _fit(digits, cfg, init=init, seed=5)
    cold = _fit(digits, cfg, seed=5)
    assert warm.epochs == 1 and cold.epochs == 2  # warm_epochs applies only with init
    assert not _same(warm.model, cold.model)
    # Resuming a warm-started fit needs no init: the checkpoint carries the weights.
    saved = {}
    cfg2 = semi_config("tiny", warm_epochs=2)
    full = _fit(digits, cfg2, init=init, seed=5)
    _fit(digits, cfg2, init=init, seed=5,
         on_epoch=lambda r, mk: saved.update(ck=mk()) or r.epoch < 1)
    assert _same(full.model, _fit(digits, cfg2, init=init, seed=5, resume=saved["ck"]).model)


def test_strong_augmentation_draws_only_from_the_generator():
    x = torch.rand(6, 1, 28, 28)
    strong = make_strong("default")
    torch.manual_seed(0)
    a = strong(x, torch.Generator().manual_seed(7))
    torch.manual_seed(1)  # a different global stream changes nothing
    b = strong(x, torch.Generator().manual_seed(7))
    c = strong(x, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype and 0 <= a.min() and a.max() <= 1
    g = torch.Generator().manual_seed(7)
    strong(x, g)
    assert not torch.equal(strong(x, g), a)  # the generator advances: each call draws anew
    for op in OPS:  # every op alone keeps the range and the shape
        one = StrongAugment("one", StrongSpec(n_ops=1, ops=(op,), cutout=0.0))(
            x, torch.Generator().manual_seed(1))
        assert one.shape == x.shape and one.min() >= 0 and one.max() <= 1
    assert torch.equal(make_strong("none")(x, g), x)


def test_config_defaults_and_profiles():
    cfg = SemiConfig()
    assert cfg.algorithm in ALGORITHMS and cfg.epochs > 0
    assert semi_config("person").epochs > 0
    with pytest.raises(ValueError):
        semi_config("nope")


def test_calibration_metrics_and_temperature():
    # Confidence 0.8 everywhere, right on 80 %: perfectly calibrated.
    n = 1000
    probs = np.full((n, 2), 0.2)
    probs[:, 0] = 0.8
    y = np.zeros(n, dtype=np.int64)
    y[:200] = 1
    m = calibrate.calibration(probs, y)
    assert m["ece"] == pytest.approx(0.0, abs=1e-9) and m["accuracy"] == pytest.approx(0.8)
    assert m["share_at_90"] == 0.0 and math.isnan(m["acc_at_90"])
    # Labels drawn from softmax(z / 2): the fitted temperature is close to 2.
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20000, 5, generator=g) * 4
    y = torch.multinomial((z / 2).softmax(1), 1, generator=g)[:, 0]
    assert calibrate.fit_temperature(z, y) == pytest.approx(2.0, rel=0.05)
