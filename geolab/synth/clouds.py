"""Synthetic 64 x 64 outgoing-longwave-radiation (OLR) patches: tropical cyclones and other clouds.

**Stands in for** the simulated OLR patches (about 1000 km square, ~15.6 km per pixel) of a
cloud-resolving global model that Matsuoka et al. (2018, 2021) classified into tropical
cyclones and their precursors versus every other cloud scene. That data is not public; this
generator keeps its physics where it matters for image recognition:

* OLR is a proxy for cloud-top temperature (Stefan-Boltzmann, :func:`olr_from_temperature`):
  clear warm scenes radiate 250-290 W m^-2, cold anvil tops 90-130 W m^-2; fields are clipped
  to [80, 300] W m^-2.
* Background convection is power-law ("red") noise with spectral slope beta in [2.5, 3.5],
  thresholded so that clouds are patchy.
* Positives have a central dense overcast (radius 100-300 km), 1-4 logarithmic spiral bands
  ``r = r0 exp(theta tan psi)`` with pitch psi in 10-25 deg and width 20-60 km, an eye for
  mature storms, and an organisation level in [0, 1]: ``"cyclone"`` patches are well organised
  (0.6-1), ``"precursor"`` patches weakly (0.12-0.5), so some precursors look like clusters.
  Bands turn counter-clockwise inwards in the northern hemisphere and clockwise in the southern
  (north is row 0): a mirror image of a northern storm looks southern.
* Negatives come in named kinds: ``"clear"``, ``"scattered"`` convection, ``"itcz"`` (a zonal
  band), ``"front"`` (a large-radius arc of a front or shear line) and ``"cluster"`` (round
  convective clusters without spiral organisation: the hard negatives).
* Positives come from storms: each storm gives ``per_storm`` consecutive patches (precursor
  stages first) that share hemisphere, size and band geometry, i.e. near-duplicates. Each
  sample also has a "year"; split by year (or storm) so one storm never straddles two splits.

**Breaks down**: no dynamics or time series, no land, no diurnal cycle, no multi-storm scenes,
no satellite artefacts; the real task's difficulty (and its ceiling) differ.

Every sample ``i`` is rendered from its own random stream ``(seed, i)`` (and its storm's stream
``(seed, storm)``), so :func:`make_dataset` (vectorised, in memory) and :class:`CloudStream`
(one sample at a time, for paper-scale runs that would not fit in memory) give the same pixels
up to float32 rounding (about 1e-6 relative: a batch and a single sample go through the
vectorised maths in different groupings, whose rounding can differ with the number of threads).
The same call always gives the same result.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft
import torch
from scipy.special import ndtri
from torch.utils.data import Dataset

__all__ = [
    "KINDS",
    "NEGATIVE_KINDS",
    "OLR_RANGE",
    "PATCH_SIZE",
    "POSITIVE_KINDS",
    "CloudSet",
    "CloudStream",
    "SampleInfo",
    "make_dataset",
    "olr_from_temperature",
    "powerlaw_noise",
    "render",
    "sample_info",
]

#: Side of a patch in pixels (about 1000 km, ~15.6 km per pixel).
PATCH_SIZE = 64
#: Every kind, positives first; ``kind`` arrays hold indices into this tuple.
KINDS: tuple[str, ...] = ("cyclone", "precursor", "clear", "scattered", "itcz", "front", "cluster")
POSITIVE_KINDS: tuple[str, ...] = ("cyclone", "precursor")
NEGATIVE_KINDS: tuple[str, ...] = ("clear", "scattered", "itcz", "front", "cluster")
#: Default shares of the negative kinds.
DEFAULT_NEGATIVE_MIX: dict[str, float] = {"clear": 0.15, "scattered": 0.3, "itcz": 0.15, "front": 0.15, "cluster": 0.25}
#: Physical range of the fields in W m^-2.
OLR_RANGE: tuple[float, float] = (80.0, 300.0)
STEFAN_BOLTZMANN = 5.670374419e-8  # W m^-2 K^-4

# Fixed random phase shifts that turn one white-noise spectrum into independent-looking fields.
_PHASES = torch.polar(
    torch.ones(2, PATCH_SIZE, PATCH_SIZE // 2 + 1),
    2 * math.pi * torch.rand(2, PATCH_SIZE, PATCH_SIZE // 2 + 1, generator=torch.Generator().manual_seed(1)),
).numpy()
_N_UNIFORM = 24  # per-sample uniform numbers
_N_STORM = 8  # per-storm uniform numbers
_GRID_Y, _GRID_X = np.mgrid[0:PATCH_SIZE, 0:PATCH_SIZE].astype(np.float32)


def olr_from_temperature(temperature_k: np.ndarray | float) -> np.ndarray:
    """Outgoing longwave radiation of a black body at the given temperature.

    Args:
        temperature_k: Brightness (cloud-top) temperature in K, any shape.

    Returns:
        ``sigma * T**4`` in W m^-2 (float64, same shape), e.g. 240 K -> 188 W m^-2.
    """
    t = np.asarray(temperature_k, dtype=np.float64)
    return STEFAN_BOLTZMANN * t**4


def powerlaw_noise(white: np.ndarray, beta: np.ndarray | float) -> np.ndarray:
    """Filter white noise to a power spectrum ``P(k) ~ k**-beta`` and standardise it.

    Args:
        white: White noise ``(N, H, W)``.
        beta: Spectral slope per field, scalar or ``(N,)`` (2.5-3.5 for convection).

    Returns:
        ``(N, H, W)`` float32 fields with zero mean and unit standard deviation each.
    """
    white = np.asarray(white, dtype=np.float32)
    h, w = white.shape[-2:]
    return _filtered(scipy.fft.rfft2(white), _amplitude(beta, (h, w), white.shape[0]), (h, w))


@functools.lru_cache(maxsize=8)
def _log_wavenumber(h: int, w: int) -> np.ndarray:
    """``log |k|`` on the ``rfft2`` grid ``(h, w // 2 + 1)`` in cycles per pixel (k = 0 set to 1 / max(h, w))."""
    k = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :])
    k[0, 0] = 1.0 / max(h, w)
    return np.log(k).astype(np.float32)


