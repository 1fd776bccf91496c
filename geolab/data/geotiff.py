"""Your own multi-band GeoTIFF tiles as arrays and as a torch ``Dataset``.

Reading GeoTIFF needs rasterio, an optional extra: ``pip install "geolab[geo]"``. Without it
every function here raises :class:`MissingExtraError` saying so.

* :func:`read_geotiff`: bands (all or chosen, 1-based as in GDAL) and georeferencing of a file
  or of a window of it.
* :class:`GeoTiffTiles`: fixed-size ``(height, width)`` tiles cut from one or more GeoTIFFs,
  optionally paired with a single-band label GeoTIFF of the same grid.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["GeoTiffInfo", "GeoTiffTiles", "MissingExtraError", "read_geotiff", "require_rasterio"]

INSTALL_HINT = 'pip install "geolab[geo]"  (or: pip install rasterio)'


class MissingExtraError(ImportError):
    """An optional dependency of geolab is not installed."""


def require_rasterio() -> Any:
    """Import and return ``rasterio``, or raise :class:`MissingExtraError` naming the extra."""
    try:
        import rasterio
    except ImportError as exc:
        raise MissingExtraError(
            f"Reading GeoTIFF files needs rasterio, which comes with geolab's optional extra 'geo': {INSTALL_HINT}"
        ) from exc
    return rasterio


@dataclass(frozen=True)
class GeoTiffInfo:
    """Georeferencing of a GeoTIFF (or of a window of it).

    Attributes:
        path: The file.
        shape: ``(height, width)`` in pixels of what was read.
        count: Bands in the file.
        dtype: Data type of the bands.
        crs: Coordinate reference system as a string (e.g. ``"EPSG:32654"``), or ``None``.
        transform: Affine pixel-to-map transform ``(a, b, c, d, e, f)``: ``x = a col + b row + c``,
            ``y = d col + e row + f``.
        resolution: ``(y, x)`` pixel size in map units (metres for projected CRSs): the GSD.
        nodata: The no-data value, or ``None``.
        descriptions: Band descriptions (``None`` where unset).
    """

    path: Path
    shape: tuple[int, int]
    count: int
    dtype: str
    crs: str | None
    transform: tuple[float, float, float, float, float, float]
    resolution: tuple[float, float]
    nodata: float | None
    descriptions: tuple[str | None, ...]


def _open(path: Path) -> Any:
    rasterio = require_rasterio()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such GeoTIFF file. Check the path (absolute: {path.resolve()}).")
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise ValueError(
            f"{path} could not be read as a raster ({exc}). Is it a GeoTIFF? Re-export it, e.g. with "
            f"`gdal_translate -of GTiff in out.tif`."
        ) from exc


def read_geotiff(
    path: str | os.PathLike[str],
    bands: Sequence[int] | None = None,
    window: tuple[int, int, int, int] | None = None,
) -> tuple[np.ndarray, GeoTiffInfo]:
    """Read bands of a GeoTIFF.

    Args:
        path: The file.
        bands: 1-based band numbers to read, in the order wanted (default: all).
        window: ``(row, col, height, width)`` in pixels to read only part of the file.

    Returns:
        ``(array, info)``: ``array`` of shape ``(n_bands, height, width)`` in the file's data
        type, and its :class:`GeoTiffInfo` (the transform is that of the window).

    Raises:
        MissingExtraError: rasterio is not installed.
        FileNotFoundError, ValueError: The file is missing, unreadable, or ``bands`` / ``window``
            do not fit it (the message names the file).
    """
    path = Path(path)
    with _open(path) as src:
        indexes = list(bands) if bands is not None else list(range(1, src.count + 1))
        bad = [b for b in indexes if not 1 <= b <= src.count]
        if bad:
            raise ValueError(f"{path} has bands 1..{src.count}; cannot read band(s) {bad} (band numbers are 1-based)")
        rio_window = None
        transform = src.transform
        if window is not None:
            from rasterio.windows import Window

            row, col, height, width = (int(v) for v in window)
            if row < 0 or col < 0 or height < 1 or width < 1 or row + height > src.height or col + width > src.width:
                raise ValueError(
                    f"{path} is {src.height} x {src.width} pixels (height x width); window {window} "
                    f"(row, col, height, width) does not fit inside it"
                )
            rio_window = Window(col, row, width, height)
            transform = src.window_transform(rio_window)
        array = src.read(indexes, window=rio_window)
        info = GeoTiffInfo(
            path=path,
            shape=(int(array.shape[1]), int(array.shape[2])),
            count=int(src.count),
            dtype=str(src.dtypes[0]),
            crs=src.crs.to_string() if src.crs is not None else None,
            transform=tuple(float(v) for v in tuple(transform)[:6]),  # type: ignore[arg-type]
            resolution=(float(abs(transform.e)), float(abs(transform.a))),
            nodata=None if src.nodata is None else float(src.nodata),
            descriptions=tuple(src.descriptions),
        )
    return array, info


class GeoTiffTiles(Dataset[Any]):
    """Fixed-size tiles cut from multi-band GeoTIFFs (and optional label GeoTIFFs).

    ``dataset[i]`` is an image tile, float32 ``(n_bands, height, width)`` (multiplied by
    ``scale``), or ``(image, mask)`` with an int64 ``(height, width)`` mask when ``labels`` are
    given. Tiles that would cross the right or bottom border are left out.

    Args:
        paths: GeoTIFF files.
        tile_size: ``(height, width)`` of every tile in pixels.
        stride: ``(height, width)`` step between tiles (default: ``tile_size``, no overlap).
        bands: 1-based band numbers to read (default: all).
        labels: One single-band label GeoTIFF per file, on the same pixel grid.
        scale: Factor applied to the image values (e.g. ``1e-4`` for Sentinel-2 L2A digital
            numbers to reflectance).
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        tile_size: tuple[int, int],
        *,
        stride: tuple[int, int] | None = None,
        bands: Sequence[int] | None = None,
        labels: Sequence[str | os.PathLike[str]] | None = None,
        scale: float = 1.0,
    ) -> None:
        require_rasterio()
        self.paths = [Path(p) for p in paths]
        self.label_paths = [Path(p) for p in labels] if labels is not None else None
        if self.label_paths is not None and len(self.label_paths) != len(self.paths):
            raise ValueError(f"GeoTiffTiles: {len(self.paths)} image files but {len(self.label_paths)} label files")
        self.tile_size = (int(tile_size[0]), int(tile_size[1]))
        self.stride = self.tile_size if stride is None else (int(stride[0]), int(stride[1]))
        if min(self.tile_size) < 1 or min(self.stride) < 1:
            raise ValueError(f"GeoTiffTiles: tile_size and stride must be positive, got {tile_size}, {stride}")
        self.bands = list(bands) if bands is not None else None
        self.scale = float(scale)
        self.tiles: list[tuple[int, int, int]] = []
        th, tw = self.tile_size
        for i, path in enumerate(self.paths):
            with _open(path) as src:
                height, width = src.height, src.width
            if self.label_paths is not None:
                with _open(self.label_paths[i]) as lab:
                    if (lab.height, lab.width) != (height, width):
                        raise ValueError(
                            f"{self.label_paths[i]} is {lab.height} x {lab.width} pixels but its image {path} is "
                            f"{height} x {width}: labels must be on the same pixel grid"
                        )
            for row in range(0, height - th + 1, self.stride[0]):
                for col in range(0, width - tw + 1, self.stride[1]):
                    self.tiles.append((i, row, col))
        if not self.tiles:
            raise ValueError(f"GeoTiffTiles: no {th} x {tw} tile fits in {[str(p) for p in self.paths]}")

    def __len__(self) -> int:
        return len(self.tiles)

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} tiles")
        i, row, col = self.tiles[index]
        window = (row, col, *self.tile_size)
        array, _ = read_geotiff(self.paths[i], self.bands, window)
        image = torch.from_numpy(array.astype(np.float32) * np.float32(self.scale))
        if self.label_paths is None:
            return image
        mask, _ = read_geotiff(self.label_paths[i], [1], window)
        return image, torch.from_numpy(mask[0].astype(np.int64))
