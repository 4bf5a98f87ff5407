"""Where tensors live: device choice, per-device generators, and the uint8 -> float step.

Shared by training and scoring so that both move images the same way: uint8 crosses to the
device (4x fewer bytes than float32) and becomes float there.
"""

from __future__ import annotations

import queue
import threading
import weakref
from typing import Iterator

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


# ---- the GPU path: the pool resident on the device, or streamed through pinned memory -----------

# Share of the free device memory a resident pool may take: training, the scoring forward
# (~4 GB of bf16 activations at the default 16384 rows for the MNIST net) and the allocator's
# slack need the rest.
RESIDENT_FRACTION = 0.25


class DeviceImages:
    """uint8 (N, C, H, W) images held in device memory, indexed like the pixel memmap: rows by a
    numpy index array or a slice come back as device tensors, so no host copy is ever made."""

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor
        self.shape = tuple(tensor.shape)
        self.dtype = np.dtype(np.uint8)
        self.device = tensor.device

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, np.ndarray):
            key = torch.from_numpy(key).to(self.device, non_blocking=True)
        return self.tensor[key]


def pool_on(pixels: np.ndarray, device: torch.device, fraction: float = RESIDENT_FRACTION):
    """The project's pixels where scoring and training read them: on CUDA, copied once into device
    memory when they take at most `fraction` of the free memory (DeviceImages); otherwise (and
    always on CPU or MPS) the memmap itself, which score_chunks then streams chunk by chunk.

    The copy is kept for as long as `pixels` (the array object) lives: asked again for the same
    array, it is returned, not made again; a project that maps its pixels anew after a `gltui
    add` (Project.pixels) gets a new copy, and the old one goes with the old mapping."""
    if device.type != "cuda":
        return pixels
    key = (id(pixels), str(device))
    if key in _ON_DEVICE:
        return _ON_DEVICE[key]
    out = _copy_to(pixels, device, fraction)
    if out is not pixels:  # the memmap itself is not kept here: it would never be let go
        _ON_DEVICE[key] = out
        weakref.finalize(pixels, _ON_DEVICE.pop, key, None)
    return out


_ON_DEVICE: dict[tuple[int, str], object] = {}  # (id of a pixels array, device) -> its pool


def _copy_to(pixels: np.ndarray, device: torch.device, fraction: float):
    free, _ = torch.cuda.mem_get_info(device)
    if pixels.nbytes > fraction * free:
        return pixels
    out = torch.empty(pixels.shape, dtype=torch.uint8, device=device)
    # 64 MiB blocks: never the pool twice on the host
    step = max(1, (64 << 20) // max(1, pixels[0].nbytes))
    for start in range(0, len(pixels), step):
        block = torch.from_numpy(np.ascontiguousarray(pixels[start:start + step]))
        out[start:start + len(block)].copy_(block)
    return DeviceImages(out)


def chunks_to_device(images, ranges: list[tuple[int, int]], device: torch.device, *,
                     threaded: bool | None = None, depth: int = 2) -> Iterator[torch.Tensor]:
    """images[a:b] as a uint8 tensor on `device`, for each (a, b) of `ranges`, in order.

    On the CPU (the default there) each chunk is read when asked for: what as_uint8_tensor gives.
    Images already on the device (DeviceImages) are sliced there. From host memory to CUDA a
    reader thread gathers the next `depth` chunks from the memmap into pinned buffers while the GPU
    works on the current one, and each copy to the device is non-blocking; a buffer is refilled only
    once its copy has finished (a CUDA event). `threaded=True` runs that path on the CPU too,
    with unpinned buffers: how the tests exercise it without a GPU.
    """
    if threaded is None:
        # Anything that says it lives on a torch device (a tensor, DeviceImages, the engine's
        # gather over one) is sliced where it is; host arrays (numpy's .device is a str) stream.
        where = getattr(images, "device", None)
        threaded = device.type == "cuda" and not (isinstance(where, torch.device)
                                                  and where.type == "cuda")
    if not threaded:
        for a, b in ranges:
            yield as_uint8_tensor(images[a:b], device)
        return
    yield from _PinnedStream(images, ranges, device, depth)


class _PinnedStream:
    """The reader thread and buffer pool behind chunks_to_device's host-to-CUDA path."""

    def __init__(self, images, ranges, device: torch.device, depth: int):
        rows = max((b - a for a, b in ranges), default=0)
        pin = device.type == "cuda"
        self.device, self.ranges = device, ranges
        self.buffers = [torch.empty((rows, *images.shape[1:]), dtype=torch.uint8, pin_memory=pin)
                        for _ in range(depth + 1)]
        self.copied = [torch.cuda.Event() if pin else None for _ in self.buffers]
        self.free: queue.Queue[int] = queue.Queue()
        self.ready: queue.Queue = queue.Queue()
        for i in range(len(self.buffers)):
            self.free.put(i)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(images,), daemon=True,
                                       name="gltui-chunk-reader")
        self.thread.start()

    def _read(self, images) -> None:
        try:
            for a, b in self.ranges:
                i = self._take(self.free)
                if i is None:
                    return
                if self.copied[i] is not None:
                    self.copied[i].synchronize()  # its last copy to the device has finished
                self.buffers[i][:b - a].numpy()[...] = images[a:b]
                self.ready.put((i, b - a))
        except BaseException as err:  # handed to the consumer, raised there
            self.ready.put(err)

    def _take(self, q: queue.Queue):
        while not self.stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    def __iter__(self) -> Iterator[torch.Tensor]:
        try:
            for _ in self.ranges:
                got = self.ready.get()
                if isinstance(got, BaseException):
                    raise got
                i, n = got
                x = self.buffers[i][:n].to(self.device, non_blocking=True)
                if self.copied[i] is not None:
                    self.copied[i].record()
                else:
                    x = x.clone()  # on the CPU `.to` is the buffer itself: copy before reuse
                self.free.put(i)
                yield x
        finally:
            self.stop.set()
            self.thread.join()


class ItemRows:
    """Rows of the pixel memmap by item id, read chunk by chunk: the pool is never copied whole."""

    def __init__(self, pixels: np.ndarray, items: np.ndarray):
        self.pixels, self.items = pixels, items
        self.shape = (len(items), *pixels.shape[1:])
        self.dtype = pixels.dtype
        self.device = getattr(pixels, "device", None)  # a pool in device memory is read there

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key):
        return self.pixels[self.items[key]]
