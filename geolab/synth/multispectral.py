"""Synthetic multispectral satellite scenes with a land-cover map (and optional SAR backscatter).

Stands in for: a cloud-affected Sentinel-2-like tile at about 10 m ground sampling distance,
with its six 10/20 m bands (blue, green, red, near infrared, two short-wave infrared bands) in
surface reflectance (0-1), the land-cover label of every pixel, and, optionally, a
Sentinel-1-like C-band backscatter image (linear sigma0) of the same ground.

How it is made: smooth random fields decide the ground (low ground is water; a moisture field
splits land into vegetation and bare soil; settlements of small rectangular buildings are
urban). Each class gets a typical spectral signature (:data:`SIGNATURES`, close to laboratory
spectra of clear water, green grass, dry loam and concrete), scaled by a smooth brightness
texture. Clouds are a thresholded smooth field, blended in with soft edges; their shadow is the
cloud mask shifted along the sun direction, where the ground keeps its spectral shape but only
a quarter of the light. Gaussian sensor noise is added last. SAR does not see clouds: its
backscatter follows the ground classes, with multiplicative gamma speckle of ``looks`` looks.

Where it breaks down: one signature per class (no phenology, no soil moisture, no mixed
crops), no atmosphere (haze, aerosols), no topography or relief shading, no SAR geometry
(layover, shadow, incidence angle), and buildings as bright blocks instead of roofs, walls
and streets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "BACKSCATTER",
    "BANDS",
    "CLASSES",
    "PALETTE",
    "SIGNATURES",
    "Band",
    "MultispectralScene",
    "band_index",
    "render_scene",
    "speckle",
]

CLASSES: tuple[str, ...] = ("water", "vegetation", "bare soil", "urban", "cloud", "cloud shadow")
"""Land-cover classes; the label of a pixel is its index in this tuple."""

PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 91, 180),  # water
    (46, 139, 60),  # vegetation
    (196, 160, 100),  # bare soil
    (200, 40, 40),  # urban
    (235, 235, 235),  # cloud
    (90, 90, 110),  # cloud shadow
)
"""RGB colour (0-255) of each class for label maps."""


@dataclass(frozen=True)
class Band:
    """One spectral band.

    Attributes:
        name: Short name used in the course (``"red"``, ``"nir"``...).
        centre_um: Centre wavelength in micrometres.
        sentinel2: The Sentinel-2 MSI band it mimics.
        gsd_m: Ground sampling distance of that Sentinel-2 band in metres.
    """

    name: str
    centre_um: float
    sentinel2: str
    gsd_m: float


BANDS: tuple[Band, ...] = (
    Band("blue", 0.490, "B2", 10.0),
    Band("green", 0.560, "B3", 10.0),
    Band("red", 0.665, "B4", 10.0),
    Band("nir", 0.842, "B8", 10.0),
    Band("swir1", 1.610, "B11", 20.0),
    Band("swir2", 2.190, "B12", 20.0),
)
"""The rendered bands, in the order of the band axis."""

# Surface reflectance (0-1) per class and band (blue, green, red, nir, swir1, swir2). Typical
# values of laboratory and field spectra: water absorbs almost all NIR and SWIR; healthy leaves
# absorb red (chlorophyll) and reflect NIR strongly (leaf cell structure), with water-absorption
# dips in the SWIR; dry soil brightens steadily with wavelength; concrete/asphalt is grey and
# flat; clouds are bright and white in the visible and darker in SWIR (ice/water absorption).
SIGNATURES: np.ndarray = np.array(
    [
        [0.060, 0.055, 0.035, 0.020, 0.010, 0.005],  # water
        [0.040, 0.080, 0.040, 0.450, 0.220, 0.100],  # vegetation
        [0.100, 0.140, 0.180, 0.250, 0.320, 0.280],  # bare soil
        [0.120, 0.130, 0.140, 0.170, 0.200, 0.180],  # urban
        [0.650, 0.650, 0.640, 0.620, 0.400, 0.250],  # cloud
    ],
    dtype=np.float64,
)
"""Spectral signature of each ground class and of cloud, shape ``(5, n_bands)``.

