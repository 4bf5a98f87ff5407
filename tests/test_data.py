"""gltui.data: every reader on real (or format-true) data, and every bad input -> one-line
DataError."""

from __future__ import annotations

import gzip
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gltui import data
from gltui.data import DataError, Dataset, load, parse_spec, save_image, to_pil

MNIST_CLASSES = [str(i) for i in range(10)]


def error_of(spec: str, *needles: str, **kwargs) -> str:
    """load(spec) must raise DataError with a one-line message holding every needle."""
    with pytest.raises(DataError) as excinfo:
        load(spec, **kwargs)
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    return msg


def write_idx(path: Path, arr: np.ndarray) -> Path:
    """An IDX file in the real format: magic 0x0000080<ndim>, big-endian dims, raw bytes."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    raw = (0x800 + arr.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    raw += arr.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=1) as f:
            f.write(raw)
    else:
        path.write_bytes(raw)
    return path


def write_pngs(folder: Path, images: np.ndarray, names: list[str] | None = None) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = names or [f"{i:03d}.png" for i in range(len(images))]
    for name, img in zip(names, images):
        Image.fromarray(img).save(folder / name)
    return names


def check_dataset(ds: Dataset) -> None:
    """Invariants every reader promises."""
    for split in (ds.train, ds.test):
        if split is None:
            continue
        assert split.images.dtype == np.uint8 and split.images.ndim == 4
        assert split.images.flags.c_contiguous
        assert len(split.names) == len(split.images) == len(set(split.names))
        if split.labels is not None:
            assert split.labels.dtype == np.int64 and split.labels.shape == (len(split.images),)
            assert split.labels.min() >= -1 and split.labels.max() < ds.num_classes
    if ds.test is not None:
        assert ds.test.images.shape[1:] == ds.train.images.shape[1:]


# ------------------------------------------------------------------------------------------
# spec, helpers, import hygiene


def test_parse_spec():
    assert parse_spec("idx:../a/b") == ("idx", Path("../a/b"))
    assert parse_spec("FOLDER:/x:y") == ("folder", Path("/x:y"))  # only the first colon splits
    assert set(data.SPEC_KINDS) == {"idx", "cifar", "folder", "npz", "npy"}
    for bad, needle in [("mnist", "no kind"), ("zip:foo", "unknown kind"), ("idx:", "no path")]:
        with pytest.raises(DataError, match=needle):
            parse_spec(bad)


def test_missing_path(tmp_path):
    for kind in data.SPEC_KINDS:
        error_of(f"{kind}:{tmp_path}/nope", "nope", "no such")


def test_import_is_headless_and_light():
    code = ("import sys, gltui.data; "
            "print(sorted(m for m in ('textual', 'torch', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_to_pil_and_save_image(tmp_path, digits):
    grey = digits[0][0][None]
    assert to_pil(grey).mode == "L"
    rgb = np.stack([digits[0][0], digits[0][1], digits[0][2]])
    assert to_pil(rgb).mode == "RGB"
    save_image(grey, tmp_path / "out" / "g.png")
    save_image(rgb, tmp_path / "out" / "c.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "g.png")), grey[0])
    saved = np.asarray(Image.open(tmp_path / "out" / "c.png"))
    assert np.array_equal(saved.transpose(2, 0, 1), rgb)


# ------------------------------------------------------------------------------------------
# folder: the bundled sample data


def test_sample_data_folder(sample_mnist_dir, digits):
    ds = load(f"folder:{sample_mnist_dir}")
    check_dataset(ds)
    assert ds.train.images.shape == (3000, 1, 28, 28)
    assert ds.test is not None and ds.test.images.shape == (1000, 1, 28, 28)
    assert ds.train.labels[:5].tolist() == [5, 0, 4, 1, 9]  # the MNIST train order
    assert ds.test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert ds.classes == MNIST_CLASSES and ds.num_classes == 10
    assert (ds.channels, ds.height, ds.width) == (1, 28, 28)
    assert ds.train.names[:2] == ["00000.png", "00001.png"] and ds.test.names[0] == "test/00000.png"
    assert np.array_equal(ds.train.images[:600, 0], digits[0])
    assert np.bincount(ds.train.labels, minlength=10).min() > 200  # every digit present


def test_sample_data_matches_idx(sample_mnist_dir, shared_mnist_dir):
    with gzip.open(shared_mnist_dir / "train-images-idx3-ubyte.gz") as f:
        first = np.frombuffer(f.read(16 + 2 * 784), np.uint8, offset=16).reshape(2, 28, 28)
    ds = load(f"folder:{sample_mnist_dir}")
    assert np.array_equal(ds.train.images[:2, 0], first)


# ------------------------------------------------------------------------------------------
# idx


def test_idx_real_mnist(shared_mnist_dir):
    t0 = time.perf_counter()
    ds = load(f"idx:{shared_mnist_dir}")
    seconds = time.perf_counter() - t0
    print(f"idx MNIST 60k+10k loaded in {seconds:.2f}s")
    check_dataset(ds)
    assert ds.train.images.shape == (60000, 1, 28, 28)
    assert ds.test.images.shape == (10000, 1, 28, 28)
    assert ds.train.labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert ds.test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert ds.classes == MNIST_CLASSES
    assert ds.train.names[:2] == ["train:0", "train:1"] and ds.test.names[-1] == "test:9999"
    assert ds.train.images.flags.writeable
    assert seconds < 20  # loose: the < 2 s target is a benchmark figure, not a unit-test assert


@pytest.fixture
def idx_small(digits):
    x, y = digits
    return x[:500], y[:500], x[500:], y[500:]


def test_idx_raw_files_with_dotted_names(tmp_path, idx_small):
    x, y, tx, ty = idx_small
    write_idx(tmp_path / "train-images.idx3-ubyte", x)
    write_idx(tmp_path / "train-labels.idx1-ubyte", y)
    write_idx(tmp_path / "t10k-images.idx3-ubyte", tx)
    write_idx(tmp_path / "t10k-labels.idx1-ubyte", ty)
    ds = load(f"idx:{tmp_path}")
    check_dataset(ds)
    assert np.array_equal(ds.train.images[:, 0], x) and np.array_equal(ds.train.labels, y)
    assert np.array_equal(ds.test.images[:, 0], tx) and np.array_equal(ds.test.labels, ty)


def test_idx_torchvision_layout(tmp_path, idx_small):
    x, y, tx, ty = idx_small
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw / "train-images-idx3-ubyte.gz", x)
    write_idx(raw / "train-labels-idx1-ubyte.gz", y)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", tx)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", ty)
    write_idx(raw / "t10k-labels-idx1-ubyte", ty)  # torchvision keeps both: the raw one is used
    for root in (tmp_path, tmp_path / "MNIST", raw):
        ds = load(f"idx:{root}")
        assert np.array_equal(ds.train.images[:, 0], x) and np.array_equal(ds.test.labels, ty)
    # a second dataset beside it makes the root ambiguous
    write_idx(tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte", x[:10])
    error_of(f"idx:{tmp_path}", "several IDX datasets", "FashionMNIST")
    assert load(f"idx:{tmp_path / 'FashionMNIST'}").train.labels is None  # unlabeled is fine


def test_idx_resize_and_channels(tmp_path, idx_small):
    x, y, _, _ = idx_small
    write_idx(tmp_path / "train-images-idx3-ubyte", x[:20])
    ds = load(f"idx:{tmp_path}", resize=(14, 14), channels=3)
    assert ds.train.images.shape == (20, 3, 14, 14) and ds.test is None and ds.train.labels is None
    want = np.asarray(Image.fromarray(x[3]).resize((14, 14), Image.Resampling.BILINEAR))
    assert np.array_equal(ds.train.images[3, 1], want)
    assert ds.classes == MNIST_CLASSES  # at least 10 for the MNIST family


def test_idx_bad_inputs(tmp_path, idx_small):
    x, y, _, _ = idx_small
    error_of(f"idx:{tmp_path}", "no train-images-idx3-ubyte")
    img, lab = tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte"
    write_idx(img, y)  # a labels file under the images name: wrong magic
    error_of(f"idx:{tmp_path}", "train-images-idx3-ubyte", "magic", "0x00000801")
    write_idx(img, x[:50])
    img.write_bytes(img.read_bytes()[:-100])
    error_of(f"idx:{tmp_path}", "train-images-idx3-ubyte", "truncated")
    img.write_bytes(b"\x00\x00")
    error_of(f"idx:{tmp_path}", "train-images-idx3-ubyte", "too short")
    write_idx(img, x[:50])
    write_idx(lab, y[:49])
    error_of(f"idx:{tmp_path}", "train-labels-idx1-ubyte", "49 labels", "50 images")
    lab.unlink()
    gz = write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", x[:50])
    gz.write_bytes(gz.read_bytes()[: gz.stat().st_size // 2])
    error_of(f"idx:{tmp_path}", "t10k-images-idx3-ubyte.gz", "truncated")
    gz.write_bytes(b"not gzip at all")
    error_of(f"idx:{tmp_path}", "t10k-images-idx3-ubyte.gz")
    gz.unlink()
    write_idx(img, x[:0])
    error_of(f"idx:{tmp_path}", "train-images-idx3-ubyte", "empty")


# ------------------------------------------------------------------------------------------
# cifar


def write_cifar(root: Path, sizes=(20, 20), test=10, protocol=pickle.HIGHEST_PROTOCOL):
    """A format-true cifar-10-batches-py: pickled dicts with bytes keys, data (n, 3072) uint8."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    files = [*((f"data_batch_{i + 1}", n) for i, n in enumerate(sizes)), ("test_batch", test)]
    for name, n in files:
        d = {
            b"batch_label": name.encode(),
            b"labels": rng.integers(0, 10, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(d, protocol=protocol))
        batches[name] = d
    words = "airplane automobile bird cat deer dog frog horse ship truck"
    names = [n.encode() for n in words.split()]
    meta = {b"num_cases_per_batch": 10000, b"label_names": names, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return folder, batches


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar(tmp_path, protocol):
    folder, batches = write_cifar(tmp_path, protocol=protocol)
    for root in (tmp_path, folder):  # the folder itself or its parent
        ds = load(f"cifar:{root}")
        check_dataset(ds)
        assert ds.train.images.shape == (40, 3, 32, 32) and ds.test.images.shape == (10, 3, 32, 32)
        assert ds.classes[:3] == ["airplane", "automobile", "bird"] and ds.num_classes == 10
        b2 = batches["data_batch_2"]
        assert ds.train.labels[20:].tolist() == b2[b"labels"]
        # row layout: 1024 red, then green, then blue, each row-major 32x32
        assert np.array_equal(ds.train.images[21, 1], b2[b"data"][1, 1024:2048].reshape(32, 32))
        assert ds.train.names[20] == "data_batch_2:0" and ds.test.names[0] == "test_batch:0"


def test_cifar100(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, n in (("train", 12), ("test", 4)):
        d = {b"fine_labels": rng.integers(0, 100, n).tolist(), b"coarse_labels": [0] * n,
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        (folder / name).write_bytes(pickle.dumps(d))
    fine = [f"c{i}".encode() for i in range(100)]
    (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": fine}))
    ds = load(f"cifar:{tmp_path}")
    assert len(ds.train) == 12 and len(ds.test) == 4
    assert ds.num_classes == 100 and ds.classes[7] == "c7"


class _Evil:
    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


def test_cifar_bad_inputs(tmp_path):
    folder, _ = write_cifar(tmp_path)
    batch = folder / "data_batch_2"
    good = batch.read_bytes()
    pwned = tmp_path / "pwned"
    batch.write_bytes(pickle.dumps({b"data": _Evil(pwned), b"labels": [1]}))
    msg = error_of(f"cifar:{tmp_path}", "data_batch_2", "refusing to unpickle")
    assert "system" in msg
    assert not pwned.exists()
    batch.write_bytes(pickle.dumps([1, 2, 3]))
    error_of(f"cifar:{tmp_path}", "data_batch_2", "dict", "list")
    batch.write_bytes(good[: len(good) // 2])
    error_of(f"cifar:{tmp_path}", "data_batch_2", "not a readable CIFAR pickle")
    batch.write_bytes(pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [1, 2]}))
    error_of(f"cifar:{tmp_path}", "data_batch_2", "2 labels for 3 images")
    batch.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]}))
    error_of(f"cifar:{tmp_path}", "data_batch_2", "label 10 is out of range")
    batch.write_bytes(pickle.dumps({b"labels": [1]}))
    error_of(f"cifar:{tmp_path}", "data_batch_2", "no 'data'")
    error_of(f"cifar:{tmp_path / 'cifar-10-batches-py' / 'batches.meta'}", "not a folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    error_of(f"cifar:{empty}", "empty", "data_batch_1")


# ------------------------------------------------------------------------------------------
# folder layouts


def test_folder_class_subfolders(tmp_path, digits):
    x, y = digits
    root = tmp_path / "ds"
    for i in range(30):  # class sub-folders: labels from the folder names
        write_pngs(root / str(y[i]), x[i : i + 1], [f"{i:03d}.png"])
    for i in range(30, 40):
        write_pngs(root / "test" / str(y[i]), x[i : i + 1], [f"{i:03d}.png"])
    (root / "README.txt").write_text("ignored")
    (root / "NOTICE").write_text("ignored")
    ds = load(f"folder:{root}")
    check_dataset(ds)
    present = sorted({str(v) for v in y[:30]}, key=int)
    assert ds.classes == present
    assert len(ds.train) == 30 and len(ds.test) == 10
    # names are sorted relative paths; labels follow the folder each file lies in
    assert ds.train.names == sorted(ds.train.names) and ds.test.names[0].startswith("test/")
    for name, label, img in zip(ds.train.names, ds.train.labels, ds.train.images):
        folder, file = name.split("/")
        assert ds.classes[label] == folder
        assert np.array_equal(img[0], x[int(file[:3])])


def test_folder_train_test_subfolders(tmp_path, digits):
    x, y = digits
    for i in range(12):
        write_pngs(tmp_path / "train" / f"d{y[i]}", x[i : i + 1], [f"{i}.png"])
    write_pngs(tmp_path / "test" / f"d{y[0]}", x[:1])
    ds = load(f"folder:{tmp_path}")
    assert "train" not in ds.classes and all(c.startswith("d") for c in ds.classes)
    assert len(ds.train) == 12 and ds.train.names[0].startswith("train/d")
    assert ds.classes[ds.test.labels[0]] == f"d{y[0]}"


def test_folder_flat_with_labels_csv(tmp_path, digits):
    x, y = digits
    names = write_pngs(tmp_path, x[:20])
    # every 4th unlabeled
    rows = ["file,label"] + [f"{n},{y[i]}" for i, n in enumerate(names) if i % 4]
    rows.append(f"{names[1]},{y[1]}")  # a duplicate row that agrees is fine
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    ds = load(f"folder:{tmp_path}")
    check_dataset(ds)
    assert ds.classes == sorted({str(v) for i, v in enumerate(y[:20]) if i % 4}, key=int)
    want = [-1 if i % 4 == 0 else ds.classes.index(str(y[i])) for i in range(20)]
    assert ds.train.labels.tolist() == want and ds.test is None
    # no labels.csv at all: an unlabeled pool
    (tmp_path / "labels.csv").unlink()
    ds = load(f"folder:{tmp_path}")
    assert ds.train.labels is None and ds.classes == []


def test_folder_numeric_aware_class_order(tmp_path, digits):
    x, _ = digits
    names = write_pngs(tmp_path, x[:4])
    rows = [f"{n},{lab}" for n, lab in zip(names, ["10", "9", "2", "cat"])]
    (tmp_path / "labels.csv").write_text("file,label\n" + "\n".join(rows) + "\n")
    assert load(f"folder:{tmp_path}").classes == ["2", "9", "10", "cat"]


def test_folder_modes(tmp_path, digits):
    x, _ = digits
    rgb = np.stack([x[0], x[1], x[2]], axis=-1)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    # alpha dropped, extension any case
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "b.PNG")
    Image.fromarray(rgb).convert("P").save(tmp_path / "c.bmp")
    Image.fromarray(rgb).save(tmp_path / "d.webp", lossless=True)
    ds = load(f"folder:{tmp_path}")
    assert ds.train.images.shape == (4, 3, 28, 28)
    assert ds.train.names == ["a.png", "b.PNG", "c.bmp", "d.webp"]
    for i in (0, 1, 3):
        assert np.array_equal(ds.train.images[i].transpose(1, 2, 0), rgb)
    grey = load(f"folder:{tmp_path}", channels=1)
    assert grey.train.images.shape == (4, 1, 28, 28)
    assert np.array_equal(grey.train.images[0, 0], np.asarray(Image.fromarray(rgb).convert("L")))


def test_folder_16bit_grey(tmp_path, digits):
    x, _ = digits
    Image.fromarray(x[0].astype(np.uint16) * 257).save(tmp_path / "a.png")  # 16-bit PNG
    ds = load(f"folder:{tmp_path}")
    assert ds.train.images.shape == (1, 1, 28, 28) and np.array_equal(ds.train.images[0, 0], x[0])


def test_folder_float_grey_in_0_to_1_keeps_its_picture(tmp_path, digits):
    """A float TIFF (mode F, values 0..1) saved as .png imported black: clipped to 0..255
    before the cast."""
    x, _ = digits
    for i in range(2):
        Image.fromarray(x[i].astype(np.float32) / 255.0).save(tmp_path / f"{i}.png", "TIFF")
    ds = load(f"folder:{tmp_path}")
    assert ds.train.names == ["0.png", "1.png"] and ds.train.images.shape == (2, 1, 28, 28)
    assert np.abs(ds.train.images[:, 0].astype(int) - x[:2].astype(int)).max() <= 1


def test_folder_mixed_sizes_need_conversion(tmp_path, digits):
    x, _ = digits
    write_pngs(tmp_path, x[:3])
    Image.fromarray(x[3]).resize((20, 24)).save(tmp_path / "bad.png")
    error_of(f"folder:{tmp_path}", "bad.png", "24x20", "28x28", "--resize")
    (tmp_path / "bad.png").unlink()
    Image.fromarray(np.stack([x[3]] * 3, -1)).save(tmp_path / "bad.png")
    error_of(f"folder:{tmp_path}", "bad.png", "RGB", "grey", "--channels")
    Image.fromarray(x[3]).resize((20, 24)).save(tmp_path / "bad.png")
    ds = load(f"folder:{tmp_path}", resize=(16, 16), channels=3)
    assert ds.train.images.shape == (4, 3, 16, 16)
    want = np.asarray(Image.fromarray(x[0]).convert("RGB").resize((16, 16),
                                                                  Image.Resampling.BILINEAR))
    assert np.array_equal(ds.train.images[0].transpose(1, 2, 0), want)


def test_folder_many_files_decode_in_memory(tmp_path, digits):
    # was test_folder_memmap_cache: the memmap decode cache (load(cache_dir=...)) was called by no
    # production code and went with the gltui/data/ split; its non-cache assertions stay here
    x, y = digits
    root = tmp_path / "ds"
    write_pngs(root, x[:300])
    write_pngs(root / "test", x[300:310])
    ds = load(f"folder:{root}")
    assert not isinstance(ds.train.images, np.memmap) and not isinstance(ds.test.images, np.memmap)
    assert np.array_equal(ds.train.images[:, 0], x[:300])
    assert np.array_equal(ds.test.images[:, 0], x[300:310])
    small = load(f"folder:{root}", resize=(14, 14))
    assert small.train.images.shape == (300, 1, 14, 14)


def test_folder_bad_images(tmp_path, digits):
    x, _ = digits
    write_pngs(tmp_path, x[:3])
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    error_of(f"folder:{tmp_path}", "bad.png", "empty file")
    bad.write_bytes(b"this is not a png")
    error_of(f"folder:{tmp_path}", "bad.png", "not a readable image")
    Image.fromarray(x[5]).save(bad)
    bad.write_bytes(bad.read_bytes()[:60])
    error_of(f"folder:{tmp_path}", "bad.png", "not a readable image", "truncated")
    bad.unlink()
    (tmp_path / "notes.jpg").write_text("text with an image extension")
    error_of(f"folder:{tmp_path}", "notes.jpg")


def test_folder_bad_labels_csv(tmp_path, digits):
    x, y = digits
    names = write_pngs(tmp_path, x[:4])
    csv = tmp_path / "labels.csv"

    def check(text: str, *needles: str) -> None:
        csv.write_text(text)
        error_of(f"folder:{tmp_path}", "labels.csv", *needles)

    check("file,label\nmissing.png,3\n", "line 2", "missing.png")
    check(f"file,label\n{names[0]},3\n{names[0]},4\n", "line 3", "line 2", names[0])
    check(f"file,label\n{names[0]},3,extra\n", "line 2", "malformed")
    check(f"file,label\n{names[0]}\n", "line 2", "malformed")
    check(f"{names[0]},3\n", "line 1", "header")
    check("", "empty")
    # the class set fixed by class sub-folders: a label outside it is unknown
    csv.write_text(f"file,label\n{names[0]},7\n")
    write_pngs(tmp_path / "3", x[4:5])
    error_of(f"folder:{tmp_path}", "labels.csv", "line 2", "unknown class '7'")
    # the test split's labels.csv must use the train split's classes
    csv.write_text(f"file,label\n{names[0]},3\n")
    write_pngs(tmp_path / "test", x[5:6], ["t.png"])
    (tmp_path / "test" / "labels.csv").write_text("file,label\nt.png,8\n")
    error_of(f"folder:{tmp_path}", str(Path("test") / "labels.csv"), "unknown class '8'")
    (tmp_path / "test" / "labels.csv").write_text("file,label\nt.png,3\n")
    ds = load(f"folder:{tmp_path}")
    assert ds.classes == ["3"] and ds.test.labels.tolist() == [0]
    assert ds.train.labels.tolist() == [0, -1, -1, -1, 0]  # 000..003.png, then 3/000.png


def test_folder_empty_and_not_a_folder(tmp_path):
    (tmp_path / "README.txt").write_text("no images here")
    (tmp_path / "sub").mkdir()
    error_of(f"folder:{tmp_path}", str(tmp_path), "no image files", "empty")
    error_of(f"folder:{tmp_path / 'README.txt'}", "README.txt", "not a folder")


# ------------------------------------------------------------------------------------------
# npz


def test_npz(tmp_path, digits):
    x, y = digits
    f = tmp_path / "d.npz"
    np.savez(f, x=x[:50], y=y[:50], x_test=x[50:60], y_test=y[50:60])
    ds = load(f"npz:{f}")
    check_dataset(ds)
    assert ds.train.images.shape == (50, 1, 28, 28)
    assert np.array_equal(ds.train.images[:, 0], x[:50])
    assert np.array_equal(ds.test.labels, y[50:60]) and ds.classes == MNIST_CLASSES
    rgba = np.stack([x[:8], x[8:16], x[16:24], np.full_like(x[:8], 7)], axis=-1)  # N,H,W,4
    np.savez(f, x=rgba, classes=np.array(["a", "b"]))
    ds = load(f"npz:{f}")
    check_dataset(ds)
    assert ds.train.images.shape == (8, 3, 28, 28) and ds.train.labels is None and ds.test is None
    assert np.array_equal(ds.train.images[2, 1], x[10]) and ds.classes == ["a", "b"]
    np.savez(f, x=x[:5].astype(np.float32) / 255.0, y=y[:5])  # floats in 0..1 are scaled
    assert np.array_equal(load(f"npz:{f}").train.images[:, 0], x[:5])


def test_npz_bad_inputs(tmp_path, digits):
    x, y = digits
    f = tmp_path / "bad.npz"
    np.savez(f, images=x[:5])
    error_of(f"npz:{f}", "bad.npz", "no array 'x'")
    np.savez(f, x=x[0])
    error_of(f"npz:{f}", "bad.npz", "shape")
    np.savez(f, x=x[:5], y=y[:4])
    error_of(f"npz:{f}", "bad.npz", "4 labels", "5 images")
    np.savez(f, x=x[:2], y=np.array([0, 5]), classes=np.array(["a", "b"]))
    error_of(f"npz:{f}", "bad.npz", "out of range")
    np.savez(f, x=x[:2].astype(np.int32) * 300)
    error_of(f"npz:{f}", "bad.npz", "0..255")
    np.savez(f, x=np.array([{"a": 1}], dtype=object))
    error_of(f"npz:{f}", "bad.npz", "cannot read")
    f.write_bytes(b"PK not really a zip")
    error_of(f"npz:{f}", "bad.npz", "not a .npz archive")
    np.save(tmp_path / "x.npy", x[:2])
    error_of(f"npz:{tmp_path / 'x.npy'}", "x.npy", "not a .npz archive")
    np.savez(f, x=x[:0])
    error_of(f"npz:{f}", "bad.npz", "empty")
