"""Saving, loading and applying segmentation models.

* :func:`save_model` writes a :func:`geolab.train.save_checkpoint` file (weights under
  ``"model"``) with the architecture's ``"arch"`` and ``"kwargs"`` and any plain extras such as
  the class names and the training image size.
* :func:`load_model` rebuilds the network from that file, read with
  :func:`geolab.train.load_checkpoint` (``weights_only=True``; errors are
  :class:`geolab.train.CheckpointError`).
* :func:`predict_masks` turns images into label maps, padding sizes that are not a multiple
  of the network's stride.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geolab.segmentation.models import ARCHITECTURES, build_model, pad_to_multiple
from geolab.train.checkpoint import CheckpointError, load_checkpoint, model_state, save_checkpoint

__all__ = ["load_model", "predict_masks", "prior_bias", "save_model"]


def save_model(path: str | os.PathLike[str], model: nn.Module, **extra: Any) -> Path:
    """Save a model built by :func:`~geolab.segmentation.build_model` so it can be rebuilt.

    Args:
        path: File to write, e.g. ``data_dir() / "checkpoints" / "beachlitter_hrnet.pt"``
            (folders are created; the write is atomic).
        model: A model from :func:`~geolab.segmentation.build_model` (it carries ``arch`` and
            ``arch_kwargs``).
        **extra: Plain extras (numbers, strings, lists, dicts, tensors), e.g.
            ``classes=list(CLASSES)``, ``image_size=128``, ``metrics={"miou": 0.61}``.

    Returns:
        The path written.
    """
    arch = getattr(model, "arch", None)
    kwargs = getattr(model, "arch_kwargs", None)
    if arch is None or kwargs is None:
        raise ValueError(
            f"save_model: {type(model).__name__} was not built with geolab.segmentation.build_model, so it "
            "cannot be rebuilt later; build it with build_model(name, ...) or save only its weights with "
            "geolab.train.save_checkpoint"
        )
    reserved = {"arch", "kwargs", "state_dict"} & set(extra)
    if reserved:
        raise ValueError(f"save_model: {sorted(reserved)} are reserved names; rename the extra entries")
    return save_checkpoint(path, model, arch=str(arch), kwargs=dict(kwargs), **extra)


def load_model(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by :func:`save_model`.

    Args:
        path: The file.
        map_location: Device for the weights.

    Returns:
        The model in eval mode; the file's other entries (e.g. ``classes``, ``image_size``)
        are in ``model.checkpoint_info``.

    Raises:
        geolab.train.CheckpointError: The file is missing (also a ``FileNotFoundError``), unreadable,
            not a model saved by :func:`save_model`, or its weights do not fit; the message names
            the file and the fix.
    """
    state = load_checkpoint(path, map_location=map_location)
    if "arch" not in state or "kwargs" not in state:
        raise CheckpointError(
            f"{path} is not a model saved by geolab.segmentation.save_model (it holds {sorted(state)}, "
            "expected 'arch', 'kwargs' and 'model'); load weights-only checkpoints with "
            "geolab.train.load_weights into a model you build yourself"
        )
    arch, kwargs = state["arch"], dict(state["kwargs"])
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"{path}: unknown architecture {arch!r}; this geolab knows {ARCHITECTURES}")
    kwargs.pop("pretrained_backbone", None)  # the weights come from the file
    num_classes = kwargs.pop("num_classes", 8)
    model = build_model(arch, num_classes=num_classes, **kwargs)
    try:
        model.load_state_dict(model_state(state, path))  # older files also stored a copy as "state_dict"
    except (RuntimeError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"{path}: the weights do not fit a {arch} built with {state['kwargs']}: {exc}; the file was "
            "written by a different version of the model, retrain and save it again"
        ) from exc
    info = {k: v for k, v in state.items() if k not in ("model", "state_dict")}
    setattr(model, "checkpoint_info", info)  # noqa: B010 - a plain attribute, not a submodule
    return model.to(map_location).eval()


def _as_batch(images: Any, channels: int = 3) -> tuple[list[torch.Tensor], bool]:
    """Images -> list of float ``(channels, H, W)`` tensors; also whether a single image was given.

    uint8 images are scaled to 0..1, float images are kept as they are.
    """

    def one(img: Any) -> torch.Tensor:
        t = img if isinstance(img, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(img)))
        if t.ndim == 2:
            t = t[None]
        if t.ndim != 3:
            raise ValueError(
                f"predict_masks: an image must be ({channels}, H, W) or (H, W, {channels}), got shape {tuple(t.shape)}"
            )
        if t.shape[0] not in (1, channels) and t.shape[-1] in (1, channels):
            t = t.permute(2, 0, 1)
        if t.shape[0] == 1 and channels == 3:
            t = t.expand(3, -1, -1)  # a grey-level photo for an RGB model
        if t.shape[0] != channels:
            raise ValueError(
                f"predict_masks: the model takes {channels} channels (bands), but an image has shape "
                f"{tuple(t.shape)}; pass ({channels}, H, W) tensors or (H, W, {channels}) arrays"
            )
        if t.dtype == torch.uint8:
            return t.float() / 255.0
        if not t.is_floating_point():
            raise TypeError(f"predict_masks: images must be uint8 (0..255) or float, got {t.dtype}")
        return t.float()

    if isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim == 4:
        return [one(x) for x in images], False
    if isinstance(images, (torch.Tensor, np.ndarray)):
        return [one(images)], True
    if isinstance(images, Sequence) and len(images) > 0:
        return [one(x) for x in images], False
    raise ValueError("predict_masks: no images given")


