"""Discrete AdaBoost with decision stumps on a feature matrix (Viola–Jones style).

Each round picks the *decision stump* — one feature, one threshold, one polarity — with
the smallest weighted error, gives it a vote ``alpha = log((1 - err) / err)``, and
multiplies the weight of every example it got wrong by ``exp(alpha)`` before normalising,
so that the next stump concentrates on the hard examples (Freund & Schapire 1997). This
is scikit-learn's ``AdaBoostClassifier`` (SAMME, two classes) with depth-1 trees, except
that the stump minimises the weighted error itself, as in Viola & Jones (2001), rather
than the Gini impurity.

Speed: every feature is sorted once in :meth:`AdaBoost.fit`. A round then only gathers
the signed weights in each feature's sorted order and takes a cumulative sum: the
weighted error of *every* threshold of *every* feature in a few vectorised passes, run
over blocks of features that fit in the CPU cache.

Stump convention: ``h(x) = 1`` if ``x > threshold`` for polarity ``+1`` and if
``x <= threshold`` for polarity ``-1``; thresholds are midpoints between consecutive
distinct feature values (float32, as scikit-learn's trees).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["AdaBoost", "stump_predict"]

_EPS = 1e-10


def stump_predict(x: ArrayLike, threshold: ArrayLike, polarity: ArrayLike) -> np.ndarray:
    """Output of decision stumps: the one place that states the stump rule.

    A stump says 1 where ``x > threshold`` for polarity ``+1``, and where
    ``x <= threshold`` for polarity ``-1``; ``x`` is first rounded to float32 (the
    precision the thresholds were searched at, as in scikit-learn's trees).

    Args:
        x: ``(N,)`` values of one feature, or ``(N, T)`` values of the features of ``T``
            stumps (one column each).
        threshold: Scalar or ``(T,)`` split values.
        polarity: Scalar or ``(T,)`` of ``+1`` / ``-1``.

    Returns:
        int8 array of 0/1, shape of ``x``.
    """
    values = np.asarray(x, dtype=np.float32).astype(np.float64)
    above = values > np.asarray(threshold, dtype=np.float64)
    return np.where(np.asarray(polarity) > 0, above, ~above).astype(np.int8)


def _block_cumsum(
    v: np.ndarray, block: tuple[int, np.ndarray, np.ndarray], buf: np.ndarray, c: np.float32
) -> np.ndarray:
    """Cumulative signed weights of one block of features, in each feature's sorted order.

    Args:
        v: ``(N,)`` float32 signed weights ``w * (2y - 1)``.
        block: ``(first feature, (N, width) sorting permutation, flat tie positions)``.
        buf: Scratch space of at least ``N * width`` float32.
        c: ``W0 - 0.5``; impossible splits (ties) are set to ``-c`` so they score 0.

    Returns:
        ``(N - 1, width)`` view: entry ``[k, j]`` is the weighted error minus ``W0`` of
        splitting feature ``j`` after its ``k``-th smallest value (polarity +1).
    """
    _, order, ties = block
    n, width = order.shape
    D = buf[: n * width].reshape(n, width)
    np.take(v, order, out=D, mode="clip")  # "clip": no buffering of ``out`` (indices are valid)
    for i in range(1, n):  # row-wise running sum: much faster than cumsum along axis 0
        np.add(D[i - 1], D[i], out=D[i])
    D = D[:-1]
    D.reshape(-1)[ties] = -c
    return D


class AdaBoost(ClassifierMixin, BaseEstimator):
    """Discrete AdaBoost of decision stumps for two classes (a scikit-learn classifier).

    Args:
        n_estimators: Maximum number of boosting rounds (stumps). Fitting stops early
            when a stump is perfect or no stump beats chance.
        max_features: Features each round may choose from: None for all (the fit is then
            deterministic: ties go to the lowest feature index, then the lowest threshold),
            an int, or a fraction in (0, 1] of the columns, drawn afresh every round.
        random_state: Seed (or ``numpy.random.Generator``/``RandomState``) of those draws.
        chunk_size: Values (features x samples) processed per block in a round; the
            working memory is about ``4 * chunk_size`` bytes on top of the sorting
            permutations (``4 * N * F`` bytes).

    Attributes (after :meth:`fit`):
        classes_: ``(2,)`` the two labels; ``classes_[1]`` is the "positive" class
            (positive decision function), e.g. ``1`` for labels ``{0, 1}``.
        features_: ``(T,)`` column index of each stump's feature.
        thresholds_: ``(T,)`` thresholds.
        polarities_: ``(T,)`` +1 / -1.
        alphas_: ``(T,)`` votes ``log((1 - err) / err)``.
        errors_: ``(T,)`` weighted training error of each stump when it was chosen.
        sample_weights_: ``(T, N)`` example weights at the start of each round (only
            with ``fit(..., record_weights=True)``, else None).
        n_features_in_: Number of columns of the training matrix.
    """

    def __init__(
        self,
        n_estimators: int = 50,
        *,
        max_features: int | float | None = None,
        random_state: int | np.random.Generator | np.random.RandomState | None = None,
        chunk_size: int = 1 << 18,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.random_state = random_state
        self.chunk_size = chunk_size

    def __sklearn_tags__(self) -> Any:
        """Binary classifier on dense real features (scikit-learn's estimator tags)."""
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _check_params(self, n_feat: int) -> int:
        """Validate the hyper-parameters; return the number of features per round."""
        for name in ("n_estimators", "chunk_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"AdaBoost: {name} must be a positive integer, got {v!r}")
        m = self.max_features
        if m is None:
            return n_feat
        if isinstance(m, (float, np.floating)) and 0.0 < m <= 1.0:
            return max(1, int(m * n_feat))
        if isinstance(m, (int, np.integer)) and not isinstance(m, bool) and m >= 1:
            return min(int(m), n_feat)
        raise ValueError(f"AdaBoost: max_features must be None, an int >= 1 or a float in (0, 1], got {m!r}")

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        record_weights: bool = False,
    ) -> AdaBoost:
        """Boost stumps on a feature matrix.

        Args:
            X: ``(N, F)`` real features (used as float32).
            y: ``(N,)`` labels of exactly two classes (any sortable labels).
            sample_weight: ``(N,)`` non-negative starting weights (default: uniform);
                normalised to sum to 1. Viola & Jones start with ``1/(2m)`` per face and
                ``1/(2l)`` per non-face.
            record_weights: Keep the weights of every round in ``sample_weights_``.

        Returns:
            self
        """
        Xa, ya = validate_data(self, X, y, dtype=[np.float64, np.float32], ensure_min_samples=2)
        check_classification_targets(ya)
        n, n_feat = Xa.shape
        k_feat = self._check_params(n_feat)
        self.classes_, y_enc = np.unique(ya, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(
                f"Only binary classification is supported: AdaBoost needs two classes; y holds "
                f"{len(self.classes_)} class(es) "
                f"{self.classes_[:10].tolist()} (for one class there is nothing to learn; for more, "
                "wrap it in sklearn.multiclass.OneVsRestClassifier)"
            )
        X32 = np.asarray(Xa, dtype=np.float32)
        if not np.isfinite(X32).all():
            raise ValueError("AdaBoost.fit: X holds values beyond the float32 range; rescale the features")
        yb = y_enc.astype(np.int8)
        if sample_weight is None:
            w = np.full(n, 1.0 / n)
        else:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.ndim == 0:
                w = np.full(n, float(w))
            if w.shape == (n,) and np.isfinite(w).all() and (w >= 0).all() and w.sum() <= 0:
                raise ValueError("AdaBoost.fit: every sample weight is zero; give some samples a positive weight")
            if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
                raise ValueError(
                    f"AdaBoost.fit: sample_weight must be {n} finite non-negative numbers with a positive sum"
                )
            w = w / w.sum()
        rng = check_random_state(self.random_state)

        # Sort every feature once, block by block of features. Only the sorting
        # permutations (int32) and the positions of ties (where no split is possible)
        # are kept; a round gathers the signed weights through them.
        f_block = max(1, min(n_feat, self.chunk_size // n))
        blocks: list[tuple[int, np.ndarray, np.ndarray]] = []
        for f0 in range(0, n_feat, f_block):
            xc = np.ascontiguousarray(X32[:, f0 : f0 + f_block].T)  # (width, n): one row per feature
            oc = np.argsort(xc, axis=1)
            xs = np.take_along_axis(xc, oc, axis=1)
            ties = np.flatnonzero((xs[:, 1:] == xs[:, :-1]).T)  # flat positions in an (n, width) block
            blocks.append((f0, np.ascontiguousarray(oc.T, dtype=np.int32), ties))
        buf = np.empty(n * f_block, dtype=np.float32)

        sign = np.where(yb == 1, 1.0, -1.0)
        feats: list[int] = []
        thrs: list[float] = []
        pols: list[int] = []
        alphas: list[float] = []
        errs: list[float] = []
        history: list[np.ndarray] = []
        for _ in range(self.n_estimators):
            if record_weights:
                history.append(w.copy())
            allowed = None
            if k_feat < n_feat:
                allowed = np.zeros(n_feat, dtype=bool)
                allowed[rng.choice(n_feat, size=k_feat, replace=False)] = True
            v = (w * sign).astype(np.float32)
            # err(+1, k) = sum of w over y=1 left of the split + w over y=0 right of it
            #            = D[k] + W0, with D the cumulative sum of w * (2y - 1) in sorted order.
            c = np.float32(w[yb == 0].sum() - 0.5)
            # Best stump: largest |err - 1/2|; ties go to the lowest feature, then the
            # lowest threshold, whatever the block size.
            best_score, best_block, fi = np.float32(0), -1, -1
            for bi, block in enumerate(blocks):
                D = _block_cumsum(v, block, buf, c)
                scores = np.maximum(D.max(axis=0) + c, -(D.min(axis=0) + c))
                if allowed is not None:
                    scores = np.where(allowed[block[0] : block[0] + D.shape[1]], scores, 0)
                j = int(np.argmax(scores))
                if scores[j] > best_score:
                    best_score, best_block, fi = scores[j], bi, j
            if best_block < 0 or best_score <= 1e-7:  # no split beats chance
                break
            f0, oc, _ = blocks[best_block]
            D = _block_cumsum(v, blocks[best_block], buf, c)
            k = int(np.argmax(np.abs(D[:, fi] + c)))
            f = f0 + fi
            xs = X32[oc[:, fi], f]
            a, b = float(xs[k]), float(xs[k + 1])
            thr = a / 2.0 + b / 2.0
            if thr == b or not np.isfinite(thr):
                thr = a
            pol = 1 if float(D[k, fi]) + float(c) < 0 else -1
            miss = stump_predict(X32[:, f], thr, pol) != yb
            err = float(w[miss].sum())
            if err >= 0.5 - 1e-12:
                break
            err_c = max(err, _EPS)
            alpha = float(np.log((1.0 - err_c) / err_c))
            feats.append(f)
            thrs.append(thr)
            pols.append(pol)
            alphas.append(alpha)
            errs.append(err)
            if err <= _EPS:  # perfect stump: nothing left to boost
                break
            w = w * np.exp(alpha * miss)
            w /= w.sum()
        if not feats:
            raise ValueError(
                "AdaBoost.fit: no stump does better than chance (are all features constant, or the "
                "weights degenerate?)"
            )
        self.features_ = np.asarray(feats, dtype=np.int64)
        self.thresholds_ = np.asarray(thrs, dtype=np.float64)
        self.polarities_ = np.asarray(pols, dtype=np.int8)
        self.alphas_ = np.asarray(alphas, dtype=np.float64)
        self.errors_ = np.asarray(errs, dtype=np.float64)
        self.sample_weights_ = np.asarray(history[: len(feats)]) if record_weights else None
        return self

    # ------------------------------------------------------------------ prediction

    def _stump_outputs(self, X: ArrayLike) -> np.ndarray:
        """``(T, N)`` outputs ``+1 / -1`` of every stump."""
        Xa = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        h = stump_predict(Xa[:, self.features_], self.thresholds_, self.polarities_)
        return (2.0 * h - 1.0).T

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Weighted vote ``sum_t alpha_t * (2 h_t(x) - 1)``; positive means ``classes_[1]``.

        Args:
            X: ``(M, F)`` features, same columns as in :meth:`fit`.

        Returns:
            ``(M,)`` float64 scores.
        """
        check_is_fitted(self, "alphas_")
        return self.alphas_ @ self._stump_outputs(X)

    def staged_decision_function(self, X: ArrayLike) -> Iterator[np.ndarray]:
        """Yield the decision function after 1, 2, ..., T stumps (each ``(M,)``)."""
        check_is_fitted(self, "alphas_")
        scores = np.cumsum(self.alphas_[:, None] * self._stump_outputs(X), axis=0)
        yield from scores

    def predict(self, X: ArrayLike) -> np.ndarray:
        """``classes_[1]`` where the decision function is positive, else ``classes_[0]``; ``(M,)``."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.int64)]

    def staged_predict(self, X: ArrayLike) -> Iterator[np.ndarray]:
        """Yield the predictions after 1, 2, ..., T stumps."""
        for s in self.staged_decision_function(X):
            positive = s > 0
            yield self.classes_[positive.astype(np.int64)]

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities ``(M, 2)`` from the logistic link of AdaBoost's exponential loss.

        With votes ``alpha = log((1 - err) / err)`` (no factor 1/2), the vote ``F(x)`` estimates
        ``log(P(classes_[1] | x) / P(classes_[0] | x))`` (Friedman, Hastie & Tibshirani 2000), so
        ``P(classes_[1] | x) = 1 / (1 + exp(-F(x)))``. Boosted probabilities are often badly
        calibrated; calibrate on a validation split (``sklearn.calibration``) before trusting them.
        """
        p1 = expit(self.decision_function(X))
        return np.stack([1.0 - p1, p1], axis=1)
