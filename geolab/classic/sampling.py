"""Negative windows for training a detector: face-free pictures and a sampler of hard windows.

:class:`WindowSampler` draws random windows, at random positions and scales, from face-free
images, keeping only those that the current cascade still accepts ("bootstrapping" the
negatives of each new stage, Viola & Jones 2001).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from geolab.classic.windows import IntegralPair, image_pyramid, integral_pair

__all__ = ["WindowFilter", "WindowSampler", "face_free_images"]


class WindowFilter(Protocol):
    """What the sampler needs of a detector (e.g. :class:`geolab.classic.cascade.Cascade`)."""

    def is_trained(self) -> bool:
        """True once the detector can reject windows."""
        ...

    def accepts(self, windows: np.ndarray) -> np.ndarray:
        """Boolean mask ``(N,)``: which windows ``(N, h, w)`` does the detector accept?"""
        ...

    def accepts_at(self, level: np.ndarray | IntegralPair, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Boolean mask: which windows with top-left corners ``(ys, xs)`` of a level are accepted?"""
        ...


def face_free_images() -> list[np.ndarray]:
    """Grey (0..1) bundled pictures without human faces, for bootstrapping negatives.

    scikit-image's coffee, rocket, moon, brick, grass, gravel, coins, clock, text, page and
    immunohistochemistry pictures, and the cat picture without its head.
    """
    import cv2
    from skimage import data

    names = (
        "coffee", "rocket", "moon", "brick", "grass", "gravel", "coins", "clock", "text", "page",
        "immunohistochemistry",
    )  # fmt: skip
    images = [getattr(data, name)() for name in names]
    cat = data.chelsea()
    images += [cat[:, :120], cat[:, 370:]]  # fur left of the cat's eyes, background right of its head
    out = []
    for img in images:
        g = img if img.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2GRAY)
        out.append(np.ascontiguousarray(g, dtype=np.float64) / 255.0)
    return out


class WindowSampler:
    """Random windows of face-free images that a detector still accepts.

    Args:
        images: Grey images in 0..1 without faces.
        window_shape: ``(height, width)`` of the windows in pixels.
        windows: Optional extra pool ``(M, h, w)`` of ready-made negative windows (e.g. the
            non-faces of ``skimage.data.lfw_subset``).
        scale_factor: Ratio between the pyramid levels the windows are drawn from.
        step: Stride of the window positions in level pixels.
        max_side: Images are first shrunk so that their longer side is at most this (pixels).
        batch: Positions tried at once.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray] = (),
        window_shape: tuple[int, int] = (25, 25),
        *,
        windows: np.ndarray | None = None,
        scale_factor: float = 1.25,
        step: int = 2,
        max_side: int = 320,
        batch: int = 100_000,
    ) -> None:
        import cv2

        h, w = window_shape
        self.window_shape = (int(h), int(w))
        self.batch = int(batch)
        self.step = int(step)
        self.pool = None if windows is None else np.asarray(windows, dtype=np.float64)
        if self.pool is not None and (self.pool.ndim != 3 or self.pool.shape[1:] != self.window_shape):
            raise ValueError(f"windows have shape {self.pool.shape}, expected (M, {h}, {w})")
        self.levels: list[np.ndarray] = []
        self.integrals: list[IntegralPair] = []
        counts = []
        for k, img in enumerate(images):
            g = np.asarray(img, dtype=np.float64)
            if g.ndim != 2 or g.min() < 0 or g.max() > 1:
                raise ValueError(f"images[{k}] must be a grey (H, W) image in 0..1")
            shrink = max(g.shape) / max_side
            if shrink > 1:
                size_wh = (round(g.shape[1] / shrink), round(g.shape[0] / shrink))
                g = np.asarray(cv2.resize(g, size_wh, interpolation=cv2.INTER_AREA), dtype=np.float64)
            for _, level in image_pyramid(g, scale_factor, (h, w)):
                self.levels.append(level)
                self.integrals.append(integral_pair(level))
                ny, nx = (level.shape[0] - h) // self.step + 1, (level.shape[1] - w) // self.step + 1
                counts.append(ny * nx)
        self.counts = np.asarray(counts, dtype=np.int64)
        if not self.levels and self.pool is None:
            raise ValueError("WindowSampler needs images or a pool of windows")

    @property
    def n_positions(self) -> int:
        """Number of distinct image windows to draw from."""
        return int(self.counts.sum())

    def with_pool(self, windows: np.ndarray) -> WindowSampler:
        """A sampler over the same images whose pool also holds ``windows`` ``(M, h, w)``."""
        new = object.__new__(WindowSampler)
        new.__dict__.update(self.__dict__)
        extra = np.asarray(windows, dtype=np.float64).reshape(-1, *self.window_shape)
        new.pool = extra if self.pool is None else np.concatenate([self.pool, extra])
        return new

    def sample(
        self, detector: WindowFilter, n: int, rng: np.random.Generator, max_tries: int = 2_000_000
    ) -> np.ndarray:
        """Up to ``n`` distinct windows ``(k, h, w)`` that ``detector`` accepts (all, before training).

        Pool windows the detector accepts come first, then random image windows until ``n``
        are found or ``max_tries`` positions were tried.
        """
        h, w = self.window_shape
        found: list[np.ndarray] = []
        trained = detector.is_trained()
        if self.pool is not None and len(self.pool):
            ok = detector.accepts(self.pool) if trained else np.ones(len(self.pool), bool)
            found += list(self.pool[ok][:n])
        if not self.levels or len(found) >= n:
            return np.asarray(found, dtype=np.float64).reshape(-1, h, w)
        starts = np.concatenate([[0], np.cumsum(self.counts)])
        order = rng.permutation(self.n_positions)[:max_tries]
        for b0 in range(0, len(order), self.batch):
            idx = np.sort(order[b0 : b0 + self.batch])
            lvl = np.searchsorted(starts, idx, side="right") - 1
            picked = []
            for li in np.unique(lvl):
                level = self.levels[li]
                local = idx[lvl == li] - starts[li]
                nx = (level.shape[1] - w) // self.step + 1
                ys, xs = (local // nx) * self.step, (local % nx) * self.step
                if trained:
                    keep = detector.accepts_at(self.integrals[li], ys, xs)
                    ys, xs = ys[keep], xs[keep]
                picked += [(int(li), y, x) for y, x in zip(ys.tolist(), xs.tolist())]
            # keep the random order so that an early stop does not favour some images
            if len(picked) > n - len(found):
                sel = rng.choice(len(picked), size=n - len(found), replace=False)
                picked = [picked[i] for i in np.sort(sel)]
            found += [self.levels[li][y : y + h, x : x + w] for li, y, x in picked]
            if len(found) >= n:
                break
        return np.asarray(found, dtype=np.float64).reshape(-1, h, w)
