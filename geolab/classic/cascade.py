"""An attentional cascade of boosted Haar-feature stages (Viola & Jones 2001), a scikit-learn classifier.

A window must pass every stage to count as a face. Each stage is a small AdaBoost
classifier (:class:`geolab.classic.adaboost.AdaBoost`) whose threshold is lowered until it
keeps a target share of the faces (e.g. 99.5 %), and which gets as many features as it needs
to reject a target share of the non-faces (e.g. half). Most windows of an image are rejected
by the first, cheapest stages, which is what makes the detector fast; the later stages are
trained only on the non-faces that fooled the earlier ones ("bootstrapping", see
:class:`geolab.classic.sampling.WindowSampler`).

Windows are normalised to zero mean and unit standard deviation before their features are
computed (``normalize=True``); see :mod:`geolab.classic.windows`.

As a scikit-learn estimator, :class:`Cascade` takes windows ``X`` of shape ``(N, h, w)`` (or
flattened, ``(N, h * w)``) and two-class labels ``y``; ``classes_[1]`` is "face".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from geolab.classic.adaboost import AdaBoost
from geolab.classic.haar import haar_feature_params
from geolab.classic.sampling import WindowSampler, face_free_images
from geolab.classic.stages import Stage, choose_stage_size
from geolab.classic.windows import (
    IntegralPair,
    integral_pair,
    normalize_windows,
    window_features,
    window_stats,
)

__all__ = [
    "Cascade",
    "Stage",
    "WindowSampler",
    "face_free_images",
    "normalize_windows",
    "window_features",
]

FORMAT_VERSION = 1
_STAT_KEYS = (
    "n_features",
    "detection_rate",
    "false_positive_rate",
    "n_negatives",
    "cumulative_detection_rate",
    "cumulative_false_positive_rate",
)


def _generator(random_state: int | np.random.Generator | np.random.RandomState | None) -> np.random.Generator:
    """A NumPy generator from any of scikit-learn's ``random_state`` forms (an int seeds it directly)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    return np.random.default_rng(check_random_state(random_state).randint(2**31))


