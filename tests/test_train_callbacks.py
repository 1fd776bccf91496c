"""geolab.train callbacks: Checkpoint (best/last, exact resume), EarlyStopping, LRScheduler."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset, WeightedRandomSampler

from geolab.runtime import seed_everything
from geolab.train import (
    Checkpoint,
    CheckpointError,
    EarlyStopping,
    LRScheduler,
    accuracy,
    fit,
    load_checkpoint,
    make_loader,
)

CPU = "cpu"


def blobs(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    return TensorDataset(torch.randn(n, 2, generator=g) * 0.8 + (y[:, None] * 2 - 1) * 1.0, y)


def setup(seed: int = 0, lr: float = 0.1):
    """A model with dropout (uses the global RNG), SGD with momentum, a StepLR, seeded loaders."""
    seed_everything(seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    train = make_loader(blobs(96, 1), 16, shuffle=True, seed=123)
    val = make_loader(blobs(64, 2), 32, shuffle=False, seed=0)
    return model, opt, sched, train, val


def no_time(h: dict) -> dict:
    return {k: v for k, v in h.items() if k != "epoch_seconds"}


def same_weights(a, b) -> bool:
    sa = a.state_dict() if isinstance(a, nn.Module) else a
    sb = b.state_dict() if isinstance(b, nn.Module) else b
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_checkpoint_writes_best_and_last_and_restores_the_best(tmp_path: Path):
    model, opt, _, train, val = setup()
    ck = Checkpoint(tmp_path / "run" / "best.pt", monitor="lr", mode="max")  # lr is constant: epoch 1 stays best
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, 4, device=CPU, callbacks=[ck], progress=False)
    assert ck.best_epoch == 1 and ck.best_score == 0.1
    best, last = load_checkpoint(ck.path), load_checkpoint(ck.last_path)
    assert ck.last_path.name == "best.last.pt"
    assert best["epoch"] == 1 and last["epoch"] == 4
    assert same_weights(model, best["model"]) and not same_weights(model, last["model"])  # restored the best
    assert last["history"] == dict(hist)
    assert not list(tmp_path.rglob(".*tmp*"))  # atomic writes leave no temporary files


def test_checkpoint_in_memory_and_without_restore(tmp_path: Path):
    model, opt, _, train, val = setup()
    ck = Checkpoint(monitor="val_acc", mode="max")
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, 4, device=CPU, metrics={"acc": accuracy},
               callbacks=[ck], progress=False)
    assert (ck.best_epoch, ck.best_score) == hist.best("val_acc", "max")
    from geolab.train import evaluate

    assert evaluate(model, val, metrics={"acc": accuracy}, device=CPU)["acc"] == ck.best_score
    model, opt, _, train, val = setup()
    keep_last = Checkpoint(tmp_path / "k.pt", monitor="lr", mode="max", restore_best=False)
    fit(model, train, val, nn.CrossEntropyLoss(), opt, 3, device=CPU, callbacks=[keep_last], progress=False)
    assert same_weights(model, load_checkpoint(keep_last.last_path)["model"])
    with pytest.raises(ValueError, match="resume=True needs a path"):
        Checkpoint(resume=True)
    with pytest.raises(ValueError, match="mode"):
        Checkpoint(mode="best")


def test_a_missing_monitor_key_is_an_error_not_a_silent_rewrite():
    model, opt, _, train, _ = setup()
    for cb in (Checkpoint(), EarlyStopping(patience=1)):
        with pytest.raises(KeyError, match="val_loss.*train_loss"):
            fit(model, train, None, nn.CrossEntropyLoss(), opt, 1, device=CPU, callbacks=[cb], progress=False)


def run(tmp_path: Path, name: str, epochs: int, *, resume: bool = False, seed: int = 0):
    model, opt, sched, train, val = setup(seed=seed)
    ck = Checkpoint(tmp_path / f"{name}.pt", monitor="val_acc", mode="max", resume=resume)
    es = EarlyStopping("val_loss", patience=50)
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, epochs, device=CPU, metrics={"acc": accuracy},
               callbacks=[ck, LRScheduler(sched), es], progress=False)
    return model, opt, sched, es, ck, hist


def test_resume_equals_an_uninterrupted_run(tmp_path: Path):
    full = run(tmp_path, "a", 3)
    run(tmp_path, "b", 2)
    torch.manual_seed(999)  # a new session: its RNG differs and resume must restore it
    resumed = run(tmp_path, "b", 3, resume=True, seed=7)  # a different init too: the weights come from the file
    model_a, opt_a, sched_a, es_a, ck_a, hist_a = full
    model_b, opt_b, sched_b, es_b, ck_b, hist_b = resumed
    assert no_time(hist_b) == no_time(hist_a) and hist_b.epochs == 3
    assert same_weights(load_checkpoint(ck_a.last_path)["model"], load_checkpoint(ck_b.last_path)["model"])
    assert same_weights(model_a, model_b)  # both restored the same best epoch
    assert (ck_a.best_epoch, ck_a.best_score) == (ck_b.best_epoch, ck_b.best_score)
    assert sched_a.state_dict() == sched_b.state_dict() and es_a.state_dict() == es_b.state_dict()
    sa, sb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    assert all(torch.equal(sa[k]["momentum_buffer"], sb[k]["momentum_buffer"]) for k in sa)


def test_resume_with_a_weighted_sampler_repeats_its_draws(tmp_path: Path):
    def go(name: str, epochs: int, resume: bool = False):
        seed_everything(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        data = blobs(64, 3)
        sampler = WeightedRandomSampler(torch.where(data.tensors[1] == 1, 4.0, 1.0), 64,
                                        generator=torch.Generator().manual_seed(1))
        loader = make_loader(data, 16, shuffle=False, seed=0, sampler=sampler)
        return fit(model, loader, None, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=0.01), epochs,
                   device=CPU, callbacks=[Checkpoint(tmp_path / name, monitor="train_loss", resume=resume)],
                   progress=False)

    full = go("a.pt", 3)
    go("b.pt", 1)
    assert no_time(go("b.pt", 3, resume=True)) == no_time(full)


def test_resume_refuses_a_different_set_of_callbacks(tmp_path: Path):
    run(tmp_path, "c", 1)
    model, opt, _, train, val = setup()
    with pytest.raises(CheckpointError, match="c.last.pt.*callbacks"):
        fit(model, train, val, nn.CrossEntropyLoss(), opt, 2, device=CPU, metrics={"acc": accuracy},
            callbacks=[Checkpoint(tmp_path / "c.pt", monitor="val_acc", mode="max", resume=True)], progress=False)


def test_early_stopping_counts_epochs_without_improvement():
    model, opt, _, train, val = setup()
    es = EarlyStopping(monitor="lr", patience=2, mode="max")  # never improves after epoch 1
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, 20, device=CPU, callbacks=[es], progress=False)
    assert hist.epochs == 3 and es.stopped_epoch == 3 and es.bad_epochs == 2
    es = EarlyStopping(monitor="val_loss", patience=1, min_delta=0.5)  # an improvement must exceed 0.5
    model, opt, _, train, val = setup()
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, 20, device=CPU, callbacks=[es], progress=False)
    assert hist.epochs == 2 and hist["val_loss"][1] > hist["val_loss"][0] - 0.5
    for bad in ({"patience": 0}, {"patience": 1.5}, {"min_delta": -1}, {"mode": "up"}):
        with pytest.raises(ValueError):
            EarlyStopping(**bad)


def test_lr_scheduler_per_epoch_per_batch_and_on_plateau():
    model, opt, sched, train, val = setup()
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, 3, device=CPU, callbacks=[LRScheduler(sched)],
               progress=False)
    assert hist["lr"] == pytest.approx([0.1, 0.07, 0.049])
    model, opt, _, train, val = setup()
    cycle = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=2 * len(train))
    fit(model, train, val, nn.CrossEntropyLoss(), opt, 2, device=CPU, callbacks=[LRScheduler(cycle, "batch")],
        progress=False)
    assert cycle.last_epoch == 2 * len(train)
    model, opt, _, train, val = setup()
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=0, factor=0.5)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        LRScheduler(plateau, "batch")
    # plateau sees the monitored value: with mode="max" on a falling loss it keeps "worsening" -> halves
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, 3, device=CPU, callbacks=[LRScheduler(plateau)],
               progress=False)
    assert hist["val_loss"][2] < hist["val_loss"][0] and opt.param_groups[0]["lr"] < 0.1
