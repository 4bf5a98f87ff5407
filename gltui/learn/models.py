"""The paper's two networks and the semi-supervised rounds' small net, readable in one file.

Both are the Keras example networks the paper's description matches (Keras `mnist_cnn` with the
filters doubled, and Keras `cifar10_cnn`), so their conventions are Keras's: 'valid' 3x3
convolutions unless the Keras example says 'same', ReLU everywhere, Glorot-uniform weights and zero
biases. They output logits; the softmax lives in the loss and in scoring, where it is numerically
safer and where bf16 autocast can leave it in float32.

Input channels, image size and class count come from the dataset, so a 3-channel 28x28 set gets
the MNIST net with a 3-channel first layer and a 1-channel 32x32 set gets the CIFAR net.

The small net (`small`) trains the semi-supervised rounds (learn/semi): the paper's MNIST net spends
~45 M multiply-adds per 28x28 image, most in one 64->128 conv at 24x24, and a semi-supervised step
pushes several unlabeled images through the network per labeled one; on one CPU thread that net
trains ~280 images/s and the small one (width 24) ~2,400 (docs/results/semi_methods.md).
BatchNorm keeps the student stable when most of its batch is strongly augmented unlabeled images;
global average pooling makes it size-agnostic (28x28 grey, 32x32 colour).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from gltui.config import resolve_auto
from gltui.data.core import MIN_SIDE


def _glorot_(module: nn.Module, generator: torch.Generator | None) -> None:
    """Keras defaults: Glorot-uniform kernels, zero biases (PyTorch's default is Kaiming-uniform).

    For a conv, PyTorch's fan_in/fan_out are in*kh*kw and out*kh*kw, the same as Keras's, so the
    bound sqrt(6 / (fan_in + fan_out)) matches.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight, generator=generator)
            if m.bias is not None:  # a conv followed by BatchNorm has none
                nn.init.zeros_(m.bias)


def _conv_out(size: int, padding: str) -> int:
    return size if padding == "same" else size - 2  # 3x3, stride 1


def _flat_size(channels: int, image_size: tuple[int, int], stages: list[list[str]]) -> int:
    """Features after the conv stages: each stage is its convs' paddings, then a 2x2 max-pool."""
    h, w = image_size
    for paddings in stages:
        for padding in paddings:
            h, w = _conv_out(h, padding), _conv_out(w, padding)
        h, w = h // 2, w // 2  # MaxPool2d(2) floors, like Keras
    if h < 1 or w < 1:
        raise ValueError(f"images of {image_size[0]}x{image_size[1]} px are too small for this "
                         f"network")
    return channels * h * w


# Speed without changing the function computed (measured on 2 CPU cores, MNIST net: forward 1.8x
# at batch 128, training step 1.2x at batch 64; see docs/benchmarks.md):
# - max-pool before ReLU, not after. ReLU is monotonic, so max(relu(x)) equals
#   relu(max(x)) exactly, and the ReLU then touches a quarter of the elements of the largest
#   activation in the network.
# - ReLUs in place: no second copy of each activation (safe for autograd: conv, pool and linear
#   backward passes read their inputs, not these outputs).
# - channels_last (NHWC) activations and weights: oneDNN's and cuDNN's fast convolution layout;
#   contiguous NCHW input costs a reorder per layer on the CPU.


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


