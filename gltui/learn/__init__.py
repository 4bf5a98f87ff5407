"""The learning core: models, augmentation, training and scoring strategies.

    models.py    the paper's MNIST and CIFAR networks, a registry, `build_model`
    augment.py   batched kornia augmentation on the model's device, seeded by a torch.Generator
    train.py     `fit` from fresh weights: class-weighted loss, early stopping, resumable epochs
    optim.py     Adam / AdamW / SGD: torch.optim's updates without its classes (no torch._dynamo)
    score.py     strategies (rde, random, entropy, margin, least-confidence, bald), chunked and
                 resumable
    schedule.py  how many images a round labels (exponential as in the paper, or fixed)
    select.py    the queue policy: top-n by score, warm start, explored share, class balance
    semi/        semi-supervised rounds: the labeled set and the unlabeled pool in one fit
    calibrate.py temperature on augmented views of the labeled images (no extra labels), ECE
    stopping.py  kappa between rounds' predictions (the stop rule's signal), pure numpy
    label_issues.py  out-of-fold predictions of the labeled set: likely label mistakes
    distributed.py   torchrun: ranks, the shared scoring pass, DDP fit
    device.py    device choice, per-device generators, uint8 -> float on the device
    seeding.py   `derive_seed`: every random draw derives from (seed, round, phase, epoch|chunk)

Importing this package is cheap (no torch); import the submodules for the real work. Nothing here
knows about the engine, the store or the UI: progress leaves through callbacks and iterators.
"""

from gltui.learn.seeding import derive_seed

__all__ = ["derive_seed"]
