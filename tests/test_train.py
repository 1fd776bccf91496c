"""geolab.train on tiny problems: learning, history, metrics, checkpoints, resume, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from geolab.plot import plot_history
from geolab.runtime import seed_everything
from geolab.train import (
    Accuracy,
    CheckpointError,
    EarlyStopping,
    History,
    accuracy,
    amp_settings,
    evaluate,
    fit,
    load_checkpoint,
    load_weights,
    make_loader,
    predict,
    save_checkpoint,
)

CPU = "cpu"


def _blobs(n: int = 128, seed: int = 0) -> TensorDataset:
    """Two linearly separable Gaussian blobs in 2-D, labels 0/1."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=g) * 0.5 + (y[:, None] * 2 - 1) * 1.5
    return TensorDataset(x, y)


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))


def _setup(seed: int = 0, lr: float = 0.1, scheduler: bool = False):
    seed_everything(seed)
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7) if scheduler else None
    train = make_loader(_blobs(96, seed=1), 16, shuffle=True, seed=123)
    val = make_loader(_blobs(64, seed=2), 32, shuffle=False, seed=0)
    return model, opt, sched, train, val


def _no_time(h: dict) -> dict:
    return {k: v for k, v in h.items() if k != "epoch_seconds"}


def _same_weights(a: nn.Module | dict, b: nn.Module | dict) -> bool:
    sa = a.state_dict() if isinstance(a, nn.Module) else a
    sb = b.state_dict() if isinstance(b, nn.Module) else b
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_fit_learns_a_separable_problem_and_history_shape():
    model, opt, _, train, val = _setup()
    before = evaluate(model, val, nn.CrossEntropyLoss(), {"acc": accuracy}, device=CPU)
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, 5, device=CPU, metrics={"acc": accuracy},
               progress=False)
    assert isinstance(hist, History) and isinstance(hist, dict)
    assert set(hist) == {"train_loss", "val_loss", "val_acc", "lr", "epoch_seconds"}
    assert all(len(v) == 5 for v in hist.values())
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist["val_acc"][-1] >= 0.95
    after = evaluate(model, val, nn.CrossEntropyLoss(), {"acc": accuracy}, device=CPU)
    assert after["loss"] < before["loss"]
    assert hist.best_epoch == int(np.argmin(hist["val_loss"])) + 1
    assert hist.best_score == min(hist["val_loss"])
    assert hist.amp is False and hist.epochs == 5
    assert all(s > 0 for s in hist["epoch_seconds"])
    fig = plot_history(hist, keys=["train_loss", "val_loss", "val_acc"])
    assert len(fig.axes) == 2  # loss panel (train+val) and acc panel


def test_train_metrics_and_lr_record_with_scheduler():
    model, opt, sched, train, val = _setup(scheduler=True)
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, 3, device=CPU, metrics={"acc": Accuracy()},
               scheduler=sched, train_metrics=True, progress=True)
    assert "train_acc" in hist and len(hist["train_acc"]) == 3
    assert hist["lr"] == pytest.approx([0.1, 0.07, 0.049])


def test_onecycle_per_batch_and_plateau():
    model, opt, _, train, val = _setup()
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=2 * len(train))
    fit(model, train, val, nn.CrossEntropyLoss(), opt, 2, device=CPU, scheduler=sched, scheduler_step="batch",
        progress=False)
    assert sched.last_epoch == 2 * len(train)
    model, opt, _, train, val = _setup()
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=0, factor=0.5)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        fit(model, train, val, nn.CrossEntropyLoss(), opt, 1, device=CPU, scheduler=plateau,
            scheduler_step="batch", progress=False)
    # plateau sees the monitored value: with mode="max" on a loss it keeps "worsening" -> halves
    fit(model, train, val, nn.CrossEntropyLoss(), opt, 3, device=CPU, scheduler=plateau, progress=False)
    assert opt.param_groups[0]["lr"] < 0.1


