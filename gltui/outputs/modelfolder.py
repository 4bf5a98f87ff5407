"""The model folder: `gltui export --format model` writes it (write_model), `gltui.load_model`
rebuilds it without a project (load_model), checked against caps before anything is built.

    model.pt     the round model's state_dict
    model.json   classes, input shape, preprocessing, calibration temperature, provenance

A model folder comes from anywhere (a download, a colleague), so nothing in it is trusted:

  model.json   a regular file (not a link, FIFO or device) of at most MAX_JSON_BYTES; every key
               known and of its type; format and version this gltui reads; the network one of
               gltui.learn.models.MODELS with only its own constructor options, in range; the
               input shape C x H x W with C 1 or 3 and H, W at most MAX_SIDE; 1 to MAX_CLASSES
               class names of at most MAX_NAME characters; a finite positive temperature.
  the network  its parameter shapes come from building it on torch's `meta` device (no memory
               behind any tensor), and their count must stay under MAX_PARAMS; only then is the
               weights file looked at.
  model.pt     a bare file name inside the folder (no path, no `..`), a regular file (not a link),
               no larger than the parameters it must hold allow; loaded memory-mapped with
               weights_only=True (tensors only, never code), and its keys, shapes and dtypes must
               be exactly the network's before any weight is copied.

Every refusal is a ValueError of one sentence naming the folder and what is wrong; a hostile
value is quoted cut to a few dozen characters. benchmarks/hostile.py measures 20 such folders
(time and memory), tests/test_model_folder.py asserts each.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from gltui.config import VERSION
from gltui.data.core import MAX_CLASSES
from gltui.fsio import atomic_folder
from gltui.learn import models
from gltui.learn.device import resolve_device
from gltui.outputs.roundmodel import (
    build,
    finished_round,
    load_finished,
    network,
    read_round,
    torch_bytes,
)

if TYPE_CHECKING:
    from gltui.project import Project

WEIGHTS, META = "model.pt", "model.json"
FORMAT = "gltui-model"
FORMAT_VERSION = 1
PREPROCESSING = {
    "input": "uint8 images, N x C x H x W (channels first), already H x W with C channels "
             "(1 grey, 3 RGB): the project's input shape",
    "to_float": "x.float() / 255: values in [0, 1]; no mean or std normalisation",
    "output": "logits (N x classes); softmax(logits / temperature) over the last axis gives the "
              "calibrated class probabilities, in the order of `classes`",
}

MAX_JSON_BYTES = 1 << 20  # model.json is ~1 KB; 10,000 class names fit in well under 1 MB
MAX_NAME = 1_000  # characters of one class name
MAX_SIDE = 1_024  # input height and width
CHANNELS = (1, 3)  # grey or RGB: what the readers convert images to
MAX_PARAMS = 100_000_000  # 400 MB of float32: far above any network gltui trains (MNIST net: 1.2M)
WEIGHTS_SLACK = 1 << 20  # bytes a torch.save zip adds beyond the tensors' own (names, pickle)
OPTIONS = {"small": {"width": (1, 256)}}  # per network: its constructor options and their range
OPTIONAL = {"temperature", "network_options", "preprocessing", "gltui_version", "torch_version",
            "run", "round", "n_labeled", "val_accuracy", "test_accuracy", "project", "weights"}
REQUIRED = {"format", "format_version", "network", "classes", "input_shape"}


def _cut(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value) -> bool:
    return type(value) is int


def _is_number(value) -> bool:
    return type(value) in (int, float)


class Refused(ValueError):
    """A model folder gltui will not load (a ValueError of one sentence)."""


def read_meta(folder: Path) -> dict:
    """model.json of `folder`, checked (see the module doc); Refused otherwise."""
    path = folder / META

    def refuse(why: str):
        return Refused(f"{folder}: not a gltui model folder: {why}")

    try:
        st = os.lstat(path)
    except OSError as err:
        raise refuse(f"{META} cannot be read ({err.strerror or err})") from None
    if not stat.S_ISREG(st.st_mode):
        raise refuse(f"{META} is not a regular file (a link, folder, FIFO or device)")
    if st.st_size > MAX_JSON_BYTES:
        raise refuse(f"{META} has {st.st_size:,} bytes, more than {MAX_JSON_BYTES:,}")
    try:
        with open(path, "rb") as fh:
            meta = json.loads(fh.read(MAX_JSON_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise refuse(f"{META} is not UTF-8 JSON ({type(err).__name__})") from None
    if not isinstance(meta, dict):
        raise refuse(f"{META} is not a JSON object")
    unknown = sorted(set(meta) - REQUIRED - OPTIONAL)
    if unknown:
        raise refuse(f"{META} has unknown keys ({_cut(', '.join(unknown))})")
    missing = sorted(REQUIRED - set(meta))
    if missing:
        raise refuse(f"{META} lacks {', '.join(missing)}")
    if meta["format"] != FORMAT:
        raise refuse(f"format is {_cut(meta['format'])}, not {FORMAT!r}")
    if meta["format_version"] != FORMAT_VERSION or not _is_int(meta["format_version"]):
        raise refuse(f"format_version {_cut(meta['format_version'])} is not {FORMAT_VERSION}, the "
                     "one this gltui reads (a newer gltui may read it)")
    if not isinstance(meta["network"], str) or meta["network"] not in models.MODELS:
        raise refuse(f"network {_cut(meta['network'])} is not one of "
                     f"{', '.join(models.MODELS)}")
    options = meta.get("network_options", {})
    allowed = OPTIONS.get(meta["network"], {})
    if not isinstance(options, dict):
        raise refuse("network_options is not a JSON object")
    for key, value in options.items():
        if key not in allowed:
            raise refuse(f"network_options {_cut(key)} is not an option of the "
                         f"{meta['network']} network")
        low, high = allowed[key]
        if not (_is_int(value) and low <= value <= high):
            raise refuse(f"network_options {key} {_cut(value)} is not an integer in "
                         f"{low}..{high}")
    shape = meta["input_shape"]
    if not (isinstance(shape, list) and len(shape) == 3 and all(map(_is_int, shape))
            and shape[0] in CHANNELS and all(1 <= s <= MAX_SIDE for s in shape[1:])):
        raise refuse(f"input_shape {_cut(shape)} is not [C, H, W] with C 1 or 3 and H, W "
                     f"1..{MAX_SIDE}")
    classes = meta["classes"]
    if not (isinstance(classes, list) and 1 <= len(classes) <= MAX_CLASSES):
        raise refuse(f"classes is not a list of 1 to {MAX_CLASSES:,} names")
    bad = next((c for c in classes if not (isinstance(c, str) and 0 < len(c) <= MAX_NAME)), None)
    if bad is not None:
        raise refuse(f"class {_cut(bad)} is not a name of 1 to {MAX_NAME:,} characters")
    t = meta.get("temperature", 1.0)
    if not (_is_number(t) and math.isfinite(t) and 1e-3 <= t <= 1e3):
        raise refuse(f"temperature {_cut(t)} is not a number in 0.001..1000")
    if not isinstance(meta.get("preprocessing", {}), dict):
        raise refuse("preprocessing is not a JSON object")
    for key in ("round", "n_labeled"):
        if key in meta and not _is_int(meta[key]):
            raise refuse(f"{key} {_cut(meta[key])} is not an integer")
    for key in ("val_accuracy", "test_accuracy"):
        if meta.get(key) is not None and not _is_number(meta[key]):
            raise refuse(f"{key} {_cut(meta[key])} is not a number")
    for key in ("gltui_version", "torch_version", "run", "project"):
        if key in meta and not isinstance(meta[key], str):
            raise refuse(f"{key} {_cut(meta[key])} is not a string")
    return meta


def expected_weights(folder: Path, meta: dict) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Name -> (shape, dtype) of the network's state_dict, from a build on the `meta` device (no
    memory behind it); Refused when the network cannot take this shape or is over MAX_PARAMS."""
    c, h, w = meta["input_shape"]
    try:
        with torch.device("meta"):
            net = models.MODELS[meta["network"]](c, (h, w), len(meta["classes"]),
                                                 **meta.get("network_options", {}))
    except (ValueError, RuntimeError) as err:
        raise Refused(f"{folder}: not a gltui model folder: the {meta['network']} network cannot "
                      f"take input_shape {meta['input_shape']} ({str(err)[:80]})") from None
    want = {k: (tuple(v.shape), v.dtype) for k, v in net.state_dict().items()}
    n = sum(math.prod(s) for s, _ in want.values())
    if n > MAX_PARAMS:
        raise Refused(f"{folder}: not a gltui model folder: its {meta['network']} network for "
                      f"input_shape {meta['input_shape']} and {len(meta['classes'])} classes has "
                      f"{n:,} parameters, more than {MAX_PARAMS:,}")
    return want


