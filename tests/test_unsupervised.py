"""geolab.unsupervised: differentiable feature clustering, baselines, scores and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from geolab.synth.shapes import make_shapes
from geolab.unsupervised import (
    NO_SCRIBBLE,
    DFCNet,
    DFCSegmenter,
    adjusted_rand_index,
    connected_components,
    contingency,
    continuity_loss,
    dfc_loss,
    felzenszwalb_segment,
    image_to_tensor,
    kmeans_segment,
    matched_iou,
    merge_to_n_segments,
    plateau_reached,
    read_label_png,
    relabel_sequential,
    segment,
    segment_many,
    slic_segment,
    validate_scribble,
    write_label_png,
)


@pytest.fixture(scope="module")
def shapes() -> tuple[np.ndarray, np.ndarray]:
    return make_shapes((24, 28), n_shapes=2, seed=3)


def _straightforward(image: np.ndarray, n_iter: int, n_channels: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """The paper's loop written plainly (contiguous layout, host label count every iteration)."""
    x = torch.from_numpy(image.astype(np.float32).transpose(2, 0, 1) / 255.0)[None]
    torch.manual_seed(seed)
    model = DFCNet(3, n_channels, 2, "reflect")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    counts = []
    for _ in range(n_iter):
        opt.zero_grad()
        r = model(x)
        target = r.detach().argmax(1)
        loss = F.cross_entropy(r, target) + continuity_loss(r)
        loss.backward()
        opt.step()
        counts.append(len(np.unique(target.numpy())))
    return target[0].numpy(), counts


def test_segment_matches_straightforward_loop(shapes):
    image, _ = shapes
    ref, counts = _straightforward(image, 8, 16, seed=5)
    res = segment(image, n_channels=16, max_iter=8, min_labels=1, patience=None, exact=True, seed=5,
                  progress=False, device="cpu")
    np.testing.assert_array_equal(res.labels, relabel_sequential(ref))
    np.testing.assert_array_equal(res.n_labels, counts)
    assert res.stop_reason == "max_iter" and res.n_iter == 8


def test_segment_is_deterministic_and_fast_path_agrees(shapes):
    image, _ = shapes
    kw = {"n_channels": 16, "max_iter": 6, "min_labels": 1, "patience": None, "seed": 1, "progress": False, "device": "cpu"}
    a, b = segment(image, **kw), segment(image, **kw)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.loss_sim, b.loss_sim)
    slow = segment(image, exact=True, **kw)
    assert adjusted_rand_index(slow.labels, a.labels) > 0.9
    plain = segment(image, amp=False, **kw)  # float32 with the fused loss: close to exact
    assert adjusted_rand_index(slow.labels, plain.labels) > 0.9
    np.testing.assert_allclose(plain.loss_sim, slow.loss_sim, rtol=1e-3, atol=1e-4)
    assert a.labels.shape == image.shape[:2] and a.labels.dtype == np.int64
    assert a.labels.max() + 1 == a.n_labels[-1] == len(np.unique(a.labels))
    assert len(a.loss_sim) == len(a.loss_con) == len(a.loss_scr) == 6 and np.all(a.loss_scr == 0)


def test_bfloat16_path_is_deterministic(shapes):
    image, _ = shapes
    kw = {"n_channels": 8, "max_iter": 3, "min_labels": 1, "patience": None, "amp": True, "seed": 2,
          "progress": False, "device": "cpu"}
    a, b = segment(image, **kw), segment(image, **kw)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.loss_con, b.loss_con)
    assert np.all(np.isfinite(a.loss_sim)) and a.labels.shape == image.shape[:2]


def test_segment_multispectral_and_grey():
    rng = np.random.default_rng(0)
    five = rng.random((12, 10, 5)).astype(np.float32)
    res = segment(five, n_channels=8, max_iter=3, min_labels=1, patience=None, progress=False, device="cpu")
    assert res.labels.shape == (12, 10) and res.model is not None and res.model.in_channels == 5
    grey = (rng.random((12, 10)) * 255).astype(np.uint8)
    assert segment(grey, n_channels=8, max_iter=2, progress=False, device="cpu").labels.shape == (12, 10)


def test_stop_rules(shapes):
    image, _ = shapes
    res = segment(image, n_channels=16, max_iter=50, min_labels=16, progress=False, device="cpu")
    assert res.stop_reason == "min_labels" and res.n_iter == 1
    assert plateau_reached([9, 7, 5, 5, 5, 5], 3) and not plateau_reached([9, 7, 5, 5, 4, 5], 3)
    assert not plateau_reached([5, 5], 3) and not plateau_reached([9, 7, 5, 5, 5, 5], 0)
    res = segment(image, n_channels=16, max_iter=40, min_labels=1, patience=3, progress=False, device="cpu")
    if res.stop_reason == "plateau":
        assert plateau_reached(res.n_labels, 3) and not plateau_reached(res.n_labels[:-1], 3)


def test_scribbles(shapes):
    image, truth = shapes
    scribble = np.full(truth.shape, NO_SCRIBBLE, dtype=np.uint8)
    scribble[truth == 0] = 0
    scribble[truth == 1] = 1
    res = segment(image, n_channels=16, max_iter=40, scribble=scribble, mu_scr=2.0, patience=None, progress=False,
                  device="cpu")
    assert res.loss_scr[-1] < res.loss_scr[0]
    # pixels scribbled as one class share a label, different classes get different labels
    modes = [np.bincount(res.labels[truth == k]).argmax() for k in (0, 1)]
    assert modes[0] != modes[1]
    for k in (0, 1):
        assert np.mean(res.labels[truth == k] == modes[k]) > 0.9
    with pytest.raises(ValueError, match="outside 0..15"):
        validate_scribble(np.full(truth.shape, 20, np.uint8), truth.shape, 16)
    with pytest.raises(ValueError, match="no scribbled pixel"):
        validate_scribble(np.full(truth.shape, NO_SCRIBBLE, np.uint8), truth.shape, 16)
    with pytest.raises(ValueError, match="same image size"):
        validate_scribble(np.zeros((3, 3), np.uint8), truth.shape, 16)


def test_bad_images():
    with pytest.raises(ValueError, match="NaN"):
        image_to_tensor(np.full((4, 4, 3), np.nan))
    with pytest.raises(ValueError, match="shape"):
        image_to_tensor(np.zeros((4,)))
    np.testing.assert_allclose(image_to_tensor(np.full((2, 2, 1), 65535, np.uint16)).numpy(), 1.0)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_fused_loss_matches_autograd(memory_format):
    torch.manual_seed(0)
    r = torch.randn(2, 7, 5, 6).contiguous(memory_format=memory_format).requires_grad_()
    target = r.detach().argmax(1)
    target[0, 0, 0] = 3  # a pixel whose label is not its argmax
    reference = 0.7 * F.cross_entropy(r, target) + 2.5 * continuity_loss(r)
    (expected,) = torch.autograd.grad(reference, r)
    loss, sim, con = dfc_loss(r, target, 0.7, 2.5)
    (got,) = torch.autograd.grad(3.0 * loss, r)
    torch.testing.assert_close(loss, reference)
    torch.testing.assert_close(sim, F.cross_entropy(r, target))
    torch.testing.assert_close(con, continuity_loss(r))
    torch.testing.assert_close(got, 3.0 * expected)
    assert not sim.requires_grad and not con.requires_grad


def test_continuity_loss_against_numpy():
    r = torch.randn(1, 4, 5, 6)
    a = r.numpy()
    expected = np.abs(np.diff(a, axis=2)).mean() + np.abs(np.diff(a, axis=3)).mean()
    assert continuity_loss(r).item() == pytest.approx(expected, rel=1e-6)


