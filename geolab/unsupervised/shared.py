"""One differentiable-clustering network for many images: train once, save, apply to new images.

The paper's "reference" mode: the network is trained over a set of images (one image per
update, sizes may differ), then labels new images with a single forward pass. Here the
forward pass runs in evaluation mode (batch norm with its running statistics) under
``torch.no_grad`` and in tiles when the image is large; because each tile carries a margin
as wide as the network's receptive field, the tiled result equals the whole-image one.
Cluster ids are shared by all images: label 7 is the same cluster in every image.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from geolab.unsupervised.dfc import DFCNet, continuity_loss, image_to_tensor
from geolab.unsupervised.postprocess import (
    connected_components,
    merge_to_n_segments,
    relabel_sequential,
)

__all__ = ["DFCSegmenter", "segment_many"]

CHECKPOINT_KIND = "geolab.unsupervised.DFCSegmenter"


class DFCSegmenter:
    """A differentiable-clustering network shared by many images.

    Args:
        in_channels: Bands of the images (3 for RGB).
        n_channels: q, the largest number of clusters.
        n_conv: 3x3 convolution blocks.
        padding: ``"reflect"`` or ``"zeros"``.
        seed: Seed of the initial weights and of the order of the images.

    Attributes:
        model: The :class:`DFCNet`.
        history: ``{"n_labels": [...], "loss_sim": [...], "loss_con": [...]}`` per update.
    """

    def __init__(self, in_channels: int = 3, *, n_channels: int = 100, n_conv: int = 2, padding: str = "reflect",
                 seed: int = 0) -> None:
        """Build the seeded network (see the class docstring for the arguments)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = DFCNet(in_channels, n_channels, n_conv, padding)
        self.seed = seed
        self.history: dict[str, list[float]] = {"n_labels": [], "loss_sim": [], "loss_con": []}

    def fit(
        self,
        images: Sequence[Any],
        *,
        epochs: int = 10,
        crop: tuple[int, int] | None = (224, 224),
        lr: float = 0.1,
        mu_sim: float = 1.0,
        mu_con: float = 5.0,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> DFCSegmenter:
        """Train on a set of images, one image (or a random crop of it) per update.

        Args:
            images: ``(H, W, C)`` arrays; sizes may differ, bands must match ``in_channels``.
            epochs: Passes over the set (in a seeded random order each time).
            crop: ``(height, width)`` of a random crop taken from larger images (``None``:
                whole images); keeps the cost of an update bounded.
            lr: SGD learning rate (momentum 0.9).
            mu_sim: Weight of the feature-similarity loss.
            mu_con: Weight of the continuity loss (the authors' reference mode uses 5).
            device: Device; ``None``: the best available.
            progress: Show a tqdm progress bar.

        Returns:
            ``self``.
        """
        from geolab.runtime import device as best_device

        tensors = [self._check(img, f"images[{i}]") for i, img in enumerate(images)]
        if not tensors:
            raise ValueError("fit needs at least one image")
        dev = best_device(None if device is None else str(device))
        memory_format = torch.channels_last if dev.type in ("cpu", "cuda") else torch.contiguous_format
        model = self.model.to(dev).to(memory_format=memory_format).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        rng = np.random.default_rng(self.seed)
        steps = [int(i) for _ in range(epochs) for i in rng.permutation(len(tensors))]
        from tqdm.auto import tqdm

        for index in tqdm(steps, desc="shared clustering", unit="image", disable=not progress, leave=False):
            x = tensors[index]
            if crop is not None:
                x = _random_crop(x, crop, rng)
            x = x.to(dev).contiguous(memory_format=memory_format)
            optimizer.zero_grad(set_to_none=True)
            response = model(x)
            labels = response.detach().argmax(1)
            sim = F.cross_entropy(response, labels)
            con = continuity_loss(response)
            (mu_sim * sim + mu_con * con).backward()
            optimizer.step()
            self.history["n_labels"].append(int(labels.unique().numel()))
            self.history["loss_sim"].append(float(sim.detach()))
            self.history["loss_con"].append(float(con.detach()))
        self.model = model.to("cpu").to(memory_format=torch.contiguous_format)
        return self

    def response(self, image: Any, *, tile: tuple[int, int] = (512, 512),
                 device: str | torch.device | None = None) -> torch.Tensor:
        """Response ``(q, H, W)`` of one image, in evaluation mode, tile by tile.

        Args:
            image: ``(H, W, C)`` array.
            tile: ``(height, width)`` of the tiles (each gets a margin of ``n_conv`` pixels).
            device: Device; ``None``: the best available.
        """
        from geolab.runtime import device as best_device

        x = self._check(image, "image")
        dev = best_device(None if device is None else str(device))
        model = self.model.to(dev).eval()
        height, width = x.shape[-2:]
        th, tw = tile
        if th < 1 or tw < 1:
            raise ValueError(f"tile must be positive (height, width), got {tile}")
        margin = self.model.n_conv
        out = torch.empty(self.model.n_channels, height, width)
        with torch.no_grad():
            for y0 in range(0, height, th):
                for x0 in range(0, width, tw):
                    y1, x1 = min(y0 + th, height), min(x0 + tw, width)
                    ya, xa = max(y0 - margin, 0), max(x0 - margin, 0)
                    yb, xb = min(y1 + margin, height), min(x1 + margin, width)
                    r = model(x[..., ya:yb, xa:xb].to(dev))[0].float().cpu()
                    out[:, y0:y1, x0:x1] = r[:, y0 - ya: y0 - ya + (y1 - y0), x0 - xa: x0 - xa + (x1 - x0)]
        self.model.to("cpu")
        return out

    def predict(self, image: Any, *, tile: tuple[int, int] = (512, 512), connected: bool = False,
                n_segments: int | None = None, device: str | torch.device | None = None) -> np.ndarray:
        """Label one image without retraining.

        Args:
            image: ``(H, W, C)`` array.
            tile: ``(height, width)`` of the tiles for large images.
            connected: Split every label into its connected regions (renumbers the labels).
            n_segments: Merge labels of similar mean colour until this many remain (renumbers).
            device: Device; ``None``: the best available.

        Returns:
            ``(H, W)`` int64 labels: cluster ids shared by all images unless ``connected`` or
            ``n_segments`` renumbered them.
        """
        labels = self.response(image, tile=tile, device=device).argmax(0).numpy().astype(np.int64)
        if n_segments is not None:
            labels = merge_to_n_segments(labels, image, n_segments)
        if connected:
            labels = connected_components(labels)
        return labels

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the network to a checkpoint (``geolab.train.save_checkpoint`` format)."""
        from geolab.train import save_checkpoint

        return save_checkpoint(path, self.model, kind=CHECKPOINT_KIND, config=self.model.config(), seed=self.seed)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DFCSegmenter:
        """Read a segmenter written by :meth:`save` (``torch.load(weights_only=True)``).

        Raises:
            FileNotFoundError / geolab.train.CheckpointError: naming the file and the fix.
        """
        from geolab.train import CheckpointError, load_checkpoint

        state = load_checkpoint(path)
        if state.get("kind") != CHECKPOINT_KIND or not isinstance(state.get("config"), dict):
            raise CheckpointError(f"{path} is not a DFCSegmenter checkpoint (kind {state.get('kind')!r}); "
                                  f"write one with DFCSegmenter(...).fit(images).save(path)")
        config = state["config"]
        seg = cls(int(config["in_channels"]), n_channels=int(config["n_channels"]), n_conv=int(config["n_conv"]),
                  padding=str(config["padding"]), seed=int(state.get("seed", 0)))
        try:
            seg.model.load_state_dict(state["model"])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"{path}: weights do not fit the stored configuration {config}: {exc}") from exc
        return seg

    def _check(self, image: Any, where: str) -> torch.Tensor:
        x = image_to_tensor(image, where)
        if x.shape[1] != self.model.in_channels:
            raise ValueError(f"{where} has {x.shape[1]} bands but the segmenter was built for "
                             f"{self.model.in_channels}; give DFCSegmenter(in_channels={x.shape[1]})")
        return x


def _random_crop(x: torch.Tensor, crop: tuple[int, int], rng: np.random.Generator) -> torch.Tensor:
    ch, cw = crop
    height, width = x.shape[-2:]
    if height <= ch and width <= cw:
        return x
    y0 = int(rng.integers(0, max(height - ch, 0) + 1))
    x0 = int(rng.integers(0, max(width - cw, 0) + 1))
    return x[..., y0: y0 + ch, x0: x0 + cw]


def segment_many(
    images: Sequence[Any],
    *,
    n_channels: int = 100,
    n_conv: int = 2,
    epochs: int = 10,
    crop: tuple[int, int] | None = (224, 224),
    lr: float = 0.1,
    mu_sim: float = 1.0,
    mu_con: float = 5.0,
    padding: str = "reflect",
    relabel: bool = False,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[list[np.ndarray], DFCSegmenter]:
    """Train one network over ``images`` and label each of them with it.

    Args:
        images: ``(H, W, C)`` arrays with the same number of bands (sizes may differ).
        n_channels: q, the largest number of clusters.
        n_conv: 3x3 convolution blocks.
        epochs: Passes over the set.
        crop: ``(height, width)`` of random training crops (``None``: whole images).
        lr: SGD learning rate.
        mu_sim: Weight of the feature-similarity loss.
        mu_con: Weight of the continuity loss.
        padding: ``"reflect"`` or ``"zeros"``.
        relabel: Renumber each label map 0..k-1 (otherwise cluster ids are shared by all images).
        device: Device; ``None``: the best available.
        seed: Seed of the weights and of the image order.
        progress: Show a tqdm progress bar.

    Returns:
        The ``(H, W)`` label maps and the fitted :class:`DFCSegmenter` (to label new images).
    """
    if not len(images):
        raise ValueError("segment_many needs at least one image")
    first = image_to_tensor(images[0], "images[0]")
    seg = DFCSegmenter(first.shape[1], n_channels=n_channels, n_conv=n_conv, padding=padding, seed=seed)
    seg.fit(images, epochs=epochs, crop=crop, lr=lr, mu_sim=mu_sim, mu_con=mu_con, device=device, progress=progress)
    maps = [seg.predict(img, device=device) for img in images]
    return ([relabel_sequential(m) for m in maps] if relabel else maps), seg
