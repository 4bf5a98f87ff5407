"""`gltui report`: learning curves, class distributions and confusing-image galleries as report.md.

What it writes into the report folder:

  report.md               runs, accuracy per labeled count, the label savings factor, figures
  learning_curves.png     accuracy vs labeled images (log2 axis), every run, and per strategy the
                          mean with a ±1 std band where it has several seeds
  class_distribution.png  per run, the class shares of the labeled set at each round and their
                          mean over the rounds (the paper's Fig. 3 a/b)
  most_confusing.png      the 20 highest-scored images of one scoring pass (the paper's Fig. 2)
  least_confusing.png     the 20 lowest-scored images of the same pass (the paper's Fig. 5)

Where the project has an audit set or a stop set, report.md also has a section written by
report_estimates.py: the audit estimate per round beside the test accuracy, the stop-set kappa,
and where the stabilizing-predictions rule would have stopped each run.

The computations (curves grouped by strategy, mean and std over seeds, the savings factor) live
in views/savings.py, plain functions of plain data, so tests can check them on hand-made
numbers; only `collect` reads the project and only `write_report` touches matplotlib. Figures
are drawn on bare `matplotlib.figure.Figure`s (the Agg canvas, no pyplot): nothing here needs or
opens a display, and nothing changes matplotlib's global backend for anyone else in the process.

Curves and galleries come from gltui.results, the rule `status` and the dashboard use too:
finished rounds only, test accuracy where every reported round has one, else the validation
accuracy (the one early stopping watched, so optimistic); the report says which. Nothing here
feeds back into training: the test set is only ever read to report.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from gltui.config import Config, strategy_info
from gltui.errors import ProjectError, shell_command
from gltui.fsio import atomic_write_text
from gltui.outputs.report_estimates import estimates_section
from gltui.project import Project
from gltui.project.classes import ClassList
from gltui.store import RoundRow, finished_rounds
from gltui.views.curves import learning_curves
from gltui.views.galleries import Gallery, GalleryItem, gallery
from gltui.views.savings import (
    BASELINE,
    CurvePoint,
    Saving,
    class_shares,
    group_curves,
    headline,
    savings,
)

REPORT_NAME = "report.md"
FIGURES = {
    "curves": "learning_curves.png",
    "classes": "class_distribution.png",
    "most": "most_confusing.png",
    "least": "least_confusing.png",
}


# ---- reading a project ---------------------------------------------------------------------------


@dataclass
class RunCurve:
    name: str
    strategy: str
    seed: int
    phase: str
    stop_reason: str | None
    config: Config
    rounds: list[RoundRow]  # finished rounds only
    curve: dict[int, float]  # {labeled: accuracy} in the report's metric


@dataclass
class ReportData:
    metric: str  # "test" | "validation"
    runs: list[RunCurve]
    skipped: list[str]  # runs without a finished round
    groups: dict[str, list[CurvePoint]] = field(default_factory=dict)
    savings: dict[str, list[Saving]] = field(default_factory=dict)  # guided strategy -> rows


def collect(project: Project, runs: Sequence[str] | None = None) -> ReportData:
    """The curves of a project's runs (all, or those named), grouped and compared.

    Raises ProjectError when no run has a finished round."""
    names = list(runs) if runs is not None else [r.name for r in project.store.runs()]
    summaries = [project.summary(name) for name in names]
    shown = [s for s in summaries if finished_rounds(s.rounds)]
    skipped = [s.name for s in summaries if not finished_rounds(s.rounds)]
    if not shown:
        which = ", ".join(names) if names else "none"
        how = (f"run `{shell_command('run', project.path, '--oracle')}` or "
               f"`{shell_command('experiment', project.path)}` "
               "first" if project.has_true_labels() else
               f"label the waiting images in `{shell_command(project.path)}` and let round 0 "
               "train first")
        raise ProjectError(
            f"{project.path}: no run has a finished round yet (runs: {which}); {how}")
    lines = learning_curves(shown, project.store)  # one metric for every run shown
    metric = lines[0].metric
    curves = [
        RunCurve(s.name, s.strategy, s.seed, s.phase, s.stop_reason, project.run_config(s.name),
                 finished_rounds(s.rounds), dict(c.points))
        for s, c in zip(shown, lines)
    ]
    data = ReportData(metric=metric, runs=curves, skipped=skipped)
    data.groups = group_curves((c.strategy, c.curve) for c in curves)
    if BASELINE in data.groups:
        for strategy, points in data.groups.items():
            if strategy != BASELINE:
                data.savings[strategy] = savings(points, data.groups[BASELINE])
    return data


def gallery_run(data: ReportData) -> RunCurve | None:
    """The run whose scores the galleries show: the first rde run, else the first guided run."""
    for wanted in (lambda c: c.strategy == "rde",
                   lambda c: strategy_info(c.strategy).ranks_by_model):
        for c in data.runs:
            if wanted(c):
                return c
    return None


# ---- writing -------------------------------------------------------------------------------------


def write_report(project: Project, out_dir: str | Path, round: int | None = None,
                 runs: Sequence[str] | None = None) -> Path:
    """Write report.md and its figures into out_dir; return the path of report.md.

    round: the scoring pass the galleries show (default: the latest finished one of the first
    rde run). runs: restrict the report to these runs (default: all). Bad input raises
    ProjectError with one line."""
    data = collect(project, runs)
    chosen = gallery_run(data)
    if round is not None and chosen is None:
        raise ProjectError("--round: no guided run in this project, and random scores are noise")
    shown = gallery(project.store, chosen.name, round) if chosen is not None else None
    class_list = ClassList.read(project.store)
    out = writable_dir(Path(out_dir))
    try:
        figures = {"curves": _plot_curves(data, out / FIGURES["curves"]),
                   "classes": _plot_classes(data, class_list, out / FIGURES["classes"])}
        if shown is not None and shown.most:
            figures["most"] = _plot_gallery(project, shown, "most", out / FIGURES["most"])
            figures["least"] = _plot_gallery(project, shown, "least", out / FIGURES["least"])
        else:  # no stale galleries of an earlier report beside this one
            for key in ("most", "least"):
                (out / FIGURES[key]).unlink(missing_ok=True)
        text = _markdown(project, data, shown, chosen, figures)
        path = out / REPORT_NAME
        atomic_write_text(path, text)
    except OSError as err:
        raise ProjectError(f"{out}: cannot write the report there ({err.strerror or err}); "
                           "choose a writable folder with --out") from err
    return path


def writable_dir(out: Path) -> Path:
    """out, created if need be, after proving a file can be written in it (else ProjectError)."""
    if out.exists() and not out.is_dir():
        raise ProjectError(f"{out}: is a file; give --out a folder for the report")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".gltui-probe-"):
            pass
    except OSError as err:
        raise ProjectError(f"{out}: cannot write the report there ({err.strerror or err}); "
                           "choose a writable folder with --out") from err
    return out


# ---- figures (Agg canvas, no pyplot) -------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _strategy_colours(strategies: Sequence[str]) -> dict[str, str]:
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    return {s: palette[i % len(palette)] for i, s in enumerate(strategies)}


def _plot_curves(data: ReportData, path: Path) -> str:
    fig = _figure(7.5, 4.8)
    ax = fig.add_subplot()
    colours = _strategy_colours(list(dict.fromkeys(c.strategy for c in data.runs)))
    for c in data.runs:  # every run, thin
        xs = sorted(c.curve)
        ax.plot(xs, [100 * c.curve[x] for x in xs], color=colours[c.strategy], alpha=0.35,
                linewidth=0.8, marker=".", markersize=3)
    for strategy, points in data.groups.items():
        xs = np.array([p.budget for p in points])
        mean = np.array([100 * p.mean for p in points])
        std = np.array([100 * p.std for p in points])
        seeds = max((p.n for p in points), default=1)
        label = f"{strategy} (mean of {seeds} runs ± std)" if seeds > 1 else strategy
        ax.plot(xs, mean, color=colours[strategy], linewidth=2, marker="o", markersize=4,
                label=label)
        if seeds > 1:
            ax.fill_between(xs, mean - std, mean + std, color=colours[strategy], alpha=0.2,
                            linewidth=0)
    budgets = sorted({p.budget for pts in data.groups.values() for p in pts})
    ax.set_xscale("log", base=2)
    ax.set_xticks(budgets)
    ax.set_xticklabels([str(b) for b in budgets], rotation=45 if len(budgets) > 8 else 0)
    ax.minorticks_off()
    ax.set_xlabel("labeled images (log2 scale)")
    ax.set_ylabel(f"{data.metric} accuracy (%)")
    ax.set_title("Learning curves")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.savefig(path, format="png")
    return path.name


def _class_hists(c: "RunCurve", classes: ClassList) -> list[list[int]]:
    """The run's class histograms per round, per class in use: a round's histogram is as long
    as the class list was then (a class added later is 0 there), a merged class counts as the
    class it went into."""
    return [classes.fold_counts(r.class_hist) for r in c.rounds if r.class_hist]


def _plot_classes(data: ReportData, class_list: ClassList, path: Path) -> str:
    import matplotlib

    classes = class_list.live_names
    n = len(data.runs)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = _figure(4.2 * cols + 1.4, 3.2 * rows)
    cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, c in zip(axes.flat, data.runs):
        hists = _class_hists(c, class_list)
        shares = class_shares(hists)
        if shares.size == 0:
            ax.set_title(f"{c.name}: no class histogram")
            continue
        shares = np.vstack([shares, shares.mean(axis=0)])  # the last bar: mean over rounds
        labels = [str(r.n_labeled) for r in c.rounds if r.class_hist] + ["mean"]
        x = np.arange(len(labels))
        bottom = np.zeros(len(labels))
        for k in range(shares.shape[1]):
            ax.bar(x, 100 * shares[:, k], bottom=bottom, color=cmap(k % cmap.N), width=0.8,
                   label=str(classes[k]) if k < len(classes) else str(k))
            bottom += 100 * shares[:, k]
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=45, fontsize="small")
        ax.set_ylim(0, 100)
        ax.set_title(f"{c.name} ({c.strategy})", fontsize="medium")
        ax.set_xlabel("labeled images, then the mean over rounds", fontsize="small")
        ax.set_ylabel("share of labeled set (%)", fontsize="small")
    if len(classes) <= 20:
        handles, names = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside right center", fontsize="small", title="class")
    fig.suptitle("Class distribution of the labeled set per round")
    fig.savefig(path, format="png")
    return path.name


def _plot_gallery(project: Project, shown: Gallery, which: str, path: Path) -> str:
    entries = shown.most if which == "most" else shown.least
    cols = 5
    rows = max(1, math.ceil(len(entries) / cols))
    fig = _figure(1.6 * cols, 1.8 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, entry in zip(axes.flat, entries):
        img = project.image(entry.item)
        if img.shape[0] == 3:
            ax.imshow(np.transpose(img, (1, 2, 0)))
        else:
            ax.imshow(img[0], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{entry.score:.3f}  [{_class_name(entry.truth, project.classes)}]",
                     fontsize="small")
    word = "most" if which == "most" else "least"
    fig.suptitle(f"{len(entries)} {word} confusing of {shown.n_scored} scored: run {shown.run}, "
                 f"round {shown.round}\n(score, [true class])", fontsize="medium")
    fig.savefig(path, format="png")
    return path.name


# ---- report.md -----------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}"


def _markdown(project: Project, data: ReportData, shown: Gallery | None, chosen: RunCurve | None,
              figures: dict[str, str]) -> str:
    counts = project.store.count_items()
    metric_note = (
        "the project's test split, never used for training or early stopping"
        if data.metric == "test" else
        "training accuracy: the project has no validation split and no test split, so these "
        "are not estimates of accuracy on new images (the audit estimates below are)"
        if data.metric == "training" else
        "audit estimate: each round model's accuracy on the audit labels given so far (a uniform "
        "random sample of the pool, never trained on); its intervals are in the table below"
        if data.metric == "audit" else
        "not every round has a test accuracy; early stopping picked the best epoch on this "
        "same set, so these figures are optimistic"
    )
    lines = [
        f"# gltui report: {project.path.name}",
        "",
        f"- project: `{project.path}`",
        f"- data: `{project.meta.get('spec')}`: {counts.get('pool', 0)} pool, "
        f"{counts.get('val', 0)} validation, {counts.get('test', 0)} test images, "
        f"{len(ClassList.read(project.store).live)} classes",
        f"- accuracy below is **{data.metric}** accuracy: {metric_note}",
        "",
        "## Runs",
        "",
        "| run | strategy | seed | profile | model | k | scored per round | phase | rounds | "
        "labeled | note |",
        "| --- | --- | ---: | --- | --- | ---: | --- | --- | ---: | ---: | --- |",
    ]
    for c in data.runs:
        cfg = c.config
        scored = "whole pool" if not cfg.score.candidates else f"{cfg.score.candidates} random"
        k = str(cfg.score.k) if strategy_info(c.strategy).uses_k else "-"
        lines.append(
            f"| {c.name} | {c.strategy} | {c.seed} | {cfg.train.profile} | {cfg.model} | {k} | "
            f"{scored} | {c.phase} | {len(c.rounds)} | {c.rounds[-1].n_labeled} | "
            f"{c.stop_reason or ''} |"
        )
    if data.skipped:
        lines += ["", f"Not shown (no finished round yet): {', '.join(data.skipped)}."]

    lines += ["", "## Learning curves", "", f"![learning curves]({figures['curves']})", ""]
    lines += _accuracy_table(data)
    lines += estimates_section(project, data.runs)
    lines += ["", "## Label savings", ""]
    if not data.savings:
        lines.append(f"No comparison: it needs a `{BASELINE}` run and a guided run.")
    for strategy, rows in data.savings.items():
        lines += [
            f"**{headline(strategy, rows)}.**",
            "",
            f"For each {BASELINE} budget B: the labels {strategy} needs to reach {BASELINE}'s "
            f"mean {data.metric} accuracy at B, read off its mean curve between the two budgets "
            "around the crossing (linear in log2 labels; '<=' where its smallest budget is there "
            "already), and the factor B / those labels.",
            "",
            f"| {BASELINE} budget B | {BASELINE} mean (%) | {strategy} labels | first "
            f"{strategy} budget there | its mean (%) | savings factor |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for s in rows:
            reached = s.guided_labels is not None
            guided = ((('<= ' if s.at_most else '') + f'{s.guided_labels:.0f}') if reached
                      else 'not reached')
            lines.append(
                f"| {s.random_budget} | {_pct(s.random_accuracy)} | "
                f"{guided} | "
                f"{s.guided_budget if reached else ''} | {_pct(s.guided_accuracy)} | "
                f"{'' if s.factor is None else ('>= ' if s.at_most else '') + f'{s.factor:.2g}'} |"
            )
        lines.append("")

    lines += ["", "## Class distribution of the labeled set", "",
              f"![class distribution]({figures['classes']})", ""]
    lines += _class_table(data, ClassList.read(project.store))

    lines += ["", "## Most and least confusing images", ""]
    if shown is None:
        why = ("no guided run" if chosen is None
               else f"run {chosen.name} has no finished scoring pass yet")
        lines.append(f"No galleries: {why}.")
    elif "most" not in figures:
        lines.append(f"No galleries: the pass of run {shown.run}, round {shown.round} scored "
                     "no images.")
    else:
        score_name = chosen.config.score.strategy if chosen else "score"
        lines += [
            f"Run {shown.run}, round {shown.round}: the scoring pass after training on that "
            f"round's labeled set, {shown.n_scored} images scored ({score_name}; higher = more "
            "confusing). Captions: score and true class.",
            "",
            f"Most confusing (top {len(shown.most)}, scores {shown.most[0].score:.3f} to "
            f"{shown.most[-1].score:.3f}; classes: {_class_counts(shown.most, project.classes)}):",
            "",
            f"![most confusing]({figures['most']})",
            "",
            f"Least confusing (bottom {len(shown.least)}, scores {shown.least[0].score:.3f} to "
            f"{shown.least[-1].score:.3f}; classes: "
            f"{_class_counts(shown.least, project.classes)}):",
            "",
            f"![least confusing]({figures['least']})",
        ]
    lines.append("")
    return "\n".join(lines)


def _accuracy_table(data: ReportData) -> list[str]:
    budgets = sorted({b for c in data.runs for b in c.curve})
    means = {s: {p.budget: p for p in pts} for s, pts in data.groups.items()}
    multi = [s for s, pts in data.groups.items() if max(p.n for p in pts) > 1]  # pts never empty
    head = ["labeled"] + [c.name for c in data.runs] + [f"{s} mean ± std" for s in multi]
    lines = [
        f"{data.metric.capitalize()} accuracy (%) per labeled count (budget) and run"
        + (", and per strategy the mean ± sample std over its runs (n where fewer runs got "
           "there):" if multi else ":"),
        "",
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---:" for _ in head) + " |",
    ]
    most = {s: max(p.n for p in pts) for s, pts in data.groups.items()}
    for b in budgets:
        cells = [str(b)] + [_pct(c.curve.get(b)) for c in data.runs]
        for s in multi:
            p = means[s].get(b)
            if p is None:
                cells.append("")
            else:
                n = f" (n={p.n})" if p.n < most[s] else ""
                cells.append(f"{100 * p.mean:.2f} ± {100 * p.std:.2f}{n}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _class_table(data: ReportData, class_list: ClassList) -> list[str]:
    classes = class_list.live_names
    if len(classes) > 20:
        return [f"({len(classes)} classes: the per-class table is left out; see the figure.)"]
    lines = [
        "Share of each class in the labeled set (%), mean over the run's rounds (the last bar "
        "of each panel), and the most/least frequent class ratio of the final labeled set:",
        "",
        "| run | " + " | ".join(str(c) for c in classes) + " | max/min at the end |",
        "| --- | " + " | ".join("---:" for _ in classes) + " | ---: |",
    ]
    for c in data.runs:
        hists = _class_hists(c, class_list)
        if not hists:
            continue
        mean = class_shares(hists).mean(axis=0)
        last = np.asarray(hists[-1], dtype=np.float64)
        ratio = "∞" if last.min() == 0 else f"{last.max() / last.min():.2f}"
        lines.append(f"| {c.name} | " + " | ".join(f"{100 * v:.1f}" for v in mean)
                     + f" | {ratio} |")
    return lines


def _class_name(label: int | None, classes: Sequence[str]) -> str:
    return classes[label] if label is not None and 0 <= label < len(classes) else "?"


def _class_counts(entries: Sequence[GalleryItem], classes: Sequence[str]) -> str:
    counts: dict[str, int] = {}
    for entry in entries:
        name = _class_name(entry.truth, classes)
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{k}×{v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
