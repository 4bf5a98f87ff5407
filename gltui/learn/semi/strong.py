"""The strong augmentation of FixMatch-style training: geometry, intensity ops and cutout, batched.

RandAugment's idea (Cubuk et al. 2020; FixMatch's "strong" view) in a handful of tensor ops on the
images' device, never per-image Python:

  1. geometry: rotation, isotropic scale, shear and translation (optionally Simard's elastic field)
     folded into ONE sampling grid (augment.Augment's grid plus a shift) and one grid_sample;
  2. `n_ops` intensity ops per image, each image drawing its own ops and magnitudes: brightness,
     contrast, gamma, autocontrast, sharpness/blur, solarize, posterize, equalize, Gaussian noise.
     Every op is computed for the whole batch and kept where the image drew it (torch.where), so
     the cost is a fixed few passes over a 28x28 batch;
  3. cutout: one square of side up to `cutout` x the image, filled with grey (FixMatch's).

Randomness comes only from the `torch.Generator` passed in, in a fixed draw order (geometry,
shift, op keys, magnitudes, noise, cutout): the same generator state gives the same images, on
any call, which a resumed run relies on. Draws happen on the generator's device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gltui.learn.augment import Augment, AugmentSpec

OPS = ("brightness", "contrast", "gamma", "autocontrast", "sharpness", "solarize", "posterize",
       "equalize", "noise")


@dataclass(frozen=True)
class StrongSpec:
    rotation: float = 15.0  # degrees, uniform in [-r, r]: moderate, so a square stays a square
    scale: tuple[float, float] = (0.85, 1.15)  # isotropic zoom
    shear: float = 10.0  # degrees, x and y drawn separately
    translate: float = 0.125  # shift, as a fraction of the side, uniform in [-t, t] per axis
    elastic_alpha: float = 0.0  # Simard's field (px at 28 px); 0 = none
    elastic_sigma: float = 4.0
    n_ops: int = 2  # intensity ops per image (RandAugment's N)
    ops: tuple[str, ...] = OPS
    cutout: float = 0.5  # largest cutout side as a fraction of the image (FixMatch's 0.5); 0 = none
    cutout_fill: float = 0.5  # grey
    padding_mode: str = "border"  # fill from outside the image: the edge colour (no black corners)


PRESETS: dict[str, StrongSpec | None] = {
    # Class-preserving for digits and for shapes alike: rotation +-15 deg keeps a square from
    # becoming a diamond, and most of the strength is in intensity and occlusion.
    "default": StrongSpec(),
    # Handwriting: the digits preset's geometry (augment.py) plus the intensity ops and cutout.
    "digits": StrongSpec(rotation=25.0, scale=(0.8, 1.2), shear=11.5, elastic_alpha=34.0),
    # Intensity and occlusion only, no geometry (for images whose pose is their class).
    "intensity": StrongSpec(rotation=0.0, scale=(1.0, 1.0), shear=0.0, translate=0.0),
    "none": None,
}


def resolve_strong(name: str) -> str:
    name = "default" if name == "auto" else name
    if name not in PRESETS:
        raise ValueError(f"unknown strong augmentation {name!r}; choose auto or one of "
                         f"{', '.join(PRESETS)}")
    return name


class StrongAugment:
    """`strong(x, generator)`: float (B, C, H, W) in [0, 1] -> the same shape, dtype and device."""

    def __init__(self, name: str = "default", spec: StrongSpec | None = None):
        self.name = resolve_strong(name) if spec is None else name
        self.spec = PRESETS[self.name] if spec is None else spec
        if self.spec is not None:
            unknown = set(self.spec.ops) - set(OPS)
            if unknown:
                raise ValueError(f"unknown intensity ops {sorted(unknown)}; choose from "
                                 f"{', '.join(OPS)}")
            s = self.spec
            self._geometry = Augment("strong", AugmentSpec(
                rotation=s.rotation, scale=s.scale, shear=s.shear, elastic_alpha=s.elastic_alpha,
                elastic_sigma=s.elastic_sigma, padding_mode=s.padding_mode), channels=0)

    def __repr__(self) -> str:
        return f"StrongAugment({self.name!r})"

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        s = self.spec
        if s is None or x.shape[0] == 0:
            return x
        b, c, h, w = x.shape
        draw_device = generator.device if generator is not None else x.device

        def rand(*shape: int) -> torch.Tensor:
            return torch.rand(shape, generator=generator, device=draw_device).to(x.device)

        # 1. geometry: augment.py's grid (rotation, scale, shear, elastic), plus a shift.
        grid = self._geometry.sampling_grid(b, h, w, x.device, generator)
        shift = (rand(b, 2) * 2 - 1) * (2 * s.translate)  # normalised coordinates span 2
        grid = grid + shift[:, None, None, :]
        x = F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode=s.padding_mode,
                          align_corners=True)

        # 2. intensity ops: each image keeps the n_ops ops with the smallest random keys.
        k = len(s.ops)
        keys, mags = rand(b, k), rand(b, k)
        noise = torch.randn((b, c, h, w), generator=generator, device=draw_device).to(x.device)
        if s.n_ops > 0 and k > 0:
            kth = keys.topk(min(s.n_ops, k), dim=1, largest=False).values[:, -1:]
            chosen = keys <= kth  # (b, k)
            for j, op in enumerate(s.ops):
                m = mags[:, j].view(b, 1, 1, 1)
                x = torch.where(chosen[:, j].view(b, 1, 1, 1), _OP_FUNCS[op](x, m, noise), x)

        # 3. cutout: a square of side u * cutout * size at a uniform centre.
        cut = rand(b, 3)
        if s.cutout > 0:
            side = cut[:, 0] * s.cutout * min(h, w)
            cy, cx = cut[:, 1] * h, cut[:, 2] * w
            ys = torch.arange(h, device=x.device, dtype=x.dtype).view(1, h, 1)
            xs = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, w)
            half = (side / 2).view(b, 1, 1)
            inside = (((ys + 0.5 - cy.view(b, 1, 1)).abs() <= half)
                      & ((xs + 0.5 - cx.view(b, 1, 1)).abs() <= half))
            x = torch.where(inside[:, None], torch.full_like(x, s.cutout_fill), x)
        return x


# ---- the intensity ops: f(x, magnitude (b,1,1,1) in [0, 1], noise) -> x in [0, 1] -------------

def _mean(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=(1, 2, 3), keepdim=True)


def _brightness(x, m, noise):
    return (x + (2 * m - 1) * 0.4).clamp(0, 1)


def _contrast(x, m, noise):
    mean = _mean(x)
    return (mean + (x - mean) * (0.4 + 1.2 * m)).clamp(0, 1)  # factor 0.4 .. 1.6


def _gamma(x, m, noise):
    return x.clamp(min=1e-6).pow(torch.exp2(2 * m - 1))  # gamma 0.5 .. 2


def _autocontrast(x, m, noise):
    lo = x.amin(dim=(2, 3), keepdim=True)
    hi = x.amax(dim=(2, 3), keepdim=True)
    span = hi - lo
    return torch.where(span > 1e-3, (x - lo) / span.clamp(min=1e-3), x)


def _sharpness(x, m, noise):
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return (x + (2 * m - 1) * (x - blurred)).clamp(0, 1)  # < 0: blur, > 0: sharpen


def _solarize(x, m, noise):
    threshold = 1.0 - 0.5 * m  # 1 (nothing) .. 0.5
    return torch.where(x >= threshold, 1.0 - x, x)


def _posterize(x, m, noise):
    levels = torch.exp2(8 - torch.round(4 * m))  # 8 .. 4 bits
    return torch.floor(x * (levels - 1) + 0.5) / (levels - 1)


def _equalize(x, m, noise):
    """Histogram equalisation per image and channel over 256 levels, as PIL's ImageOps.equalize
    approximately: each level maps to its cumulative share of the pixels below it."""
    b, c, h, w = x.shape
    levels = (x.reshape(b * c, h * w) * 255).round().long().clamp(0, 255)
    hist = torch.zeros(b * c, 256, device=x.device, dtype=x.dtype).scatter_add_(
        1, levels, torch.ones_like(x).reshape(b * c, h * w))
    cdf = hist.cumsum(1)
    below = cdf - hist  # pixels strictly darker: 0 for the darkest level
    count_max = hist.gather(1, levels.amax(1, keepdim=True))  # PIL spreads all but the top level
    denom = (h * w - count_max).clamp(min=1.0)
    out = (below.gather(1, levels) / denom).clamp(0, 1)
    return out.reshape(b, c, h, w)


def _noise(x, m, noise):
    return (x + noise * (0.1 * m)).clamp(0, 1)


_OP_FUNCS = {
    "brightness": _brightness, "contrast": _contrast, "gamma": _gamma,
    "autocontrast": _autocontrast, "sharpness": _sharpness, "solarize": _solarize,
    "posterize": _posterize, "equalize": _equalize, "noise": _noise,
}


def make_strong(name: str = "auto") -> StrongAugment:
    """The strong augmentation called `name` (default | digits | intensity | none | auto)."""
    return StrongAugment(resolve_strong(name))
