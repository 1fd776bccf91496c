"""geolab.synth.shapes: deterministic images of textured regions with exact labels."""

from __future__ import annotations

import numpy as np
import pytest

from geolab.synth.shapes import make_shapes, make_shapes_set


def test_deterministic_and_labelled():
    a, la = make_shapes((40, 50), seed=7)
    b, lb = make_shapes((40, 50), seed=7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert a.shape == (40, 50, 3) and a.dtype == np.uint8 and la.shape == (40, 50)
    assert not np.array_equal(a, make_shapes((40, 50), seed=8)[0])
    # labels are the visible regions numbered 0..k-1
    np.testing.assert_array_equal(np.unique(la), np.arange(la.max() + 1))
    assert la.max() >= 2


def test_statistics():
    # without noise or texture contrast, regions differ in mean colour; noise has the asked std
    flat, lab = make_shapes((64, 64), noise=0.0, seed=2)
    noisy, _ = make_shapes((64, 64), noise=10.0, seed=2)
    resid = noisy.astype(float) - flat.astype(float)
    inside = (flat > 30) & (flat < 225)  # away from clipping
    assert resid[inside].std() == pytest.approx(10.0, rel=0.1)
    means = np.array([flat[lab == k].mean(0) for k in range(lab.max() + 1)])
    dists = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(len(means), 1)]
    assert dists.min() > 5.0


def test_set_and_errors():
    s = make_shapes_set(3, (16, 16), seed=1, n_shapes=2)
    assert len(s) == 3 and not np.array_equal(s[0][0], s[1][0])
    with pytest.raises(ValueError, match="at least"):
        make_shapes((4, 4))
