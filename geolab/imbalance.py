"""Tools for rare-class image classification: minority augmentation, hard negatives, ensembles, TTA.

The recipe of the best entries in Matsuoka (2021) for tropical cyclones (1 positive per ~20
negatives), written model-agnostically (any ``nn.Module`` that maps ``(N, C, H, W)`` images to
one logit per image, ``(N, 1)`` or ``(N,)``):

* :class:`MinorityAugmented` / :func:`augment_minority`: every positive ``k`` times, the copies
  flipped, rotated, partly cropped and partly noised (torchvision v2 transforms plus
  :class:`PartialNoise`). A flip mirrors the image and so reverses the sense of rotation of a
  cyclone: it turns a northern storm into a southern one. It is a valid augmentation only
  because both hemispheres belong to the data.
* :class:`HardNegativeSampler`: a :class:`geolab.train.Callback` that, every ``every`` epochs,
  re-scores the pool of negatives with the current model and builds the next epoch's training
  set from all positives, the highest-scoring ("hardest") ``rate`` share of the negatives kept
  and random negatives for the rest (bootstrapping; Sung & Poggio 1998).
* :class:`Ensemble`: members' probabilities averaged with weights chosen on validation
  (:func:`fit_ensemble_weights`, maximising average precision).
* :func:`tta_predict`: test-time augmentation with identity, flips and 90-degree rotations.
* :class:`ScoreMetric`: adapts ``metric(y_true, scores)`` (e.g. average precision) to the
  stateful-metric protocol of :func:`geolab.train.fit`, so epochs are chosen on it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset

from geolab.metrics import average_precision
from geolab.train import Callback, FitState, make_loader

__all__ = [
    "TTA_TRANSFORMS",
    "Ensemble",
    "HardNegativeSampler",
    "MinorityAugmented",
    "PartialNoise",
    "ScoreMetric",
    "augment_minority",
    "default_augmentation",
    "fit_ensemble_weights",
    "predict_scores",
    "tta_predict",
]

Item = tuple[torch.Tensor, torch.Tensor]


# --------------------------------------------------------------------------------------
# Minority augmentation
# --------------------------------------------------------------------------------------


class PartialNoise(nn.Module):
    """Add Gaussian noise to one random rectangle of the image ("partial noise").

    Args:
        sigma: Noise standard deviation, in the image's units (W m^-2 for OLR).
        scale: Range of the rectangle's side as a fraction of the image side.
        p: Probability of applying it.
    """

    def __init__(self, sigma: float = 10.0, scale: tuple[float, float] = (0.2, 0.5), p: float = 0.5) -> None:
        super().__init__()
        self.sigma, self.scale, self.p = float(sigma), scale, float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(C, H, W)`` -> same shape, noised inside one rectangle."""
        if torch.rand(()) >= self.p:
            return x
        h, w = x.shape[-2:]
        fh, fw = (self.scale[0] + (self.scale[1] - self.scale[0]) * torch.rand(2)).tolist()
        rh, rw = max(1, round(fh * h)), max(1, round(fw * w))
        top = int(torch.randint(0, h - rh + 1, ()))
        left = int(torch.randint(0, w - rw + 1, ()))
        out = x.clone()
        out[..., top : top + rh, left : left + rw] += self.sigma * torch.randn(*x.shape[:-2], rh, rw)
        return out


def default_augmentation(flips: bool = True, crop_scale: tuple[float, float] = (0.6, 1.0), noise_sigma: float = 10.0) -> nn.Module:
    """Flips, a rotation, a partial crop (resized back) and partial noise, as in Matsuoka (2021).

    Args:
        flips: Include horizontal and vertical flips (mirror images: they swap the hemisphere).
        crop_scale: Area fraction of the random crop (``RandomResizedCrop``), ``(1, 1)`` for none.
        noise_sigma: Standard deviation of :class:`PartialNoise` (W m^-2).

    Returns:
        A ``torchvision.transforms.v2.Compose`` acting on ``(1, H, W)`` float tensors.
    """
    from torchvision.transforms import v2

    steps: list[nn.Module] = []
    if flips:
        steps += [v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()]
    steps.append(v2.RandomRotation(180, interpolation=v2.InterpolationMode.BILINEAR, fill=None))
    if crop_scale != (1.0, 1.0):
        steps.append(v2.RandomApply([v2.RandomResizedCrop(64, scale=crop_scale, ratio=(0.8, 1.25), antialias=True)], p=0.5))
    steps.append(PartialNoise(noise_sigma))
    return v2.Compose(steps)


