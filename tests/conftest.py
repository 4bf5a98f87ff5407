"""Shared fixtures. Paths: the repo root, the bundled sample data, the real MNIST beside the
project."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

# Under pytest-xdist (`-n 2`: one worker per core) each worker's torch, and every gltui it
# starts, takes one thread: two workers of two threads each on two cores would fight. Set before
# anything imports torch.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
# tests run against this checkout even where gltui is not installed
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
SAMPLE_MNIST = REPO_ROOT / "sample_data" / "mnist"

# tests/test_mutation.py runs the engine property test with `--hypothesis-profile
# gltui-no-shrink`: a failing example is reported as found (shrinking would re-run the engine).
from hypothesis import Phase, settings  # noqa: E402

settings.register_profile("gltui-no-shrink", phases=[p for p in Phase if p != Phase.shrink])
SHARED_MNIST = REPO_ROOT.parent / "shared" / "datasets" / "mnist"  # real IDX files, may be absent


@pytest.fixture(scope="session")
def sample_mnist_dir() -> Path:
    """sample_data/mnist: 3000 + 1000 (test/) real MNIST digits as PNG, with labels.csv."""
    return SAMPLE_MNIST


@pytest.fixture(scope="session")
def shared_mnist_dir() -> Path:
    """The real MNIST IDX .gz files; tests that need them skip when they are not there."""
    if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not found at {SHARED_MNIST}")
    return SHARED_MNIST


def read_digits(folder: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n digits of a sample folder in labels.csv order (the order `gltui.data.load`
    reads them in), straight with PIL: (n, 28, 28) uint8 and their labels. Only those n files
    are read."""
    from PIL import Image

    rows = (folder / "labels.csv").read_text().split()[1:n + 1]
    images = np.stack([np.asarray(Image.open(folder / r.split(",")[0])) for r in rows])
    labels = np.array([int(r.split(",")[1]) for r in rows], dtype=np.int64)
    return images, labels


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The first 600 sample training digits: (600, 28, 28) uint8, labels."""
    return read_digits(SAMPLE_MNIST, 600)


# ---- a person's data with planted label mistakes and near copies (gltui check, its TUI page) ----

N_LABELED, N_FLIPS, N_POOL, N_PLANTED, N_LEAKS = 300, 15, 500, 10, 3
from benchmarks.health_check import near_copy  # noqa: E402 (the benchmark's planted copies)


@pytest.fixture(scope="session")
def check_data(tmp_path_factory):
    """A person's npz: 300 labeled digits (15 labels flipped), 500 unlabeled ones, near copies of
    10 unlabeled digits (unlabeled) and of 3 test digits (labeled), 200 test digits."""
    x, y = read_digits(SAMPLE_MNIST, N_LABELED + N_POOL)
    x_test, y_test = read_digits(SAMPLE_MNIST / "test", 200)
    rng = np.random.default_rng(7)
    given = y.copy()
    flipped = rng.choice(N_LABELED, N_FLIPS, replace=False)
    given[flipped] = (y[flipped] + rng.integers(1, 10, N_FLIPS)) % 10
    given[N_LABELED:] = -1
    sources = N_LABELED + rng.choice(N_POOL, N_PLANTED, replace=False)
    leaked = rng.choice(len(x_test), N_LEAKS, replace=False)
    copies = [near_copy(x[i], rng) for i in sources] + [near_copy(x_test[i], rng) for i in leaked]
    images = np.concatenate([x, np.stack(copies)])
    truth = np.concatenate([y, y[sources], y_test[leaked]])
    # the copies of test digits are labeled (rightly): a leak into the training set
    given = np.concatenate([given, np.full(N_PLANTED, -1), y_test[leaked]])
    path = tmp_path_factory.mktemp("check-data") / "person.npz"
    np.savez(path, x=images, y=given, x_test=x_test, y_test=y_test)
    n = len(x)
    return {
        "npz": path, "flipped": {f"train:{i}" for i in flipped},
        "planted": [{f"train:{s}", f"train:{n + k}"} for k, s in enumerate(sources)],
        "leaks": [{f"test/test:{t}", f"train:{n + N_PLANTED + k}"} for k, t in enumerate(leaked)],
        "truth": {**{f"train:{i}": int(v) for i, v in enumerate(truth)},
                  **{f"test/test:{i}": int(v) for i, v in enumerate(y_test)}},
    }


# ---- running gltui and reading a run's outcome ------------------------------------------------


def one_error_line(capsys) -> str:
    """The single line a refused command printed on stderr (asserts there is exactly one)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def run_gltui(*args: str, env: dict | None = None, **kw):
    """`python -m gltui ARGS` in a subprocess on this checkout; `env` adds variables. With a
    GLTUI_FAULT among them (fault_env), the same through tests/faults_launch.py, which arms it."""
    import os
    import subprocess

    kw.setdefault("timeout", 600)
    return subprocess.run(
        [*gltui_command(env), *args], cwd=REPO_ROOT, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}, **kw,
    )


