"""A small DCGAN for 8 x 8 images (the bundled scikit-learn digits) and its training loop.

* :class:`Generator`: noise ``(N, latent_dim)`` -> images ``(N, 1, 8, 8)`` in ``[-1, 1]``, through
  a linear layer to 2 x 2 maps and two transposed convolutions (DCGAN: batch norm, ReLU, tanh).
* :class:`Discriminator`: images -> one logit per image (real vs generated), through strided
  convolutions with leaky ReLU.
* :func:`frechet_distance`: distance between two samples' Gaussian fits (mean and
  covariance), the idea of the FID score, here on pixels.
* :func:`train_gan`: the alternating game. Each step the discriminator learns to tell real
  from generated images, then the generator learns to make the discriminator call its images
  real (the non-saturating loss of Goodfellow et al.). Returns the losses and fixed-noise
  samples at chosen epochs, so progress can be watched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Discriminator", "GANHistory", "Generator", "frechet_distance", "train_gan"]


class Generator(nn.Module):
    """DCGAN generator for 8 x 8 single-channel images.

    Args:
        latent_dim: Length of the noise vector.
        width: Channels of the 2 x 2 maps (halved at each up-sampling).
    """

    def __init__(self, latent_dim: int = 16, width: int = 64) -> None:
        super().__init__()
        self.latent_dim, self.width = latent_dim, width
        self.project = nn.Sequential(nn.Linear(latent_dim, width * 4), nn.BatchNorm1d(width * 4), nn.ReLU(True))
        self.up = nn.Sequential(
            nn.ConvTranspose2d(width, width // 2, 4, stride=2, padding=1),  # 2 -> 4
            nn.BatchNorm2d(width // 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(width // 2, 1, 4, stride=2, padding=1),  # 4 -> 8
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Noise ``(N, latent_dim)`` -> images ``(N, 1, 8, 8)`` in ``[-1, 1]``."""
        return self.up(self.project(z).view(-1, self.width, 2, 2))


class Discriminator(nn.Module):
    """DCGAN discriminator for 8 x 8 single-channel images.

    Args:
        width: Channels after the first strided convolution (doubled by the second).
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1),  # 8 -> 4
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),  # 4 -> 2
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2, True),
            nn.Flatten(),
            nn.Linear(2 * width * 4, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(N, 1, 8, 8)`` in ``[-1, 1]`` -> logits ``(N,)`` (high: real)."""
        return self.net(x).squeeze(1)


@dataclass
class GANHistory:
    """What :func:`train_gan` records.

    Attributes:
        d_loss: Discriminator loss per epoch (mean over batches).
        g_loss: Generator loss per epoch.
        samples: ``{epoch: images (n, 1, 8, 8) in [-1, 1]}`` from the same fixed noise; epoch 0
            is before training.
    """

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    samples: dict[int, torch.Tensor] = field(default_factory=dict)


def train_gan(
    generator: Generator,
    discriminator: Discriminator,
    images: torch.Tensor,
    epochs: int,
    *,
    batch_size: int = 64,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.5, 0.999),
    sample_epochs: Sequence[int] = (),
    n_samples: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> GANHistory:
    """Train a GAN by alternating discriminator and generator steps.

    Args:
        generator: The generator (trained in place).
        discriminator: The discriminator (trained in place).
        images: Real images ``(N, 1, 8, 8)`` scaled to ``[-1, 1]``.
        epochs: Passes over ``images``.
        batch_size: Real images per step (and as many generated ones).
        lr: Adam learning rate of both networks.
        betas: Adam betas (DCGAN: 0.5, 0.999).
        sample_epochs: Epochs after which to keep samples (epoch 0 is always kept).
        n_samples: Samples kept each time, from a fixed noise batch.
        seed: Seed of the shuffling, the noise and the fixed noise.
        progress: Show a tqdm bar over epochs.

    Returns:
        A :class:`GANHistory`.
    """
    from tqdm.auto import tqdm

    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"train_gan: images must be (N, 1, H, W), got {tuple(images.shape)}")
    if images.min() < -1.0001 or images.max() > 1.0001:
        raise ValueError("train_gan: scale the images to [-1, 1] (e.g. x / 8 - 1 for digits in 0..16)")
    gen = torch.Generator().manual_seed(seed)
    fixed = torch.randn(n_samples, generator.latent_dim, generator=gen)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    history = GANHistory()

    def snapshot(epoch: int) -> None:
        generator.eval()
        with torch.no_grad():
            history.samples[epoch] = generator(fixed).detach().clone()
        generator.train()

    snapshot(0)
    n = len(images)
    for epoch in tqdm(range(1, epochs + 1), desc="GAN", disable=not progress):
        order = torch.randperm(n, generator=gen)
        d_sum = g_sum = 0.0
        steps = 0
        for start in range(0, n - batch_size + 1, batch_size):
            real = images[order[start : start + batch_size]]
            z = torch.randn(len(real), generator.latent_dim, generator=gen)
            fake = generator(z)
            # discriminator: real -> 1, generated -> 0
            d_real = discriminator(real)
            d_fake = discriminator(fake.detach())
            d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy_with_logits(
                d_fake, torch.zeros_like(d_fake)
            )
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            # generator: make the discriminator say "real" (non-saturating loss)
            g_out = discriminator(fake)
            g_loss = F.binary_cross_entropy_with_logits(g_out, torch.ones_like(g_out))
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            d_sum += d_loss.item()
            g_sum += g_loss.item()
            steps += 1
        history.d_loss.append(d_sum / max(steps, 1))
        history.g_loss.append(g_sum / max(steps, 1))
        if epoch in sample_epochs or epoch == epochs:
            snapshot(epoch)
    generator.eval()
    discriminator.eval()
    return history


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two samples ``(n, d)`` and ``(m, d)``.

    ``|mu_a - mu_b|² + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``: 0 for identical distributions. On
    Inception features this is the FID of generated images; here it works on any features.
    ``eps`` is added to the covariance diagonals so that the matrix square root exists.
    """
    from scipy import linalg

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"frechet_distance: expected (n, d) and (m, d) arrays, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    eye = eps * np.eye(a.shape[1])
    cov_a = np.atleast_2d(np.cov(a, rowvar=False)) + eye
    cov_b = np.atleast_2d(np.cov(b, rowvar=False)) + eye
    root = linalg.sqrtm(cov_a @ cov_b)
    root = np.real(root)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))
