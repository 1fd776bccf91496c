"""Speed of the synthetic OLR generator and training speed of the cyclone models.

    python benchmarks/cyclone_generator.py                 # 4096 patches, batch 64
    python benchmarks/cyclone_generator.py --patches 8192 --steps 10

Part 1 renders ``--patches`` patches with :func:`geolab.synth.clouds.make_dataset` on one thread
(``torch.set_num_threads(1)``) and prints patches/s against the goal of 1000 patches/s on one
core (wall clock, and per CPU second of this process, which a shared machine inflates less), and
against the streaming :class:`~geolab.synth.clouds.CloudStream` (one patch at a time) measured in
the same run. Part 2 times ``--steps`` training steps (forward, focal loss,
backward, Adam step) of every model in :data:`geolab.nn.resnet.CYCLONE_MODELS` on random
64 x 64 patches and prints images/s with the ratio to the 2018-style plain CNN baseline
measured in the same run (> 1: faster than the baseline). Absolute numbers depend on the
machine and its load; the ratios are the result.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torchvision

from geolab.nn import build_cyclone_model, count_parameters
from geolab.nn.resnet import CYCLONE_MODELS
from geolab.synth.clouds import CloudStream, make_dataset

GOAL_PATCHES_PER_S = 1000.0


def generator_speed(n_patches: int) -> tuple[float, float, float]:
    """Patches/s of the vectorised generator (wall clock and CPU time) and of the one-at-a-time stream."""
    make_dataset(64, imbalance=3, seed=1)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    data = make_dataset(max(1, n_patches // 21), imbalance=20, seed=0)
    vectorised = len(data) / (time.perf_counter() - t0)
    per_cpu_second = len(data) / (time.process_time() - c0)
    stream = CloudStream(max(1, n_patches // 21), imbalance=20, seed=0)
    n = min(256, len(stream))
    t0 = time.perf_counter()
    for i in range(n):
        stream[i]
    streamed = n / (time.perf_counter() - t0)
    return vectorised, per_cpu_second, streamed


def train_speed(name: str, batch: int, steps: int, warmup: int = 2) -> float:
    """Training images/s of one model."""
    torch.manual_seed(0)
    model = build_cyclone_model(name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 1, 64, 64)
    y = (torch.rand(batch) < 0.2).float()
    times = []
    for k in range(warmup + steps):
        t0 = time.perf_counter()
        loss = torchvision.ops.sigmoid_focal_loss(model(x)[:, 0], y, reduction="mean")
        opt.zero_grad()
        loss.backward()
        opt.step()
        if k >= warmup:
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patches", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)

    vectorised, per_cpu_second, streamed = generator_speed(args.patches)
    print(f"generator (1 thread): {vectorised:8.0f} patches/s vectorised ({vectorised / GOAL_PATCHES_PER_S:.2f} x the "
          f"goal of {GOAL_PATCHES_PER_S:.0f}/s), {per_cpu_second:8.0f} patches per CPU second, "
          f"{streamed:6.0f} patches/s streamed one at a time (vectorised / streamed = {vectorised / streamed:.1f})")

    print(f"\ntraining, batch {args.batch}, 64 x 64 x 1, focal loss + Adam (ratio: images/s / baseline's)")
    base = None
    for name in CYCLONE_MODELS:
        speed = train_speed(name, args.batch, args.steps)
        base = base or speed
        params = count_parameters(build_cyclone_model(name))
        print(f"  {name:14s} {params:9,d} params  {speed:8.1f} images/s  ratio {speed / base:5.2f}")


if __name__ == "__main__":
    main()
