"""Fault injection for the tests, from outside the package: named kill points installed by
wrapping gltui's own functions. The shipped package has no fault hook (no environment variable
reaches a code path in `gltui/`); only a process started through tests/faults_launch.py, or a
test that calls `install`, has these points.

  GLTUI_FAULT=POINT   phase:P        the start of phase P (label, train, evaluate, score, query):
                                     `Runner.emit(PhaseStarted)`, right before the phase's step
                      epoch:n        after the n-th epoch checkpoint this process saved
                                     (`roundmodel.save_file` of a `train-roundRRR.ckpt`; n = 1 if
                                     omitted)
                      chunk:n        after the n-th scoring or prediction chunk was committed
                                     (`Store.save_chunk`, `Store.save_prediction_chunk`)
                      label          inside the oracle's label transaction, before its COMMIT
                                     (`Store.add_labels(..., "oracle")`: its `before_commit`)
                      person-label   inside a person's label transaction (`Labeler.label` ->
                                     `Store.add_label`), before its COMMIT
                      export         an export built in its temporary file or folder beside the
                                     target, before the rename that swaps it in
                                     (`fsio.atomic_write` / `atomic_folder` as export.py calls them)
                      add:S          `gltui add` after step S: written (the new pixels file, under
                                     its temporary name), renamed (it replaced pixels.npy),
                                     inserted (the items, inside their transaction, before COMMIT)
  GLTUI_FAULT_SIGNAL=INT   send SIGINT (what Ctrl-C sends) instead of SIGKILL; STOP pauses the
                           process there (SIGSTOP) until the test sends SIGCONT: a race staged
                           at a known instant
  GLTUI_STARTED=PATH       write this process's pid to PATH when the engine starts driving
                           (`Runner.drive`: after the run lock is taken and torch is imported),
                           so a kill timed from outside can start its clock after start-up

`install_from_env()` reads those variables (what the launcher does); `install(action)` calls
`action(point)` at every point instead (the engine property test raises there). Modules not yet
imported are patched when they are imported, so the launcher keeps gltui's start-up order (the
run lock is taken before torch is imported).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import importlib.abc
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Callable

FAULT, SIGNAL = "GLTUI_FAULT", "GLTUI_FAULT_SIGNAL"
PHASES = ("label", "train", "evaluate", "score", "query")
COUNTED = ("epoch", "chunk")  # points that recur: the n-th occurrence in this process fires
ADD_POINTS = ("written", "renamed", "inserted")
NAMED = ("label", "person-label", "export")
SIGNALS = {"": signal.SIGKILL, "KILL": signal.SIGKILL, "INT": signal.SIGINT,
           "STOP": signal.SIGSTOP}
STARTED = "GLTUI_STARTED"
WARNING = "gltui: test fault injection active ({})"  # the one line a faulted process prints


class FaultSpecError(ValueError):
    """GLTUI_FAULT or GLTUI_FAULT_SIGNAL does not name a fault."""


def parse(fault: str, sig: str = "") -> tuple[str, int, signal.Signals]:
    """(point or counted kind, n, signal) for a GLTUI_FAULT value; FaultSpecError if malformed."""
    kind, colon, arg = fault.partition(":")
    if kind in COUNTED:
        if arg and not (arg.isdigit() and int(arg) >= 1):
            raise FaultSpecError(f"{FAULT}={fault}: {kind}:n needs a count n >= 1")
        plan = (kind, int(arg or 1))
    elif (kind == "phase" and arg in PHASES) or (kind in NAMED and not colon) \
            or (kind == "add" and arg in ADD_POINTS):
        plan = (fault, 0)
    else:
        raise FaultSpecError(f"{FAULT}={fault}: not a fault point; use phase:P (P one of "
                             f"{', '.join(PHASES)}), epoch:n, chunk:n, {', '.join(NAMED)} or "
                             f"add:S (S one of {', '.join(ADD_POINTS)})")
    if sig not in SIGNALS:
        raise FaultSpecError(f"{SIGNAL}={sig}: use INT, STOP or KILL")
    return (*plan, SIGNALS[sig])


def killer(fault: str, sig: str = "") -> Callable[[str], None]:
    """The action for GLTUI_FAULT=fault: signal this process at that point (the n-th occurrence
    of a counted point), ignore every other point."""
    want, count, signum = parse(fault, sig)
    counts: dict[str, int] = {}

    def action(name: str) -> None:
        kind = name.partition(":")[0]
        if kind in COUNTED:
            if want != kind:
                return
            counts[kind] = counts.get(kind, 0) + 1
            if counts[kind] != count:
                return
        elif want != name:
            return
        os.kill(os.getpid(), signum)

    return action


def install_from_env() -> bool:
    """Arm GLTUI_FAULT in this process (one warning line on stderr), and GLTUI_STARTED; False
    when no fault is set. A malformed value raises FaultSpecError before gltui is imported."""
    if os.environ.get(STARTED):
        started_marker(Path(os.environ[STARTED]))
    fault, sig = os.environ.get(FAULT, ""), os.environ.get(SIGNAL, "")
    if not fault:
        return False
    action = killer(fault, sig)
    print(WARNING.format(f"{FAULT}={fault}{f', {SIGNAL}={sig}' if sig else ''}"),
          file=sys.stderr, flush=True)
    install(action)
    return True


def started_marker(path: Path) -> None:
    """Write this process's pid to `path` when `Runner.drive` is first entered."""
    def patch(module, action=None, setattr=builtins.setattr) -> None:
        drive = module.Runner.drive

        def wrapped(self, *args, **kwargs):
            if not path.exists():  # whole or absent to a reader: written aside, then renamed
                aside = path.with_name(f".{path.name}.{os.getpid()}")
                aside.write_text(str(os.getpid()))
                os.replace(aside, path)
            return drive(self, *args, **kwargs)
        setattr(module.Runner, "drive", wrapped)

    if "gltui.run.engine" in sys.modules:
        patch(sys.modules["gltui.run.engine"])
    else:
        _AfterImport.hook("gltui.run.engine", patch)


