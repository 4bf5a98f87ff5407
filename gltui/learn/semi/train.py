"""fit_semi: one round of semi-supervised training, resumable epoch by epoch.

Mirrors learn/train.fit (and imports its helpers): the network starts from Glorot weights seeded
by derive_seed(seed, "init") (or from the previous round's weights, `init=`), every random draw of
epoch e (labeled order, unlabeled rows, weak and strong views) comes from one generator seeded by
derive_seed(seed, "epoch", e), and `on_epoch(report, make_checkpoint)` runs after each epoch and
may cancel. A fit resumed from the checkpoint of epoch e ends with bit-identical weights on the
CPU: the checkpoint holds everything that carries over between epochs (student, EMA teacher,
optimizer moments, the algorithm's running statistics, the best weights so far).

One step (`SemiConfig.batch_size` = B labeled, `uratio` * B unlabeled):

    teacher (EMA, eval mode, no grad) on weak(u)      -> probs_w
    student (train mode) on [weak(x), view(u)]        -> logits: one forward, BatchNorm sees both
    loss = class-weighted CE(labeled) + lambda_u * ramp * algorithm.unsup_loss(logits_u, probs_w)
    Adam(W) step with warm-up + cosine learning rate; EMA teacher update

An epoch is `steps_per_epoch` steps over a fresh random subset of the unlabeled images, not a pass
over the pool: the round's compute is epochs x steps, whatever the pool's size.

No validation set (a person's project): a fixed schedule, the last weights returned, and the
accuracy each epoch reports is the labeled set's. With one: the best epoch's weights, and
`patience` (if > 0) stops early.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gltui.learn import optim
from gltui.learn.augment import make_augment
from gltui.learn.device import as_uint8_tensor, make_generator, resolve_device, to_float
from gltui.learn.models import build_model, resolve_model_name
from gltui.learn.seeding import derive_seed
from gltui.learn.semi import SemiConfig, algorithm_class
from gltui.learn.semi.strong import make_strong
from gltui.learn.train import (
    Best,
    EpochCallback,
    EpochReport,
    FitResult,
    _cpu_copy,
    _forked_rng,
    _optimizer_state_cpu,
    class_weights,
    evaluate,
    labeled_inputs,
)

CHECKPOINT_FORMAT = 1
CHECKPOINT_KIND = "semi"


@dataclass
class SemiEpochReport(EpochReport):
    """EpochReport (what the engine shows) plus what a semi-supervised epoch adds."""

    sup_loss: float = 0.0  # mean labeled loss
    unsup_loss: float = 0.0  # mean unsupervised loss (before lambda_u)
    mask_rate: float = 0.0  # share of unlabeled images whose pseudo-label counted


def net_options(name: str, cfg: SemiConfig) -> dict:
    """What the network's constructor takes beyond its shape: the small net's width."""
    return {"width": cfg.width} if name == "small" else {}


def use_bf16(setting: str, device: torch.device) -> bool:
    """bfloat16 autocast for the training steps: "on", "off", or "auto" = on where the hardware
    does bf16 natively (CUDA; a CPU with AVX512-BF16 / AMX, as oneDNN reports), where it makes a
    step ~1.5x faster; elsewhere it would be emulated, slower than float32."""
    if setting in ("on", "off"):
        return setting == "on"
    if setting != "auto":
        raise ValueError(f"bf16 must be auto, on or off; got {setting!r}")
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def _lr_at(cfg: SemiConfig, step: int, total: int) -> float:
    """Linear warm-up over warmup_steps, then cosine from lr to lr * min_lr_ratio at `total`."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
    progress = min(1.0, step / max(1, total))
    cosine = cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.lr * warm * cosine


