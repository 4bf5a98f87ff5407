"""`gltui check`: label issues by out-of-fold predictions, near-duplicates and leaks, on
real MNIST digits with planted mistakes and planted near copies (a 1-px shift, brightness
+-10 %, a JPEG q75 round trip); `init` and `add` warn of near copies; bad input changes
nothing."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import N_FLIPS, N_LEAKS, SAMPLE_MNIST, near_copy, read_digits

from gltui.cli import main
from gltui.data.duplicates import coarse_vectors, near_duplicates, outliers, pair_distances, scan


def file_bytes(path: Path) -> dict[str, str]:
    """A digest of every file of a project folder: what must not change."""
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


# ---- near-duplicates: numpy only, fast -----------------------------------------------------------


@pytest.fixture(scope="module")
def planted_digits(digits):
    """600 real digits + a near copy of 40 of them (appended): images (N, 1, 28, 28), the true
    digits, and the (source, copy) pairs."""
    x, y = digits
    rng = np.random.default_rng(0)
    sources = rng.choice(len(x), 40, replace=False)
    copies = np.stack([near_copy(x[i], rng) for i in sources])
    images = np.concatenate([x, copies])[:, None]
    truth = np.concatenate([y, y[sources]])
    pairs = [(int(s), len(x) + k) for k, s in enumerate(sources)]
    return images, truth, pairs


def test_near_copies_are_grouped_and_distinct_digits_are_not(planted_digits):
    images, truth, pairs = planted_digits
    groups = near_duplicates(images)
    group_of = {int(m): i for i, g in enumerate(groups) for m in g.members}
    found = sum(group_of.get(s, -1) == group_of.get(c, -2) for s, c in pairs)
    assert found >= 0.95 * len(pairs), f"{found} of {len(pairs)} planted copies grouped"
    planted = {m for p in pairs for m in p}
    natural = [g for g in groups if not set(g.members.tolist()) <= planted]
    assert len(natural) <= 1, natural  # the closest natural pairs of MNIST: plain 1s at 0.0136
    for g in groups:
        assert len(set(truth[g.members].tolist())) == 1, f"different digits grouped: {g}"
    assert [g.distance for g in groups] == sorted(g.distance for g in groups)


def test_the_distance_tolerates_a_shift_and_separates_different_digits(planted_digits):
    images, truth, pairs = planted_digits
    planted = pair_distances(images, np.asarray(pairs))
    assert planted.max() <= 0.01
    a = np.flatnonzero(truth[:600] == 3)[:20]
    b = np.flatnonzero(truth[:600] == 8)[:20]
    different = pair_distances(images, np.stack([a, b], axis=1))
    assert different.min() > 0.05
    shifted = np.roll(images[:1], 1, axis=3)
    assert pair_distances(np.concatenate([images[:1], shifted]), np.array([[0, 1]]))[0] < 1e-3


def test_scan_counts_only_groups_that_hold_a_new_image(planted_digits):
    images, _, pairs = planted_digits
    everything = scan(images)
    assert everything.groups >= 38 and everything.checked == everything.total == len(images)
    only_new = scan(images, new_from=600)  # the copies are the new images
    assert only_new.groups == everything.groups
    assert scan(images[:600], new_from=590).groups == 0  # no copy among the new ones
    limited = scan(images, limit=300, seed=1)
    assert limited.checked == 300 and "random draw" in (limited.note("p") or "among 300 of")
    assert "`gltui check p`" in everything.note("p")


def unusual_images(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """Six images no digit set should hold: noise, a black and a white frame, stripes, and two
    inverted digits (N, 1, 28, 28)."""
    noise = rng.integers(0, 256, (2, 1, 28, 28), dtype=np.uint8)
    flat = np.stack([np.zeros((1, 28, 28), np.uint8), np.full((1, 28, 28), 255, np.uint8)])
    stripes = np.zeros((1, 1, 28, 28), np.uint8)
    stripes[0, 0, ::4] = 255
    inverted = 255 - digits[:2, None]
    return np.concatenate([noise, flat, stripes, inverted])


def test_outliers_are_the_planted_unusual_images_first(planted_digits):
    images, _, _ = planted_digits
    odd = unusual_images(np.random.default_rng(5), images[100:, 0])
    rows, scores = outliers(coarse_vectors(np.concatenate([images, odd])))
    planted = set(range(len(images), len(images) + len(odd)))
    assert set(rows[:len(odd)].tolist()) == planted, rows[:10]  # the six come first
    assert len(rows) - len(odd) <= 0.005 * len(images)  # few natural digits pass the bar
    assert list(scores) == sorted(scores, reverse=True)


def test_check_lists_images_added_that_are_unlike_the_rest(tmp_path, checked):
    """`gltui add` brings noise, blank frames, stripes and inverted digits into the pool: the
    check's image findings put them first among the outliers, in the pool."""
    import shutil

    from gltui.outputs.check import CheckResult, image_findings
    from gltui.project import Project

    path = tmp_path / "proj"
    shutil.copytree(checked["path"], path)
    x, _ = read_digits(SAMPLE_MNIST, 2)
    np.savez(tmp_path / "odd.npz", x=unusual_images(np.random.default_rng(6), x)[:, 0])
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["add", str(path), "--data", f"npz:{tmp_path / 'odd.npz'}"]) == 0
    with Project.open(path) as project:
        end = project.store.item_end()
        items, _ = project.store.labeled("main")
        found = image_findings(project, items)
    added = set(range(end - 6, end))
    ranks = [i for i, o in enumerate(found.outliers) if o.item in added]
    assert len(ranks) == 6 and ranks[-1] <= 7, [(o.item, o.split, o.score)
                                                for o in found.outliers[:10]]
    assert all(found.outliers[i].split == "pool" for i in ranks)
    result = CheckResult(run="main", n_labeled=len(items), n_images=found.compared,
                         outliers=found.outliers)
    assert result.as_json()["outliers"][0] == found.outliers[0].as_json()
    text = "\n".join(result.lines())
    assert f"{count_word(len(found.outliers))}" in text and "outliers, unlike every" in text