FAULTS_LAUNCH = REPO_ROOT / "tests" / "faults_launch.py"


def gltui_command(env: dict | None = None) -> list[str]:
    """How a test starts gltui: `python -m gltui`, or with a fault in `env` the launcher that
    installs it (the package itself has no fault hook)."""
    if env and (env.get("GLTUI_FAULT") or env.get("GLTUI_STARTED")):
        return [sys.executable, str(FAULTS_LAUNCH)]
    return [sys.executable, "-m", "gltui"]


def fault_env(point: str, **extra: str) -> dict:
    """Variables that make a gltui process started by `run_gltui` (tests/faults_launch.py) kill
    itself at `point` (tests/faults.py)."""
    return {"GLTUI_FAULT": point, **extra}


def final_state(path: Path, run: str = "main") -> dict:
    """What must be identical between a resumed (or differently launched) run and an
    uninterrupted one: active labels, rounds, queues, phase and round; the database must be
    whole and no item may have two active labels."""
    from gltui.project import Project

    with Project.open(path) as project:
        store = project.store
        labels = sorted((item, label, source, rnd)
                        for item, _, label, _, source, rnd, _ in store.labeled_detail(run))
        rounds = [(r.round, r.n_labeled, r.class_hist) for r in store.rounds(run)]
        row = store.run(run)
        queues = [(r, e.item, e.rank) for r in range(row.round + 2) for e in store.queue(run, r)]
        assert store.integrity_check() == "ok"
        assert store.duplicate_active_labels() == 0
        return {"labels": labels, "rounds": rounds, "queues": queues,
                "phase": row.phase, "round": row.round}


def finished_copy(tmp_path_factory, template: Path, name: str, run_args: list[str],
                  env: dict | None = None) -> Path:
    """A copy of `template` after an uninterrupted `gltui run ... run_args`."""
    import shutil

    path = tmp_path_factory.mktemp(name) / "proj"
    shutil.copytree(template, path)
    proc = run_gltui("run", str(path), *run_args, env=env)
    assert proc.returncode == 0, proc.stderr
    return path


# ---- small projects for engine, CLI and TUI tests ------------------------------------------------

SMALL_POOL = 800  # sample digits in the small npz dataset: scoring and training stay ~1 s a round


@pytest.fixture(scope="session")
def small_npz(tmp_path_factory) -> Path:
    """The first 800 sample training digits and 200 test digits as an npz dataset (the same
    images and labels `gltui.data.load("folder:sample_data/mnist")` gives first; only these
    1,000 files are read)."""
    x, y = read_digits(SAMPLE_MNIST, SMALL_POOL)
    x_test, y_test = read_digits(SAMPLE_MNIST / "test", 200)
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, x=x, y=y, x_test=x_test, y_test=y_test)
    return path


def init_args(project: Path, data: Path, *extra: str) -> list[str]:
    """`gltui init` arguments for a small, fast project (tiny profile, k = 2; guided from the
    first queue, so a two-round run scores with rde; labels only: the engine's machinery at its
    cheapest; tests/test_semi_rounds.py drives the same machinery with semi-supervised rounds)."""
    return ["init", str(project), "--data", f"npz:{data}", "--profile", "tiny", "--val-size", "100",
            "--initial", "20", "--k", "2", "--warm-start", "0", "--semi", "off", *extra]


