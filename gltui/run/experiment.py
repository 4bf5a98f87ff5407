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

from gltui.config import BASELINE_STRATEGY, default_strategy
from gltui.errors import ProjectError
from gltui.project import Project
from gltui.project import runs as run_policy
from gltui.project.runs import Knobs
from gltui.run import driver


@dataclass
class Plan:
    strategies: Sequence[str]  # default_strategies(): the project's guided one and random
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
        for strategy in self.strategies:
            self.knobs(strategy)  # an unknown strategy or profile is refused here

    def knobs(self, strategy: str) -> Knobs:
        """The options every run of this strategy gets (None: the project's)."""
        return Knobs(strategy=strategy, profile=self.profile, k=self.k,
                     candidates=self.candidates, budget=self.budget, max_rounds=self.max_rounds)

    def runs(self) -> list[tuple[str, str, int]]:
        """(run name, strategy, seed), seed by seed."""
        return [(run_name(s, seed), s, seed) for seed in self.seeds for s in self.strategies]


def default_strategies(project: Project) -> list[str]:
    """The guided strategy for the semi setting of the project's `main` run, and the baseline."""
    return [default_strategy(project.run_config("main").semi.enabled), BASELINE_STRATEGY]


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


def check(project: Project, plan: Plan) -> list[run_policy.RunPlan]:
    """Every run of the plan checked against the project, changing nothing (project/runs.plan): an
    existing run must have the plan's strategy and seed and, where the plan sets them, its
    profile, k and candidates (project/runs.PROTOCOL): its rounds would otherwise mix two
    protocols in one curve. A new budget or round limit is taken: a run done at its old limit goes
    on (engine.Runner._reopens); one done for another reason stays done."""
    return [run_policy.plan(project, name, plan.knobs(strategy), seed=seed,
                            frozen=run_policy.PROTOCOL)
            for name, strategy, seed in plan.runs()]


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
    from gltui.outputs.report import writable_dir, write_report

    driver.check_device(plan.device)
    checked = check(project, plan)  # bad input is refused before anything changes
    if report_dir is not None:
        writable_dir(Path(report_dir))  # a bad folder fails now, not after hours of training
    outcome = Outcome(runs=[run.name for run in checked])
    for index, ((name, strategy, seed), run) in enumerate(zip(plan.runs(), checked), start=1):
        finished = 0 if run.created else sum(
            r.finished_at is not None for r in project.store.rounds(name))
        on_run(RunStarted(name, index, len(checked), run.created, run.phase, run.round, finished))
        driver.drive(project, name, plan.knobs(strategy), seed=seed, oracle=True,
                         device=plan.device, frozen=run_policy.PROTOCOL, on_event=on_event,
                         cancel=cancel)
    if report_dir is not None:
        outcome.report = write_report(project, report_dir, runs=outcome.runs)
    return outcome

