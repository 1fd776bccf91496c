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

__all__ = ["AdaBoost", "stump_predict"]

_EPS = 1e-10


def stump_predict(x: ArrayLike, threshold: float, polarity: int) -> np.ndarray:
    """Output of one decision stump.

    Args:
        x: ``(N,)`` values of the stump's feature.
        threshold: Split value.
        polarity: ``+1``: predict 1 above the threshold; ``-1``: at or below it.

    Returns:
        ``(N,)`` int8 array of 0/1.
    """
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    above = x > threshold
    return (above if polarity > 0 else ~above).astype(np.int8)


def _check_X(X: ArrayLike, name: str, n_features: int | None = None) -> np.ndarray:
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(
            f"geolab.classic.adaboost: {name} must be a 2-D (n_samples, n_features) array, got shape {arr.shape}"
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"geolab.classic.adaboost: {name} must be numeric, got dtype {arr.dtype}")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"geolab.classic.adaboost: {name} has {arr.shape[1]} features but the model was fitted on {n_features}"
        )
    return arr


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


class AdaBoost:
    """Discrete AdaBoost of decision stumps for two classes ``{0, 1}``.

    Args:
        n_estimators: Maximum number of boosting rounds (stumps). Fitting stops early
            when a stump is perfect or no stump beats chance.
        random_state: Accepted for a scikit-learn-like signature; the fit is
            deterministic (ties between equally good stumps go to the lowest feature
            index, then the lowest threshold), so it is not used.
        chunk_size: Values (features x samples) processed per block in a round; the
            working memory is about ``4 * chunk_size`` bytes on top of the sorting
            permutations (``4 * N * F`` bytes).

    Attributes (after :meth:`fit`):
        features_: ``(T,)`` column index of each stump's feature.
        thresholds_: ``(T,)`` thresholds.
        polarities_: ``(T,)`` +1 / -1.
        alphas_: ``(T,)`` votes ``log((1 - err) / err)``.
        errors_: ``(T,)`` weighted training error of each stump when it was chosen.
        sample_weights_: ``(T, N)`` example weights at the start of each round (only
            with ``fit(..., record_weights=True)``, else None).
        n_features_in_: Number of columns of the training matrix.
    """

    def __init__(self, n_estimators: int = 50, *, random_state: Any = None, chunk_size: int = 1 << 18) -> None:
        if isinstance(n_estimators, bool) or not isinstance(n_estimators, (int, np.integer)) or n_estimators < 1:
            raise ValueError(f"AdaBoost: n_estimators must be a positive integer, got {n_estimators!r}")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise ValueError(f"AdaBoost: chunk_size must be a positive integer, got {chunk_size!r}")
        self.n_estimators = int(n_estimators)
        self.random_state = random_state
        self.chunk_size = int(chunk_size)
        self.sample_weights_: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"AdaBoost(n_estimators={self.n_estimators})"

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        record_weights: bool = False,
    ) -> AdaBoost:
        """Boost stumps on a feature matrix.

        Args:
            X: ``(N, F)`` features (any real dtype; used as float32).
            y: ``(N,)`` labels in ``{0, 1}`` (bool or integers), both classes present.
            sample_weight: ``(N,)`` non-negative starting weights (default: uniform);
                normalised to sum to 1. Viola & Jones start with ``1/(2m)`` per face and
                ``1/(2l)`` per non-face.
            record_weights: Keep the weights of every round in ``sample_weights_``.

        Returns:
            self
        """
        Xa = _check_X(X, "X")
        n, n_feat = Xa.shape
        ya = np.asarray(y)
        if ya.ndim != 1 or len(ya) != n:
            raise ValueError(f"AdaBoost.fit: y must be 1-D with one label per row of X ({n}), got shape {ya.shape}")
        if ya.dtype.kind not in "biu" and not (ya.dtype.kind == "f" and np.all(np.mod(ya, 1) == 0)):
            raise TypeError(f"AdaBoost.fit: y must hold integer labels 0/1, got dtype {ya.dtype}")
        labels = set(np.unique(ya).tolist())
        if not labels <= {0, 1}:
            raise ValueError(f"AdaBoost.fit: labels must be 0 or 1, got {sorted(labels)[:10]}")
        if labels != {0, 1}:
            raise ValueError("AdaBoost.fit: y holds a single class; both 0 and 1 are needed")
        if n < 2 or n_feat < 1:
            raise ValueError(f"AdaBoost.fit: need at least 2 samples and 1 feature, got X of shape {Xa.shape}")
        X32 = np.asarray(Xa, dtype=np.float32)
        if not np.isfinite(X32).all():
            raise ValueError("AdaBoost.fit: X contains NaN or infinite values (or values beyond float32)")
        yb = ya.astype(np.int8)
        if sample_weight is None:
            w = np.full(n, 1.0 / n)
        else:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ValueError(
                    f"AdaBoost.fit: sample_weight must be {n} finite non-negative numbers with a positive sum"
                )
            w = w / w.sum()

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
        del xc, oc, xs
        buf = np.empty(n * f_block, dtype=np.float32)

        sign = np.where(yb == 1, 1.0, -1.0)
        feats, thrs, pols, alphas, errs, history = [], [], [], [], [], []
        for _ in range(self.n_estimators):
            if record_weights:
                history.append(w.copy())
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
        self.n_features_in_ = n_feat
        return self

    # ------------------------------------------------------------------ prediction

    def _check_fitted(self) -> None:
        if not hasattr(self, "alphas_"):
            raise RuntimeError("AdaBoost: call fit(X, y) before predicting")

    def _stump_outputs(self, X: ArrayLike) -> np.ndarray:
        """``(T, N)`` outputs ``+1 / -1`` of every stump."""
        self._check_fitted()
        Xa = _check_X(X, "X", self.n_features_in_)
        cols = np.asarray(Xa[:, self.features_], dtype=np.float32).astype(np.float64).T
        above = cols > self.thresholds_[:, None]
        h = np.where(self.polarities_[:, None] > 0, above, ~above)
        return np.where(h, 1.0, -1.0)

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Weighted vote ``sum_t alpha_t * (2 h_t(x) - 1)``; positive means class 1.

        Args:
            X: ``(M, F)`` features, same columns as in :meth:`fit`.

        Returns:
            ``(M,)`` float64 scores.
        """
        self._check_fitted()
        return self.alphas_ @ self._stump_outputs(X)

    def staged_decision_function(self, X: ArrayLike) -> Iterator[np.ndarray]:
        """Yield the decision function after 1, 2, ..., T stumps (each ``(M,)``)."""
        self._check_fitted()
        scores = np.cumsum(self.alphas_[:, None] * self._stump_outputs(X), axis=0)
        yield from scores

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class ``1`` where the decision function is positive, else ``0``; ``(M,)`` int64."""
        return (self.decision_function(X) > 0).astype(np.int64)

    def staged_predict(self, X: ArrayLike) -> Iterator[np.ndarray]:
        """Yield the predictions after 1, 2, ..., T stumps."""
        for s in self.staged_decision_function(X):
            yield (s > 0).astype(np.int64)

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy on ``(X, y)``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))