class MinorityAugmented(Dataset[Item]):
    """The positives of a data set ``k`` times: copy 0 unchanged, copies 1..k-1 augmented.

    Copy ``c`` of positive ``j`` is drawn from its own random stream ``(seed, c, j)``, so the data
    set is the same in every epoch and on every process.

    Args:
        dataset: Yields ``(x, y)`` with ``x`` ``(1, H, W)``.
        k: Copies per positive (5 in Matsuoka 2021).
        transform: Augmentation (default :func:`default_augmentation`).
        seed: Seed of the augmentations.
        cache: Keep augmented copies in memory after their first use (small data sets; off
            for streamed paper-scale data).
    """

    def __init__(
        self,
        dataset: Dataset[Item],
        k: int = 5,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        seed: int = 0,
        cache: bool = False,
    ) -> None:
        if int(k) != k or k < 1:
            raise ValueError(f"k (copies per positive) must be a positive integer, got {k!r}")
        self.dataset, self.k, self.seed = dataset, int(k), int(seed)
        self.transform = transform if transform is not None else default_augmentation()
        self.n = len(dataset)  # type: ignore[arg-type]
        self._cache: dict[int, Item] | None = {} if cache else None

    def __len__(self) -> int:
        return self.n * self.k

    def __getitem__(self, index: int) -> Item:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        copy, j = divmod(int(index), self.n)
        x, y = self.dataset[j]
        if copy == 0:
            return x, y
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(np.random.SeedSequence([self.seed, copy, j]).generate_state(1)[0]))
            median = x.median()
            out = self.transform(x - median) + median  # rotation fills corners with 0 -> the median
        if self._cache is not None:
            self._cache[int(index)] = (out, y)
        return out, y