def test_callable_metrics_are_averaged_stateful_are_accumulated():
    x = torch.arange(10, dtype=torch.float32)[:, None]
    y = torch.zeros(10, dtype=torch.long)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)  # batches of 4, 4, 2

    class MaxSeen:
        def reset(self):
            self.m = -math.inf

        def update(self, outputs, targets):
            self.m = max(self.m, float(outputs.max()))

        def compute(self):
            return self.m

    res = evaluate(nn.Identity(), loader, metrics={"avg": lambda o, t: float(o.max()), "acc": MaxSeen()},
                   device=CPU)
    assert res["avg"] == pytest.approx((3 * 4 + 7 * 4 + 9 * 2) / 10)  # batch maxima weighted by size
    assert res["acc"] == 9.0  # one value over the whole split
    with pytest.raises(TypeError, match="metric 'bad'"):
        evaluate(nn.Identity(), loader, metrics={"bad": 3}, device=CPU)


def test_accuracy_classification_segmentation_and_binary():
    out = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(out, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    # segmentation (N, C, H, W) with ignored pixels; oracle: numpy count
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 8, 5, 6, generator=g)
    target = torch.randint(0, 8, (2, 5, 6), generator=g)
    target[0, :2] = 255
    pred = logits.argmax(1).numpy()
    t = target.numpy()
    valid = t != 255
    expected = (pred[valid] == t[valid]).mean()
    assert accuracy(logits, target) == pytest.approx(expected)
    acc = Accuracy()
    acc.update(logits[:1], target[:1])
    acc.update(logits[1:], target[1:])
    assert acc.compute() == pytest.approx(expected)
    # binary: one logit per sample, threshold 0
    assert accuracy(torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.0], [1.0]])) == 0.5
    assert math.isnan(accuracy(logits, torch.full((2, 5, 6), 255)))
    with pytest.raises(ValueError, match="do not match"):
        accuracy(out, torch.tensor([0, 1]))


def test_segmentation_training_with_ignore_index():
    seed_everything(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 1, 8, 8, generator=g)
    y = (x[:, 0] > 0).long()
    y[:, :2] = 255  # unlabelled rows
    model = nn.Conv2d(1, 2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loader = make_loader(TensorDataset(x, y), 4, shuffle=True, seed=0)
    hist = fit(model, loader, loader, nn.CrossEntropyLoss(ignore_index=255), opt, 5, device=CPU,
               metrics={"acc": Accuracy(), "acc_avg": accuracy}, monitor="val_acc", mode="max", progress=False)
    assert hist["val_acc"][-1] > 0.9
    assert hist.monitor == "val_acc" and hist.best_score == max(hist["val_acc"])


def test_early_stopping_stops_and_restores_best():
    es = EarlyStopping(patience=2)
    assert [es.step(v) for v in (1.0, 0.5, 0.6, 0.7)] == [False, False, False, True]
    es = EarlyStopping(patience=1, min_delta=0.1)
    assert es.step(1.0, "max") is False and es.step(1.05, "max") is True  # +0.05 < min_delta
    with pytest.raises(ValueError):
        EarlyStopping(0)
    # monitor something that never improves after the first epoch -> stops after 1 + patience
    model, opt, _, train, val = _setup()
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, 20, device=CPU, early_stopping=EarlyStopping(2),
               monitor="lr", mode="max", progress=False)
    assert len(hist["train_loss"]) == 3 and hist.stopped_early and hist.best_epoch == 1


def test_checkpoint_keeps_and_restores_the_best(tmp_path: Path):
    model, opt, _, train, val = _setup()
    ck = tmp_path / "run" / "best.pt"
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, 4, device=CPU, checkpoint=ck, progress=False,
               monitor="lr", mode="max")  # lr is constant: epoch 1 stays the best
    assert hist.best_epoch == 1
    best = load_checkpoint(ck)
    last = load_checkpoint(ck.with_name("best.pt.last"))
    assert best["epoch"] == 1 and last["epoch"] == 4
    assert _same_weights(model, best["model"])  # restored the best, not the last
    assert not _same_weights(model, last["model"])
    assert last["history"] == _no_time(hist) | {"epoch_seconds": hist["epoch_seconds"]}
    assert not list(tmp_path.rglob(".*tmp*"))  # atomic writes leave no temp files
    fresh = load_weights(_model(), ck)
    assert _same_weights(fresh, model)