def test_reflect_mode_mirrors_the_input_once():
    torch.manual_seed(0)
    net = DFCNet(2, 6, 2, "reflect").eval()
    x = torch.rand(1, 2, 7, 9)
    mirrored = torch.from_numpy(np.pad(x.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect"))
    h = mirrored
    for block in (0, 3):
        conv, bn = net.features[block], net.features[block + 2]
        h = bn(F.relu(F.conv2d(h, conv.weight, conv.bias)))
    expected = net.response(h)
    torch.testing.assert_close(net(x), expected)
    assert net(x).shape == (1, 6, 7, 9)
    with pytest.raises(ValueError, match="larger than 2 pixels"):
        net(torch.rand(1, 2, 2, 5))


def test_zero_padding_is_the_reference_layer():
    net = DFCNet(3, 8, 2, "zeros")
    conv = net.features[0]
    x = torch.rand(1, 3, 6, 6)
    np.testing.assert_allclose(conv(x).detach().numpy(),
                               F.conv2d(x, conv.weight, conv.bias, padding=1).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_scores_against_oracles():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    t = rng.integers(0, 3, (10, 10))
    p = rng.integers(0, 4, (10, 10))
    assert adjusted_rand_index(t, p) == pytest.approx(adjusted_rand_score(t.ravel(), p.ravel()))
    perm = np.array([2, 0, 1])[t]
    assert matched_iou(t, perm)[0] == pytest.approx(1.0)
    # brute-force oracle of the Hungarian matching on a small case
    import itertools

    cm = contingency(t, p).astype(float)
    iou = cm / (cm.sum(1, keepdims=True) + cm.sum(0, keepdims=True) - cm)
    best = max(sum(iou[i, c] for i, c in enumerate(cols)) for cols in itertools.permutations(range(4), 3))
    assert matched_iou(t, p)[0] == pytest.approx(best / 3)
    # one predicted label for everything: only one region can be matched
    assert matched_iou(t, np.zeros_like(t))[1].tolist().count(0.0) == 2


def test_postprocess(tmp_path):
    lab = np.array([[5, 5, 2], [2, 5, 5], [9, 9, 9]])
    np.testing.assert_array_equal(relabel_sequential(lab), [[0, 0, 1], [1, 0, 0], [2, 2, 2]])
    cc = connected_components(np.array([[1, 0, 1], [1, 0, 1]]))
    assert cc.max() == 2 and cc[0, 0] != cc[0, 2]
    from skimage.measure import label as sk_label

    rng = np.random.default_rng(1)
    rand = rng.integers(0, 3, (15, 15))
    n_oracle = sum(sk_label(rand == v, connectivity=1).max() for v in range(3))
    assert connected_components(rand).max() + 1 == n_oracle
    img = np.zeros((4, 6, 3))
    img[:, 3:] = 1.0
    img[:2, :3, 0] = 0.05
    merged = merge_to_n_segments(np.arange(24).reshape(4, 6) // 3 % 2 + 2 * (np.arange(24).reshape(4, 6) >= 12),
                                 img, 2)
    np.testing.assert_array_equal(merged[:, :3], 0)
    np.testing.assert_array_equal(merged[:, 3:], 1)
    for arr in (np.array([[0, 3], [255, 1]]), np.array([[0, 300], [7, 1]])):
        path = write_label_png(tmp_path / "l.png", arr)
        np.testing.assert_array_equal(read_label_png(path), arr)
    with pytest.raises(FileNotFoundError):
        read_label_png(tmp_path / "missing.png")


def test_baselines_same_call_shape(shapes):
    image, truth = shapes
    for fn in (kmeans_segment, slic_segment, felzenszwalb_segment):
        lab = fn(image, seed=0)
        assert lab.shape == truth.shape and lab.dtype == np.int64 and lab.min() == 0
    assert len(np.unique(kmeans_segment(image, n_segments=3))) == 3
    from skimage.segmentation import felzenszwalb

    oracle = felzenszwalb(image.astype(float) / 255, scale=100, sigma=0.5, min_size=50, channel_axis=-1)
    assert adjusted_rand_index(oracle, felzenszwalb_segment(image)) == pytest.approx(1.0)


def test_shared_segmenter_roundtrip_and_tiling(tmp_path, shapes):
    image, _ = shapes
    other = make_shapes((20, 31), n_shapes=2, seed=4)[0]
    maps, seg = segment_many([image, other], n_channels=12, epochs=2, crop=(16, 16), progress=False, device="cpu")
    assert [m.shape for m in maps] == [image.shape[:2], other.shape[:2]]
    assert len(seg.history["n_labels"]) == 4
    whole = seg.response(image, tile=(64, 64), device="cpu")
    tiled = seg.response(image, tile=(7, 9), device="cpu")
    torch.testing.assert_close(tiled, whole, rtol=1e-4, atol=1e-4)
    path = seg.save(tmp_path / "seg.pt")
    loaded = DFCSegmenter.load(path)
    np.testing.assert_array_equal(loaded.predict(image, device="cpu"), maps[0])
    assert loaded.predict(image, connected=True, device="cpu").min() == 0
    assert len(np.unique(loaded.predict(image, n_segments=2, device="cpu"))) <= 2
    torch.save({"x": torch.zeros(1)}, tmp_path / "other.pt")
    from geolab.train import CheckpointError

    with pytest.raises(CheckpointError, match="not a DFCSegmenter"):
        DFCSegmenter.load(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="bands"):
        seg.predict(np.zeros((8, 8, 4), np.uint8))


def test_cli(tmp_path, shapes):
    from PIL import Image

    from geolab.cli import main

    image, truth = shapes
    Image.fromarray(image).save(tmp_path / "a.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    code = main(["segment-unsupervised", str(tmp_path / "a.png"), str(tmp_path / "broken.png"), "--out", str(out),
                 "--max-iter", "3", "--device", "cpu"])
    assert code == 1  # one input skipped
    labels = read_label_png(out / "a_labels.png")
    assert labels.shape == truth.shape
    assert np.asarray(Image.open(out / "a_overlay.png")).shape == image.shape
    assert not (out / "broken_labels.png").exists()
    scribble = np.full(truth.shape, 255, np.uint8)
    scribble[truth == 0] = 0
    Image.fromarray(scribble).save(tmp_path / "s.png")
    assert main(["segment-unsupervised", str(tmp_path / "a.png"), "--out", str(out), "--max-iter", "2",
                 "--scribble", str(tmp_path / "s.png"), "--device", "cpu"]) == 0
    assert main(["segment-unsupervised", str(tmp_path / "a.png"), str(tmp_path / "a.png"), "--out", str(out / "s"),
                 "--max-iter", "1", "--shared", "--device", "cpu"]) == 0
    assert DFCSegmenter.load(out / "s" / "segmenter.pt").model.in_channels == 3