def count_word(n: int) -> str:
    return f"{n} outlier" + ("" if n == 1 else "s")


@pytest.mark.slow
def test_ten_thousand_real_mnist_images_take_seconds(shared_mnist_dir):
    from gltui import data

    x = data.load(f"idx:{shared_mnist_dir}").train.images[:10_000]
    rng = np.random.default_rng(3)
    sources = rng.choice(len(x), 200, replace=False)
    images = np.concatenate([x, np.stack([near_copy(x[i, 0], rng)[None] for i in sources])])
    started = time.perf_counter()
    groups = near_duplicates(images)
    seconds = time.perf_counter() - started
    group_of = {int(m): i for i, g in enumerate(groups) for m in g.members}
    found = sum(group_of.get(int(s), -1) == group_of.get(10_000 + k, -2)
                for k, s in enumerate(sources))
    assert found >= 190 and seconds < 30, (found, seconds)
    assert len(groups) - found <= 2  # reported groups that no planted copy explains


# ---- gltui check on a person's project -------------------------------------------------------


@pytest.fixture(scope="module")
def checked(tmp_path_factory, check_data):
    """The project, what `init` wrote on stderr, `gltui check --json`'s output (run while
    another process holds the run's lock, as `gltui run` does), and the files before and
    after the check."""
    from gltui.project import Project, run_lock

    path = tmp_path_factory.mktemp("check") / "proj"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["init", str(path), "--data", f"npz:{check_data['npz']}", "--profile",
                     "tiny", "--semi", "off"]) == 0
    out = io.StringIO()
    with Project.open(path) as project, run_lock(project, "main"):  # a run is being driven
        before = file_bytes(path)
        with contextlib.redirect_stdout(out):
            assert main(["check", str(path), "--json", "--device", "cpu"]) == 0
        after = file_bytes(path)
    return {"path": path, "init_stderr": err.getvalue(), "result": json.loads(out.getvalue()),
            "before": before, "after": after}


