"""The hostile-file battery of what comes in (issue 26): each case is a `gltui init` or `gltui add`
on a file built to hurt (a 144-megapixel PNG first in a folder, FIFOs and devices where files
belong, undecodable images, a labels.csv that is not UTF-8), run in its own process. Each must
end with exit 2 and one line of at most 300 characters, no traceback and no warning, leave the
project unchanged (a hash of gltui.db and pixels.npy), never hang (killed after --timeout s) and
stay under 512 MB peak RSS. One case is not hostile but big (a 49-megapixel scan first among
small images): it must import, letterboxed, within the same memory.

    python benchmarks/hostile_files.py            # prints each case's exit, time and peak RSS

tests/test_hostile_files.py runs the same battery with generous time caps.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_MNIST = REPO_ROOT / "sample_data" / "mnist"
MAX_LINE = 300  # characters of the one error line
MAX_RSS_MB = 512


@dataclass
class Case:
    name: str
    argv: list[str]  # gltui's arguments; PROJECT in them is the project of the add cases
    words: str  # what the one line must say (rc 2), or what stdout says (rc 0)
    rc: int = 2


@dataclass
class Outcome:
    rc: int
    seconds: float
    peak_rss_mb: float
    out: str
    err: str


# A small parent per case: the peak RSS of a child counts the pages of the process it was forked
# from until it execs, so the child is forked from this fresh interpreter (~10 MB), not from the
# benchmark (which holds the big test images it made). It prints the child's peak RSS in KB.
_PARENT = """
import os, resource, signal, subprocess, sys, time
proc = subprocess.Popen(sys.argv[2:])
try:
    proc.wait(timeout=float(sys.argv[1]))
except subprocess.TimeoutExpired:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.write(f"\\n@@ {proc.returncode} {peak}")
"""


def run(argv: list[str], timeout: float = 60.0) -> Outcome:
    """`python -m gltui ARGV` in its own process: exit status, wall time and the peak resident
    memory of that process (its parent's RUSAGE_CHILDREN); killed (rc -9) after `timeout` s."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PARENT, str(timeout), sys.executable, "-m",
                           "gltui", *argv], capture_output=True, text=True, cwd=REPO_ROOT,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    seconds = time.perf_counter() - start
    err, _, tail = proc.stderr.rpartition("\n@@ ")
    rc, kb = (int(v) for v in tail.split())
    return Outcome(rc, seconds, kb / 1024, proc.stdout, err)


def fingerprint(project: Path) -> str:
    """A hash of what a refused command must not change: the database and the pixels."""
    h = hashlib.sha256()
    for name in ("gltui.db", "pixels.npy"):
        h.update((project / name).read_bytes())
    return h.hexdigest()


