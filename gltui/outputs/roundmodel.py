"""A round's model in its project: the one place it is saved, found and loaded. Imports torch.

    checkpoints/RUN/model-roundNNN.pt     what the engine saves after training round NNN:
                                          {"model": state_dict, "num_classes", "epochs",
                                          "temperature", ...}

The engine (evaluate, score, query), `gltui predict` and the model export (outputs/modelfolder.py,
the folder anyone can load with `gltui.load_model`) all load a round's network through
`load_round` / `load_finished`, so a change to what a round's model is (its output layer growing
with a new class, say) lands in one place.

Loading always uses torch.load(weights_only=True): a model file can hold tensors only, never code.
The network is rebuilt from gltui.learn.models by its name.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from gltui.config import PROFILE_MODEL, Config
from gltui.errors import ProjectError, shell_command
from gltui.fsio import atomic_write
from gltui.learn import models

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
    rounds' small net (its width), else the configured net (`auto`: the profile's, else the
    preset's paper net)."""
    if config.semi.enabled:
        name = models.resolve_model_name(config.semi.model, channels)
        return name, ({"width": config.semi.width} if name == "small" else {})
    name = config.model
    if name == "auto":
        name = PROFILE_MODEL.get(config.train.profile, name)
    return models.resolve_model_name(name, channels), {}


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
    data = torch_bytes(obj)
    atomic_write(path, lambda fh: fh.write(data))


def torch_bytes(obj) -> memoryview:
    """What torch.save writes, made in memory. Written to a file afterwards, a disk that fills
    is an OSError (one line: fsio.disk_error); torch's zip writer, writing the file itself,
    turned the short write into "RuntimeError: unexpected pos" and a traceback (a real full
    disk, tests/test_full_disk.py)."""
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getbuffer()


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


def temperature(project: "Project", run: str, round: int) -> float:
    """The round's calibration temperature (1.0 for a model saved before calibration)."""
    return float(read_round(project, run, round).get("temperature", 1.0))


def load_round(project: "Project", run: str, round: int, device: torch.device) -> torch.nn.Module:
    """The round's network on `device`, eval mode; ModelLost when its file is damaged. A model
    trained before a person added a class has one output fewer than the project has classes."""
    saved = read_round(project, run, round)
    name, shape, _ = network(project, run)
    path = project.model_path(run, round)
    classes = int(saved.get("num_classes", len(project.classes)))
    if not 1 <= classes <= len(project.classes):  # a file of another project, copied in
        raise ModelLost(path) from ValueError(f"{classes} classes in a project of "
                                              f"{len(project.classes)}")
    # The file names its network (a run may have switched --semi since); older files do not.
    try:
        return build(saved["model"], saved.get("network", name), shape, classes, device,
                     saved.get("network_options"))
    except (RuntimeError, ValueError, TypeError) as err:  # weights of another shape
        raise ModelLost(path) from err


def finished_round(project: "Project", run: str, round: int | None = None) -> int:
    """`round` if it is a finished round of the run, else the run's latest finished round;
    ProjectError when there is none (nothing changes)."""
    project.require_run(run)
    done = [r.round for r in project.store.rounds(run) if r.finished_at is not None]
    if not done:
        raise ProjectError(f"run {run!r} has no finished round yet; train it first with "
                           f"`{shell_command('run', project.path, '--run', run)}`")
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
        row = project.require_run(run)
        if row.phase != "done" and row.round == round:  # the engine trains its round again
            fix = f"`{shell_command('run', project.path, '--run', run)}` trains it again"
        else:  # a finished run's rounds are not trained again
            others = [str(r.round) for r in project.store.rounds(run)
                      if r.finished_at is not None and r.round != round]
            fix = ("copy it back from a backup" + (f", or give another round with --round "
                                                   f"({', '.join(others)})" if others else ""))
        raise ProjectError(f"{lost.path}: the round {round} model of run {run!r} is missing or "
                           f"unreadable ({cause}); {fix}") from lost
