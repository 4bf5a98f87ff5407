"""Runs of a project: create one, plan a change of its options, commit it. No torch.

`project` is an open gltui.project.Project (not imported here: folder.py builds on this module).

One home for run policy, used by `gltui init` (the run `main`), `gltui run`, `gltui --oracle`,
`gltui experiment` and the TUI, all through gltui.run.driver. The rule every caller follows:
first `plan` (reads only, raises ProjectError on bad input), then take the run's lock, then
`commit` the plan (create the run or save its new options), then drive. So a refused command,
or a second process refused the lock, changes nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from gltui.config import PROFILES, SEMI_FOR_PROFILE, STRATEGIES, Config, semi_config, train_config
from gltui.errors import ProjectError
from gltui.learn.seeding import derive_seed
from gltui.learn.select import select_seed


def check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ProjectError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def check_run_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ProjectError(f"run name {name!r}: use letters, digits, '-', '_' or '.'")


def create_run(
    project,
    name: str,
    strategy: str,
    config: Config,
    *,
    initial: int | None = None,
    stratified: bool | None = None,
) -> None:
    """A new run on the project's pool. Its seed set derives from the run's seed alone, so
    runs with the same seed (guided and random, say) start from the same labeled images.
    In a person's project (pool images without labels), the labels the person brought (a
    labels.csv) are all in the seed set, and unlabeled images fill it up to `initial`: those
    wait for the person at round 0. The project's `seed_draw` picks them: `far`, the typical
    images of the pool's regions, far from each other (learn/select.select_seed), or `random`.
    `config` is not changed: the run stores a copy with `strategy` in it."""
    check_strategy(strategy)
    check_run_name(name)
    if project.store.run(name) is not None:
        raise ProjectError(f"run {name!r} exists already in {project.path}")
    initial = int(project.meta.get("initial", 20) if initial is None else initial)
    stratified = bool(project.meta.get("stratified", False) if stratified is None else stratified)
    pool, truth = project.store.split_items("pool")  # two arrays, one query: no per-item dict
    stop = project.store.sample_set("stop")  # never a seed image: no run trains on it
    if stop is not None:
        keep = ~np.isin(pool, stop)
        pool, truth = pool[keep], truth[keep]
    rng = np.random.default_rng(derive_seed(config.seed, "seed-set"))
    far = project.meta.get("seed_draw", "random") == "far"  # a project made before it: random

    def draw(ids: np.ndarray, n: int, covered: np.ndarray | None = None) -> np.ndarray:
        if far:
            return select_seed(project.pixels, ids, n, rng, covered=covered)
        return np.sort(rng.choice(ids, size=n, replace=False))

    if not labels_known(project, truth):  # a person's project
        known, unknown = pool[truth >= 0], pool[truth < 0]
        fill = min(max(0, initial - len(known)), len(unknown))
        seed_items = np.sort(np.concatenate([known, draw(unknown, fill, covered=known)]))
    else:  # an experiment: from its known labels (images added since may have none)
        pool, truth = pool[truth >= 0], truth[truth >= 0]
        if stratified and len(truth):
            per_class = max(1, initial // max(1, len(project.classes)))
            chosen = []
            for c in range(len(project.classes)):
                members = pool[truth == c]
                take = min(per_class, len(members))
                chosen.extend(rng.choice(members, size=take, replace=False).tolist())
            rest = np.setdiff1d(pool, chosen)
            extra = max(0, initial - len(chosen))
            chosen.extend(rng.choice(rest, size=extra, replace=False).tolist())
            seed_items = np.sort(np.asarray(chosen[:initial], dtype=np.int64))
        else:
            seed_items = draw(pool, min(initial, len(pool)))
    seed_labels = project.store.true_labels(seed_items)  # -1: a person labels it at round 0
    config = Config.from_json(config.to_json())
    config.score.strategy = strategy
    project.store.create_run(name, strategy, config.seed, config.to_json(), seed_items, seed_labels)


def labels_known(project, truth: np.ndarray | None = None) -> bool:
    """Whether the project is an experiment: every image had its label at init (older projects:
    every pool image has one now, `truth` when the caller read it). An experiment stays one when
    unlabeled images are added: its seed sets and queues come from the known labels, as before
    the images came, so that its oracle always has the label; the added images still teach the
    semi-supervised rounds and get predictions."""
    if "labels_known" in project.meta:
        return bool(project.meta["labels_known"])
    if truth is None:
        truth = project.store.split_items("pool")[1]
    return not bool((truth < 0).any())


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
    explore: str | None = None
    balance: bool | None = None
    semi: bool | None = None
    semi_profile: str | None = None

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
            raise ProjectError(
                f"unknown profile {self.profile!r}; choose one of {', '.join(PROFILES)}")


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
    "explore": ("score", "explore"),
    "balance": ("score", "balance"),
    "semi": ("semi", "enabled"),
}
# Knobs that define the protocol of a run's curve: changing one under an existing run would mix
# two protocols in one curve. `gltui experiment` refuses such a change; `gltui run` allows it.
PROTOCOL = ("profile", "k", "candidates", "warm_start", "random_share", "explore", "balance",
            "semi", "semi_profile")


def _value(config: Config, knob: str):
    if knob == "profile":
        return config.train.profile
    if knob == "semi_profile":
        return config.semi.profile
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
        if knobs.semi_profile is None:  # a round's length: the semi-supervised one follows
            knobs = dataclasses.replace(knobs, semi_profile=SEMI_FOR_PROFILE[knobs.profile])
    if knobs.semi_profile is not None and knobs.semi_profile != config.semi.profile:
        config.semi = semi_config(knobs.semi_profile, enabled=config.semi.enabled)
        changes["semi_profile"] = knobs.semi_profile
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


def plan(project, name: str, knobs: Knobs = Knobs(), *, seed: int | None = None,
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


def commit(project, run: RunPlan) -> None:
    """Carry out a plan: create the run, or save its changed options (one event records them).
    Call it holding the run's lock."""
    if run.created:
        create_run(project, run.name, run.config.score.strategy, run.config)
    elif run.changes:
        project.store.set_run_config(run.name, run.config.to_json(), run.changes)
