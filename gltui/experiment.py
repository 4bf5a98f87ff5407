"""`gltui experiment`: guided vs random on one pool, several seeds, then the report.

One oracle run per (strategy, seed), named `STRATEGY-sSEED` (`rde-s0`, `random-s1`, ...), all on
the same project: the same pool, validation and test split, and, for equal seeds, the same seed
set (Project.create_run derives it from the run seed alone). Runs are driven one after another,
seed by seed (rde-s0, random-s0, rde-s1, ...), so a partial experiment already holds complete
pairs. Everything is resumable: a run that exists is continued where it stopped (the engine
commits every phase), one that is done is left as it is, so rerunning the same command after a
kill goes on. Nothing here prints: progress leaves through callbacks, as in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from gltui.config import PROFILES, Config, train_config
from gltui.project import STRATEGIES, Project, ProjectError, run_lock


@dataclass
class Plan:
    strategies: Sequence[str] = ("rde", "random")
    seeds: Sequence[int] = (0, 1, 2)
    budget: int | None = None  # total labels per run (seed set included); None: the project's
    max_rounds: int | None = None  # training rounds per run; None: the project's
    profile: str | None = None  # training profile (existing runs must match); None: the project's
    k: int | None = None  # augmented copies per image (rde); None: the project's
    candidates: int | None = None  # pool images scored per round (0 = all); None: the project's
    device: str | None = None  # this process only; None: each run's config

    def __post_init__(self):
        self.strategies = list(dict.fromkeys(self.strategies))
        self.seeds = list(dict.fromkeys(int(s) for s in self.seeds))
        if not self.strategies or not self.seeds:
            raise ProjectError("an experiment needs at least one strategy and one seed")
        for s in self.strategies:
            if s not in STRATEGIES:
                raise ProjectError(f"unknown strategy {s!r}; choose from {', '.join(STRATEGIES)}")
        if self.profile is not None and self.profile not in PROFILES:
            raise ProjectError(f"unknown profile {self.profile!r}; choose one of {', '.join(PROFILES)}")

    def runs(self) -> list[tuple[str, str, int]]:
        """(run name, strategy, seed), seed by seed."""
        return [(run_name(s, seed), s, seed) for seed in self.seeds for s in self.strategies]


def run_name(strategy: str, seed: int) -> str:
    return f"{strategy}-s{seed}"


@dataclass
class RunStarted:
    """Sent before each run is driven."""

    name: str
    index: int  # 1-based
    total: int
    created: bool  # a new run (else resumed or already done)
    phase: str
    round: int
    finished_rounds: int  # rounds already evaluated before this process


@dataclass
class Outcome:
    runs: list[str] = field(default_factory=list)
    report: Path | None = None


# The knobs an experiment may set, and where they live in a Config. Those marked comparable must
# not change under an existing run: its rounds would mix two protocols in one curve.
_KNOBS = (
    # plan field, section, key, comparable
    ("profile", "train", "profile", True),
    ("k", "score", "k", True),
    ("candidates", "score", "candidates", True),
    ("budget", "loop", "budget", False),
    ("max_rounds", "loop", "max_rounds", False),
)


def check(project: Project, plan: Plan) -> dict[str, tuple[Config, dict]]:
    """Check the plan's existing runs against it, changing nothing; returns, per existing run,
    its config with the plan's new budget / round limit applied and what changed.

    An existing run must have the plan's strategy and seed and, where the plan sets them, its
    profile, k and candidates: its rounds would otherwise mix two protocols in one curve."""
    updates: dict[str, tuple[Config, dict]] = {}
    for name, strategy, seed in plan.runs():
        row = project.store.run(name)
        if row is None:
            continue
        if row.strategy != strategy or row.seed != seed:
            raise ProjectError(
                f"run {name!r} exists with strategy {row.strategy} and seed {row.seed}, not "
                f"{strategy} and {seed}; rename or remove it, or use another project"
            )
        config = Config.from_json(row.config)
        changes = {}
        for opt, section, key, comparable in _KNOBS:
            want = getattr(plan, opt)
            have = getattr(getattr(config, section), key)
            if want is None or want == have:
                continue
            if comparable:
                flag = "--" + opt.replace("_", "-")
                raise ProjectError(
                    f"run {name!r} was started with {flag} {have}, not {want}; drop {flag} "
                    "to continue it, or use another project"
                )
            setattr(getattr(config, section), key, want)
            changes[opt] = want
        updates[name] = (config, changes)
    return updates


def prepare(project: Project, plan: Plan,
            updates: dict[str, tuple[Config, dict]] | None = None) -> list[tuple[str, bool]]:
    """Create the plan's missing runs and apply `check`'s updates to the existing ones; returns
    (name, created) in driving order.

    New runs start from the config of the project's `main` run (what `gltui init` set: model,
    augmentation, profile, k ...) with the plan's options on top, as `gltui run --run NAME` does.
    A new budget or round limit is applied to an existing run, but a run that is already done
    stays done."""
    if updates is None:
        updates = check(project, plan)
    base_json = project.run_config("main").to_json() if project.store.run("main") else None
    out = []
    for name, strategy, seed in plan.runs():
        if name in updates:
            config, changes = updates[name]
            if changes:
                project.store.set_run_config(name, config.to_json(), changes)
            out.append((name, False))
            continue
        config = Config.from_json(base_json) if base_json else Config()
        _apply(config, plan)
        config.seed = seed
        project.create_run(name, strategy, config)
        out.append((name, True))
    return out


def _apply(config: Config, plan: Plan) -> None:
    if plan.profile is not None and plan.profile != config.train.profile:
        config.train = train_config(plan.profile, augment=config.train.augment)
    for opt, section, key, _ in _KNOBS:
        if opt != "profile" and getattr(plan, opt) is not None:
            setattr(getattr(config, section), key, getattr(plan, opt))


def run(
    project: Project,
    plan: Plan,
    *,
    report_dir: str | Path | None = None,
    on_run: Callable[[RunStarted], None] = lambda started: None,
    on_event: Callable[[object], None] = lambda event: None,
    cancel: Callable[[], bool] = lambda: False,
) -> Outcome:
    """Create or resume every run of the plan, drive each to its end with the oracle, then write
    the report (when report_dir is given). Raises RunLocked when another process drives one of
    the runs, ProjectError on bad input; KeyboardInterrupt leaves everything committed."""
    from gltui.report import writable_dir, write_report

    _check_device(plan.device)
    updates = check(project, plan)  # bad input is refused before anything changes
    if report_dir is not None:
        writable_dir(Path(report_dir))  # a bad folder fails now, not after hours of training
    from gltui import engine  # torch: loaded only to drive

    runs = prepare(project, plan, updates)
    outcome = Outcome(runs=[name for name, _ in runs])
    for index, (name, created) in enumerate(runs, start=1):
        row = project.require_run(name)
        finished = sum(r["finished_at"] is not None for r in project.store.rounds(name))
        on_run(RunStarted(name, index, len(runs), created, row.phase, row.round, finished))
        with run_lock(project, name):
            options = engine.RunOptions(oracle=True, device=plan.device, on_event=on_event,
                                        cancel=cancel)
            engine.Runner(project, name, options).drive()
    if report_dir is not None:
        outcome.report = write_report(project, report_dir, runs=outcome.runs)
    return outcome


def _check_device(device: str | None) -> None:
    if device in (None, "auto", "cpu"):
        return
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ProjectError("--device cuda: no CUDA GPU is visible here; use --device cpu or auto")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ProjectError("--device mps: no MPS backend here; use --device cpu or auto")
