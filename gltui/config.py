"""Every knob of gltui in one place. Each default carries a one-line reason.

A run's Config is stored as JSON in the project DB (`runs.config`), so a resumed run uses exactly
the settings it started with. Profiles are named sets of training defaults: `paper` is the
faithful protocol, `quick` is sized for 2 CPU cores, `tiny` exists for tests.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

VERSION = "0.1.0"  # gltui's version (pyproject.toml says the same; model.json records it)


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

    def steps_per_epoch(self, n: int) -> int:
        """train.fit's steps an epoch on `n` images: whole batches of min(batch_size, n), and at
        least min_steps_per_epoch (a 20-image set would otherwise take one step an epoch)."""
        return max(-(-n // min(self.batch_size, n)), self.min_steps_per_epoch)


@dataclass(frozen=True)
class StrategyInfo:
    """What a selection strategy is, in words every view uses (learn/score.py computes it)."""

    name: str
    score_name: str  # what a score is, short, e.g. "mean RDE"
    described: str  # the same in words, e.g. "mean response-distribution entropy"
    unit: str  # the score's unit ("bits", or "" for a plain number)
    uses_k: bool  # scores k augmented copies (the `k` knob applies)
    ranks_by_model: bool  # False: its scores are random draws (no model, nothing "confusing")

    def score_text(self, score: float, digits: int = 3) -> str:
        """A score with its unit, as a view shows it: "1.234 bits"."""
        return f"{score:.{digits}f}{f' {self.unit}' if self.unit else ''}"

    def gallery_title(self, most: bool) -> str:
        """A gallery side's title: "Most confusing: highest mean RDE"."""
        return (f"{'Most' if most else 'Least'} confusing: {'highest' if most else 'lowest'} "
                f"{self.score_name}")


# Every selection strategy, in one table that the CLI, the project, the scorer (learn/score.py
# implements each; a test keeps the two in step) and every view read. Nothing else names them.
STRATEGY_INFO: dict[str, StrategyInfo] = {s.name: s for s in (
    StrategyInfo("rde", "mean RDE", "mean response-distribution entropy", "bits", uses_k=True,
                 ranks_by_model=True),
    StrategyInfo("random", "random draw", "a uniform random draw", "", uses_k=False,
                 ranks_by_model=False),
    StrategyInfo("entropy", "entropy", "softmax entropy of the image", "bits", uses_k=False,
                 ranks_by_model=True),
    StrategyInfo("margin", "1 - margin", "one minus the top-2 probability margin", "",
                 uses_k=False, ranks_by_model=True),
    StrategyInfo("least-confidence", "1 - top probability", "one minus the top probability",
                 "", uses_k=False, ranks_by_model=True),
    StrategyInfo("bald", "BALD", "mutual information over augmented dropout samples", "bits",
                 uses_k=True, ranks_by_model=True),
)}
STRATEGIES = tuple(STRATEGY_INFO)
# How a run's seed set is drawn (project/runs.create_run): the typical images of the pool's
# regions, far from each other (learn/select.select_seed), or uniformly at random
SEED_DRAWS = ("far", "random")
BASELINE_STRATEGY = "random"  # what every guided strategy is compared with


def default_strategy(semi: bool) -> str:
    """The guided strategy of a run created without one. Labels-only rounds: the paper's rde.
    Rounds that also learn from the unlabeled pool: margin, which kept level with random where
    rde fell behind it (docs/results/mnist-semi.md: guided - random at 80 / 160 labels, mean of
    3 MNIST seeds, margin -0.34 / -0.01 points, rde -0.79 / -0.81; grey shapes, seed 0, margin
    +5.2 / +0.9 / +0.2 at 80 / 160 / 320, rde -4.3 / -3.1 / -2.5)."""
    return "margin" if semi else "rde"


def default_explore(semi: bool) -> str:
    """How a new run's explored share is drawn when `--explore` is not given: far with
    semi-supervised rounds (docs/results/mnist-semi.md), at random with labels-only rounds, the
    recipe their results were measured with (docs/results/recipe.md)."""
    return "far" if semi else "random"


def strategy_info(name: str) -> StrategyInfo:
    """The strategy's description; ValueError naming the choices for an unknown name."""
    if name not in STRATEGY_INFO:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    return STRATEGY_INFO[name]


