"""geolab.train on tiny problems: the loop against a hand-written one, metrics, steps, AMP, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from geolab.metrics import MeanIoU
from geolab.plot import plot_history
from geolab.runtime import seed_everything
from geolab.train import (
    Accuracy,
    Callback,
    FitState,
    History,
    accuracy,
    amp_dtype,
    evaluate,
    fit,
    make_loader,
    predict,
    supervised_step,
    unsupervised_step,
)

CPU = "cpu"


def blobs(n: int = 128, seed: int = 0) -> TensorDataset:
    """Two linearly separable Gaussian blobs in 2-D, labels 0/1."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=g) * 0.5 + (y[:, None] * 2 - 1) * 1.5
    return TensorDataset(x, y)


def small_model(dropout: float = 0.2) -> nn.Module:
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))


def test_one_epoch_equals_the_hand_written_loop():
    # oracle: lesson 03's loop written out; same seed, same batches, same dropout masks
    data = blobs(96, seed=1)
    seed_everything(0)
    ours = small_model()
    theirs = small_model()
    theirs.load_state_dict(ours.state_dict())
    loss_fn = nn.CrossEntropyLoss()

    opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    torch.manual_seed(5)
    theirs.train()
    for x, y in make_loader(data, 16, shuffle=True, seed=3):
        loss = loss_fn(theirs(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    torch.manual_seed(5)
    hist = fit(ours, make_loader(data, 16, shuffle=True, seed=3), None, loss_fn,
               torch.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9), 1, device=CPU, progress=False)
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # same operations in the same order: bit for bit
    assert set(hist) == {"train_loss", "lr", "epoch_seconds"} and hist.epochs == 1


def test_fit_learns_and_history_holds_validation_metrics():
    seed_everything(0)
    model = small_model()
    train = make_loader(blobs(96, 1), 16, shuffle=True, seed=0)
    val = make_loader(blobs(64, 2), 32, shuffle=False, seed=0)
    before = evaluate(model, val, nn.CrossEntropyLoss(), metrics={"acc": accuracy}, device=CPU)
    hist = fit(model, train, val, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
               5, device=CPU, metrics={"acc": accuracy}, progress=True)
    assert isinstance(hist, History) and isinstance(hist, dict)
    assert set(hist) == {"train_loss", "val_loss", "val_acc", "lr", "epoch_seconds"}
    assert all(len(v) == 5 for v in hist.values())
    assert hist["train_loss"][-1] < hist["train_loss"][0] and hist["val_acc"][-1] >= 0.95
    after = evaluate(model, val, nn.CrossEntropyLoss(), metrics={"acc": accuracy}, device=CPU)
    assert after["loss"] < before["loss"] and after["loss"] == pytest.approx(hist["val_loss"][-1])
    assert hist.best("val_loss") == (int(np.argmin(hist["val_loss"])) + 1, min(hist["val_loss"]))
    assert hist.best("val_acc", "max")[1] == max(hist["val_acc"])
    with pytest.raises(KeyError, match="val_f1"):
        hist.best("val_f1")
    fig = plot_history(hist, keys=["train_loss", "val_loss", "val_acc"])
    assert len(fig.axes) == 2


def test_callable_metrics_are_averaged_stateful_are_accumulated():
    x = torch.arange(10, dtype=torch.float32)[:, None]
    loader = DataLoader(TensorDataset(x, torch.zeros(10, dtype=torch.long)), batch_size=4)  # batches 4, 4, 2

    class MaxSeen:
        def reset(self):
            self.m = -math.inf

        def update(self, outputs, targets):
            self.m = max(self.m, float(outputs.max()))

        def compute(self):
            return self.m

    res = evaluate(nn.Identity(), loader, metrics={"avg": lambda o, t: float(o.max()), "max": MaxSeen()}, device=CPU)
    assert res["avg"] == pytest.approx((3 * 4 + 7 * 4 + 9 * 2) / 10)  # batch maxima weighted by batch size
    assert res["max"] == 9.0  # one value over the whole split
    with pytest.raises(TypeError, match="metric 'bad'"):
        evaluate(nn.Identity(), loader, metrics={"bad": 3}, device=CPU)
    with pytest.raises(TypeError, match="mapping"):
        evaluate(nn.Identity(), loader, metrics=[accuracy], device=CPU)


def test_accuracy_against_numpy_for_classes_pixels_and_binary():
    out = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(out, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 8, 5, 6, generator=g)
    target = torch.randint(0, 8, (2, 5, 6), generator=g)
    target[0, :2] = 255
    pred, t = logits.argmax(1).numpy(), target.numpy()
    expected = (pred[t != 255] == t[t != 255]).mean()
    assert accuracy(logits, target) == pytest.approx(expected)
    acc = Accuracy()
    acc.update(logits[:1], target[:1])
    acc.update(logits[1:], target[1:])
    assert acc.compute() == pytest.approx(expected)
    assert accuracy(torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.0], [1.0]])) == 0.5  # one logit: threshold 0
    assert math.isnan(accuracy(logits, torch.full((2, 5, 6), 255)))
    with pytest.raises(ValueError, match="do not match"):
        accuracy(out, torch.tensor([0, 1]))