def _digits(folder: Path, n: int, start: int = 0) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        Image.open(SAMPLE_MNIST / f"{i:05d}.png").save(folder / f"{i:05d}.png")
    return folder


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def build(root: Path) -> tuple[list[Case], Path]:
    """The cases under `root`, and the project (40 sample digits, two classes) the add cases
    add to."""
    from PIL import Image

    cases: list[Case] = []

    def init(name: str, spec: str, words: str, *extra: str, rc: int = 2) -> None:
        cases.append(Case(f"init {name}", ["init", str(root / f"p-{len(cases)}"), "--data", spec,
                                           "--classes", "a,b", "--initial", "2", *extra],
                          words, rc))

    big = _digits(root / "big-first", 5, 1)
    Image.new("1", (12000, 12000)).save(big / "00000.png")  # 144 Mpx, first in name order
    init("12000x12000 PNG first in a folder", f"folder:{big}", "too large")
    over = _digits(root / "over-cap", 5, 1)
    Image.new("L", (9000, 9000)).save(over / "00000.png")  # 81 Mpx: under PIL's bomb limit
    init("9000x9000 PNG (81 Mpx, over the cap)", f"folder:{over}", "too large")
    scan = _digits(root / "big-scan", 8, 1)
    Image.new("L", (7000, 7000), 255).save(scan / "00000.png")  # 49 Mpx: read, letterboxed
    init("7000x7000 scan first (49 Mpx, imported)", f"folder:{scan}", "created", "--audit", "0",
         rc=0)
    init("FIFO as npz:", f"npz:{_fifo(root / 'pipe.npz')}", "FIFO")
    init("FIFO as npy:", f"npy:{_fifo(root / 'pipe.npy')}", "FIFO")
    init("/dev/zero as npy:", "npy:/dev/zero", "a device")
    idx = root / "idx"
    _fifo(idx / "train-images-idx3-ubyte")
    init("FIFO as an IDX file", f"idx:{idx}", "FIFO")
    cifar = root / "cifar"
    _fifo(cifar / "data_batch_1")
    init("FIFO as a CIFAR batch", f"cifar:{cifar}", "FIFO")
    piped = _digits(root / "fifo-image", 6)
    _fifo(piped / "zz.png")
    init("FIFO named .png in a folder", f"folder:{piped}", "FIFO")
    device = _digits(root / "device-image", 6)
    os.symlink("/dev/zero", device / "zero.png")
    init("/dev/zero linked as .png", f"folder:{device}", "a device")
    csv_pipe = _digits(root / "fifo-csv", 6)
    _fifo(csv_pipe / "labels.csv")
    init("FIFO as labels.csv", f"folder:{csv_pipe}", "FIFO")
    init("FIFO as folder:", f"folder:{_fifo(root / 'pipe-dir')}", "not a folder")
    latin = _digits(root / "latin1-csv", 6)
    (latin / "labels.csv").write_bytes("file,label\n00000.png,caf\xe9\n".encode("latin-1"))
    init("labels.csv not UTF-8", f"folder:{latin}", "not UTF-8")
    comma = _digits(root / "comma-csv", 6)
    (comma / "labels.csv").write_text('file,label\n00000.png,"a,b"\n')
    init("a comma inside a labels.csv class", f"folder:{comma}", "comma")
    broken = _digits(root / "corrupt", 6)
    for i in range(7):
        (broken / f"bad{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(i))
    init("7 undecodable images", f"folder:{broken}", "7 image files cannot be read")

    project = root / "project"
    subprocess.run([sys.executable, "-m", "gltui", "init", str(project), "--data",
                    f"folder:{_digits(root / 'base', 40)}", "--classes", "a,b", "--initial", "4",
                    "--audit", "0"], check=True, capture_output=True, cwd=REPO_ROOT)
    for name, spec, words in (
            ("12000x12000 PNG", f"folder:{big}", "too large"),
            ("FIFO as npz:", f"npz:{root / 'pipe.npz'}", "FIFO"),
            ("7 undecodable images", f"folder:{broken}", "and 4 more"),
            ("FIFO named .png", f"folder:{piped}", "FIFO")):
        cases.append(Case(f"add {name}", ["add", "PROJECT", "--data", spec], words))
    return cases, project


def check(case: Case, outcome: Outcome) -> list[str]:
    """What is wrong with an outcome (nothing: [])."""
    problems = []
    if outcome.rc != case.rc:
        problems.append(f"exit {outcome.rc}, want {case.rc}")
    if outcome.peak_rss_mb >= MAX_RSS_MB:
        problems.append(f"peak RSS {outcome.peak_rss_mb:.0f} MB")
    if "Traceback" in outcome.err or "Warning" in outcome.err:
        problems.append("a traceback or a warning on stderr")
    if case.rc == 2:
        lines = outcome.err.splitlines()
        if len(lines) != 1 or len(lines[0]) > MAX_LINE or not outcome.err.startswith("gltui: "):
            problems.append(f"stderr is not one line of <= {MAX_LINE} characters: {outcome.err!r}")
        if case.words not in outcome.err:
            problems.append(f"{case.words!r} not said")
    elif case.words not in outcome.out:
        problems.append(f"{case.words!r} not in stdout")
    return problems


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        cases, project = build(Path(tmp))
        print(f"{'case':46} {'exit':>4} {'s':>6} {'peak MB':>8}  first line")
        failed = 0
        for case in cases:
            argv = [str(project) if a == "PROJECT" else a for a in case.argv]
            before = fingerprint(project)
            outcome = run(argv)
            problems = check(case, outcome)
            if fingerprint(project) != before:
                problems.append("the project changed")
            failed += bool(problems)
            first = (outcome.err or outcome.out).splitlines()[0] if (outcome.err or outcome.out) \
                else ""
            print(f"{case.name:46} {outcome.rc:>4} {outcome.seconds:6.2f} "
                  f"{outcome.peak_rss_mb:8.0f}  {first[:110]}")
            for p in problems:
                print(f"{'':46} FAIL: {p}")
    print(f"{len(cases) - failed} of {len(cases)} cases as required")
    return 1 if failed else 0


if __name__ == "__main__":
    if not hasattr(os, "mkfifo") or not stat.S_ISCHR(os.stat("/dev/zero").st_mode):
        raise SystemExit("needs FIFOs and /dev/zero (Linux, macOS)")
    np.seterr(all="ignore")
    raise SystemExit(main())
