"""Tropical-cyclone chapter: generator, loader, models, imbalance tools, recipe."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, precision_recall_curve
from torch import nn
from torch.utils.data import TensorDataset

from geolab.data import split_indices
from geolab.data.clouds import CloudFileError, load_patches, resample_patches, to_olr
from geolab.imbalance import (
    TTA_TRANSFORMS,
    Ensemble,
    HardNegativeSampler,
    MinorityAugmented,
    PartialNoise,
    ScoreMetric,
    augment_minority,
    fit_ensemble_weights,
    predict_scores,
    tta_predict,
)
from geolab.metrics import precision_at_recall
from geolab.nn import (
    CYCLONE_MODELS,
    PlainCNN,
    PyramidNet,
    ResNet,
    WideResNet,
    build_cyclone_model,
)
from geolab.recipes.cyclone import evaluate_scores, make_loss, year_splits
from geolab.synth.clouds import (
    KINDS,
    OLR_RANGE,
    CloudStream,
    make_dataset,
    olr_from_temperature,
    powerlaw_noise,
    sample_info,
)


@pytest.fixture(scope="module")
def data():
    return make_dataset(30, imbalance=20, seed=3)


# ---------------------------------------------------------------- generator


def test_stefan_boltzmann_values_of_the_note():
    np.testing.assert_allclose(olr_from_temperature([200, 220, 240, 260]), [91, 133, 188, 259], atol=1.0)


def test_dataset_sizes_labels_and_range(data):
    assert data.X.shape == (630, 1, 64, 64) and data.X.dtype == np.float32
    assert data.y.sum() == 30 and set(np.unique(data.y)) == {0, 1}
    assert set(data.kind[data.y == 1]) == {"cyclone", "precursor"}
    assert set(data.kind[data.y == 0]) == set(KINDS[2:])
    assert OLR_RANGE[0] <= data.X.min() and data.X.max() <= OLR_RANGE[1]
    assert (data.storm[data.y == 0] == -1).all() and len(np.unique(data.storm[data.y == 1])) == 5


def test_same_seed_same_data_and_stream_equals_dataset(data):
    again = make_dataset(30, imbalance=20, seed=3, chunk=100)
    np.testing.assert_allclose(again.X, data.X, rtol=1e-5, atol=1e-3)  # other chunks: rounding only
    other = make_dataset(30, imbalance=20, seed=4)
    assert not np.allclose(other.X, data.X)
    stream = CloudStream(30, imbalance=20, seed=3)
    assert len(stream) == len(data)
    # Batched and single renders group the float32 maths differently (and the grouping can
    # depend on the number of threads): equal up to rounding, about 1e-6 relative.
    for i in (0, 1, 21, 300, 629):
        x, y = stream[i]
        np.testing.assert_allclose(x.numpy(), data.X[i], rtol=1e-5, atol=1e-3)
        assert float(y) == data.y[i]
        np.testing.assert_array_equal(stream[i][0].numpy(), x.numpy())  # the same call, the same pixels
    batch = next(iter(torch.utils.data.DataLoader(stream, batch_size=64)))  # uses __getitems__
    np.testing.assert_allclose(batch[0].numpy(), data.X[:64], rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(batch[1].numpy(), data.y[:64])


def test_physics_of_the_kinds(data):
    mean = {k: data.X[data.kind == k].mean() for k in KINDS}
    assert mean["clear"] > 240 > mean["cyclone"], mean  # clear sky is warm, storms cold
    centre = data.X[:, 0, 24:40, 24:40].mean(axis=(1, 2))
    assert centre[data.kind == "cyclone"].mean() < centre[data.kind == "scattered"].mean() - 40
    cold_tops = data.X[data.kind == "cyclone"].min(axis=(1, 2, 3))
    assert (cold_tops < 150).mean() > 0.9  # anvils at 90-130 W m-2 (~200-215 K)


def test_powerlaw_noise_has_the_requested_slope():
    white = np.random.default_rng(0).standard_normal((64, 64, 64))
    for beta in (2.5, 3.5):
        field = powerlaw_noise(white, beta)
        power = np.abs(np.fft.fft2(field)) ** 2
        k = np.hypot(*np.meshgrid(np.fft.fftfreq(64), np.fft.fftfreq(64), indexing="ij"))
        sel = (k > 0.04) & (k < 0.3)
        slope = np.polyfit(np.log(k[sel]), np.log(power.mean(0)[sel]), 1)[0]
        assert abs(-slope - beta) < 0.2, (beta, slope)


def test_storms_and_years_are_consistent_for_leakage_free_splits():
    info = sample_info(np.arange(2100), 100, 20, per_storm=5, n_years=10)
    for storm in np.unique(info.storm[info.y == 1]):
        assert len(np.unique(info.year[info.storm == storm])) == 1
    splits = year_splits(info.year, seed=0)
    assert sum(len(v) for v in splits.values()) == 2100
    storms = {k: set(info.storm[v][info.y[v] == 1]) for k, v in splits.items()}
    assert not storms["train"] & storms["test"] and not storms["train"] & storms["val"]
    years = {k: set(info.year[v]) for k, v in splits.items()}
    assert not years["train"] & years["val"] and not years["train"] & years["test"] and not years["val"] & years["test"]
    assert [len(years[k]) for k in ("train", "val", "test")] == [6, 2, 2]  # 10 equal years, (0.6, 0.2, 0.2)
    for name, idx in splits.items():  # the library's group split, not a second implementation
        np.testing.assert_array_equal(idx, split_indices(2100, name, fractions=(0.6, 0.2, 0.2), seed=0, groups=info.year))
    with pytest.raises(ValueError, match="at least 3 distinct years"):
        year_splits(np.repeat([0, 1], 10))
    with pytest.raises(ValueError, match="leave no year"):
        year_splits(info.year, fractions=(0.98, 0.01, 0.01))


def test_generator_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_pos"):
        make_dataset(0)
    with pytest.raises(ValueError, match="imbalance"):
        make_dataset(5, imbalance=0.5)
    with pytest.raises(ValueError, match="unknown kinds"):
        make_dataset(5, negative_mix={"fog": 1.0})


# ---------------------------------------------------------------- loader


def _tb(n=3, h=128, w=96, seed=0):
    return 200 + 80 * np.random.default_rng(seed).random((n, h, w))


def test_npz_brightness_temperature_to_olr(tmp_path):
    tb = _tb()
    np.savez(tmp_path / "a.npz", tb=tb, y=np.array([1, 0, 1]))
    x, y = load_patches(tmp_path / "a.npz")
    assert x.shape == (3, 1, 64, 64) and x.dtype == np.float32 and y.tolist() == [1, 0, 1]
    expected = resample_patches(np.clip(olr_from_temperature(tb), *OLR_RANGE), (64, 64))
    np.testing.assert_allclose(x[:, 0], expected, rtol=1e-5)


def test_resampling_agrees_with_block_means_on_smooth_fields():
    yy, xx = np.mgrid[0:128, 0:128]
    img = (100 + yy + 0.5 * xx)[None].astype(float)
    out = resample_patches(img, (64, 64))[0]
    blocks = img[0].reshape(64, 2, 64, 2).mean(axis=(1, 3))
    assert np.abs(out - blocks)[4:-4, 4:-4].max() < 1.0


def test_nan_and_range_errors_name_the_file(tmp_path):
    tb = _tb()
    tb[1, 5, 5] = np.nan
    np.savez(tmp_path / "n.npz", x=tb)
    with pytest.raises(CloudFileError, match=r"n\.npz.*nan='fill'"):
        load_patches(tmp_path / "n.npz")
    x, _ = load_patches(tmp_path / "n.npz", nan="fill")
    assert np.isfinite(x).all()
    np.savez(tmp_path / "s.npz", x=_tb() * 100)
    with pytest.raises(CloudFileError, match=r"s\.npz.*plausible"):
        load_patches(tmp_path / "s.npz")
    np.savez(tmp_path / "shape.npz", x=np.zeros((2, 3, 4, 5, 6)))
    with pytest.raises(CloudFileError, match="expected images"):
        load_patches(tmp_path / "shape.npz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_patches(tmp_path / "missing.npz")
    with pytest.raises(CloudFileError, match="unknown format"):
        (tmp_path / "a.txt").write_text("x")
        load_patches(tmp_path / "a.txt")


def test_olr_input_is_checked_not_converted():
    olr = np.full((2, 2), 200.0)
    np.testing.assert_array_equal(to_olr(olr, "W m-2"), olr)
    with pytest.raises(CloudFileError, match="units='K'"):
        to_olr(np.full((2, 2), 280.0) + 300, "W m-2")


def test_hdf5_tcir_like_stack(tmp_path):
    h5py = pytest.importorskip("h5py", reason="optional extra: pip install 'geolab[formats]'")
    tb = _tb(2, 201, 201)
    stack = np.stack([tb, tb - 20, tb, tb], axis=-1)  # N x 201 x 201 x 4 like TCIR
    stack[0, 0, 0, 0] = np.nan
    with h5py.File(tmp_path / "tcir.h5", "w") as f:
        f["matrix"] = stack
    with pytest.raises(CloudFileError, match="channel"):
        load_patches(tmp_path / "tcir.h5", nan="fill")
    x, y = load_patches(tmp_path / "tcir.h5", channel=0, nan="fill")
    assert x.shape == (2, 1, 64, 64) and y is None and np.isfinite(x).all()


def test_netcdf_hursat_like_scaled_variable(tmp_path):
    xr = pytest.importorskip("xarray", reason="optional extra: pip install 'geolab[formats]'")
    pytest.importorskip("h5netcdf", reason="optional extra: pip install 'geolab[formats]'")
    tb = _tb(1, 301, 301)
    packed = np.round((tb - 200) / 0.01).astype(np.int16)
    ds = xr.Dataset({"IRWIN": (("htime", "lat", "lon"), packed, {"scale_factor": 0.01, "add_offset": 200.0})})
    ds.to_netcdf(tmp_path / "hursat.nc", engine="h5netcdf")
    x, _ = load_patches(tmp_path / "hursat.nc")
    expected = resample_patches(np.clip(olr_from_temperature(tb), *OLR_RANGE), (64, 64))
    np.testing.assert_allclose(x[:, 0], expected, rtol=1e-3)


def test_missing_extra_is_named(tmp_path, monkeypatch):
    (tmp_path / "a.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"geolab\[formats\]"):
        load_patches(tmp_path / "a.h5")


# ---------------------------------------------------------------- models


@pytest.mark.parametrize("name", sorted(CYCLONE_MODELS))
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_models_map_64x64_to_one_logit(name, activation):
    torch.manual_seed(0)
    model = build_cyclone_model(name, activation=activation)
    out = model(torch.randn(3, 1, 64, 64))
    assert out.shape == (3, 1)
    acts = {type(m) for m in model.modules()}
    assert (nn.LeakyReLU in acts) == (activation == "leaky_relu") and (nn.ReLU in acts) == (activation == "relu")
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_pyramidnet_widens_every_block_and_wide_resnet_is_wider():
    widths = [b.conv1.out_channels for b in PyramidNet(start=8, alpha=24, blocks=2).blocks]
    assert widths == sorted(widths) and len(set(widths)) == len(widths) == 6 and widths[-1] == 32
    assert WideResNet(widths=(8, 16, 32), widen=2).out_channels == 2 * ResNet(widths=(8, 16, 32)).out_channels
    with pytest.raises(ValueError, match="activation"):
        PlainCNN(activation="swish")
    with pytest.raises(ValueError, match="unknown model"):
        build_cyclone_model("vgg")


# ---------------------------------------------------------------- imbalance tools


def test_partial_noise_touches_one_rectangle():
    torch.manual_seed(0)
    x = torch.zeros(1, 64, 64)
    out = PartialNoise(sigma=5.0, p=1.0)(x)
    rows, cols = np.nonzero(out[0].numpy())
    assert rows.size > 0
    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    assert rows.size == box and 0.04 * 4096 <= box <= 0.25 * 4096 + 200


def test_minority_augmentation_is_deterministic_and_k_fold(data):
    pos = data.y == 1
    base = TensorDataset(torch.as_tensor(data.X[pos]), torch.as_tensor(data.y[pos], dtype=torch.float32))
    aug = MinorityAugmented(base, k=5, seed=1)
    assert len(aug) == 150
    np.testing.assert_array_equal(aug[3][0], base[3][0])  # copy 0 is the original
    assert not torch.equal(aug[33][0], base[3][0])
    assert torch.equal(aug[33][0], MinorityAugmented(base, k=5, seed=1)[33][0])
    x, y = augment_minority(data.X, data.y, k=5, seed=1)
    assert y.sum() == 150 and (y == 0).sum() == (data.y == 0).sum() and x.shape[1:] == (1, 64, 64)
    assert OLR_RANGE[0] - 60 < x.min() and x.max() < OLR_RANGE[1] + 60


class _MeanScore(nn.Module):
    """A 'model' whose logit is the (negated, scaled) mean OLR: cold scenes score high."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(-0.05))

    def forward(self, x):
        return (self.w * (x.mean(dim=(1, 2, 3)) - 240.0))[:, None]


