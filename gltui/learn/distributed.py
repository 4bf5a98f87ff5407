"""torch.distributed plumbing: one run driven by several processes launched by `torchrun`.

Roles. Rank 0 is the driver: it alone opens the SQLite store, holds the run lock, walks the
phases and writes every file. The other ranks own no state: they wait for rank 0's calls
(`Group.broadcast` of a small command), take their share of the work, and send results back with
`Group.gather`. They read only what is on the shared filesystem (the pixel memmap, the round
model file), so every node must see the project folder.

What is shared, and how the result stays that of a single process:
  scoring   chunk i's random draws come from derive_seed(seed, i) alone, so a chunk computes to the
            same scores on any rank. The chunks still to do are dealt out in waves, one per rank
            (`shard`); after each wave rank 0 gathers the scores and saves them chunk by chunk,
            so a kill mid-pass resumes with the finished chunks skipped (`gather_waves`).
  training  DistributedDataParallel. Every rank draws the same global minibatch order and the
            same augmentation from the same per-epoch seed and keeps its contiguous slice of each
            batch; dropout masks are drawn for the whole global batch and sliced too
            (`ShardedDropout`). The network therefore sees exactly the single-process inputs and
            masks; only the order of floating-point sums differs (per-rank partial gradients,
            then the all-reduce), so weights agree closely but not bit for bit.

Backends: gloo for CPU tensors, NCCL for CUDA ones (one GPU per rank, cuda:LOCAL_RANK).
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Iterator, Sequence, TypeVar

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from gltui.learn.device import resolve_device

T = TypeVar("T")

# torchrun exports these to every process it starts; without them there is nothing to join.
ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")

# A rank waits in a collective while rank 0 does work of its own (evaluation, the query, SQLite
# commits of a big pass). Long enough for those; a crashed peer is noticed sooner by torchrun,
# which tears the whole group down when any rank exits with an error.
TIMEOUT = timedelta(minutes=30)


def missing_env() -> list[str]:
    """The torchrun variables absent from this process's environment (empty: launched by
    torchrun)."""
    return [name for name in ENV_VARS if name not in os.environ]


@dataclass(frozen=True)
class Group:
    """This process's place in the job, and the few collectives the engine uses.

    Collectives must be entered by every rank in the same order: rank 0 announces each piece of
    work with `broadcast` before it starts, so the other ranks always know which comes next.
    """

    rank: int
    world_size: int
    device: torch.device  # cpu, or cuda:LOCAL_RANK

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def broadcast(self, obj=None):
        """Rank 0's `obj` on every rank (pickled; other ranks pass nothing)."""
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self._object_device())
        return box[0]

    def gather(self, obj) -> list | None:
        """Every rank's `obj`, in rank order, on rank 0; None elsewhere."""
        out = [None] * self.world_size if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def all_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum of `tensor` over the ranks, in place and returned (the tensor lives on
        self.device)."""
        if self.world_size > 1:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def wrap(self, model: nn.Module) -> nn.Module:
        """DistributedDataParallel around `model` (already on self.device); one rank: the model
        itself, so a one-process job runs exactly the single-process code."""
        if self.world_size == 1:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def _object_device(self) -> torch.device:
        # NCCL moves pickled objects through the GPU; gloo through host memory.
        return self.device if self.device.type == "cuda" else torch.device("cpu")


def init(device: str | torch.device = "auto") -> Group:
    """Join the job torchrun started: process group from the env:// variables, backend by device.

    `device` auto means CUDA when this process sees a GPU, else the CPU; on CUDA rank r uses
    cuda:LOCAL_RANK (one GPU per process, as torchrun's --nproc_per_node assumes). MPS cannot
    take part in a process group and is refused.
    """
    missing = missing_env()
    if missing:
        raise RuntimeError(f"not launched by torchrun: {', '.join(missing)} unset")
    local_rank = int(os.environ["LOCAL_RANK"])
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    want = resolve_device(device)
    if want.type == "cuda":
        want = torch.device("cuda", local_rank)
        torch.cuda.set_device(want)
        backend = "nccl"
    elif want.type == "cpu":
        backend = "gloo"
    else:
        raise ValueError(f"device {want.type!r} cannot run distributed; use cpu or cuda")
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=TIMEOUT,
                                device_id=want if want.type == "cuda" else None)
    return Group(dist.get_rank(), dist.get_world_size(), want)


def close(done: bool = False) -> None:
    """Leave the process group. `done`: every rank reached the end of the job, so they first
    meet at a barrier: no rank tears its connections down while another is still reading from
    them (a teardown race once aborted rank 0 with "terminate called without an active
    exception" at the end of a finished run). On an error there is no barrier: torchrun stops
    the other ranks."""
    if dist.is_initialized():
        if done:
            dist.barrier()
        dist.destroy_process_group()


# ---- scoring: chunks dealt out in waves, gathered on rank 0 --------------------------------------


def shard(todo: Sequence[int], group: Group) -> list[int]:
    """This rank's chunks: wave w gives todo[w*W + r] to rank r, so the chunks of a wave are
    neighbours and rank 0 can save them in order. Dealt from the chunks still to do (not from
    all chunk indices), so a resumed pass stays balanced."""
    return list(todo[group.rank::group.world_size])


def gather_waves(group: Group, local: Iterator[T], n_todo: int,
                 cancel: Callable[[], bool] | None = None, key: Callable[[T], int] = lambda r: r[0]
                 ) -> Iterator[T]:
    """Each wave, every rank takes the next item of its own `local` iterator (None once it has
    run out); rank 0 gathers them and yields them sorted by `key`; other ranks yield nothing.

    After each wave rank 0 asks `cancel()` and tells the others whether to go on, so a cancelled
    pass ends with every rank at the same point (and waiting for rank 0's next call).
    """
    try:
        for _ in range(math.ceil(n_todo / group.world_size)):
            results = group.gather(next(local, None))
            if group.is_main:
                yield from sorted((r for r in results if r is not None), key=key)
            if group.broadcast(bool(cancel and cancel()) if group.is_main else None):
                return
    finally:
        close = getattr(local, "close", None)
        if close is not None:
            close()  # a generator's loader thread (CUDA streaming) ends with it


# ---- training: the global batch sliced across ranks ---------------------------------------------


class BatchSlice:
    """Which rows of the global minibatch this rank holds: set before each training step."""

    def __init__(self):
        self.rows, self.start, self.stop = 0, 0, 0

    def set(self, rows: int, start: int, stop: int) -> None:
        self.rows, self.start, self.stop = rows, start, stop


class ShardedDropout(nn.Module):
    """Dropout whose mask is drawn for the whole global batch and sliced to this rank's rows.

    nn.Dropout on a rank's slice would draw a mask for that slice only: different masks from a
    single process, and with every rank seeded alike, the same mask on every rank. Drawing the
    global batch's mask (same shape and memory layout as the single process's activations, from
    the same seeded global RNG) and keeping our rows gives the single process's masks exactly.
    The cost is one mask over the global batch per layer and step, small next to the convolutions.
    In eval mode it is the identity, like nn.Dropout.
    """

    def __init__(self, p: float, batch: BatchSlice):
        super().__init__()
        self.p, self.batch = p, batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        b = self.batch
        if b.stop - b.start != x.shape[0]:
            raise RuntimeError(f"batch slice {b.start}:{b.stop} does not match {x.shape[0]} rows")
        # Same strides as the single process's (global) activations: rows are outermost in both
        # NCHW and channels_last, so a row's stride is its element count and the rest carry over.
        per_row = math.prod(x.shape[1:])
        strides = (per_row, *x.stride()[1:])
        whole = torch.empty_strided((b.rows, *x.shape[1:]), strides, dtype=x.dtype, device=x.device)
        mask = F.dropout(whole.fill_(1.0), self.p, training=True)  # 1 * (bernoulli / (1-p))
        return x * mask[b.start:b.stop]


@contextlib.contextmanager
def sharded_dropout(model: nn.Module) -> Iterator[BatchSlice]:
    """Swap every nn.Dropout of `model` for a ShardedDropout for the duration; yields the
    BatchSlice to set before each step. The originals come back afterwards, so the trained model
    is an ordinary one (dropout layers hold no weights: state dicts are unchanged)."""
    batch = BatchSlice()
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    for parent in model.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                swapped.append((parent, name, child))
    for parent, name, child in swapped:
        setattr(parent, name, ShardedDropout(child.p, batch))
    try:
        yield batch
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


def row_range(rows: int, group: Group) -> tuple[int, int]:
    """This rank's contiguous share [start, stop) of `rows` (earlier ranks take the remainder)."""
    base, extra = divmod(rows, group.world_size)
    start = group.rank * base + min(group.rank, extra)
    return start, start + base + (group.rank < extra)
