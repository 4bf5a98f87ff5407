"""Image <-> array: decoding one file, converting whole arrays (resize, channels), and one
(C, H, W) uint8 item back to a PIL image. PIL is imported where it is used, so that importing
gltui.data stays light."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gltui.data.core import DataError, ReadResult

if TYPE_CHECKING:
    from PIL import Image


def image_to_array(im: Image.Image, resize: tuple[int, int] | None, channels: int | None) -> np.ndarray:
    """A decoded PIL image -> (C, H, W) uint8 view. Grey stays 1 channel, everything else RGB,
    unless channels says otherwise; 16-bit grey keeps its top 8 bits."""
    from PIL import Image

    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im).astype(np.int64)
        im, mode = Image.fromarray((np.clip(a, 0, 65535) >> 8).astype(np.uint8)), "L"
    elif mode == "F":
        im, mode = Image.fromarray(np.clip(np.asarray(im), 0, 255).astype(np.uint8)), "L"
    grey = mode in ("L", "1", "LA", "La")
    target = {1: "L", 3: "RGB"}.get(channels or 0, "L" if grey else "RGB")
    if mode != target:
        if mode == "P" and "transparency" in im.info:
            im = im.convert("RGBA")  # PIL warns when P-with-transparency goes straight to RGB
        im = im.convert(target)
    if resize is not None and im.size != (resize[1], resize[0]):
        im = im.resize((resize[1], resize[0]), Image.Resampling.BILINEAR)
    a = np.asarray(im)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def decode(path: Path, resize: tuple[int, int] | None, channels: int | None) -> np.ndarray:
    """One image file -> (C, H, W) uint8; an unreadable file -> DataError naming it."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            return image_to_array(im, resize, channels)
    except DataError:
        raise
    except Exception as e:  # UnidentifiedImageError, truncated data, decompression bomb, ...
        try:
            size: int | None = path.stat().st_size
        except OSError:
            size = None
        if size == 0:
            problem = "empty file, 0 bytes"
        elif isinstance(e, OSError) and e.errno is not None:
            problem = e.strerror or str(e)
        else:  # PIL's messages repeat the path; the message names it once, up front
            problem = str(e).replace(f"'{path}'", "").replace(str(path), "").strip(" :") or type(e).__name__
        raise DataError(f"{path}: not a readable image ({problem}); replace or remove the file") from e


def convert_array(images: np.ndarray, resize: tuple[int, int] | None, channels: int | None) -> np.ndarray:
    """(N, C, H, W) uint8 -> the same images with `channels` and `resize` applied, C-contiguous."""
    n, c, h, w = images.shape
    if channels is not None and channels != c:
        if channels == 3 and c == 1:
            images = np.repeat(images, 3, axis=1)
        elif channels == 1 and c == 3:
            grey = np.empty((n, 1, h, w), np.uint8)
            for s in range(0, n, 4096):  # ITU-R 601-2 luma, as PIL's convert("L"); chunked int math
                x = images[s : s + 4096].astype(np.uint32)
                grey[s : s + 4096, 0] = (x[:, 0] * 299 + x[:, 1] * 587 + x[:, 2] * 114 + 500) // 1000
            images = grey
    if resize is not None and resize != (images.shape[2], images.shape[3]):
        from PIL import Image

        out = np.empty((n, images.shape[1], *resize), np.uint8)
        for i in range(n):  # only on request; PIL's bilinear matches the folder reader
            small = to_pil(images[i]).resize((resize[1], resize[0]), Image.Resampling.BILINEAR)
            out[i] = image_to_array(small, None, None)
        images = out
    return np.ascontiguousarray(images)


def convert_splits(result: ReadResult, resize: tuple[int, int] | None, channels: int | None) -> ReadResult:
    """An in-memory reader's (train, test, classes) with every image converted (idx, cifar, npz)."""
    train, test, classes = result
    train.images = convert_array(train.images, resize, channels)
    if test is not None:
        test.images = convert_array(test.images, resize, channels)
    return train, test, classes


def to_pil(image: np.ndarray) -> Image.Image:
    """One (C, H, W) uint8 item -> a PIL image: mode L for C=1, RGB for C=3."""
    from PIL import Image

    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise ValueError(f"to_pil wants uint8 pixels, got {a.dtype}")
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[0] not in (1, 3):
        raise ValueError(f"to_pil wants a (C, H, W) image with C in 1, 3, got shape {a.shape}")
    if a.shape[0] == 1:
        return Image.fromarray(np.ascontiguousarray(a[0]))
    return Image.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0)))


def save_image(image: np.ndarray, path: Path) -> None:
    """Write one (C, H, W) uint8 item; the format follows the suffix (.png is lossless)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(image).save(path)
