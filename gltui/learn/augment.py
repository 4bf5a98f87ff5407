"""Batched augmentation on the images' device: one sampling grid, one `grid_sample`.

The paper augments every training epoch and every scoring pass (k copies per pool image), so
augmentation runs over the whole pool k times per round and must cost a few batched tensor ops,
never per-image Python. Every transform of a preset (flip, shear, rotation, scale and the elastic
field) is folded into one sampling grid, so each image is resampled once: cheaper than chaining
kornia's augmentation modules, and sharper, since bilinear blur does not compound.

Randomness comes only from the `torch.Generator` the caller passes: kornia's augmentation modules
draw from the global RNG, which a resumed run cannot replay, so the parameters are drawn here and
kornia supplies the geometry (`get_affine_matrix2d`, `gaussian_blur2d`).

Presets:
  digits  rotation +-25 deg, scale 0.8-1.2, shear +-11.5 deg (0.2 rad, the usual Keras
          shear_range) on both axes, Simard elastic distortion (alpha 34 px, sigma 4 px at 28 px,
          Simard et al.'s MNIST values), cropped back to size, zero (black) fill.
  grey    rotation +-10 deg, scale 0.9-1.1, zero fill: the default for grey images, mild
          enough for shapes, objects or text (no flip: a flip changes what a letter or an arrow
          is); `digits` stays the paper's choice for handwriting (`--preset mnist`).
  colour  horizontal flip, rotation +-25 deg, scale 0.8-1.2, cropped back to size, edge fill
          (Keras's default fill_mode 'nearest': no black corners in natural images).
  none    the identity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from kornia.filters import gaussian_blur2d
from kornia.geometry.transform import get_affine_matrix2d

from gltui.config import resolve_auto


@dataclass(frozen=True)
class AugmentSpec:
    rotation: float = 0.0  # degrees, uniform in [-rotation, rotation]
    scale: tuple[float, float] = (1.0, 1.0)  # isotropic zoom, uniform in the range
    shear: float = 0.0  # degrees, uniform in [-shear, shear], drawn for x and y separately
    hflip: bool = False  # mirror half of the images left-right
    elastic_alpha: float = 0.0  # Simard's alpha in pixels for a 28 px image; 0 = no elastic field
    elastic_sigma: float = 4.0  # Simard's sigma in pixels for a 28 px image
    padding_mode: str = "zeros"  # grid_sample's fill for pixels that come from outside the image


PRESETS: dict[str, AugmentSpec | None] = {
    "digits": AugmentSpec(rotation=25.0, scale=(0.8, 1.2), shear=11.5, elastic_alpha=34.0,
                          elastic_sigma=4.0),
    "grey": AugmentSpec(rotation=10.0, scale=(0.9, 1.1)),
    "colour": AugmentSpec(rotation=25.0, scale=(0.8, 1.2), hflip=True, padding_mode="border"),
    "none": None,
}


def resolve_preset(preset: str, channels: int) -> str:
    """'auto': the mild grey set for grey images, the colour set otherwise (config.auto_preset)."""
    return resolve_auto("augment", preset, PRESETS, channels, noun="augmentation")


class Augment:
    """`aug(x, generator)`: x is float (B, C, H, W) in [0, 1]; returns the same shape, dtype,
    device.

    The same generator state gives the same output. Parameters are drawn on the generator's device
    (pass a generator on the images' device to keep everything there; a CPU generator for CUDA
    images costs one small host-to-device copy of the parameters and noise).
    """

    def __init__(self, name: str, spec: AugmentSpec | None, channels: int):
        self.name, self.spec, self.channels = name, spec, channels

    def __repr__(self) -> str:
        return f"Augment({self.name!r}, channels={self.channels})"

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.spec is None or x.shape[0] == 0:
            return x
        grid = self.sampling_grid(x.shape[0], x.shape[-2], x.shape[-1], x.device, generator)
        return F.grid_sample(x, grid.to(x.dtype), mode="bilinear",
                             padding_mode=self.spec.padding_mode, align_corners=True)

    def sampling_grid(self, b: int, h: int, w: int, device: torch.device,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """(b, h, w, 2) normalised source coordinates, as `F.grid_sample(align_corners=True)`
        reads them."""
        spec = self.spec
        assert spec is not None
        draw_device = generator.device if generator is not None else device

        def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
            u = torch.rand(shape, generator=generator, device=draw_device)
            return (u * (hi - lo) + lo).to(device)

        # Draw order is fixed per preset: it is part of what makes a seed reproducible.
        angle = uniform(-spec.rotation, spec.rotation, b)
        zoom = uniform(spec.scale[0], spec.scale[1], b)
        shear_x = uniform(-spec.shear, spec.shear, b) * (math.pi / 180) if spec.shear else None
        shear_y = uniform(-spec.shear, spec.shear, b) * (math.pi / 180) if spec.shear else None
        flip = torch.where(uniform(0.0, 1.0, b) < 0.5, -1.0, 1.0) if spec.hflip else None

        # Forward map, source pixel -> destination pixel, about the image centre (x, y order).
        center = torch.tensor([(w - 1) / 2, (h - 1) / 2], device=device).expand(b, 2)
        m = get_affine_matrix2d(torch.zeros(b, 2, device=device), center,
                                zoom[:, None].expand(b, 2), angle, shear_x, shear_y)  # (b, 3, 3)
        a, t = m[:, :2, :2], m[:, :2, 2]
        if flip is not None:
            # x -> (w-1) - x for flipped images, applied before the affine: columns of A scale by
            # the sign, and the flip's shift (w-1) enters through A's first column.
            t = t + a[:, :, 0] * ((1 - flip) / 2 * (w - 1))[:, None]
            a = a * torch.stack([flip, torch.ones_like(flip)], 1)[:, None, :]

        # grid_sample asks, for each destination pixel, where to read in the source: the inverse
        # map. A 2x2 inverse in closed form: torch.linalg.inv would read its error flag back to
        # the host, a sync per batch on CUDA. det >= 0.8^2 * cos-shear terms, never near zero
        # here.
        det = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
        a_inv = torch.stack([torch.stack([a[:, 1, 1], -a[:, 0, 1]], -1),
                             torch.stack([-a[:, 1, 0], a[:, 0, 0]], -1)], 1) / det[:, None, None]
        # Fold the pixel -> [-1, 1] normalisation into the same matrix (align_corners=True).
        norm = torch.tensor([2 / max(w - 1, 1), 2 / max(h - 1, 1)], device=device)
        a_n = a_inv * norm[None, :, None]  # rows scaled
        t_n = -(a_inv @ t[:, :, None])[:, :, 0] * norm - 1  # (b, 2)

        ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                                torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
        points = torch.stack([xs, ys], -1).reshape(1, h * w, 2)  # destination pixels, (x, y)
        if spec.elastic_alpha:
            points = points + self._elastic_field(b, h, w, device, draw_device, generator)
        else:
            points = points.expand(b, h * w, 2)
        # grid = points @ a_n^T + t_n, one batched matmul for the whole batch.
        grid = torch.baddbmm(t_n[:, None, :], points, a_n.transpose(1, 2))
        return grid.reshape(b, h, w, 2)

    def _elastic_field(self, b: int, h: int, w: int, device: torch.device,
                       draw_device: torch.device,
                       generator: torch.Generator | None) -> torch.Tensor:
        """Simard et al. 2003: uniform noise in [-1, 1] per pixel and axis, Gaussian-smoothed,
        times alpha.

        Parameters are given for 28 px; sigma scales with the image, alpha with its square, so the
        smoothed field (whose spread falls as 1/sigma) displaces by the same fraction of the image.
        """
        spec = self.spec
        assert spec is not None
        s = min(h, w) / 28
        sigma, alpha = spec.elastic_sigma * s, spec.elastic_alpha * s * s
        # Scaling by alpha before the (linear) blur rather than after saves a pass over the field.
        noise = torch.empty((b, 2, w, h), device=draw_device).uniform_(-alpha, alpha,
                                                                       generator=generator)
        blur_y, blur_x = _blur_matrix(h, sigma, device), _blur_matrix(w, sigma, device)
        # gaussian_blur2d(noise) as two matrix products: blurring with the 25-tap depthwise conv
        # made the whole augmentation ~6x slower on CPU (8k vs 54k images/s, 2 cores), and the
        # field is the same to 1e-7. The noise is drawn
        # transposed, (x, y), so the first product is one (b*2*w, h) @ (h, h) GEMM.
        field = (noise.to(device) @ blur_y.T).transpose(-1, -2) @ blur_x.T  # (b, 2, h, w)
        return field.permute(0, 2, 3, 1).reshape(b, h * w, 2)  # (dx, dy) in pixels, as `points`


_BLUR_CACHE: dict[tuple[int, float, str], torch.Tensor] = {}


def _blur_matrix(n: int, sigma: float, device: torch.device) -> torch.Tensor:
    """The (n, n) matrix of kornia's 1-D Gaussian blur (reflect border) along an axis of length n.

    Built by blurring the identity with `gaussian_blur2d` itself, so the border handling and kernel
    are kornia's: row i is the blurred unit impulse at i, i.e. column i of the operator.
    """
    key = (n, sigma, str(device))
    if key not in _BLUR_CACHE:
        radius = min(math.ceil(3 * sigma), n - 1)  # reflect padding must stay inside the axis
        # A normal tensor even when first built under inference_mode (scoring), so that a later
        # training step may use it too.
        with torch.inference_mode(False):
            impulses = torch.eye(n, device=device).reshape(n, 1, n, 1)
            rows = gaussian_blur2d(impulses, (2 * radius + 1, 1), (sigma, sigma),
                                   border_type="reflect")
            _BLUR_CACHE[key] = rows.reshape(n, n).T.contiguous()
    return _BLUR_CACHE[key]


def make_augment(preset: str, channels: int) -> Augment:
    """The augmentation called `preset` (digits | colour | none | auto) for `channels`-channel
    images."""
    name = resolve_preset(preset, channels)
    return Augment(name, PRESETS[name], channels)
