"""Runs of a project: create one, resume one, change its options, check the device, drive it.

One home for run policy, used by the CLI (`gltui run`, `gltui --oracle`), `gltui experiment` and
the TUI. The rule every caller follows: first `plan` (reads only, raises ProjectError on bad
input), then take the run's lock, then `commit` the plan (create the run or save its new options),
then drive. So a refused command, or a second process refused the lock, changes nothing.

No torch at import: the engine is imported only to drive, and the device check only imports
torch when a GPU is asked for.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Sequence

from gltui.config import PROFILES, STRATEGIES, Config, train_config
from gltui.project import Project, ProjectError, check_run_name, run_lock


@dataclass(frozen=True)
class Knobs:
    """Options a caller may set on a run; None leaves the run's own value."""

    strategy: str | None = None
    profile: str | None = None
    k: int | None = None
    candidates: int | None = None
    chunk_size: int | None = None
    max_rounds: int | None = None
    budget: int | None = None
    target_accuracy: float | None = None
    schedule: str | None = None
    stop_when_stable: int | None = None
    stable_kappa: float | None = None
    warm_start: int | None = None
    random_share: float | None = None
    balance: bool | None = None

    @classmethod
    def of(cls, namespace) -> "Knobs":
        """The knobs an argparse namespace (or any object) carries; missing ones are None."""
        return cls(**{f.name: getattr(namespace, f.name, None) for f in dataclasses.fields(cls)})

    def __post_init__(self):
        if self.strategy is not None and self.strategy not in STRATEGIES:
            raise ProjectError(f"unknown strategy {self.strategy!r}; choose one of "
                               f"{', '.join(STRATEGIES)}")
        if self.stop_when_stable is not None and self.stop_when_stable < 1:
            raise ProjectError(f"--stop-when-stable {self.stop_when_stable}: give a number of "
                               "rounds in a row, at least 1")
        if self.profile is not None and self.profile not in PROFILES:
            raise ProjectError(f"unknown profile {self.profile!r}; choose one of {', '.join(PROFILES)}")


# Where each knob lives in a Config (the profile is a whole TrainConfig: see `merged`).
_PLACES = {
    "strategy": ("score", "strategy"),
    "k": ("score", "k"),
    "candidates": ("score", "candidates"),
    "chunk_size": ("score", "chunk_size"),
    "max_rounds": ("loop", "max_rounds"),
    "budget": ("loop", "budget"),
    "target_accuracy": ("loop", "target_accuracy"),
    "schedule": ("loop", "schedule"),
    "stop_when_stable": ("loop", "stable_rounds"),
    "stable_kappa": ("loop", "stable_kappa"),
    "warm_start": ("loop", "warm_start"),
    "random_share": ("score", "random_share"),
    "balance": ("score", "balance"),
}
# Knobs that define the protocol of a run's curve: changing one under an existing run would mix
# two protocols in one curve. `gltui experiment` refuses such a change; `gltui run` allows it.
PROTOCOL = ("profile", "k", "candidates", "warm_start", "random_share", "balance")


def _value(config: Config, knob: str):
    if knob == "profile":
        return config.train.profile
    section, key = _PLACES[knob]
    return getattr(getattr(config, section), key)


def merged(config: Config, knobs: Knobs) -> tuple[Config, dict]:
    """A copy of `config` with the knobs applied, and what changed ({knob: new value}). A new
    profile replaces the training settings with that profile's, keeping the augmentation."""
    config = Config.from_json(config.to_json())  # never the caller's object
    changes: dict = {}
    if knobs.profile is not None and knobs.profile != config.train.profile:
        config.train = train_config(knobs.profile, augment=config.train.augment)
        changes["profile"] = knobs.profile
    for knob, (section, key) in _PLACES.items():
        value = getattr(knobs, knob)
        if value is not None and value != _value(config, knob):
            setattr(getattr(config, section), key, value)
            changes[knob] = value
    return config, changes


@dataclass
class RunPlan:
    """What `commit` will do to one run: create it, or save its new options (or nothing)."""

    name: str
    config: Config
    created: bool  # the run does not exist yet
    changes: dict = field(default_factory=dict)  # new options of an existing run
    phase: str = "train"  # the run's phase and round now (a new run: train, 0)
    round: int = 0


