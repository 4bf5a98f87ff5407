"""The calls rank 0 of a distributed run makes to the other ranks, as typed records.

Rank 0 runs the engine's Runner as usual; training and scoring are the only work it shares. Before
each, it broadcasts a `FitCall` or a `ScoreCall` holding everything the work needs, then every rank,
itself included, runs that same call: `FitCall.run` is the one place the arguments of
`training.fit` are written, `ScoreCall.run` the one place those of a scoring pass are. A run on one
process builds the same records and runs them with `group=None` (nothing is sent). The other ranks
wait in `follow` for rank 0's calls until it broadcasts None.

The other ranks open no database and write nothing: they read the pixel memmap from the shared
project folder (written once, by `init`); everything else, a round's weights included, comes with
the call. (learn/distributed.py has the collectives; this module knows what the engine sends.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from gltui.config import SemiConfig, TrainConfig
from gltui.errors import ProjectError
from gltui.learn import distributed
from gltui.learn import score as scoring
from gltui.learn import train as training
from gltui.learn.augment import make_augment
from gltui.learn.device import ItemRows, pool_on
from gltui.outputs.roundmodel import build
from gltui.project import PIXELS_NAME


@dataclass
class RankCall:
    """What every call carries: the round's network and the run's augmentation preset."""

    model_name: str
    shape: tuple[int, int, int]  # channels, height, width
    num_classes: int
    augment: str  # a preset name (learn/augment.make_augment)


@dataclass
class FitCall(RankCall):
    """Train the round's model (DDP when `group` is given) on the labeled items."""

    train_ids: np.ndarray
    train_y: np.ndarray
    val_ids: np.ndarray
    val_y: np.ndarray
    train: TrainConfig
    seed: int
    resume: dict | None  # the last epoch checkpoint of this round, when resuming
    # A semi-supervised round (learn/semi): its settings, the unlabeled items it learns from
    # (never an audit, stop, validation or test image) and the previous round's weights to
    # start from (a warm start), if any. Trained on rank 0 alone: the other ranks wait for it.
    semi: SemiConfig | None = None
    unlabeled_ids: np.ndarray | None = None
    init: dict | None = None

    def key(self, device: torch.device, world_size: int = 1) -> str:
        """Everything that decides this fit's weights, hashed (every field but `resume`, the
        torch version, device type, threads and ranks). Two calls with one key train the same
        network bit for bit on one machine, so the engine reuses another run's round model of
        the same key (roundwork.trained_elsewhere): runs of one seed share their rounds until
        their strategies first part, at the warm start."""
        digest = hashlib.sha256()
        for f in dataclasses.fields(self):
            if f.name != "resume":
                digest.update(f"{f.name}={_canonical(getattr(self, f.name))};".encode())
        digest.update(f"torch={torch.__version__};{device.type};threads="
                      f"{torch.get_num_threads()};ranks={world_size}".encode())
        return digest.hexdigest()

    def run(self, pixels, device: torch.device, group: distributed.Group | None,
            on_epoch: training.EpochCallback | None = None) -> training.FitResult | None:
        """training.fit (or learn/semi's fit_semi) on this rank; only rank 0 passes `on_epoch`
        (checkpoints, progress). A semi-supervised round returns None on the other ranks."""
        if self.semi is not None:
            if group is not None and not group.is_main:
                return None
            from gltui.learn.semi import fit_semi

            return fit_semi(
                self.model_name, pixels[self.train_ids], self.train_y,
                pixels[self.unlabeled_ids], pixels[self.val_ids], self.val_y, self.num_classes,
                self.semi, seed=self.seed, device=device, resume=self.resume, on_epoch=on_epoch,
                init=self.init)
        return training.fit(
            self.model_name, pixels[self.train_ids], self.train_y, pixels[self.val_ids],
            self.val_y, self.num_classes, self.train, seed=self.seed, device=device,
            resume=self.resume, on_epoch=on_epoch, group=group,
        )


def _canonical(value) -> str:
    """A stable text of a FitCall field: arrays and tensors by dtype, shape and a hash of their
    bytes, configs as sorted JSON, a state dict key by key."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().contiguous().numpy()
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return f"{data.dtype.str}{data.shape}{hashlib.sha256(data.tobytes()).hexdigest()}"
    if dataclasses.is_dataclass(value):
        return json.dumps(dataclasses.asdict(value), sort_keys=True)
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_canonical(value[k])}" for k in sorted(value)) + "}"
    return repr(value)


@dataclass
class ScoreCall(RankCall):
    """Score the chunks `todo` of a pass over `candidates` (item ids)."""

    strategy: str
    candidates: np.ndarray
    todo: list[int]  # chunk indices still to score (a resumed pass skips the finished ones)
    n_chunks: int
    k: int
    seed: int
    chunk_size: int
    forward_batch: int  # chosen once on rank 0: the scores depend on it
    # The round's weights, for the other ranks only. They travel with the call rather than through
    # the model file: a file renamed into place a moment ago may not be visible yet on another
    # node's NFS client.
    weights: dict | None = None
    net_options: dict | None = None  # the network's constructor options (the small net's width)

    def run(self, pixels, device: torch.device, group: distributed.Group | None,
            model: torch.nn.Module | None = None, cancel: Callable[[], bool] | None = None
            ) -> Iterator[tuple[int, int, np.ndarray]]:
        """(chunk, start, scores) of the pass: with `group`, this rank's share of the chunks, and
        on rank 0 every rank's chunks in order as they come; otherwise every chunk of `todo`.
        `model` defaults to one built from `weights` (None for the random strategy); `cancel` is
        asked between chunks (between waves when distributed)."""
        if model is None and self.weights is not None:
            model = build(self.weights, self.model_name, self.shape, self.num_classes, device,
                          self.net_options)
        mine = self.todo if group is None else distributed.shard(self.todo, group)
        local = scoring.score_chunks(
            model, ItemRows(pixels, self.candidates), self.strategy,
            augment=make_augment(self.augment, self.shape[0]), device=device,
            skip=set(range(self.n_chunks)) - set(mine), cancel=cancel if group is None else None,
            k=self.k, seed=self.seed, chunk_size=self.chunk_size, forward_batch=self.forward_batch,
        )
        if group is None:
            return local
        return distributed.gather_waves(group, local, len(self.todo), cancel)


def follow(path: str | Path, group: distributed.Group) -> None:
    """Ranks 1..N-1 of a distributed run: run rank 0's calls until it broadcasts None."""
    path = Path(path)
    try:
        pixels = pool_on(np.load(path / PIXELS_NAME, mmap_mode="r"), group.device)
    except (OSError, ValueError) as err:
        raise ProjectError(f"{path / PIXELS_NAME}: unreadable on rank {group.rank} ({err}); every "
                           "node must see the project folder (each may give its own path)") from err
    while (call := group.broadcast()) is not None:
        if isinstance(call, FitCall):
            call.run(pixels, group.device, group)
        elif isinstance(call, ScoreCall):
            for _ in call.run(pixels, group.device, group):
                pass  # only rank 0 receives chunks
        else:
            raise RuntimeError(f"rank {group.rank}: unknown call {call!r} from rank 0")