def test_resume_equals_uninterrupted_run(tmp_path: Path):
    model, opt, sched, train, val = _setup(scheduler=True)
    full = fit(model, train, val, nn.CrossEntropyLoss(), opt, 4, device=CPU, metrics={"acc": accuracy},
               scheduler=sched, checkpoint=tmp_path / "a.pt", progress=False)

    model, opt, sched, train, val = _setup(scheduler=True)
    fit(model, train, val, nn.CrossEntropyLoss(), opt, 2, device=CPU, metrics={"acc": accuracy},
        scheduler=sched, checkpoint=tmp_path / "b.pt", progress=False)
    torch.manual_seed(999)  # the new session's RNG differs; resume must restore it
    model, opt, sched, train, val = _setup(seed=7, scheduler=True)
    resumed = fit(model, train, val, nn.CrossEntropyLoss(), opt, 4, device=CPU, metrics={"acc": accuracy},
                  scheduler=sched, checkpoint=tmp_path / "b.pt", resume=True, progress=False)

    assert _no_time(resumed) == _no_time(full)
    assert resumed.best_epoch == full.best_epoch and resumed.best_score == full.best_score
    a_last = load_checkpoint(tmp_path / "a.pt.last")["model"]
    b_last = load_checkpoint(tmp_path / "b.pt.last")["model"]
    assert _same_weights(a_last, b_last)
    with pytest.raises(ValueError, match="resume=True needs checkpoint"):
        fit(model, train, val, nn.CrossEntropyLoss(), opt, 1, device=CPU, resume=True, progress=False)


def test_same_seed_same_history_and_weights():
    runs = []
    for _ in range(2):
        model, opt, _, train, val = _setup(seed=3)
        h = fit(model, train, val, nn.CrossEntropyLoss(), opt, 3, device=CPU, progress=False)
        runs.append((_no_time(h), model))
    assert runs[0][0] == runs[1][0]
    assert _same_weights(runs[0][1], runs[1][1])
    a = [b[1].tolist() for b in make_loader(_blobs(20), 4, shuffle=True, seed=5)]
    b = [b[1].tolist() for b in make_loader(_blobs(20), 4, shuffle=True, seed=5)]
    c = [b[1].tolist() for b in make_loader(_blobs(20), 4, shuffle=True, seed=6)]
    assert a == b and a != c


def test_checkpoints_load_with_weights_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    model = _model()
    path = save_checkpoint(tmp_path / "m.pt", model, classes=["a", "b"], config={"hidden": [16]})
    state = load_checkpoint(path)
    assert state["classes"] == ["a", "b"] and state["format"] == "geolab-checkpoint"
    other = load_weights(_model(), path)
    assert _same_weights(other, model)
    torch.save(model.state_dict(), tmp_path / "bare.pt")  # a bare state_dict also loads
    assert _same_weights(load_weights(_model(), tmp_path / "bare.pt"), model)
    assert calls and all(c is True for c in calls)
    with pytest.raises(TypeError, match="weights_only"):
        save_checkpoint(tmp_path / "x.pt", model, when=object())
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "x.pt", model, format=1)


def test_bad_checkpoint_files_give_clear_errors(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_weights(_model(), tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_weights(_model(), junk)
    pickled = tmp_path / "pickled.pt"
    torch.save({"model": _model().state_dict(), "obj": EarlyStopping(1)}, pickled)  # arbitrary object
    with pytest.raises(CheckpointError, match="pickled.pt"):
        load_weights(_model(), pickled)
    wrong = save_checkpoint(tmp_path / "wrong.pt", nn.Linear(3, 3))
    with pytest.raises(CheckpointError, match="wrong.pt.*does not match"):
        load_weights(_model(), wrong)


def test_predict_and_evaluate_accept_plain_tensors():
    model = nn.Linear(2, 3)
    x = torch.randn(10, 2)
    out = predict(model, DataLoader(x, batch_size=4), device=CPU, progress=False)
    assert out.shape == (10, 3) and out.device.type == "cpu"
    assert torch.allclose(out, model(x).detach())
    probs = predict(model, DataLoader(TensorDataset(x, torch.zeros(10)), batch_size=3), device=CPU,
                    activation="softmax", progress=False)
    assert torch.allclose(probs.sum(1), torch.ones(10))
    with pytest.raises(TypeError, match="inputs, targets"):
        evaluate(model, DataLoader(x, batch_size=4), nn.MSELoss(), device=CPU)
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, DataLoader(TensorDataset(x[:0], x[:0])), nn.MSELoss(), device=CPU)


def test_amp_is_off_on_cpu_and_validated():
    assert amp_settings("auto", "cpu") == (False, None)
    assert amp_settings(False, "cuda") == (False, None)
    assert amp_settings(True, "cpu") == (True, torch.bfloat16)
    with pytest.raises(ValueError, match="amp"):
        amp_settings("yes", "cpu")
    model, opt, _, train, val = _setup()
    assert fit(model, train, None, nn.CrossEntropyLoss(), opt, 1, device=CPU, progress=False).amp is False


def test_no_val_loader_monitors_train_loss_and_bad_monitor():
    model, opt, _, train, _ = _setup()
    hist = fit(model, train, None, nn.CrossEntropyLoss(), opt, 2, device=CPU, progress=False)
    assert set(hist) == {"train_loss", "lr", "epoch_seconds"} and hist.monitor == "train_loss"
    with pytest.raises(ValueError, match="cannot monitor"):
        fit(model, train, None, nn.CrossEntropyLoss(), opt, 1, device=CPU, monitor="f1", progress=False)
    with pytest.raises(ValueError, match="needs a val_loader"):
        fit(model, train, None, nn.CrossEntropyLoss(), opt, 1, device=CPU, metrics={"acc": accuracy},
            monitor="val_acc", progress=False)


def test_divergence_raises():
    model, opt, _, train, val = _setup(lr=1e30)
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(model, train, val, nn.CrossEntropyLoss(), opt, 3, device=CPU, progress=False)


def test_fit_with_a_confusion_matrix_metric_from_geolab_metrics():
    metrics_mod = pytest.importorskip("geolab.metrics")
    seed_everything(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(12, 1, 6, 6, generator=g)
    y = (x[:, 0] > 0.3).long()
    y[:, 0] = 255
    model = nn.Conv2d(1, 2, 1)
    loader = make_loader(TensorDataset(x, y), 5, shuffle=False, seed=0)
    hist = fit(model, loader, loader, nn.CrossEntropyLoss(ignore_index=255), torch.optim.SGD(model.parameters(), lr=0.5),
               2, device=CPU, metrics={"miou": metrics_mod.MeanIoU(2)}, progress=False)
    # oracle: the same metric over all predictions at once
    outputs = predict(model, loader, device=CPU, progress=False)
    whole = metrics_mod.MeanIoU(2)
    whole.update(outputs, y)
    assert hist["val_miou"][-1] == pytest.approx(whole.compute())


def test_weighted_sampler_loader_repeats_and_resumes(tmp_path: Path):
    from torch.utils.data import WeightedRandomSampler

    def setup():
        seed_everything(0)
        model = _model()
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        data = _blobs(64, seed=3)
        weights = torch.where(data.tensors[1] == 1, 4.0, 1.0)  # over-sample class 1
        sampler = WeightedRandomSampler(weights, 64, generator=torch.Generator().manual_seed(1))
        return model, opt, make_loader(data, 16, shuffle=False, seed=0, sampler=sampler)

    model, opt, loader = setup()
    full = fit(model, loader, None, nn.CrossEntropyLoss(), opt, 3, device=CPU, checkpoint=tmp_path / "a.pt",
               progress=False)
    model, opt, loader = setup()
    fit(model, loader, None, nn.CrossEntropyLoss(), opt, 1, device=CPU, checkpoint=tmp_path / "b.pt", progress=False)
    model, opt, loader = setup()
    resumed = fit(model, loader, None, nn.CrossEntropyLoss(), opt, 3, device=CPU, checkpoint=tmp_path / "b.pt",
                  resume=True, progress=False)
    assert _no_time(resumed) == _no_time(full)
    with pytest.raises(ValueError, match="shuffle=False"):
        make_loader(_blobs(8), 4, shuffle=True, seed=0, sampler=list(range(8)))