def test_hard_negative_sampler_takes_the_highest_scores(data):
    neg = data.y == 0
    negatives = TensorDataset(torch.as_tensor(data.X[neg]), torch.zeros(int(neg.sum())))
    positives = TensorDataset(torch.as_tensor(data.X[~neg]), torch.ones(int((~neg).sum())))
    sampler = HardNegativeSampler(positives, negatives, n_negatives=100, rate=0.5, batch_size=32, seed=0)
    first = sampler.initial_loader()
    assert sum(len(b[1]) for b in first) == 130 and "mean_hard_score" not in sampler.log[0]
    state = type("S", (), {"model": _MeanScore(), "train_loader": first})()
    sampler.on_epoch_end(state, 0, {})
    assert state.train_loader is not first
    hard = sampler.log[-1]["hard"]
    coldest = np.argsort(data.X[neg].mean(axis=(1, 2, 3)), kind="stable")[:50]
    assert set(hard) == set(coldest)
    labels = torch.cat([b[1] for b in state.train_loader])
    assert labels.sum() == 30 and len(labels) == 130
    assert sampler.log[-1]["mean_hard_score"] > sampler.log[-1]["mean_pool_score"]
    with pytest.raises(ValueError, match="rate"):
        HardNegativeSampler(positives, negatives, 10, rate=1.5)


def test_score_metric_and_precision_at_recall_agree_with_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.1).astype(int)
    s = rng.random(500) + 0.5 * y
    metric = ScoreMetric()
    logits = torch.logit(torch.as_tensor(s / 1.6))[:, None]
    for a in range(0, 500, 128):
        metric.update(logits[a : a + 128], torch.as_tensor(y[a : a + 128]))
    assert metric.compute() == pytest.approx(average_precision_score(y, s))
    p, r, _ = precision_recall_curve(y, s)
    assert precision_at_recall(y, s, recall=0.8) == pytest.approx(p[r >= 0.8].max())
    assert set(evaluate_scores(y, s)) == {"ap", "p@r0.80"}


def test_ensemble_weights_and_probabilities():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.2).astype(int)
    good = 0.3 * y + 0.7 * rng.random(300)
    fair = 0.2 * y + 0.8 * rng.random(300)
    bad = rng.random(300)
    members = np.stack([bad, good, fair])
    w = fit_ensemble_weights(members, y)
    assert w.sum() == pytest.approx(1.0) and w[1] == w.max()
    best = average_precision_score(y, w @ members)
    assert best >= max(average_precision_score(y, m) for m in members)
    assert best >= average_precision_score(y, members.mean(0))
    a, b = _MeanScore(), PlainCNN()
    ens = Ensemble([a, b], [3.0, 1.0]).eval()
    x = torch.rand(4, 1, 64, 64) * 100 + 150
    expected = 0.75 * torch.sigmoid(a(x)[:, 0]) + 0.25 * torch.sigmoid(b.eval()(x)[:, 0])
    torch.testing.assert_close(ens.probabilities(x), expected)
    torch.testing.assert_close(torch.sigmoid(ens(x)[:, 0]), expected)
    with pytest.raises(ValueError, match="weights"):
        Ensemble([a, b], [1.0])


