"""Tropical-cyclone detection in OLR patches, end to end (Matsuoka 2021's recipe).

    python -m geolab.recipes.cyclone --n-pos 100000 --imbalance 20 --epochs 20 --out runs/cyclone
    torchrun --nproc-per-node 4 -m geolab.recipes.cyclone --n-pos 100000 --out runs/cyclone
    python -m geolab.recipes.cyclone --n-pos 60 --epochs 1 --out /tmp/cyc     # a tiny check

Data are streamed (:class:`geolab.synth.clouds.CloudStream`: sample ``i`` is rendered from
``(seed, i)``), so paper scale (~100k positives, ~2M negatives) never needs the ~32 GB it would
take in memory. Splits are by year. A plain-CNN baseline and five members with different
hard-negative rates are trained (epochs chosen on validation average precision), the members'
weights are fitted on validation, the ensemble is evaluated with test-time augmentation, and
the final table (precision at recall 0.8 on the test years, touched once) is printed and
written to ``<out>/final_table.json``.

The module's functions are also the building blocks of lessons 10 and 11.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from geolab.data import SPLITS, split_indices
from geolab.imbalance import (
    Ensemble,
    HardNegativeSampler,
    MinorityAugmented,
    ScoreMetric,
    fit_ensemble_weights,
    predict_scores,
    tta_predict,
)
from geolab.losses import balanced_bce, focal_loss
from geolab.metrics import average_precision, precision_at_recall
from geolab.nn.resnet import build_cyclone_model
from geolab.train import Checkpoint, distributed, fit, make_loader

__all__ = [
    "OLR_MEAN",
    "OLR_STD",
    "Standardize",
    "evaluate_scores",
    "main",
    "make_loss",
    "standardized",
    "train_member",
    "year_splits",
]

#: Centre and scale of OLR (W m^-2) for the networks' inputs.
OLR_MEAN, OLR_STD = 240.0, 50.0
Item = tuple[torch.Tensor, torch.Tensor]

class Standardize(nn.Module):
    """``(x - mean) / std`` with fixed numbers (OLR in W m^-2 -> about unit scale)."""

    def __init__(self, mean: float = OLR_MEAN, std: float = OLR_STD) -> None:
        super().__init__()
        self.mean, self.std = float(mean), float(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Any shape -> same shape."""
        return (x - self.mean) / self.std


def standardized(model: nn.Module) -> nn.Sequential:
    """``model`` preceded by :class:`Standardize`, so it takes OLR in W m^-2."""
    return nn.Sequential(Standardize(), model)


def year_splits(year: np.ndarray, fractions: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0) -> dict[str, np.ndarray]:
    """Indices of train/val/test with whole years in one split (no storm straddles two).

    :func:`geolab.data.split_indices` with the years as groups (so the split sizes follow the
    years' sizes and only approximate ``fractions``).

    Args:
        year: Year group of every sample ``(N,)``.
        fractions: Shares of the samples for train, val, test.
        seed: Seed of the year shuffle.

    Raises:
        ValueError: Fewer than 3 distinct years, or fractions that leave a split without a year.
    """
    year = np.asarray(year)
    n_years = len(np.unique(year))
    if n_years < 3:
        raise ValueError(f"need at least 3 distinct years for train/val/test, got {n_years}")
    splits = {name: split_indices(len(year), name, fractions=fractions, seed=seed, groups=year) for name in SPLITS}
    empty = [name for name, idx in splits.items() if idx.size == 0]
    if empty:
        raise ValueError(f"fractions {tuple(fractions)} leave no year of {n_years} for {empty}; use more years or larger shares")
    return splits


