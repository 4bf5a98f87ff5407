"""A round model as a folder anyone can load: `model.pt` (the network's state_dict) and
`model.json` (what the weights mean: classes, input shape, preprocessing, network, versions).

    gltui export PROJECT --format model --out DIR        writes it (write_model)
    gltui.load_model(DIR)                                 rebuilds it (load_model)

Loading uses torch.load(weights_only=True): a model folder from elsewhere can hold tensors only,
never code. The network is rebuilt from gltui.learn.models by its name, so the folder needs this
gltui (the version that wrote it is in model.json). Imports torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from gltui.fsio import atomic_folder

if TYPE_CHECKING:
    from gltui.project import Project

WEIGHTS, META = "model.pt", "model.json"
FORMAT = "gltui-model"
FORMAT_VERSION = 1
PREPROCESSING = {
    "input": "uint8 images, N x C x H x W (channels first), already H x W with C channels "
             "(1 grey, 3 RGB): the project's input shape",
    "to_float": "x.float() / 255: values in [0, 1]; no mean or std normalisation",
    "output": "logits (N x classes); softmax over the last axis gives the class probabilities, "
              "in the order of `classes`",
}


def write_model(project: "Project", run: str, out: Path, round: int | None = None) -> dict:
    """Write the run's round model (default: its latest finished round) to the folder `out`, built
    beside it and renamed into place; returns the metadata written to model.json."""
    from gltui import __version__
    from gltui.predict import finished_round, network, round_weights

    round = finished_round(project, run, round)
    weights = round_weights(project, run, round)
    name, shape, _ = network(project, run)
    row = next(r for r in project.store.rounds(run) if r.round == round)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "network": name,
        "classes": list(project.classes),
        "input_shape": list(shape),
        "preprocessing": PREPROCESSING,
        "weights": WEIGHTS,
        "gltui_version": __version__,
        "torch_version": torch.__version__,
        "run": run,
        "round": round,
        "n_labeled": row.n_labeled,
        "val_accuracy": row.val_accuracy,
        "test_accuracy": row.test_accuracy,
        "project": str(project.path.resolve()),
    }
    with atomic_folder(out) as tmp:
        torch.save(weights, tmp / WEIGHTS)
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
        return predict_proba(self.model, x, self.device, batch_size)

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(class index int64, its probability float32) per image: what `gltui predict` stores."""
        probs = self.predict_proba(images)
        classes = probs.argmax(1)
        return classes.astype(np.int64), probs[np.arange(len(probs)), classes]


def load_model(path: str | Path, device: str = "cpu") -> LoadedModel:
    """Rebuild the model that `gltui export --format model` wrote to the folder `path`; a folder
    that is not one raises ValueError. Needs no project: only this module and gltui.learn."""
    from gltui.learn.device import resolve_device
    from gltui.learn.models import build_model

    path = Path(path)
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path / META}: not a gltui model folder ({err})") from err
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path / META}: not a gltui model folder of format version "
                         f"{FORMAT_VERSION}")
    c, h, w = meta["input_shape"]
    model = build_model(meta["network"], c, (h, w), len(meta["classes"]))
    weights = torch.load(path / meta.get("weights", WEIGHTS), map_location="cpu", weights_only=True)
    model.load_state_dict(weights)
    dev = resolve_device(device)
    return LoadedModel(model.to(dev).eval(), meta, dev)
