"""An attentional cascade of boosted Haar-feature stages (Viola & Jones 2001).

A window must pass every stage to count as a face. Each stage is a small AdaBoost
classifier (:class:`geolab.classic.adaboost.AdaBoost`) whose threshold is lowered until it
keeps a target share of the faces (e.g. 99.5 %), and which gets as many features as it needs
to reject a target share of the non-faces (e.g. half). Most windows of an image are rejected
by the first, cheapest stages, which is what makes the detector fast; the later stages are
trained only on the non-faces that fooled the earlier ones ("bootstrapping").

Windows are normalised to zero mean and unit standard deviation before their features are
computed (``normalize=True``), so that lighting does not matter; for a window ``w`` this gives
exactly the features ``haar_like_features(normalize_windows(w))``, but the detector computes
them from one integral image of the whole picture (and one of its squares) without cutting
windows out.

:class:`WindowSampler` draws random windows, at random positions and scales, from face-free
images, keeping only those that the current cascade still accepts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geolab.classic.haar import _OFFSETS, FEATURE_TYPES, haar_feature_params, integral_image_padded

__all__ = [
    "Cascade",
    "Stage",
    "WindowSampler",
    "face_free_images",
    "normalize_windows",
    "window_features",
]

_TYPE_CODE = {t: i for i, t in enumerate(FEATURE_TYPES)}
FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------
# Features of windows
# --------------------------------------------------------------------------------------
def normalize_windows(windows: Any, min_std: float = 0.02) -> np.ndarray:
    """Shift and scale each window to mean 0 and standard deviation 1.

    Args:
        windows: ``(N, h, w)`` grey windows, values in 0..1.
        min_std: Standard deviations below this (flat windows) are replaced by it.

    Returns:
        ``(N, h, w)`` float64 array.
    """
    arr = np.asarray(windows, dtype=np.float64)
    if arr.ndim != 3:
        raise ValueError(f"windows must be (N, h, w); got shape {arr.shape}")
    mean = arr.mean(axis=(1, 2), keepdims=True)
    std = np.sqrt(np.maximum((arr**2).mean(axis=(1, 2), keepdims=True) - mean**2, 0.0))
    return (arr - mean) / np.maximum(std, min_std)


@dataclass(frozen=True)
class _Geometry:
    """Rectangles of a set of features: ``(F, 4)`` arrays, padded with zero-sign rectangles."""

    r0: np.ndarray
    c0: np.ndarray
    dy: np.ndarray
    dx: np.ndarray
    sign: np.ndarray
    signed_area: np.ndarray  # (F,) sum of sign * area

    @staticmethod
    def from_params(params: np.ndarray, types: Sequence[str]) -> "_Geometry":
        f = len(params)
        r0 = np.zeros((f, 4), np.int64)
        c0 = np.zeros((f, 4), np.int64)
        sign = np.zeros((f, 4), np.float64)
        for i, t in enumerate(types):
            for k, (oy, ox) in enumerate(_OFFSETS[str(t)]):
                r0[i, k] = params[i, 0] + oy * params[i, 2]
                c0[i, k] = params[i, 1] + ox * params[i, 3]
                sign[i, k] = 1.0 if k % 2 else -1.0
        dy = np.repeat(params[:, 2:3], 4, axis=1).astype(np.int64)
        dx = np.repeat(params[:, 3:4], 4, axis=1).astype(np.int64)
        area = sign.sum(axis=1) * params[:, 2] * params[:, 3]
        return _Geometry(r0, c0, dy, dx, sign, area.astype(np.float64))


def _corner_values(flat: np.ndarray, base: np.ndarray, geo: _Geometry, row_len: int) -> np.ndarray:
    """Raw feature values ``(M, F)`` of windows whose top-left corner is at flat index ``base``."""
    o00 = geo.r0 * row_len + geo.c0
    o01 = o00 + geo.dx
    o10 = o00 + geo.dy * row_len
    o11 = o10 + geo.dx
    b = base[:, None, None]
    rect = flat[b + o11] - flat[b + o01] - flat[b + o10] + flat[b + o00]  # (M, F, 4)
    return np.einsum("mfk,fk->mf", rect, geo.sign)


def _window_stats(
    flat: np.ndarray, flat2: np.ndarray, base: np.ndarray, h: int, w: int, row_len: int, min_std: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (floored) standard deviation of ``h x w`` windows from two integral images."""
    o = np.array([h * row_len + w, w, h * row_len, 0])
    idx = base[:, None] + o[None, :]
    s1 = flat[idx] @ np.array([1.0, -1.0, -1.0, 1.0])
    s2 = flat2[idx] @ np.array([1.0, -1.0, -1.0, 1.0])
    n = float(h * w)
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean**2, 0.0))
    return mean, np.maximum(std, min_std)


