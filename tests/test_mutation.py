"""A planted bug is caught: the engine property test (tests/test_engine_properties.py) fails on a
copy of the package with one line of the queue write changed.

The bug: the query's queue write puts an already-labeled image at the head of the next queue
(a person would be asked again for an image the run has a label for). The copy is the working
tree's gltui/ and the two test files the property test needs, in a temporary folder; only the copy
is changed.
The property test runs there in its own pytest process, without shrinking (a failing example is
reported as found: shrinking would re-run the engine for minutes), and must fail on the invariant
that catches this bug, not on anything else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

MUTATION = (
    "gltui/store/scoring.py",
    "            self._write_queue(run, round, items, scores, guesses)\n",
    "            self._write_queue(run, round, np.r_[labeled[:1], np.asarray(items)[1:]], "
    "scores, guesses)\n",
)


@pytest.mark.slow
def test_a_labeled_item_put_in_the_next_queue_fails_the_property_test(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "gltui", copy / "gltui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "tests").mkdir()
    for name in ("conftest.py", "faults.py", "faults_launch.py", "test_engine_properties.py"):
        shutil.copy(REPO_ROOT / "tests" / name, copy / "tests" / name)
    shutil.copy(REPO_ROOT / "pyproject.toml", copy / "pyproject.toml")
    # conftest imports benchmarks/health_check.py: a copy, so that it finds the mutated gltui
    shutil.copytree(REPO_ROOT / "benchmarks", copy / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "sample_data").symlink_to(REPO_ROOT / "sample_data")

    path, old, new = MUTATION
    source = (copy / path).read_text()
    assert source.count(old) == 1, f"the line to mutate is no longer in {path}: update MUTATION"
    (copy / path).write_text(source.replace(old, new))

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         "--hypothesis-profile", "gltui-no-shrink", "tests/test_engine_properties.py"],
        cwd=copy, capture_output=True, text=True, timeout=1200,
        env={**os.environ, "PYTHONPATH": str(copy)},
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]  # 1: tests failed (not an error of the harness)
    assert "1 failed" in out, out[-3000:]
    # It ran the copy, and failed on the invariant this bug breaks: a queued image that is not
    # labeled must be in the unlabeled pool.
    assert str(copy / "tests" / "test_engine_properties.py") in out or \
        "tests/test_engine_properties.py" in out, out[-3000:]
    assert "every_item_in_exactly_one_place" in out, out[-3000:]
    assert 'assert all(i in unlabeled for i, s in queue.items() if s != "labeled")' in out, \
        out[-3000:]
