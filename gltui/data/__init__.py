"""Dataset readers: every supported source becomes one in-memory form.

A `Dataset` is a train split (the pool source; the engine draws validation from it), an optional
test split and the class names. A `Split` is one contiguous uint8 array of shape N x C x H x W (a
read-only memory-mapped view for npy:), int64 labels with -1 for "unknown" (or None when the
split has no labels at all), and one source reference per item.

    load("idx:../shared/datasets/mnist")      MNIST-family IDX files, raw or .gz, torchvision layout
    load("cifar:data/cifar-10-batches-py")    the CIFAR-10 (or CIFAR-100) python pickles
    load("folder:photos")                     image files; class sub-folders or labels.csv
    load("npz:digits.npz")                    arrays x, y, x_test, y_test, classes
    load("npy:pool.npy")                      one uint8 array, memory-mapped (big pools); labels
                                              in pool.labels.npy, class names in pool.classes.txt

One module per reader (idx, cifar, folder, npz, npy), each exposing
`read(path, *, resize, channels, fit, classes) -> (train, test or None, classes)`;
`loader.READERS` maps a spec's kind to it. core.py holds the types and the checks the readers
share, images.py the image <-> array conversions (stretch or letterbox), decode.py a folder's
files into one array (headers checked before decoding), counts.py the per-folder counts that
init and add print, duplicates.py the near-duplicate search (init's and add's warning, gltui
check). A new format is a new module with a `read` and one READERS entry.

Every bad input raises `DataError` whose message is one line naming the file and the problem; no
reader lets an OSError, a PIL error or a pickle error escape for bad input. Only numpy and PIL are
used (PIL imported lazily), so importing this package stays cheap and headless.
"""

from gltui.data.core import (
    MAX_CLASSES,
    MIN_SIDE,
    DataError,
    Dataset,
    IndexNames,
    MixedShapes,
    Reader,
    ReadResult,
    Split,
)
from gltui.data.counts import folder_lines, skipped_text
from gltui.data.folder import IMAGE_EXTENSIONS, LABELS_CSV, TEST_DIR
from gltui.data.images import save_image, to_pil
from gltui.data.loader import FILE_KINDS, READERS, SPEC_KINDS, load, parse_spec
from gltui.data.npy import NPY_CLASSES_SUFFIX, NPY_LABELS_SUFFIX, npy_companions

__all__ = [
    "DataError", "Dataset", "FILE_KINDS", "MixedShapes", "IMAGE_EXTENSIONS", "IndexNames",
    "LABELS_CSV", "MAX_CLASSES", "MIN_SIDE",
    "NPY_CLASSES_SUFFIX", "NPY_LABELS_SUFFIX", "READERS", "ReadResult", "Reader", "SPEC_KINDS",
    "Split", "TEST_DIR", "folder_lines", "load", "npy_companions", "parse_spec", "save_image",
    "skipped_text", "to_pil",
]
