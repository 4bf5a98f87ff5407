"""Calibration: how far a model's confidence can be taken at its word, and how to make it so.

    calibration(probs, labels)          ECE (15 equal-width bins on the top-class confidence),
                                        acc_at_90 / share_at_90 (predictions with confidence >= 0.9)
    predict_views(model, x, k, ...)     softmax averaged over k weak-augmented views (seeded)
    predict_logits(model, x)            logits, for temperature scaling
    fit_temperature(logits, labels)     the temperature minimising the NLL (1-D search on log T)
    apply_temperature(logits, t)        softmax(logits / t)
    views_temperature(model, x, y, aug) T fitted on augmented views of the labeled images: no label
                                        beyond those counted, and views the model has not seen

Measured in docs/results/semi_methods.md on MNIST for the semi-supervised models of
learn/semi/.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from gltui.learn.device import as_uint8_tensor, make_generator, resolve_device, to_float


def calibration(probs: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, bins: int = 15,
                level: float = 0.90) -> dict:
    """{"accuracy", "ece", "acc_at_90", "share_at_90", "nll", "mean_confidence"} of (N, classes)
    probabilities against integer labels. ECE: sum over equal-width confidence bins of the bin's
    share times |accuracy - mean confidence| (Guo et al. 2017). acc_at_90 is NaN when no
    prediction reaches `level`."""
    p = torch.as_tensor(np.asarray(probs), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    conf, pred = p.max(1)
    correct = (pred == y).double()
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    # Bin i holds (edges[i], edges[i+1]]; a confidence of exactly 0 goes to the first bin.
    which = (torch.bucketize(conf, edges, right=False) - 1).clamp(0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.double().mean().item() * abs(correct[sel].mean().item()
                                                    - conf[sel].mean().item())
    high = conf >= level
    nll = -torch.log(p.gather(1, y[:, None]).clamp(min=1e-12)).mean().item()
    return {
        "accuracy": correct.mean().item(),
        "ece": ece,
        "acc_at_90": correct[high].mean().item() if high.any() else float("nan"),
        "share_at_90": high.double().mean().item(),
        "nll": nll,
        "mean_confidence": conf.mean().item(),
    }


@torch.no_grad()
def predict_logits(model: nn.Module, x, device: str | torch.device = "cpu",
                   batch_size: int = 1024) -> torch.Tensor:
    """float32 (N, classes) logits of `model` (eval mode) on uint8 images, on the CPU."""
    device = resolve_device(device)
    model.eval()
    out = [model(to_float(as_uint8_tensor(x[i:i + batch_size], device))).float().cpu()
           for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.zeros(0, 0)


@torch.no_grad()
def predict_views(model: nn.Module, x, augment, k: int, seed: int,
                  device: str | torch.device = "cpu", batch_size: int = 1024,
                  temperature: float = 1.0) -> torch.Tensor:
    """Softmax averaged over k views: the image itself and k - 1 draws of `augment` (a weak
    augmentation, augment.make_augment), seeded by `seed` alone. (N, classes) float32 on the CPU."""
    device = resolve_device(device)
    model.eval()
    g = make_generator(device, seed)
    out = []
    for i in range(0, len(x), batch_size):
        xb = to_float(as_uint8_tensor(x[i:i + batch_size], device))
        p = (model(xb).float() / temperature).softmax(1)
        for _ in range(k - 1):
            p += (model(augment(xb, g)).float() / temperature).softmax(1)
        out.append((p / k).cpu())
    return torch.cat(out) if out else torch.zeros(0, 0)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return (torch.as_tensor(logits).double() / temperature).softmax(1).float()


def fit_temperature(logits: torch.Tensor, labels, lo: float = 0.05, hi: float = 20.0,
                    iters: int = 60) -> float:
    """argmin over T in [lo, hi] of the mean NLL of softmax(logits / T): golden-section search on
    log T (the NLL is convex in 1/T, so unimodal on this axis)."""
    z = torch.as_tensor(logits).double()
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    if len(y) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        return torch.nn.functional.cross_entropy(z / math.exp(log_t), y).item()

    a, b = math.log(lo), math.log(hi)
    phi = (math.sqrt(5) - 1) / 2
    c, d = b - phi * (b - a), a + phi * (b - a)
    fc, fd = nll(c), nll(d)
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - phi * (b - a)
            fc = nll(c)
        else:
            a, c, fc = c, d, fd
            d = a + phi * (b - a)
            fd = nll(d)
    return math.exp((a + b) / 2)


@torch.no_grad()
def views_temperature(model: nn.Module, x, y, augment, views: int = 16, seed: int = 0,
                      device: str | torch.device = "cpu", batch_size: int = 1024) -> float:
    """The temperature that minimises the NLL of `views` augmented copies of the labeled images
    (uint8 `x`, labels `y`): a model is sure of the very images it trained on, less of altered
    ones, which stand in for images it has not seen. Uses no label beyond the training labels
    and draws only from a generator seeded by `seed`."""
    device = resolve_device(device)
    model.eval()
    if len(x) == 0:
        return 1.0
    g = make_generator(device, seed)
    zs = []
    for _ in range(views):
        for i in range(0, len(x), batch_size):
            xb = to_float(as_uint8_tensor(x[i:i + batch_size], device))
            zs.append(model(augment(xb, g)).float().cpu())
    labels = np.tile(np.asarray(y, dtype=np.int64), views)
    return fit_temperature(torch.cat(zs), labels)