@dataclass
class ScoreConfig:
    # rde (paper) | random | entropy | margin | least-confidence | bald; a new run's comes from
    # default_strategy unless it names one
    strategy: str = "rde"
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
    # How that share is drawn: "far" (the typical images of the pool's regions farthest from
    # every labeled image, in the round model's features: learn/select.select_far) or "random".
    explore: str = "far"


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
    # The kappa the rule asks for; 0 = each round's own agreement with an augmented view of the
    # stop set (learn/stopping.py: a fixed 0.99 never fired on MNIST, docs/results/stopping.md).
    stable_kappa: float = 0.0
    stop_set: int = 1000  # images in the project's stop set (drawn once; whole pool if smaller)
    # Cold start: while the labeled set is smaller than this, queues are drawn at random (the
    # draw a random run of the same seed makes). A model of 20 labels finds atypical images
    # "confusing"; measured in docs/results/recipe.md. 0 = guided from the first queue (the paper).
    warm_start: int = 40


@dataclass
class SemiConfig:
    """Every knob of a semi-supervised round. Defaults: the benchmark profile measured in
    docs/results/semi_methods.md (MNIST dev split, checked on grey-shapes)."""

    enabled: bool = True  # learn from the unlabeled pool too (`--semi on|off`); off: labels only
    profile: str = "bench"  # bench | person | demo | tiny: SEMI_PROFILES (the fields below: bench)
    # see ALGORITHMS; best of 5 on the MNIST dev split (semi_methods.md)
    algorithm: str = "flexmatch"
    # the small BN net (learn/models.py): ~15x the paper net's images/s on a CPU
    model: str = "small"
    epochs: int = 48  # x steps_per_epoch = 2,400 steps: ~4-6 min on 1 CPU thread (bench profile)
    warm_epochs: int = 16  # epochs when `init` (the previous round's weights) is given: a third
    # ... but only once the previous round had this many labels: a model of 20 labels can be
    # confidently wrong, and a warm start carries that on (MNIST, seed 0: 82 % at 20 labels, then
    # 91.7 % warm at 40, where a fresh round of 40 random labels reaches 98.5-99.3 %; from a
    # 40-label model, 98.97 -> 98.96 -> 99.06 % warm at 80 and 160: semi_methods.md).
    warm_from: int = 40
    # an epoch is a unit of progress and checkpoints, not a pass over the pool
    steps_per_epoch: int = 50
    batch_size: int = 64  # labeled images per step (drawn with whole permutations, like fit)
    uratio: int = 4  # unlabeled images per step = uratio * batch_size (FixMatch's mu)
    lr: float = 3e-3  # Adam's peak learning rate
    optimizer: str = "adam"  # adam | sgd (nesterov, momentum 0.9); Adam converges in fewer steps
    weight_decay: float = 5e-4  # L2 on weights (AdamW-style decoupled for adam), FixMatch's value
    warmup_steps: int = 100  # linear learning-rate warm-up, then cosine decay to lr * min_lr_ratio
    min_lr_ratio: float = 0.05  # cosine floor: the last epochs still learn a little
    lambda_u: float = 1.0  # weight of the unsupervised loss (FixMatch's)
    # linear ramp of lambda_u from 0 (Mean Teacher needs one; FixMatch's mask suffices)
    unsup_warmup_steps: int = 0
    # confidence a pseudo-label needs (FixMatch's tau; FlexMatch's upper bound)
    threshold: float = 0.95
    # soft targets are sharpened by this temperature (hard labels ignore it)
    temperature: float = 1.0
    hard_labels: bool = True  # argmax targets (FixMatch) rather than sharpened soft ones
    dist_align: bool = True  # ReMixMatch's distribution alignment of the teacher's probabilities
    ema: float = 0.99  # decay of the EMA teacher (short CPU runs: 0.999 lags hundreds of steps)
    teacher: str = "ema"  # ema | student: whose weak-view predictions are the targets
    eval_ema: bool = True  # the returned model is the EMA teacher (smoother, better calibrated)
    # the weak view: an augment.py preset (auto: grey for 1 channel, colour for 3)
    weak: str = "auto"
    strong: str = "auto"  # strong.py preset: auto = "default" (geometry + 2 intensity ops + cutout)
    mu: float = 0.3  # class weights of the labeled loss, as fit: max(ln(mu * t / n_c), 1)
    patience: int = 0  # with a validation set: epochs without improvement before stopping; 0 = off
    val_batch_size: int = 1024  # evaluation is forward-only: larger batches are cheaper
    # auto | on | off: bf16 autocast of the steps where the CPU/GPU does it natively (~1.2-1.5x)
    bf16: str = "auto"
    # small net's first-stage channels: 16 plateaued at 98.9 % (160 labels, dev), 24 at 99.0
    width: int = 24
    # Unlabeled images a round may learn from, drawn at random per round from the pool (never
    # the audit, stop, validation or test images): a million-image pool is not copied whole.
    max_unlabeled: int = 60_000

    def replace(self, **changes) -> "SemiConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Named semi-supervised settings (docs/results/semi_methods.md): `bench` the benchmark's round
