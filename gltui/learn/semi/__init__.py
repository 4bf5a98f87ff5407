"""Semi-supervised training of one round: the labeled images and the unlabeled pool together.

Shaped like Microsoft's USB (unified semi-supervised learning benchmark): one algorithm per file
behind one small interface (`base.Algorithm`: an unsupervised loss on the student's logits of a
strong view given the teacher's probabilities of a weak view, plus the state it keeps), registered
here by name, and one training loop for all of them (`train.fit_semi`), which mirrors
`learn/train.fit`: fresh seeded weights (or a previous round's, `init=`), every draw of epoch e
seeded from derive_seed(seed, "epoch", e), `on_epoch(report, make_checkpoint)` that may cancel,
`resume=checkpoint` bit-identical on the CPU.

    __init__.py    the algorithm registry (the knobs: config.SemiConfig; the net: models "small")
    train.py       fit_semi: the loop (EMA teacher, labeled + unlabeled batches, checkpoints)
    base.py        Algorithm: the interface, distribution alignment shared by all
    fixmatch.py    FixMatch (Sohn et al. 2020): hard pseudo-labels above a fixed confidence
    freematch.py   FreeMatch (Wang et al. 2023): self-adaptive global and per-class thresholds
    flexmatch.py   FlexMatch (Zhang et al. 2021): per-class thresholds from learning status
    meanteacher.py Mean Teacher (Tarvainen & Valpola 2017): MSE to the EMA teacher, no mask
    pseudolabel.py Pseudo-Label (Lee 2013): hard labels above a threshold on a second weak view
    supervised.py  the labels-only baseline through the same loop (no unlabeled forward)
    strong.py      the strong augmentation: geometry + intensity ops + cutout, batched, seeded

Importing this package is cheap (no torch): the algorithm classes and `fit_semi` load on use.
"""

from __future__ import annotations

import importlib

from gltui.config import SEMI_PROFILES as PROFILES
from gltui.config import SemiConfig, semi_config

# name -> "module:Class", imported on first use (see `algorithm_class`).
ALGORITHMS: dict[str, str] = {
    "fixmatch": "gltui.learn.semi.fixmatch:FixMatch",
    "freematch": "gltui.learn.semi.freematch:FreeMatch",
    "flexmatch": "gltui.learn.semi.flexmatch:FlexMatch",
    "meanteacher": "gltui.learn.semi.meanteacher:MeanTeacher",
    "pseudolabel": "gltui.learn.semi.pseudolabel:PseudoLabel",
    "supervised": "gltui.learn.semi.supervised:Supervised",
}


def algorithm_class(name: str):
    """The Algorithm subclass registered as `name` (imported on first use)."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown semi-supervised algorithm {name!r}; choose one of "
                         f"{', '.join(ALGORITHMS)}")
    module, cls = ALGORITHMS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def register(name: str, target: str) -> None:
    """Add an algorithm: `target` is "package.module:Class", a subclass of base.Algorithm."""
    ALGORITHMS[name] = target


def __getattr__(name: str):  # lazy: `from gltui.learn.semi import fit_semi` imports torch only then
    if name in ("fit_semi", "SemiEpochReport"):
        return getattr(importlib.import_module("gltui.learn.semi.train"), name)
    raise AttributeError(name)


__all__ = ["ALGORITHMS", "PROFILES", "SemiConfig", "algorithm_class", "fit_semi", "register",
           "semi_config"]
