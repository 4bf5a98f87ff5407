"""Big pools on one machine: init, status, a label commit and a scoring pass (killed and resumed)
on a 1,000,000-image pool, each figure next to its bound.

For each shape (28x28 grey, 32x32 colour) and each pool size (--small, default a tenth, then
--items) the benchmark

  generates   a synthetic pool as an npy: file in a work folder (never in the repo): real MNIST
              digits (../shared/datasets/mnist, else sample_data) tiled to N; the colour pool pads
              them to 32x32 and tints digit and background by class. Labels beside it.
  init        `gltui init P --data npy:F` in a subprocess: wall time and peak RSS.
  status      `gltui status P` (and --json) in a subprocess: wall time, Python start included.
  scores      `gltui run P --oracle` in a subprocess (tiny profile: round 0 trains in seconds),
              whole pool, k = 8, the paper's net for the shape: after --score-seconds of scoring
              it is SIGKILLed; images/s from the chunks committed meanwhile.
  resumes     the same command again: the chunks stored before the kill must keep their row
              versions (skipped, not redone) and new chunks must continue right after them;
              SIGKILLed after --resume-seconds.
  labels      --commits labels through the Labeler (what the TUI calls per key press) on a queue
              of that project, each its own committed transaction: median and p95, next to the
              disk's bare flush (4 KiB + fdatasync), the floor of a durable commit.

Memory. The bound is "the memory-mapped pixels plus a fixed working set". Each child reports its
peak RSS (VmHWM, read from /proc: a child's ru_maxrss starts at the RSS of the process it was forked
from) and the peak of its RssAnon (private memory: a copy of the pixels, a float tensor of the pool,
or Python objects per item would show there; mapped pixel pages do not), sampled every 20 ms. The
scoring child's peaks restart when its score phase starts (/proc/PID/clear_refs), after round 0's
training in the same process; the resumed child does nothing but score. The
working set is fixed when the full pool's RssAnon exceeds the small pool's by at most
ANON_BYTES_PER_ITEM per extra item (a uint8 copy of a grey image is 784 bytes, a float copy 3,136;
an id array is 8).

A full k = 8 pass over 1M images with the paper's net takes hours on 2 CPU cores, which is why
scoring is capped in time here; the pass is the real one (whole pool, committed chunk by chunk).

    .venv/bin/python benchmarks/bench_scale.py --json                # 1,000,000 items, both shapes
    .venv/bin/python benchmarks/bench_scale.py --items 50000 --json  # a quick run

The last line with --json is one JSON object. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import REPO_ROOT, SAMPLE_MNIST, SHARED_MNIST, emit

from gltui import data
from gltui.project import Labeler, Project
from gltui.project.runs import create_run
from gltui.store import Store

INIT_SECONDS = 60.0  # the bounds
STATUS_SECONDS = 1.0
COMMIT_MS = 5.0
ANON_BYTES_PER_ITEM = 64  # growth of private memory per extra pool item: ids, not pixels or objects
SHAPES = {"grey": (1, 28, 28), "colour": (3, 32, 32)}
RUN = "main"

# The child runs gltui's CLI in-process and, at exit, reports its own peak RSS (VmHWM, KiB).
CHILD = (
    "import atexit, sys\n"
    "def peak():\n"
    "    line = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    "    print('PEAK_KIB', line.split()[1], file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "from gltui.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


# ---- the synthetic pool --------------------------------------------------------------------------


def source_digits() -> tuple[np.ndarray, np.ndarray, str]:
    spec = (f"idx:{SHARED_MNIST}" if (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file()
            else f"folder:{SAMPLE_MNIST}")
    ds = data.load(spec)
    return np.ascontiguousarray(ds.train.images[:, 0]), ds.train.labels.astype(np.int64), spec


def make_pool(path: Path, n: int, shape: tuple[int, int, int], digits: np.ndarray,
              labels: np.ndarray, block: int = 32768) -> None:
    """n images of `shape` (C, H, W) as path (uint8 N x C x H x W .npy, written block by block with
    plain writes) and path's .labels.npy: digit i % len(digits), colour ones padded to 32x32 with
    the digit and the background tinted by class (deterministic, no randomness)."""
    c, h, w = shape
    tints = np.array([[255, 64, 64], [64, 255, 64], [64, 64, 255], [255, 255, 64], [255, 64, 255],
                      [64, 255, 255], [255, 160, 32], [160, 32, 255], [32, 255, 160],
                      [200, 200, 200]],
                     dtype=np.uint16)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "|u1", "fortran_order": False, "shape": (n, c, h, w)})
        for s in range(0, n, block):
            idx = np.arange(s, min(n, s + block)) % len(digits)
            x = digits[idx]
            if c == 1:
                out = x[:, None]
            else:
                pad = (h - x.shape[1]) // 2, (w - x.shape[2]) // 2
                g = np.zeros((len(x), h, w), np.uint16)
                g[:, pad[0]:pad[0] + x.shape[1], pad[1]:pad[1] + x.shape[2]] = x
                fg = tints[labels[idx]][:, :, None, None]  # (B, 3, 1, 1)
                bg = 255 - fg // 2
                out = ((g[:, None] * fg + (255 - g[:, None]) * bg // 4) // 255).astype(np.uint8)
            fh.write(np.ascontiguousarray(out, np.uint8).data)
    np.save(data.npy_companions(path)[0], labels[np.arange(n) % len(digits)])


# ---- children and their memory -------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM, VmRSS, RssAnon, RssFile of a live process, KiB; {} once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in fh)
                    if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile")}
    except (OSError, ValueError, IndexError):
        return {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far (/proc/PID/stat fields 14 and 15)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class Child:
    """One gltui command in a subprocess, its private memory sampled while it runs, its CPU time
    taken from its own rusage (wait4) once it ends. On a shared machine the CPU seconds say what
    the command costs; the wall seconds also hold the time other processes had the cores."""

    def __init__(self, args: list[str], threads: int):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
               "PYTHONPATH": str(REPO_ROOT)}
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.anon_peak_kib = 0
        self.hwm_kib = 0
        self.cpu_s = 0.0

    def sample(self) -> bool:
        """Sample memory; False once the process has exited (then reaped, with its rusage)."""
        if self.proc.returncode is not None:
            return False
        st = proc_status(self.proc.pid)
        if st:
            self.anon_peak_kib = max(self.anon_peak_kib, st.get("RssAnon", 0))
            self.hwm_kib = max(self.hwm_kib, st.get("VmHWM", 0))
        pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid:
            self.proc.returncode = os.waitstatus_to_exitcode(status)
            self.cpu_s = usage.ru_utime + usage.ru_stime
            self.ended = time.perf_counter()
            return False
        return True

    def cpu_now(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc.returncode is None else self.cpu_s

    def wait(self) -> tuple[float, str, str]:
        while self.sample():
            time.sleep(0.02)
        out, err = self.proc.communicate()
        seconds = self.ended - self.started
        if self.proc.returncode != 0:
            raise RuntimeError(f"{self.proc.args[3:]} exited {self.proc.returncode}: {err[-2000:]}")
        for line in err.splitlines():
            if line.startswith("PEAK_KIB"):
                self.hwm_kib = max(self.hwm_kib, int(line.split()[1]))
        return seconds, out, err

    def reset_peaks(self) -> dict:
        """Start the peaks afresh (VmHWM through /proc/PID/clear_refs); returns those so far."""
        self.sample()
        before = self.memory()
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            pass
        self.anon_peak_kib = self.hwm_kib = 0
        self.sample()
        return before

    def kill(self) -> None:
        if self.sample():  # the last reading, just before the kill
            self.proc.send_signal(signal.SIGKILL)
            while self.sample():
                time.sleep(0.01)
        self.proc.communicate()

    def memory(self) -> dict:
        return {"peak_rss_mb": round(self.hwm_kib / 1024, 1),
                "peak_rss_anon_mb": round(self.anon_peak_kib / 1024, 1)}


# ---- the measurements ----------------------------------------------------------------------------


def run_init(project: Path, pool_file: Path, args) -> dict:
    child = Child(["init", str(project), "--data", f"npy:{pool_file}", "--val-size", "1000",
                   "--initial", "20", "--profile", "tiny", "--chunk-size", str(args.chunk_size),
                   "--strategy", "rde", "--seed", "0"], args.threads)  # rde: k = 8 views an image
    seconds, _, _ = child.wait()
    return {"seconds": round(seconds, 2), "cpu_s": round(child.cpu_s, 2), **child.memory()}


def run_status(project: Path, n: int, args, repeats: int = 3) -> dict:
    times: dict = {"text": [], "json": []}
    cpu: dict = {"text": [], "json": []}
    for _ in range(repeats):
        for kind, extra in (("text", []), ("json", ["--json"])):
            child = Child(["status", str(project), *extra], args.threads)
            seconds, out, _ = child.wait()
            times[kind].append(seconds)
            cpu[kind].append(child.cpu_s)
            if kind == "json":
                items = json.loads(out)["items"]
                assert sum(items.values()) == n, items
    return {k: {"median_s": round(statistics.median(v), 3), "max_s": round(max(v), 3),
                "cpu_median_s": round(statistics.median(cpu[k]), 3),
                "cpu_max_s": round(max(cpu[k]), 3)}
            for k, v in times.items()}


def wait_for(cond, child: Child, timeout: float, what: str):
    """Poll cond() (and the child's memory) until it returns something truthy."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        value = cond()
        if value:
            return value
        if not child.sample():
            _, err = child.proc.communicate()
            raise RuntimeError(f"the run exited ({child.proc.returncode}) before {what}: "
                               f"{err[-2000:]}")
        time.sleep(0.02)
    child.kill()
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def run_scoring(project: Path, n: int, args) -> dict:
    """Score the whole pool for --score-seconds, SIGKILL, resume for --resume-seconds, SIGKILL."""
    store = Store(project / "gltui.db")
    command = ["run", str(project), "--oracle", "--quiet"]
    try:
        child = Child(command, args.threads)
        wait_for(lambda: store.run(RUN).phase == "score", child, 900, "the score phase")
        t_phase = time.perf_counter()
        train_s = t_phase - child.started
        train_memory = child.reset_peaks()  # from here on the peaks are the score phase's
        wait_for(lambda: store.chunk_versions(RUN, 0), child, 900, "the first chunk")
        t_first, first = time.perf_counter(), len(store.chunk_versions(RUN, 0))
        cpu_first = child.cpu_now()
        while time.perf_counter() - t_first < args.score_seconds and child.sample():
            time.sleep(0.02)
        t_last, at_last = time.perf_counter(), len(store.chunk_versions(RUN, 0))
        cpu_window = child.cpu_now() - cpu_first
        child.kill()
        versions = store.chunk_versions(RUN, 0)  # a chunk may have landed as the kill was sent
        done = len(versions)
        rate = (at_last - first) * args.chunk_size / (t_last - t_first)
        scoring = {
            "train_round0_s": round(train_s, 1),
            "score_start_to_first_chunk_s": round(t_first - t_phase, 2),
            "chunks_done": done,
            "images_per_s": round(rate, 1),
            "images_per_cpu_s": round((at_last - first) * args.chunk_size / cpu_window, 1)
            if cpu_window > 0 else None,
            "full_pass_hours_at_this_rate": round(n / rate / 3600, 2) if rate else None,
            **child.memory(),
            "train_round0_memory": train_memory,
        }

        resumed = Child(command, args.threads)
        more = lambda: len(store.chunk_versions(RUN, 0)) > done  # noqa: E731
        wait_for(more, resumed, 600, "a chunk after the resume")
        first_new_s = time.perf_counter() - resumed.started
        first_new_cpu = resumed.cpu_now()
        while time.perf_counter() - resumed.started < args.resume_seconds and resumed.sample():
            time.sleep(0.02)
        resumed.kill()
        after = store.chunk_versions(RUN, 0)
        kept = all(after.get(c) == v for c, v in versions.items())
        new = sorted(set(after) - set(versions))
        continued = new == list(range(done, done + len(new)))
        _, chunk_size, n_chunks = store.scoring_pass(RUN, 0)
        scoring["resume"] = {
            "process_start_to_first_new_chunk_s": round(first_new_s, 2),
            "process_start_to_first_new_chunk_cpu_s": round(first_new_cpu, 2),
            "finished_chunks_skipped": kept,
            "new_chunks_continue_after_them": continued,
            "chunks_before": done,
            "chunks_after": len(after),
            "chunks_in_pass": n_chunks,
            **resumed.memory(),
        }
        return scoring
    finally:
        store.close()


def flush_floor(folder: Path, n: int = 100) -> dict:
    """What the disk's flush alone costs: 4 KiB written and fdatasync'd, n times. A durable commit
    (synchronous=FULL: the WAL is flushed before the commit returns) cannot be faster."""
    path = folder / "flush-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    times = []
    try:
        for i in range(n):
            t = time.perf_counter()
            os.pwrite(fd, b"\0" * 4096, 4096 * (i % 16))
            os.fdatasync(fd)
            times.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    ms = np.array(times)
    return {"median_ms": round(float(np.median(ms)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3)}


def run_commits(project: Path, n_commits: int) -> dict:
    """Labels through the Labeler on a queue of a fresh run of the project: one commit each."""
    with Project.open(project) as p:
        run = "bench-label"
        if p.store.run(run) is None:
            create_run(p, run, "rde", p.run_config(RUN))
        pool = p.store.unlabeled_pool(run)
        items = pool[np.linspace(0, len(pool) - 1, n_commits).astype(np.int64)]
        truth = p.store.true_labels(items)
        guesses = [[[int(y), 0.5]] for y in truth]
        p.store.write_queue(run, 1, items, np.linspace(1, 0, n_commits), guesses, "label")
        labeler = Labeler(p, run)
        times = []
        for item, y in zip(items.tolist(), truth.tolist()):
            t = time.perf_counter()
            labeler.label(item, y)
            times.append((time.perf_counter() - t) * 1000)
        assert labeler.pending() == 0
        ms = np.array(times)
        return {"commits": n_commits, "median_ms": round(float(np.median(ms)), 3),
                "p95_ms": round(float(np.percentile(ms, 95)), 3),
                "max_ms": round(float(ms.max()), 3),
                "disk_flush_alone": flush_floor(project)}


def judge(result: dict, args) -> dict:
    """Each figure next to its bound."""
    checks = {}
    for shape, sizes in result["shapes"].items():
        full, small = sizes[str(args.items)], sizes.get(str(args.small))
        px = full["pixel_mb"]
        checks[f"{shape}.init_s"] = [full["init"]["seconds"], f"< {INIT_SECONDS:g}",
                                     full["init"]["seconds"] < INIT_SECONDS]
        worst = max(v["max_s"] for s in ("status", "status_after_scoring")
                    for v in full[s].values())
        checks[f"{shape}.status_s"] = [worst, f"< {STATUS_SECONDS:g}", worst < STATUS_SECONDS]
        worst_cpu = max(v["cpu_max_s"] for s in ("status", "status_after_scoring")
                        for v in full[s].values())
        checks[f"{shape}.status_cpu_s"] = [worst_cpu, f"< {STATUS_SECONDS:g}",
                                           worst_cpu < STATUS_SECONDS]
        for stat in ("median_ms", "p95_ms"):  # next to the disk's own flush: the floor of a commit
            lc = full["label_commit"]
            checks[f"{shape}.label_commit_{stat}"] = [
                lc[stat], f"< {COMMIT_MS:g} (flush alone {lc['disk_flush_alone'][stat]})",
                lc[stat] < COMMIT_MS]
        for phase, mem in (("init", full["init"]), ("scoring", full["scoring"]),
                           ("resume", full["scoring"]["resume"])):
            checks[f"{shape}.{phase}_peak_rss_mb"] = [
                mem["peak_rss_mb"], f"< pixels {px:g} MB + working set",
                None if small is None
                else mem["peak_rss_mb"] < px + _small_mem(small, phase)["peak_rss_mb"]]
            if small is not None:
                extra = args.items - args.small
                growth = (mem["peak_rss_anon_mb"]
                          - _small_mem(small, phase)["peak_rss_anon_mb"]) * 2**20
                per_item = growth / extra
                checks[f"{shape}.{phase}_anon_growth_bytes_per_item"] = [
                    round(per_item, 1),
                    f"<= {ANON_BYTES_PER_ITEM} (pixels: {np.prod(SHAPES[shape])})",
                    per_item <= ANON_BYTES_PER_ITEM]
        res = full["scoring"]["resume"]
        checks[f"{shape}.resume_skips_finished_chunks"] = [
            res["finished_chunks_skipped"] and res["new_chunks_continue_after_them"], "true",
            res["finished_chunks_skipped"] and res["new_chunks_continue_after_them"]]
    return checks


def _small_mem(sizes: dict, phase: str) -> dict:
    return {"init": sizes["init"], "scoring": sizes["scoring"],
            "resume": sizes["scoring"]["resume"]}[phase]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=1_000_000, help="pool size (default 1,000,000)")
    p.add_argument("--small", type=int, default=0,
                   help="the smaller pool the memory growth is measured against (default items/10)")
    p.add_argument("--shapes", default="grey,colour", help="grey (28x28x1), colour (32x32x3)")
    p.add_argument("--score-seconds", type=float, default=40.0, help="scoring time before the kill")
    p.add_argument("--resume-seconds", type=float, default=25.0,
                   help="resumed run time before its kill")
    p.add_argument("--chunk-size", type=int, default=256, help="images per scoring chunk")
    p.add_argument("--commits", type=int, default=200, help="label commits timed")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the children")
    p.add_argument("--work", type=Path, help="work folder (default: a temp folder, removed after)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = p.parse_args()
    args.small = args.small or max(1, args.items // 10)
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    bad = [s for s in shapes if s not in SHAPES]
    if args.items < 5000 or not 2000 <= args.small < args.items or bad or not shapes:
        print("bench_scale: need --items >= 5000, 2000 <= --small < --items, --shapes from "
              f"{', '.join(SHAPES)}", file=sys.stderr)
        raise SystemExit(2)
    work = Path(tempfile.mkdtemp(prefix="gltui-scale-", dir=args.work))
    load_at_start = round(os.getloadavg()[0], 2)
    digits, labels, spec = source_digits()
    result: dict = {"benchmark": "scale", "items": args.items, "small": args.small, "source": spec,
                    "k": 8, "chunk_size": args.chunk_size, "threads": args.threads,
                    "score_seconds": args.score_seconds, "shapes": {}}
    try:
        for shape in shapes:
            result["shapes"][shape] = {}
            for n in (args.small, args.items):
                log(f"{shape} {n:,}: generating the pool …")
                pool_file = work / f"{shape}-{n}.npy"
                t = time.perf_counter()
                make_pool(pool_file, n, SHAPES[shape], digits, labels)
                out = {"pixel_mb": round(n * int(np.prod(SHAPES[shape])) / 2**20, 1),
                       "generate_s": round(time.perf_counter() - t, 1)}
                project = work / f"proj-{shape}-{n}"
                log(f"{shape} {n:,}: init …")
                out["init"] = run_init(project, pool_file, args)
                out["status"] = run_status(project, n, args)
                log(f"{shape} {n:,}: train round 0, score {args.score_seconds:g} s, kill, resume …")
                out["scoring"] = run_scoring(project, n, args)
                out["status_after_scoring"] = run_status(project, n, args)
                out["label_commit"] = run_commits(project, args.commits)
                log(f"{shape} {n:,}: {json.dumps(out)}")
                result["shapes"][shape][str(n)] = out
                shutil.rmtree(project, ignore_errors=True)
                pool_file.unlink()
                data.npy_companions(pool_file)[0].unlink()
        result["checks"] = judge(result, args)
        result["load_average_1min_at_start"] = load_at_start
        result["all_pass"] = all(c[2] is not False for c in result["checks"].values())
        try:
            result["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
        except OSError:
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
    emit(result, args.json)


if __name__ == "__main__":
    main()