# (about 5-6 min on 1 CPU thread), `person` a person's round on a ~3,000-image pool (about 1.5 min
# on 2 threads), `demo` the sample demo's, `tiny` for tests.
SEMI_PROFILES: dict[str, dict] = {
    "bench": dict(epochs=48, warm_epochs=16),
    "person": dict(epochs=16, warm_epochs=8),
    # the demo: 4 (2 warm) epochs, 2 unlabeled images per labeled one: 2.7 min for both runs on
    # the 2-core AMD EPYC, where 3 warm epochs took 3.8-4.1 min (README, "The sample demo")
    "demo": dict(epochs=4, warm_epochs=2, uratio=2),
    "tiny": dict(epochs=2, warm_epochs=1, steps_per_epoch=3, batch_size=8, uratio=2,
                 warmup_steps=2, width=8),
}


# The semi-supervised profile a training profile implies (a round's length goes with it), unless
# `--semi-profile` says otherwise.
SEMI_FOR_PROFILE = {"quick": "person", "paper": "bench", "tiny": "tiny"}

# `gltui check`'s cross-fitting (learn/label_issues.py): each of CHECK_FOLDS models trains on
# the other folds' labels; below CHECK_MIN_PER_FOLD labels a fold, a fold's model says little.
CHECK_FOLDS, CHECK_MIN_PER_FOLD = 4, 10


def semi_config(profile: str = "bench", **changes) -> SemiConfig:
    """The SemiConfig of a profile (SEMI_PROFILES), with `changes` on top."""
    if profile not in SEMI_PROFILES:
        raise ValueError(f"unknown semi profile {profile!r}; choose one of "
                         f"{', '.join(SEMI_PROFILES)}")
    return SemiConfig(profile=profile, **{**SEMI_PROFILES[profile], **changes})




@dataclass
class Config:
    model: str = "auto"  # mnist | cifar | auto (mnist net for 1 channel, cifar net for 3)
    seed: int = 0  # every random draw derives from (seed, round, phase, epoch|chunk)
    device: str = "auto"  # auto | cpu | cuda | mps
    train: TrainConfig = field(default_factory=TrainConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    semi: SemiConfig = field(default_factory=lambda: semi_config("person"))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def strategy_at(self, n_labeled: int) -> str:
        """The strategy that ranks a scoring pass made with n_labeled labels: the baseline's
        random draws below the warm start (not confusion), else the run's own."""
        return BASELINE_STRATEGY if n_labeled < self.loop.warm_start else self.score.strategy

    def ranks_at_random(self, n_labeled: int) -> bool:
        """Whether a pass made with n_labeled labels ranks at random (no model's confusion)."""
        return not strategy_info(self.strategy_at(n_labeled)).ranks_by_model

    @classmethod
    def from_json(cls, text: str) -> "Config":
        raw = json.loads(text)
        return cls(
            model=raw.get("model", "auto"),
            seed=raw.get("seed", 0),
            device=raw.get("device", "auto"),
            train=_known(TrainConfig, raw.get("train", {})),
            score=_known(ScoreConfig, {"balance": False, "random_share": 0.0,
                                       "explore": "random", **raw.get("score", {})}),
            # A run saved before warm starts, balanced picks and far shares goes on as it started.
            loop=_known(LoopConfig, {"warm_start": 0, **raw.get("loop", {})}),
            # ... and one saved before semi-supervised rounds trains on its labels only.
            semi=_known(SemiConfig, {"enabled": False, **raw.get("semi", {})}),
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
        raise ValueError(f"unknown {noun or what} {value!r}; choose auto or one of "
                         f"{', '.join(choices)}")
    return value


# Training profiles. `paper` follows the paper (Adam lr 0.01, patience 100); `quick` finishes a
# sample-data round in well under a minute on 2 CPU cores; `tiny` is for tests and CI only.
PROFILES: dict[str, dict] = {
    "paper": dict(lr=0.01, batch_size=32, max_epochs=1000, patience=100, min_steps_per_epoch=1),
    "quick": dict(lr=1e-3, batch_size=64, max_epochs=40, patience=6, min_steps_per_epoch=20),
    "tiny": dict(lr=1e-2, batch_size=16, max_epochs=6, patience=6, min_steps_per_epoch=10),
}
# The network a profile trains when the run's model is `auto` (else the preset's): `tiny` trains
# the small BN net, ~8x the paper net's images/s on a CPU, so a test's round takes a second or two
# (the small project's 2-round reference run: 26.5 s with the paper net, 10.8 s with this one).
PROFILE_MODEL = {"tiny": "small"}


def train_config(profile: str, **overrides) -> TrainConfig:
    """The TrainConfig of a named profile, with explicit overrides on top."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return TrainConfig(profile=profile, **{**PROFILES[profile], **overrides})