class MnistNet(nn.Module):
    """conv 64@3x3, conv 128@3x3, maxpool 2x2, dropout .25, fc 128, dropout .5, fc classes."""

    def __init__(self, in_channels: int, image_size: tuple[int, int], num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3), nn.ReLU(inplace=True),
            nn.Conv2d(64, 128, 3),
            nn.MaxPool2d(2), nn.ReLU(inplace=True),  # pool, then ReLU: see the note above
            nn.Dropout(0.25),
        )  # 28x28 -> 26 -> 24 -> 12: 128*12*12 = 18432 features
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(_flat_size(128, image_size, [["valid", "valid"]]), 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C, H, W) float -> (B, classes) logits
        return self.classifier(self.features(_channels_last(x)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 128) features before the last layer (eval mode: the dropouts pass through)."""
        return self.classifier[:-1](self.features(_channels_last(x)))

    def head(self, f: torch.Tensor) -> torch.Tensor:
        """The last layer: embed's features -> logits (forward is head(embed(x)))."""
        return self.classifier[-1](f)


class CifarNet(nn.Module):
    """conv 32, conv 32, pool, drop .25, conv 64, conv 64, pool, drop .25, fc 512, drop .5, fc
    classes.

    The first conv of each block is 'same' as in Keras's cifar10_cnn example (the network this
    description matches); the second is 'valid'. 32x32 -> 32 -> 30 -> 15 -> 15 -> 13 -> 6.
    """

    def __init__(self, in_channels: int, image_size: tuple[int, int], num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding="same"), nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 3),
            nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Dropout(0.25),
            nn.Conv2d(32, 64, 3, padding="same"), nn.ReLU(inplace=True),
            nn.Conv2d(64, 64, 3),
            nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Dropout(0.25),
        )
        flat = _flat_size(64, image_size, [["same", "valid"], ["same", "valid"]])
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, 512), nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(_channels_last(x)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 512) features before the last layer (eval mode: the dropouts pass through)."""
        return self.classifier[:-1](self.features(_channels_last(x)))

    def head(self, f: torch.Tensor) -> torch.Tensor:
        """The last layer: embed's features -> logits (forward is head(embed(x)))."""
        return self.classifier[-1](f)


def _stage(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class SmallNet(nn.Module):
    """conv-BN-ReLU w, pool, 2w, pool, 4w, pool, 4w, global average pool, fc classes ('same'
    padding, no conv biases: BatchNorm has them)."""

    def __init__(self, in_channels: int, image_size: tuple[int, int], num_classes: int,
                 width: int = 24):
        super().__init__()
        if min(image_size) < MIN_SIDE:
            raise ValueError(f"images of {image_size[0]}x{image_size[1]} px are too small for "
                             f"this network")
        w = width
        self.features = nn.Sequential(
            *_stage(in_channels, w), nn.MaxPool2d(2),
            *_stage(w, 2 * w), nn.MaxPool2d(2),
            *_stage(2 * w, 4 * w), nn.MaxPool2d(2),
            *_stage(4 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.classifier = nn.Linear(4 * w, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4w) features before the classifier."""
        return self.features(x.contiguous(memory_format=torch.channels_last))

    def head(self, f: torch.Tensor) -> torch.Tensor:
        """The classifier: embed's features -> logits."""
        return self.classifier(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


MODELS: dict[str, Callable[..., nn.Module]] = {
    "mnist": MnistNet,
    "cifar": CifarNet,
    "small": SmallNet,  # the semi-supervised rounds' net (learn/semi)
}


def resolve_model_name(name: str, in_channels: int) -> str:
    """'auto' picks the paper's pairing: the MNIST net for grey images, the CIFAR net for colour."""
    return resolve_auto("model", name, MODELS, in_channels)


def build_model(
    name: str,
    in_channels: int,
    image_size: tuple[int, int],
    num_classes: int,
    *,
    generator: torch.Generator | None = None,
    **options,
) -> nn.Module:
    """A freshly initialised network (Glorot-uniform, zero biases) on the CPU.

    `generator` makes the initial weights a function of its seed alone (not of the global RNG).
    `options` go to the network's constructor (the small net's `width`).
    """
    # The layers' constructors run PyTorch's default init from the global RNG before ours replaces
    # it; forking keeps building a model free of side effects on the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        model = MODELS[resolve_model_name(name, in_channels)](in_channels, tuple(image_size),
                                                              num_classes, **options)
    _glorot_(model, generator)
    return model.to(memory_format=torch.channels_last)  # see the note above MnistNet