def install(action: Callable[[str], None], setattr: Callable = builtins.setattr) -> None:
    """Wrap gltui's functions so that `action(point)` runs at every fault point. `setattr` may be
    pytest's `monkeypatch.setattr` (undone after the test); the modules are then imported now."""
    eager = setattr is not builtins.setattr
    for module, patch in PATCHES.items():
        if module in sys.modules or eager:
            __import__(module)
            patch(sys.modules[module], action, setattr)
        else:
            _AfterImport.hook(module, functools.partial(patch, action=action, setattr=setattr))



# ---- the patches: one per module, each wrapping the function at whose end the point lies ------


def _engine(module, action, setattr) -> None:
    from gltui.run.events import PhaseStarted

    emit = module.Runner.emit

    def wrapped(self, event):
        if isinstance(event, PhaseStarted):  # drive(): the phase's step runs right after this
            action(f"phase:{event.phase}")
        return emit(self, event)

    setattr(module.Runner, "emit", wrapped)


def _roundmodel(module, action, setattr) -> None:
    save_file = module.save_file

    def wrapped(obj, path):
        save_file(obj, path)
        name = os.path.basename(str(path))
        if name.startswith("train-round") and name.endswith(".ckpt"):
            action("epoch")

    setattr(module, "save_file", wrapped)


_person = threading.local()  # inside Labeler.label: its Store.add_label is a person's label


def _store(module, action, setattr) -> None:
    store = module.Store

    def after(name: str, point: str):
        original = getattr(store, name)

        def wrapped(self, *args, **kwargs):
            out = original(self, *args, **kwargs)
            action(point)
            return out
        setattr(store, name, wrapped)

    after("save_chunk", "chunk")
    after("save_prediction_chunk", "chunk")

    def before_commit(name: str, point: Callable[[tuple, dict], str | None]):
        original = getattr(store, name)

        def wrapped(self, *args, **kwargs):
            at = point(args, kwargs)
            if at is not None:
                inner = kwargs.pop("before_commit", None)

                def hook(inner=inner, at=at):
                    action(at)
                    if inner is not None:
                        inner()
                kwargs["before_commit"] = hook
            return original(self, *args, **kwargs)
        setattr(store, name, wrapped)

    def source(args, kwargs):  # add_label(s)(run, round, item(s), label(s), source, ...)
        return kwargs.get("source", args[4] if len(args) > 4 else None)

    before_commit("add_labels", lambda a, k: "label" if source(a, k) == "oracle" else None)
    before_commit("add_label", lambda a, k: "person-label"
                  if getattr(_person, "inside", False) and source(a, k) == "human" else None)
    before_commit("append_items", lambda a, k: "add:inserted")


def _labeler(module, action, setattr) -> None:
    label = module.Labeler.label

    def wrapped(self, *args, **kwargs):
        _person.inside = True
        try:
            return label(self, *args, **kwargs)
        finally:
            _person.inside = False

    setattr(module.Labeler, "label", wrapped)


def _atomic_write(write_file, action, points_inside, points_after):
    """fsio.atomic_write with `points_inside` after the caller's write (the temporary file is
    whole, not yet fsynced and renamed) and `points_after` once it is renamed into place."""
    def wrapped(path, write):
        def write_then_point(fh):
            write(fh)
            fh.flush()
            for point in points_inside:
                action(point)
        write_file(path, write_then_point)
        for point in points_after:
            action(point)
    return wrapped


def _export(module, action, setattr) -> None:
    setattr(module, "atomic_write", _atomic_write(module.atomic_write, action, ["export"], []))
    atomic_folder = module.atomic_folder

    @contextlib.contextmanager
    def wrapped(target, **kwargs):
        with atomic_folder(target, **kwargs) as tmp:
            yield tmp
            action("export")  # the folder is built, not yet swapped in

    setattr(module, "atomic_folder", wrapped)


def _add(module, action, setattr) -> None:
    setattr(module, "atomic_write",
            _atomic_write(module.atomic_write, action, ["add:written"], ["add:renamed"]))


PATCHES = {
    "gltui.store": _store,
    "gltui.project.labeler": _labeler,
    "gltui.project.add": _add,
    "gltui.outputs.export": _export,
    "gltui.outputs.roundmodel": _roundmodel,
    "gltui.run.engine": _engine,
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a patch right after a module's code ran, the first time it is imported."""

    _patches: dict[str, list[Callable]] = {}

    @classmethod
    def hook(cls, module: str, patch: Callable) -> None:
        if not any(isinstance(f, cls) for f in sys.meta_path):
            sys.meta_path.insert(0, cls())
        cls._patches.setdefault(module, []).append(patch)

    def find_spec(self, name, path, target=None):
        patches = self._patches.pop(name, None)
        if not patches:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            for patch in patches:
                patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec
