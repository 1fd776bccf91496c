"""geolab.metrics.classification against scikit-learn, including ties and degenerate splits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

import geolab.metrics as M
from geolab.metrics import classification


def _labels(seed: int, n: int = 200, k: int = 3):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, k, n)
    p = np.where(rng.random(n) < 0.6, t, rng.integers(0, k, n))
    return t, p


def _scores(seed: int, n: int = 300, pos: float = 0.1, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < pos).astype(int)
    s = rng.normal(size=n) + 1.2 * y
    if ties:
        s = np.round(s, 0)  # few distinct values: many tied scores
    return y, s


def test_every_name_is_exported_at_the_package():
    for name in classification.__all__:
        assert getattr(M, name) is getattr(classification, name)
    assert M.IGNORE_INDEX == 255


@pytest.mark.parametrize("seed", range(4))
def test_label_metrics_match_sklearn(seed):
    t, p = _labels(seed, k=2 + seed)
    assert M.accuracy(t, p) == pytest.approx(skm.accuracy_score(t, p))
    assert M.balanced_accuracy(t, p) == pytest.approx(skm.balanced_accuracy_score(t, p))
    for average in ("macro", "weighted", "micro"):
        assert M.f1_score(t, p, average=average) == pytest.approx(
            skm.f1_score(t, p, average=average, zero_division=0)
        )
    np.testing.assert_allclose(M.f1_score(t, p, average=None), skm.f1_score(t, p, average=None, zero_division=0))
    # torch tensors give the same
    assert M.accuracy(torch.from_numpy(t), torch.from_numpy(p)) == pytest.approx(skm.accuracy_score(t, p))


def test_binary_f1_and_pos_label():
    t, p = _labels(7, k=2)
    assert M.f1_score(t, p) == pytest.approx(skm.f1_score(t, p))
    assert M.f1_score(t, p, pos_label=0) == pytest.approx(skm.f1_score(t, p, pos_label=0))
    # no positive at all: 0 as scikit-learn with zero_division=0
    zeros = np.zeros(10, int)
    assert M.f1_score(zeros, zeros) == skm.f1_score(zeros, zeros, zero_division=0) == 0.0
    with pytest.raises(ValueError, match="two labels"):
        M.f1_score([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="pos_label"):
        M.f1_score([2, 3], [3, 2], pos_label=1)
    with pytest.raises(ValueError, match="average"):
        M.f1_score(t, p, average="samples")


def test_balanced_accuracy_ignores_classes_only_predicted():
    t = np.array([0, 0, 0, 1, 1])
    p = np.array([0, 2, 0, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = skm.balanced_accuracy_score(t, p)
    assert M.balanced_accuracy(t, p) == pytest.approx(expected) == pytest.approx((2 / 3 + 1 / 2) / 2)
    # always the majority class: 1 / K whatever the imbalance
    assert M.balanced_accuracy(np.r_[np.zeros(95), np.ones(5)], np.zeros(100)) == 0.5


def test_confusion_matrix_serves_sample_labels():
    t, p = _labels(3, k=4)
    np.testing.assert_array_equal(M.confusion_matrix(p, t, 4), skm.confusion_matrix(t, p, labels=range(4)))
    logits = torch.nn.functional.one_hot(torch.from_numpy(p), 4).float()  # (N, C) scores
    np.testing.assert_array_equal(M.confusion_matrix(logits, torch.from_numpy(t), 4), skm.confusion_matrix(t, p))


def test_bad_label_input():
    with pytest.raises(ValueError, match="samples"):
        M.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        M.accuracy([], [])


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_precision_recall_curve_and_ap_match_sklearn(seed, ties):
    y, s = _scores(seed, ties=ties)
    p, r, thr = M.precision_recall_curve(y, s)
    p_sk, r_sk, thr_sk = skm.precision_recall_curve(y, s)
    np.testing.assert_allclose(p, p_sk)
    np.testing.assert_allclose(r, r_sk)
    np.testing.assert_allclose(thr, thr_sk)
    assert M.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s))
    # the curve's meaning, by brute force: precision and recall of scores >= threshold
    i = len(thr) // 2
    called = s >= thr[i]
    assert p[i] == pytest.approx(y[called].mean()) and r[i] == pytest.approx(y[called].sum() / y.sum())


def test_all_tied_scores_and_perfect_ranking():
    y = np.array([0, 1, 0, 1, 1])
    s = np.full(5, 0.3)
    assert M.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s)) == pytest.approx(0.6)
    assert M.average_precision(y, y * 2.0) == pytest.approx(1.0)
    assert M.precision_at_recall(y, y * 2.0, recall=1.0) == 1.0


def _oracle_precision_at_recall(y, s, target):
    p, r, thr = skm.precision_recall_curve(y, s)
    p, r = p[:-1], r[:-1]
    ok = r >= target
    best = p[ok].max()
    return best, thr[ok & (p == best)].min()


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("target", [0.0, 0.3, 0.8, 1.0])
def test_precision_and_threshold_at_recall(target, ties):
    y, s = _scores(11, ties=ties)
    best, thr = _oracle_precision_at_recall(y, s, target)
    assert M.precision_at_recall(y, s, recall=target) == pytest.approx(best)
    t = M.threshold_at_recall(y, s, recall=target)
    assert t == pytest.approx(thr)
    # applying the threshold gives that precision and at least the target recall
    called = s >= t
    assert skm.precision_score(y, called) == pytest.approx(best)
    assert skm.recall_score(y, called) >= target - 1e-12


def test_precision_at_recall_is_the_best_not_the_first():
    # recall >= 0.3 is first reached at threshold 0.8 (precision 1/2); the lower threshold 0.4
    # reaches recall 1 at precision 3/5, the best of all thresholds
    y = np.array([0, 1, 0, 1, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.2, 0.1])
    assert M.precision_at_recall(y, s, recall=0.3) == pytest.approx(0.6)
    assert M.threshold_at_recall(y, s, recall=0.3) == pytest.approx(0.4)
    assert M.precision_at_recall(y, s, recall=0.3) == pytest.approx(_oracle_precision_at_recall(y, s, 0.3)[0])


def test_score_functions_reject_degenerate_input():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        skm.precision_recall_curve([0, 0, 0], [0.1, 0.2, 0.3])  # scikit-learn only warns
    for fn in (M.precision_recall_curve, M.average_precision, M.precision_at_recall, M.threshold_at_recall):
        with pytest.raises(ValueError, match="no positive"):
            fn([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="0/1"):
        M.average_precision([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        M.average_precision([0, 1, 1], [0.1, np.nan, 0.3])
    with pytest.raises(ValueError, match="recall must"):
        M.precision_at_recall([0, 1], [0.1, 0.2], recall=1.5)
    with pytest.raises(ValueError, match="samples"):
        M.average_precision([0, 1], [0.1, 0.2, 0.3])


def test_bool_labels_and_tensor_scores():
    y, s = _scores(5)
    assert M.average_precision(y.astype(bool), torch.from_numpy(s).float()) == pytest.approx(
        skm.average_precision_score(y, s.astype(np.float32))
    )


def test_split_metrics_accumulate_batches():
    y, s = _scores(8, n=120, pos=0.2)
    logits = torch.from_numpy(s).float()
    ap, par = M.AveragePrecision(), M.PrecisionAtRecall(recall=0.5)
    for i in range(0, 120, 32):
        ap.update(logits[i : i + 32], torch.from_numpy(y[i : i + 32]))
        par.update(logits[i : i + 32, None], torch.from_numpy(y[i : i + 32]))  # (N, 1) logits
    assert ap.compute() == pytest.approx(skm.average_precision_score(y, s.astype(np.float32)))
    assert par.compute() == pytest.approx(_oracle_precision_at_recall(y, s.astype(np.float32), 0.5)[0])
    # two-class logits rank by their margin, as the softmax probability of class 1
    two = torch.stack([torch.zeros(120), logits], dim=1)
    prob = torch.softmax(two, 1)[:, 1].numpy()
    assert M.AveragePrecision().update(two, y).compute() == pytest.approx(skm.average_precision_score(y, prob))
    ap.reset()
    with pytest.raises(ValueError, match="no batch"):
        ap.compute()
    with pytest.raises(ValueError, match="binary scores"):
        ap.update(torch.zeros(4, 3), torch.zeros(4))
    with pytest.raises(ValueError, match="targets"):
        ap.update(torch.zeros(4), torch.zeros(5))