def load_weights(folder: Path, meta: dict) -> dict[str, torch.Tensor]:
    """The weights file's tensors, memory-mapped, checked against the network's shapes (see the
    module doc); Refused otherwise."""
    want = expected_weights(folder, meta)

    def refuse(why: str):
        return Refused(f"{folder}: not a gltui model folder: {why}")

    name = meta.get("weights", WEIGHTS)
    if not (isinstance(name, str) and 0 < len(name) <= 255 and name not in (".", "..")
            and "/" not in name and "\\" not in name and "\0" not in name):
        raise refuse(f"weights {_cut(name)} is not a file name inside the folder")
    path = folder / name
    try:
        st = os.lstat(path)
    except OSError as err:
        raise refuse(f"{name} cannot be read ({err.strerror or err})") from None
    if not stat.S_ISREG(st.st_mode):
        raise refuse(f"{name} is not a regular file in the folder (a link, folder, FIFO or "
                     "device)")
    limit = sum(math.prod(s) * d.itemsize for s, d in want.values()) + WEIGHTS_SLACK
    if st.st_size > limit:
        raise refuse(f"{name} has {st.st_size:,} bytes, more than the {limit:,} its network's "
                     "weights take")
    try:
        weights = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, zip errors...
        raise refuse(f"{name} is not a torch weights file of tensors only "
                     f"({type(err).__name__})") from None
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor)
                                                for v in weights.values()):
        raise refuse(f"{name} does not hold a dict of tensors")
    if set(weights) != set(want):
        odd = sorted(map(str, set(weights) ^ set(want)))
        raise refuse(f"{name} does not hold the {meta['network']} network's weights (keys "
                     f"{_cut(', '.join(odd))} differ)")
    for key, (shape, dtype) in want.items():
        got = weights[key]
        if tuple(got.shape) != shape or got.dtype != dtype:
            raise refuse(f"{name}: {key} is {got.dtype} {list(got.shape)}, the network wants "
                         f"{dtype} {list(shape)}")
    return weights


