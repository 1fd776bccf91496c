"""Tests for geolab.classic.cascade: window features, stage training, cascade scanning, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from geolab.classic.cascade import (
    Cascade,
    WindowSampler,
    face_free_images,
    normalize_windows,
    window_features,
)
from geolab.classic.haar import haar_feature_params, haar_like_features

SHAPE = (10, 10)


def _synthetic(n_pos: int = 120, n_neg: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Toy "faces" (a dark band over a bright band, like eyes over cheeks) and random clutter."""
    rng = np.random.default_rng(seed)
    h, w = SHAPE
    pos = 0.5 + 0.08 * rng.standard_normal((n_pos, h, w))
    top = rng.integers(1, 4, n_pos)
    for i, t in enumerate(top):
        contrast = rng.uniform(0.15, 0.35)
        pos[i, t : t + 3] -= contrast
        pos[i, t + 3 : t + 6] += contrast
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    slopes = rng.normal(0, 0.4, (n_neg, 2))
    neg = 0.5 + slopes[:, :1, None] * yy + slopes[:, 1:, None] * xx
    neg = neg + rng.uniform(0.02, 0.25, (n_neg, 1, 1)) * rng.standard_normal((n_neg, h, w))
    return np.clip(pos, 0, 1), np.clip(neg, 0, 1)


@pytest.fixture(scope="module")
def toy() -> tuple[np.ndarray, np.ndarray]:
    return _synthetic()


@pytest.fixture(scope="module")
def fitted(toy) -> Cascade:
    pos, neg = toy
    return Cascade(
        SHAPE,
        n_candidate_features=800,
        detection_rate=0.99,
        false_positive_rate=0.5,
        target_false_positive_rate=1e-4,
        max_stages=6,
        max_features_per_stage=25,
        n_negatives=len(neg),  # every accepted pool window: the stage rates telescope
        random_state=1,
    ).fit(np.concatenate([pos, neg]), np.r_[np.ones(len(pos)), np.zeros(len(neg))])


@pytest.mark.parametrize("shape", [(6, 7), (10, 10), (13, 9)])
@pytest.mark.parametrize("normalize", [False, True])
def test_window_features_match_full_feature_matrix(shape, normalize):
    rng = np.random.default_rng(3)
    win = rng.random((5, *shape))
    params, types = haar_feature_params(*shape)
    idx = rng.choice(len(params), 200, replace=False)
    ours = window_features(win, params[idx], types[idx].astype(str), normalize=normalize)
    ref = haar_like_features(normalize_windows(win) if normalize else win)[:, idx]
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


