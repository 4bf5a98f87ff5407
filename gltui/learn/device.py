"""Where tensors live: device choice, per-device generators, and the uint8 -> float step.

Shared by training and scoring so that both move images the same way: uint8 crosses to the
device (4x fewer bytes than float32) and becomes float there.
"""

from __future__ import annotations

import numpy as np
import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' picks cuda if available, else mps, else cpu; an explicit device must exist."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but this torch sees no CUDA GPU")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' asked for, but this torch has no MPS backend available")
    try:
        return torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or mps") from e


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    """A generator on `device`, so random indices and noise are drawn where they are used."""
    return torch.Generator(device=device).manual_seed(seed)


def as_uint8_tensor(x: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (N, C, H, W) images as a tensor on `device`; zero-copy on the CPU where possible."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        arr = np.asarray(x)
        # torch.from_numpy refuses read-only (e.g. memory-mapped) arrays without a copy.
        t = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    if t.dtype != torch.uint8 or t.dim() != 4:
        raise ValueError(f"images must be uint8 (N, C, H, W); got {t.dtype} {tuple(t.shape)}")
    return t.to(device, non_blocking=True)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 -> float32 in [0, 1], on whatever device x is on."""
    return x.float().div_(255.0)
