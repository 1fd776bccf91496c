"""Benchmark: the cost of geolab.coverage.coverage_interval against one coverage_table.

The low/high values of a photo re-measure its mask with each of the three camera inputs moved
up and down (six more analytic pixel-area maps), so they should cost about seven times one
``coverage_table`` call, with nothing else on top. Both are timed in the same run on a
512 × 384 mask (the working size of ``geolab beach-coverage``) with a 15 m distance limit.

Usage: ``python benchmarks/coverage_interval.py [--repeats R]``.
Exit status 1 when the ratio is above the goal (9x).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

from geolab.coverage import CameraUncertainty, coverage_interval, coverage_table
from geolab.geometry import GroundCamera

GOAL = 9.0


def _best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (the best counts)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    cam = GroundCamera(512, 384, 40.0, 1.5, 3.0)
    mask = rng.choice([0, 3, 4, 5, 6], size=(384, 512), p=[0.05, 0.2, 0.05, 0.3, 0.4])
    sd = CameraUncertainty()
    one = _best(lambda: coverage_table(mask, cam, max_distance_m=15.0), args.repeats)
    interval = _best(lambda: coverage_interval(mask, cam, sd, "bottom", 15.0, 0.1), args.repeats)
    ratio = interval / one
    print(f"coverage_table {one * 1e3:.1f} ms, coverage_interval {interval * 1e3:.1f} ms: {ratio:.1f}x (goal <= {GOAL:g}x)")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