def plan(project: Project, name: str, knobs: Knobs = Knobs(), *, seed: int | None = None,
         frozen: Sequence[str] = ()) -> RunPlan:
    """Check a run's options against the project, changing nothing.

    A new run starts from the config of the project's `main` run (what `gltui init` set: model,
    augmentation, profile, k ...) with the knobs on top, and `seed` when given. An existing run
    keeps its strategy and seed (another strategy or seed is another run: `--run NAME`); the knobs
    named in `frozen` must not change either."""
    check_run_name(name)
    if knobs.target_accuracy and not project.store.has_validation_split():
        raise ProjectError("--target-accuracy stops on validation accuracy, and this project has "
                           "no validation split; use --stop-when-stable K, or watch the audit "
                           "estimate in `gltui status`")
    row = project.store.run(name)
    if row is None:
        base = project.run_config("main") if project.store.run("main") else Config()
        config, _ = merged(base, knobs)
        if seed is not None:
            config.seed = int(seed)
        return RunPlan(name, config, created=True)
    if knobs.strategy is not None and knobs.strategy != row.strategy:
        raise ProjectError(f"run {name!r} uses strategy {row.strategy}, not {knobs.strategy}; "
                           "start another run for it with --run NAME")
    if seed is not None and seed != row.seed:
        raise ProjectError(f"run {name!r} has seed {row.seed}, not {seed}; start another run "
                           "for it with --run NAME")
    config, changes = merged(Config.from_json(row.config), knobs)
    for knob in frozen:
        if knob in changes:
            flag = "--" + knob.replace("_", "-")
            have = _value(Config.from_json(row.config), knob)
            raise ProjectError(f"run {name!r} was started with {flag} {have}, not {changes[knob]}; "
                               f"drop {flag} to continue it, or use another project")
    return RunPlan(name, config, created=False, changes=changes, phase=row.phase, round=row.round)


def commit(project: Project, run: RunPlan) -> None:
    """Carry out a plan: create the run, or save its changed options (one event records them).
    Call it holding the run's lock."""
    if run.created:
        project.create_run(run.name, run.config.score.strategy, run.config)
    elif run.changes:
        project.store.set_run_config(run.name, run.config.to_json(), run.changes)


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
          oracle: bool = False, device: str | None = None, frozen: Sequence[str] = (),
          on_event: Callable[[object], None] = lambda event: None,
          cancel: Callable[[], bool] = lambda: False, group=None) -> str:
    """Create or resume a run and drive it until it is done ("done") or waits for a person at
    the label phase ("label"). Raises ProjectError on bad input and RunLocked when another process
    drives the run, in both cases before anything is written."""
    from gltui import faults

    faults.check()  # a malformed test fault is refused before anything is written
    if group is None:
        check_device(device)
    else:
        device = str(group.device)  # every rank on the kind of device the group uses
    run = plan(project, name, knobs, seed=seed, frozen=frozen)
    with run_lock(project, name):
        commit(project, run)
        from gltui import engine  # torch: loaded only to drive

        options = engine.RunOptions(oracle=lambda: oracle, device=device, on_event=on_event,
                                    cancel=cancel, group=group)
        return engine.Runner(project, name, options).drive()


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
            f"--distributed: {', '.join(missing)} not set; launch with `torchrun --nproc_per_node N "
            f"-m gltui run {path} --distributed` (or drop --distributed)"
        )
    if device == "mps":
        raise ProjectError("--distributed: MPS cannot join a process group; use --device cpu or cuda")
    check_device(device)
    group = distributed.init(device or "auto")
    try:
        if not group.is_main:
            from gltui.ranks import follow

            follow(path, group)
            return None
        project = Project.open(path)
        try:
            outcome = drive(project, name, knobs, seed=seed, oracle=oracle, on_event=on_event,
                            group=group)
        finally:
            project.close()
        group.broadcast(None)  # done: the other ranks may leave (on an error torchrun stops them)
        return outcome
    finally:
        distributed.close()