def test_tta_transforms_match_numpy_and_invariant_models_are_unchanged():
    x = torch.arange(2 * 64 * 64, dtype=torch.float32).reshape(2, 1, 64, 64)
    ref = {"identity": x.numpy(), "hflip": np.flip(x.numpy(), -1), "vflip": np.flip(x.numpy(), -2),
           "rot90": np.rot90(x.numpy(), 1, (-2, -1)), "rot180": np.rot90(x.numpy(), 2, (-2, -1)),
           "rot270": np.rot90(x.numpy(), 3, (-2, -1)), "transpose": np.swapaxes(x.numpy(), -2, -1)}
    for name, f in TTA_TRANSFORMS.items():
        np.testing.assert_array_equal(f(x).numpy(), ref[name])
    model = _MeanScore()
    np.testing.assert_allclose(tta_predict(model, x + 100), predict_scores(model, x + 100), rtol=1e-6)
    with pytest.raises(ValueError, match="unknown"):
        tta_predict(model, x, ["shear"])


def test_focal_loss_equals_torchvision():
    from torchvision.ops import sigmoid_focal_loss

    logits, t = torch.randn(16, 1), (torch.rand(16) < 0.3).float()
    torch.testing.assert_close(make_loss("focal")(logits, t), sigmoid_focal_loss(logits[:, 0], t, reduction="mean"))
    torch.testing.assert_close(make_loss("bce")(logits, t), nn.functional.binary_cross_entropy_with_logits(logits[:, 0], t))