@torch.no_grad()
def predict_masks(
    model: nn.Module,
    images: Any,
    *,
    batch_size: int = 8,
    device: str | torch.device | None = None,
    size: int | tuple[int, int] | None = None,
    return_probs: bool = False,
    class_bias: Any = None,
) -> Any:
    """Label maps (class ids) for images.

    Each image is padded at the bottom and right (reflection) to a multiple of the model's
    ``size_divisor`` (its total stride; 32 if unknown), run through the model, and the
    logits are cropped back, so any height and width work.

    Args:
        model: Maps ``(N, B, H, W)`` floats to logits ``(N, C, H, W)``; ``B`` is the model's
            ``in_channels`` attribute (3 if it has none).
        images: One image (``(B, H, W)`` tensor or ``(H, W, B)`` array) or a batch
            ``(N, B, H, W)`` / ``(N, H, W, B)`` or a list of images of any sizes; uint8 0..255
            (scaled to 0..1) or float (passed as it is, e.g. standardised reflectances).
        batch_size: Images per forward pass (only images of equal size are batched).
        device: Default: the device of the model's parameters.
        size: Run the model at this size (``(height, width)``; an int means
            ``size × size``); the logits are resized back bilinearly, so the label maps keep
            the original size. Use about the training scale for big photos.
        return_probs: Also return the per-class probabilities ``(C, H, W)`` of each image.
        class_bias: ``(C,)`` numbers added to the logits of each class before the argmax (and
            the softmax), e.g. :func:`prior_bias` to undo part of a class-weighted loss.

    Returns:
        int64 label map ``(H, W)`` for one image, ``(N, H, W)`` tensor for a batch tensor, or a
        list of ``(H_i, W_i)`` tensors for a list; with ``return_probs``, a pair
        ``(labels, probs)`` of the same structure.
    """
    batch, single = _as_batch(images, int(getattr(model, "in_channels", 3)))
    params = next(model.parameters(), None)
    dev = torch.device(device) if device is not None else (params.device if params is not None else torch.device("cpu"))
    divisor = int(getattr(model, "size_divisor", 32))
    bias = None
    if class_bias is not None:
        bias = torch.as_tensor(np.asarray(class_bias, dtype=np.float32)).to(dev).view(1, -1, 1, 1)
    was_training = model.training
    model.eval()
    labels: list[torch.Tensor] = [torch.empty(0)] * len(batch)
    probs: list[torch.Tensor] = [torch.empty(0)] * len(batch)
    order = sorted(range(len(batch)), key=lambda i: tuple(batch[i].shape))
    i = 0
    try:
        while i < len(order):
            shape = batch[order[i]].shape
            group = [order[i]]
            while (
                i + len(group) < len(order)
                and len(group) < batch_size
                and batch[order[i + len(group)]].shape == shape
            ):
                group.append(order[i + len(group)])
            x = torch.stack([batch[k] for k in group]).to(dev)
            h, w = x.shape[-2:]
            if size is not None:
                target = (size, size) if isinstance(size, int) else tuple(size)
                x = F.interpolate(x, size=target, mode="bilinear", align_corners=False, antialias=True)
            x, hh, ww = pad_to_multiple(x, divisor)
            logits = model(x)[..., :hh, :ww].float()
            if bias is not None:
                if bias.shape[1] != logits.shape[1]:
                    raise ValueError(
                        f"class_bias has {bias.shape[1]} values but the model predicts {logits.shape[1]} classes"
                    )
                logits = logits + bias
            if (hh, ww) != (h, w):
                logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            p = torch.softmax(logits, dim=1) if return_probs else None
            lab = logits.argmax(1).cpu()
            for j, k in enumerate(group):
                labels[k] = lab[j]
                if p is not None:
                    probs[k] = p[j].cpu()
            i += len(group)
    finally:
        model.train(was_training)
    if single:
        return (labels[0], probs[0]) if return_probs else labels[0]
    if isinstance(images, (torch.Tensor, np.ndarray)):
        out = torch.stack(labels)
        return (out, torch.stack(probs)) if return_probs else out
    return (labels, probs) if return_probs else labels


def prior_bias(class_weights: Any, strength: float = 1.0) -> torch.Tensor:
    """Logit offsets that undo (part of) the class weights a model was trained with.

    A loss that weights class ``c`` by ``w_c`` teaches the network that ``c`` is about ``w_c``
    times more common than it is, so rare classes are over-predicted. Adding
    ``-strength * log(w_c)`` to the logits divides the probabilities by ``w_c ** strength``
    (logit adjustment): ``strength=1`` undoes the weights fully, ``0`` leaves them.
    Choose the strength on validation data, never on the test set.

    Args:
        class_weights: ``(C,)`` positive loss weights used in training; a weight of 0 (a class
            absent from training) gets no offset.
        strength: How much of the weighting to undo (usually 0..1).

    Returns:
        ``(C,)`` float32 tensor for ``predict_masks(..., class_bias=...)``.
    """
    w = torch.as_tensor(np.asarray(class_weights, dtype=np.float64)).flatten()
    if w.numel() == 0 or bool((w < 0).any()) or not bool(torch.isfinite(w).all()):
        raise ValueError(f"class_weights must be finite and non-negative, got {w.tolist()}")
    if not math.isfinite(strength):
        raise ValueError(f"strength must be a finite number, got {strength}")
    out = torch.zeros_like(w)
    out[w > 0] = -float(strength) * torch.log(w[w > 0])
    return out.float()