def test_check_finds_the_flipped_labels(checked, check_data):
    issues = checked["result"]["label_issues"]
    first = [i["file"] for i in issues[:2 * N_FLIPS]]
    found = check_data["flipped"] & set(first)
    assert len(found) >= 10, f"{len(found)} of {N_FLIPS} flipped labels in the first {len(first)}"
    truth = check_data["truth"]
    right = [i for i in issues if i["file"] in check_data["flipped"]]
    # the likely class of a flipped label is mostly the digit itself
    assert sum(i["likely"] == str(truth[i["file"]]) for i in right) >= 0.7 * len(right)
    assert [i["score"] for i in issues] == sorted((i["score"] for i in issues), reverse=True)
    assert all(i["label"] != i["likely"] for i in issues)
    assert not any(f.startswith("test/") for f in (i["file"] for i in issues))


def test_check_groups_planted_copies_and_marks_leaks(checked, check_data):
    result = checked["result"]
    groups = [set(g) for g in result["near_duplicates"]]
    for pair in check_data["planted"] + check_data["leaks"]:
        assert any(pair <= g for g in groups), f"planted pair {pair} not grouped"
    truth = check_data["truth"]
    for g in result["near_duplicates"]:
        assert len({truth[f] for f in g}) == 1, f"different digits grouped: {g}"
    details = result["duplicate_groups"]
    for pair in check_data["leaks"]:
        (group,) = [d for d in details if pair <= set(d["files"])]
        assert group["leak"] and {"test", "labeled"} <= set(group["splits"]), group
    for d in details:  # a leak: an evaluation image beside a training one
        where = set(d["splits"])
        assert d["leak"] == bool(where & {"test", "audit", "val"} and where & {"labeled", "pool"})
    assert result["leaks"] >= N_LEAKS
    leaks = [d["leak"] for d in details]
    assert leaks == sorted(leaks, reverse=True)  # leaks first


def test_check_json_shape_and_nothing_changed(checked):
    result = checked["result"]
    issues, labels = len(result["label_issues"]), result["labels_checked"]
    assert result["agreement"] == round(1 - issues / labels, 4)  # no finding dismissed here
    assert set(result) >= {"label_issues", "near_duplicates"}
    assert all(set(i) == {"file", "label", "likely", "score"} for i in result["label_issues"])
    assert all(isinstance(g, list) and all(isinstance(f, str) for f in g)
               for g in result["near_duplicates"])
    assert checked["before"] == checked["after"]


def test_init_warns_of_near_duplicates(checked):
    lines = [ln for ln in checked["init_stderr"].splitlines() if "near-duplicate" in ln]
    assert len(lines) == 1 and "gltui check" in lines[0]


def test_add_warns_of_near_copies_of_project_images(tmp_path, checked, check_data):
    import shutil

    path = tmp_path / "proj"
    shutil.copytree(checked["path"], path)
    x, _ = read_digits(SAMPLE_MNIST, 5)
    rng = np.random.default_rng(11)
    new = np.stack([near_copy(x[i], rng) for i in range(5)])
    np.savez(tmp_path / "more.npz", x=new)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["add", str(path), "--data", f"npz:{tmp_path / 'more.npz'}"]) == 0
    warned = [ln for ln in err.getvalue().splitlines() if "near-duplicate" in ln]
    assert len(warned) == 1 and "5 groups" in warned[0], err.getvalue()


def test_text_summary_names_issues_and_leaks():
    from gltui.outputs.check import CheckResult, DuplicateGroup, LabelIssue

    result = CheckResult(
        run="main", n_labeled=300, n_images=1000,
        label_issues=[LabelIssue("train:4", "7", "1", 0.98)],
        duplicates=[DuplicateGroup(["test/test:3", "train:9"], ["test", "pool"], 0.004),
                    DuplicateGroup(["train:1", "train:2"], ["pool", "labeled"], 0.005)])
    text = "\n".join(result.lines())
    assert "train:4  7 → 1  0.980" in text
    assert "LEAK  test/test:3 [test], train:9 [pool]" in text
    assert "1 of them LEAKS" in text


