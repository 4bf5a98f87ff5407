"""A round's model: the one place it is saved, found, loaded, run and exported. Imports torch.

    checkpoints/RUN/model-roundNNN.pt     what the engine saves after training round NNN:
                                          {"model": state_dict, "num_classes", "epochs", ...}
    gltui export PROJECT --format model   a folder anyone can load: model.pt (the state_dict)
                                          and model.json (classes, input shape, preprocessing)
    gltui.load_model(DIR)                 rebuilds that folder without a project

The engine (evaluate, score, query), `gltui predict` and the model export all load a round's
network through `load_round` / `RoundModel`, so a change to what a round's model is (its
output layer growing with a new class, say) lands in one place.

Loading always uses torch.load(weights_only=True): a model file can hold tensors only, never code.
The network is rebuilt from gltui.learn.models by its name, so a folder needs this gltui (the
version that wrote it is in model.json).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from gltui.config import VERSION, Config
from gltui.errors import ProjectError
from gltui.fsio import atomic_folder, atomic_write
from gltui.learn import models
from gltui.learn.device import resolve_device

if TYPE_CHECKING:
    from gltui.project import Project


class ModelLost(Exception):
    """A round's model file is missing or unreadable. Not a person's error: the engine trains the
    round again (training is deterministic, so to the same weights)."""

    def __init__(self, path: Path):
        super().__init__(str(path))
        self.path = path


# ---- a round's file in the project ---------------------------------------------------------------


def network_for(config: Config, channels: int) -> tuple[str, dict]:
    """(network name, constructor options) that a run of `config` trains: the semi-supervised
    rounds' small net (its width), else the configured (paper) net."""
    if config.semi.enabled:
        name = models.resolve_model_name(config.semi.model, channels)
        return name, ({"width": config.semi.width} if name == "small" else {})
    return models.resolve_model_name(config.model, channels), {}


def network(project: "Project", run: str) -> tuple[str, tuple[int, int, int], Config]:
    """(network name, input shape (C, H, W), config) of a run's model as its config says now
    (a round's file names the network it holds: see load_round)."""
    config = project.run_config(run)
    shape = tuple(int(v) for v in project.meta["shape"])
    return network_for(config, shape[0])[0], shape, config


def save_round(project: "Project", run: str, round: int, saved: dict) -> None:
    """The round's model file ({"model": state_dict, "num_classes": ..., ...}), written whole or
    not at all (fsio.atomic_write)."""
    save_file(saved, project.model_path(run, round))


def save_file(obj, path: Path) -> None:
    """torch.save through fsio.atomic_write: the file under its real name is always whole."""
    atomic_write(path, lambda fh: torch.save(obj, fh))


def read_round(project: "Project", run: str, round: int) -> dict:
    """The round's saved dict; ModelLost when the file is missing or unreadable."""
    path = project.model_path(run, round)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        saved["model"]  # noqa: B018 - a truncated file can load as something else
        return saved
    except Exception as err:  # torch raises RuntimeError, EOFError, pickle errors, KeyError...
        raise ModelLost(path) from err


def build(weights: dict, model_name: str, shape: tuple, num_classes: int,
          device: torch.device, options: dict | None = None) -> torch.nn.Module:
    """The network `model_name` (constructor `options`) with `weights` loaded, on `device`, in
    eval mode."""
    model = models.build_model(model_name, shape[0], tuple(shape[1:]), num_classes,
                               **(options or {}))
    model.load_state_dict(weights)
    return model.to(device).eval()


def load_round(project: "Project", run: str, round: int, device: torch.device) -> torch.nn.Module:
    """The round's network on `device`, eval mode; ModelLost when its file is damaged. A model
    trained before a person added a class has one output fewer than the project has classes."""
    saved = read_round(project, run, round)
    name, shape, _ = network(project, run)
    # The file names its network (a run may have switched --semi since); older files do not.
    return build(saved["model"], saved.get("network", name), shape,
                 int(saved.get("num_classes", len(project.classes))), device,
                 saved.get("network_options"))


def finished_round(project: "Project", run: str, round: int | None = None) -> int:
    """`round` if it is a finished round of the run, else the run's latest finished round;
    ProjectError when there is none (nothing changes)."""
    project.require_run(run)
    done = [r.round for r in project.store.rounds(run) if r.finished_at is not None]
    if not done:
        raise ProjectError(f"run {run!r} has no finished round yet; train it first with "
                           f"`gltui run {project.path} --run {run}`")
    if round is None:
        return done[-1]
    if round not in done:
        raise ProjectError(f"run {run!r} has no finished round {round} (finished: "
                           f"{', '.join(map(str, done))}); give one of those with --round")
    return round


def load_finished(project: "Project", run: str, round: int, device: torch.device
                  ) -> torch.nn.Module:
    """A finished round's network for `predict` and the export: a damaged file is the person's
    to hear about (ProjectError naming the command that trains it again), not a retrain."""
    try:
        return load_round(project, run, round, device)
    except ModelLost as lost:
        cause = type(lost.__cause__).__name__ if lost.__cause__ else "missing"
        raise ProjectError(f"{lost.path}: the round {round} model of run {run!r} is missing or "
                           f"unreadable ({cause}); `gltui run {project.path} --run {run}` trains "
                           "it again") from lost


# ---- the model folder: gltui export --format model, gltui.load_model ---------------------------

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
        torch.save(model.state_dict(), tmp / WEIGHTS)
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
    """Rebuild the model that `gltui export --format model` wrote to the folder `path`. Needs no
    project. Everything in the folder is checked against caps before anything is built or any
    weight is read (gltui/outputs/modelfolder.py); a folder that is not one raises ValueError of
    one sentence."""
    from gltui.outputs.modelfolder import load_weights, read_meta

    path = Path(path)
    meta = read_meta(path)
    weights = load_weights(path, meta)
    dev = resolve_device(device)
    return LoadedModel(build(weights, meta["network"], tuple(meta["input_shape"]),
                             len(meta["classes"]), dev, meta.get("network_options")), meta, dev)
