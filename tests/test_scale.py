"""Big pools on one machine, at test size (tens of thousands of items, seconds): the memory-mapped
npy: reader, an init that holds no copy of the pixels, the streamed bulk insert, the indices the
hot queries search, and the label commit path. benchmarks/bench_scale.py runs the same at 1M."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from gltui import data
from gltui.config import Config
from gltui.data import DataError, IndexNames, load
from gltui.project import Labeler, Project
from gltui.store import QUERIES, SPLITS, Store

REPO_ROOT = Path(__file__).resolve().parents[1]


def pattern_pool(n: int, shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n cheap deterministic uint8 images of `shape` (not all alike) and labels 0..9."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(10, *shape), dtype=np.uint8)
    labels = np.arange(n, dtype=np.int64) % 10
    images = base[labels] ^ (np.arange(n, dtype=np.uint64) % 251).astype(np.uint8).reshape(
        -1, *([1] * len(shape)))
    return images, labels


def write_npy(path: Path, images: np.ndarray, labels: np.ndarray | None = None,
              classes: list[str] | None = None) -> Path:
    np.save(path, images)
    labels_path, classes_path = data.npy_companions(path)
    if labels is not None:
        np.save(labels_path, labels)
    if classes is not None:
        classes_path.write_text("\n".join(classes) + "\n")
    return path


def one_line_error(spec: str, *needles: str) -> str:
    with pytest.raises(DataError) as info:
        load(spec)
    msg = str(info.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    return msg


# ---- the npy: reader -----------------------------------------------------------------------------


def test_npy_grey_is_a_memory_mapped_view(tmp_path):
    x, y = pattern_pool(3000, (28, 28))
    f = write_npy(tmp_path / "pool.npy", x, y)
    ds = load(f"npy:{f}")
    assert isinstance(ds.train.images, np.memmap)  # a view of the file, not a copy in memory
    assert Path(ds.train.images.filename) == f.resolve()
    assert ds.train.images.shape == (3000, 1, 28, 28) and ds.train.images.dtype == np.uint8
    assert np.array_equal(ds.train.images[:, 0], x)
    assert ds.train.labels.tolist() == y.tolist() and ds.classes == [str(i) for i in range(10)]
    assert isinstance(ds.train.names, IndexNames) and ds.train.names[:2] == ["train:0", "train:1"]
    assert ds.test is None


def test_npy_colour_layouts_and_companions(tmp_path):
    x, y = pattern_pool(500, (3, 32, 32))
    nchw = load(f"npy:{write_npy(tmp_path / 'a.npy', x)}").train.images
    nhwc_file = write_npy(tmp_path / "b.npy", np.ascontiguousarray(x.transpose(0, 2, 3, 1)), y,
                          classes=[f"c{i}" for i in range(10)])
    ds = load(f"npy:{nhwc_file}")
    assert isinstance(ds.train.images, np.memmap)  # N,H,W,C is transposed as a view, not copied
    assert not ds.train.images.flags.c_contiguous
    assert np.array_equal(nchw, x) and np.array_equal(ds.train.images, x)
    assert ds.classes == [f"c{i}" for i in range(10)] and ds.train.labels.tolist() == y.tolist()
    rgba = np.concatenate([x, np.full((500, 1, 32, 32), 255, np.uint8)], axis=1)
    assert np.array_equal(load(f"npy:{write_npy(tmp_path / 'c.npy', rgba)}").train.images, x)
    # conversion on request (an in-memory copy, then)
    grey = load(f"npy:{tmp_path / 'a.npy'}", channels=1).train.images
    assert grey.shape == (500, 1, 32, 32)
    assert load(f"npy:{tmp_path / 'a.npy'}", resize=(16, 16)).train.images.shape == (500, 3, 16, 16)


def test_npy_bad_inputs(tmp_path):
    x, y = pattern_pool(20, (28, 28))
    one_line_error(f"npy:{tmp_path / 'none.npy'}", "none.npy", "no such file")
    one_line_error(f"npy:{tmp_path}", "is a folder")
    np.save(tmp_path / "f.npy", x.astype(np.float32))
    one_line_error(f"npy:{tmp_path / 'f.npy'}", "f.npy", "uint8", "float32")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    one_line_error(f"npy:{tmp_path / 'o.npy'}", "o.npy", "cannot memory-map")
    (tmp_path / "t.npy").write_bytes(b"\x93NUMPY garbage")
    one_line_error(f"npy:{tmp_path / 't.npy'}", "t.npy", "cannot memory-map")
    np.savez(tmp_path / "z.npy", x=x)  # numpy names it z.npy.npz: rename to lie about it
    os.replace(tmp_path / "z.npy.npz", tmp_path / "z.npy")
    one_line_error(f"npy:{tmp_path / 'z.npy'}", "z.npy", "npz:")
    np.save(tmp_path / "e.npy", np.zeros((0, 28, 28), np.uint8))
    one_line_error(f"npy:{tmp_path / 'e.npy'}", "e.npy", "empty")
    np.save(tmp_path / "s.npy", np.zeros((4, 5, 6, 7), np.uint8))
    one_line_error(f"npy:{tmp_path / 's.npy'}", "s.npy", "channel")
    np.save(tmp_path / "v.npy", np.zeros(10, np.uint8))
    one_line_error(f"npy:{tmp_path / 'v.npy'}", "v.npy", "shape")
    write_npy(tmp_path / "l.npy", x, y[:7])
    one_line_error(f"npy:{tmp_path / 'l.npy'}", "l.labels.npy", "7 labels", "20 images")
    write_npy(tmp_path / "r.npy", x, y + 5, classes=["a", "b"])
    one_line_error(f"npy:{tmp_path / 'r.npy'}", "r.labels.npy", "out of range")
    write_npy(tmp_path / "d.npy", x, classes=["a", "a"])
    one_line_error(f"npy:{tmp_path / 'd.npy'}", "d.classes.txt", "twice")


def test_cli_bad_npy_is_exit_2_one_line(tmp_path, capsys):
    from gltui.cli import main

    np.save(tmp_path / "f.npy", np.zeros((50, 28, 28), np.float64))
    assert main(["init", str(tmp_path / "p"), "--data", f"npy:{tmp_path / 'f.npy'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "uint8" in err and "f.npy" in err
    assert not (tmp_path / "p").exists()  # nothing changed


def test_index_names():
    names = IndexNames("train:", 5)
    assert len(names) == 5 and list(names) == [f"train:{i}" for i in range(5)]
    assert names[-1] == "train:4" and names[1:3] == ["train:1", "train:2"] and "train:3" in names
    assert names == [f"train:{i}" for i in range(5)] and names != ["train:0"]
    with pytest.raises(IndexError):
        names[5]


# ---- init: no copy of the pixels in memory -------------------------------------------------------


def test_init_from_npy_holds_no_copy(tmp_path):
    """Traced allocations (numpy's buffers and every Python object) of a whole init stay far below
    one copy of the pixels: the pixels stream from the mapped file to pixels.npy block by block,
    and the names stream into the database."""
    x, y = pattern_pool(30_000, (3, 32, 32))  # 92 MB of pixels, stored N,H,W,C: a transpose
    f = write_npy(tmp_path / "pool.npy", np.ascontiguousarray(x.transpose(0, 2, 3, 1)), y)
    del x
    tracemalloc.start()
    try:
        ds = load(f"npy:{f}")
        project = Project.init(tmp_path / "proj", ds, Config(), val_size=500, initial=20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    pixel_bytes = 30_000 * 3 * 32 * 32
    assert peak < pixel_bytes / 4, f"init traced a peak of {peak / 1e6:.1f} MB"
    src = np.load(f, mmap_mode="r")
    assert isinstance(project.pixels, np.memmap) and project.pixels.shape == (30_000, 3, 32, 32)
    for i in (0, 1, 12_345, 29_999):
        assert np.array_equal(project.pixels[i], src[i].transpose(2, 0, 1))
    assert project.store.count_items() == {"pool": 29_500, "val": 500}
    project.close()


# The child reports its own peak from /proc/self/status: ru_maxrss of a child (wait4) starts at the
# RSS of the parent it was forked from (Linux carries the pre-exec peak over), here pytest's.
_REPORT_PEAK = (
    "import atexit, sys\n"
    "def peak():\n"
    "    line = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    "    print('PEAK', line.split()[1], file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "from gltui.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _init_peak_rss_kib(tmp_path: Path, n: int) -> int:
    """Peak RSS (VmHWM) of a `gltui init` subprocess on an n-image 32x32 colour npy pool."""
    x, y = pattern_pool(n, (3, 32, 32))
    f = write_npy(tmp_path / f"pool{n}.npy", x, y)
    del x
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _REPORT_PEAK, "init", str(tmp_path / f"proj{n}"), "--data",
         f"npy:{f}", "--val-size", "100"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stderr.split("PEAK")[-1])


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux's /proc")
@pytest.mark.slow
def test_init_peak_rss_does_not_grow_with_the_pixels(tmp_path):
    """A 30,000-image init peaks at about the RSS of a 1,000-image one: neither the source nor
    pixels.npy stays resident (a mapped output or a copied input would add 92 MB)."""
    small = _init_peak_rss_kib(tmp_path, 1000)
    big = _init_peak_rss_kib(tmp_path, 30_000)
    pixel_kib = 30_000 * 3 * 32 * 32 // 1024
    assert big - small < pixel_kib / 3, f"{small} KiB -> {big} KiB for {pixel_kib} KiB of pixels"


# ---- the store at (test) scale -------------------------------------------------------------------


N_ITEMS = 50_000


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    """A store with 50,000 items: 45,000 pool, 4,000 val, 1,000 test; every 7th label unknown."""
    path = tmp_path_factory.mktemp("scale") / "gltui.db"
    store = Store(path, create=True)
    splits = np.zeros(N_ITEMS, np.uint8)
    splits[45_000:49_000] = SPLITS.index("val")
    splits[49_000:] = SPLITS.index("test")
    truth = np.arange(N_ITEMS, dtype=np.int64) % 10
    truth[::7] = -1
    started = time.perf_counter()
    store.insert_dataset([str(c) for c in range(10)], (f"img{i}.png" for i in range(N_ITEMS)),
                         splits, truth)
    store.insert_seconds = time.perf_counter() - started
    yield store, splits, truth
    store.close()


def test_bulk_insert_is_exact(big_store):
    store, splits, truth = big_store
    assert store.count_items() == {"pool": 45_000, "val": 4_000, "test": 1_000}
    ids, labels = store.split_items("pool")
    assert ids.tolist() == list(range(45_000)) and labels.tolist() == truth[:45_000].tolist()
    val_ids, val_y = store.split_labels("val")
    keep = truth[45_000:49_000] >= 0
    assert val_ids.tolist() == (np.arange(45_000, 49_000)[keep]).tolist()
    assert val_y.tolist() == truth[45_000:49_000][keep].tolist()
    assert store.item_names([0, 6, 49_999]) == {0: "img0.png", 6: "img6.png",
                                                49_999: "img49999.png"}
    assert store.true_labels(np.array([0, 1, 49_999])).tolist() == [-1, 1, 9]  # NULL for unknown
    assert store.insert_seconds < 5.0  # ~0.2 s here; a row-by-row load with index upkeep is slower


def test_item_counts_survive_without_meta(big_store, tmp_path):
    store, _, _ = big_store
    older = Store(tmp_path / "old.db", create=True)  # a project made before meta held the counts
    older.insert_dataset(["a"], ["x", "y", "z"], np.array([0, 0, 1], np.uint8), np.array([0, 0, 0]))
    older.set_meta({"seed": 0})
    older.conn.execute("DELETE FROM meta WHERE key = 'item_counts'")
    assert older.count_items() == {"pool": 2, "val": 1}
    assert "item_counts" not in older.meta()
    older.close()


def test_bulk_insert_refuses_too_few_names_and_changes_nothing(tmp_path):
    store = Store(tmp_path / "gltui.db", create=True)
    with pytest.raises(ValueError, match="fewer names"):
        store.insert_dataset(["a"], iter(["only", "two"]), np.zeros(3, np.uint8), np.zeros(3))
    assert store.count_items() == {} and store.classes() == []
    store.close()


@pytest.mark.parametrize("items", [
    np.arange(100, 20_000, 3),  # dense and many: the range scan
    np.array([49_998, 3, 3, 17, 45_001]),  # few, scattered, repeated, unsorted: IN lists
    np.random.default_rng(0).choice(N_ITEMS, 5_000, replace=False),  # many but spread out
])
def test_true_labels_paths_agree(big_store, items):
    store, _, truth = big_store
    assert store.true_labels(items).tolist() == truth[items].tolist()


def test_hot_queries_search_indices(big_store):
    """Every statement of the hot paths searches an index or the primary key; none scans a table
    (at a million items a scan is what makes status or a key press slow)."""
    store, _, _ = big_store
    for name in QUERIES:
        plan = store.query_plan(name)
        assert plan, name
        for step in plan:
            assert not step.startswith("SCAN"), f"{name}: {step}"
    assert "idx_items_split" in " ".join(store.query_plan("split_items"))
    assert "labels_active" in " ".join(store.query_plan("label_replace"))


def test_label_commit_fast_path(big_store):
    """A person's label on a 50,000-item project: one committed transaction that a second
    connection sees at once, the queue entry marked, the label replaced on relabel, undo that
    finds the newest action without reading the whole log (thousands of oracle events before)."""
    store, _, _ = big_store
    pool = store.item_ids("pool")
    store.create_run("p", "rde", 0, "{}", pool[:20], np.zeros(20, np.int64))
    store.write_queue("p", 0, pool[20:5020], np.ones(5000), None, "label")
    store.add_labels("p", 0, pool[20:4020], np.ones(4000, np.int64), "oracle")  # 4,000 events
    other = Store(store.path)
    times = []
    for item in pool[4020:4070].tolist():
        t = time.perf_counter()
        store.add_label("p", 0, item, 2, "human")
        times.append(time.perf_counter() - t)
        assert other.conn.execute(
            "SELECT label FROM labels WHERE run = 'p' AND item = ? AND undone_at IS NULL", (item,)
        ).fetchone() == (2,)  # committed: visible to another connection at once
    assert float(np.median(times)) < 0.05  # ~0.3 ms here; generous for a loaded machine
    item = int(pool[4069])
    store.add_label("p", 0, item, 3, "human")  # relabel: the old row is marked, not duplicated
    assert store.duplicate_active_labels() == 0
    entry = next(e for e in store.queue("p", 0) if e.item == item)
    assert entry.status == "labeled" and entry.label == 3
    assert store.undo_last("p", 0) == item  # the newest action, found without reading the log
    assert store.count_labeled("p") == 20 + 4000 + 49
    assert store.count_pending("p", 0) == 5000 - 4000 - 49
    assert store.count_unlabeled_pool("p") == 45_000 - 20 - 4000 - 49
    other.close()


def test_labeler_on_an_npy_project(tmp_path):
    """The Labeler (what the TUI calls per key press) on a project initialised from npy:."""
    x, y = pattern_pool(20_000, (28, 28))
    ds = load(f"npy:{write_npy(tmp_path / 'pool.npy', x, y)}")
    project = Project.init(tmp_path / "proj", ds, Config(), val_size=1000, initial=20)
    pool = project.store.unlabeled_pool("main")
    assert len(pool) == 19_000 - 20
    project.store.write_queue("main", 1, pool[:10], np.arange(10.0), [[[1, 0.9]]] * 10, "label")
    labeler = Labeler(project, "main")
    for item in pool[:10].tolist():
        labeler.label(item, int(y[item]))
    assert labeler.pending() == 0
    items, labels = project.store.labeled("main")
    assert len(items) == 30 and labels.tolist() == y[items].tolist()
    project.close()