def window_features(
    windows: Any,
    params: np.ndarray,
    types: Sequence[str],
    *,
    normalize: bool = True,
    min_std: float = 0.02,
    chunk: int = 2048,
) -> np.ndarray:
    """A chosen subset of Haar-like features of many windows.

    Args:
        windows: ``(N, h, w)`` grey windows in 0..1.
        params: ``(F, 4)`` ``(y, x, dy, dx)`` of the features, as from
            :func:`geolab.classic.haar.haar_feature_params`.
        types: ``(F,)`` feature type names.
        normalize: Compute the features of :func:`normalize_windows` (windows) instead.
        min_std: Floor of the standard deviation when normalising.
        chunk: Windows processed at once.

    Returns:
        ``(N, F)`` float64; equals the matching columns of
        ``haar_like_features(normalize_windows(windows))`` (or of the raw windows).
    """
    arr = np.asarray(windows, dtype=np.float64)
    if arr.ndim != 3:
        raise ValueError(f"windows must be (N, h, w); got shape {arr.shape}")
    n, h, w = arr.shape
    geo = _Geometry.from_params(np.asarray(params, dtype=np.int64).reshape(-1, 4), list(types))
    out = np.empty((n, len(geo.r0)))
    size = (h + 1) * (w + 1)
    for i0 in range(0, n, chunk):
        part = arr[i0 : i0 + chunk]
        flat = integral_image_padded(part).reshape(-1)
        base = np.arange(len(part)) * size
        raw = _corner_values(flat, base, geo, w + 1)
        if normalize:
            flat2 = integral_image_padded(part**2).reshape(-1)
            mean, std = _window_stats(flat, flat2, base, h, w, w + 1, min_std)
            raw = (raw - mean[:, None] * geo.signed_area[None, :]) / std[:, None]
        out[i0 : i0 + chunk] = raw
    return out


# --------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------
@dataclass
class Stage:
    """One boosted stage of a cascade.

    Attributes:
        features: ``(T,)`` column indices into the full Haar feature set of the window.
        params: ``(T, 4)`` ``(y, x, dy, dx)`` of those features.
        types: ``(T,)`` their type names.
        thresholds: ``(T,)`` stump thresholds.
        polarities: ``(T,)`` stump polarities (+1 or -1).
        alphas: ``(T,)`` stump weights.
        threshold: The stage accepts a window when ``score >= threshold``.
    """

    features: np.ndarray
    params: np.ndarray
    types: np.ndarray
    thresholds: np.ndarray
    polarities: np.ndarray
    alphas: np.ndarray
    threshold: float

    def __post_init__(self) -> None:
        self._geo = _Geometry.from_params(self.params, list(self.types))

    def score(self, values: np.ndarray) -> np.ndarray:
        """Weighted vote ``sum_t alpha_t * (+1 | -1)`` for feature values ``(N, T)``."""
        return _votes(values, self.thresholds, self.polarities) @ self.alphas

    @property
    def n_features(self) -> int:
        """Number of weak classifiers (features) in the stage."""
        return len(self.features)


def _votes(values: np.ndarray, thresholds: np.ndarray, polarities: np.ndarray) -> np.ndarray:
    """+1 where the stump says "face", else -1.

    Same rule as :func:`geolab.classic.adaboost.stump_predict`: values are rounded to
    float32, then polarity +1 means "face above the threshold", -1 "at or below it".
    """
    above = np.asarray(values, dtype=np.float32).astype(np.float64) > thresholds
    face = np.where(np.asarray(polarities) > 0, above, ~above)
    return np.where(face, 1.0, -1.0)