class Cascade(ClassifierMixin, BaseEstimator):
    """An attentional cascade of AdaBoost stages on Haar-like features.

    Args:
        window_shape: ``(height, width)`` of the windows in pixels; None: taken from the
            training windows (``(1, F)`` for flattened rows of ``F`` values).
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
        min_negatives: Stop adding stages when fewer non-faces than this are left that the
            cascade accepts (default 1): a stage trained on a handful of negatives learns
            little about the background, yet costs faces.
        validation_fraction: Share of the face groups held out of boosting and used only to
            set each stage's threshold and measure its detection rate (Viola & Jones's
            validation set). Thresholds set on the training faces, which AdaBoost has fitted,
            keep fewer than ``detection_rate`` of new faces; 0 uses the training faces.
        normalize: Normalise windows to zero mean and unit variance first.
        min_std: Floor of the window standard deviation when normalising (pixels in 0..1).
        random_state: Seed of every random choice (candidate features, negative windows).
    """

    def __init__(
        self,
        window_shape: tuple[int, int] | None = (25, 25),
        feature_type: str | Sequence[str] | None = None,
        *,
        n_candidate_features: int | None = 4000,
        detection_rate: float = 0.995,
        false_positive_rate: float = 0.5,
        target_false_positive_rate: float = 1e-3,
        max_stages: int = 12,
        max_features_per_stage: int | Sequence[int] = 40,
        n_negatives: int | None = None,
        min_negatives: int | None = None,
        validation_fraction: float = 0.0,
        normalize: bool = True,
        min_std: float = 0.02,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.window_shape = window_shape
        self.feature_type = feature_type
        self.n_candidate_features = n_candidate_features
        self.detection_rate = detection_rate
        self.false_positive_rate = false_positive_rate
        self.target_false_positive_rate = target_false_positive_rate
        self.max_stages = max_stages
        self.max_features_per_stage = max_features_per_stage
        self.n_negatives = n_negatives
        self.min_negatives = min_negatives
        self.validation_fraction = validation_fraction
        self.normalize = normalize
        self.min_std = min_std
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        """Binary classifier of windows (scikit-learn's estimator tags)."""
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.three_d_array = True
        return tags

    # ---------------------------------------------------------------- input
    def _shape(self) -> tuple[int, int]:
        shape = getattr(self, "window_shape_", None) or self.window_shape
        if shape is None:
            raise ValueError("Cascade: window_shape is None and the cascade is not fitted")
        return int(shape[0]), int(shape[1])

    def _windows(self, X: Any, *, fitting: bool = False) -> np.ndarray:
        """Windows ``(N, h, w)`` float64 from ``(N, h, w)`` or flattened ``(N, h * w)`` input."""
        arr = check_array(X, allow_nd=True, dtype=np.float64, ensure_min_samples=1)
        if fitting and self.window_shape is None:
            return arr if arr.ndim == 3 else arr[:, None, :]
        h, w = self._shape()
        if arr.ndim == 2 and arr.shape[1] == h * w:
            return arr.reshape(-1, h, w)
        if arr.ndim == 3 and arr.shape[1:] == (h, w):
            return arr
        raise ValueError(
            f"X has {int(np.prod(arr.shape[1:]))} features, but Cascade is expecting {h * w} features as input: "
            f"pass windows of shape (N, {h}, {w}) or flattened (N, {h * w}); got shape {arr.shape}"
        )

    def _check_params(self) -> None:
        if not 0.0 < self.detection_rate <= 1.0:
            raise ValueError(f"Cascade: detection_rate must be in (0, 1], got {self.detection_rate}")
        if not 0.0 < self.false_positive_rate < 1.0:
            raise ValueError(f"Cascade: false_positive_rate must be in (0, 1), got {self.false_positive_rate}")
        if int(self.max_stages) < 1:
            raise ValueError(f"Cascade: max_stages must be at least 1, got {self.max_stages}")

    def _validation_faces(self, y_enc: np.ndarray, groups: Any, gen: np.random.Generator) -> np.ndarray:
        """Boolean mask over the faces: which ones only set thresholds (``validation_fraction``)."""
        n_pos = int((y_enc == 1).sum())
        frac = float(self.validation_fraction or 0.0)
        if frac == 0.0:
            return np.zeros(n_pos, dtype=bool)
        if not 0.0 < frac < 1.0:
            raise ValueError(f"Cascade: validation_fraction must be in [0, 1), got {frac}")
        if groups is not None and len(np.asarray(groups)) != len(y_enc):
            raise ValueError(
                f"Cascade.fit: groups must hold one id per window ({len(y_enc)}), got {len(np.asarray(groups))}"
            )
        g = np.arange(n_pos) if groups is None else np.asarray(groups)[y_enc == 1]
        ids = np.unique(g)
        n_val = min(len(ids) - 1, max(1, round(frac * len(ids))))
        if n_val < 1:
            raise ValueError("Cascade.fit: validation_fraction needs faces of at least two groups")
        return np.isin(g, gen.choice(ids, size=n_val, replace=False))

    def _stage_cap(self, s: int) -> int:
        cap = self.max_features_per_stage
        if isinstance(cap, (int, np.integer)):
            return int(cap)
        caps = list(cap)
        return int(caps[min(s, len(caps) - 1)])

    # ---------------------------------------------------------------- training
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        groups: Any = None,
        sampler: WindowSampler | None = None,
        progress: bool = False,
    ) -> Cascade:
        """Train the stages one after the other.

        Args:
            X: ``(N, h, w)`` (or ``(N, h * w)``) windows in 0..1: faces and non-faces.
            y: ``(N,)`` labels of two classes; ``classes_[1]`` (e.g. 1) marks the faces.
            groups: ``(N,)`` group ids (e.g. the person an augmented face copy shows): with
                ``validation_fraction``, whole groups are held out, so no copy of a validation
                face is trained on.
            sampler: Optional :class:`~geolab.classic.sampling.WindowSampler` of face-free
                images that supplies further negatives; the non-faces of ``X`` join its
                pool. Each stage is trained on (up to ``n_negatives``) negatives that all the
                previous stages accept.
            progress: Show a progress bar over stages.

        Returns:
            ``self``, with ``stages_``, ``classes_``, ``stop_reason_`` and ``stats_`` (one value per stage:
            ``n_features``, ``detection_rate``, ``false_positive_rate``, ``n_negatives``,
            ``cumulative_detection_rate``, ``cumulative_false_positive_rate``).
        """
        self._check_params()
        if y is None:
            raise ValueError("Cascade requires y to be passed, but the target y is None (1 = face, 0 = non-face)")
        X, ya = check_X_y(X, y, allow_nd=True, dtype=np.float64)
        windows = self._windows(X, fitting=True)
        check_classification_targets(ya)
        classes, y_enc = np.unique(ya, return_inverse=True)
        if len(classes) != 2:
            raise ValueError(
                f"Only binary classification is supported: a cascade needs faces and non-faces, but y holds "
                f"{len(classes)} class(es) {classes[:10].tolist()}"
            )
        self.classes_ = classes
        self.window_shape_ = (int(windows.shape[1]), int(windows.shape[2]))
        self.n_features_in_ = int(np.prod(self.window_shape_))
        pos, pool = windows[y_enc == 1], windows[y_enc == 0]
        if sampler is None:
            sampler = WindowSampler((), self.window_shape_, windows=pool)
        else:
            if sampler.window_shape != self.window_shape_:
                raise ValueError(f"the sampler draws {sampler.window_shape} windows; the cascade needs {self.window_shape_}")
            sampler = sampler.with_pool(pool)
        gen = _generator(self.random_state)
        all_params, all_types = haar_feature_params(*self.window_shape_, self.feature_type)
        n_all = len(all_params)
        if n_all == 0:
            raise ValueError(
                f"X has {self.n_features_in_} feature(s): windows of shape {self.window_shape_} have no Haar "
                f"features of type {self.feature_type} (a feature needs at least two pixels)"
            )
        if self.n_candidate_features is None or self.n_candidate_features >= n_all:
            cand = np.arange(n_all)
        else:
            cand = np.sort(gen.choice(n_all, size=int(self.n_candidate_features), replace=False))
        cand_params, cand_types = all_params[cand], [str(t) for t in all_types[cand]]

        def feats_of(w: np.ndarray) -> np.ndarray:
            return window_features(w, cand_params, cand_types, normalize=self.normalize, min_std=self.min_std)

        x_pos = feats_of(pos)
        val = self._validation_faces(y_enc, groups, gen)
        alive = np.ones(len(pos), dtype=bool)
        n_neg = int(self.n_negatives or len(pos))
        min_neg = max(1, int(self.min_negatives or 1))
        self.stages_: list[Stage] = []
        stats: dict[str, list[float]] = {k: [] for k in _STAT_KEYS}
        cum_fpr = 1.0
        self.stop_reason_ = f"max_stages ({self.max_stages}) reached"
        stage_iter: Any = range(int(self.max_stages))
        if progress:
            from tqdm.auto import tqdm

            stage_iter = tqdm(stage_iter, desc="cascade stages")
        for s in stage_iter:
            neg = sampler.sample(self, n_neg, gen)
            train_pos, check_pos = alive & ~val, (alive & val) if val.any() else alive & ~val
            if len(neg) < min_neg or not train_pos.any() or not check_pos.any():
                self.stop_reason_ = (
                    f"only {len(neg)} negatives left that the cascade accepts (min_negatives={min_neg})"
                    if len(neg) < min_neg
                    else "no faces left"
                )
                break
            x_neg = feats_of(neg)
            x = np.concatenate([x_pos[train_pos], x_neg])
            y_stage = np.r_[np.ones(int(train_pos.sum()), np.int64), np.zeros(len(neg), np.int64)]
            # the threshold keeps `detection_rate` of the checking faces (held-out ones with
            # validation_fraction, else the training faces); false alarms are counted on the negatives
            x_check = np.concatenate([x_pos[check_pos], x_neg])
            n_p = int(check_pos.sum())
            # AdaBoost is deterministic, so T rounds are the first T of any longer run: boost 8, 16,
            # 32, ... rounds up to the cap and stop as soon as a prefix meets the targets.
            cap, rounds = self._stage_cap(s), min(8, self._stage_cap(s))
            while True:
                booster = AdaBoost(n_estimators=rounds).fit(x, y_stage)
                partial = np.stack(list(booster.staged_decision_function(x_check)), axis=1)  # (N, T)
                size, thr = choose_stage_size(partial, n_p, self.detection_rate, self.false_positive_rate)
                met = np.mean(partial[n_p:, size - 1] >= thr) <= self.false_positive_rate
                if met or rounds >= cap or len(booster.alphas_) < rounds:
                    break
                rounds = min(cap, 2 * rounds)
            # Scores summed in another order (scanning, subsets of windows) may differ in the last
            # bits; a margin far below any real score difference keeps the chosen faces accepted.
            thr -= 1e-9 * float(np.abs(booster.alphas_[:size]).sum())
            sel = booster.features_[:size]
            stage = Stage(
                features=cand[sel],
                params=cand_params[sel],
                types=np.asarray(cand_types)[sel],
                thresholds=booster.thresholds_[:size],
                polarities=booster.polarities_[:size].astype(np.float64),
                alphas=booster.alphas_[:size],
                threshold=thr,
            )
            self.stages_.append(stage)
            scores = partial[:, size - 1]
            fpr = float(np.mean(scores[n_p:] >= thr))
            idx = np.flatnonzero(alive)
            alive[idx[stage.score(x_pos[idx][:, sel]) < thr]] = False
            cum_fpr *= fpr
            row = (size, float(np.mean(scores[:n_p] >= thr)), fpr, len(neg), float(alive.mean()), cum_fpr)
            for key, value in zip(_STAT_KEYS, row):
                stats[key].append(value)
            if cum_fpr <= self.target_false_positive_rate or fpr == 0.0:
                self.stop_reason_ = "target false-positive rate reached"
                break
        if not self.stages_:
            raise ValueError("Cascade.fit: no stage could be trained (no negatives or no faces)")
        self.stats_ = stats
        return self

    # ---------------------------------------------------------------- evaluation
    def is_trained(self) -> bool:
        """True once :meth:`fit` (or :meth:`load`) gave the cascade stages."""
        return bool(getattr(self, "stages_", None))

    @property
    def n_features(self) -> int:
        """Total number of weak classifiers over all stages."""
        check_is_fitted(self, "stages_")
        return sum(st.n_features for st in self.stages_)

    def _scales(self) -> np.ndarray:
        return np.array([max(float(np.abs(st.alphas).sum()), 1e-12) for st in self.stages_])

    def _graded(self, margins: np.ndarray) -> np.ndarray:
        """Graded score from stage margins ``(N, S)``; ``> 0`` exactly where every stage accepts.

        A window rejected at stage ``j`` (0-based) of ``S`` scores in ``(j - S, j - S + 0.5)``,
        one that passes all stages in ``[0.5, 1)``; within each band the (squashed) margin of
        the deciding stage orders the windows.
        """
        n_st = margins.shape[1]
        failed = margins < 0
        rejected = failed.any(axis=1)
        first = np.where(rejected, failed.argmax(axis=1), n_st - 1)
        m = np.tanh(margins[np.arange(len(margins)), first] / self._scales()[first])
        return np.where(rejected, first - n_st + 0.5 + 0.5 * m, 0.5 + 0.5 * m)

    def stage_margins(self, X: Any) -> np.ndarray:
        """``(N, S)`` stage score minus stage threshold of windows ``X`` (only the selected features)."""
        check_is_fitted(self, "stages_")
        win = self._windows(X)
        out = [
            st.score(window_features(win, st.params, list(st.types), normalize=self.normalize, min_std=self.min_std))
            - st.threshold
            for st in self.stages_
        ]
        return np.stack(out, axis=1)

    def stage_margins_from_features(self, features: Any) -> np.ndarray:
        """``(N, S)`` stage margins from the full Haar feature matrix ``(N, F)`` of the windows."""
        check_is_fitted(self, "stages_")
        arr = np.asarray(features, dtype=np.float64)
        need = max(int(st.features.max()) for st in self.stages_) + 1
        if arr.ndim != 2 or arr.shape[1] < need:
            raise ValueError(
                f"features has shape {arr.shape} but the cascade uses feature column {need - 1}: pass the full "
                f"haar_like_features(normalize_windows(windows), feature_type={self.feature_type!r})"
            )
        return np.stack([st.score(arr[:, st.features]) - st.threshold for st in self.stages_], axis=1)

    def decision_function(self, X: Any) -> np.ndarray:
        """Graded score ``(N,)`` of windows: ``> 0`` means "face" (see :meth:`_graded`)."""
        return self._graded(self.stage_margins(X))

    def decision_function_from_features(self, features: Any) -> np.ndarray:
        """:meth:`decision_function` from the full Haar feature matrix ``(N, F)``."""
        return self._graded(self.stage_margins_from_features(features))

    def accepts(self, windows: Any) -> np.ndarray:
        """Boolean mask ``(N,)``: which windows pass every stage?"""
        return np.asarray((self.stage_margins(windows) >= 0).all(axis=1))

    def predict(self, X: Any) -> np.ndarray:
        """``classes_[1]`` where every stage accepts the window, else ``classes_[0]``; ``(N,)``."""
        face = self.accepts(X)
        return self.classes_[face.astype(np.int64)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(N, 2)`` monotone rescaling of :meth:`decision_function` to 0..1 (not calibrated).

        Rejected windows get ``P(face)`` below 0.5, growing with the stages they passed;
        accepted ones above 0.5. Use it for ranking (ROC curves), or calibrate it on a
        validation split before reading it as a probability.
        """
        d = self.decision_function(X)
        n_st = len(self.stages_)
        p1 = np.where(d > 0, 0.5 + 0.5 * d, 0.5 * (d + n_st) / n_st)
        return np.stack([1.0 - p1, p1], axis=1)

    def _run(self, pair: IntegralPair, ys: np.ndarray, xs: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the accepted positions of a level and their last-stage margins."""
        check_is_fitted(self, "stages_")
        alive = np.arange(len(ys))
        base_all = np.asarray(ys, np.int64) * pair.row_len + np.asarray(xs, np.int64)
        stats = window_stats(pair, base_all, self._shape(), self.min_std) if self.normalize else None
        margin = np.zeros(len(ys))
        for st in self.stages_:
            if not len(alive):
                break
            keep_parts, margin_parts = [], []
            for c0 in range(0, len(alive), chunk):
                sel = alive[c0 : c0 + chunk]
                part = None if stats is None else (stats[0][sel], stats[1][sel])
                m = st.score(st.geometry.values(pair, base_all[sel], part)) - st.threshold
                ok = m >= 0
                keep_parts.append(sel[ok])
                margin_parts.append(m[ok])
            alive = np.concatenate(keep_parts)
            margin[alive] = np.concatenate(margin_parts)
        return alive, margin[alive]

    def accepts_at(self, level: np.ndarray | IntegralPair, ys: Any, xs: Any) -> np.ndarray:
        """Boolean mask: does the cascade accept the windows with top-left corners ``(ys, xs)``?

        Args:
            level: ``(H, W)`` grey image in 0..1, or its :func:`~geolab.classic.windows.integral_pair`.
            ys: ``(M,)`` rows of the windows' top-left corners.
            xs: ``(M,)`` columns.
        """
        pair = level if isinstance(level, IntegralPair) else integral_pair(level)
        idx, _ = self._run(pair, np.asarray(ys), np.asarray(xs))
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
        h, w = self._shape()
        if g.ndim != 2 or g.shape[0] < h or g.shape[1] < w:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        yy, xx = np.meshgrid(np.arange(0, g.shape[0] - h + 1, step), np.arange(0, g.shape[1] - w + 1, step), indexing="ij")
        ys, xs = yy.reshape(-1), xx.reshape(-1)
        idx, margins = self._run(integral_pair(g), ys, xs)
        return ys[idx], xs[idx], margins

    # ---------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted cascade to a ``.npz`` file (plain arrays, no pickle)."""
        check_is_fitted(self, "stages_")
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        ft = self.feature_type
        ft_arr = np.array([] if ft is None else ([ft] if isinstance(ft, str) else list(ft)), dtype="<U16")
        arrays: dict[str, np.ndarray] = {
            "format_version": np.array(FORMAT_VERSION),
            "window_shape": np.array(self._shape(), dtype=np.int64),
            "classes": np.asarray(self.classes_) if self.classes_.dtype != object else self.classes_.astype(str),
            "feature_type": ft_arr,
            "feature_type_is_none": np.array(ft is None),
            "normalize": np.array(self.normalize),
            "min_std": np.array(self.min_std),
            "stage_sizes": np.array([st.n_features for st in self.stages_], dtype=np.int64),
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
        tmp = path.with_name(path.name + ".part.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(path)  # nothing half-written
        return path

    @classmethod
    def load(cls, path: str | Path) -> Cascade:
        """Read a cascade written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"cascade file {path} does not exist; write one with Cascade.save(path)")
        with np.load(path, allow_pickle=False) as z:
            if "format_version" not in z.files or int(z["format_version"]) != FORMAT_VERSION:
                raise ValueError(
                    f"{path} is not a geolab cascade file of format {FORMAT_VERSION}; train the cascade again "
                    "and write it with Cascade.save(path)"
                )
            ft: Any = None if bool(z["feature_type_is_none"]) else [str(t) for t in z["feature_type"]]
            if isinstance(ft, list) and len(ft) == 1:
                ft = ft[0]
            shape = (int(z["window_shape"][0]), int(z["window_shape"][1]))
            cas = cls(shape, ft, normalize=bool(z["normalize"]), min_std=float(z["min_std"]))
            cas.window_shape_ = shape
            cas.n_features_in_ = shape[0] * shape[1]
            cas.classes_ = z["classes"] if "classes" in z.files else np.array([0, 1])
            bounds = np.concatenate([[0], np.cumsum(z["stage_sizes"])])
            cas.stages_ = []
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

    def describe(self) -> str:
        """One line: window shape and features per stage."""
        if not self.is_trained():
            return f"Cascade(window_shape={self.window_shape}, unfitted)"
        sizes = [st.n_features for st in self.stages_]
        return f"Cascade(window_shape={self._shape()}, stages={len(sizes)}, features per stage={sizes})"
