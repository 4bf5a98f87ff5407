"""The learning core: models, augmentation, training and scoring strategies.

    models.py    the paper's MNIST and CIFAR networks, a registry, `build_model`
    augment.py   batched kornia augmentation on the model's device, seeded by a torch.Generator
    train.py     `fit` from fresh weights: class-weighted loss, early stopping, resumable epochs
    score.py     strategies (rde, random, entropy, margin, least-confidence, bald), chunked and
                 resumable
    schedule.py  how many images a round labels (exponential as in the paper, or fixed)
    device.py    device choice, per-device generators, uint8 -> float on the device
    seeding.py   `derive_seed`: every random draw derives from (seed, round, phase, epoch|chunk)

Importing this package is cheap (no torch); import the submodules for the real work. Nothing here
knows about the engine, the store or the UI: progress leaves through callbacks and iterators.
"""

from gltui.learn.seeding import derive_seed

__all__ = ["derive_seed"]
