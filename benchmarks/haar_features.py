"""Benchmark: geolab.classic.haar.haar_like_features vs scikit-image, image by image.

All five Haar-like feature types on ``skimage.data.lfw_subset()`` (200 grey faces and
non-faces of 25x25 pixels, 190 736 features each). geolab computes the whole
``(200, 190736)`` matrix in one vectorised call; the baseline is
``skimage.feature.haar_like_feature(integral_image(img), 0, 0, 25, 25)`` called once per
image, as in scikit-image's own face-classification example.

The scikit-image loop takes a few hundred milliseconds per image, so by default it is
timed on a subset of images and extrapolated per image to all 200 (the output says
so); ``--n-skimage 200`` times the full loop. Both are measured in the same run, and the
values are checked to be identical on the timed subset.

Usage: ``python benchmarks/haar_features.py [--n-skimage N] [--repeats R]``.
Exit status 1 when the speed-up is below the goal (20x).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import skimage
from skimage.data import lfw_subset
from skimage.feature import haar_like_feature
from skimage.transform import integral_image

from geolab.classic.haar import haar_like_features

GOAL = 20.0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-skimage", type=int, default=20, help="images timed with scikit-image (1..200)")
    parser.add_argument("--repeats", type=int, default=3, help="geolab timings (the best is kept)")
    args = parser.parse_args(argv)

    images = lfw_subset()
    n, height, width = images.shape
    n_sk = max(1, min(args.n_skimage, n))
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"machine: {_cpu_name()}, {os.cpu_count()} logical CPUs, load average {load[0]:.2f}")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scikit-image {skimage.__version__}"
    )
    print(f"data: lfw_subset, {n} images of {height}x{width}, all five feature types")

    best = float("inf")
    feats = None
    for _ in range(max(1, args.repeats)):
        t0 = time.perf_counter()
        feats = haar_like_features(images)
        best = min(best, time.perf_counter() - t0)
    assert feats is not None
    print(f"geolab : {feats.shape[0]} x {feats.shape[1]} features in {best:.3f} s (best of {args.repeats})")

    t0 = time.perf_counter()
    ref = [haar_like_feature(integral_image(images[i]), 0, 0, width, height) for i in range(n_sk)]
    t_sk = time.perf_counter() - t0
    per_image = t_sk / n_sk
    total_sk = per_image * n
    for i, row in enumerate(ref):
        if not np.array_equal(row, feats[i]):
            print(f"MISMATCH with scikit-image on image {i}", file=sys.stderr)
            return 2
    how = "measured" if n_sk == n else f"extrapolated from {n_sk} images ({t_sk:.2f} s)"
    print(f"skimage: {per_image * 1e3:.1f} ms per image -> {total_sk:.1f} s for {n} images ({how})")
    print(f"identical values on the {n_sk} images compared")
    ratio = total_sk / best
    print(f"speed-up: {ratio:.0f}x (goal >= {GOAL:.0f}x) -> {'OK' if ratio >= GOAL else 'BELOW GOAL'}")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