Cloud shadow has no signature of its own: it is the shadowed ground's signature dimmed.
"""

SHADOW_FACTOR = 0.25
"""Fraction of the direct light that reaches the ground in a cloud shadow (plus diffuse light)."""
SHADOW_DIFFUSE = 0.01
"""Reflectance added in shadows by diffuse sky light."""

BACKSCATTER: np.ndarray = np.array([0.005, 0.08, 0.03, 0.5], dtype=np.float64)
"""Mean C-band backscatter sigma0 (linear) of water, vegetation, bare soil and urban.

In decibels about -23, -11, -15 and -3 dB: calm water reflects the radar pulse away (specular),
vegetation scatters it in volume, bare soil moderately, and buildings return it by double
bounce off walls and the ground.
"""


@dataclass
class MultispectralScene:
    """One rendered scene.

    Attributes:
        bands: Surface reflectance, float32, shape ``(n_bands, height, width)``, in ``[0, 1]``.
        labels: Land-cover label per pixel (index into :data:`CLASSES`), uint8 ``(height, width)``.
        ground: Label of the ground under clouds and shadows (0-3), uint8 ``(height, width)``.
        band_info: The :class:`Band` of each band-axis entry.
        backscatter: Noise-free SAR sigma0 (linear), float32 ``(height, width)``, or ``None``.
        sar: The same with speckle, or ``None``.
        buildings: Labelled buildings (0 = none, 1..n), int32 ``(height, width)``.
    """

    bands: np.ndarray
    labels: np.ndarray
    ground: np.ndarray
    band_info: tuple[Band, ...]
    backscatter: np.ndarray | None
    sar: np.ndarray | None
    buildings: np.ndarray

    @property
    def wavelengths_um(self) -> np.ndarray:
        """Centre wavelength of every band in micrometres, shape ``(n_bands,)``."""
        return np.array([b.centre_um for b in self.band_info])

    def band(self, name: str) -> np.ndarray:
        """The reflectance image of the band called ``name``, shape ``(height, width)``."""
        return self.bands[band_index(name)]


def band_index(name: str) -> int:
    """Index of the band called ``name`` (``"blue"``, ``"green"``, ``"red"``, ``"nir"``, ``"swir1"``, ``"swir2"``)."""
    names = [b.name for b in BANDS]
    if name not in names:
        raise ValueError(f"unknown band {name!r}; the bands are {names}")
    return names.index(name)


def _field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth random field with zero mean and unit standard deviation."""
    f = ndi.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-12)


def _place_buildings(
    rng: np.random.Generator, land: np.ndarray, n_settlements: int, buildings_per_settlement: int
) -> np.ndarray:
    """Label image of small rectangular buildings (1-3 pixels a side) in clusters on land."""
    height, width = land.shape
    out = np.zeros((height, width), dtype=np.int32)
    land_pixels = np.argwhere(land)
    if len(land_pixels) == 0:
        return out
    spread = max(2.0, min(height, width) / 12)
    count = 0
    for _ in range(n_settlements):
        cy, cx = land_pixels[rng.integers(len(land_pixels))]
        for _ in range(buildings_per_settlement):
            h, w = (int(v) for v in rng.integers(1, 4, size=2))
            y = int(round(cy + rng.normal(0, spread)))
            x = int(round(cx + rng.normal(0, spread)))
            if y < 0 or x < 0 or y + h > height or x + w > width:
                continue
            # keep a one-pixel street between buildings, and buildings on land
            if out[max(0, y - 1) : y + h + 1, max(0, x - 1) : x + w + 1].any() or not land[y : y + h, x : x + w].all():
                continue
            count += 1
            out[y : y + h, x : x + w] = count
    return out


def speckle(intensity: np.ndarray, looks: int, rng: np.random.Generator) -> np.ndarray:
    """Multiply a SAR intensity image by fully developed speckle of ``looks`` looks.

    Each pixel is multiplied by a gamma variable of shape ``looks`` and mean 1 (variance
    ``1 / looks``): an exponential distribution for single-look intensity.

    Args:
        intensity: Noise-free intensity (linear), any shape.
        looks: Number of looks L >= 1.
        rng: Random generator.
    """
    if looks < 1:
        raise ValueError(f"speckle: looks must be >= 1, got {looks}")
    return intensity * rng.gamma(shape=looks, scale=1.0 / looks, size=intensity.shape)