# --------------------------------------------------------------------------------------
# Negative windows
# --------------------------------------------------------------------------------------
def face_free_images() -> list[np.ndarray]:
    """Grey (0..1) bundled pictures without human faces, for bootstrapping negatives.

    scikit-image's coffee, rocket, moon, brick, grass, gravel, coins, clock, text, page and
    immunohistochemistry pictures, and the cat picture without its head.
    """
    import cv2
    from skimage import data

    images = []
    for name in ("coffee", "rocket", "moon", "brick", "grass", "gravel", "coins", "clock", "text", "page", "immunohistochemistry"):
        images.append(getattr(data, name)())
    cat = data.chelsea()
    images += [cat[:, :120], cat[:, 370:]]  # fur left of the cat's eyes, background right of its head
    out = []
    for img in images:
        g = img if img.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2GRAY)
        out.append(np.ascontiguousarray(g, dtype=np.float64) / 255.0)
    return out


class WindowSampler:
    """Random windows of face-free images that a cascade still accepts.

    Args:
        images: Grey images in 0..1 without faces.
        window_shape: ``(h, w)`` of the windows.
        windows: Optional extra pool ``(M, h, w)`` of ready-made negative windows (e.g. the
            non-faces of ``skimage.data.lfw_subset``).
        scale_factor: Ratio between the pyramid levels the windows are drawn from.
        step: Stride of the window positions in level pixels.
        max_side: Images are first shrunk so that their longer side is at most this.
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

        from geolab.classic.detect import image_pyramid

        h, w = window_shape
        self.window_shape = (int(h), int(w))
        self.batch = int(batch)
        self.step = int(step)
        self.pool = None if windows is None else np.asarray(windows, dtype=np.float64)
        if self.pool is not None and (self.pool.ndim != 3 or self.pool.shape[1:] != self.window_shape):
            raise ValueError(f"windows have shape {self.pool.shape}, expected (M, {h}, {w})")
        self.levels: list[np.ndarray] = []
        self._integrals: list[tuple[np.ndarray, np.ndarray]] = []
        counts = []
        for k, img in enumerate(images):
            g = np.asarray(img, dtype=np.float64)
            if g.ndim != 2 or g.min() < 0 or g.max() > 1:
                raise ValueError(f"images[{k}] must be a grey (H, W) image in 0..1")
            shrink = max(g.shape) / max_side
            if shrink > 1:
                g = cv2.resize(g, (round(g.shape[1] / shrink), round(g.shape[0] / shrink)), interpolation=cv2.INTER_AREA)
            for _, level in image_pyramid(g, scale_factor, (w, h)):
                self.levels.append(level)
                self._integrals.append(
                    (integral_image_padded(level).reshape(-1), integral_image_padded(level * level).reshape(-1))
                )
                ny, nx = (level.shape[0] - h) // self.step + 1, (level.shape[1] - w) // self.step + 1
                counts.append(ny * nx)
        self.counts = np.asarray(counts, dtype=np.int64)
        if not self.levels and self.pool is None:
            raise ValueError("WindowSampler needs images or a pool of windows")

    @property
    def n_positions(self) -> int:
        """Number of distinct image windows to draw from."""
        return int(self.counts.sum())

    def sample(self, cascade: "Cascade", n: int, rng: np.random.Generator, max_tries: int = 2_000_000) -> np.ndarray:
        """Up to ``n`` distinct windows ``(k, h, w)`` that ``cascade`` accepts (all, before training).

        Pool windows the cascade accepts come first, then random image windows until ``n``
        are found or ``max_tries`` positions were tried.
        """
        h, w = self.window_shape
        found: list[np.ndarray] = []
        fitted = bool(cascade.stages_)
        if self.pool is not None and len(self.pool):
            ok = cascade.predict_windows(self.pool).astype(bool) if fitted else np.ones(len(self.pool), bool)
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
                if fitted:
                    flat, flat2 = self._integrals[li]
                    keep, _ = cascade._run_flat(flat, flat2, level.shape[1] + 1, ys, xs)
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


# --------------------------------------------------------------------------------------
# The cascade
# --------------------------------------------------------------------------------------
class Cascade:
    """An attentional cascade of AdaBoost stages on Haar-like features.

    Args:
        window_shape: ``(h, w)`` of the training windows in pixels.
        feature_type: Haar feature types (as in scikit-image; None = all five).
        n_candidate_features: Random subset of the feature set the stages choose from
            (None = all; all five types on 25x25 windows give 190 736 features).
        detection_rate: Share of the faces each stage must keep (on its training faces).
        false_positive_rate: Share of the non-faces each stage may let through.
        target_false_positive_rate: Stop adding stages when the product of the stage rates
            reaches this.
        max_stages: At most this many stages.
        max_features_per_stage: Largest AdaBoost size of a stage; an int, or one value per
            stage (the last one is repeated).
        n_negatives: Non-face windows drawn for each stage (default: as many as faces).
        normalize: Normalise windows to zero mean and unit variance first.
        min_std: Floor of the window standard deviation when normalising (pixels in 0..1).
        random_state: Seed of every random choice (candidate features, negative windows).
    """

    def __init__(
        self,
        window_shape: tuple[int, int] = (25, 25),
        feature_type: str | Sequence[str] | None = None,
        *,
        n_candidate_features: int | None = 4000,
        detection_rate: float = 0.995,
        false_positive_rate: float = 0.5,
        target_false_positive_rate: float = 1e-3,
        max_stages: int = 12,
        max_features_per_stage: int | Sequence[int] = 40,
        n_negatives: int | None = None,
        normalize: bool = True,
        min_std: float = 0.02,
        random_state: int | None = 0,
    ) -> None:
        if not 0.0 < detection_rate <= 1.0:
            raise ValueError(f"detection_rate must be in (0, 1], got {detection_rate}")
        if not 0.0 < false_positive_rate < 1.0:
            raise ValueError(f"false_positive_rate must be in (0, 1), got {false_positive_rate}")
        self.window_shape = (int(window_shape[0]), int(window_shape[1]))
        self.feature_type = feature_type
        self.n_candidate_features = n_candidate_features
        self.detection_rate = float(detection_rate)
        self.false_positive_rate = float(false_positive_rate)
        self.target_false_positive_rate = float(target_false_positive_rate)
        self.max_stages = int(max_stages)
        self.max_features_per_stage = max_features_per_stage
        self.n_negatives = n_negatives
        self.normalize = bool(normalize)
        self.min_std = float(min_std)
        self.random_state = random_state
        self.stages_: list[Stage] = []
        self.stats_: dict[str, list[float]] = {}

    # ---------------------------------------------------------------- training
    def _stage_cap(self, s: int) -> int:
        cap = self.max_features_per_stage
        if isinstance(cap, (int, np.integer)):
            return int(cap)
        caps = list(cap)
        return int(caps[min(s, len(caps) - 1)])

    def fit(
        self,
        positives: Any,
        negatives: "np.ndarray | WindowSampler",
        *,
        progress: bool = False,
    ) -> "Cascade":
        """Train the stages one after the other.

        Args:
            positives: ``(P, h, w)`` face windows in 0..1.
            negatives: ``(M, h, w)`` pool of non-face windows, or a :class:`WindowSampler`
                of face-free images. Each stage is trained on (up to ``n_negatives``)
                negatives that all the previous stages accept.
            progress: Show a progress bar over stages.

        Returns:
            ``self``, with ``stages_`` and ``stats_`` (one value per stage: ``n_features``,
            ``detection_rate``, ``false_positive_rate``, ``n_negatives``,
            ``cumulative_detection_rate``, ``cumulative_false_positive_rate``).
        """
        from geolab.classic.adaboost import AdaBoost

        pos = np.asarray(positives, dtype=np.float64)
        if pos.ndim != 3 or pos.shape[1:] != self.window_shape:
            raise ValueError(f"positives must be (P, {self.window_shape[0]}, {self.window_shape[1]}); got {pos.shape}")
        sampler = negatives if isinstance(negatives, WindowSampler) else WindowSampler((), self.window_shape, windows=negatives)
        if sampler.window_shape != self.window_shape:
            raise ValueError(f"the sampler draws {sampler.window_shape} windows; the cascade needs {self.window_shape}")
        rng = np.random.default_rng(self.random_state)
        all_params, all_types = haar_feature_params(*self.window_shape, self.feature_type)
        n_all = len(all_params)
        if self.n_candidate_features is None or self.n_candidate_features >= n_all:
            cand = np.arange(n_all)
        else:
            cand = np.sort(rng.choice(n_all, size=int(self.n_candidate_features), replace=False))
        cand_params, cand_types = all_params[cand], all_types[cand].astype(str)
        x_pos = window_features(pos, cand_params, cand_types, normalize=self.normalize, min_std=self.min_std)
        alive = np.ones(len(pos), dtype=bool)
        n_neg = int(self.n_negatives or len(pos))
        self.stages_ = []
        stats: dict[str, list[float]] = {
            k: []
            for k in (
                "n_features",
                "detection_rate",
                "false_positive_rate",
                "n_negatives",
                "cumulative_detection_rate",
                "cumulative_false_positive_rate",
            )
        }
        cum_fpr = 1.0
        stage_iter: Any = range(self.max_stages)
        if progress:
            from tqdm.auto import tqdm

            stage_iter = tqdm(stage_iter, desc="cascade stages")
        for s in stage_iter:
            neg = sampler.sample(self, n_neg, rng)
            if len(neg) == 0:
                break
            x_neg = window_features(neg, cand_params, cand_types, normalize=self.normalize, min_std=self.min_std)
            xp = x_pos[alive]
            x = np.concatenate([xp, x_neg])
            y = np.concatenate([np.ones(len(xp), np.int64), np.zeros(len(x_neg), np.int64)])
            seed = None if self.random_state is None else int(self.random_state) + s
            booster = AdaBoost(n_estimators=self._stage_cap(s), random_state=seed).fit(x, y)
            feats = np.asarray(booster.features_, dtype=np.int64)
            votes = _votes(x[:, feats], np.asarray(booster.thresholds_, float), np.asarray(booster.polarities_, float))
            partial = np.cumsum(votes * np.asarray(booster.alphas_, float)[None, :], axis=1)  # (N, T)
            n_p = len(xp)
            k_miss = int(math.floor((1.0 - self.detection_rate) * n_p + 1e-9))
            chosen = partial.shape[1]
            for t in range(partial.shape[1]):
                thr = np.sort(partial[:n_p, t])[k_miss]
                if np.mean(partial[n_p:, t] >= thr) <= self.false_positive_rate:
                    chosen = t + 1
                    break
            scores = partial[:, chosen - 1]
            thr = float(np.sort(scores[:n_p])[k_miss])
            stage = Stage(
                features=cand[feats[:chosen]],
                params=cand_params[feats[:chosen]],
                types=cand_types[feats[:chosen]],
                thresholds=np.asarray(booster.thresholds_, float)[:chosen],
                polarities=np.asarray(booster.polarities_, float)[:chosen],
                alphas=np.asarray(booster.alphas_, float)[:chosen],
                threshold=thr,
            )
            self.stages_.append(stage)
            dr = float(np.mean(scores[:n_p] >= thr))
            fpr = float(np.mean(scores[n_p:] >= thr))
            idx_alive = np.flatnonzero(alive)
            alive[idx_alive[scores[:n_p] < thr]] = False
            cum_fpr *= fpr
            for key, value in (
                ("n_features", chosen),
                ("detection_rate", dr),
                ("false_positive_rate", fpr),
                ("n_negatives", len(x_neg)),
                ("cumulative_detection_rate", float(alive.mean())),
                ("cumulative_false_positive_rate", cum_fpr),
            ):
                stats[key].append(value)
            if cum_fpr <= self.target_false_positive_rate or fpr == 0.0:
                break
        self.stats_ = stats
        return self

    # ---------------------------------------------------------------- evaluation
    def _check_fitted(self) -> None:
        if not self.stages_:
            raise RuntimeError("this Cascade is not fitted yet: call fit(positives, negatives) or Cascade.load(path)")

    @property
    def n_features(self) -> int:
        """Total number of weak classifiers over all stages."""
        return sum(st.n_features for st in self.stages_)

    def _decision_from_margins(self, margins: np.ndarray, scales: np.ndarray) -> np.ndarray:
        n_st = margins.shape[1]
        failed = margins < 0
        first = np.where(failed.any(axis=1), failed.argmax(axis=1), n_st - 1)
        m = margins[np.arange(len(margins)), first] / scales[first]
        return first - (n_st - 1) + 0.5 * np.tanh(m)

    def stage_margins(self, x: Any) -> np.ndarray:
        """``(N, S)`` stage score minus stage threshold, from a full feature matrix ``(N, F)``."""
        self._check_fitted()
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"x must be a feature matrix (N, F); got shape {arr.shape}")
        need = max(int(st.features.max()) for st in self.stages_) + 1
        if arr.shape[1] < need:
            raise ValueError(
                f"x has {arr.shape[1]} columns but the cascade uses feature {need - 1}: pass the full "
                f"haar_like_features(normalize_windows(windows), feature_type={self.feature_type!r})"
            )
        return np.stack([st.score(arr[:, st.features]) - st.threshold for st in self.stages_], axis=1)

    def decision_function(self, x: Any) -> np.ndarray:
        """Graded score from a full feature matrix ``(N, F)``: ``>= 0`` means "face".

        The integer part counts the stages passed (a window rejected at stage ``j`` of ``S``
        scores in ``(j - S + 0.5, j - S + 1)``), the rest is the squashed margin of the
        deciding stage, so later rejections and larger margins score higher.
        """
        margins = self.stage_margins(x)
        return self._decision_from_margins(margins, self._scales())

    def predict(self, x: Any) -> np.ndarray:
        """1 where every stage accepts, else 0, from a full feature matrix ``(N, F)``."""
        return (self.stage_margins(x) >= 0).all(axis=1).astype(np.int64)

    def _scales(self) -> np.ndarray:
        return np.array([max(float(np.abs(st.alphas).sum()), 1e-12) for st in self.stages_])

    def stage_margins_windows(self, windows: Any) -> np.ndarray:
        """``(N, S)`` stage margins of windows ``(N, h, w)`` in 0..1 (only the selected features)."""
        self._check_fitted()
        arr = np.asarray(windows, dtype=np.float64)
        if arr.ndim != 3 or arr.shape[1:] != self.window_shape:
            raise ValueError(f"windows must be (N, {self.window_shape[0]}, {self.window_shape[1]}); got {arr.shape}")
        out = []
        for st in self.stages_:
            vals = window_features(arr, st.params, st.types, normalize=self.normalize, min_std=self.min_std)
            out.append(st.score(vals) - st.threshold)
        return np.stack(out, axis=1)

    def decision_windows(self, windows: Any) -> np.ndarray:
        """:meth:`decision_function` computed directly from windows ``(N, h, w)`` in 0..1."""
        return self._decision_from_margins(self.stage_margins_windows(windows), self._scales())

    def predict_windows(self, windows: Any) -> np.ndarray:
        """:meth:`predict` computed directly from windows ``(N, h, w)`` in 0..1."""
        return (self.stage_margins_windows(windows) >= 0).all(axis=1).astype(np.int64)

    def _level_integrals(self, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = np.asarray(level, dtype=np.float64)
        if g.ndim != 2:
            raise ValueError(f"level must be a grey (H, W) image; got shape {g.shape}")
        return integral_image_padded(g).reshape(-1), integral_image_padded(g * g).reshape(-1)

    def _run_flat(
        self, flat: np.ndarray, flat2: np.ndarray, row_len: int, ys: np.ndarray, xs: np.ndarray, chunk: int = 8192
    ) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the accepted positions and their last-stage margins.

        ``flat`` and ``flat2`` are the flattened padded integral images of a level and of its
        square; ``row_len`` is the level width + 1.
        """
        self._check_fitted()
        h, w = self.window_shape
        alive = np.arange(len(ys))
        base_all = np.asarray(ys, np.int64) * row_len + np.asarray(xs, np.int64)
        if self.normalize:
            mean, std = _window_stats(flat, flat2, base_all, h, w, row_len, self.min_std)
        margin = np.zeros(len(ys))
        for st in self.stages_:
            if not len(alive):
                break
            keep_parts, margin_parts = [], []
            for c0 in range(0, len(alive), chunk):
                sel = alive[c0 : c0 + chunk]
                vals = _corner_values(flat, base_all[sel], st._geo, row_len)
                if self.normalize:
                    vals = (vals - mean[sel, None] * st._geo.signed_area[None, :]) / std[sel, None]
                m = st.score(vals) - st.threshold
                ok = m >= 0
                keep_parts.append(sel[ok])
                margin_parts.append(m[ok])
            alive = np.concatenate(keep_parts)
            margin[alive] = np.concatenate(margin_parts)
        return alive, margin[alive]

    def accepts_at(self, level: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Boolean mask: does the cascade accept the windows with top-left corners ``(ys, xs)``?"""
        flat, flat2 = self._level_integrals(level)
        idx, _ = self._run_flat(flat, flat2, np.shape(level)[1] + 1, np.asarray(ys), np.asarray(xs))
        mask = np.zeros(len(ys), dtype=bool)
        mask[idx] = True
        return mask

    def scan(self, level: Any, step: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Slide the window over every position of a grey image (one pyramid level).

        Args:
            level: ``(H, W)`` grey image in 0..1.
            step: Stride in pixels.

        Returns:
            ``(ys, xs, margins)`` of the accepted windows (top-left corners, last-stage margin).
        """
        g = np.asarray(level, dtype=np.float64)
        h, w = self.window_shape
        if g.ndim != 2 or g.shape[0] < h or g.shape[1] < w:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        yy, xx = np.meshgrid(np.arange(0, g.shape[0] - h + 1, step), np.arange(0, g.shape[1] - w + 1, step), indexing="ij")
        ys, xs = yy.reshape(-1), xx.reshape(-1)
        flat, flat2 = self._level_integrals(g)
        idx, margins = self._run_flat(flat, flat2, g.shape[1] + 1, ys, xs)
        return ys[idx], xs[idx], margins

    # ---------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted cascade to a ``.npz`` file (plain arrays, no pickle)."""
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        ft = self.feature_type
        ft_arr = np.array([] if ft is None else ([ft] if isinstance(ft, str) else list(ft)), dtype="<U16")
        sizes = np.array([st.n_features for st in self.stages_], dtype=np.int64)
        arrays: dict[str, np.ndarray] = {
            "format_version": np.array(FORMAT_VERSION),
            "window_shape": np.array(self.window_shape, dtype=np.int64),
            "feature_type": ft_arr,
            "feature_type_is_none": np.array(ft is None),
            "normalize": np.array(self.normalize),
            "min_std": np.array(self.min_std),
            "stage_sizes": sizes,
            "stage_thresholds": np.array([st.threshold for st in self.stages_]),
            "features": np.concatenate([st.features for st in self.stages_]).astype(np.int64),
            "params": np.concatenate([st.params for st in self.stages_]).astype(np.int64),
            "types": np.concatenate([np.asarray(st.types, dtype="<U16") for st in self.stages_]),
            "thresholds": np.concatenate([st.thresholds for st in self.stages_]),
            "polarities": np.concatenate([st.polarities for st in self.stages_]),
            "alphas": np.concatenate([st.alphas for st in self.stages_]),
        }
        for key, values in self.stats_.items():
            arrays[f"stats_{key}"] = np.asarray(values, dtype=np.float64)
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Cascade":
        """Read a cascade written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"cascade file {path} does not exist; write one with Cascade.save(path)")
        with np.load(path, allow_pickle=False) as z:
            if "format_version" not in z.files or int(z["format_version"]) != FORMAT_VERSION:
                raise ValueError(f"{path} is not a geolab cascade file of format {FORMAT_VERSION}")
            ft: Any = None if bool(z["feature_type_is_none"]) else [str(t) for t in z["feature_type"]]
            if isinstance(ft, list) and len(ft) == 1:
                ft = ft[0]
            cas = cls(tuple(int(v) for v in z["window_shape"]), ft, normalize=bool(z["normalize"]), min_std=float(z["min_std"]))
            bounds = np.concatenate([[0], np.cumsum(z["stage_sizes"])])
            for s, thr in enumerate(z["stage_thresholds"]):
                sl = slice(int(bounds[s]), int(bounds[s + 1]))
                cas.stages_.append(
                    Stage(
                        features=z["features"][sl],
                        params=z["params"][sl],
                        types=z["types"][sl].astype(str),
                        thresholds=z["thresholds"][sl],
                        polarities=z["polarities"][sl],
                        alphas=z["alphas"][sl],
                        threshold=float(thr),
                    )
                )
            cas.stats_ = {k[len("stats_") :]: z[k].tolist() for k in z.files if k.startswith("stats_")}
        return cas

    def __repr__(self) -> str:
        if not self.stages_:
            return f"Cascade(window_shape={self.window_shape}, unfitted)"
        sizes = [st.n_features for st in self.stages_]
        return f"Cascade(window_shape={self.window_shape}, stages={len(sizes)}, features per stage={sizes})"
