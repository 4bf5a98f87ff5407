"""Every knob of gltui in one place. Each default carries a one-line reason.

A run's Config is stored as JSON in the project DB (`runs.config`), so a resumed run uses exactly
the settings it started with. Profiles are named sets of training defaults: `paper` is the
faithful protocol, `quick` is sized for 2 CPU cores, `tiny` exists for tests.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field


@dataclass
class TrainConfig:
    profile: str = "quick"  # results always say which profile produced them
    lr: float = 1e-3  # paper: 0.01 with Adam; 1e-3 converges more reliably with few epochs
    batch_size: int = 64  # small labeled sets: enough steps per epoch at the first rounds
    max_epochs: int = 40  # upper bound per round so a CPU round ends in minutes
    patience: int = 6  # early stopping on validation accuracy (paper: 100)
    min_steps_per_epoch: int = 20  # tiny labeled sets (20 images) still take real steps each epoch
    mu: float = 0.3  # class weight: max(ln(mu * t / n_c), 1)  (paper)
    augment: str = "auto"  # digits | grey | colour | none | auto (grey for 1 channel, colour for 3)
    val_batch_size: int = 1024  # evaluation is forward-only: larger batches are cheaper


# Every selection strategy by name: the one list the CLI, the project and the scorer check against
# (learn/score.py implements each; a test keeps the two in step).
STRATEGIES = ("rde", "random", "entropy", "margin", "least-confidence", "bald")


@dataclass
class ScoreConfig:
    strategy: str = "rde"  # rde (paper) | random | entropy | margin | least-confidence | bald
    k: int = 8  # augmented copies per image for rde
    chunk_size: int = 2048  # images per scoring chunk: the unit of progress and of resume
    candidates: int = 0  # score a random subset of this many pool images (0 = the whole pool)
    # At most ceil(n / classes) picks per predicted class, highest score first (0 = plain top-n,
    # the paper's). rde alone starves the classes a weak model finds easy: recipe.md measures it.
    balance: bool = True
    # This share of each guided queue is drawn at random from the other candidates (0 = all
    # guided, the paper's). Guided picks alone fell 9-11 points behind random at 640 labels on
    # a grey set of shapes, where a weak model's "most confusing" images are the unreadable ones.
    random_share: float = 0.5


# A person's project (images without labels) gets queues of one size, sized for a sitting,
# instead of the paper's doubling (20 -> 40 -> 80 -> 160 ...), which hands a person ever longer
# queues and ever longer waits. Oracle experiments keep doubling. docs/results/schedule.md
# measures what it costs in labels.
PERSON_SCHEDULE = "fixed:40"


@dataclass
class LoopConfig:
    schedule: str = "exponential"  # exponential (label as many as labeled: the paper) | fixed:N
    max_rounds: int = 0  # 0 = no limit
    budget: int = 0  # total labels (seed included); 0 = no limit
    target_accuracy: float = 0.0  # stop once validation accuracy reaches it; 0 = off
    # Stabilizing predictions (Bloodgood & Vijay-Shanker 2009): stop once Cohen's kappa between
    # consecutive rounds' predictions on the stop set is >= stable_kappa this many rounds in a row.
    stable_rounds: int = 0  # 0 = off; needs no labels, so a person's project can use it
    stable_kappa: float = 0.99  # the paper's threshold: at most ~1 % of the stop set still changes
    stop_set: int = 1000  # images in the project's stop set (drawn once; whole pool if smaller)
    # Cold start: while the labeled set is smaller than this, queues are drawn at random (the
    # draw a random run of the same seed makes). A model of 20 labels finds atypical images
    # "confusing"; measured in docs/results/recipe.md. 0 = guided from the first queue (the paper).
    warm_start: int = 40


@dataclass
class Config:
    model: str = "auto"  # mnist | cifar | auto (mnist net for 1 channel, cifar net for 3)
    seed: int = 0  # every random draw derives from (seed, round, phase, epoch|chunk)
    device: str = "auto"  # auto | cpu | cuda | mps
    train: TrainConfig = field(default_factory=TrainConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def strategy_at(self, n_labeled: int) -> str:
        """The strategy that ranks a scoring pass made with n_labeled labels: "random" below the
        warm start (its scores are random draws, not confusion), else the run's own."""
        return "random" if n_labeled < self.loop.warm_start else self.score.strategy

    @classmethod
    def from_json(cls, text: str) -> "Config":
        raw = json.loads(text)
        return cls(
            model=raw.get("model", "auto"),
            seed=raw.get("seed", 0),
            device=raw.get("device", "auto"),
            train=_known(TrainConfig, raw.get("train", {})),
            score=_known(ScoreConfig, {"balance": False, "random_share": 0.0,
                                       **raw.get("score", {})}),
            # A run saved before warm starts and balanced picks existed goes on as it started.
            loop=_known(LoopConfig, {"warm_start": 0, **raw.get("loop", {})}),
        )


def _known(kind, values: dict):
    names = {f.name for f in dataclasses.fields(kind)}
    return kind(**{k: v for k, v in values.items() if k in names})


# Presets: a net and augmentation for a kind of image, and the input shape (C, H, W) that images
# of mixed sizes or modes are converted to. Without a preset (`auto`), the first image's channel
# count picks one: grey -> grey, colour -> cifar10. `mnist` is the paper's digit set-up (elastic
# distortion, shear, +-25 degrees): made for handwriting, it costs 20 points at 640 labels on a
# grey set of shapes (docs/results/recipe.md), so it is no grey set's default.
PRESETS: dict[str, dict] = {
    "mnist": dict(model="mnist", augment="digits", shape=(1, 28, 28)),
    "grey": dict(model="mnist", augment="grey", shape=(1, 28, 28)),
    "cifar10": dict(model="cifar", augment="colour", shape=(3, 32, 32)),
}


def auto_preset(channels: int) -> str:
    """What `auto` means: the grey set-up (the paper's MNIST net, mild augmentation) for grey
    images, CIFAR-10's for colour."""
    return "grey" if channels == 1 else "cifar10"


def input_shape(preset: str | None, channels: int) -> tuple[int, int, int]:
    """The shape a mixed dataset is converted to: the preset's, else by its first image."""
    return PRESETS[preset or auto_preset(channels)]["shape"]


def resolve_auto(what: str, value: str, choices, channels: int, noun: str | None = None) -> str:
    """`value`, or for "auto" the preset's `what` ("model" or "augment") for this channel count;
    a value not in `choices` is a ValueError naming them."""
    if value == "auto":
        return PRESETS[auto_preset(channels)][what]
    if value not in choices:
        raise ValueError(f"unknown {noun or what} {value!r}; choose auto or one of {', '.join(choices)}")
    return value


# Training profiles. `paper` follows the paper (Adam lr 0.01, patience 100); `quick` finishes a
# sample-data round in well under a minute on 2 CPU cores; `tiny` is for tests and CI only.
PROFILES: dict[str, dict] = {
    "paper": dict(lr=0.01, batch_size=32, max_epochs=1000, patience=100, min_steps_per_epoch=1),
    "quick": dict(lr=1e-3, batch_size=64, max_epochs=40, patience=6, min_steps_per_epoch=20),
    "tiny": dict(lr=2e-3, batch_size=32, max_epochs=4, patience=2, min_steps_per_epoch=5),
}


def train_config(profile: str, **overrides) -> TrainConfig:
    """The TrainConfig of a named profile, with explicit overrides on top."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return TrainConfig(profile=profile, **{**PROFILES[profile], **overrides})