@pytest.fixture(scope="session")
def small_project_template(tmp_path_factory, small_npz) -> Path:
    """A freshly initialised small project; copy it (fresh_project) rather than modify it."""
    from gltui.cli import main

    path = tmp_path_factory.mktemp("template") / "proj"
    assert main(init_args(path, small_npz)) == 0
    return path


# ---- one reference run, shared by the engine, reliability, chaos and distributed tests ----------

# The command every kill, Ctrl-C, chaos and distributed test compares against. On the CPU with one
# torch thread (what torchrun gives each rank; the scoring forward batch follows the thread
# count), so the same state comes out on any machine, a CUDA box included.
REFERENCE_ARGS = ["--oracle", "--quiet", "--max-rounds", "2", "--chunk-size", "64",
                  "--device", "cpu"]
REFERENCE_ENV = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="session")
def reference_project(tmp_path_factory, small_project_template) -> Path:
    """small_project_template after one uninterrupted `gltui run REFERENCE_ARGS`: the state
    every killed, interrupted or distributed run of that command must end in. Read it only."""
    return finished_copy(tmp_path_factory, small_project_template, "reference", REFERENCE_ARGS,
                         env=REFERENCE_ENV)


@pytest.fixture
def one_thread():
    """This process's torch on one thread while a test drives the reference command here (a
    resume without a torch import per process): as the reference was driven, OMP_NUM_THREADS=1."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def reference_state(reference_project) -> dict:
    """final_state of reference_project."""
    return final_state(reference_project)


@pytest.fixture
def fresh_project(tmp_path, small_project_template) -> Path:
    import shutil

    dest = tmp_path / "proj"
    shutil.copytree(small_project_template, dest)
    return dest


@pytest.fixture(scope="session")
def labeling_template(tmp_path_factory, small_project_template) -> Path:
    """A small project after round 0: trained, scored, 20 images queued for labeling."""
    import shutil

    from gltui.project import Project, run_lock
    from gltui.run import engine

    path = tmp_path_factory.mktemp("tui") / "proj"
    shutil.copytree(small_project_template, path)
    with Project.open(path) as project:
        with run_lock(project, "main"):  # on the CPU: the same queue on a CUDA machine
            options = engine.RunOptions(device="cpu")
            assert engine.Runner(project, "main", options).drive() == "label"
    return path


@pytest.fixture
def label_project(tmp_path, labeling_template) -> Path:
    """A copy of labeling_template to label in."""
    import shutil

    dest = tmp_path / "proj"
    shutil.copytree(labeling_template, dest)
    return dest


async def wait_for(pilot, condition, timeout: float = 90.0, what: str = "condition") -> None:
    """Let a Textual app run (Pilot) until `condition()` holds; fail naming `what` after
    `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.05)


# The longest tests start first: under `-n auto` (xdist's load scheduling hands out tests in
# collection order) they then run beside the short ones instead of alone at the end.
START_FIRST = ("test_dismissed_findings_stay_dismissed_when_the_page_opens_again",
               "test_six_processes_at_random_with_kills_lose_nothing",
               "test_person_and_engine_with_crashes_keep_the_invariants",
               "test_two_rank_oracle_run_against_one_process",
               "test_experiment_resumes_and_runs_every_strategy_and_seed")


# Under `-n auto --dist loadgroup` (pyproject) every test of these modules runs on one worker, so
# their costly module fixtures (test_learn's fit, test_report's experiment: 25-45 s each) are
# built once, not once per worker.
ONE_WORKER = ("calibration", "check", "classes", "cli", "distributed", "estimates", "learn",
              "report", "results", "semi_rounds", "takeaway", "tui_check")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.path.stem.removeprefix("test_")
        if module in ONE_WORKER:
            item.add_marker(pytest.mark.xdist_group(module))
    items.sort(key=lambda item: item.originalname not in START_FIRST)  # stable: else as collected