@pytest.mark.slow  # the fast lane keeps test_check_finds_the_flipped_labels
def test_dismissed_findings_are_left_out_and_the_json_keeps_its_layout(tmp_path, checked):
    """What the TUI's check page does on `d` (outputs.check.dismiss: a key in the project's
    meta): the next `gltui check` leaves the finding out, and only it."""
    import shutil

    from gltui.outputs.check import DISMISSED, dismiss, dismissed
    from gltui.project import Project
    from gltui.project.classes import ClassList

    path = tmp_path / "proj"
    shutil.copytree(checked["path"], path)
    before = checked["result"]
    issue, group = before["label_issues"][0], before["duplicate_groups"][-1]
    with Project.open(path) as project:
        store = project.store
        ids = {name: item for item, name in store.item_names(range(store.item_end())).items()}
        classes = ClassList.read(store)
        label = classes.live[classes.live_names.index(issue["label"])]
        keys = [f"label:{ids[issue['file']]}:{label}",
                "dup:" + ",".join(str(i) for i in sorted(ids[f] for f in group["files"]))]
        for key in [*keys, keys[0]]:  # a second dismissal of the same finding changes nothing
            dismiss(store, key)
        assert store.meta()[DISMISSED] == keys and dismissed(store) == set(keys)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["check", str(path), "--json", "--device", "cpu"]) == 0
    after = json.loads(out.getvalue())
    assert list(after) == list(before)  # the same layout: no key added
    assert after["label_issues"] == [i for i in before["label_issues"] if i != issue]
    assert after["duplicate_groups"] == [g for g in before["duplicate_groups"] if g != group]
    assert after["near_duplicates"] == [g["files"] for g in after["duplicate_groups"]]


def test_the_check_key_changes_with_what_the_check_reads_and_only_with_it(tmp_path, checked):
    """The TUI's check page shows the session's last check again when the key is unchanged
    (tests/test_tui_check.py): a dismissal leaves the key as it is (the findings are filtered,
    not recomputed); a relabel and an added class each make a new key."""
    import shutil

    from gltui.outputs.check import CheckResult, LabelIssue, check_key, dismiss, still_listed
    from gltui.project import Labeler, Project

    path = tmp_path / "proj"
    shutil.copytree(checked["path"], path)
    with Project.open(path) as project:
        key = check_key(project, "main")
        assert key == check_key(project) and len(key) == 64
        dismiss(project.store, "label:0:1")
        assert check_key(project) == key
        labeler = Labeler(project, "main")
        items, labels = project.store.labeled("main")
        keys = {key}
        labeler.relabel(int(items[0]), (int(labels[0]) + 1) % 10)
        keys.add(check_key(project))
        labeler.add_class("smudge")
        keys.add(check_key(project))
        assert len(keys) == 3
    issues = [LabelIssue(file=f"f{i}", label="1", likely="2", score=0.5, item=i, label_index=1,
                         likely_index=2) for i in range(3)]
    result = CheckResult(run="main", n_labeled=3, n_images=3, label_issues=issues, dismissed=1,
                         key=key)
    shown = still_listed(result, {issues[1].key})
    assert shown.label_issues == [issues[0], issues[2]] and shown.dismissed == 2
    assert shown.key == key and result.label_issues == issues  # the last check is kept whole


def test_finding_keys_and_the_dismissed_count_in_the_summary():
    from gltui.outputs.check import CheckResult, DuplicateGroup, LabelIssue

    issue = LabelIssue("train:4", "7", "1", 0.98, item=4, label_index=7, likely_index=1)
    group = DuplicateGroup(["train:9", "test/test:3"], ["pool", "test"], 0.004, items=[812, 9])
    assert (issue.key, group.key) == ("label:4:7", "dup:9,812")
    result = CheckResult(run="main", n_labeled=300, n_images=1000, label_issues=[issue],
                         duplicates=[group], dismissed=2)
    assert result.lines()[0].endswith(", 1 of them LEAKS across splits; 2 dismissed findings "
                                      "left out")
    assert "dismissed" not in CheckResult(run="main", n_labeled=3, n_images=9).lines()[0]


