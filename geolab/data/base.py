"""What every data set of the course shares: classes, colours, an ignore label and a split.

* :func:`split_indices` draws a deterministic train / val / test split of ``n`` items,
  optionally keeping whole groups (a site, a day, a storm) in one split so that near-duplicates
  do not leak from training into evaluation.
* :class:`GeoDataset` is a :class:`torch.utils.data.Dataset` with the class attributes
  ``classes``, ``palette``, ``ignore_index`` and ``splits``, a ``split`` argument and
  :meth:`GeoDataset.plot`. Subclasses implement ``__len__`` and ``__getitem__`` returning
  ``(image, target)``.

The rule of the course: choose epochs, thresholds and corrections on ``"val"``; touch
``"test"`` once, at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from torch.utils.data import Dataset

from geolab.constants import IGNORE_INDEX

__all__ = ["SPLITS", "GeoDataset", "split_indices"]

#: The splits of every data set, in this order.
SPLITS: tuple[str, str, str] = ("train", "val", "test")


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    f = tuple(float(x) for x in fractions)
    if len(f) != 3 or any(not np.isfinite(x) or x < 0 for x in f) or abs(sum(f) - 1.0) > 1e-6:
        raise ValueError(
            f"fractions must be three non-negative shares (train, val, test) that sum to 1, got {tuple(fractions)}"
        )
    return f[0], f[1], f[2]


def split_indices(
    n: int,
    split: str,
    *,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    groups: Sequence[Any] | np.ndarray | None = None,
) -> np.ndarray:
    """Indices of one split of ``n`` items; the same arguments always give the same indices.

    Without ``groups`` the items are shuffled by ``numpy.random.default_rng(seed)``; the first
    ``round(f_test · n)`` of the shuffle form the test split, the next ``round(f_val · n)``
    the validation split and the rest the training split. So the test split depends only on
    ``n``, ``seed`` and ``f_test``: moving items between train and val leaves it unchanged.

    With ``groups`` (one label per item) the distinct groups are shuffled instead and each goes
    whole to one split: a group joins test while the middle of its run of items (in shuffled
    order) lies within the first ``f_test · n`` items, then val likewise, then train. The split
    sizes then only approximate the fractions.

    Args:
        n: Number of items.
        split: ``"train"``, ``"val"``, ``"test"``, or ``"all"`` (``arange(n)``).
        fractions: Shares ``(train, val, test)``, non-negative, summing to 1.
        seed: Seed of the shuffle.
        groups: ``(n,)`` group label of every item (any sortable values), or ``None``.

    Returns:
        Sorted int64 indices into ``0..n-1``.

    Raises:
        ValueError: Unknown split, bad fractions, negative ``n`` or ``groups`` of another length.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if split not in (*SPLITS, "all"):
        raise ValueError(f"split must be one of {SPLITS} or 'all', got {split!r}")
    _, f_val, f_test = _check_fractions(fractions)
    if split == "all":
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    part = np.empty(n, dtype=np.int64)  # 0 train, 1 val, 2 test
    if groups is None:
        perm = rng.permutation(n)
        n_test = int(round(f_test * n))
        n_val = min(int(round(f_val * n)), n - n_test)
        part[perm[:n_test]] = 2
        part[perm[n_test : n_test + n_val]] = 1
        part[perm[n_test + n_val :]] = 0
    else:
        g = np.asarray(groups)
        if g.shape != (n,):
            raise ValueError(f"groups must hold one label per item ({n}), got shape {g.shape}")
        names, inverse = np.unique(g, return_inverse=True)
        order = rng.permutation(len(names))
        sizes = np.bincount(inverse, minlength=len(names))[order]
        middle = np.cumsum(sizes) - sizes / 2.0
        group_part = np.where(middle < f_test * n, 2, np.where(middle < (f_test + f_val) * n, 1, 0))
        of_group = np.empty(len(names), dtype=np.int64)
        of_group[order] = group_part
        part = of_group[inverse]
    return np.flatnonzero(part == SPLITS.index(split)).astype(np.int64)


