"""The hostile battery: files made to break gltui, each refused with one clear line, quickly, in
bounded memory, with nothing changed.

    .venv/bin/python benchmarks/hostile.py [--only models|cli] [--json] [--workdir DIR]

models  22 hostile model folders given to `gltui.load_model`, in one child process that imports
        torch first. Per case: the exception (must be ValueError), its message, seconds, and the
        peak RSS above the RSS after importing torch and gltui (the kernel's peak is reset before
        each case through /proc/self/clear_refs). Targets: ValueError, < 1 s, < 100 MB.
cli     hostile files given to gltui's verbs (init, add, run), each in a child process of its
        own. Per case: exit status, stderr's lines and the longest, seconds (killed after
        --timeout s: a hang), the child's peak RSS (wait4), and whether the project tree changed
        (a hash of every file under it, before and after). Targets: exit 2, one line of at most
        300 characters, < 5 s, < 512 MB, unchanged.

The cases are built by `make_model_cases` and `make_cli_cases`; tests/test_model_folder.py and
tests/test_hostile.py assert the same with generous caps. Results: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

MODEL_TARGETS = {"seconds": 1.0, "mb": 100.0}
CONTROL = "control: the valid folder (must load)"
CLI_TARGETS = {"seconds": 5.0, "mb": 512.0, "chars": 300}


# ---- hostile model folders -------------------------------------------------------------------


def valid_model_folder(folder: Path) -> Path:
    """A model folder as `gltui export --format model` writes it (the MNIST net, 10 classes,
    1 x 28 x 28), without a project: the base every hostile case changes one thing of."""
    import torch

    from gltui.learn import models
    from gltui.outputs.modelfolder import FORMAT, FORMAT_VERSION, PREPROCESSING

    folder.mkdir(parents=True, exist_ok=True)
    net = models.build_model("mnist", 1, (28, 28), 10, generator=torch.Generator().manual_seed(0))
    torch.save(net.state_dict(), folder / "model.pt")
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "network": "mnist",
            "network_options": {}, "temperature": 1.0, "classes": [str(i) for i in range(10)],
            "input_shape": [1, 28, 28], "preprocessing": PREPROCESSING, "weights": "model.pt",
            "gltui_version": "0", "torch_version": torch.__version__, "run": "main", "round": 0,
            "n_labeled": 20, "val_accuracy": 0.5, "test_accuracy": None, "project": "/p"}
    write_meta(folder, meta)
    return folder


def write_meta(folder: Path, meta: dict) -> None:
    (folder / "model.json").write_text(json.dumps(meta), encoding="utf-8")


def _edit(**changes):
    def make(folder: Path) -> None:
        meta = json.loads((folder / "model.json").read_text())
        meta.update(changes)
        write_meta(folder, meta)
    return make


def _drop(key: str):
    def make(folder: Path) -> None:
        meta = json.loads((folder / "model.json").read_text())
        del meta[key]
        write_meta(folder, meta)
    return make


def _meta_bytes(data: bytes):
    def make(folder: Path) -> None:
        (folder / "model.json").write_bytes(data)
    return make


def _fifo(name: str):
    def make(folder: Path) -> None:
        (folder / name).unlink()
        os.mkfifo(folder / name)
    return make


def _weights_outside(how: str):
    """The real weights moved out of the folder, reached by `../`, an absolute path or a link."""
    def make(folder: Path) -> None:
        outside = folder.parent / f"{folder.name}-outside.pt"
        shutil.move(folder / "model.pt", outside)
        if how == "link":
            os.symlink(outside, folder / "model.pt")
        else:
            _edit(weights=f"../{outside.name}" if how == "dotdot" else str(outside))(folder)
    return make


def _sparse_weights(folder: Path) -> None:
    """A 20 GB (sparse) model.pt: its size alone must refuse it, unread."""
    with open(folder / "model.pt", "r+b") as fh:
        fh.truncate(20 << 30)


def _code_in_weights(folder: Path) -> None:
    """A pickle that runs a command when unpickled; the marker file must never appear."""
    marker = folder.parent / f"{folder.name}-RAN"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (folder / "model.pt").write_bytes(pickle.dumps(Evil()))


def _truncated_weights(folder: Path) -> None:
    data = (folder / "model.pt").read_bytes()
    (folder / "model.pt").write_bytes(data[: len(data) // 2])


def _other_network_weights(folder: Path) -> None:
    """Weights of the CIFAR net under a model.json that says mnist."""
    import torch

    from gltui.learn import models

    torch.save(models.build_model("cifar", 1, (28, 28), 10).state_dict(), folder / "model.pt")


def _weights_with_a_huge_extra_tensor(folder: Path) -> None:
    """The right weights plus a 64 MB tensor: over the size its network allows."""
    import torch

    weights = torch.load(folder / "model.pt", weights_only=True)
    weights["extra"] = torch.zeros(16 << 20)
    torch.save(weights, folder / "model.pt")


MODEL_CASES = {
    "no model.json": lambda f: (f / "model.json").unlink(),
    "model.json a FIFO": _fifo("model.json"),
    "model.json of 2 MB": _meta_bytes(b'{"format": "' + b"x" * (2 << 20) + b'"}'),
    "model.json not UTF-8": _meta_bytes(b"\xff\xfe{\x00\x80garbage"),
    "model.json nested 100000 deep": _meta_bytes(b"[" * 100_000 + b"]" * 100_000),
    "model.json a list": _meta_bytes(b"[1, 2, 3]"),
    "format_version 2": _edit(format_version=2),
    "unknown network": _edit(network="resnet152"),
    "unknown key": _edit(exec="import os"),
    "unknown network option": _edit(network_options={"depth": 1000}),
    "small net width 10^6": _edit(network="small", network_options={"width": 1_000_000}),
    "input_shape 3 x 100000 x 100000": _edit(input_shape=[3, 100_000, 100_000]),
    "input_shape 1 x 1024 x 1024 (params cap alone)": _edit(input_shape=[1, 1024, 1024]),
    "input_shape 1000 channels": _edit(input_shape=[1000, 28, 28]),
    "20000 classes": _edit(classes=[str(i) for i in range(20_000)]),
    "no classes key": _drop("classes"),
    "temperature NaN": _edit(temperature=float("nan")),
    "weights ../ outside": _weights_outside("dotdot"),
    "weights absolute path": _weights_outside("absolute"),
    "weights a link out": _weights_outside("link"),
    "weights a FIFO": _fifo("model.pt"),
    "weights sparse 20 GB": _sparse_weights,
    "weights run code": _code_in_weights,
    "weights truncated": _truncated_weights,
    "weights of another network": _other_network_weights,
    "weights with a 64 MB extra tensor": _weights_with_a_huge_extra_tensor,
    "11 classes, weights for 10": _edit(classes=[str(i) for i in range(11)]),
}


def make_model_cases(root: Path) -> dict[str, Path]:
    """One folder per case under `root` (a fresh valid folder, then the case's change)."""
    base = valid_model_folder(root / "valid")
    out = {}
    for i, (name, make) in enumerate(MODEL_CASES.items()):
        folder = root / f"case{i:02d}"
        shutil.copytree(base, folder)
        make(folder)
        out[name] = folder
    return out


MEASURE_MODELS = r"""
import json, os, sys, time
import torch, gltui
from gltui.outputs import roundmodel, modelfolder  # imported before the baseline
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
cases = json.loads(sys.argv[1])
out = []
for name, folder in cases.items():
    reset_peak()
    base = rss("VmRSS:")
    started = time.perf_counter()
    try:
        gltui.load_model(folder)
        err, message = None, ""
    except BaseException as e:
        err, message = type(e).__name__, str(e)
        is_value = isinstance(e, ValueError)
    seconds = time.perf_counter() - started
    out.append({"case": name, "error": err, "value_error": err is not None and is_value,
                "message": message, "seconds": round(seconds, 4),
                "peak_mb": round(rss("VmHWM:") - base, 1)})
print(json.dumps(out))
"""


def measure_models(root: Path) -> list[dict]:
    """Build the hostile model folders under `root` and load each in one child process."""
    cases = {name: str(path) for name, path in make_model_cases(root).items()}
    cases[CONTROL] = str(root / "valid")  # loads: the measurement sees a real load's memory
    proc = subprocess.run([sys.executable, "-c", MEASURE_MODELS, json.dumps(cases)],
                          capture_output=True, text=True, timeout=600, cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    for row in rows:
        row["ran_code"] = (root / f"{Path(cases[row['case']]).name}-RAN").exists()
    return rows


# ---- hostile files for the CLI -----------------------------------------------------------------


def huge_png(path: Path, side: int = 12_000) -> Path:
    """A valid grey PNG of side x side pixels (144 MB decoded), written row by row: ~150 KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    z = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8,
                     0, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def make_cli_cases(root: Path, project: Path) -> dict[str, tuple[list[str], Path | None]]:
    """name -> (gltui arguments, the project they must leave unchanged or None for `init`)."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    small = root / "digits"
    small.mkdir(exist_ok=True)
    for i in range(4):
        Image.new("L", (28, 28), color=i * 40).save(small / f"d{i}.png")
    big_first = root / "big-first"
    big_first.mkdir(exist_ok=True)
    huge_png(big_first / "a-huge.png")
    for p in small.iterdir():
        shutil.copy(p, big_first / p.name)
    fifo = root / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    latin = root / "classes-latin1.txt"
    latin.write_bytes("chat\nchien\ncaf\xe9\n".encode("latin-1"))
    comma = root / "classes-comma.txt"
    comma.write_text("cat\ndog, big\nbird\n")
    dup = root / "classes-10000.txt"
    names = [f"class-{i:05d}" for i in range(10_000)]
    names[9_999] = names[0]
    dup.write_text("\n".join(names) + "\n")
    new = root / "new-project"

    def init(*args: str) -> list[str]:
        return ["init", str(new), "--data", f"folder:{small}", *args]

    return {
        "init: a 12000x12000 PNG first in the folder": (
            ["init", str(new), "--data", f"folder:{big_first}", "--classes", "a,b"], None),
        "init: --classes-file not UTF-8": (init("--classes-file", str(latin)), None),
        "init: --classes-file a FIFO": (init("--classes-file", str(fifo)), None),
        "init: npz: a FIFO": (["init", str(new), "--data", f"npz:{fifo}"], None),
        "init: a comma inside a class name": (init("--classes-file", str(comma)), None),
        "init: a duplicate in a 10000-class file": (init("--classes-file", str(dup)), None),
        "add: a 12000x12000 PNG first in the folder": (
            ["add", str(project), "--data", f"folder:{big_first}"], project),
        "add: npz: a FIFO": (["add", str(project), "--data", f"npz:{fifo}"], project),
        "run: --device nonsense": (["run", str(project), "--device", "tpu"], project),
    }


def tree_hash(path: Path | None) -> str | None:
    """One hash of every file under `path` (None: no such folder): its relative path and bytes,
    and for a SQLite database its content (every row, as `.dump` writes it) rather than its
    bytes, since a reader that closes the last connection may checkpoint the WAL into the file
    without changing a row; the -wal and -shm files are that content's, not hashed apart."""
    if path is None or not path.exists():
        return None
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if not p.is_file() or p.is_symlink() or p.name.endswith(("-wal", "-shm")):
            continue
        h.update(str(p.relative_to(path)).encode() + b"\0")
        if p.suffix == ".db":
            conn = sqlite3.connect(p)
            try:
                for line in conn.iterdump():
                    h.update(line.encode() + b"\n")
            finally:
                conn.close()
            continue
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def run_cli_case(args: list[str], project: Path | None, timeout: float) -> dict:
    """One hostile CLI call in a child process: exit status, stderr lines, seconds, peak RSS,
    whether the project (or for init, the new project's folder) changed."""
    target = project if project is not None else Path(args[1])
    before = tree_hash(target)
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "gltui", *args], cwd=REPO_ROOT,
                                stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        hung = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                os.kill(proc.pid, signal.SIGKILL)
                hung = True
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    lines = stderr.splitlines()
    after = tree_hash(target)
    return {"exit": proc.returncode, "hung": hung, "lines": len(lines),
            "longest": max((len(line) for line in lines), default=0),
            "first_line": lines[0][:300] if lines else "",
            "blank_first": bool(lines) and not lines[0].strip(),
            "seconds": round(seconds, 3), "peak_mb": round(usage.ru_maxrss / 1024, 1),
            "unchanged": before == after}


def small_project(root: Path) -> Path:
    """A small project to aim `add` and `run` at (the first 200 sample digits)."""
    from gltui.cli import main

    path = root / "project"
    if not path.exists():
        code = main(["init", str(path), "--data", f"folder:{REPO_ROOT / 'sample_data/mnist'}",
                     "--profile", "tiny", "--val-size", "50", "--initial", "20"])
        if code != 0:
            raise RuntimeError("init of the small project failed")
    return path


def measure_cli(root: Path, timeout: float = 10.0) -> list[dict]:
    project = small_project(root)
    rows = []
    for name, (args, target) in make_cli_cases(root / "files", project).items():
        rows.append({"case": name, **run_cli_case(args, target, timeout)})
    return rows


# ---- the report --------------------------------------------------------------------------------


def model_ok(row: dict) -> bool:
    return (row["value_error"] and row["seconds"] < MODEL_TARGETS["seconds"]
            and row["peak_mb"] < MODEL_TARGETS["mb"] and not row["ran_code"]
            and "\n" not in row["message"])


def cli_ok(row: dict) -> bool:
    return (row["exit"] == 2 and not row["hung"] and row["lines"] == 1
            and not row["blank_first"] and row["longest"] <= CLI_TARGETS["chars"]
            and row["seconds"] < CLI_TARGETS["seconds"] and row["peak_mb"] < CLI_TARGETS["mb"]
            and row["unchanged"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("models", "cli"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds before a CLI case "
                    "counts as a hang and is killed")
    args = ap.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gltui-hostile-"))
    result: dict = {}
    if args.only in (None, "models"):
        rows = measure_models(work / "models")
        control = next(r for r in rows if r["case"] == CONTROL)
        rows = [r for r in rows if r["case"] != CONTROL]
        result["models"], result["model_control"] = rows, control
        print(f"{'model folder':50} {'error':12} {'s':>7} {'MB':>6}  ok", file=sys.stderr)
        for r in rows:
            print(f"{r['case']:50} {r['error'] or '-':12} {r['seconds']:7.3f} {r['peak_mb']:6.1f}"
                  f"  {'ok' if model_ok(r) else 'FAIL'}  {r['message'][:90]}", file=sys.stderr)
        print(f"{CONTROL:50} {control['error'] or '-':12} {control['seconds']:7.3f} "
              f"{control['peak_mb']:6.1f}  {'ok' if control['error'] is None else 'FAIL'}",
              file=sys.stderr)
        result["ok_control"] = control["error"] is None
    if args.only in (None, "cli"):
        rows = measure_cli(work / "cli", args.timeout)
        result["cli"] = rows
        print(f"{'cli case':50} {'exit':>4} {'s':>7} {'MB':>6} {'chars':>5}  ok", file=sys.stderr)
        for r in rows:
            print(f"{r['case']:50} {r['exit']:4} {r['seconds']:7.3f} {r['peak_mb']:6.1f} "
                  f"{r['longest']:5}  {'ok' if cli_ok(r) else 'FAIL'}  {r['first_line'][:90]}",
                  file=sys.stderr)
    ok = (all(map(model_ok, result.get("models", []))) and result.get("ok_control", True)
          and all(map(cli_ok, result.get("cli", []))))
    result["ok"] = ok
    if args.json:
        print(json.dumps(result))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