def test_confusion_matrix_metric_equals_the_metric_over_all_predictions():
    seed_everything(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(12, 1, 6, 6, generator=g)
    y = (x[:, 0] > 0.3).long()
    y[:, 0] = 255
    model = nn.Conv2d(1, 2, 1)
    loader = make_loader(TensorDataset(x, y), 5, shuffle=False, seed=0)  # uneven batches 5, 5, 2
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    hist = fit(model, loader, loader, nn.CrossEntropyLoss(ignore_index=255), opt, 2, device=CPU,
               metrics={"miou": MeanIoU(2)}, progress=False)
    whole = MeanIoU(2)
    whole.update(predict(model, loader, device=CPU), y)
    assert hist["val_miou"][-1] == pytest.approx(whole.compute())


def test_unsupervised_step_trains_a_loss_without_targets():
    # a label-free loss: pull 2-D points towards 2 learnable centres (k-means as gradient descent)
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-3.0, 0.0], [3.0, 0.0]])
    points = centres[torch.arange(200) % 2] + 0.3 * torch.randn(200, 2, generator=g)

    class Centres(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Parameter(torch.tensor([[-1.0, 1.0], [1.0, -1.0]]))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cdist(x, self.c) ** 2  # (N, 2) squared distances

    def kmeans_loss(d2: torch.Tensor) -> torch.Tensor:
        return d2.min(dim=1).values.mean()

    model = Centres()
    loader = make_loader(points, 20, shuffle=True, seed=0)  # batches are bare tensors
    hist = fit(model, loader, make_loader(TensorDataset(points), 50, shuffle=False, seed=0), kmeans_loss,
               torch.optim.SGD(model.parameters(), lr=0.1), 15, device=CPU, step=unsupervised_step,
               metrics={"acc": accuracy}, progress=False)
    assert set(hist) == {"train_loss", "val_loss", "lr", "epoch_seconds"}  # metrics skipped: no targets
    found = model.c.detach()[model.c.detach()[:, 0].argsort()]
    assert torch.allclose(found, centres, atol=0.15)  # oracle: the generating centres
    assert hist["val_loss"][-1] < 0.3 and hist["train_loss"][-1] < hist["train_loss"][0]
    out = evaluate(model, loader, kmeans_loss, step=unsupervised_step, device=CPU)
    assert out["loss"] == pytest.approx(kmeans_loss(model(points)).item(), rel=1e-5)


def test_supervised_step_explains_label_free_batches():
    with pytest.raises(TypeError, match="unsupervised_step"):
        supervised_step(nn.Identity(), torch.zeros(3, 2), nn.MSELoss())
    loss, outputs, targets = supervised_step(nn.Identity(), (torch.ones(2), torch.zeros(2)), nn.MSELoss())
    assert loss.item() == 1.0 and targets is not None and outputs.shape == (2,)


def test_a_custom_callback_sees_every_moment_and_can_swap_the_loader_and_stop():
    seed_everything(0)
    model = small_model(0.0)
    first, second = blobs(32, 1), blobs(48, 2)

    class Recorder(Callback):
        def __init__(self) -> None:
            self.events: list[tuple] = []

        def on_fit_start(self, state: FitState) -> None:
            assert state.model is model and state.rank == 0 and state.world_size == 1
            self.events.append(("fit_start",))

        def on_epoch_start(self, state: FitState, epoch: int) -> None:
            self.events.append(("epoch_start", epoch, state.epoch))

        def on_batch_end(self, state: FitState, batch_index: int, loss: float) -> None:
            assert isinstance(loss, float)
            self.events.append(("batch", batch_index))

        def on_epoch_end(self, state: FitState, epoch: int, logs) -> None:
            self.events.append(("epoch_end", epoch, state.epoch, sorted(logs)))
            state.train_loader = make_loader(second, 16, shuffle=True, seed=0)  # e.g. re-sampled negatives
            if epoch == 1:
                state.should_stop = True

    rec = Recorder()
    hist = fit(model, make_loader(first, 16, shuffle=True, seed=0), None, nn.CrossEntropyLoss(),
               torch.optim.SGD(model.parameters(), lr=0.1), 10, device=CPU, callbacks=[rec], progress=False)
    assert hist.epochs == 2  # stopped after epoch 1 (0-based)
    keys = ["epoch_seconds", "lr", "train_loss"]
    assert rec.events == [("fit_start",), ("epoch_start", 0, 0), ("batch", 0), ("batch", 1),
                          ("epoch_end", 0, 1, keys), ("epoch_start", 1, 1), ("batch", 0), ("batch", 1), ("batch", 2),
                          ("epoch_end", 1, 2, keys)]  # 32 samples = 2 batches, then the new 48 = 3 batches


def test_amp_on_cpu_uses_bfloat16_autocast_and_trains():
    assert amp_dtype("auto", "cpu") is None and amp_dtype(False, "cuda") is None
    assert amp_dtype(True, "cpu") == torch.bfloat16
    with pytest.raises(ValueError, match="amp"):
        amp_dtype("yes", "cpu")
    seen = []

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = small_model(0.0)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.net(x)
            seen.append(out.dtype)
            return out

    seed_everything(0)
    model = Spy()
    train = make_loader(blobs(96, 1), 16, shuffle=True, seed=0)
    val = make_loader(blobs(64, 2), 64, shuffle=False, seed=0)
    hist = fit(model, train, val, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=0.01), 4,
               device=CPU, metrics={"acc": accuracy}, amp=True, progress=False)
    assert set(seen) == {torch.bfloat16}  # every forward, training and validation, ran under autocast
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the weights stay float32
    assert hist["val_acc"][-1] >= 0.9 and hist["train_loss"][-1] < hist["train_loss"][0]


