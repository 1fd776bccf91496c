"""Training and inference speed of the segmentation models, as ratios against the U-Net.

    python benchmarks/segmentation_speed.py                  # 128 x 96 images, batch 8
    python benchmarks/segmentation_speed.py --size 192 256 --batch 4 --steps 5   # (height, width)

Each model does ``--warmup`` untimed steps, then ``--steps`` timed training steps (forward,
loss, backward, Adam step) and ``--steps`` timed inference passes (eval mode, no_grad) on
random images of the chosen size. Images/s are printed with the ratio to the U-Net baseline
measured in the same run (> 1: faster than the U-Net), because absolute numbers depend on
the machine and its load. Timing is the median over the timed steps.

``--device`` defaults to the best device present (:func:`geolab.runtime.device`: CUDA, then
MPS, then CPU), so on a GPU machine the script reports GPU figures; ``--device cpu`` forces
the CPU. On CUDA each timed step ends with ``torch.cuda.synchronize()``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from geolab.nn import count_parameters
from geolab.runtime import device as best_device
from geolab.segmentation import build_model

MODELS = {
    "U-Net (base 16)": ("unet", {"base": 16, "depth": 4}),
    "HRNetLite (base 16)": ("hrnet", {"base": 16}),
    "LR-ASPP MobileNetV3": ("lraspp", {}),
    "DeepLabV3 MobileNetV3": ("deeplabv3_mobilenet", {}),
}


def _median_seconds(step, steps: int, warmup: int, dev: torch.device) -> float:
    def sync() -> None:
        if dev.type == "cuda":  # pragma: no cover - GPU only
            torch.cuda.synchronize(dev)

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(name: str, kwargs: dict, width: int, height: int, batch: int, steps: int, warmup: int,
            dev: torch.device | None = None) -> dict:
    """Training and inference images/s of one model on random data, on ``dev`` (default CPU)."""
    dev = dev or torch.device("cpu")
    torch.manual_seed(0)
    model = build_model(name, num_classes=8, **kwargs).to(dev)
    x = torch.rand(batch, 3, height, width, device=dev)
    y = torch.randint(0, 8, (batch, height, width), device=dev)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=255)
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def train_step() -> None:
        model.train()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    def infer_step() -> None:
        model.eval()
        with torch.no_grad():
            model(x)

    t_train = _median_seconds(train_step, steps, warmup, dev)
    t_infer = _median_seconds(infer_step, steps, warmup, dev)
    return {"params": count_parameters(model), "train": batch / t_train, "infer": batch / t_infer}


def main(argv: list[str] | None = None) -> dict[str, dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", nargs=2, type=int, default=[96, 128], metavar=("HEIGHT", "WIDTH"))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--models", nargs="*", default=list(MODELS), help="subset of: " + ", ".join(MODELS))
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best one present)")
    args = p.parse_args(argv)
    dev = best_device(args.device)
    height, width = args.size
    names = ["U-Net (base 16)"] + [m for m in args.models if m != "U-Net (base 16)"]
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"{width} x {height} images, batch {args.batch}, median of {args.steps} steps, "
          f"torch {torch.__version__}, {dev.type}: {where}")
    results = {}
    for label in names:
        arch, kwargs = MODELS[label]
        results[label] = measure(arch, kwargs, width, height, args.batch, args.steps, args.warmup, dev)
    base = results["U-Net (base 16)"]
    print(f"{'model':<24}{'params':>10}{'train img/s':>13}{'vs U-Net':>10}{'infer img/s':>13}{'vs U-Net':>10}")
    for label, r in results.items():
        print(f"{label:<24}{r['params'] / 1e6:>9.2f}M{r['train']:>13.1f}{r['train'] / base['train']:>9.2f}x"
              f"{r['infer']:>13.1f}{r['infer'] / base['infer']:>9.2f}x")
    return results


if __name__ == "__main__":
    main()
