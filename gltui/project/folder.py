"""A project on disk: the folder, its database and its pixels. No torch, no Textual.

    PROJECT/
      gltui.db          SQLite (gltui/store/): items, runs, labels, queue, scores, rounds, events
      pixels.npy        every image, uint8 N×C×H×W, row i == items.id i; memory-mapped on open
      checkpoints/      per run: a model per round, the training checkpoint of the round under way,
                        and the run's lock file

Reading a project (status, export, the TUI's views) needs only this module and the store, so it
stays fast to import; driving a run needs the engine (torch). Open one as a context manager:

    with Project.open(path) as project:
        ...
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gltui import data as data_mod
from gltui.config import SEED_DRAWS, Config, default_strategy
from gltui.errors import ProjectError, shell_command
from gltui.fsio import atomic_folder
from gltui.learn.seeding import derive_seed
from gltui.project.locks import every_lock
from gltui.project.pixels import (
    check_layout,
    file_inode,
    map_pixels,
    pixels_fix,
    write_pixels_file,
)
from gltui.project.runs import check_run_name, check_strategy, create_run
from gltui.store import SPLITS, RoundRow, Store

DB_NAME = "gltui.db"
PIXELS_NAME = "pixels.npy"
PROJECT_FILES = {DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", PIXELS_NAME, "checkpoints",
                 f".{PIXELS_NAME}.tmp"}  # the last: a killed `add`'s, removed by init --force
STOP_SHARE = 10  # a stop set takes at most 1 / STOP_SHARE of the pool
AUDIT_DEFAULT = 200  # a person's audit set: at most this many (10 % of their unlabeled images)


def missing_pixels(path: Path) -> str:
    """The line for a project folder whose pixels.npy is gone."""
    return (f"{path / PIXELS_NAME}: missing, and every image of the project is in it; "
            f"{pixels_fix(path)}")


@dataclass
class RunSummary:
    name: str
    strategy: str
    seed: int
    phase: str
    round: int
    n_labeled: int
    n_pool: int
    n_queued: int
    stop_reason: str | None
    profile: str
    rounds: list[RoundRow]
    validated: bool = True  # the project has a validation split (results.HasRounds)

    # The round fields that `gltui status --json` shows (profile, best_epoch and finished_at stay
    # in the database).
    JSON_ROUND_FIELDS = ("round", "n_labeled", "val_accuracy", "test_accuracy", "epochs",
                         "train_seconds", "score_seconds", "class_hist")

    def as_json(self) -> dict:
        """The run as `gltui status --json` prints it."""
        return {
            "name": self.name,
            "strategy": self.strategy,
            "seed": self.seed,
            "phase": self.phase,
            "round": self.round,
            "n_labeled": self.n_labeled,
            "n_pool": self.n_pool,
            "n_queued": self.n_queued,
            "profile": self.profile,
            "stop_reason": self.stop_reason,
            "rounds": [{k: getattr(r, k) for k in self.JSON_ROUND_FIELDS} for r in self.rounds],
        }


class Project:
    """An opened project folder. `Project.open(path)`; `Project.init(...)` makes one."""

    def __init__(self, path: Path, store: Store, pixels: np.ndarray):
        self.path = path
        self.store = store
        self.pixels = pixels  # memmap, read-only (the property below)
        self.pixels_problem: str | None = None  # why pixels.npy is not there (need_pixels=False)
        self.classes = store.classes()
        self.meta = store.meta()

    @property
    def pixels(self) -> np.ndarray:
        """pixels.npy memory-mapped, read-only; mapped anew when the file was replaced since.
        `gltui add` renames a longer file into place before it commits the new items, so every
        item id this process has read from the database is a row of what this returns (a run,
        the TUI, predict and export see added images; project/locks.py)."""
        now = file_inode(self.path / PIXELS_NAME)
        if now is not None and now != self._pixels_inode and not self.pixels_problem:
            self._pixels, self._pixels_inode = map_pixels(self.path / PIXELS_NAME)
        if self._pixels is None:  # opened without it (open(need_pixels=False))
            raise ProjectError(self.pixels_problem or missing_pixels(self.path))
        return self._pixels

    @pixels.setter
    def pixels(self, value: np.ndarray) -> None:
        self._pixels, self._pixels_inode = value, None  # mapped anew on first use

    # -- opening and creating ------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, busy_timeout: float | None = None,
             need_pixels: bool = True) -> "Project":
        """The project at `path` (ProjectError when there is none). busy_timeout: how long its
        writes wait for another process's write lock (store/connection.py). need_pixels=False:
        a pixels.npy that is missing, unreadable or not the project's is no error until `pixels`
        is read (a csv export needs none)."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ProjectError(f"{path}: is a file, not a project folder; give a folder path")
        db = path / DB_NAME
        if not db.is_file():
            raise ProjectError(
                f"{path}: no gltui project here; create one with "
                f"`{shell_command('init', path)} --data SPEC`"
            )
        store = Store(db, busy_timeout=busy_timeout)
        pixels, problem = None, None
        try:
            pixels = np.load(path / PIXELS_NAME, mmap_mode="r")
            check_layout(path / PIXELS_NAME, pixels, store.meta().get("shape"), store.item_end())
        except FileNotFoundError:
            problem = missing_pixels(path)
        except (OSError, ValueError) as err:
            problem = f"{path / PIXELS_NAME}: unreadable ({err}); {pixels_fix(path)}"
        except ProjectError as err:  # check_layout's
            problem = str(err)
        if problem is not None and need_pixels:
            store.close()
            raise ProjectError(problem)
        project = cls(path, store, None if problem else pixels)
        project.pixels_problem = problem
        return project

    @classmethod
    def init(
        cls,
        path: str | Path,
        dataset: data_mod.Dataset,
        config: Config,
        *,
        val_size: int | None = None,
        initial: int = 20,
        stratified: bool = False,
        seed_draw: str = "far",
        strategy: str | None = None,
        force: bool = False,
        audit: int | None = None,
    ) -> "Project":
        """Import a dataset into a new project folder and create its run `main`.

        Everything is built in a temporary folder beside PROJECT and renamed into place, so a
        failure (bad option, full disk, Ctrl-C) leaves an existing project untouched.

        audit: images set aside as the audit set (store/sets.py), drawn at random from the pool
        images without a label (all of the pool where every label is known); None: 10 % of them,
        at most 200, in a person's project and none where every label is known (0: none).
        strategy: the run's; None: config.default_strategy for the config's semi setting.
        seed_draw: how every run's seed set is drawn (config.SEED_DRAWS, project/runs)."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ProjectError(f"{path}: is a file, not a project folder; give a folder path")
        if (path / DB_NAME).exists() and not force:
            raise ProjectError(
                f"{path}: already a gltui project; use `{shell_command('run', path)}` to continue "
                "it, or `gltui init --force` to replace it"
            )
        if path.is_dir():
            strangers = [p for p in path.iterdir() if p.name not in PROJECT_FILES]
            if strangers:
                raise ProjectError(
                    f"{strangers[0]}: the project folder holds other files; choose a new or "
                    "empty folder"
                )
        strategy = strategy or default_strategy(config.semi.enabled)
        check_strategy(strategy)
        if seed_draw not in SEED_DRAWS:
            raise ProjectError(f"unknown seed draw {seed_draw!r}; choose {' or '.join(SEED_DRAWS)}")
        if not dataset.classes:
            raise ProjectError(
                f"{dataset.spec}: no labels and no class names; name the classes with "
                "--classes a,b,c (or give a labels.csv or class sub-folders)"
            )
        if min(dataset.height, dataset.width) < data_mod.MIN_SIDE:
            raise ProjectError(
                f"{dataset.spec}: images of {dataset.height}x{dataset.width} px are too small for "
                f"the networks (at least {data_mod.MIN_SIDE}x{data_mod.MIN_SIDE}); give --resize "
                "28x28 to enlarge them"
            )
        train, test = dataset.train, dataset.test
        n_train = len(train.names)
        train_labels = train.labels if train.labels is not None else np.full(n_train, -1, np.int64)
        labeled_train = np.flatnonzero(train_labels >= 0)
        if val_size is None:
            # A person's project (images without labels) has no validation split unless asked:
            # the labels they bring are theirs to train on. With every label known (an oracle
            # experiment): 10% of the images, at least 100 and at most 5,000, but never more
            # than a fifth of them (a 60-image folder kept no pool).
            n = len(labeled_train)
            val_size = int(min(5000, max(100, n // 10), n // 5)) if dataset.fully_labeled else 0
        val_size = min(val_size, len(labeled_train))
        audit_from = _audit_candidates(train_labels, dataset.fully_labeled)
        if audit is None:
            audit = 0 if dataset.fully_labeled else min(AUDIT_DEFAULT, len(audit_from) // 10)
        available = len(audit_from) - (val_size if dataset.fully_labeled else 0)
        if audit > available:
            raise ProjectError(
                f"--audit {audit}: only {available} pool images can go to the audit set; "
                f"give at most {available} (or 0 for none)")
        if initial < 1:
            raise ProjectError(f"--initial {initial}: the seed set needs at least 1 image")
        if n_train - val_size - audit < 2 * initial:
            raise ProjectError(
                f"--initial {initial}, --val-size {val_size} and --audit {audit} leave "
                f"{n_train - val_size - audit} pool images; the pool needs at least twice the "
                f"seed set: lower them"
            )

        rng = np.random.default_rng(derive_seed(config.seed, "validation"))
        val_ids = np.sort(rng.choice(labeled_train, size=val_size, replace=False))
        splits = np.zeros(n_train, dtype=np.uint8)  # 0 = pool
        splits[val_ids] = SPLITS.index("val")
        # The audit set in the order drawn, so that any prefix of it is a uniform sample too.
        rng = np.random.default_rng(derive_seed(config.seed, "audit"))
        eligible = audit_from[splits[audit_from] == SPLITS.index("pool")]
        audit_ids = rng.permutation(eligible)[:audit] if audit else np.zeros(0, np.int64)
        splits[audit_ids] = SPLITS.index("audit")
        # The stop set: drawn now, before any run draws its seed set around it, from the pool
        # images no one labeled (stop_set()).
        stop_seed = derive_seed(config.seed, "stop-set")
        free = audit_from[splits[audit_from] == SPLITS.index("pool")]
        n_stop = min(config.loop.stop_set, int((splits == SPLITS.index("pool")).sum())
                     // STOP_SHARE, len(free))
        stop_ids = np.sort(np.random.default_rng(stop_seed).choice(free, size=n_stop,
                                                                   replace=False))
        # Names stream into the database as they are made: a million-image pool never holds a
        # million strings (npy/idx/npz splits name their items on demand).
        names = map(str, train.names)
        labels = train_labels
        if test is not None and len(test.names):
            test_labels = test.labels if test.labels is not None else np.full(len(test.names), -1)
            test_split = np.full(len(test.names), SPLITS.index("test"), np.uint8)
            splits = np.concatenate([splits, test_split])
            names = itertools.chain(names, (f"test/{n}" for n in test.names))
            labels = np.concatenate([labels, np.asarray(test_labels, dtype=np.int64)])
            parts = [train.images, test.images]
        else:
            parts = [train.images]

        tmp = None
        try:
            with atomic_folder(path, replace=_remove_project_files if force else None) as tmp:
                write_pixels_file(tmp / PIXELS_NAME, parts)
                (tmp / "checkpoints").mkdir()
                store = Store(tmp / DB_NAME, create=True)
                store.set_meta({
                    "spec": stored_spec(dataset.spec),
                    "shape": [int(dataset.channels), int(dataset.height), int(dataset.width)],
                    "seed": config.seed,
                    "val_size": int(val_size),
                    "initial": int(initial),
                    "stratified": bool(stratified),
                    "seed_draw": seed_draw,  # config.SEED_DRAWS
                    "audit": int(audit),
                    # every pool label known at init (an oracle experiment): its runs' seed sets
                    # stay drawn from those labels when unlabeled images are added later
                    "labels_known": bool(dataset.fully_labeled),
                })
                store.insert_dataset(dataset.classes, names, splits, labels)
                if audit:  # item ids are the rows of pixels.npy: the positions drawn
                    store.save_sample_set("audit", audit_ids, derive_seed(config.seed, "audit"))
                if n_stop:
                    store.save_sample_set("stop", stop_ids, stop_seed)
                store.close()
                project = cls.open(tmp)
                create_run(project, "main", strategy, config, initial=initial,
                           stratified=stratified)
                project.close()
        except OSError as err:
            if tmp is None:  # the folder beside PROJECT could not even be made
                raise ProjectError(f"{path.parent}: cannot create the project there "
                                   f"({err.strerror})") from err
            raise
        return cls.open(path)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- runs -------------------------------------------------------------------------------------

    def stop_set(self, size: int) -> np.ndarray:
        """The project's stop set (store/sets.py), drawn at random the first time a round asks
        for it (so a project made before stop sets gets one too), from the pool images no run
        has labeled: `size` of them, at most a tenth of the pool. Drawn once per project, from
        the project seed: every run compares its rounds on the same images. No run queues or
        trains on them, labeled or not (engine, runs.create_run), so the kappa between rounds
        judges images no model has seen. (A project whose stop set predates that rule keeps it.)"""
        items = self.store.sample_set("stop")
        if items is None:
            seed = derive_seed(int(self.meta.get("seed", 0)), "stop-set")
            pool = self.store.item_ids("pool")
            free = np.setdiff1d(pool, self.store.labeled_in_any_run())
            rng = np.random.default_rng(seed)
            n = min(size, max(1, len(pool) // STOP_SHARE), len(free))
            drawn = np.sort(rng.choice(free, size=n, replace=False))
            self.store.save_sample_set("stop", drawn, seed)
            items = self.store.sample_set("stop")  # another process may have drawn it first
        return items

    def has_true_labels(self) -> bool:
        """Whether every pool image has a known label: only then can an oracle label queues."""
        _, truth = self.store.split_items("pool")
        return bool(len(truth)) and bool((truth >= 0).all())

    def run_config(self, name: str) -> Config:
        return Config.from_json(self.require_run(name).config)

    def require_run(self, name: str):
        row = self.store.run(name)
        if row is None:
            names = ", ".join(r.name for r in self.store.runs()) or "none"
            try:
                check_run_name(name)
            except ProjectError:  # a name no run can have: suggest none to create
                raise ProjectError(f"no run {name!r} in {self.path} (runs: {names}); give one "
                                   "of those with --run") from None
            raise ProjectError(
                f"no run {name!r} in {self.path} (runs: {names}); create it with "
                f"`{shell_command('run', self.path, '--run', name)} --strategy S --seed N`"
            )
        return row

    def summary(self, name: str) -> RunSummary:
        row = self.require_run(name)
        config = Config.from_json(row.config)
        return RunSummary(
            name=row.name,
            strategy=row.strategy,
            seed=row.seed,
            phase=row.phase,
            round=row.round,
            n_labeled=self.store.count_labeled(name),
            n_pool=self.store.count_unlabeled_pool(name),
            n_queued=self.store.count_pending(name, row.round) if row.phase == "label" else 0,
            stop_reason=row.stop_reason,
            profile=config.train.profile,
            rounds=self.store.rounds(name),
            validated=self.store.has_validation_split(),
        )

    def summaries(self) -> list[RunSummary]:
        return [self.summary(r.name) for r in self.store.runs()]

    # -- paths ------------------------------------------------------------------------------------

    def run_dir(self, name: str) -> Path:
        d = self.path / "checkpoints" / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def model_path(self, name: str, round: int) -> Path:
        return self.run_dir(name) / f"model-round{round:03d}.pt"

    def train_checkpoint_path(self, name: str, round: int) -> Path:
        return self.run_dir(name) / f"train-round{round:03d}.ckpt"

    def image(self, item: int) -> np.ndarray:
        """One image (C, H, W) uint8."""
        return np.asarray(self.pixels[item])


def stored_spec(spec: str) -> str:
    """The spec as a project keeps it: KIND:PATH with PATH absolute and resolved, so what reads it
    later (export --originals, the Label Studio paths) finds the files from any working
    directory. Every kind's PATH is a file or folder (gltui/data/loader.py READERS). A project
    made before this keeps its spec as typed (resolved against the working directory then)."""
    try:
        kind, path = data_mod.parse_spec(spec)
    except data_mod.DataError:
        return spec
    return f"{kind}:{path.resolve()}"


def _audit_candidates(train_labels: np.ndarray, fully_labeled: bool) -> np.ndarray:
    """Positions the audit set is drawn from: every image where every label is known (an oracle
    project), else the images without a label (the labels a person brings are theirs to train
    on, and a labels.csv need not be a random sample)."""
    if fully_labeled:
        return np.arange(len(train_labels), dtype=np.int64)
    return np.flatnonzero(np.asarray(train_labels) < 0).astype(np.int64)


def _remove_project_files(path: Path) -> None:
    with every_lock(path):  # refused while a verb works on the project (project/locks.py)
        for name in PROJECT_FILES - {"checkpoints"}:
            (path / name).unlink(missing_ok=True)
        shutil.rmtree(path / "checkpoints", ignore_errors=True)