# ---- writing and loading a folder: gltui export --format model, gltui.load_model ------------

def write_model(project: "Project", run: str, out: Path, round: int | None = None) -> dict:
    """Write the run's round model (default: its latest finished round) to the folder `out`, built
    beside it and renamed into place; returns the metadata written to model.json."""
    round = finished_round(project, run, round)
    model = load_finished(project, run, round, torch.device("cpu"))
    saved = read_round(project, run, round)
    _, shape, _ = network(project, run)
    name, options = saved.get("network", network(project, run)[0]), saved.get("network_options", {})
    row = next(r for r in project.store.rounds(run) if r.round == round)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "network": name,
        "network_options": options,
        "temperature": float(saved.get("temperature", 1.0)),
        # one name per output: a model trained before a class was added has fewer outputs
        # than the project has classes; a merged class reads as the class it went into
        "classes": list(project.classes)[:int(saved.get("num_classes", len(project.classes)))],
        "input_shape": list(shape),
        "preprocessing": PREPROCESSING,
        "weights": WEIGHTS,
        "gltui_version": VERSION,
        "torch_version": torch.__version__,
        "run": run,
        "round": round,
        "n_labeled": row.n_labeled,
        "val_accuracy": row.val_accuracy,
        "test_accuracy": row.test_accuracy,
        "project": str(project.path.resolve()),
    }
    with atomic_folder(out) as tmp:
        (tmp / WEIGHTS).write_bytes(torch_bytes(model.state_dict()))
        (tmp / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


@dataclass
class LoadedModel:
    """A model folder rebuilt: the network (eval mode, on `device`), its metadata and classes."""

    model: torch.nn.Module
    meta: dict
    device: torch.device

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    def predict_proba(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities, float32 (N, classes), of uint8 images N x C x H x W (or one
        C x H x W image) in the model's input shape."""
        from gltui.learn.train import predict_proba

        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        want = tuple(self.meta["input_shape"])
        if x.dtype != np.uint8 or x.shape[1:] != want:
            raise ValueError(f"images must be uint8 N x {' x '.join(map(str, want))}; got "
                             f"{x.dtype} {' x '.join(map(str, x.shape))}")
        if len(x) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return predict_proba(self.model, x, self.device, batch_size,
                             temperature=float(self.meta.get("temperature", 1.0)))

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(class index int64, its probability float32) per image: what `gltui predict` stores."""
        probs = self.predict_proba(images)
        classes = probs.argmax(1)
        return classes.astype(np.int64), probs[np.arange(len(probs)), classes]


def load_model(path: str | Path, device: str = "cpu") -> LoadedModel:
    """Rebuild the model that `gltui export --format model` wrote to the folder `path`. Needs no
    project. Everything in the folder is checked against caps before anything is built or any
    weight is read (read_meta, load_weights above); a folder that is not one raises ValueError of
    one sentence."""
    path = Path(path)
    meta = read_meta(path)
    weights = load_weights(path, meta)
    dev = resolve_device(device)
    return LoadedModel(build(weights, meta["network"], tuple(meta["input_shape"]),
                             len(meta["classes"]), dev, meta.get("network_options")), meta, dev)