def test_grad_clip_limits_the_update():
    model = nn.Linear(2, 1, bias=False)
    nn.init.zeros_(model.weight)
    x, y = torch.tensor([[100.0, 0.0]]), torch.tensor([[100.0]])
    fit(model, DataLoader(TensorDataset(x, y), batch_size=1), None, nn.MSELoss(),
        torch.optim.SGD(model.parameters(), lr=1.0), 1, device=CPU, grad_clip=0.5, progress=False)
    assert model.weight.detach().norm().item() == pytest.approx(0.5)  # one step of length lr * 0.5


def test_errors_are_clear():
    model = nn.Linear(2, 3)
    x = torch.randn(10, 2)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, DataLoader(x), None, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), -1)
    with pytest.raises(TypeError, match=r"\(inputs, targets\)"):
        evaluate(model, DataLoader(x, batch_size=4), nn.MSELoss(), device=CPU)
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, DataLoader(TensorDataset(x[:0], x[:0])), nn.MSELoss(), device=CPU)
    seed_everything(0)
    big = small_model()
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(big, make_loader(blobs(64), 16, shuffle=True, seed=0), None, nn.CrossEntropyLoss(),
            torch.optim.SGD(big.parameters(), lr=1e30), 3, device=CPU, progress=False)


def test_predict_concatenates_outputs_on_the_cpu():
    model = nn.Linear(2, 3)
    x = torch.randn(10, 2)
    out = predict(model, DataLoader(x, batch_size=4), device=CPU)
    assert out.shape == (10, 3) and out.device.type == "cpu"
    assert torch.allclose(out, model(x).detach())
    assert torch.equal(predict(model, DataLoader(TensorDataset(x, torch.zeros(10)), batch_size=3), device=CPU), out)


def test_same_seed_same_history_and_weights():
    runs = []
    for _ in range(2):
        seed_everything(3)
        model = small_model()
        h = fit(model, make_loader(blobs(96, 1), 16, shuffle=True, seed=0), make_loader(blobs(32, 2), 32, shuffle=False,
                seed=0), nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=0.01), 3, device=CPU,
                progress=False)
        runs.append(({k: v for k, v in h.items() if k != "epoch_seconds"}, model.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1].values(), runs[1][1].values(), strict=True))
    a = [b[1].tolist() for b in make_loader(blobs(20), 4, shuffle=True, seed=5)]
    b = [b[1].tolist() for b in make_loader(blobs(20), 4, shuffle=True, seed=5)]
    c = [b[1].tolist() for b in make_loader(blobs(20), 4, shuffle=True, seed=6)]
    assert a == b and a != c
    with pytest.raises(ValueError, match="shuffle=False"):
        make_loader(blobs(8), 4, shuffle=True, seed=0, sampler=list(range(8)))
    with pytest.raises(ValueError, match="batch_size"):
        make_loader(blobs(8), 0, shuffle=True, seed=0)