def _amplitude(beta: np.ndarray | float, size: tuple[int, int], n: int) -> np.ndarray:
    """Spectral amplitude ``k**(-beta / 2)`` with the mean (k = 0) removed: ``(1 or n, h, w // 2 + 1)``."""
    log_k = _log_wavenumber(int(size[0]), int(size[1]))
    if np.ndim(beta) == 0:  # one slope for all: one filter
        amp = np.exp(log_k * np.float32(-float(beta) / 2.0))[None]
    else:
        b = np.broadcast_to(np.asarray(beta, dtype=np.float32), (n,))
        amp = np.exp(log_k[None] * (b * np.float32(-0.5))[:, None, None])
    amp[:, 0, 0] = 0.0
    return amp


@functools.lru_cache(maxsize=4)
def _fixed_filter(which: int, beta: float) -> np.ndarray:
    """Phase shift ``which`` times the amplitude of slope ``beta`` on the 64 x 64 grid (complex64)."""
    return (_PHASES[which] * _amplitude(beta, (PATCH_SIZE, PATCH_SIZE), 1)[0]).astype(np.complex64)


def _filtered(spectrum: np.ndarray, filt: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Standardised real field ``(N, h, w)`` float32 of the filtered half-spectrum ``(N, h, w // 2 + 1)``."""
    field = scipy.fft.irfft2(spectrum * filt, s=size)  # zero mean: the k = 0 term is removed
    rms = np.sqrt(np.einsum("nij,nij->n", field, field) / (field.shape[1] * field.shape[2]))
    field *= (1.0 / (rms + 1e-12)).astype(np.float32)[:, None, None]
    return field


def _hash64(seed: int, stream: int, idx: np.ndarray) -> np.ndarray:
    """A SplitMix64 hash of ``(seed, stream, i)`` for every ``i`` in ``idx`` (vectorised, uint64)."""
    with np.errstate(over="ignore"):
        z = np.asarray(idx).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z ^= np.uint64((int(seed) * 0xBF58476D1CE4E5B9 + int(stream) * 0x94D049BB133111EB) % 2**64)
        for _ in range(2):
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z ^= z >> np.uint64(31)
    return z


def _hash_uniform(seed: int, stream: int, idx: np.ndarray) -> np.ndarray:
    """Uniform numbers in [0, 1) from a SplitMix64 hash of ``(seed, stream, i)`` (vectorised)."""
    return (_hash64(seed, stream, idx) >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass(frozen=True)
class SampleInfo:
    """Labels of samples ``indices`` of a data set of ``n_pos`` positives (see :func:`sample_info`).

    Attributes:
        y: 1 for tropical cyclones and precursors, 0 otherwise, ``(n,)`` int64.
        kind: Index into :data:`KINDS`, ``(n,)`` int64.
        storm: Storm id of positives (``-1`` for negatives), ``(n,)`` int64.
        stage: Position of a positive within its storm's life (0 = earliest), else ``-1``.
        year: Year group of every sample, ``(n,)`` int64.
    """

    y: np.ndarray
    kind: np.ndarray
    storm: np.ndarray
    stage: np.ndarray
    year: np.ndarray


def _sizes(n_pos: int, imbalance: float) -> int:
    if isinstance(n_pos, bool) or int(n_pos) != n_pos or n_pos < 1:
        raise ValueError(f"n_pos must be a positive integer, got {n_pos!r}")
    if not imbalance >= 1:
        raise ValueError(f"imbalance (negatives per positive) must be >= 1, got {imbalance!r}")
    return round(int(n_pos) * (1.0 + float(imbalance)))


def _negative_cdf(negative_mix: Mapping[str, float] | None) -> np.ndarray:
    mix = dict(DEFAULT_NEGATIVE_MIX if negative_mix is None else negative_mix)
    unknown = set(mix) - set(NEGATIVE_KINDS)
    if unknown:
        raise ValueError(f"negative_mix has unknown kinds {sorted(unknown)}; choose from {NEGATIVE_KINDS}")
    weights = np.array([max(float(mix.get(k, 0.0)), 0.0) for k in NEGATIVE_KINDS])
    if weights.sum() <= 0:
        raise ValueError("negative_mix needs at least one positive weight")
    return np.cumsum(weights / weights.sum())


def sample_info(
    indices: np.ndarray | Sequence[int],
    n_pos: int,
    imbalance: float = 20,
    *,
    seed: int = 0,
    per_storm: int = 6,
    n_years: int = 10,
    precursor_fraction: float = 0.5,
    negative_mix: Mapping[str, float] | None = None,
) -> SampleInfo:
    """Labels, kinds, storms and years of some samples, without rendering them.

    Positive ``k`` (0 <= k < n_pos) sits at index ``floor(k * N / n_pos)`` of the ``N`` samples,
    so positives are spread evenly and a sample's label costs O(1) memory. Storm ``s`` holds
    positives ``s * per_storm ... (s + 1) * per_storm - 1``; its first ``precursor_fraction``
    are precursors. Years are contiguous blocks of indices (a storm takes its first patch's year).

    Args:
        indices: Sample indices in ``[0, N)``.
        n_pos: Number of positives; ``N = round(n_pos * (1 + imbalance))``.
        imbalance: Negatives per positive (20 in Matsuoka 2021).
        seed: Seed of the data set.
        per_storm: Patches per storm.
        n_years: Number of year groups.
        precursor_fraction: Share of each storm's patches that are precursors.
        negative_mix: Shares of :data:`NEGATIVE_KINDS` (default :data:`DEFAULT_NEGATIVE_MIX`).
    """
    n_total = _sizes(n_pos, imbalance)
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n_total):
        raise IndexError(f"sample indices must lie in [0, {n_total}), got {idx.min()}..{idx.max()}")
    if per_storm < 1 or n_years < 1:
        raise ValueError(f"per_storm and n_years must be >= 1, got {per_storm}, {n_years}")
    k = -((-idx * n_pos) // n_total)  # ceil(i * n_pos / N)
    is_pos = (k < n_pos) & ((k * n_total) // n_pos == idx)
    storm = np.where(is_pos, k // per_storm, -1)
    stage = np.where(is_pos, k % per_storm, -1)
    first = (np.maximum(storm, 0) * per_storm * n_total) // n_pos  # index of the storm's first patch
    year = np.where(is_pos, first, idx) * n_years // n_total
    n_prec = round(precursor_fraction * per_storm)
    kind = np.empty_like(idx)
    kind[is_pos] = np.where(stage[is_pos] < n_prec, 1, 0)
    neg = np.flatnonzero(~is_pos)
    if neg.size:
        cdf = _negative_cdf(negative_mix)
        u = _hash_uniform(seed, 2, idx[neg])
        kind[neg] = 2 + np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)
    return SampleInfo(is_pos.astype(np.int64), kind, storm, stage, year.astype(np.int64))


def _disc(r: np.ndarray, radius: np.ndarray, sharpness: int = 4) -> np.ndarray:
    """``exp(-(r / radius)**sharpness)`` for ``sharpness`` 2 or 4; ``r`` ``(n, H, W)``, ``radius`` ``(n,)``."""
    q = r / _col(radius)
    q *= q
    if sharpness == 4:
        q *= q
    np.negative(q, out=q)
    return np.exp(q, out=q)


def _lerp(a: float, b: float, t: np.ndarray) -> np.ndarray:
    return (a + (b - a) * np.asarray(t, dtype=np.float32)).astype(np.float32)


def _col(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)[:, None, None]


def _gauss(x: np.ndarray, width: np.ndarray) -> np.ndarray:
    """``exp(-x**2 / (2 width**2))`` with ``width`` per sample ``(n, 1, 1)``."""
    q = x / width
    q *= q
    q *= np.float32(-0.5)
    return np.exp(q, out=q)


def _wrap(x: np.ndarray, period: np.ndarray) -> np.ndarray:
    """``x`` wrapped into ``[-period / 2, period / 2)`` (faster than float ``%``)."""
    return x - period * np.floor(x / period + np.float32(0.5))


def _random_inputs(info: SampleInfo, idx: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample uniforms ``(n, 24)``, per-storm uniforms ``(n, 8)`` and white noise ``(n, 64, 64)``.

    Uniforms are hashes of ``(seed, stream, i * count + j)``, so they cost no loop; the white
    noise of sample ``i`` comes from a torch generator seeded with a hash of ``(seed, i)``.
    """
    n, s = idx.size, PATCH_SIZE
    u = _hash_uniform(seed, 3, idx[:, None] * _N_UNIFORM + np.arange(_N_UNIFORM))
    storm = np.maximum(info.storm, 0)
    storm_u = _hash_uniform(seed, 4, storm[:, None] * _N_STORM + np.arange(_N_STORM))
    storm_u[info.storm < 0] = 0.0
    white = torch.empty(n, s, s)
    gen = torch.Generator()
    for j, key in enumerate(_hash64(seed, 5, idx).tolist()):
        gen.manual_seed(key)
        white[j].normal_(generator=gen)
    return u, storm_u, white.numpy()


def render(info: SampleInfo, indices: np.ndarray | Sequence[int], *, seed: int = 0, per_storm: int = 6) -> np.ndarray:
    """Render the OLR patches of some samples.

    Args:
        info: Their labels from :func:`sample_info` (same ``indices``, ``seed``, ``per_storm``).
        indices: Sample indices (sample ``i``'s random numbers depend on ``(seed, i)`` only).
        seed: Seed of the data set.
        per_storm: Patches per storm (a storm's shared numbers depend on ``(seed, storm)``).

    Returns:
        ``(n, 64, 64)`` float32 OLR in W m^-2, north up.
    """
    idx = np.asarray(indices, dtype=np.int64)
    s = PATCH_SIZE
    if idx.size == 0:
        return np.zeros((0, s, s), np.float32)
    u, storm_u, white = _random_inputs(info, idx, seed)
    kind = info.kind
    lerp = _lerp

    # One white field, three spectra: background convection (slope beta), cloud-top texture
    # and small-scale detail (fragmentation of bands, ragged edges).
    spectrum = scipy.fft.rfft2(white)
    back = _filtered(spectrum, _amplitude(lerp(2.5, 3.5, u[:, 0]), (s, s), idx.size), (s, s))
    texture = _filtered(spectrum, _fixed_filter(0, 2.0), (s, s))
    detail = _filtered(spectrum, _fixed_filter(1, 2.5), (s, s))

    # Cloud fraction of the background: threshold of the noise, by kind.
    frac = np.select(
        [kind == 2, kind == 3, kind == 6, kind <= 1],
        [lerp(0.0, 0.08, u[:, 1]), lerp(0.15, 0.45, u[:, 1]), lerp(0.05, 0.3, u[:, 1]), lerp(0.05, 0.35, u[:, 1])],
        lerp(0.05, 0.25, u[:, 1]),
    )
    # The standardised field is close to Gaussian: its (1 - frac) quantile is ndtri(1 - frac).
    thresh = _col(ndtri(1.0 - np.clip(frac, 1e-3, 1.0)))
    cloud = back
    cloud -= thresh
    cloud *= np.float32(1 / 0.6)
    np.clip(cloud, 0.0, 1.0, out=cloud)
    cloud *= _col(lerp(0.4, 1.0, u[:, 2]))

    cy = (s - 1) / 2 + lerp(-7, 7, u[:, 3])
    cx = (s - 1) / 2 + lerp(-7, 7, u[:, 4])

    def offsets(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dy = _col(cy[m]) - _GRID_Y  # north (row 0) is +y
        dx = _GRID_X - _col(cx[m])
        return dy, dx, np.sqrt(dx * dx + dy * dy) + np.float32(1e-3)  # radius in px, never 0

    # Tropical cyclones and precursors.
    p = np.flatnonzero(kind <= 1)
    if p.size:
        su = storm_u[p]
        stage_t = (info.stage[p] + u[p, 5]) / per_storm  # 0 at genesis -> 1 mature
        mature = kind[p] == 0
        organisation = np.where(mature, lerp(0.6, 1.0, u[p, 6]), lerp(0.12, 0.5, u[p, 6]))
        org = _col(organisation)
        hemisphere = np.where(su[:, 0] < 0.5, 1.0, -1.0)  # +1 north: bands turn counter-clockwise inwards
        radius = np.where(mature, lerp(6.4, 19.0, 0.5 * su[:, 1] + 0.5 * stage_t), lerp(3.5, 9.0, su[:, 1]))
        pitch = np.deg2rad(np.clip(lerp(10.0, 25.0, su[:, 2]) + lerp(-2, 2, u[p, 7]), 10.0, 25.0))
        n_arms = 1 + np.floor(su[:, 3] * 4)
        width = _col(lerp(1.3, 3.8, u[p, 8]))
        phase = lerp(-math.pi, math.pi, u[p, 9])
        dy, dx, rp = offsets(p)
        tp = np.arctan2(dy, dx)
        # Log-spiral arms: in log-radius the spiral r = r0 exp(theta tan psi) is a straight line
        # that repeats every 2 pi tan psi; n equally spaced arms repeat every 2 pi tan psi / n, so
        # the offset to the nearest arm is one wrap (no loop over the arms).
        tan_p = _col(np.tan(pitch))
        along = np.log(rp / _col(radius))
        along -= _col(hemisphere * tan_p[:, 0, 0]) * (_col(phase) - tp)
        dist = np.abs(_wrap(along, _col(2 * math.pi * tan_p[:, 0, 0] / n_arms)))
        dist *= rp
        dist *= _col(np.cos(pitch))
        bands = _gauss(dist, width)
        outer = _col(lerp(18.0, 32.0, u[p, 10]))
        envelope = (1 - _disc(rp, 0.7 * radius, 2)) * _disc(rp, outer[:, 0, 0], 2)
        fragments = np.clip(0.3 + 0.8 * detail[p], 0, 1)
        bands *= envelope * ((0.1 + 0.9 * org) * (org + (1 - org) * fragments))
        ragged = rp * (1 + 0.4 * (1 - org) * detail[p])
        cdo = _disc(ragged, radius) * (0.55 + 0.45 * org)
        eye = np.flatnonzero(mature & (u[p, 11] < 0.6) & (organisation > 0.7))
        if eye.size:
            cdo[eye] *= 1 - 0.8 * _disc(rp[eye], lerp(1.0, 2.5, u[p[eye], 12]), 2)
        cloud[p] = np.maximum(cloud[p] * (1 - 0.5 * org), np.maximum(cdo, bands))

    # Zonal ITCZ-like band.
    m = np.flatnonzero(kind == 4)
    if m.size:
        dy, dx, _ = offsets(m)
        tilt = np.deg2rad(lerp(-12, 12, u[m, 13]))
        along = dy * _col(np.cos(tilt)) - dx * _col(np.sin(tilt))
        band = _gauss(along, _col(lerp(4.0, 12.0, u[m, 14]))) * np.clip(0.55 + 0.5 * detail[m], 0, 1)
        cloud[m] = np.maximum(cloud[m], band)

    # Frontal or shear-line arc: part of a large circle whose centre lies outside the patch.
    m = np.flatnonzero(kind == 5)
    if m.size:
        big = lerp(30.0, 80.0, u[m, 13])
        ang = lerp(-math.pi, math.pi, u[m, 14])
        ddy = _GRID_Y - _col(cy[m] + big * np.sin(ang))
        ddx = _GRID_X - _col(cx[m] + big * np.cos(ang))
        dist = np.abs(np.sqrt(ddy * ddy + ddx * ddx) - _col(big))
        arc = _gauss(dist, _col(lerp(1.5, 5.0, u[m, 15]))) * np.clip(0.6 + 0.5 * detail[m], 0, 1)
        cloud[m] = np.maximum(cloud[m], arc)

    # Round convective clusters without spiral organisation (hard negatives).
    m = np.flatnonzero(kind == 6)
    if m.size:
        dy, dx, rm = offsets(m)
        rough = 1 + 0.3 * detail[m]
        radius = lerp(4.0, 16.0, u[m, 13])
        blob = _disc(rm * rough, radius) * _col(lerp(0.6, 1.0, u[m, 14]))
        second = np.flatnonzero(u[m, 15] < 0.4)
        if second.size:
            sy = dy[second] - _col(lerp(-20, 20, u[m[second], 16]))
            sx = dx[second] - _col(lerp(-20, 20, u[m[second], 17]))
            blob2 = _disc(np.sqrt(sx * sx + sy * sy) * rough[second], lerp(3.0, 10.0, u[m[second], 18]))
            blob[second] = np.maximum(blob[second], blob2)
        # Outflow debris: ragged fragments around the cluster, with no preferred sense of turning.
        debris = np.clip(texture[m] - 1.0, 0, 1) * _disc(rm, 2.5 * radius, 2)
        cloud[m] = np.maximum(np.maximum(cloud[m], blob), debris)

    # Cloud fraction -> OLR: warm clear scenes vs cold tops, textured.
    clear_olr = _col(lerp(250.0, 290.0, u[:, 19]))
    cold_olr = _col(lerp(90.0, 130.0, u[:, 20]))
    texture *= np.float32(0.12)
    texture += np.float32(1.0)
    top = np.clip(cloud * texture, 0, 1.05, out=texture)
    top *= cold_olr - clear_olr
    top += clear_olr
    detail *= np.float32(2.0)
    top += detail
    return np.clip(top, *OLR_RANGE, out=top)


@dataclass
class CloudSet:
    """An in-memory data set from :func:`make_dataset`.

    Attributes:
        X: OLR patches ``(N, 1, 64, 64)`` float32 in W m^-2.
        y: Labels ``(N,)`` int64 (1: tropical cyclone or precursor).
        kind: Kind names ``(N,)`` (str, from :data:`KINDS`).
        storm: Storm ids ``(N,)`` (``-1`` for negatives).
        year: Year groups ``(N,)``.
        seed: The seed it was made with.
    """

    X: np.ndarray
    y: np.ndarray
    kind: np.ndarray
    storm: np.ndarray
    year: np.ndarray
    seed: int

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: np.ndarray) -> CloudSet:
        """The samples at ``index`` (a copy)."""
        return CloudSet(self.X[index], self.y[index], self.kind[index], self.storm[index], self.year[index], self.seed)


def make_dataset(
    n_pos: int,
    imbalance: float = 20,
    seed: int = 0,
    *,
    per_storm: int = 6,
    n_years: int = 10,
    precursor_fraction: float = 0.5,
    negative_mix: Mapping[str, float] | None = None,
    chunk: int = 256,
    progress: bool = False,
) -> CloudSet:
    """Render a whole data set in memory (vectorised, in chunks).

    Args:
        n_pos: Number of positives (tropical cyclones and precursors).
        imbalance: Negatives per positive.
        seed: Seed; the same seed gives the same data set.
        per_storm: Patches per storm (near-duplicates that must not straddle splits).
        n_years: Number of year groups, for leakage-free splits.
        precursor_fraction: Share of each storm's patches that are weakly organised precursors.
        negative_mix: Shares of the negative kinds (default :data:`DEFAULT_NEGATIVE_MIX`).
        chunk: Samples rendered at once (a few hundred keep the working arrays in the CPU cache;
            memory ~ 200 kB per sample while rendering).
        progress: Show a tqdm bar.

    Returns:
        :class:`CloudSet` with ``X`` ``(N, 1, 64, 64)`` float32, ``N = round(n_pos * (1 + imbalance))``.
    """
    n_total = _sizes(n_pos, imbalance)
    info = sample_info(
        np.arange(n_total),
        n_pos,
        imbalance,
        seed=seed,
        per_storm=per_storm,
        n_years=n_years,
        precursor_fraction=precursor_fraction,
        negative_mix=negative_mix,
    )
    x = np.empty((n_total, 1, PATCH_SIZE, PATCH_SIZE), np.float32)
    starts = range(0, n_total, chunk)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="rendering OLR patches", unit="chunk")
    for a in starts:
        sl = slice(a, min(a + chunk, n_total))
        part = SampleInfo(info.y[sl], info.kind[sl], info.storm[sl], info.stage[sl], info.year[sl])
        x[sl, 0] = render(part, np.arange(sl.start, sl.stop), seed=seed, per_storm=per_storm)
    kinds = np.array(KINDS)[info.kind]
    return CloudSet(x, info.y, kinds, info.storm, info.year, seed)


class CloudStream(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """The data set of :func:`make_dataset`, rendered one sample at a time (constant memory).

    ``stream[i]`` equals ``make_dataset(...).X[i]`` with the same arguments, so a paper-scale
    set (~100k positives, ~2M negatives, ~32 GB as float32) trains without being stored.

    Args:
        n_pos, imbalance, seed, per_storm, n_years, precursor_fraction, negative_mix: As in
            :func:`make_dataset`.
        indices: The samples this dataset exposes (e.g. one split), default all.
        transform: Optional callable applied to the ``(1, 64, 64)`` tensor.

    Items are ``(x, y)``: ``x`` float32 ``(1, 64, 64)`` in W m^-2, ``y`` float32 scalar.
    """

    def __init__(
        self,
        n_pos: int,
        imbalance: float = 20,
        seed: int = 0,
        *,
        per_storm: int = 6,
        n_years: int = 10,
        precursor_fraction: float = 0.5,
        negative_mix: Mapping[str, float] | None = None,
        indices: np.ndarray | Sequence[int] | None = None,
        transform: object | None = None,
    ) -> None:
        self.n_total = _sizes(n_pos, imbalance)
        self.n_pos, self.imbalance, self.seed = int(n_pos), float(imbalance), int(seed)
        self._kw = {
            "seed": seed,
            "per_storm": per_storm,
            "n_years": n_years,
            "precursor_fraction": precursor_fraction,
            "negative_mix": negative_mix,
        }
        self.per_storm = per_storm
        self.indices = np.arange(self.n_total) if indices is None else np.asarray(indices, dtype=np.int64)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.indices)

    def info(self, positions: np.ndarray | Sequence[int] | None = None) -> SampleInfo:
        """Labels, kinds, storms and years of items ``positions`` (default all) without rendering."""
        pos = np.arange(len(self)) if positions is None else np.asarray(positions)
        return sample_info(self.indices[pos], self.n_pos, self.imbalance, **self._kw)  # type: ignore[arg-type]

    def __getitems__(self, positions: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Render a whole batch at once (``DataLoader`` calls this when it exists): vectorised."""
        idx = self.indices[np.asarray(positions, dtype=np.int64)]
        info = sample_info(idx, self.n_pos, self.imbalance, **self._kw)  # type: ignore[arg-type]
        x = torch.from_numpy(render(info, idx, seed=self.seed, per_storm=self.per_storm))[:, None]
        items = []
        for j in range(len(idx)):
            xj = x[j] if self.transform is None else self.transform(x[j])  # type: ignore[operator]
            items.append((xj, torch.tensor(float(info.y[j]))))
        return items

    def __getitem__(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        i = int(self.indices[position])
        info = sample_info([i], self.n_pos, self.imbalance, **self._kw)  # type: ignore[arg-type]
        x = torch.from_numpy(render(info, [i], seed=self.seed, per_storm=self.per_storm))
        if self.transform is not None:
            x = self.transform(x)  # type: ignore[operator]
        return x, torch.tensor(float(info.y[0]))
