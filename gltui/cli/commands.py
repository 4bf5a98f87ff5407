"""Command line: argument parsing only. It calls the project/engine for headless work and the
TUI (imported only then) for interactive work.

    gltui init PROJECT --data SPEC [--test SPEC] [--val-size N] [--initial N] [--profile P] ...
    gltui run PROJECT [--oracle] [--run NAME] [--strategy S] [--max-rounds N] [--budget N] ...
    gltui status PROJECT [--json]
    gltui export PROJECT --format csv|jsonl|imagefolder|labelstudio|model --out PATH [--run NAME]
                 [--with-predictions [--min-confidence P]] [--originals] [--round R]
    gltui predict PROJECT [--run NAME] [--round R]
    gltui add PROJECT --data SPEC
    gltui classes PROJECT [--add NAME | --rename OLD NEW | --merge A B]
    gltui report PROJECT --out DIR
    gltui check PROJECT [--json] [--run NAME]   likely label mistakes, near-duplicates, leaks
    gltui PROJECT                 the TUI on that project
    gltui --oracle / gltui        headless run / TUI on the bundled sample project

Exit codes: 0 done, 1 failure (I/O and the like), 2 bad input or usage: one line on stderr
naming the problem and the fix, and nothing changed. 130 after Ctrl-C (state kept, resumable).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path

from gltui.cli.args import (
    Parser,
    UsageError,
    add_class_change_options,
    add_loop_options,
    class_names,
    classes_file,
    positive,
    rate,
    seed,
    size,
)
from gltui.cli.check import add_parser as add_check_parser
from gltui.cli.check import cmd_check
from gltui.cli.experiment import add_parser as add_experiment_parser
from gltui.cli.experiment import cmd_experiment, curves_and_savings
from gltui.config import PERSON_SCHEDULE, PRESETS, SEED_DRAWS, Config, default_explore, input_shape
from gltui.errors import shell_command

COMMANDS = ("init", "run", "status", "export", "report", "experiment", "predict", "add",
            "classes", "check")


def build_parser() -> dict[str, argparse.ArgumentParser]:
    parsers: dict[str, argparse.ArgumentParser] = {}
    p = Parser(prog="gltui init", description="Import a dataset into a new project.")
    p.add_argument("project", type=Path)
    p.add_argument("--data", required=True,
                   help="idx:DIR | cifar:DIR | folder:DIR | npz:FILE | npy:FILE")
    p.add_argument("--test", help="a separate test set SPEC (default: the data's own test split)")
    p.add_argument("--val-size", type=positive, help="validation images (default 10%%, ≤ 5000)")
    p.add_argument("--initial", type=positive, default=20, help="seed set size (default 20)")
    p.add_argument("--stratified", action="store_true", help="seed set balanced over classes")
    p.add_argument("--seed-draw", choices=SEED_DRAWS, default="far",
                   help="seed set: the typical images of the pool's regions, far from each "
                   "other (far, the default), or random")
    p.add_argument("--audit", type=positive, metavar="N",
                   help="random pool images set aside to estimate accuracy, never trained on "
                   "(default: 10%% of unlabeled images, at most 200; 0 where every label is known)")
    classes = p.add_mutually_exclusive_group()
    classes.add_argument("--classes", type=class_names,
                         help="class names a,b,c: a person labels the images (no labels needed)")
    classes.add_argument("--classes-file", type=Path, help="class names, one a line")
    p.add_argument("--preset", choices=tuple(PRESETS),
                   help="net, augmentation and input shape: grey (default for grey images), "
                   "mnist (handwriting: the paper's digit augmentation), cifar10 (colour)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--resize", type=size, help="resize every image to HxW")
    p.add_argument("--channels", type=int, choices=(1, 3), help="convert every image to C channels")
    p.add_argument("--force", action="store_true", help="replace an existing project")
    add_loop_options(p)
    parsers["init"] = p

    p = Parser(prog="gltui run", description="Drive a run: train, score, query, label.")
    p.add_argument("project", type=Path)
    p.add_argument("--oracle", action="store_true", help="label from the dataset's own labels")
    p.add_argument("--run", default="main", help="run name (a new name creates a run)")
    p.add_argument("--seed", type=seed, help="seed of a new run (default: the project's)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="default auto")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--distributed", action="store_true",
                   help="one process of a torchrun launch: scoring and training shared across "
                   "ranks (docs/distributed.md)")
    add_loop_options(p)
    parsers["run"] = p

    p = Parser(prog="gltui status", description="Phase, round, counts and learning curves.")
    p.add_argument("project", type=Path)
    p.add_argument("--json", action="store_true")
    parsers["status"] = p

    p = Parser(prog="gltui export",
                description="Write a run's labeled set (with its predictions for the rest), a "
                "Label Studio import file, or the round model.")
    p.add_argument("project", type=Path)
    p.add_argument("--format", required=True,
                   choices=("csv", "jsonl", "imagefolder", "labelstudio", "model"))
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--run", default="main")
    p.add_argument("--with-predictions", action="store_true",
                   help="also the unlabeled images, labeled by `gltui predict` (source predicted)")
    p.add_argument("--min-confidence", type=float, metavar="P",
                   help="with --with-predictions: leave out those below probability P (0-1)")
    p.add_argument("--originals", action="store_true",
                   help="imagefolder: copy the original files (folder: data), not the pixels")
    p.add_argument("--round", type=int, help="model: the round (default: the latest finished)")
    p.add_argument("--document-root", type=Path,
                   help="labelstudio: Label Studio's LOCAL_FILES_DOCUMENT_ROOT (default /)")
    parsers["export"] = p

    p = Parser(prog="gltui predict",
                description="Class, probability and rde score of every unlabeled pool image, by "
                "the round model; stored in the project for `export --with-predictions`.")
    p.add_argument("project", type=Path)
    p.add_argument("--run", default="main")
    p.add_argument("--round", type=int, help="the round's model (default: the latest finished)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="default auto")
    parsers["predict"] = p

    p = Parser(prog="gltui add", description="Add images to a project's pool (converted to its "
                "input shape; exact duplicates skipped).")
    p.add_argument("project", type=Path)
    p.add_argument("--data", required=True,
                   help="idx:DIR | cifar:DIR | folder:DIR | npz:FILE | npy:FILE")
    parsers["add"] = p

    p = Parser(prog="gltui classes", description="List the classes, or change the list: add "
                "one, rename one, or merge one into another (every verb reads the new list).")
    p.add_argument("project", type=Path)
    add_class_change_options(p)
    parsers["classes"] = p

    p = Parser(prog="gltui report", description="Learning curves and figures as report.md.")
    p.add_argument("project", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--round", type=int, help="round for the most/least confusing galleries")
    parsers["report"] = p

    add_experiment_parser(parsers)
    add_check_parser(parsers)

    p = Parser(
        prog="gltui",
        description="Guided labeling in the terminal. `gltui PROJECT` opens the TUI; "
        f"commands: {', '.join(COMMANDS)} (`gltui COMMAND --help`).",
    )
    p.add_argument("project", nargs="?", type=Path, help="project folder (default: the sample)")
    p.add_argument("--oracle", action="store_true",
                   help="headless: run the sample project (or PROJECT) to the end with the oracle")
    p.add_argument("--run", default="main")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--images", choices=("auto", "sixel", "tgp", "halfcell", "unicode", "none"),
                   default="auto", help="how the TUI draws images")
    p.add_argument("--fps", type=rate, default=None, help="TUI refresh limit for slow links")
    p.add_argument("--version", action="version", version=_version())
    parsers["main"] = p
    return parsers


def _version() -> str:
    from gltui.config import VERSION

    return f"gltui {VERSION}"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parsers = build_parser()
    command = argv[0] if argv and argv[0] in COMMANDS else "main"
    try:
        args = parsers[command].parse_args(argv[1:] if command != "main" else argv)
        code = COMMAND_FUNCS[command](args)
        sys.stdout.flush()  # a reader that went away shows here, inside the error boundary
        return code
    except UsageError as err:
        return _fail(f"gltui: {err}", 2)
    except BrokenPipeError:
        # the reader of the output went away (`gltui classes P | head -1`): no message, exit 1,
        # and the final flush goes nowhere (Python's recipe, and what rich does for the tables)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("gltui: interrupted; everything committed is kept — run the same command to resume",
              file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - map known errors to exit codes
        return _handle(err)


def _handle(err: Exception) -> int:
    """The CLI's error boundary: the project's own errors (gltui.errors: bad input, a busy,
    full, read-only or damaged project) are one line and exit 2; an OSError that escaped the
    layers below is one line and exit 1; anything else is a bug and keeps its traceback."""
    from gltui.errors import GltuiError

    if isinstance(err, GltuiError):
        return _fail(f"gltui: {err}", 2)
    if isinstance(err, OSError):
        where = f"{err.filename}: " if err.filename else ""
        return _fail(f"gltui: {where}{err.strerror or err}; check the path and free space", 1)
    if isinstance(err, sqlite3.Error):  # the store translates its own; a safety net
        return _fail(f"gltui: the project database failed: {err}; check that gltui.db and its "
                     "folder are writable and that the disk has space", 1)
    raise err


def _fail(message: str, code: int) -> int:
    print(message.splitlines()[0] if message else "gltui: error", file=sys.stderr)
    return code


# ---- commands: parse -> call -> print -----------------------------------------------------------


def cmd_init(args) -> int:
    from gltui import data
    from gltui.data.duplicates import scan
    from gltui.project import Project
    from gltui.project.runs import Knobs, merged

    base = Config(seed=args.seed)
    if args.preset:
        base.model, base.train.augment = (PRESETS[args.preset]["model"],
                                          PRESETS[args.preset]["augment"])
    config, _ = merged(base, Knobs.of(args))
    if args.explore is None:
        config.score.explore = default_explore(config.semi.enabled)
    if args.project.exists() and not args.project.is_dir():
        raise UsageError(f"{args.project}: is a file, not a project folder; give a folder path")
    classes = classes_file(args.classes_file) if args.classes_file else args.classes

    def conform(channels: int) -> tuple[int, int, int]:
        return input_shape(args.preset, channels)

    dataset = data.load(args.data, resize=args.resize, channels=args.channels, conform=conform,
                        classes=classes)
    if args.test:
        test = data.load(args.test, resize=args.resize, channels=args.channels, classes=classes,
                         conform=lambda _: (dataset.channels, dataset.height, dataset.width))
        dataset = dataset.with_test(test)
    warning = None
    if classes:
        dataset, warning = dataset.with_classes(classes)
    if not dataset.fully_labeled and args.schedule is None:
        config.loop.schedule = PERSON_SCHEDULE  # a person labels: queues sized for a sitting
    project = Project.init(
        args.project, dataset, config, val_size=args.val_size, initial=args.initial,
        stratified=args.stratified, seed_draw=args.seed_draw, strategy=args.strategy,
        force=args.force,
        audit=args.audit,
    )
    near = scan(project.pixels, seed=config.seed).note(str(args.project))  # a warning only
    for line in (dataset.note, warning, near):
        if line:
            print(f"gltui: {line}", file=sys.stderr)
    counts = project.store.count_items()
    print(
        f"created {args.project}: {counts.get('pool', 0)} pool, {counts.get('val', 0)} validation,"
        f" {counts.get('test', 0)} test images, "
        + (f"{counts['audit']} audit images (label them to estimate accuracy), "
           if counts.get("audit") else "")
        + f"{len(project.classes)} classes; run `main` "
        f"({project.store.run('main').strategy}, profile {config.train.profile}, "
        f"seed {config.seed})"
        + (f"; {skipped}" if (skipped := data.skipped_text(dataset.skipped)) else "")
    )
    for line in data.folder_lines(dataset.train.names, dataset.train.labels):
        print(f"  {line}")
    if project.has_true_labels():
        print(f"next: {shell_command('run', args.project, '--oracle')}   "
              f"(or `{shell_command(args.project)}` to label)")
    else:
        summary = project.summary("main")
        todo = f"; {summary.n_queued} seed images wait for labels" if summary.n_queued else ""
        print(f"next: {shell_command(args.project)}   (label the images in the TUI{todo})")
    project.close()
    return 0


def cmd_run(args) -> int:
    from gltui.cli.progress import ProgressView
    from gltui.project import Project
    from gltui.project.runs import Knobs
    from gltui.run import driver

    knobs = Knobs.of(args)
    view = ProgressView(enabled=not args.quiet)
    if args.distributed:
        with view:
            outcome = driver.drive_distributed(args.project, args.run, knobs, seed=args.seed,
                                             oracle=args.oracle, device=args.device,
                                             on_event=view.handle)
        if outcome is None:
            return 0  # a following rank: rank 0 reports
    with Project.open(args.project) as project:
        if not args.distributed:
            with view:
                outcome = driver.drive(project, args.run, knobs, seed=args.seed, oracle=args.oracle,
                                     device=args.device, on_event=view.handle)
        _print_outcome(project, args.run, outcome)
    return 0


def _print_outcome(project, run: str, outcome: str) -> None:
    summary = project.summary(run)
    if outcome == "label":
        print(f"run {run!r}: {summary.n_queued} images queued for labeling; "
              f"open them with `{shell_command(project.path)}`")
    else:
        print(f"run {run!r} done: {summary.stop_reason}")


def cmd_status(args) -> int:
    from gltui.project import Project
    from gltui.views.status import project_json

    with Project.open(args.project) as project:
        summaries = project.summaries()
        if args.json:
            print(json.dumps(project_json(project, summaries), indent=2))
        else:
            from gltui.views.tables import curve_table, status_table

            status_table(project, summaries)
            curve_table(summaries, project.store)
    return 0


def cmd_export(args) -> int:
    from gltui.outputs.export import export
    from gltui.project import Project

    notes: list[str] = []
    # a csv or jsonl of the labels reads gltui.db only: it works with pixels.npy lost
    with Project.open(args.project, need_pixels=args.format not in ("csv", "jsonl")) as project:
        n = export(project, args.run, args.format, args.out,
                   with_predictions=args.with_predictions, min_confidence=args.min_confidence,
                   originals=args.originals, document_root=args.document_root, round=args.round,
                   notes=notes)
    for note in notes:
        print(f"gltui: {note}", file=sys.stderr)
    what = "the round model" if args.format == "model" else f"{n} images"
    print(f"exported {what} of run {args.run!r} to {args.out}")
    return 0


def cmd_predict(args) -> int:
    from gltui.project import Project
    from gltui.run.driver import check_device

    check_device(args.device)
    with Project.open(args.project) as project:
        from gltui.outputs.predict import predict  # torch: loaded only to predict

        outcome = predict(project, args.run, args.round, device=args.device)
    print(outcome.line())
    return 0


def cmd_add(args) -> int:
    from gltui.project import Project
    from gltui.project.add import add_images

    with Project.open(args.project) as project:
        outcome = add_images(project, args.data)
    if outcome.note:
        print(f"gltui: {outcome.note}", file=sys.stderr)
    print(outcome.line())
    return 0


def cmd_classes(args) -> int:
    from gltui.project import Project, classes

    with Project.open(args.project) as project:
        if args.add is not None:
            print(classes.add_class(project, args.add).line)
        elif args.rename:
            print(classes.rename_class(project, *args.rename).line)
        elif args.merge:
            print(classes.merge_classes(project, *args.merge).line)
        else:
            print("\n".join(classes.describe(project)))
    return 0


def cmd_report(args) -> int:
    from gltui.outputs.report import write_report
    from gltui.project import Project

    with Project.open(args.project) as project:
        path = write_report(project, args.out, round=args.round)
    print(f"wrote {path}")
    return 0


def cmd_main(args) -> int:
    from gltui.cli.progress import ProgressView
    from gltui.project import Project
    from gltui.project.runs import check_run_name
    from gltui.run import driver
    from gltui.run.sample import BASELINE_RUN, drive_demo, ensure_sample_project
    from gltui.views.tables import curve_table

    if args.project is not None and not args.project.exists():
        raise UsageError(
            f"{args.project}: neither a command ({', '.join(COMMANDS)}) nor a project folder; "
            f"create a project with `{shell_command('init', args.project)} --data SPEC`"
        )
    # bad options are refused before the sample project is built (a refusal creates nothing)
    check_run_name(args.run)
    driver.check_device(args.device)
    path = args.project
    if path is None:
        path, created = ensure_sample_project()
        if created:
            print(f"created the sample project at {path}", file=sys.stderr)
    with Project.open(path):  # a bad project is reported here, before any UI starts
        pass
    if not args.oracle:
        from gltui.tui.app import run_app

        return run_app(path, run=args.run, images=args.images, fps=args.fps, device=args.device)
    with Project.open(path) as project:
        with ProgressView() as view:
            if args.project is None:  # the demo: guided, then random on the same seed set
                outcome = drive_demo(project, args.run, device=args.device, on_event=view.handle)
            else:
                outcome = driver.drive(project, args.run, oracle=True, device=args.device,
                                       on_event=view.handle)
        _print_outcome(project, args.run, outcome)
        print(f"project: {project.path}")
        if args.project is None:
            curves_and_savings(project, [args.run, BASELINE_RUN])
        else:
            curve_table(project.summaries(), project.store)
    return 0


COMMAND_FUNCS = {
    "init": cmd_init,
    "run": cmd_run,
    "status": cmd_status,
    "export": cmd_export,
    "report": cmd_report,
    "experiment": cmd_experiment,
    "predict": cmd_predict,
    "add": cmd_add,
    "classes": cmd_classes,
    "check": cmd_check,
    "main": cmd_main,
}


if __name__ == "__main__":
    raise SystemExit(main())
