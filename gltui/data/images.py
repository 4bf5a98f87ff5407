"""Image <-> array: decoding one file, converting whole arrays (resize, channels), and one
(C, H, W) uint8 item back to a PIL image. PIL is imported where it is used, so that importing
gltui.data stays light."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from gltui.data.core import DataError, ReadResult, shorten

if TYPE_CHECKING:
    from PIL import Image


MAX_PIXELS = 50_000_000  # per image, read from its header before decoding: a 50-megapixel
# RGB decode is 150 MB (plus one mode conversion); a bigger file is a scan gone wrong or a
# decompression bomb, and would blow past the memory a labeling tool should take
DRAFT_PIXELS = 4_000_000  # a JPEG larger than this that is shrunk anyway decodes at 1/2..1/8
# scale (PIL's draft): a camera photo never sits whole in memory
_GREY_MODES = frozenset({"L", "1", "LA", "La", "I", "F"})


def header_channels(mode: str, channels: int | None = None) -> int:
    """The channel count an image of PIL `mode` becomes (grey stays 1, everything else RGB),
    unless `channels` is given: known from the header, before decoding."""
    if channels:
        return channels
    return 1 if mode in _GREY_MODES or mode.startswith("I;16") else 3


def fitted_size(size: tuple[int, int], resize: tuple[int, int], fit: str) -> tuple[int, int]:
    """(width, height) an image of `size` (width, height) is scaled to before it meets `resize`
    (H, W): all of it for stretch; for letterbox the largest size of the same aspect ratio that
    fits, at least 1 px a side."""
    h, w = resize
    if fit == "stretch":
        return w, h
    s = min(w / size[0], h / size[1])
    return min(w, max(1, round(size[0] * s))), min(h, max(1, round(size[1] * s)))


def is_padded(size: tuple[int, int], resize: tuple[int, int] | None, fit: str) -> bool:
    """Whether letterboxing an image of `size` (width, height) to `resize` adds black bars."""
    return (resize is not None and fit == "letterbox"
            and fitted_size(size, resize, fit) != (resize[1], resize[0]))


def image_to_array(im: Image.Image, resize: tuple[int, int] | None, channels: int | None,
                   fit: str = "stretch", size: tuple[int, int] | None = None) -> np.ndarray:
    """A decoded PIL image -> (C, H, W) uint8 view. Grey stays 1 channel, everything else RGB,
    unless channels says otherwise; 16-bit grey keeps its top 8 bits, float grey in 0..1 is
    scaled to 0..255. With resize=(H, W): scaled
    to it (stretch), or scaled within it keeping its aspect ratio, centred on black (letterbox).
    `size`: the image's size before a JPEG draft shrank it (the aspect ratio to keep)."""
    from PIL import Image

    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im)
        top = np.empty(a.shape, np.uint8)
        for s in range(0, len(a), 1024):  # by row blocks: a big 16-bit scan is never int64 whole
            top[s : s + 1024] = np.clip(a[s : s + 1024], 0, 65535) >> 8
        im, mode = Image.fromarray(top), "L"
    elif mode == "F":  # 32-bit float: 0..1 (a float TIFF's usual range) or 0..255
        a = np.nan_to_num(np.asarray(im, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        a = a * 255.0 if a.size and a.max() <= 1.0 else a  # 0..1 once imported black
        im, mode = Image.fromarray(np.clip(a, 0, 255).round().astype(np.uint8)), "L"
    grey = mode in ("L", "1", "LA", "La")
    target = {1: "L", 3: "RGB"}.get(channels or 0, "L" if grey else "RGB")
    if mode != target:
        if mode == "P" and "transparency" in im.info:
            im = im.convert("RGBA")  # PIL warns when P-with-transparency goes straight to RGB
        im = im.convert(target)
    if resize is not None and im.size != (resize[1], resize[0]):
        nw, nh = fitted_size(size or im.size, resize, fit)
        if im.size != (nw, nh):
            im = im.resize((nw, nh), Image.Resampling.BILINEAR)
        if (nw, nh) != (resize[1], resize[0]):
            canvas = Image.new(target, (resize[1], resize[0]), 0)
            canvas.paste(im, ((resize[1] - nw) // 2, (resize[0] - nh) // 2))
            im = canvas
    a = np.asarray(im)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


class BadImage(DataError):
    """One image file that cannot be read: `path`, and `problem` in a few words ("empty file,
    0 bytes"); the message is "PATH: not a readable image (PROBLEM); replace or remove the file"
    or, for one over MAX_PIXELS, "PATH: too large (PROBLEM); downscale or remove it"."""

    def __init__(self, path: Path, problem: str, too_large: bool = False):
        what, fix = (("too large", "downscale or remove it") if too_large else
                     ("not a readable image", "replace or remove the file"))
        super().__init__(f"{path}: {what} ({problem}); {fix}")
        self.path, self.problem = Path(path), problem if not too_large else f"too large, {problem}"


def read_header(path: Path) -> tuple[tuple[int, int], str]:
    """(width, height) and PIL mode of an image file, from its header alone (nothing decoded);
    an image over MAX_PIXELS or a file PIL cannot identify -> BadImage."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            _check_pixels(path, im.size)
            return im.size, im.mode
    except DataError:
        raise
    except Exception as e:
        raise _bad_image(path, e) from e


def decode(path: Path, resize: tuple[int, int] | None, channels: int | None,
           fit: str = "stretch", check: Callable[[Image.Image], None] | None = None) -> np.ndarray:
    """One image file -> (C, H, W) uint8; an unreadable file -> BadImage naming it. The header
    is read first: an image over MAX_PIXELS is refused before decoding, and check(im) (the
    caller's shape rule) runs before any pixel is decoded."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            _check_pixels(path, (w, h))
            if check is not None:
                check(im)
            if resize is not None and im.format == "JPEG" and w * h > DRAFT_PIXELS:
                im.draft(im.mode, fitted_size((w, h), resize, fit))
            im.load()
            return image_to_array(im, resize, channels, fit, size=(w, h))
    except DataError:
        raise
    except Exception as e:  # UnidentifiedImageError, truncated data, decompression bomb, ...
        raise _bad_image(path, e) from e


def _check_pixels(path: Path, size: tuple[int, int]) -> None:
    w, h = size
    if w * h > MAX_PIXELS:
        raise BadImage(path, f"{w}x{h}, {w * h / 1e6:.0f} megapixels; gltui reads at most "
                       f"{MAX_PIXELS // 1_000_000}", too_large=True)


def _bad_image(path: Path, e: Exception) -> BadImage:
    """What is wrong with an image file, in a few words, without repeating its path."""
    if type(e).__name__.startswith("DecompressionBomb"):  # PIL's own cap, met before ours
        return BadImage(path, f"more than {MAX_PIXELS // 1_000_000} megapixels",
                        too_large=True)
    try:
        size: int | None = path.stat().st_size
    except OSError:
        size = None
    if size == 0:
        problem = "empty file, 0 bytes"
    elif isinstance(e, OSError) and e.errno is not None:
        problem = e.strerror or str(e)
    else:  # PIL's messages repeat the path; the message names it once, up front
        text = str(e).replace(f"'{path}'", "").replace(str(path), "").strip(" :")
        problem = shorten(text or type(e).__name__, 100)
    return BadImage(path, problem)


def convert_array(images: np.ndarray, resize: tuple[int, int] | None, channels: int | None,
                  fit: str = "stretch") -> np.ndarray:
    """(N, C, H, W) uint8 -> the same images with `channels` and `resize` (by `fit`) applied,
    C-contiguous."""
    n, c, h, w = images.shape
    if channels is not None and channels != c:
        if channels == 3 and c == 1:
            images = np.repeat(images, 3, axis=1)
        elif channels == 1 and c == 3:
            grey = np.empty((n, 1, h, w), np.uint8)
            for s in range(0, n, 4096):  # ITU-R 601-2 luma, as PIL's convert("L"); chunked int math
                x = images[s : s + 4096].astype(np.uint32)
                luma = x[:, 0] * 299 + x[:, 1] * 587 + x[:, 2] * 114
                grey[s : s + 4096, 0] = (luma + 500) // 1000
            images = grey
    if resize is not None and resize != (images.shape[2], images.shape[3]):

        out = np.empty((n, images.shape[1], *resize), np.uint8)
        for i in range(n):  # only on request; the same PIL path as the folder reader
            out[i] = image_to_array(to_pil(images[i]), resize, None, fit)
        images = out
    return np.ascontiguousarray(images)


def convert_splits(result: ReadResult, resize: tuple[int, int] | None, channels: int | None,
                   fit: str = "stretch") -> ReadResult:
    """An in-memory reader's (train, test, classes) with every image converted (idx, cifar, npz);
    each split's `padded` counts the images letterboxing gave black bars."""
    train, test, classes = result
    for split in (train, test):
        if split is not None:
            _, _, h, w = split.images.shape
            split.padded = len(split.images) if is_padded((w, h), resize, fit) else 0
            split.images = convert_array(split.images, resize, channels, fit)
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