# ---- bad input: one line, exit 2, nothing changed -----------------------------------------------


@pytest.mark.parametrize("case", ["no-project", "unknown-run", "too-few-labels", "bad-device"])
def test_bad_input_is_one_line_and_changes_nothing(case, fresh_project, tmp_path, capsys):
    args = {"no-project": [str(tmp_path / "nothing")],
            "unknown-run": [str(fresh_project), "--run", "nope"],
            "too-few-labels": [str(fresh_project)],  # the seed set: 20 labels
            "bad-device": [str(fresh_project), "--device", "cuda"]}[case]
    if case == "bad-device":
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
    before = file_bytes(fresh_project)
    capsys.readouterr()
    code = main(["check", *args])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("gltui: ")
    expected = {"no-project": "gltui init", "unknown-run": "no run 'nope'",
                "too-few-labels": "label more images", "bad-device": "--device cpu"}[case]
    assert expected in err
    assert file_bytes(fresh_project) == before
    assert not (tmp_path / "nothing").exists()


def test_out_of_fold_probabilities_are_deterministic(digits):
    from gltui.config import TrainConfig
    from gltui.learn.label_issues import fold_of, out_of_fold_probs

    x, y = digits
    cfg = TrainConfig(max_epochs=1, min_steps_per_epoch=2, batch_size=16, augment="grey")
    a = out_of_fold_probs(x[:48, None], y[:48], 10, cfg, seed=3, views=2)
    b = out_of_fold_probs(x[:48, None], y[:48], 10, cfg, seed=3, views=2)
    assert np.array_equal(a, b) and a.shape == (48, 10)
    folds = fold_of(y[:48], 4, 3)
    assert np.bincount(folds).tolist() == [12, 12, 12, 12]


