"""Argument types and shared options of the command line: each type parses one value or refuses
it with one line (argparse's error, or UsageError; cli.main turns both into exit 2). No project
code here."""

from __future__ import annotations

import argparse
from pathlib import Path

from gltui.config import PROFILES, SEMI_PROFILES, STRATEGIES
from gltui.data.classes import check_class_names
from gltui.errors import ProjectError


class UsageError(ProjectError):
    """Bad usage found after parsing: exit 2 with one line."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (with where to look) and exit 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UsageError(f"{message} (see `{self.prog} --help`)")


INT64 = 2**63  # the project database stores whole numbers in 64 signed bits


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    if value >= INT64:
        raise argparse.ArgumentTypeError(f"{text!r} is too large (at most {INT64 - 1})")
    return value


def seed(text: str) -> int:
    """A seed: any whole number the project database can store."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not -INT64 <= value < INT64:
        raise argparse.ArgumentTypeError(f"{text!r}: a seed is a whole number from {-INT64} to "
                                         f"{INT64 - 1}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def share(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a share in [0, 1]")
    return value


def rate(text: str) -> float:
    """--fps: refreshes a second, above 0 (a finite number: inf and nan are not rates)."""
    value = _number(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a rate above 0, e.g. 10")
    return value


def accuracy(text: str) -> float:
    value = _number(text)
    if value > 1 and value <= 100:
        value /= 100  # 98 means 98 %
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give an accuracy in (0, 1] or a percentage")
    return value


def size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
        assert h > 0 and w > 0
    except (ValueError, AssertionError):
        raise argparse.ArgumentTypeError(f"{text!r}: give a size as HxW, e.g. 28x28") from None
    return h, w


def class_names(text: str) -> list[str]:
    """--classes a,b,c: names in label order (data/classes.py checks them)."""
    try:
        return check_class_names(text.split(","))
    except ProjectError as err:
        raise argparse.ArgumentTypeError(f"--classes: {err}; give names as a,b,c") from None


def classes_file(path: Path) -> list[str]:
    """--classes-file FILE: one class name a line (blank lines and # comments skipped)."""
    import stat

    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):  # a FIFO or a device would block or never end
            raise UsageError(f"--classes-file {path}: not a regular file; give a text file with "
                             "one class name a line")
        if path.stat().st_size > 4 << 20:
            raise UsageError(f"--classes-file {path}: larger than 4 MB; give a text file with one "
                             "class name a line")
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as err:
        raise UsageError(f"--classes-file {path}: cannot read it ({err.strerror or err}); give a "
                         "text file with one class name a line") from None
    except UnicodeDecodeError as err:
        raise UsageError(f"--classes-file {path}: not UTF-8 text (byte {err.start}); save it as "
                         "UTF-8 with one class name a line") from None
    names = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not names:
        raise UsageError(f"--classes-file {path}: holds no class names; write one name a line")
    try:
        return check_class_names(names)  # a comma inside a line is refused, not split
    except ProjectError as err:
        raise UsageError(f"--classes-file {path}: {err}") from None


def at_least_one(text: str) -> int:
    value = positive(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def schedule(text: str) -> str:
    if text == "exponential":
        return text
    if text.startswith("fixed:") and text[6:].isdigit() and int(text[6:]) > 0:
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: use exponential or fixed:N (N > 0)")


def add_loop_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", choices=STRATEGIES,
                   help="selection strategy (a new project's default: margin with "
                   "semi-supervised rounds, rde, the paper's, without)")
    p.add_argument("--max-rounds", type=positive,
                   help="stop after N training rounds (0 = no limit: lifts a stored one)")
    p.add_argument("--schedule", type=schedule, help="exponential (default) or fixed:N")
    p.add_argument("--budget", type=positive,
                   help="stop once N images are labeled (0 = no limit: lifts a stored one)")
    p.add_argument("--target-accuracy", type=accuracy, help="stop at this validation accuracy")
    p.add_argument("--stop-when-stable", type=at_least_one, metavar="K",
                   help="stop once the predictions on the stop set agree with the previous "
                   "round's (Cohen's kappa >= --stable-kappa) K rounds in a row")
    p.add_argument("--stable-kappa", type=share, metavar="X",
                   help="the kappa --stop-when-stable asks for (default: each round's own "
                   "agreement with an augmented view of the stop set; a fixed 0.99 never fired "
                   "on MNIST: docs/results/stopping.md)")
    p.add_argument("--k", type=at_least_one,
                   help="augmented copies per image for rde (default 8)")
    p.add_argument("--warm-start", type=positive, metavar="N",
                   help="queues drawn at random while fewer than N images are labeled "
                   "(default 40; 0 = guided from the first queue, as in the paper)")
    p.add_argument("--random-share", type=share, metavar="F",
                   help="share of each guided queue that explores (default 0.5; 0 = the paper)")
    p.add_argument("--explore", choices=("far", "random"),
                   help="how that share is drawn: far (the typical images of the pool's "
                   "regions farthest from every labeled image; the default with --semi on) or "
                   "random (the default with --semi off)")
    p.add_argument("--balance", action=argparse.BooleanOptionalAction,
                   help="cap guided picks per predicted class (default on; off = the paper)")
    p.add_argument("--candidates", type=positive,
                   help="score a random subset of N pool images per round (0 = all)")
    p.add_argument("--chunk-size", type=at_least_one,
                   help="images per scoring chunk (default 2048)")
    p.add_argument("--profile", choices=list(PROFILES), help="training profile")
    p.add_argument("--semi", type=on_off, metavar="on|off",
                   help="learn from the unlabeled pool too (semi-supervised rounds; default on)")
    p.add_argument("--semi-profile", choices=list(SEMI_PROFILES),
                   help="length of a semi-supervised round: person (default, ~1.5 min on 2 "
                   "cores for 3,000 images), bench (the MNIST benchmark's), demo, tiny")


def on_off(text: str) -> bool:
    if text in ("on", "off"):
        return text == "on"
    raise argparse.ArgumentTypeError(f"{text!r}: use on or off")


def strategy_list(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in STRATEGIES]
    if not items or bad:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give comma-separated strategies from {', '.join(STRATEGIES)}")
    return list(dict.fromkeys(items))


def seed_list(text: str) -> list[int]:
    try:
        items = [seed(t) for t in text.split(",") if t.strip()]
    except argparse.ArgumentTypeError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated seeds ({err})") from None
    if not items:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least one seed")
    return list(dict.fromkeys(items))


def add_class_change_options(p: argparse.ArgumentParser) -> None:
    """`gltui classes`: at most one change (none lists the classes)."""
    change = p.add_mutually_exclusive_group()
    change.add_argument("--add", metavar="NAME", help="a new class (the next round learns it)")
    change.add_argument("--rename", nargs=2, metavar=("OLD", "NEW"), help="rename a class")
    change.add_argument("--merge", nargs=2, metavar=("A", "B"),
                        help="fold class A into class B: every label of A becomes B")
