"""geolab.classic.adaboost against scikit-learn and a brute-force stump search."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.ensemble import AdaBoostClassifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from geolab.classic.adaboost import AdaBoost, stump_predict


def _sk_adaboost(n_estimators: int) -> AdaBoostClassifier:
    return AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=n_estimators, random_state=0)


def _brute_force_best_error(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Smallest weighted error over every feature, midpoint threshold and polarity."""
    best = np.inf
    for f in range(X.shape[1]):
        values = np.unique(X[:, f].astype(np.float32))
        for a, b in zip(values[:-1], values[1:]):
            thr = float(a) / 2 + float(b) / 2
            for pol in (1, -1):
                err = w[stump_predict(X[:, f], thr, pol) != y].sum()
                best = min(best, err)
    return float(best)


def test_accuracy_close_to_sklearn_on_digits():
    digits = load_digits()
    y = digits.target % 2
    Xtr, Xte, ytr, yte = train_test_split(digits.data, y, test_size=0.4, random_state=0, stratify=y)
    ours = AdaBoost(50).fit(Xtr, ytr).score(Xte, yte)
    ref = _sk_adaboost(50).fit(Xtr, ytr).score(Xte, yte)
    assert ours > 0.85
    assert abs(ours - ref) <= 0.03, (ours, ref)


@pytest.mark.slow
def test_accuracy_close_to_sklearn_on_haar_features():
    from skimage.data import lfw_subset

    from geolab.classic.haar import haar_like_features

    images = lfw_subset()  # 100 faces then 100 non-faces
    y = np.r_[np.ones(100), np.zeros(100)].astype(int)
    rng = np.random.default_rng(0)
    cols = np.sort(rng.choice(190736, 2000, replace=False))
    X = haar_like_features(images, dtype=np.float32)[:, cols]
    ours, ref = [], []
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        ours.append(AdaBoost(20).fit(X[tr], y[tr]).score(X[te], y[te]))
        ref.append(_sk_adaboost(20).fit(X[tr], y[tr]).score(X[te], y[te]))
    assert np.mean(ours) > 0.9
    assert abs(np.mean(ours) - np.mean(ref)) <= 0.03, (ours, ref)


def test_stump_equals_sklearn_depth_one_tree():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 4))
    y = np.r_[np.zeros(6), np.ones(6)].astype(int)
    X[:, 2] = np.r_[rng.uniform(0, 1, 6), rng.uniform(2, 3, 6)]  # separates the classes
    model = AdaBoost(5).fit(X, y)
    tree = DecisionTreeClassifier(max_depth=1).fit(X, y)
    assert model.features_[0] == tree.tree_.feature[0] == 2
    assert model.thresholds_[0] == pytest.approx(tree.tree_.threshold[0])
    assert model.polarities_[0] == 1  # class 1 above the threshold
    assert len(model.alphas_) == 1 and model.errors_[0] == 0  # perfect stump: boosting stops
    np.testing.assert_array_equal(model.predict(X), y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_stump_is_the_weighted_error_minimiser(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 6)).round(1)  # rounding makes ties, which must be skipped
    y = (X[:, 0] + 0.5 * X[:, 3] + rng.normal(scale=0.7, size=40) > 0).astype(int)
    w = rng.random(40)
    w /= w.sum()
    model = AdaBoost(1, chunk_size=7).fit(X, y, sample_weight=w)
    assert model.errors_[0] == pytest.approx(_brute_force_best_error(X, y, w))
    chosen = w[stump_predict(X[:, model.features_[0]], model.thresholds_[0], model.polarities_[0]) != y].sum()
    assert chosen == pytest.approx(model.errors_[0])


def test_chunk_size_does_not_change_the_fit():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 30))
    y = (X[:, :3].sum(axis=1) > 0).astype(int)
    a = AdaBoost(15).fit(X, y)
    b = AdaBoost(15, chunk_size=61).fit(X, y)
    np.testing.assert_array_equal(a.features_, b.features_)
    np.testing.assert_array_equal(a.thresholds_, b.thresholds_)
    np.testing.assert_allclose(a.alphas_, b.alphas_)