def _display_image(image: Any, bands: Sequence[int]) -> np.ndarray:
    """``(C, H, W)`` tensor or ``(H, W, C)`` array -> ``(H, W, 3)`` (or ``(H, W)``) for imshow."""
    if hasattr(image, "detach"):
        arr = image.detach().cpu().numpy()
        arr = arr[0] if arr.ndim == 3 and arr.shape[0] == 1 else arr
        if arr.ndim == 3:
            arr = np.moveaxis(arr, 0, -1)
    else:
        arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] > 3:
        arr = arr[..., list(bands)]
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3):
        raise ValueError(f"plot: expected an image (C, H, W) or (H, W, C), got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr
    arr = arr.astype(np.float64)
    if arr.min(initial=0.0) < 0.0 or arr.max(initial=0.0) > 1.0:  # e.g. reflectances: 2-98 % stretch per band
        flat = arr.reshape(-1, arr.shape[-1]) if arr.ndim == 3 else arr.reshape(-1, 1)
        lo, hi = np.percentile(flat, 2, axis=0), np.percentile(flat, 98, axis=0)
        arr = (arr - lo) / np.where(hi > lo, hi - lo, 1.0)
    return np.clip(arr, 0.0, 1.0)


class GeoDataset(Dataset):
    """Base of the course's data sets: ``dataset[i]`` is ``(image, target)``.

    Class attributes (override them in a subclass):
        classes: Class names; index = train id.
        palette: RGB colour (0..255) of each class, same order.
        ignore_index: Target value that no loss or metric counts.
        splits: The splits the data set offers.
        rgb_bands: Which channels :meth:`plot` shows as red, green, blue (for 4+ bands).

    Args:
        split: One of :attr:`splits`, or ``"all"``.

    Raises:
        ValueError: ``split`` is not offered.
    """

    classes: ClassVar[tuple[str, ...]] = ()
    palette: ClassVar[tuple[tuple[int, int, int], ...]] = ()
    ignore_index: ClassVar[int] = IGNORE_INDEX
    splits: ClassVar[tuple[str, ...]] = SPLITS
    rgb_bands: ClassVar[tuple[int, int, int]] = (0, 1, 2)

    def __init__(self, split: str = "train") -> None:
        if split not in (*self.splits, "all"):
            raise ValueError(f"{type(self).__name__}: split must be one of {self.splits} or 'all', got {split!r}")
        self.split = split

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def __len__(self) -> int:
        """Number of items in the split."""
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index: int) -> Any:
        """Item ``index`` of the split, ``(image, target)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def plot(self, sample: Sequence[Any], *, title: str | None = None, alpha: float = 0.6) -> Any:
        """Show a sample: the image, and the mask coloured by :attr:`palette` over it.

        Args:
            sample: ``(image, mask)`` as returned by ``dataset[i]``: image ``(C, H, W)`` tensor
                or ``(H, W, C)`` array (uint8 0..255 or float; floats outside 0..1 are
                stretched per band), mask ``(H, W)`` train ids; or ``(image, label)`` with an
                integer label, shown as the title.
            title: Figure title.
            alpha: Opacity of the mask over the image.

        Returns:
            The matplotlib ``Figure``.
        """
        import matplotlib.pyplot as plt

        from geolab.plot import overlay_mask

        image, target = sample[0], sample[1]
        shown = _display_image(image, self.rgb_bands)
        mask = target.detach().cpu().numpy() if hasattr(target, "detach") else np.asarray(target)
        names = self.classes or None
        if mask.ndim == 0:  # a class label, not a mask
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
            label = int(mask)
            ax.set_title(names[label] if names and 0 <= label < len(names) else f"label {label}")
            ax.axis("off")
        else:
            palette = self.palette or tuple((int(r), int(g), int(b)) for r, g, b in _fallback_palette(mask))
            h, w = mask.shape
            fig, axes = plt.subplots(1, 2, figsize=(9, 4.5 * h / max(w, 1) + 0.5))
            axes[0].imshow(shown, cmap="gray" if shown.ndim == 2 else None)
            axes[0].set_title("image")
            axes[0].axis("off")
            overlay_mask(shown, mask, palette, names, alpha=alpha, ignore_index=self.ignore_index, ax=axes[1])
            axes[1].set_title("mask")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return fig


def _fallback_palette(mask: np.ndarray) -> np.ndarray:
    """A tab20 colour per id up to the mask's largest id (for data sets without a palette)."""
    import matplotlib

    k = int(mask[mask != IGNORE_INDEX].max(initial=0)) + 1
    cmap = matplotlib.colormaps["tab20"]
    return (np.array([cmap(i % 20)[:3] for i in range(k)]) * 255).round().astype(np.uint8)

