"""`gltui.load_model` checks a model folder before it builds anything (outputs/modelfolder.py).

The hostile folders are benchmarks/hostile.py's (27 of them): each a ValueError of one line that
names the folder, the code-running pickle never run; the same battery measured in a child process
stays within generous caps (the targets, < 1 s and < 100 MB each, are the benchmark's). A valid
folder, and one whose weights are the round model export's, still load (the export's round trip
is tests/test_takeaway.py::test_model_export_reproduces_predict_in_a_fresh_process).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import gltui

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks import hostile  # noqa: E402


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Path]:
    return hostile.make_model_cases(tmp_path_factory.mktemp("hostile-models"))


def test_a_valid_folder_loads_and_predicts_as_its_network(tmp_path):
    folder = hostile.valid_model_folder(tmp_path / "m")
    model = gltui.load_model(folder)
    assert model.classes == [str(i) for i in range(10)] and not model.model.training
    weights = torch.load(folder / "model.pt", weights_only=True)
    assert all(torch.equal(model.model.state_dict()[k], v) for k, v in weights.items())
    images = np.random.default_rng(0).integers(0, 256, (5, 1, 28, 28), dtype=np.uint8)
    assert model.predict_proba(images).shape == (5, 10)


def test_a_link_inside_the_folder_is_refused_too(tmp_path):
    """Links are refused whatever they point at: the check is on the entry, not its target."""
    folder = hostile.valid_model_folder(tmp_path / "m")
    os.rename(folder / "model.pt", folder / "real.pt")
    os.symlink("real.pt", folder / "model.pt")
    with pytest.raises(ValueError, match="model.pt is not a regular file"):
        gltui.load_model(folder)


@pytest.mark.parametrize("name", list(hostile.MODEL_CASES))
def test_a_hostile_model_folder_is_one_value_error(name, cases):
    folder = cases[name]
    with pytest.raises(ValueError) as err:
        gltui.load_model(folder)
    message = str(err.value)
    assert message.startswith(f"{folder}: not a gltui model folder: "), message
    assert "\n" not in message and len(message) <= 300 + len(str(folder)), message
    assert not (folder.parent / f"{folder.name}-RAN").exists()  # the pickle's command never ran


def test_the_shape_caps_hold_without_the_version_check(cases):
    """The caps are checked on their own: a folder of the right format and version with a huge
    shape is refused by the shape or parameter cap, not by anything before it."""
    for name, why in [("input_shape 3 x 100000 x 100000", "input_shape"),
                      ("input_shape 1 x 1024 x 1024 (params cap alone)", "parameters"),
                      ("small net width 10^6", "width"), ("20000 classes", "classes")]:
        meta = json.loads((cases[name] / "model.json").read_text())
        assert meta["format_version"] == 1 and meta["format"] == "gltui-model"
        with pytest.raises(ValueError, match=why):
            gltui.load_model(cases[name])


def test_the_hostile_battery_stays_fast_and_small(tmp_path):
    """The benchmark's measurement (one child process, the peak reset before each case), with
    generous caps for a busy machine: ValueError each, < 5 s, < 200 MB above the imports."""
    rows = hostile.measure_models(tmp_path)
    control = next(r for r in rows if r["case"] == hostile.CONTROL)
    assert control["error"] is None  # the valid folder loads in the same process
    bad = [r for r in rows if r["case"] != hostile.CONTROL
           and not (r["value_error"] and r["seconds"] < 5 and r["peak_mb"] < 200
                    and not r["ran_code"])]
    assert bad == [], bad
    assert len(rows) - 1 >= 20


def test_weights_are_read_only_after_model_json_passes(tmp_path, monkeypatch):
    """Nothing of model.pt is read while model.json is wrong: torch.load is never called."""
    folder = hostile.valid_model_folder(tmp_path / "m")
    hostile.MODEL_CASES["input_shape 3 x 100000 x 100000"](folder)
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    with pytest.raises(ValueError, match="input_shape"):
        gltui.load_model(folder)
    shutil.rmtree(folder)
