"""Unsupervised segmentation of one image by differentiable feature clustering.

Kim, Kanezaki & Tanaka (IEEE TIP 2020): a small CNN maps every pixel to a q-dimensional
response; batch normalisation of the response makes "the label of a pixel is the argmax of its
response" a differentiable clustering, and the network is trained on the image itself to make
its responses agree with their own argmax labels (feature similarity) and with their
neighbours (spatial continuity). The number of distinct labels falls while it trains.

Differences from the authors' public script, all switchable:

* the image is mirrored at its border once (``padding="reflect"``: ``n_conv`` pixels, then
  convolutions without padding) instead of zero padding in every convolution, which made
  clusters that live only on the 1-pixel image border; mirroring the small input once costs
  almost nothing, unlike reflect padding of every 100-channel activation;
* a seed for the weights, so a run can be repeated;
* a plateau stop (``patience``): the run ends when the label count has not reached a new low
  for ``patience`` iterations, because on photos the count rarely falls to ``min_labels``;
* the label count is kept on the device, so a GPU is not stopped for a host copy every
  iteration; the host looks at it every ``check_every`` iterations (every iteration on CPU,
  where looking costs nothing);
* channels-last memory layout; mixed precision where the hardware has it (float16 on CUDA,
  bfloat16 on CPUs with native bfloat16 instructions, see :func:`cpu_has_bfloat16`): the
  convolutions, which are about nine tenths of an iteration's work, run at twice the rate;
* both loss terms and their gradient in one pass over the ``(1, q, H, W)`` response
  (:func:`dfc_loss`), instead of the permute-and-copy and the autograd graph of slices of the
  reference, whose backward pass zero-fills a full-size buffer per slice.

``exact=True`` switches all of this off (float32, contiguous layout, autograd loss): the loop
then does the paper's arithmetic in the paper's order and reproduces a hand-written loop
exactly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geolab.unsupervised.postprocess import relabel_sequential

__all__ = [
    "NO_SCRIBBLE",
    "DFCNet",
    "Segmentation",
    "continuity_loss",
    "cpu_has_bfloat16",
    "dfc_loss",
    "image_to_tensor",
    "plateau_reached",
    "segment",
    "validate_scribble",
]

#: Value of "no scribble" in a scribble map.
NO_SCRIBBLE = 255


class DFCNet(nn.Module):
    """Feature extractor and response of differentiable feature clustering.

    ``n_conv`` blocks of (3x3 convolution, ReLU, batch norm) with ``n_channels`` channels,
    then a 1x1 convolution and batch norm giving the response ``(N, q, H, W)``. With
    ``padding="reflect"`` the input is mirrored by ``n_conv`` pixels on every side and the
    convolutions do not pad; with ``"zeros"`` every 3x3 convolution pads with zeros.

    Args:
        in_channels: Bands of the input image (3 for RGB).
        n_channels: q, the channels of every layer and the largest possible number of labels.
        n_conv: Number of 3x3 blocks (M in the paper).
        padding: ``"reflect"`` (mirror the input once) or ``"zeros"`` (the authors' code).
    """

    def __init__(self, in_channels: int, n_channels: int = 100, n_conv: int = 2, padding: str = "reflect") -> None:
        """Build the layers (see the class docstring for the arguments)."""
        super().__init__()
        if in_channels < 1 or n_channels < 2 or n_conv < 1:
            raise ValueError(f"DFCNet needs in_channels >= 1, n_channels >= 2 and n_conv >= 1, got "
                             f"{in_channels}, {n_channels}, {n_conv}")
        if padding not in ("reflect", "zeros"):
            raise ValueError(f"padding must be 'reflect' or 'zeros', got {padding!r}")
        layers: list[nn.Module] = []
        conv_padding = 0 if padding == "reflect" else 1
        c_in = in_channels
        for _ in range(n_conv):
            layers += [nn.Conv2d(c_in, n_channels, 3, padding=conv_padding), nn.ReLU(),
                       nn.BatchNorm2d(n_channels)]
            c_in = n_channels
        self.features = nn.Sequential(*layers)
        self.response = nn.Sequential(nn.Conv2d(n_channels, n_channels, 1), nn.BatchNorm2d(n_channels))
        self.in_channels = in_channels
        self.n_channels = n_channels
        self.n_conv = n_conv
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Response ``(N, q, H, W)`` of images ``(N, C, H, W)``."""
        if self.padding == "reflect":
            if min(x.shape[-2:]) <= self.n_conv:
                raise ValueError(f"images must be larger than {self.n_conv} pixels (n_conv) in height and width, "
                                 f"got {tuple(x.shape[-2:])}")
            x = F.pad(x, (self.n_conv,) * 4, mode="reflect")
        out: torch.Tensor = self.response(self.features(x))
        return out

    def config(self) -> dict[str, Any]:
        """The constructor's arguments (stored in checkpoints)."""
        return {"in_channels": self.in_channels, "n_channels": self.n_channels, "n_conv": self.n_conv,
                "padding": self.padding}


@dataclass
class Segmentation:
    """Result of :func:`segment`.

    Attributes:
        labels: ``(H, W)`` int64 label map, labels renumbered 0..k-1 in order of appearance.
        n_labels: Distinct labels at every iteration, ``(n_iter,)``.
        loss_sim: Feature-similarity loss per iteration.
        loss_con: Spatial-continuity loss per iteration.
        loss_scr: Scribble loss per iteration (zeros without scribbles).
        stop_reason: ``"min_labels"``, ``"plateau"`` or ``"max_iter"``.
        seconds: Wall-clock time of the run.
        model: The trained network (on the CPU, in training mode).
    """

    labels: np.ndarray
    n_labels: np.ndarray
    loss_sim: np.ndarray
    loss_con: np.ndarray
    loss_scr: np.ndarray
    stop_reason: str
    seconds: float
    model: DFCNet | None = field(default=None, repr=False)

    @property
    def n_iter(self) -> int:
        """Iterations run."""
        return len(self.n_labels)

    @property
    def n_segments(self) -> int:
        """Distinct labels in :attr:`labels`."""
        return int(self.labels.max()) + 1 if self.labels.size else 0


def image_to_tensor(image: Any, where: str = "image") -> torch.Tensor:
    """Turn an ``(H, W)`` or ``(H, W, C)`` image into a float32 tensor ``(1, C, H, W)``.

    Integer images are divided by their dtype's maximum (uint8: 255, as in the paper);
    float images are used as they are (scale them to about 0..1 yourself).

    Raises:
        ValueError: Wrong shape, empty, or non-finite values, naming ``where``.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[0] < 2 or arr.shape[1] < 2 or arr.shape[2] < 1:
        raise ValueError(f"{where}: expected an (H, W) or (H, W, C) image with H, W >= 2, got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "ui":
        arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
    elif arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise ValueError(f"{where} holds NaN or infinite values; fill or mask them before segmenting")
    else:
        raise ValueError(f"{where}: unsupported dtype {arr.dtype}; give uint8/uint16 or float values")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]


def validate_scribble(scribble: Any, shape: tuple[int, int], n_channels: int,
                      no_scribble: int = NO_SCRIBBLE) -> np.ndarray:
    """Check a scribble map and return it as int64 ``(H, W)``.

    Args:
        scribble: ``(H, W)`` integer array: a class id ``0 <= id < n_channels`` where the user
            drew, ``no_scribble`` elsewhere.
        shape: ``(height, width)`` of the image.
        n_channels: q of the network.
        no_scribble: The "not scribbled" value.

    Raises:
        ValueError: Wrong shape or dtype, ids out of range, or no scribbled pixel.
    """
    arr = np.asarray(scribble)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.shape != tuple(shape):
        raise ValueError(f"scribble has shape {arr.shape} but the image is {tuple(shape)} (height, width); "
                         f"draw it on the same image size")
    if arr.dtype.kind not in "ui":
        raise ValueError(f"scribble must hold integer class ids (got {arr.dtype}); use {no_scribble} for 'no scribble'")
    arr = arr.astype(np.int64)
    drawn = arr != no_scribble
    if not drawn.any():
        raise ValueError(f"scribble has no scribbled pixel (all are {no_scribble}); draw at least one class")
    bad = np.unique(arr[drawn & ((arr < 0) | (arr >= n_channels))])
    if bad.size:
        raise ValueError(f"scribble ids {bad[:10].tolist()} are outside 0..{n_channels - 1} (n_channels); "
                         f"renumber the scribble classes from 0 and mark unscribbled pixels {no_scribble}")
    return arr


def continuity_loss(response: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between vertical and horizontal neighbours, summed.

    Args:
        response: ``(N, q, H, W)``.
    """
    return ((response[:, :, 1:] - response[:, :, :-1]).abs().mean()
            + (response[:, :, :, 1:] - response[:, :, :, :-1]).abs().mean())


class _FusedDFCLoss(torch.autograd.Function):
    """Feature similarity + spatial continuity with a gradient computed in the forward pass."""

    @staticmethod
    def forward(ctx: Any, response: torch.Tensor, target: torch.Tensor, mu_sim: float,
                mu_con: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r = response.detach()
        n, _, height, width = r.shape
        grad = torch.log_softmax(r, 1)  # same layout as r (channels-last stays channels-last)
        sim = F.nll_loss(grad, target)
        grad.exp_()  # softmax
        index = target[:, None]
        grad.scatter_add_(1, index, torch.full(index.shape, -1.0, dtype=grad.dtype, device=grad.device))
        grad.mul_(mu_sim / (n * height * width))  # d(mean CE)/dr = (softmax - one-hot) / pixels
        con = torch.zeros((), dtype=r.dtype, device=r.device)
        for dim in (2, 3):
            size = r.shape[dim]
            if size < 2:
                continue
            diff = r.narrow(dim, 1, size - 1) - r.narrow(dim, 0, size - 1)
            con = con + diff.abs().mean()
            diff.sign_().mul_(mu_con / diff.numel())  # d mean|a - b| / da = sign / count
            grad.narrow(dim, 1, size - 1).add_(diff)
            grad.narrow(dim, 0, size - 1).sub_(diff)
        ctx.save_for_backward(grad)
        ctx.mark_non_differentiable(sim, con)
        return mu_sim * sim + mu_con * con, sim, con

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (grad,) = ctx.saved_tensors
        return grad * grads[0], None, None, None


def dfc_loss(response: torch.Tensor, target: torch.Tensor, mu_sim: float = 1.0,
             mu_con: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The loss of differentiable feature clustering, fused: value and gradient in one pass.

    Equal (up to float rounding) to ``mu_sim * F.cross_entropy(response, target) + mu_con *
    continuity_loss(response)`` with autograd, but the gradient ``mu_sim * (softmax - one-hot)
    / pixels + mu_con * (sign of the neighbour differences) / count`` is written straight into
    one buffer in the layout of ``response``; autograd's version builds it from full-size
    zero-filled buffers for every slice and a permuted copy.

    Args:
        response: ``(N, q, H, W)`` float response (any memory layout).
        target: ``(N, H, W)`` int64 labels (the argmax of the response).
        mu_sim: Weight of the feature-similarity term.
        mu_con: Weight of the spatial-continuity term.

    Returns:
        ``(loss, similarity, continuity)``; only ``loss`` carries a gradient.
    """
    loss, sim, con = _FusedDFCLoss.apply(response, target, float(mu_sim), float(mu_con))
    return loss, sim, con


def plateau_reached(n_labels: Sequence[int] | np.ndarray, patience: int) -> bool:
    """True when the label count has not reached a new low during the last ``patience`` iterations.

    Args:
        n_labels: Label count per iteration so far.
        patience: Iterations without a new minimum that end the run.
    """
    counts = np.asarray(n_labels)
    if patience < 1 or len(counts) <= patience:
        return False
    return bool(counts[-patience:].min() >= counts[:-patience].min())


def cpu_has_bfloat16() -> bool:
    """True when the CPU has native bfloat16 arithmetic (x86 AVX512-BF16 or AMX-BF16 on Linux).

    Without it, bfloat16 convolutions are emulated and no faster than float32, so ``segment``'s
    ``amp="auto"`` keeps float32 there.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        return False
    return False


#: ``amp="auto"`` uses bfloat16 on a CPU only from this many channels x pixels on (below it,
#: bfloat16's conversions cost more than its faster convolutions save: measured on an
#: AVX512-BF16 CPU, 32 channels at 64 x 64 ran slower in bfloat16, 100 channels at 64 x 64
#: and at 256 x 256 faster).
CPU_BF16_MIN_WORK = 100 * 64 * 64


def _amp_dtype(device: torch.device, amp: bool | str, work: int = 0) -> torch.dtype | None:
    if amp == "auto":
        if device.type == "cuda":
            return torch.float16
        if device.type == "cpu" and work >= CPU_BF16_MIN_WORK and cpu_has_bfloat16():
            return torch.bfloat16
        return None
    if amp is True:
        if device.type == "cuda":
            return torch.float16
        if device.type == "cpu":
            return torch.bfloat16
        return None
    if amp is False:
        return None
    raise ValueError(f"amp must be 'auto', True or False, got {amp!r}")


def _resolve_device(device: str | torch.device | None) -> torch.device:
    from geolab.runtime import device as best_device

    return best_device(None if device is None else str(device))


def segment(
    image: Any,
    *,
    n_channels: int = 100,
    n_conv: int = 2,
    max_iter: int = 1000,
    min_labels: int = 3,
    lr: float = 0.1,
    mu_sim: float = 1.0,
    mu_con: float = 1.0,
    scribble: Any = None,
    mu_scr: float = 0.5,
    patience: int | None = 50,
    check_every: int | None = None,
    padding: str = "reflect",
    channels_last: bool | None = None,
    amp: bool | str = "auto",
    exact: bool = False,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Segmentation:
    """Segment one image without labels by differentiable feature clustering.

    Args:
        image: ``(H, W, C)`` (RGB or any number of bands) or ``(H, W)``; uint8/uint16 are
            scaled to 0..1, floats are used as given.
        n_channels: q, channels of the network and the largest possible number of labels.
        n_conv: 3x3 convolution blocks.
        max_iter: Largest number of training iterations.
        min_labels: Stop when at most this many labels remain (with scribbles: at least the
            number of scribble classes).
        lr: SGD learning rate (momentum 0.9).
        mu_sim: Weight of the feature-similarity (cross-entropy to argmax labels) loss.
        mu_con: Weight of the spatial-continuity loss.
        scribble: ``(H, W)`` integer class ids, 255 = not scribbled; see :func:`validate_scribble`.
        mu_scr: Weight of the scribble cross-entropy.
        patience: Stop when the label count has not reached a new low for this many
            iterations; ``None`` turns the plateau stop off (the authors' behaviour).
        check_every: Iterations between looks at the label count on the host; ``None``: 1 on
            CPU (free there), 10 on GPUs (each look waits for the device).
        padding: ``"reflect"`` (mirror the image once) or ``"zeros"`` (the authors' code).
        channels_last: Channels-last memory layout; ``None``: on for CPU and CUDA.
        amp: Mixed precision: ``"auto"`` (float16 on CUDA; bfloat16 on CPUs with native
            bfloat16 when ``n_channels * height * width >= CPU_BF16_MIN_WORK``; float32
            elsewhere), ``True`` or ``False``.
        exact: The paper's arithmetic: float32, contiguous layout, autograd loss (overrides
            ``channels_last`` and ``amp``); reproduces a plainly written loop exactly.
        device: ``"cpu"``, ``"cuda"``, ``"mps"``...; ``None``: the best available.
        seed: Seed of the network's initial weights.
        progress: Show a tqdm progress bar.

    Returns:
        A :class:`Segmentation`.
    """
    x = image_to_tensor(image)
    height, width = x.shape[-2:]
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    scr = None if scribble is None else validate_scribble(scribble, (height, width), n_channels)
    if scr is not None:
        min_labels = max(min_labels, len(np.unique(scr[scr != NO_SCRIBBLE])))
    dev = _resolve_device(device)
    if check_every is None:
        check_every = 1 if dev.type == "cpu" else 10
    if channels_last is None:
        channels_last = dev.type in ("cpu", "cuda") and not exact
    amp_dtype = None if exact else _amp_dtype(dev, amp, n_channels * height * width)
    if exact:
        channels_last = False
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DFCNet(x.shape[1], n_channels, n_conv, padding)
    model = model.to(dev).to(memory_format=memory_format).train()
    x = x.to(dev).contiguous(memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None

    if scr is not None:
        scr_t = torch.from_numpy(scr).to(dev)[None]
        drawn = scr_t != NO_SCRIBBLE
        scr_target = torch.where(drawn, scr_t, torch.zeros_like(scr_t))
        n_drawn = drawn.sum().clamp_min(1)
        n_free = (~drawn).sum().clamp_min(1)

    counts = torch.zeros(max_iter, dtype=torch.int64, device=dev)
    losses = torch.zeros(max_iter, 3, dtype=torch.float32, device=dev)
    host_counts: list[int] = []
    stop_reason = "max_iter"
    labels = torch.zeros(1, height, width, dtype=torch.int64, device=dev)
    bar = _progress(max_iter, progress)
    start = time.perf_counter()
    it = 0
    for it in range(max_iter):
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            response = model(x)
        response = response.float()
        labels = response.detach().argmax(1)
        if scr is None and not exact:
            loss, sim, con = dfc_loss(response, labels, mu_sim, mu_con)
            scr_loss = torch.zeros((), device=dev)
        elif scr is None:
            sim = F.cross_entropy(response, labels)
            con = continuity_loss(response)
            scr_loss = torch.zeros((), device=dev)
            loss = mu_sim * sim + mu_con * con
        else:
            ce_sim = F.cross_entropy(response, labels, reduction="none")
            ce_scr = F.cross_entropy(response, scr_target, reduction="none")
            sim = (ce_sim * ~drawn).sum() / n_free
            scr_loss = (ce_scr * drawn).sum() / n_drawn
            con = continuity_loss(response)
            loss = mu_sim * sim + mu_con * con + mu_scr * scr_loss
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        counts[it] = torch.bincount(labels.flatten(), minlength=n_channels).count_nonzero()
        losses[it, 0], losses[it, 1], losses[it, 2] = sim.detach(), con.detach(), scr_loss.detach()
        if (it + 1) % check_every == 0 or it + 1 == max_iter:
            new = counts[len(host_counts): it + 1].tolist()  # the only host-device sync
            host_counts += new
            if bar is not None:
                bar.update(len(new))
                bar.set_postfix(labels=new[-1])
            if min(new) <= min_labels:
                stop_reason = "min_labels"
                break
            if patience is not None and plateau_reached(host_counts, patience):
                stop_reason = "plateau"
                break
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    n = it + 1
    hist = losses[:n].cpu().numpy()
    return Segmentation(
        labels=relabel_sequential(labels[0].cpu().numpy()),
        n_labels=counts[:n].cpu().numpy(),
        loss_sim=hist[:, 0].astype(np.float64),
        loss_con=hist[:, 1].astype(np.float64),
        loss_scr=hist[:, 2].astype(np.float64),
        stop_reason=stop_reason,
        seconds=seconds,
        model=model.to("cpu").to(memory_format=torch.contiguous_format),
    )


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="differentiable clustering", unit="it", leave=False)