def test_the_near_duplicate_search_imports_no_torch():
    """init and add use it; they must not pay for torch. Nor does the TUI's check page for its
    estimate and its dismissals (outputs.check imports torch only when a check runs)."""
    import subprocess
    import sys

    code = ("import sys, gltui.data.duplicates, gltui.project.add, gltui.cli.check, "
            "gltui.outputs.check; "
            "print(sorted(m for m in ('torch', 'textual', 'kornia') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


def test_the_summary_line_counts_in_words():
    """One finding of each kind reads '1 label issue', '1 group' (a person's trial read
    '1 groups'); more read in the plural."""
    from gltui.outputs.check import CheckResult, DuplicateGroup, LabelIssue

    one = CheckResult("main", 1, 2, [LabelIssue("a.png", "three", "two", 0.9)],
                      [DuplicateGroup(["a.png", "b.png"], ["labeled", "pool"], 0.01)])
    assert one.lines()[0] == ("run 'main': 1 label issue (another class out of fold) among "
                              "1 label; 1 group of near-duplicates among 2 images")
    two = CheckResult("main", 60, 400, one.label_issues * 2, one.duplicates * 2)
    assert two.lines()[0].startswith("run 'main': 2 label issues (another class out of fold) "
                                     "among 60 labels; 2 groups of near-duplicates among 400")


def test_past_its_limit_the_search_keeps_every_evaluation_and_labeled_image(checked, check_data):
    """A large project: the search compares every labeled and evaluation image and a seeded
    random draw of the pool (its cost grows as N^2), says so, and still finds every leak."""
    from gltui.outputs.check import CheckResult, image_findings
    from gltui.project import Project

    with Project.open(checked["path"]) as project:
        items, _ = project.store.labeled("main")
        counts = project.store.count_items()
        total = sum(counts.values())
        kept = len(items) + total - counts["pool"]  # labeled + test, audit, val
        limit = kept + 50
        found = image_findings(project, items, limit=limit)
        again = image_findings(project, items, limit=limit)
    compared, there, groups = found.compared, found.total, found.duplicates
    assert (compared, there) == (limit, total) and limit < total
    assert [g.files for g in groups] == [g.files for g in again.duplicates]  # the same draw
    for pair in check_data["leaks"]:  # a test image beside a labeled one: both always compared
        assert any(pair <= set(g.files) and g.leak for g in groups), pair
    line = CheckResult(run="main", n_labeled=len(items), n_images=compared, n_total=there,
                       duplicates=groups).lines()[0]
    assert f"among {compared:,} of the {there:,} images" in line and "random draw" in line


def test_the_summary_warns_when_the_cross_fitted_models_agree_with_few_labels():
    """A person's colour photos: the labels-only models agreed with 59 % of 220 labels, nearly
    all right, and listed 90 "issues"; the summary says the list is mostly their errors."""
    from gltui.outputs.check import CheckResult

    weak = CheckResult("main", 220, 271, agreement=0.59)
    assert weak.lines()[1].startswith("note: the cross-fitted models agree with only 59%")
    assert weak.as_json()["agreement"] == 0.59
    strong = CheckResult("main", 1000, 11000, agreement=0.94)
    assert strong.weak_models() is None and not any("note:" in ln for ln in strong.lines())



def test_weak_folds_from_few_steps_are_trained_again_longer():
    """Few labels make few steps an epoch: 235 labels give each fold 176 images, 10 steps an
    epoch, 200 steps in the first pass; the second pass trains 1,200 (outputs/check.py measures
    why). Many labels already give the folds their steps; the tests' tiny profile never doubles."""
    from gltui.config import TrainConfig
    from gltui.outputs.check import LONGER_LR, LONGER_STEPS, fold_steps, longer

    cfg = TrainConfig(lr=2e-3, batch_size=64, min_steps_per_epoch=10, max_epochs=20)
    assert fold_steps(cfg, 235) == 200
    again = longer(cfg, 235, "quick")
    assert (again.max_epochs, again.lr) == (120, LONGER_LR)
    assert fold_steps(again, 235) == LONGER_STEPS
    assert fold_steps(longer(cfg, 1000, "quick"), 1000) >= LONGER_STEPS  # 12 steps an epoch
    assert longer(cfg, 5000, "quick") is None  # 59 steps an epoch: 1,180 in the first pass
    assert longer(cfg, 235, "tiny") is None


@pytest.mark.parametrize("agreement", [0.5, 0.9])
def test_the_check_trains_the_folds_again_only_when_they_agree_with_few_labels(
        agreement, tmp_path, check_data, monkeypatch):
    """check() on a project of the `quick` profile, the fold training replaced by given
    out-of-fold probabilities: below WEAK_AGREEMENT the folds are trained a second time on the
    longer schedule, their progress counted on after the first pass's, and the result is the
    second pass's; above it, one pass."""
    from gltui.learn import label_issues
    from gltui.outputs.check import check, longer
    from gltui.project import Project

    path = tmp_path / "proj"
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["init", str(path), "--data", f"npz:{check_data['npz']}", "--profile",
                     "quick", "--semi", "off"]) == 0
    calls, progress = [], []

    def given(x, y, num_classes, cfg, *, seed, device, on_fold, cancel):
        calls.append(cfg)
        probs = np.eye(num_classes, dtype=np.float32)[y]
        if len(calls) == 1:  # the first pass doubts a share of the labels
            wrong = np.arange(len(y)) < round((1 - agreement) * len(y))
            probs[wrong] = np.eye(num_classes, dtype=np.float32)[(y[wrong] + 1) % num_classes]
        for k in range(4):
            on_fold(k + 1, 4)
        return probs

    monkeypatch.setattr(label_issues, "out_of_fold_probs", given)
    with Project.open(path) as project:
        result = check(project, device="cpu", on_fold=lambda done, n: progress.append((done, n)))
    n = result.n_labeled
    if agreement < 0.85:
        assert len(calls) == 2 and calls[1] == longer(calls[0], n, "quick")
        assert progress == [(1, 4), (2, 4), (3, 4), (4, 4), (4, 8), (5, 8), (6, 8), (7, 8), (8, 8)]
        assert result.agreement == 1.0 and result.label_issues == []
    else:
        assert len(calls) == 1 and len(progress) == 4
        assert result.agreement == pytest.approx(agreement, abs=0.01)
        assert len(result.label_issues) == round((1 - agreement) * n)