def augment_minority(x: np.ndarray, y: np.ndarray, k: int = 5, *, seed: int = 0, transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Arrays version of :class:`MinorityAugmented`: negatives once, every positive ``k`` times.

    Args:
        x: Images ``(N, 1, H, W)``.
        y: Labels ``(N,)`` (1 = positive).
        k: Copies per positive.
        seed: Seed of the augmentations.
        transform: Augmentation (default :func:`default_augmentation`).

    Returns:
        ``(x, y)`` with the negatives first, then ``k`` copies of each positive.
    """
    pos = np.flatnonzero(y == 1)
    base = cast("Dataset[Item]", TensorDataset(torch.as_tensor(x[pos]), torch.as_tensor(y[pos])))
    aug = MinorityAugmented(base, k, transform, seed)
    xs = torch.stack([aug[i][0] for i in range(len(aug))]).numpy() if len(aug) else x[:0]
    neg = np.flatnonzero(y != 1)
    return np.concatenate([x[neg], xs.astype(x.dtype)]), np.concatenate([y[neg], np.ones(len(xs), y.dtype)])


# --------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------


def _logits(outputs: torch.Tensor) -> torch.Tensor:
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        return outputs[:, 0]
    if outputs.ndim == 1:
        return outputs
    raise ValueError(f"expected one logit per image, shape (N, 1) or (N,), got {tuple(outputs.shape)}")


@torch.no_grad()
def predict_scores(model: nn.Module, data: Dataset[Any] | torch.Tensor | np.ndarray, *, batch_size: int = 256, device: torch.device | str | None = None) -> np.ndarray:
    """Probabilities ``sigmoid(logit)`` of a one-logit model, ``(N,)`` float64.

    Args:
        model: Any module with one logit per image.
        data: Images ``(N, C, H, W)`` (tensor or array) or a dataset of ``(x, y)`` items.
        batch_size: Images per forward pass.
        device: Default: the model's device.
    """
    dev = torch.device(device) if device is not None else next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.eval()
    if isinstance(data, (torch.Tensor, np.ndarray)):
        tensor = torch.as_tensor(data, dtype=torch.float32)
        batches: Any = (tensor[a : a + batch_size] for a in range(0, len(tensor), batch_size))
    else:
        batches = (b[0] for b in DataLoader(data, batch_size=batch_size, shuffle=False))
    out = [torch.sigmoid(_logits(model(b.to(dev)).float())).cpu() for b in batches]
    model.train(was_training)
    return torch.cat(out).double().numpy() if out else np.zeros(0)


class ScoreMetric:
    """A whole-split metric of probabilities, for ``fit(metrics={"ap": ScoreMetric()})``.

    Accumulates ``sigmoid(logit)`` and targets over the split, then returns
    ``metric(y_true, scores)`` (default: average precision).
    """

    def __init__(self, metric: Callable[[np.ndarray, np.ndarray], float] | None = None) -> None:
        self.metric = metric if metric is not None else average_precision
        self.reset()

    def reset(self) -> None:
        """Forget the accumulated split."""
        self._scores: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Add one batch."""
        self._scores.append(torch.sigmoid(_logits(outputs.detach().float())).cpu())
        self._targets.append(targets.detach().reshape(-1).cpu())

    def compute(self) -> float:
        """The metric over everything added since :meth:`reset`."""
        if not self._scores:
            return float("nan")
        return float(self.metric(torch.cat(self._targets).numpy(), torch.cat(self._scores).numpy()))


# --------------------------------------------------------------------------------------
# Hard-negative sampling
# --------------------------------------------------------------------------------------


class HardNegativeSampler(Callback):
    """Re-sample the training negatives from the hardest ones, as a :func:`geolab.train.fit` callback.

    At the start of training (random negatives: the model knows nothing yet) and after every
    ``every``-th epoch, the sampler scores ``pool_size`` negatives of the pool (all by default)
    with the current model, keeps the ``round(rate * n_negatives)`` highest-scoring ones and
    draws the rest at random, and assigns ``state.train_loader`` a new loader over all positives
    plus these negatives (used from the next epoch on).

    Args:
        positives: Dataset of the positives (e.g. :class:`MinorityAugmented`).
        negatives: Dataset of the negative pool (in memory or streamed).
        n_negatives: Negatives per epoch.
        rate: Share of the epoch's negatives that are the hardest (0: random sampling).
        batch_size: Training batch size.
        every: Re-score after every ``every`` epochs.
        pool_size: Negatives scored at each re-scoring (random subset); ``None``: the whole pool.
        seed: Seed of the random choices and of the loaders' shuffling.
        score_batch_size: Batch size while scoring.

    Attributes:
        log: One dict per re-sampling: ``epoch``, ``hard`` (pool indices of the hard negatives),
            ``mean_hard_score``, ``mean_pool_score``.
    """

    def __init__(
        self,
        positives: Dataset[Item],
        negatives: Dataset[Item],
        n_negatives: int,
        rate: float = 0.5,
        *,
        batch_size: int = 64,
        every: int = 1,
        pool_size: int | None = None,
        seed: int = 0,
        score_batch_size: int = 512,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate (share of hard negatives) must be in [0, 1], got {rate}")
        n_pool = len(negatives)  # type: ignore[arg-type]
        if not 1 <= n_negatives <= n_pool:
            raise ValueError(f"n_negatives must be in [1, {n_pool}] (the pool size), got {n_negatives}")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.positives, self.negatives = positives, negatives
        self.n_negatives, self.rate, self.batch_size, self.every = int(n_negatives), float(rate), int(batch_size), int(every)
        self.pool_size, self.seed, self.score_batch_size = pool_size, int(seed), int(score_batch_size)
        self.log: list[dict[str, Any]] = []

    def _loader(self, chosen: np.ndarray, epoch: int) -> DataLoader[Item]:
        """All positives plus the chosen negatives, shuffled (``fit`` splits it under ``torchrun``)."""
        data: ConcatDataset[Item] = ConcatDataset([self.positives, Subset(self.negatives, chosen.tolist())])
        return make_loader(data, self.batch_size, shuffle=True, seed=self.seed + epoch)

    def sample(self, model: nn.Module | None, epoch: int) -> DataLoader[Item]:
        """Choose the negatives with ``model`` (``None``: at random) and return the new loader."""
        rng = np.random.default_rng([self.seed, epoch])
        n_pool = len(self.negatives)  # type: ignore[arg-type]
        n_hard = round(self.rate * self.n_negatives) if model is not None else 0
        hard = np.zeros(0, np.int64)
        entry: dict[str, Any] = {"epoch": epoch}
        if model is not None and n_hard:
            scored = rng.choice(n_pool, self.pool_size, replace=False) if self.pool_size and self.pool_size < n_pool else np.arange(n_pool)
            device = next(model.parameters()).device
            scores = predict_scores(model, Subset(self.negatives, scored.tolist()), batch_size=self.score_batch_size, device=device)
            top = np.argsort(-scores, kind="stable")[:n_hard]
            hard = scored[top]
            entry.update(mean_hard_score=float(scores[top].mean()), mean_pool_score=float(scores.mean()))
        rest = np.setdiff1d(np.arange(n_pool), hard)
        easy = rng.choice(rest, self.n_negatives - len(hard), replace=False)
        entry["hard"] = hard
        self.log.append(entry)
        return self._loader(np.concatenate([hard, easy]), epoch)

    def initial_loader(self) -> DataLoader[Item]:
        """The first epoch's loader (random negatives); pass it to ``fit`` as ``train_loader``."""
        return self.sample(None, 0)

    def on_epoch_end(self, state: FitState, epoch: int, logs: Mapping[str, float]) -> None:
        """Re-score the pool after every ``every``-th epoch and swap ``state.train_loader``.

        Every process scores the same pool with the same weights, so all choose the same
        negatives; under ``torchrun`` ``fit`` then splits the new loader between them.
        """
        if (epoch + 1) % self.every == 0:
            state.train_loader = self.sample(state.model, epoch + 1)


# --------------------------------------------------------------------------------------
# Ensembles and test-time augmentation
# --------------------------------------------------------------------------------------


def fit_ensemble_weights(
    member_scores: np.ndarray | Sequence[np.ndarray],
    y_true: np.ndarray,
    *,
    metric: Callable[[np.ndarray, np.ndarray], float] | None = None,
    step: float = 0.1,
) -> np.ndarray:
    """Weights (summing to 1) of the members' probabilities that maximise a validation metric.

    An exhaustive search over the simplex grid of spacing ``step`` (1001 points for 5 members and
    ``step=0.1``); ties go to the most even weights.

    Args:
        member_scores: ``(M, N)`` validation probabilities of the ``M`` members.
        y_true: ``(N,)`` validation labels.
        metric: ``metric(y_true, scores)``, larger is better (default: average precision).
        step: Grid spacing, ``1 / step`` must be an integer.

    Returns:
        ``(M,)`` float64 weights.
    """
    scores = np.asarray(member_scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(y_true):
        raise ValueError(f"member_scores must be (members, N={len(y_true)}), got {scores.shape}")
    metric = metric if metric is not None else average_precision
    m = scores.shape[0]
    units = round(1 / step)
    if not math.isclose(units * step, 1.0):
        raise ValueError(f"1 / step must be an integer, got step={step}")
    if math.comb(units + m - 1, m - 1) > 20000:
        raise ValueError(f"{m} members with step={step} make too many grid points; use a larger step")
    best: tuple[float, float] = (-math.inf, -math.inf)
    best_w = np.full(m, 1.0 / m)
    for cut in itertools.combinations(range(units + m - 1), m - 1):
        parts = np.diff(np.concatenate([[-1], cut, [units + m - 1]])) - 1
        w = parts / units
        key = (float(metric(y_true, w @ scores)), -float(np.abs(w - 1.0 / m).sum()))
        if key > best:
            best, best_w = key, w
    return best_w


class Ensemble(nn.Module):
    """Weighted average of members' probabilities; returns its logit, ``(N, 1)``.

    Args:
        members: One-logit models.
        weights: ``(M,)`` non-negative weights (normalised to sum 1); default equal.
    """

    def __init__(self, members: Sequence[nn.Module], weights: Sequence[float] | np.ndarray | None = None) -> None:
        super().__init__()
        if not members:
            raise ValueError("an Ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        w = torch.ones(len(members)) if weights is None else torch.as_tensor(np.asarray(weights, dtype=np.float32))
        if w.shape != (len(members),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {len(members)} non-negative numbers with a positive sum, got {w.tolist()}")
        self.register_buffer("weights", w / w.sum())

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Weighted mean probability ``(N,)``."""
        probs = torch.stack([torch.sigmoid(_logits(m(x))) for m in self.members])
        weights: torch.Tensor = self.weights  # type: ignore[assignment]
        return (weights[:, None] * probs).sum(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logit of the weighted mean probability, ``(N, 1)``."""
        return torch.logit(self.probabilities(x), eps=1e-7)[:, None]


#: Test-time transforms of ``(N, C, H, W)`` batches by name.
TTA_TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda x: x,
    "hflip": lambda x: torch.flip(x, dims=(-1,)),
    "vflip": lambda x: torch.flip(x, dims=(-2,)),
    "rot90": lambda x: torch.rot90(x, 1, dims=(-2, -1)),
    "rot180": lambda x: torch.rot90(x, 2, dims=(-2, -1)),
    "rot270": lambda x: torch.rot90(x, 3, dims=(-2, -1)),
    "transpose": lambda x: x.transpose(-2, -1),
}


@torch.no_grad()
def tta_predict(
    model: nn.Module,
    x: torch.Tensor | np.ndarray,
    transforms: Sequence[str] = ("identity", "hflip", "vflip", "rot90", "rot270"),
    *,
    batch_size: int = 256,
) -> np.ndarray:
    """Mean probability over test-time transforms of the images (5 variants by default).

    Rotations keep a cyclone's sense of rotation; flips reverse it, so the flipped variants
    are only valid for a model trained on both hemispheres.

    Args:
        model: One-logit model (or :class:`Ensemble`).
        x: Images ``(N, C, H, W)``.
        transforms: Names in :data:`TTA_TRANSFORMS`.
        batch_size: Images per forward pass.

    Returns:
        ``(N,)`` float64 probabilities.
    """
    unknown = [t for t in transforms if t not in TTA_TRANSFORMS]
    if unknown or not transforms:
        raise ValueError(f"unknown or no transforms {unknown}; choose from {sorted(TTA_TRANSFORMS)}")
    tensor = torch.as_tensor(x, dtype=torch.float32)
    total = np.zeros(len(tensor))
    for name in transforms:
        total += predict_scores(model, TTA_TRANSFORMS[name](tensor), batch_size=batch_size)
    return total / len(transforms)