# ---------------------------------------------------------------- recipe


def test_recipe_tiny_on_cpu(tmp_path, monkeypatch, capsys):
    from geolab.recipes.cyclone import main

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    result = main(["--n-pos", "60", "--imbalance", "2", "--epochs", "1", "--rates", "0", "1", "--augment", "2",
                   "--batch-size", "32", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "final_table.json").read_text())
    assert saved["rates"] == [0.0, 1.0] and len(saved["weights"]) == 2
    assert set(saved["table"]) == {"baseline", "ensemble", "ensemble+tta"}
    assert 0 <= result["table"]["ensemble+tta"]["p@r0.80"] <= 1
    table = saved["table"]
    base = table["baseline"]["p@r0.80"]
    expected = (table["ensemble+tta"]["p@r0.80"] - base) / base  # relative, as Matsuoka (2021) states it
    assert saved["relative_improvement"] == pytest.approx(expected)
    printed = capsys.readouterr().out
    for name in table:
        assert f"{name} " in printed  # the final table is printed
    assert f"{100 * expected:+.1f} %" in printed


@pytest.mark.slow
def test_recipe_under_torchrun_with_two_gloo_processes(tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("torchrun is not installed next to this Python")
    cmd = [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "geolab.recipes.cyclone", "--n-pos", "60",
           "--imbalance", "2", "--epochs", "1", "--rates", "0", "1", "--augment", "2", "--batch-size", "16",
           "--out", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "final_table.json").read_text())["rates"] == [0.0, 1.0]
