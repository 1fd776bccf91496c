"""Single-image super-resolution: an SRCNN-style network, training pairs, and PSNR.

* :class:`SRCNN`: three convolutions (patch extraction, non-linear mapping, reconstruction),
  applied to the bicubic up-sampled image; with ``residual=True`` (the default) it predicts the
  correction to bicubic, which trains much faster than predicting the whole image.
* :func:`degrade`: the usual training pair: the high-resolution image, down-sampled by
  ``scale`` with anti-aliasing and brought back with bicubic interpolation.
* :func:`psnr`: peak signal-to-noise ratio in dB (equal to scikit-image's).
* :func:`random_crops`: fixed-size patches from a list of images, for training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["SRCNN", "degrade", "psnr", "random_crops"]


class SRCNN(nn.Module):
    """SRCNN (Dong et al.): 9-5-5 convolutions on the bicubic-up-sampled image.

    Shapes: ``(N, channels, H, W)`` -> ``(N, channels, H, W)`` (same size; padding keeps it).

    Args:
        channels: Image channels (1 for a grey image or a single geophysical field).
        widths: Channels of the first two layers (the paper: 64 and 32).
        kernels: Kernel sizes of the three layers (the paper: 9, 5, 5; odd).
        residual: Add the input to the output, so the network learns the missing detail.
    """

    def __init__(
        self,
        channels: int = 1,
        widths: tuple[int, int] = (64, 32),
        kernels: tuple[int, int, int] = (9, 5, 5),
        residual: bool = True,
    ) -> None:
        super().__init__()
        if any(k % 2 == 0 for k in kernels):
            raise ValueError(f"SRCNN: kernel sizes must be odd, got {kernels}")
        self.residual = residual
        self.body = nn.Sequential(
            nn.Conv2d(channels, widths[0], kernels[0], padding=kernels[0] // 2, padding_mode="replicate"),
            nn.ReLU(inplace=True),
            nn.Conv2d(widths[0], widths[1], kernels[1], padding=kernels[1] // 2, padding_mode="replicate"),
            nn.ReLU(inplace=True),
            nn.Conv2d(widths[1], channels, kernels[2], padding=kernels[2] // 2, padding_mode="replicate"),
        )
        if residual:  # start exactly at bicubic: the correction is zero until training changes it
            last = self.body[-1]
            assert isinstance(last, nn.Conv2d)
            nn.init.zeros_(last.weight)
            if last.bias is not None:
                nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Bicubic-up-sampled ``(N, C, H, W)`` -> restored ``(N, C, H, W)``."""
        out = self.body(x)
        return x + out if self.residual else out


def degrade(image: np.ndarray, scale: int = 2) -> np.ndarray:
    """Low-resolution version of ``image`` brought back to its size with bicubic interpolation.

    Down-sampling uses scikit-image's ``rescale`` with anti-aliasing (what a coarser sensor
    records); up-sampling is bicubic (order 3). The image sides should be multiples of ``scale``.

    Args:
        image: ``(height, width)`` float in ``[0, 1]``.
        scale: Reduction factor.

    Returns:
        ``(height, width)`` float64, clipped to ``[0, 1]``.
    """
    from skimage.transform import rescale, resize

    x = np.asarray(image, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"degrade: expected a (height, width) image, got shape {x.shape}")
    low = rescale(x, 1 / scale, order=3, anti_aliasing=True, mode="reflect")
    return np.clip(resize(low, x.shape, order=3, mode="reflect", anti_aliasing=False), 0.0, 1.0)


def psnr(reference: np.ndarray, estimate: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio ``10 log10(data_range² / MSE)`` in dB (``inf`` if identical)."""
    mse = float(np.mean((np.asarray(reference, dtype=np.float64) - np.asarray(estimate, dtype=np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(data_range**2 / mse))


def random_crops(
    images: Sequence[np.ndarray], n: int, size: tuple[int, int], *, seed: int = 0
) -> np.ndarray:
    """``n`` random ``(height, width)`` crops, drawn uniformly over images and positions.

    Args:
        images: ``(H_i, W_i)`` arrays at least ``size`` large.
        n: Number of crops.
        size: ``(height, width)`` of each crop.
        seed: Seed of the positions.

    Returns:
        ``(n, height, width)`` array of the images' dtype.
    """
    h, w = size
    for i, img in enumerate(images):
        if img.shape[0] < h or img.shape[1] < w:
            raise ValueError(f"random_crops: image {i} of shape {img.shape} is smaller than the crop {size}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        img = images[int(rng.integers(len(images)))]
        y = int(rng.integers(img.shape[0] - h + 1))
        x = int(rng.integers(img.shape[1] - w + 1))
        out.append(img[y : y + h, x : x + w])
    return np.stack(out)
