"""Training throughput: gltui's `fit` against the model-only ceiling (and baal, for reference).

Contenders on the same network and the same images:

  ceiling   forward + backward + Adam step on a ready float batch already on the device, plain
            cross-entropy, at each of a few batch sizes.
  gltui     `fit(...)` epochs: minibatches sampled from the device-resident uint8 labeled set,
            float conversion and augmentation on the device, class-weighted loss, Adam step, and
            the epoch's validation pass (64 images); timed by fit's own per-epoch clock.
  baal      baal 2.1 `ModelWrapper.train_on_dataset` for one epoch over a TensorDataset of the same
            images pre-converted to float (no augmentation: it has none built in), for reference.

Timing is in short windows of one epoch (n images), interleaved round-robin: after every gltui
epoch (from fit's `on_epoch` callback) one window of each other contender runs. On a shared
machine the speed of a 2-thread process jumps between levels as other processes come and go; the
best window of each contender compares them at the same level, the median shows the spread.

Target: gltui >= 0.8 x ceiling at the best batch size. gltui runs at the quick profile's batch
size (what a user gets) and at the ceiling's best batch size (the like-for-like figure).

    python benchmarks/bench_train.py --json                  # CPU defaults: n=512, 8 rounds
    python benchmarks/bench_train.py --device cuda --n 20000 --json
"""

from __future__ import annotations

import statistics

import numpy as np
import torch
import torch.nn.functional as F
from _common import emit, environment, load_images, parser, quiet_baal, setup, timed

from gltui.config import train_config
from gltui.learn.models import build_model
from gltui.learn.train import fit


def ceiling_window(model_name: str, shape: tuple, classes: int, device: torch.device, bs: int):
    """A callable timing `steps` training steps on one ready batch; returns rows/s."""
    model = build_model(model_name, shape[0], shape[1:], classes).to(device).train()
    # as fit
    opt = torch.optim.Adam(model.parameters(), lr=1e-3,
                           fused=device.type in ("cpu", "cuda") or None)
    x = torch.rand(bs, *shape, device=device)
    y = torch.randint(0, classes, (bs,), device=device)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up: allocator, algorithm choice, Adam state

    def window(steps: int) -> float:
        return steps * bs / timed(lambda: [step() for _ in range(steps)], device)

    return window


def baal_window(model_name: str, images: np.ndarray, labels: np.ndarray, classes: int,
                device: torch.device, batch_size: int):
    try:
        from baal.modelwrapper import ModelWrapper, TrainingArgs
    except Exception as e:  # noqa: BLE001 - any import failure means "no peer", reported as such
        return None, f"baal not importable: {type(e).__name__}: {e}"
    quiet_baal()
    model = build_model(model_name, images.shape[1], images.shape[2:], classes).to(device)
    args = TrainingArgs(optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
                        batch_size=batch_size, epoch=1, use_cuda=device.type == "cuda", workers=0,
                        criterion=torch.nn.CrossEntropyLoss())
    wrapper = ModelWrapper(model, args)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(images).float().div_(255),
                                             torch.from_numpy(labels))
    # warm-up
    wrapper.train_on_dataset(torch.utils.data.Subset(dataset,
                                                     range(min(len(dataset), 2 * batch_size))))
    return (lambda: len(dataset) / timed(lambda: wrapper.train_on_dataset(dataset), device)), \
        "baal 2.1 train_on_dataset"


def summary(rates: list[float]) -> dict:
    return {"best": round(max(rates), 1), "median": round(statistics.median(rates), 1),
            "windows": len(rates)}


def main() -> None:
    p = parser(__doc__.splitlines()[0], n=512, k=0)
    p.add_argument("--rounds", type=int, default=8,
                   help="gltui epochs per batch size = interleaved rounds")
    p.add_argument("--batch-size", type=int, default=train_config("quick").batch_size,
                   help="gltui training batch (default: the quick profile's)")
    p.add_argument("--batch-sizes", default="",
                   help="ceiling batch sizes (default: CPU 32..256, GPU 128..2048)")
    args = p.parse_args()
    device = setup(args)
    images, labels, classes, spec = load_images(args.data, args.n + 64)
    train_x, train_y, val_x, val_y = (images[:args.n], labels[:args.n], images[args.n:],
                                      labels[args.n:])
    shape = tuple(images.shape[1:])
    if args.batch_sizes:
        batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    else:
        batch_sizes = [32, 64, 128, 256] if device.type == "cpu" else [128, 256, 512, 1024, 2048]
    if args.batch_size not in batch_sizes:
        batch_sizes.append(args.batch_size)

    ceilings = {bs: ceiling_window(args.model, shape, classes, device, bs) for bs in batch_sizes}
    ceiling_rates: dict[int, list[float]] = {bs: [] for bs in batch_sizes}
    baal_run, baal_note = baal_window(args.model, train_x, train_y, classes, device,
                                      args.batch_size)
    baal_rates: list[float] = []

    def other_windows() -> None:
        for bs, window in ceilings.items():
            ceiling_rates[bs].append(window(max(1, args.n // bs)))
        if baal_run is not None:
            baal_rates.append(baal_run())

    def gltui_rates(batch_size: int) -> list[float]:
        # one epoch's training rows
        rows = -(-args.n // min(batch_size, args.n)) * min(batch_size, args.n)
        rates = []

        def on_epoch(report, _make_checkpoint) -> None:
            rates.append(rows / report.seconds)
            other_windows()

        # min_steps_per_epoch=1: an epoch is one pass over the n images; patience keeps every epoch.
        cfg = train_config("quick", max_epochs=args.rounds, patience=args.rounds + 1,
                           batch_size=batch_size, min_steps_per_epoch=1)
        fit(args.model, train_x, train_y, val_x, val_y, classes, cfg, seed=0, device=device,
            on_epoch=on_epoch)
        return rates

    gltui = {args.batch_size: gltui_rates(args.batch_size)}
    ceiling_bs = max(ceiling_rates, key=lambda b: max(ceiling_rates[b]))
    if ceiling_bs not in gltui:
        gltui[ceiling_bs] = gltui_rates(ceiling_bs)
    ceiling_bs = max(ceiling_rates, key=lambda b: max(ceiling_rates[b]))  # with all windows in

    best_ceiling = max(ceiling_rates[ceiling_bs])
    result = {
        "benchmark": "train",
        "data": spec,
        "model": args.model,
        "image_shape": list(shape),
        "n": args.n,
        "batch_size": args.batch_size,
        "ceiling_images_per_s": {str(b): summary(r) for b, r in ceiling_rates.items()},
        "ceiling_best_batch": ceiling_bs,
        "gltui_images_per_s": {str(b): summary(r) for b, r in gltui.items()},
        "ratio_gltui_to_ceiling": round(max(max(r) for r in gltui.values()) / best_ceiling, 3),
        "ratio_gltui_to_ceiling_at_batch_size": round(max(gltui[args.batch_size]) /
                                                      max(ceiling_rates[args.batch_size]), 3),
        "target_ratio_to_ceiling": 0.8,
        "baal": baal_note,
    }
    if baal_rates:
        result["baal_images_per_s_at_batch_size"] = summary(baal_rates)
        result["ratio_gltui_to_baal_at_batch_size"] = round(max(gltui[args.batch_size])
                                                            / max(baal_rates), 3)
    result["environment"] = environment(device)
    emit(result, args.json)


if __name__ == "__main__":
    main()