def test_normalize_windows():
    rng = np.random.default_rng(0)
    win = rng.random((4, 8, 8))
    z = normalize_windows(win)
    np.testing.assert_allclose(z.mean(axis=(1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=(1, 2)), 1, atol=1e-12)
    flat = np.full((1, 8, 8), 0.3)
    assert np.all(normalize_windows(flat) == 0)
    with pytest.raises(ValueError, match=r"\(N, h, w\)"):
        normalize_windows(win[0])


def test_stages_meet_their_targets(fitted, toy):
    pos, neg = toy
    st = fitted.stats_
    n_stages = len(fitted.stages_)
    assert 2 <= n_stages <= 6
    assert all(len(v) == n_stages for v in st.values())
    for s in range(n_stages):
        assert st["detection_rate"][s] >= 0.99
        if fitted.stages_[s].n_features < 25:  # the stage stopped adding features: target met
            assert st["false_positive_rate"][s] <= 0.5
    assert st["n_features"] == [stage.n_features for stage in fitted.stages_]
    # stage rates telescope: the product is the cascade's false-positive rate on the pool
    overall_fpr = fitted.accepts(neg).mean()
    assert overall_fpr == pytest.approx(np.prod(st["false_positive_rate"]), abs=1e-12)
    assert overall_fpr == pytest.approx(st["cumulative_false_positive_rate"][-1], abs=1e-12)
    assert overall_fpr <= 0.5 ** sum(f < 25 for f in st["n_features"]) + 1e-12
    # cumulative detection rate on the training faces is at least the product of the targets
    dr = fitted.accepts(pos).mean()
    assert dr == pytest.approx(st["cumulative_detection_rate"][-1])
    assert dr >= 0.99**n_stages - 1e-12


def test_generalises_on_fresh_toy_data(fitted):
    pos, neg = _synthetic(200, 1000, seed=9)
    assert fitted.accepts(pos).mean() > 0.85
    assert fitted.accepts(neg).mean() < 0.1


def test_feature_matrix_and_window_paths_agree(fitted, toy):
    pos, neg = toy
    win = np.concatenate([pos[:30], neg[:60]])
    x = haar_like_features(normalize_windows(win))
    d = fitted.decision_function_from_features(x)
    np.testing.assert_allclose(d, fitted.decision_function(win), atol=1e-9)
    np.testing.assert_allclose(fitted.stage_margins_from_features(x), fitted.stage_margins(win), atol=1e-9)
    accepted = fitted.accepts(win)
    assert np.array_equal(fitted.predict(win), accepted.astype(float))  # classes_ are 0.0 / 1.0
    assert np.array_equal(accepted, d > 0) and 0 < accepted.sum() < len(win)
    # later rejection -> higher score: the stages passed are the floor of the score, shifted
    margins = fitted.stage_margins(win)
    n_st = margins.shape[1]
    passed = np.where((margins < 0).any(1), (margins < 0).argmax(1), n_st)
    assert np.array_equal(np.floor(d).astype(int), passed - n_st)
    proba = fitted.predict_proba(win)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert np.array_equal(proba[:, 1] > 0.5, accepted)
    assert np.all(np.diff(proba[np.argsort(d), 1]) >= 0)  # monotone in the decision function
    with pytest.raises(ValueError, match="column"):
        fitted.decision_function_from_features(x[:, :5])


def test_scan_matches_cut_out_windows(fitted, toy):
    pos, neg = toy
    rng = np.random.default_rng(5)
    canvas = np.clip(0.5 + 0.1 * rng.standard_normal((40, 50)), 0, 1)
    canvas[5:15, 7:17] = pos[0]
    canvas[22:32, 30:40] = pos[1]
    ys, xs, margins = fitted.scan(canvas, step=1)
    h, w = SHAPE
    all_y, all_x = np.mgrid[: 40 - h + 1, : 50 - w + 1]
    windows = np.stack([canvas[y : y + h, x : x + w] for y, x in zip(all_y.ravel(), all_x.ravel())])
    accepted = fitted.accepts(windows)
    assert set(zip(ys.tolist(), xs.tolist())) == set(zip(all_y.ravel()[accepted].tolist(), all_x.ravel()[accepted].tolist()))
    assert (5, 7) in set(zip(ys.tolist(), xs.tolist())) and np.all(margins >= 0)
    mask = fitted.accepts_at(canvas, all_y.ravel(), all_x.ravel())
    assert np.array_equal(mask, accepted)


def test_save_load_round_trip(fitted, toy, tmp_path):
    pos, neg = toy
    path = fitted.save(tmp_path / "toy_cascade")
    assert path.suffix == ".npz"
    with np.load(path, allow_pickle=False) as z:  # plain arrays only
        assert "alphas" in z.files
    back = Cascade.load(path)
    win = np.concatenate([pos, neg[:200]])
    assert np.array_equal(back.decision_function(win), fitted.decision_function(win))
    assert np.array_equal(back.classes_, fitted.classes_)
    assert back.stats_ == {k: [float(v) for v in vals] for k, vals in fitted.stats_.items()}
    assert back.window_shape == fitted.window_shape and back.feature_type == fitted.feature_type
    with pytest.raises(FileNotFoundError, match="save"):
        Cascade.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="cascade file"):
        Cascade.load(tmp_path / "other.npz")


def test_errors():
    cas = Cascade(SHAPE)
    with pytest.raises(NotFittedError):
        cas.predict(np.zeros((2, *SHAPE)))
    with pytest.raises(ValueError, match=r"shape \(N, 10, 10\)"):
        cas.fit(np.zeros((3, 5, 5)), [0, 1, 1])
    with pytest.raises(ValueError, match="binary"):
        cas.fit(np.zeros((3, *SHAPE)), [0, 1, 2])
    with pytest.raises(ValueError, match="detection_rate"):
        Cascade(SHAPE, detection_rate=1.5).fit(np.zeros((2, *SHAPE)), [0, 1])
    with pytest.raises(ValueError, match="WindowSampler needs"):
        WindowSampler((), SHAPE)
    with pytest.raises(ValueError, match="0..1"):
        WindowSampler([np.full((30, 30), 2.0)], SHAPE)


def test_window_sampler_draws_accepted_windows(fitted):
    rng_img = np.random.default_rng(2)
    images = [np.clip(rng_img.random((60, 80)), 0, 1), np.linspace(0, 1, 50 * 40).reshape(50, 40)]
    sampler = WindowSampler(images, SHAPE, scale_factor=1.5, step=2)
    got = sampler.sample(Cascade(SHAPE), 50, np.random.default_rng(0))  # unfitted: anything goes
    assert got.shape == (50, *SHAPE)
    again = sampler.sample(Cascade(SHAPE), 50, np.random.default_rng(0))
    assert np.array_equal(got, again)  # same seed, same windows
    hard = sampler.sample(fitted, 20, np.random.default_rng(0))
    if len(hard):
        assert fitted.accepts(hard).all()


def test_face_free_images_are_grey_unit_range():
    imgs = face_free_images()
    assert len(imgs) >= 10
    assert all(im.ndim == 2 and im.dtype == np.float64 and 0 <= im.min() and im.max() <= 1 for im in imgs)


