"""Synthetic land-cover scenes (:mod:`geolab.synth.multispectral`) as a torch ``Dataset``.

:class:`SyntheticLandCover` has the shape of the course's other data sets: class attributes
``classes``, ``palette``, ``ignore_index`` and ``splits``, a ``split`` argument selecting a
deterministic train/val/test share of the scenes, and :meth:`SyntheticLandCover.plot`.
Scenes are rendered on demand from a seed per scene, so nothing is stored on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from geolab.constants import IGNORE_INDEX
from geolab.data.base import SPLITS, GeoDataset, split_indices
from geolab.synth.multispectral import BANDS, CLASSES, PALETTE, MultispectralScene, band_index, render_scene

__all__ = ["SyntheticLandCover", "scene_seed"]

def scene_seed(seed: int, index: int) -> int:
    """Seed of scene ``index`` of a data set seeded ``seed`` (independent streams per scene)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


class SyntheticLandCover(GeoDataset):
    """Synthetic multispectral scenes with land-cover masks.

    ``dataset[i]`` is ``(image, mask)``: ``image`` float32 ``(n_bands, height, width)`` of
    reflectance (0-1), ``mask`` int64 ``(height, width)`` of class indices (see :attr:`classes`).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        n_scenes: Scenes in all splits together.
        size: ``(height, width)`` of every scene in pixels.
        seed: Seed of the split and of every scene.
        fractions: Shares of train, val and test.
        bands: Names of the bands to return, in that order (default: all of
            :data:`geolab.synth.multispectral.BANDS`).
        transform: Joint transform ``transform(image, mask) -> (image, mask)``.
        cache: Keep rendered scenes in memory.
        **scene_kwargs: Passed to :func:`geolab.synth.multispectral.render_scene` (e.g. ``noise``).
    """

    classes: ClassVar[tuple[str, ...]] = CLASSES
    palette: ClassVar[tuple[tuple[int, int, int], ...]] = PALETTE
    ignore_index: ClassVar[int] = IGNORE_INDEX
    splits: ClassVar[tuple[str, ...]] = SPLITS

    def __init__(
        self,
        split: str = "train",
        *,
        n_scenes: int = 100,
        size: tuple[int, int] = (64, 64),
        seed: int = 0,
        fractions: Sequence[float] = (0.7, 0.15, 0.15),
        bands: Sequence[str] | None = None,
        transform: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
        cache: bool = True,
        **scene_kwargs: Any,
    ) -> None:
        if n_scenes < 1:
            raise ValueError(f"SyntheticLandCover: n_scenes must be >= 1, got {n_scenes}")
        super().__init__(split)
        self.size = (int(size[0]), int(size[1]))
        self.seed = int(seed)
        self.indices = split_indices(n_scenes, split, fractions=fractions, seed=seed)
        self.band_names = tuple(bands) if bands is not None else tuple(b.name for b in BANDS)
        self._band_idx = [band_index(n) for n in self.band_names]
        self.transform = transform
        self.scene_kwargs = scene_kwargs
        self._cache: dict[int, MultispectralScene] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.indices)

    def scene(self, index: int) -> MultispectralScene:
        """The full :class:`~geolab.synth.multispectral.MultispectralScene` behind item ``index``."""
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} scenes")
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        scene = render_scene(self.size, seed=scene_seed(self.seed, int(self.indices[index])), **self.scene_kwargs)
        if self._cache is not None:
            self._cache[index] = scene
        return scene

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        scene = self.scene(index)
        image = torch.from_numpy(np.ascontiguousarray(scene.bands[self._band_idx]))
        mask = torch.from_numpy(scene.labels.astype(np.int64))
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All items stacked: images ``(n, n_bands, height, width)`` float32, masks ``(n, height, width)`` int64."""
        items = [self[i] for i in range(len(self))]
        return np.stack([i.numpy() for i, _ in items]), np.stack([m.numpy() for _, m in items])

    def plot(
        self,
        sample: Sequence[Any],
        *,
        title: str | None = None,
        alpha: float = 1.0,
        rgb: tuple[str, str, str] = ("nir", "red", "green"),
    ) -> Any:
        """Show a sample: a false-colour composite and its colour-coded mask, side by side.

        Args:
            sample: ``(image, mask)`` as returned by ``dataset[i]``.
            title: Figure title.
            alpha: Opacity of the mask panel.
            rgb: Bands displayed as red, green and blue (must be among the returned bands).

        Returns:
            The matplotlib figure.
        """
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        from geolab.plot import mask_to_rgb
        from geolab.remote_sensing import composite

        image, mask = (np.asarray(x) for x in sample)
        fig, axes = plt.subplots(1, 2, figsize=(8, 4))
        axes[0].imshow(composite(image, self.band_names, rgb))
        axes[0].set_title(" / ".join(rgb))
        axes[1].imshow(mask_to_rgb(mask, self.palette, self.ignore_index), alpha=alpha)
        axes[1].set_title("land cover")
        for ax in axes:
            ax.axis("off")
        handles = [Patch(color=(c[0] / 255, c[1] / 255, c[2] / 255), label=n) for n, c in zip(self.classes, self.palette)]
        axes[1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
        if title is not None:
            fig.suptitle(title)
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        return f"SyntheticLandCover(split={self.split!r}, n={len(self)}, size={self.size}, bands={list(self.band_names)})"
