"""The one way to drive a run: the CLI (`gltui run`, `gltui --oracle`), `gltui experiment`, the
TUI's worker and torchrun all come through `drive`.

The rule: `check_device`, then `plan` the run (project/runs.py: reads only, ProjectError on bad
input), then take the run's lock (unless the caller holds it: the TUI keeps it for its whole
session), then `commit` the plan, then hand the run to the engine. So a refused command, or a
second process refused the lock, changes nothing.

No torch at import: the engine is imported only to drive, and the device check imports torch
only when a GPU is asked for.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Sequence

from gltui.errors import ProjectError, shell_command
from gltui.project import Project, run_lock
from gltui.project.runs import Knobs, commit, plan


def check_device(device: str | None) -> None:
    """Refuse a device this machine does not have (ProjectError), before anything changes.
    Imports torch only when a GPU backend is asked for; the check itself is learn/device's."""
    if device in (None, "auto", "cpu"):
        return
    from gltui.learn.device import resolve_device

    try:
        resolve_device(device)
    except ValueError as err:
        raise ProjectError(f"--device {device}: {err}; use --device cpu or auto") from None


def drive(project: Project, name: str, knobs: Knobs = Knobs(), *, seed: int | None = None,
          oracle: bool | Callable[[], bool] = False, device: str | None = None,
          frozen: Sequence[str] = (), on_event: Callable[[object], None] = lambda event: None,
          cancel: Callable[[], bool] = lambda: False, group=None, locked: bool = False) -> str:
    """Create or resume a run and drive it until it is done ("done"), waits for a person at the
    label phase ("label"), or `cancel()` said stop ("cancelled": everything committed stands).

    oracle: whether the dataset's own labels label the queues; a callable is asked once per
    label phase (the TUI's `o` switches it while the run goes on).
    locked: the caller holds the run's lock already (gltui.project.run_lock).
    Raises ProjectError on bad input and RunLocked when another process drives the run, in both
    cases before anything is written."""
    if group is None:
        check_device(device)
    else:
        device = str(group.device)  # every rank on the kind of device the group uses
    run = plan(project, name, knobs, seed=seed, frozen=frozen)
    with contextlib.nullcontext() if locked else run_lock(project, name):
        commit(project, run)
        from gltui.run import engine  # torch: loaded only to drive

        options = engine.RunOptions(oracle=oracle if callable(oracle) else (lambda: oracle),
                                    device=device, on_event=on_event, cancel=cancel, group=group)
        try:
            return engine.Runner(project, name, options).drive()
        except engine.Cancelled:
            return "cancelled"


def drive_distributed(path, name: str, knobs: Knobs = Knobs(), *, seed: int | None = None,
                      oracle: bool = False, device: str | None = None,
                      on_event: Callable[[object], None] = lambda event: None) -> str | None:
    """One rank of `torchrun ... -m gltui run PROJECT --distributed`: rank 0 drives the run (and
    alone writes); the others follow it and return None. The device comes from `device` (auto:
    CUDA with NCCL when this process sees a GPU, else the CPU with gloo), one GPU per process."""
    from gltui.learn import distributed

    missing = distributed.missing_env()
    if missing:
        raise ProjectError(
            f"--distributed: {', '.join(missing)} not set; launch with "
            f"`torchrun --nproc_per_node N -m {shell_command('run', path, '--distributed')}` "
            f"(or drop --distributed)"
        )
    if device == "mps":
        raise ProjectError("--distributed: MPS cannot join a process group; use --device cpu "
                           "or cuda")
    check_device(device)
    group = distributed.init(device or "auto")
    done = False
    try:
        outcome = None
        if not group.is_main:
            from gltui.run.ranks import follow

            follow(path, group)
        else:
            with Project.open(path) as project:
                outcome = drive(project, name, knobs, seed=seed, oracle=oracle,
                                on_event=on_event, group=group)
            group.broadcast(None)  # done: the others may leave (on an error torchrun stops them)
        done = True
        return outcome
    finally:
        distributed.close(done)