def test_cascade_on_lfw_faces_beats_chance():
    from sklearn.metrics import roc_auc_score

    lfw = data.lfw_subset()
    rng = np.random.default_rng(0)
    faces, others = lfw[rng.permutation(100)], lfw[100 + rng.permutation(100)]
    train_pos = np.concatenate([faces[:70], faces[:70, :, ::-1]])
    sampler = WindowSampler(face_free_images()[:4], (25, 25), max_side=200)
    cas = Cascade(
        (25, 25), n_candidate_features=1500, max_stages=4, max_features_per_stage=15, n_negatives=200, random_state=0
    ).fit(np.concatenate([train_pos, others[:70]]), np.r_[np.ones(140), np.zeros(70)], sampler=sampler)
    test = np.concatenate([faces[70:], others[70:]])
    y = np.r_[np.ones(30), np.zeros(30)]
    d = cas.decision_function(test)
    assert roc_auc_score(y, d) > 0.8
    pred = d >= 0
    assert pred[:30].mean() > pred[30:].mean() + 0.3


def test_stage_votes_follow_adaboost_stumps(toy):
    from geolab.classic.adaboost import AdaBoost
    from geolab.classic.cascade import Stage

    pos, neg = toy
    params, types = haar_feature_params(*SHAPE)
    x = window_features(np.concatenate([pos, neg]), params, types.astype(str))
    y = np.r_[np.ones(len(pos), int), np.zeros(len(neg), int)]
    booster = AdaBoost(n_estimators=8).fit(x, y)
    f = booster.features_
    stage = Stage(f, params[f], types[f].astype(str), booster.thresholds_, booster.polarities_, booster.alphas_, 0.0)
    np.testing.assert_allclose(stage.score(x[:, f]), booster.decision_function(x), atol=1e-12)
    staged = list(booster.staged_decision_function(x))
    assert len(staged) == stage.n_features


@parametrize_with_checks(
    [
        # window_shape=None: each row of a 2-D X is a 1 x F "window", so the generic checks'
        # tabular data can be used; normalize=False keeps the row's scale.
        Cascade(
            window_shape=None, normalize=False, n_candidate_features=None, max_stages=3,
            max_features_per_stage=10, detection_rate=0.99, random_state=0,
        )
    ]
)  # fmt: skip
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_min_negatives_stops_when_the_pool_runs_out(toy):
    pos, neg = toy
    X = np.concatenate([pos, neg[:150]])
    y = np.r_[np.ones(len(pos)), np.zeros(150)]
    kw = dict(n_candidate_features=400, max_stages=8, max_features_per_stage=10, n_negatives=150, random_state=0)
    strict = Cascade(SHAPE, min_negatives=100, **kw).fit(X, y)
    loose = Cascade(SHAPE, **kw).fit(X, y)
    assert all(n >= 100 for n in strict.stats_["n_negatives"])
    assert "min_negatives=100" in strict.stop_reason_
    assert len(strict.stages_) < len(loose.stages_)  # the loose cascade trains stages on a handful
    assert min(loose.stats_["n_negatives"]) < 100


def test_validation_faces_set_the_thresholds(toy):
    pos, neg = toy
    X = np.concatenate([pos, neg])
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    groups = np.r_[np.arange(len(pos)) // 4, -1 - np.arange(len(neg))]  # four "copies" per face
    cas = Cascade(
        SHAPE, n_candidate_features=400, max_stages=3, max_features_per_stage=10, validation_fraction=0.25,
        random_state=0,
    ).fit(X, y, groups=groups)
    # re-derive the held-out faces: the same generator draws the candidates first, then the groups
    gen = np.random.default_rng(0)
    params, _ = haar_feature_params(*SHAPE)
    gen.choice(len(params), size=400, replace=False)
    ids = np.unique(groups[: len(pos)])
    held = np.isin(groups[: len(pos)], gen.choice(ids, size=round(0.25 * len(ids)), replace=False))
    margins = cas.stage_margins(pos[held])
    # stage 1's threshold is the lowest held-out face score (k_miss = 0 for 30 faces at 99.5 %)
    assert margins[:, 0].min() == pytest.approx(1e-9 * np.abs(cas.stages_[0].alphas).sum(), abs=1e-9)
    assert cas.stats_["detection_rate"][0] == 1.0
    with pytest.raises(ValueError, match="validation_fraction"):
        Cascade(SHAPE, validation_fraction=1.5).fit(X, y)
    with pytest.raises(ValueError, match="groups"):
        Cascade(SHAPE, validation_fraction=0.2).fit(X, y, groups=groups[:5])


def test_classic_modules_import_no_private_names_and_form_no_cycle():
    import ast
    from pathlib import Path

    import geolab.classic as pkg

    root = Path(pkg.__file__).parent
    deps: dict[str, set[str]] = {}
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        assert len(path.read_text().splitlines()) <= 600, f"{path.name} is over 600 lines"
        deps[path.stem] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("geolab"):
                assert not any(a.name.startswith("_") for a in node.names), (path.name, node.module)
                if node.module.startswith("geolab.classic."):
                    deps[path.stem].add(node.module.rsplit(".", 1)[1])

    def reach(start: str, seen: set[str]) -> set[str]:
        for d in deps.get(start, ()):
            if d not in seen:
                seen.add(d)
                reach(d, seen)
        return seen

    for mod in deps:
        assert mod not in reach(mod, set()), f"import cycle through geolab.classic.{mod}"