def _make_optimizer(cfg: SemiConfig, model: nn.Module,
                    device: torch.device) -> optim.Adam | optim.SGD:
    fused = device.type in ("cpu", "cuda") or None
    if cfg.optimizer == "adam":
        return optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                          decoupled_weight_decay=True, fused=fused)
    if cfg.optimizer == "sgd":
        return optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                         weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose adam or sgd")


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema = decay * ema + (1 - decay) * model, for parameters and float buffers (BatchNorm's
    running statistics); integer buffers (batches tracked) are copied."""
    e_params, m_params = list(ema.parameters()), list(model.parameters())
    torch._foreach_lerp_(e_params, m_params, 1.0 - decay)
    for eb, mb in zip(ema.buffers(), model.buffers()):
        if eb.dtype.is_floating_point:
            eb.lerp_(mb, 1.0 - decay)
        else:
            eb.copy_(mb)


def fit_semi(
    model_name: str,
    train_x: np.ndarray | torch.Tensor,
    train_y: np.ndarray | torch.Tensor,
    unlabeled_x: np.ndarray | torch.Tensor,
    val_x: np.ndarray | torch.Tensor,
    val_y: np.ndarray | torch.Tensor,
    num_classes: int,
    cfg: SemiConfig,
    *,
    seed: int,
    device: str | torch.device = "cpu",
    resume: dict | None = None,
    on_epoch: EpochCallback | None = None,
    init: dict | None = None,
) -> FitResult:
    """Train `model_name` ("small", or a learn/models.py net) on labeled uint8 (N, C, H, W) images
    and the unlabeled uint8 images `unlabeled_x` with `cfg.algorithm`.

    `init`: a state dict of the same network (the previous round's model) to start from instead
    of fresh weights (warm start; `cfg.warm_epochs` then sets the length). `resume`: a checkpoint
    from `make_checkpoint()`, which wins over `init`. Returns FitResult; its model is the EMA
    teacher when `cfg.eval_ema`, in eval mode on `device`.
    """
    started = time.perf_counter()
    device = resolve_device(device)
    x, y, val_x, val_y, fixed = labeled_inputs(train_x, train_y, val_x, val_y, device)
    u = as_uint8_tensor(unlabeled_x, device)
    n, channels, height, width = x.shape
    n_u = len(u)
    if n_u and tuple(u.shape[1:]) != (channels, height, width):
        raise ValueError(f"unlabeled images are {tuple(u.shape[1:])}, labeled "
                         f"{(channels, height, width)}")

    name = resolve_model_name(model_name, channels)
    algorithm = algorithm_class(cfg.algorithm)(cfg, num_classes, device, n_u)
    use_pool = algorithm.student_view != "none" and n_u > 0 and cfg.uratio > 0
    max_epochs = cfg.warm_epochs if (init is not None and cfg.warm_epochs > 0) else cfg.epochs
    steps = cfg.steps_per_epoch
    total_steps = max_epochs * steps

    model = build_model(name, channels, (height, width), num_classes, **net_options(name, cfg),
                        generator=torch.Generator().manual_seed(derive_seed(seed, "init"))
                        ).to(device)
    if init is not None and resume is None:
        model.load_state_dict(init)
    ema = copy.deepcopy(model)  # the teacher starts as the student
    ema.eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    optimizer = _make_optimizer(cfg, model, device)
    weights = class_weights(y, num_classes, cfg.mu).to(device)
    weak = make_augment(cfg.weak, channels)
    strong = make_strong(cfg.strong) if algorithm.student_view == "strong" else None

    batch = min(cfg.batch_size, n)
    perms = math.ceil(steps * batch / n)
    ubatch = cfg.uratio * cfg.batch_size
    uperms = math.ceil(steps * ubatch / n_u) if use_pool else 0

    evaluated = ema if cfg.eval_ema else model
    bf16 = use_bf16(cfg.bf16, device)

    def autocast():
        return (torch.autocast(device.type, dtype=torch.bfloat16) if bf16
                else contextlib.nullcontext())
    epoch, best = 0, Best(evaluated, cfg.patience)
    if resume is not None:
        if (resume.get("format") != CHECKPOINT_FORMAT or resume.get("kind") != CHECKPOINT_KIND
                or resume.get("seed") != seed or resume.get("model_name") != name
                or resume.get("algorithm") != cfg.algorithm
                or resume.get("max_epochs") != max_epochs):
            raise ValueError("checkpoint does not belong to this fit (format, seed, model, "
                             "algorithm or length differ)")
        model.load_state_dict(resume["model"])
        ema.load_state_dict(resume["ema"])
        optimizer.load_state_dict(resume["optimizer"])
        algorithm.load_state_dict(resume["algorithm_state"])
        best.restore(resume, device)
        epoch = int(resume["epoch"])

    def make_checkpoint() -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "kind": CHECKPOINT_KIND,
            "algorithm": cfg.algorithm,
            "model_name": name,
            "epoch": epoch,
            "max_epochs": max_epochs,
            "seed": seed,  # with `epoch` the whole RNG state: every draw derives from the pair
            "model": _cpu_copy(model.state_dict()),
            "ema": _cpu_copy(ema.state_dict()),
            "optimizer": _optimizer_state_cpu(optimizer.state_dict()),
            "algorithm_state": _cpu_copy(algorithm.state_dict()),
            **best.checkpoint(),
        }

    stopped = ("max-epochs" if epoch >= max_epochs
               else ("early-stop" if cfg.patience and best.patience_left <= 0 else ""))
    # The paper nets' dropout draws from torch's global RNG: forked, and seeded per epoch, as in
    # fit.
    with _forked_rng(device):
        while not stopped:
            epoch += 1
            t0 = time.perf_counter()
            epoch_seed = derive_seed(seed, "epoch", epoch)
            torch.manual_seed(epoch_seed)  # dropout masks (global RNG), for nets that have dropout
            g = make_generator(device, epoch_seed)  # every other draw of the epoch
            order = torch.cat([torch.randperm(n, generator=g, device=device) for _ in range(perms)])
            if use_pool:
                uorder = torch.cat([torch.randperm(n_u, generator=g, device=device)
                                    for _ in range(uperms)])
            model.train()
            sums = torch.zeros(4, device=device)  # loss, sup, unsup, mask rate: no per-step sync
            for step in range(steps):
                global_step = (epoch - 1) * steps + step
                lr = _lr_at(cfg, global_step, total_steps)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                idx = order[step * batch:(step + 1) * batch]
                xl = weak(to_float(x[idx]), g)
                if use_pool:
                    uidx = uorder[step * ubatch:(step + 1) * ubatch]
                    xu = to_float(u[uidx])
                    xw = weak(xu, g)
                    xs = strong(xu, g) if strong is not None else weak(xu, g)
                    with torch.no_grad():
                        if cfg.teacher == "ema":
                            with autocast():
                                probs_w = ema(xw).float().softmax(1)
                        else:
                            model.eval()
                            with autocast():
                                probs_w = model(xw).float().softmax(1)
                            model.train()
                    with autocast():
                        logits = model(torch.cat([xl, xs])).float()
                    logits_l, logits_u = logits[:len(idx)], logits[len(idx):]
                else:
                    with autocast():
                        logits_l = model(xl).float()
                sup = (F.cross_entropy(logits_l, y[idx], reduction="none") * weights[y[idx]]).mean()
                if use_pool:
                    unsup, mask = algorithm.unsup_loss(logits_u, probs_w, uidx, global_step)
                    ramp = (min(1.0, global_step / cfg.unsup_warmup_steps)
                            if cfg.unsup_warmup_steps > 0 else 1.0)
                    loss = sup + cfg.lambda_u * ramp * unsup
                    mask_rate = mask.mean()
                else:
                    unsup = mask_rate = torch.zeros((), device=device)
                    loss = sup
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                # The EMA starts by tracking the student closely (decay (1 + t) / (10 + t)), so an
                # early teacher is not the random initialisation.
                _ema_update(ema, model, min(cfg.ema, (1 + global_step) / (10 + global_step)))
                sums += torch.stack([loss.detach(), sup.detach(), unsup.detach(),
                                     mask_rate.detach()])

            val_acc = evaluate(evaluated, val_x, val_y, device, cfg.val_batch_size)
            best.observe(epoch, val_acc, evaluated, fixed)
            means = (sums / steps).tolist()
            report = SemiEpochReport(epoch, max_epochs, means[0], val_acc, best.accuracy,
                                     best.epoch, best.patience_left, time.perf_counter() - t0,
                                     sup_loss=means[1], unsup_loss=means[2], mask_rate=means[3])
            if on_epoch is not None and on_epoch(report, make_checkpoint) is False:
                stopped = "cancelled"
            elif cfg.patience > 0 and best.patience_left <= 0:
                stopped = "early-stop"
            elif epoch >= max_epochs:
                stopped = "max-epochs"

    evaluated.load_state_dict(best.state)
    evaluated.eval()
    for p in evaluated.parameters():
        p.requires_grad_(True)
    return FitResult(evaluated, best.accuracy, best.epoch, epoch, stopped,
                     time.perf_counter() - started)
