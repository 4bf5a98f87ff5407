"""`gltui --oracle` with no project: the README's second set-up command. It builds the bundled
sample project in $GLTUI_HOME, drives the guided run `main` and the run `random` on the same seed
set, prints one round line per round naming its run and the two curves side by side, and a second
call resumes the finished project instead of training again.

The demo's own size (640 labels a run, ~3.5 min on 2 cores) is measured by the README's table, not
here: this test shrinks `sample_config` to 40 labels and the tiny profiles, so it checks the
command's wiring, not its figures."""

from __future__ import annotations

import re

from gltui.cli import main
from gltui.config import Config, semi_config, train_config
from gltui.project import Project
from gltui.run import sample

REAL_SAMPLE_CONFIG = sample.sample_config


def tiny_sample_config() -> Config:
    config = REAL_SAMPLE_CONFIG()
    config.train = train_config("tiny", augment=config.train.augment)
    config.semi = semi_config("tiny")
    config.score.candidates = 200
    config.loop.budget = 40
    return config


def test_the_demo_builds_the_sample_runs_both_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GLTUI_HOME", str(tmp_path))
    monkeypatch.setattr(sample, "sample_config", tiny_sample_config)
    assert main(["--oracle", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    path = tmp_path / "sample-mnist"
    assert f"created the sample project at {path}" in err
    rounds = re.findall(r"^(\w+) round +(\d+): +(\d+) labeled", out, re.MULTILINE)
    assert rounds == [("main", "0", "20"), ("main", "1", "40"),
                      ("random", "0", "20"), ("random", "1", "40")], out
    header = next(line for line in out.splitlines() if line.startswith("labeled"))
    assert "main (margin)" in header and "random (random)" in header  # semi rounds: margin
    with Project.open(path) as project:
        for run in ("main", "random"):
            assert project.store.count_labeled(run) == 40
        seeds = [project.store.rounds(run)[0] for run in ("main", "random")]
        assert seeds[0].test_accuracy == seeds[1].test_accuracy  # one seed set, one round 0

    assert main(["--oracle", "--device", "cpu"]) == 0  # the same project, resumed: no new round
    again, err = capsys.readouterr()
    assert "created the sample project" not in err
    assert not re.search(r"^\w+ round +\d+:", again, re.MULTILINE), again
    assert "label budget 40 spent" in again
