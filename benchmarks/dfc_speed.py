"""Speed of differentiable feature clustering: geolab's ``segment`` against the straightforward loop.

    python benchmarks/dfc_speed.py                         # everything, CPU (+ GPU if present)
    python benchmarks/dfc_speed.py --iters 5 --quality-iters 100 --long-iters 300

1. Seconds per iteration at 256x256 and 480x320 (height 320, width 480) for the same network,
   seed, settings and image: the straightforward per-iteration implementation that mirrors the
   paper and the authors' script (contiguous float32, response permuted to (H*W, q) for the
   loss, autograd loss, label count copied to the host every iteration) against
   ``geolab.unsupervised.segment`` with its defaults (channels-last, fused loss
   ``dfc_loss``, label count kept on the device, bfloat16 convolutions on CPUs with native
   bfloat16 for work this large) and in float32 (``amp=False``). The ratio (> 1: geolab
   faster) is the goal (>= 1.5).
2. Equal quality: both run ``--quality-iters`` iterations on a ``geolab.synth.shapes`` image;
   their adjusted Rand index against the true regions (goal: within 0.02) and label counts.
3. Time to a finished segmentation with default settings at ``--finish-size``: geolab's
   plateau stop (no new low of the label count for ``patience`` = 50 iterations) against the
   reference behaviour, which runs all 1000 iterations on natural images (its time is the
   measured seconds/iteration x 1000; ``--run-reference`` runs it). Quality: ARI of the
   stopped run against the true regions and against geolab's own ``--long-iters`` run
   without the plateau stop.

Absolute times depend on the machine and its load; compare the ratios measured in one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from geolab.synth.shapes import make_shapes
from geolab.unsupervised import DFCNet, adjusted_rand_index, relabel_sequential, segment


def straightforward(image: np.ndarray, n_iter: int, *, n_channels: int = 100, n_conv: int = 2, lr: float = 0.1,
                    mu_sim: float = 1.0, mu_con: float = 1.0, min_labels: int = 3, seed: int = 0,
                    device: str = "cpu") -> tuple[np.ndarray, list[int], list[float]]:
    """The paper's loop as the authors' script writes it; returns labels, label counts, seconds per iteration."""
    x = torch.from_numpy(image.astype(np.float32).transpose(2, 0, 1) / 255.0)[None].to(device)
    torch.manual_seed(seed)
    model = DFCNet(x.shape[1], n_channels, n_conv, "reflect").to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    counts: list[int] = []
    times: list[float] = []
    target = torch.zeros(1)
    for _ in range(n_iter):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        output = model(x)[0]  # (q, H, W)
        output = output.permute(1, 2, 0).contiguous().view(-1, n_channels)
        _, target = torch.max(output, 1)
        n_labels = len(np.unique(target.cpu().numpy()))
        response = output.view(x.shape[2], x.shape[3], n_channels)
        con = (response[1:] - response[:-1]).abs().mean() + (response[:, 1:] - response[:, :-1]).abs().mean()
        loss = mu_sim * F.cross_entropy(output, target) + mu_con * con
        loss.backward()
        optimizer.step()
        if device == "cuda":  # pragma: no cover - GPU only
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        counts.append(n_labels)
        if n_labels <= min_labels:
            break
    labels = target.view(x.shape[2], x.shape[3]).cpu().numpy()
    return relabel_sequential(labels), counts, times


def geolab_rate(image: np.ndarray, n_iter: int, device: str, **kwargs: Any) -> float:
    """Seconds per iteration of one ``segment`` run of ``n_iter`` iterations."""
    if device == "cuda":  # pragma: no cover
        torch.cuda.synchronize()
    res = segment(image, max_iter=n_iter, min_labels=0, patience=None, device=device, progress=False, **kwargs)
    return res.seconds / res.n_iter


def interleaved_rates(image: np.ndarray, iters: int, rounds: int, device: str) -> tuple[float, float, float]:
    """Median seconds/iteration of the straightforward loop, geolab's default and geolab in float32.

    Measured in alternating rounds, so that changes of the machine's load hit all three.
    """
    ref, fast, fp32 = [], [], []
    for _ in range(rounds):
        _, _, times = straightforward(image, iters + 1, min_labels=0, device=device)
        ref.append(statistics.median(times[1:]))
        fast.append(geolab_rate(image, iters, device))
        fp32.append(geolab_rate(image, iters, device, amp=False))
    return statistics.median(ref), statistics.median(fast), statistics.median(fp32)


def main() -> None:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=10, help="timed iterations per run (default 10)")
    parser.add_argument("--quality-iters", type=int, default=200, help="iterations of the quality check")
    parser.add_argument("--quality-size", type=int, nargs=2, default=(128, 128), metavar=("H", "W"))
    parser.add_argument("--finish-size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"))
    parser.add_argument("--run-reference", action="store_true", help="also run the reference's 1000 iterations")
    parser.add_argument("--long-iters", type=int, default=1000,
                        help="iterations of geolab's run without the plateau stop in part 3 (default 1000)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds per size (default 3)")
    parser.add_argument("--parts", type=int, nargs="+", default=(1, 2, 3), choices=(1, 2, 3),
                        help="which measurements to run (default: all three)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    if 1 in args.parts:
        speed(devices, args.iters, args.rounds)
    if 2 in args.parts:
        quality(args.quality_iters, tuple(args.quality_size))
    if 3 in args.parts:
        for device in devices:
            finish(tuple(args.finish_size), args.iters, args.run_reference, args.long_iters, device)


def precision(size: tuple[int, int], device: str, n_channels: int = 100) -> str:
    """The arithmetic ``segment`` chooses by default for this image size and device."""
    from geolab.unsupervised.dfc import CPU_BF16_MIN_WORK, cpu_has_bfloat16

    if device == "cuda":  # pragma: no cover
        return "float16 autocast"
    work = n_channels * size[0] * size[1]
    return "bfloat16 autocast" if device == "cpu" and work >= CPU_BF16_MIN_WORK and cpu_has_bfloat16() else "float32"


def speed(devices: list[str], iters: int, rounds: int) -> None:
    """Part 1: seconds per iteration of both loops at 256x256 and 480x320."""
    print("\n1. seconds per iteration (same image, network, seed, settings)")
    for device in devices:
        for size in ((256, 256), (320, 480)):
            image, _ = make_shapes(size, seed=0)
            ref, fast, fp32 = interleaved_rates(image, iters, rounds, device)
            print(f"  {device} {size[0]}x{size[1]} (HxW): straightforward {ref:.3f} s/it; geolab default "
                  f"({precision(size, device)}) {fast:.3f} s/it, ratio {ref / fast:.2f}x (goal >= 1.5); "
                  f"geolab float32 {fp32:.3f} s/it, ratio {ref / fp32:.2f}x")


def quality(n_iter: int, size: tuple[int, int]) -> None:
    """Part 2: both loops for the same number of iterations on a shapes image; ARI and label counts."""
    print(f"\n2. equal quality: {n_iter} iterations on a shapes image {size} (HxW), geolab default "
          f"({precision(size, 'cpu')})")
    image, truth = make_shapes(size, seed=1)
    ref_labels, ref_counts, _ = straightforward(image, n_iter, min_labels=0)
    res = segment(image, max_iter=n_iter, min_labels=0, patience=None, progress=False, device="cpu")
    ari_ref, ari_fast = adjusted_rand_index(truth, ref_labels), adjusted_rand_index(truth, res.labels)
    print(f"  straightforward: {ref_counts[-1]} labels, ARI {ari_ref:.3f}; geolab: {res.n_labels[-1]} labels, "
          f"ARI {ari_fast:.3f}; |difference| {abs(ari_ref - ari_fast):.3f} (goal <= 0.02); "
          f"ARI between the two label maps {adjusted_rand_index(ref_labels, res.labels):.3f}")


def finish(size: tuple[int, int], iters: int, run_reference: bool, long_iters: int, device: str) -> None:
    """Part 3: time to a finished segmentation with default settings."""
    print(f"\n3. {device}: time to a finished segmentation with default settings at {size[0]}x{size[1]} "
          f"(shapes image, {precision(size, device)})")
    image, truth = make_shapes(size, seed=2)
    t0 = time.perf_counter()
    res = segment(image, device=device, progress=False)
    took = time.perf_counter() - t0
    print(f"  geolab: stopped by {res.stop_reason} after {res.n_iter} iterations, {res.n_labels[-1]} labels, "
          f"ARI {adjusted_rand_index(truth, res.labels):.3f}, {took:.1f} s (goal <= 60 s on an idle machine)")
    longer = segment(image, device=device, progress=False, patience=None, max_iter=long_iters)
    print(f"  geolab without the plateau stop, {longer.n_iter} iterations: {longer.n_labels[-1]} labels, "
          f"ARI {adjusted_rand_index(truth, longer.labels):.3f}, {longer.seconds:.1f} s; ARI between the stopped "
          f"and the long run's labels {adjusted_rand_index(longer.labels, res.labels):.3f}")
    _, _, times = straightforward(image, iters + 1, min_labels=0, device=device)
    rate = statistics.median(times[1:])
    if run_reference:
        t0 = time.perf_counter()
        labels, counts, _ = straightforward(image, 1000, device=device)
        print(f"  straightforward, run: {len(counts)} iterations, {counts[-1]} labels, "
              f"ARI {adjusted_rand_index(truth, labels):.3f}, {time.perf_counter() - t0:.1f} s")
    else:
        print(f"  straightforward, estimated: {rate:.3f} s/it x 1000 iterations = {1000 * rate:.0f} s "
              f"(the reference runs all 1000 on photos; --run-reference runs it)")
    print(f"  speed-up to a finished segmentation: {1000 * rate / took:.1f}x")


if __name__ == "__main__":
    main()
