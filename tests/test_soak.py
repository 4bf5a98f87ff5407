"""The soak's short version (benchmarks/soak.py): six gltui processes at once on one project
(oracle runs, a person's run, a scripted person labeling, add, predict, export, status), about a
third of them SIGKILLed at a random instant. After every process: the project opens, integrity
ok, no item with two active labels, every acknowledged label present, pixels for every item, no
traceback, every refusal one line; at the end an undisturbed run finishes, run `p` resumes once,
and both runs end exactly where uninterrupted runs given the same adds at the same rounds (and
run `p` the person's labels in the same rounds) end. The full run
(200 processes) and its figures: docs/reliability.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.soak import soak  # noqa: E402


@pytest.mark.slow
def test_six_processes_at_random_with_kills_lose_nothing(tmp_path):
    result = soak(iterations=24, procs=6, seed=1, kill_rate=0.3, workdir=tmp_path)
    print(result)
    assert result["problems"] == [], result["problems"]
    assert result["iterations"] == 24 and result["kills"] >= 2, result  # 4 measured (seed 1)
    assert result["acknowledged"] >= 1 and result["by_verb"].get("add", 0) >= 1, result
    assert result["reference"] == "same" and result["adds_landed"] >= 1, result
