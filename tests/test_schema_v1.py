"""Databases saved by schema version 1 (tests/data/schema-v1: an oracle project with two runs and
finished rounds, and a person's project mid-queue with labels, a skip and an undo), opened by
today's code: they migrate in place, and every run, round, label and queue entry reads back as
version 1 read it (the *.expected.json files were written by version 1's code)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gltui.cli import main
from gltui.project import Project
from gltui.store import SCHEMA_VERSION

SAVED = Path(__file__).parent / "data" / "schema-v1"


@pytest.mark.parametrize("name", ["v1proj", "v1person"])
def test_a_version_1_database_opens_migrated_with_nothing_lost(name, tmp_path, capsys):
    path = tmp_path / name
    shutil.copytree(SAVED / name, path)
    expected = json.loads((SAVED / f"{name}.expected.json").read_text())
    with Project.open(path) as project:
        assert project.store.schema_version() == SCHEMA_VERSION > 1
        assert [s.as_json() for s in project.summaries()] == expected["status"]
        for run in project.store.runs():
            assert ([list(r) for r in project.store.labeled_detail(run.name)]
                    == expected["labels"][run.name])
            assert json.loads(run.config) == expected["configs"][run.name]
            queue = [[e.item, e.status] for e in project.store.queue(run.name, run.round)]
            assert queue == expected["queue"][run.name]
    # The CLI reads it too, and a second open finds nothing more to migrate.
    capsys.readouterr()
    assert main(["status", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == expected["status"]