def test_staged_outputs_and_recorded_weights():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(80, 10))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)  # needs several stumps
    model = AdaBoost(12).fit(X, y, record_weights=True)
    T = len(model.alphas_)
    staged = list(model.staged_decision_function(X))
    assert len(staged) == T
    np.testing.assert_allclose(staged[-1], model.decision_function(X))
    preds = list(model.staged_predict(X))
    np.testing.assert_array_equal(preds[-1], model.predict(X))
    # stage t adds alpha_t * (+1 / -1)
    np.testing.assert_allclose(np.abs(staged[0]), model.alphas_[0])
    np.testing.assert_allclose(np.abs(staged[1] - staged[0]), model.alphas_[1])
    W = model.sample_weights_
    assert W is not None and W.shape == (T, 80)
    np.testing.assert_allclose(W.sum(axis=1), 1.0)
    np.testing.assert_allclose(W[0], 1 / 80)
    # the weights of the misclassified examples grow by exp(alpha)
    miss = stump_predict(X[:, model.features_[0]], model.thresholds_[0], model.polarities_[0]) != y
    expected = W[0] * np.exp(model.alphas_[0] * miss)
    np.testing.assert_allclose(W[1], expected / expected.sum())
    assert np.all(model.errors_ < 0.5)
    np.testing.assert_allclose(model.alphas_, np.log((1 - model.errors_) / model.errors_))
    assert AdaBoost(3).fit(X, y).sample_weights_ is None


def test_input_validation():
    X = np.random.default_rng(5).normal(size=(10, 3))
    y = np.r_[np.zeros(5), np.ones(5)].astype(int)
    with pytest.raises(ValueError, match="n_estimators"):
        AdaBoost(0).fit(X, y)
    with pytest.raises(ValueError, match="max_features"):
        AdaBoost(3, max_features=1.5).fit(X, y)
    with pytest.raises(ValueError, match="2D"):
        AdaBoost(3).fit(X[:, 0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        AdaBoost(3).fit(X, y[:-1])
    with pytest.raises(ValueError, match="Only binary"):
        AdaBoost(3).fit(X, np.arange(10) % 3)
    with pytest.raises(ValueError, match="Only binary"):
        AdaBoost(3).fit(X, np.ones(10, int))
    with pytest.raises(ValueError, match="NaN"):
        AdaBoost(3).fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="sample_weight"):
        AdaBoost(3).fit(X, y, sample_weight=-np.ones(10))
    with pytest.raises(NotFittedError):
        AdaBoost(3).predict(X)
    with pytest.raises(ValueError, match="expecting 3 features"):
        AdaBoost(3).fit(X, y).predict(X[:, :2])
    with pytest.raises(ValueError, match="better than chance"):
        AdaBoost(3).fit(np.ones((10, 3)), y)


def test_any_two_labels_and_probabilities():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(60, 4))
    y01 = (X[:, 1] > 0.2).astype(int)
    labels = np.array(["rock", "water"])[y01]
    a = AdaBoost(10).fit(X, y01)
    b = AdaBoost(10).fit(X, labels)
    assert b.classes_.tolist() == ["rock", "water"]
    np.testing.assert_array_equal(b.predict(X), np.array(["rock", "water"])[a.predict(X)])
    proba = b.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # logistic link of the vote, and argmax agrees with predict
    np.testing.assert_allclose(np.log(proba[:, 1] / proba[:, 0]), b.decision_function(X), atol=1e-9)
    np.testing.assert_array_equal(b.classes_[proba.argmax(axis=1)], b.predict(X))


def test_random_state_drives_max_features():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(80, 20))
    y = (X[:, :5].sum(axis=1) > 0).astype(int)
    a = AdaBoost(15, max_features=0.3, random_state=0).fit(X, y)
    b = AdaBoost(15, max_features=0.3, random_state=0).fit(X, y)
    c = AdaBoost(15, max_features=0.3, random_state=1).fit(X, y)
    np.testing.assert_array_equal(a.features_, b.features_)  # same seed, same model
    assert not np.array_equal(a.features_, c.features_)  # the seed matters
    full = AdaBoost(15).fit(X, y)
    assert np.array_equal(full.features_, AdaBoost(15, random_state=5).fit(X, y).features_)  # deterministic


def test_stump_rule_vectorised():
    x = np.array([[0.125, 5.0], [0.75, 1.0], [0.5, 3.0]])
    h = stump_predict(x, np.array([0.5, 2.0]), np.array([1, -1]))
    np.testing.assert_array_equal(h, [[0, 0], [1, 1], [0, 0]])  # 0.5 is not above 0.5; 3.0 is not <= 2.0
    np.testing.assert_array_equal(h[:, 0], stump_predict(x[:, 0], 0.5, 1))
    # values are compared at float32 precision, where the thresholds were searched
    assert float(np.float32(0.2)) > 0.2 and stump_predict([0.2], 0.2, 1)[0] == 1


@parametrize_with_checks([AdaBoost(n_estimators=10), AdaBoost(n_estimators=10, max_features=0.5, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