def make_loss(name: str = "focal", *, alpha: float = 0.25, gamma: float = 2.0, pos_weight: float | None = None) -> Any:
    """Binary loss ``(outputs (N, 1), targets (N,)) -> mean``: ``"focal"`` or ``"bce"``.

    Focal loss follows RetinaNet (``alpha=0.25, gamma=2``; equal to
    ``torchvision.ops.sigmoid_focal_loss``); ``"bce"`` takes an optional ``pos_weight``.
    """
    if name == "focal":

        def focal(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return focal_loss(outputs.reshape(-1), targets.reshape(-1).float(), alpha=alpha, gamma=gamma, reduction="mean")

        return focal
    if name == "bce":
        criterion = balanced_bce(1.0 if pos_weight is None else float(pos_weight))

        def bce(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return criterion.to(outputs.device)(outputs.reshape(-1), targets.reshape(-1).float())

        return bce
    raise ValueError(f"loss must be 'focal' or 'bce', got {name!r}")


def evaluate_scores(y_true: np.ndarray, scores: np.ndarray, recall: float = 0.8) -> dict[str, float]:
    """Average precision and precision at the given recall."""
    return {"ap": float(average_precision(y_true, scores)), f"p@r{recall:.2f}": float(precision_at_recall(y_true, scores, recall=recall))}


def _fit_with_callbacks(
    model: nn.Module,
    sampler: HardNegativeSampler,
    val_loader: Any,
    loss_fn: Any,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    checkpoint: Path | None,
    progress: bool,
) -> dict[str, list[float]]:
    """``geolab.train.fit`` with the sampler as a callback; the epoch with the best ``val_ap`` is kept."""
    best = Checkpoint(checkpoint, monitor="val_ap", mode="max", restore_best=True)
    history = fit(model, sampler.initial_loader(), val_loader, loss_fn, optimizer, epochs, metrics={"ap": ScoreMetric()},
                  callbacks=[sampler, best], progress=progress)
    return dict(history)


def train_member(
    model: nn.Module,
    positives: Dataset[Item],
    negatives: Dataset[Item],
    val: Dataset[Item],
    *,
    epochs: int,
    n_negatives: int | None = None,
    hard_rate: float = 0.0,
    augment: int = 1,
    loss: str = "focal",
    lr: float = 2e-3,
    batch_size: int = 64,
    seed: int = 0,
    checkpoint: Path | None = None,
    progress: bool = False,
    cache: bool = True,
    pool_size: int | None = None,
) -> tuple[nn.Module, dict[str, list[float]], HardNegativeSampler]:
    """Train one model with minority augmentation and hard-negative sampling; best epoch on validation.

    Args:
        model: One-logit model taking OLR (see :func:`standardized`).
        positives: Training positives ``(x, y)``.
        negatives: Training negative pool.
        val: Validation set (the best epoch maximises its average precision).
        epochs: Training epochs.
        n_negatives: Negatives per epoch (default: the whole pool, i.e. no sampling).
        hard_rate: Share of the epoch's negatives that are the hardest (0: random).
        augment: Copies per positive (1: no augmentation, 5 as in Matsuoka 2021).
        loss: ``"focal"`` or ``"bce"``.
        lr: AdamW learning rate (cosine-free, constant).
        batch_size: Training batch size.
        seed: Seed of augmentation, sampling and shuffling (seed the model's initialisation
            yourself, before building it).
        checkpoint: File for the best weights (needed under ``torchrun``), else a temporary file.
        progress: Show progress bars.
        cache: Keep the augmented positives in memory (off for streamed paper-scale data).
        pool_size: Negatives scored at each re-scoring (random subset); ``None``: all.

    Returns:
        ``(model with the best epoch's weights, history, sampler)``.
    """
    pos: Dataset[Item] = MinorityAugmented(positives, augment, seed=seed, cache=cache) if augment > 1 else positives
    n_neg = len(negatives) if n_negatives is None else int(n_negatives)  # type: ignore[arg-type]
    sampler = HardNegativeSampler(pos, negatives, n_neg, hard_rate, batch_size=batch_size, seed=seed, pool_size=pool_size)
    val_loader = make_loader(val, 512, shuffle=False, seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    history = _fit_with_callbacks(model, sampler, val_loader, make_loss(loss), optimizer, epochs, checkpoint, progress)
    return model, history, sampler


def _tensor_set(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    return TensorDataset(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the final table."""
    parser = argparse.ArgumentParser(prog="python -m geolab.recipes.cyclone", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-pos", type=int, default=100_000, help="positives in the whole data set (paper: ~100k)")
    parser.add_argument("--imbalance", type=float, default=20.0, help="negatives per positive (paper: ~20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="resnet", help="member architecture: resnet, wide_resnet, pyramidnet")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0], help="hard-negative rates, one member each")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--neg-per-epoch", type=float, default=0.25, help="share of the training negatives drawn per epoch")
    parser.add_argument("--augment", type=int, default=5, help="copies per positive")
    parser.add_argument("--pool-size", type=int, default=0, help="negatives re-scored per epoch (0: all training negatives)")
    parser.add_argument("--out", type=Path, required=True, help="folder for checkpoints and final_table.json")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)

    # One process group for all the fits below (fit would otherwise start and end one per call).
    _, started = distributed.init_from_env()
    try:
        return _pipeline(args)
    finally:
        if started:
            distributed.barrier()
            torch.distributed.destroy_process_group()


def _pipeline(args: argparse.Namespace) -> dict[str, Any]:
    """Data, baseline, members, ensemble, TTA and the final table (see the module docstring)."""
    from geolab.synth.clouds import CloudStream

    rank = int(os.environ.get("RANK", "0"))
    args.out.mkdir(parents=True, exist_ok=True)
    full = CloudStream(args.n_pos, args.imbalance, args.seed)
    info = full.info()
    splits = year_splits(info.year, seed=args.seed)

    def part(name: str, label: int | None = None) -> CloudStream:
        idx = splits[name] if label is None else splits[name][info.y[splits[name]] == label]
        return CloudStream(args.n_pos, args.imbalance, args.seed, indices=idx)

    for name, idx in splits.items():
        if info.y[idx].sum() == 0 or info.y[idx].min() == 1:
            raise ValueError(f"the {name} years hold only one class; raise --n-pos (each storm gives 6 patches, 10 years)")
    pos, neg, val = part("train", 1), part("train", 0), part("val")
    n_neg = max(1, round(args.neg_per_epoch * len(neg)))
    y_val, y_test = info.y[splits["val"]], info.y[splits["test"]]
    test = part("test")

    def stack(ds: CloudStream) -> torch.Tensor:
        return torch.cat([b[0] for b in torch.utils.data.DataLoader(ds, batch_size=512)])

    torch.manual_seed(args.seed)
    baseline = standardized(build_cyclone_model("plain_cnn"))
    train_member(baseline, pos, neg, val, epochs=args.epochs, loss="bce", augment=1, batch_size=args.batch_size, seed=args.seed, checkpoint=args.out / "baseline.pt", progress=args.progress)
    members, val_scores = [], []
    for k, rate in enumerate(args.rates):
        torch.manual_seed(args.seed + 1 + k)
        member = standardized(build_cyclone_model(args.model, activation="leaky_relu"))
        train_member(
            member, pos, neg, val, epochs=args.epochs, n_negatives=n_neg, hard_rate=rate, augment=args.augment,
            batch_size=args.batch_size, seed=args.seed + 1 + k, checkpoint=args.out / f"member{k}.pt", progress=args.progress, cache=False,
            pool_size=args.pool_size or None,
        )
        members.append(member)
        val_scores.append(predict_scores(member, val))
    weights = fit_ensemble_weights(np.stack(val_scores), y_val)
    ensemble = Ensemble(members, weights).eval()
    x_test = stack(test)  # the test years, touched once
    table = {
        "baseline": evaluate_scores(y_test, predict_scores(baseline, x_test)),
        "ensemble": evaluate_scores(y_test, predict_scores(ensemble, x_test)),
        "ensemble+tta": evaluate_scores(y_test, tta_predict(ensemble, x_test)),
    }
    base = max(table["baseline"]["p@r0.80"], 1e-12)
    relative = {name: (row["p@r0.80"] - base) / base for name, row in table.items()}
    result = {"table": table, "weights": weights.tolist(), "rates": list(args.rates), "relative_improvement": relative["ensemble+tta"]}
    if rank == 0:
        _write_json(args.out / "final_table.json", result)
        print(f"final table: test years, {int(y_test.sum())} positives among {len(y_test)} patches")
        print(f"{'':14s} {'AP':>6s} {'P@R0.8':>7s} {'vs baseline':>12s}")
        for name, row in table.items():
            print(f"{name:14s} {row['ap']:6.3f} {row['p@r0.80']:7.3f} {100 * relative[name]:+10.1f} %")
        print(f"relative improvement of precision at recall 0.8 (ensemble+tta vs baseline; Matsuoka 2021: +65.4 %): "
              f"{100 * result['relative_improvement']:+.1f} %")
    return result


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (a temporary file, then a rename): never half-written."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
