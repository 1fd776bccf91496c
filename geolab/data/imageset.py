"""A labelled set of images in memory, with an optional transform applied at every draw."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import Dataset

__all__ = ["ImageSet"]


class ImageSet(Dataset[Any]):
    """Images ``(N, C, H, W)`` and labels ``(N,)`` as a ``torch`` dataset.

    ``transform`` (e.g. a ``torchvision.transforms.v2`` augmentation) is applied to each image
    every time it is drawn, so every epoch sees new random variants; the stored images are not
    changed. Without labels, items are images only (for :func:`geolab.train.unsupervised_step`).

    Args:
        images: Tensor ``(N, C, H, W)`` (or any sequence of ``N`` images).
        labels: Tensor ``(N,)`` of class ids (or per-image targets), or ``None``.
        transform: ``image -> image``, applied at every draw; ``None`` leaves images as they are.

    Items:
        ``(transform(images[i]), labels[i])``, or ``transform(images[i])`` without labels.

    Raises:
        ValueError: ``images`` and ``labels`` differ in length.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"ImageSet: {len(images)} images but {len(labels)} labels; give one label per image")
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        """Number of images."""
        return len(self.images)

    def __getitem__(self, index: int) -> Any:
        """Image ``index`` (transformed) and its label."""
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image if self.labels is None else (image, self.labels[index])