def render_scene(
    size: tuple[int, int] = (64, 64),
    *,
    seed: int = 0,
    water_fraction: float | None = None,
    cloud_cover: float | None = None,
    n_settlements: int = 3,
    buildings_per_settlement: int = 12,
    texture: float = 0.1,
    noise: float = 0.01,
    sar: bool = False,
    looks: int = 1,
) -> MultispectralScene:
    """Render one synthetic multispectral scene and its land-cover map.

    Args:
        size: ``(height, width)`` in pixels (one pixel stands for about 10 m).
        seed: Seed of every random choice; the same seed gives the same scene.
        water_fraction: Fraction of the ground that is water; default random in [0.1, 0.3].
        cloud_cover: Fraction of the scene under cloud; default random in [0, 0.2].
        n_settlements: Clusters of buildings.
        buildings_per_settlement: Buildings tried per cluster (overlapping ones are dropped).
        texture: Relative standard deviation of the smooth brightness variation of the ground.
        noise: Standard deviation of the Gaussian sensor noise, in reflectance units.
        sar: Also render SAR backscatter (noise-free and speckled).
        looks: Looks of the SAR speckle (1 = single look, the noisiest).

    Returns:
        A :class:`MultispectralScene`.
    """
    height, width = (int(v) for v in size)
    if height < 8 or width < 8:
        raise ValueError(f"render_scene: size must be at least (8, 8), got {size}")
    rng = np.random.default_rng(seed)
    shape = (height, width)
    scale = min(height, width)
    if water_fraction is None:
        water_fraction = float(rng.uniform(0.1, 0.3))
    if cloud_cover is None:
        cloud_cover = float(rng.uniform(0.0, 0.2))

    elevation = _field(rng, shape, scale / 6)
    moisture = _field(rng, shape, scale / 10)
    water = elevation < np.quantile(elevation, water_fraction)
    ground = np.where(water, 0, np.where(moisture > -0.2, 1, 2)).astype(np.uint8)
    buildings = _place_buildings(rng, ~water, n_settlements, buildings_per_settlement)
    ground[buildings > 0] = 3

    brightness = 1.0 + texture * _field(rng, shape, 1.5)
    reflectance = SIGNATURES[ground].transpose(2, 0, 1) * brightness[None]

    labels = ground.copy()
    if cloud_cover > 0:
        cloud_field = _field(rng, shape, scale / 8)
        threshold = np.quantile(cloud_field, 1.0 - cloud_cover)
        opacity = np.clip((cloud_field - threshold) / 0.4, 0.0, 1.0)
        cloud = opacity > 0
        angle = rng.uniform(0, 2 * np.pi)
        offset = scale / 10
        dy, dx = int(round(offset * np.sin(angle))), int(round(offset * np.cos(angle)))
        shadow = np.zeros(shape, dtype=bool)
        ys, xs = np.nonzero(cloud)
        ys, xs = ys + dy, xs + dx
        keep = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        shadow[ys[keep], xs[keep]] = True
        shadow &= ~cloud
        reflectance[:, shadow] = reflectance[:, shadow] * SHADOW_FACTOR + SHADOW_DIFFUSE
        cloud_refl = SIGNATURES[4][:, None, None] * (1.0 + 0.05 * _field(rng, shape, 2.0))[None]
        reflectance = (1 - opacity)[None] * reflectance + opacity[None] * cloud_refl
        labels[shadow] = 5
        labels[cloud] = 4

    reflectance = reflectance + rng.normal(0.0, noise, size=reflectance.shape)
    bands = np.clip(reflectance, 0.0, 1.0).astype(np.float32)

    backscatter = sar_image = None
    if sar:
        sigma0 = BACKSCATTER[ground] * (1.0 + 0.5 * texture * _field(rng, shape, 1.5))
        backscatter = np.clip(sigma0, 1e-4, None).astype(np.float32)
        sar_image = speckle(backscatter.astype(np.float64), looks, rng).astype(np.float32)
    return MultispectralScene(
        bands=bands,
        labels=labels,
        ground=ground,
        band_info=BANDS,
        backscatter=backscatter,
        sar=sar_image,
        buildings=buildings,
    )
