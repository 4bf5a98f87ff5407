"""Test fault injection: the engine kills its own process at a named point, so the resume tests
(tests/test_engine.py, tests/test_reliability.py, benchmarks/chaos.py) hit a known instant.

Honoured only under an explicit switch, so a leftover variable cannot kill a real run:

  GLTUI_TEST_FAULTS=1         the switch; without it GLTUI_FAULT is ignored
  GLTUI_FAULT=POINT           phase:P  at the start of phase P (label, train, evaluate, score,
                                       query)
                              epoch:n  after the n-th epoch checkpoint of this process (n = 1 if
                                       omitted); chunk:n likewise after a saved scoring chunk
                              label    inside the oracle's label transaction, before its commit
                              person-label  inside a person's label transaction (Labeler.label
                                       -> Store.add_label), before its commit
                              export   an export built in its temporary file or folder beside
                                       the target, before the rename that swaps it in
                              add:S    `gltui add` after step S: written (the new pixels file),
                                       renamed (it replaced pixels.npy), inserted (the items,
                                       inside their transaction, before its commit)
  GLTUI_FAULT_SIGNAL=INT      send SIGINT (what Ctrl-C sends) instead of SIGKILL

When the switch is on and GLTUI_FAULT is set, one warning line goes to stderr (once per process);
a malformed value raises FaultSpecError (a ProjectError: one line, exit 2). No torch.
"""

from __future__ import annotations

import functools
import os
import signal
import sys

from gltui.errors import ProjectError
from gltui.store import PHASES

SWITCH, FAULT, SIGNAL = "GLTUI_TEST_FAULTS", "GLTUI_FAULT", "GLTUI_FAULT_SIGNAL"
COUNTED = ("epoch", "chunk")  # points that recur: the n-th occurrence in this process fires
ADD_POINTS = ("written", "renamed", "inserted")  # `gltui add`'s steps (gltui/add.py)
NAMED = ("label", "person-label", "export")  # single points with no argument
_SIGNALS = {"": signal.SIGKILL, "KILL": signal.SIGKILL, "INT": signal.SIGINT}


class FaultSpecError(ProjectError):
    """GLTUI_FAULT or GLTUI_FAULT_SIGNAL does not name a fault."""


def check() -> None:
    """Validate the fault variables now (raises FaultSpecError) and warn if they are active: call
    before anything is written, so a malformed value changes nothing."""
    _plan(*_env())


def point(name: str) -> None:
    """Kill this process if the active fault names this point (``phase:train``, ``epoch``,
    ``chunk``, ``label``). Costs a few dict lookups when no fault is active."""
    plan = _plan(*_env())
    if plan is None:
        return
    want, count, sig = plan
    kind = name.partition(":")[0]
    if kind in COUNTED:
        if want != kind:
            return
        _counts[kind] = _counts.get(kind, 0) + 1
        if _counts[kind] != count:
            return
    elif want != name:
        return
    os.kill(os.getpid(), sig)


_counts: dict[str, int] = {}  # occurrences of the counted points in this process


def _env() -> tuple[str, str, str]:
    return os.environ.get(SWITCH, ""), os.environ.get(FAULT, ""), os.environ.get(SIGNAL, "")


@functools.lru_cache(maxsize=None)  # once per value: the warning is printed once per process
def _plan(switch: str, fault: str, sig: str) -> tuple[str, int, signal.Signals] | None:
    """(point or counted kind, n, signal) of the active fault; None when none is active."""
    if switch != "1" or not fault:
        return None
    kind, colon, arg = fault.partition(":")
    phases = [p for p in PHASES if p != "done"]
    if kind in COUNTED:
        if arg and not (arg.isdigit() and int(arg) >= 1):
            raise FaultSpecError(f"{FAULT}={fault}: {kind}:n needs a count n >= 1")
        plan = (kind, int(arg or 1))
    elif kind == "phase" and arg in phases:
        plan = (fault, 0)
    elif kind in NAMED and not colon:
        plan = (fault, 0)
    elif kind == "add" and arg in ADD_POINTS:
        plan = (fault, 0)
    else:
        raise FaultSpecError(f"{FAULT}={fault}: not a fault point; use phase:P (P one of "
                             f"{', '.join(phases)}), epoch:n, chunk:n, {', '.join(NAMED)} or add:S "
                             f"(S one of {', '.join(ADD_POINTS)})")
    if sig not in _SIGNALS:
        raise FaultSpecError(f"{SIGNAL}={sig}: use INT or KILL")
    print(f"gltui: test fault injection active ({FAULT}={fault}"
          f"{f', {SIGNAL}={sig}' if sig else ''})", file=sys.stderr, flush=True)
    return (*plan, _SIGNALS[sig])
