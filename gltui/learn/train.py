"""Training one round: fresh weights, class-weighted Adam, early stopping, resumable epochs.

The paper retrains from scratch every round, so `fit` always starts from a freshly initialised
network (or from a checkpoint of the same round). It knows nothing of its caller: progress leaves
through `on_epoch`, which may also cancel, and checkpoints are handed out as plain dicts that the
caller saves wherever it likes.

Determinism: every random draw of epoch e (minibatch order, augmentation, dropout) is seeded from
`derive_seed(seed, "epoch", e)` at the start of that epoch, and the initial weights from
`derive_seed(seed, "init")`. A fit resumed from the checkpoint taken after epoch e therefore draws
exactly what the uninterrupted fit drew, and on the CPU ends with bit-identical weights.

Data stays where the model is: the labeled uint8 images are moved to the device once, minibatches
are gathered there by index, and the float conversion and augmentation happen there too. No
DataLoader, no worker processes: for in-memory tensors they only add copies.

Distributed (`group` of several ranks, see learn/distributed.py): every rank runs this same loop
with the same seeds, so all draw the same global minibatch order and augmentation; each rank keeps
a contiguous slice of every global batch (dropout masks drawn for the whole batch and sliced), DDP
averages the gradients, validation is split across ranks and the correct counts summed, and rank
0's stop decision (early stopping, max epochs or its caller's cancel) is broadcast after each
epoch. Only rank 0 calls `on_epoch`. The network sees the single process's inputs and masks; the
floating-point order of the gradient sums differs, so weights agree closely, not bit for bit. A
group of one rank runs the single-process code exactly.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gltui.config import TrainConfig
from gltui.learn import optim
from gltui.learn.augment import make_augment
from gltui.learn.device import as_uint8_tensor, make_generator, resolve_device, to_float
from gltui.learn.distributed import Group, row_range, sharded_dropout
from gltui.learn.models import build_model, resolve_model_name
from gltui.learn.seeding import derive_seed

CHECKPOINT_FORMAT = 1


@dataclass
class EpochReport:
    epoch: int  # 1-based: the epoch that just finished
    max_epochs: int
    train_loss: float  # mean class-weighted loss over the epoch's steps
    val_accuracy: float
    best_val_accuracy: float
    best_epoch: int
    patience_left: int  # epochs without improvement still allowed
    seconds: float  # wall time of this epoch, validation included


@dataclass
class FitResult:
    model: nn.Module  # best weights loaded, in eval mode, on the fit's device
    best_val_accuracy: float
    best_epoch: int
    epochs: int  # epochs run in total, across resumes
    stopped: str  # "early-stop" | "max-epochs" | "cancelled"
    seconds: float  # wall time of this call


# on_epoch(report, make_checkpoint) -> False to cancel; None or True to go on.
EpochCallback = Callable[[EpochReport, Callable[[], dict]], "bool | None"]


def class_weights(labels: np.ndarray | torch.Tensor, num_classes: int,
                  mu: float = 0.3) -> torch.Tensor:
    """The paper's weight(c) = max(ln(mu * t / n_c), 1.0), as a float32 (num_classes,) CPU tensor.

    t is the number of labels, n_c the labels of class c. Weights never fall below 1, so common
    classes are not down-weighted; rare ones are up-weighted. A class with no labels yet is
    weighted as if it had one, max(ln(mu * t), 1): the largest weight the formula can give, so no
    division by zero and rarer stays heavier. No sample carries that label, so the value cannot
    change the loss; it only has to be finite.
    """
    y = _labels(labels, torch.device("cpu"))
    counts = torch.bincount(y, minlength=num_classes)[:num_classes].double()
    ratio = mu * float(y.numel()) / counts.clamp(min=1.0)
    return torch.log(ratio).clamp(min=1.0).float()  # t = 0: log(0) = -inf -> 1


def _labels(y: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(y, torch.Tensor):
        return y.detach().to(device=device, dtype=torch.int64).reshape(-1)
    return torch.as_tensor(np.asarray(y), dtype=torch.int64).reshape(-1).to(device)


def labeled_inputs(train_x, train_y, val_x, val_y, device: torch.device):
    """(x, y, val_x, val_y, fixed) on `device`, checked: a non-empty labeled set with one label
    per image. No validation set (`fixed`): a fixed schedule, the last weights kept, and the
    accuracy each epoch reports is the training set's, without augmentation; nothing is chosen
    by it. Validation is moved once, not per epoch. `fit` and `semi.train.fit_semi` share it."""
    x = as_uint8_tensor(train_x, device)
    y = _labels(train_y, device)
    if len(x) == 0:
        raise ValueError("cannot train on an empty labeled set")
    if len(y) != len(x):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    fixed = len(val_y) == 0
    if fixed:
        return x, y, x, y, True
    return x, y, as_uint8_tensor(val_x, device), _labels(val_y, device), False


@torch.inference_mode()
def _logits_chunks(model: nn.Module, x: np.ndarray | torch.Tensor, device: torch.device,
                   batch_size: int):
    model.eval()
    for start in range(0, len(x), batch_size):
        xb = as_uint8_tensor(x[start:start + batch_size], device)
        yield start, model(to_float(xb))


def _count_correct(model: nn.Module, x, y_t: torch.Tensor, device: torch.device,
                   batch_size: int) -> torch.Tensor:
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for start, logits in _logits_chunks(model, x, device, batch_size):
        correct += (logits.argmax(1) == y_t[start:start + len(logits)]).sum()
    return correct


def evaluate(model: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor,
             device: str | torch.device = "cpu", batch_size: int = 1024) -> float:
    """Top-1 accuracy of `model` on uint8 images `x` with labels `y` (float32 forward, eval
    mode)."""
    device = resolve_device(device)
    y_t = _labels(y, device)
    if len(y_t) == 0:
        return float("nan")
    # the only sync of the pass
    return _count_correct(model, x, y_t, device, batch_size).item() / len(y_t)


def predict_proba(model: nn.Module, x: np.ndarray | torch.Tensor,
                  device: str | torch.device = "cpu", batch_size: int = 1024,
                  temperature: float = 1.0) -> np.ndarray:
    """Softmax probabilities, float32 (N, classes), of `model` on uint8 images `x` (eval mode),
    calibrated by `temperature`: softmax(logits / T), the same arithmetic as predict's pass
    (learn/score.predict_chunks), so a model folder reproduces `gltui predict`: the classes, and
    the probabilities to float32 rounding (bit for bit where the forwards hold the same images)."""
    device = resolve_device(device)
    parts = [(logits.float() / temperature).softmax(1).cpu()
             for _, logits in _logits_chunks(model, x, device, batch_size)]
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(parts).numpy()


@torch.inference_mode()
def features(model: nn.Module, x: np.ndarray | torch.Tensor, device: str | torch.device = "cpu",
             batch_size: int = 1024, with_classes: bool = False):
    """(N, D) float32 features of `model` (its `embed`: the layer before the classes) on uint8
    images `x`, eval mode, each row scaled to unit length: what the far share of a queue
    measures distances in (learn/select.select_far). `with_classes`: also the model's class per
    image from the same pass (its `head` on those features: predict_proba's argmax), as
    (features, classes)."""
    device = resolve_device(device)
    model.eval()
    parts, classes = [], []
    for start in range(0, len(x), batch_size):
        f = model.embed(to_float(as_uint8_tensor(x[start:start + batch_size], device)))
        parts.append(torch.nn.functional.normalize(f.float().flatten(1), dim=1).cpu())
        if with_classes:
            classes.append(model.head(f).float().softmax(1).argmax(1).cpu())
    feats = torch.cat(parts).numpy() if parts else np.zeros((0, 0), dtype=np.float32)
    if not with_classes:
        return feats
    return feats, (torch.cat(classes).numpy() if classes else np.zeros(0, dtype=np.int64))


def _cpu_copy(state: dict) -> dict:
    """Detached CPU copies: a checkpoint must not change when training goes on, nor pin the GPU."""
    return {k: (v.detach().to("cpu", copy=True) if isinstance(v, torch.Tensor) else v)
            for k, v in state.items()}


def _optimizer_state_cpu(state: dict) -> dict:
    return {
        "state": {i: _cpu_copy(s) for i, s in state["state"].items()},
        "param_groups": [dict(g) for g in state["param_groups"]],
    }


class Best:
    """A fit's early-stopping record: the best validation accuracy so far, its epoch and weights,
    and the epochs of patience left. `fixed` (no validation split) keeps the latest epoch."""

    def __init__(self, module: nn.Module, patience: int):
        self.patience = patience
        self.accuracy, self.epoch, self.patience_left = -1.0, 0, patience
        self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}

    def observe(self, epoch: int, accuracy: float, module: nn.Module, fixed: bool) -> None:
        if fixed or accuracy > self.accuracy:
            self.accuracy, self.epoch, self.patience_left = accuracy, epoch, self.patience
            self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            self.patience_left -= 1

    def checkpoint(self) -> dict:
        """The record's part of a fit checkpoint (plain CPU tensors and numbers)."""
        return {"best_state": _cpu_copy(self.state), "best_val_accuracy": self.accuracy,
                "best_epoch": self.epoch, "patience_left": self.patience_left}

    def restore(self, checkpoint: dict, device: torch.device) -> None:
        self.state = {k: v.to(device) for k, v in checkpoint["best_state"].items()}
        self.accuracy = float(checkpoint["best_val_accuracy"])
        self.epoch, self.patience_left = (int(checkpoint["best_epoch"]),
                                          int(checkpoint["patience_left"]))


def _forked_rng(device: torch.device):
    """torch.random.fork_rng for the CPU plus `device`'s own generator, if it has one."""
    if device.type == "cpu":
        return torch.random.fork_rng(devices=[])
    index = device.index if device.index is not None else 0
    return torch.random.fork_rng(devices=[index], device_type=device.type)


def fit(
    model_name: str,
    train_x: np.ndarray | torch.Tensor,
    train_y: np.ndarray | torch.Tensor,
    val_x: np.ndarray | torch.Tensor,
    val_y: np.ndarray | torch.Tensor,
    num_classes: int,
    cfg: TrainConfig,
    *,
    seed: int,
    device: str | torch.device = "cpu",
    resume: dict | None = None,
    on_epoch: EpochCallback | None = None,
    group: Group | None = None,
) -> FitResult:
    """Train `model_name` from fresh weights on uint8 (N, C, H, W) images; early-stop on val
    accuracy.

    `on_epoch(report, make_checkpoint)` runs after every epoch; `make_checkpoint()` returns a dict
    of plain tensors/ints/floats/lists (loadable with `torch.load(weights_only=True)`) and
    returning False cancels. `resume=checkpoint` continues after that checkpoint's epoch, with the
    same result as if the fit had never stopped.

    `group`: one rank of a distributed fit (module docstring). Every rank calls `fit` with the same
    arguments (other ranks with `on_epoch=None`); all return the same model.
    """
    started = time.perf_counter()
    device = resolve_device(device)
    x, y, val_x, val_y, fixed = labeled_inputs(train_x, train_y, val_x, val_y, device)
    n, channels, height, width = x.shape
    name = resolve_model_name(model_name, channels)

    sharded = group is not None and group.world_size > 1
    # `model` is the network itself (what is checkpointed and returned); `forward` is what the
    # training steps call: the DDP wrapper when sharded, which all-reduces the gradients.
    model = build_model(name, channels, (height, width), num_classes,
                        generator=torch.Generator().manual_seed(derive_seed(seed, "init"))
                        ).to(device)
    # The fused kernel updates every parameter in one pass (measured ~5-10% of a CPU step at
    # batch 64); it exists for CPU and CUDA.
    optimizer = optim.Adam(model.parameters(), lr=cfg.lr,
                           fused=device.type in ("cpu", "cuda") or None)
    weights = class_weights(y, num_classes, cfg.mu).to(device)
    augment = make_augment(cfg.augment, channels)

    # A 20-image set would otherwise be one step per epoch, and early stopping would judge the
    # network after a handful of updates. Batches never exceed the set: repeats add no information.
    batch = min(cfg.batch_size, n)
    steps = cfg.steps_per_epoch(n)
    perms = math.ceil(steps * batch / n)  # whole permutations, so every image is seen equally often

    epoch, best = 0, Best(model, cfg.patience)
    if resume is not None:
        if (resume.get("format") != CHECKPOINT_FORMAT or resume.get("seed") != seed
                or resume.get("model_name") != name):
            raise ValueError("checkpoint does not belong to this fit (format, seed or model "
                             "differ)")
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        best.restore(resume, device)
        epoch = int(resume["epoch"])

    def make_checkpoint() -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "model_name": name,
            "epoch": epoch,
            # with `epoch` this is the whole RNG state: every draw derives from the pair
            "seed": seed,
            "model": _cpu_copy(model.state_dict()),
            "optimizer": _optimizer_state_cpu(optimizer.state_dict()),
            **best.checkpoint(),
        }

    stopped = ("max-epochs" if epoch >= cfg.max_epochs
               else ("early-stop" if best.patience_left <= 0 else ""))
    # Dropout draws from torch's global RNG; fork it so that seeding it per epoch leaves the
    # caller's global stream exactly as it was.
    with _forked_rng(device), (sharded_dropout(model) if sharded
                               else contextlib.nullcontext()) as rows:
        forward = group.wrap(model) if sharded else model  # DDP syncs rank 0's weights here
        while not stopped:
            epoch += 1
            t0 = time.perf_counter()
            epoch_seed = derive_seed(seed, "epoch", epoch)
            torch.manual_seed(epoch_seed)  # dropout masks (global RNG, all devices)
            g = make_generator(device, epoch_seed)  # batch order and augmentation
            order = torch.cat([torch.randperm(n, generator=g, device=device) for _ in range(perms)])

            forward.train()
            loss_sum = torch.zeros((), device=device)
            for step in range(steps):
                idx = order[step * batch:(step + 1) * batch]
                # Sharded, every rank augments the whole global batch (so the generator advances
                # as in one process and each image gets its single-process draw) and keeps its rows.
                xb = augment(to_float(x[idx]), g)
                if sharded:
                    lo, hi = row_range(len(idx), group)
                    rows.set(len(idx), lo, hi)
                    idx, xb = idx[lo:hi], xb[lo:hi]
                logits = forward(xb)
                # Keras's class_weight semantics (the paper's framework): weighted per-sample losses
                # averaged over the batch, not PyTorch's weighted mean that divides by sum(w).
                per_sample = F.cross_entropy(logits, y[idx], reduction="none") * weights[y[idx]]
                if sharded:
                    # this rank's share of the global mean; DDP divides the sum by world_size
                    loss = per_sample.sum() * (group.world_size / rows.rows)
                else:
                    loss = per_sample.mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach()  # stays on the device: no per-step sync

            if sharded:
                loss_sum = group.all_sum(loss_sum) / group.world_size
                lo, hi = row_range(len(val_y), group)
                correct = group.all_sum(_count_correct(model, val_x[lo:hi], val_y[lo:hi], device,
                                                       cfg.val_batch_size))
                val_acc = correct.item() / len(val_y)
            else:
                val_acc = evaluate(model, val_x, val_y, device, cfg.val_batch_size)
            best.observe(epoch, val_acc, model, fixed)
            report = EpochReport(epoch, cfg.max_epochs, loss_sum.item() / steps, val_acc,
                                 best.accuracy, best.epoch, best.patience_left,
                                 time.perf_counter() - t0)
            if on_epoch is not None and on_epoch(report, make_checkpoint) is False:
                stopped = "cancelled"
            elif best.patience_left <= 0:
                stopped = "early-stop"
            elif epoch >= cfg.max_epochs:
                stopped = "max-epochs"
            if sharded:  # rank 0's decision: only it knows whether its caller cancelled
                stopped = group.broadcast(stopped)

    model.load_state_dict(best.state)
    model.eval()
    return FitResult(model, best.accuracy, best.epoch, epoch, stopped,
                     time.perf_counter() - started)
