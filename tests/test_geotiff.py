"""geolab.data.geotiff on small GeoTIFFs written by the test (skipped without rasterio)."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest
import torch

from geolab.data import geotiff
from geolab.data.geotiff import GeoTiffTiles, MissingExtraError, read_geotiff


def test_missing_rasterio_names_the_extra(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "rasterio" or name.startswith("rasterio."):
            raise ImportError("No module named 'rasterio'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "rasterio", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MissingExtraError, match=r"geolab\[geo\]"):
        geotiff.read_geotiff(tmp_path / "x.tif")


rasterio = pytest.importorskip("rasterio", reason="rasterio (optional extra 'geo') is not installed")


def _write(path, array, transform, crs="EPSG:32654", nodata=None):
    from rasterio.transform import Affine

    count, height, width = array.shape
    with rasterio.open(
        path, "w", driver="GTiff", height=height, width=width, count=count, dtype=array.dtype,
        crs=crs, transform=Affine(*transform), nodata=nodata,
    ) as dst:
        dst.write(array)
        dst.set_band_description(1, "B2")


@pytest.fixture
def tile(tmp_path):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 10000, size=(4, 20, 30), dtype=np.uint16)
    path = tmp_path / "tile.tif"
    _write(path, array, (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0), nodata=0)
    labels = rng.integers(0, 6, size=(1, 20, 30), dtype=np.uint8)
    lpath = tmp_path / "labels.tif"
    _write(lpath, labels, (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0))
    return path, array, lpath, labels


def test_read_geotiff(tile):
    path, array, _, _ = tile
    data, info = read_geotiff(path)
    np.testing.assert_array_equal(data, array)
    assert info.shape == (20, 30) and info.count == 4 and info.dtype == "uint16"
    assert info.crs == "EPSG:32654" and info.resolution == (10.0, 10.0) and info.nodata == 0.0
    assert info.descriptions[0] == "B2"
    part, pinfo = read_geotiff(path, bands=[4, 2], window=(5, 7, 8, 9))
    np.testing.assert_array_equal(part, array[[3, 1], 5:13, 7:16])
    assert pinfo.transform[2] == 500000.0 + 7 * 10 and pinfo.transform[5] == 4000000.0 - 5 * 10
    with pytest.raises(ValueError, match="tile.tif has bands 1..4"):
        read_geotiff(path, bands=[5])
    with pytest.raises(ValueError, match="does not fit"):
        read_geotiff(path, window=(15, 0, 10, 10))


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.tif"):
        read_geotiff(tmp_path / "missing.tif")
    bad = tmp_path / "bad.tif"
    bad.write_text("not a tiff")
    with pytest.raises(ValueError, match="bad.tif could not be read"):
        read_geotiff(bad)


def test_tiles_dataset(tile):
    path, array, lpath, labels = tile
    ds = GeoTiffTiles([path], (8, 10), scale=1e-4)
    assert len(ds) == 2 * 3
    torch.testing.assert_close(ds[4], torch.from_numpy(array[:, 8:16, 10:20].astype(np.float32) * np.float32(1e-4)))
    paired = GeoTiffTiles([path], (8, 8), stride=(6, 11), bands=[1, 2, 3], labels=[lpath])
    image, mask = paired[-1]
    i, row, col = paired.tiles[-1]
    assert image.shape == (3, 8, 8) and mask.dtype == torch.int64
    np.testing.assert_array_equal(mask.numpy(), labels[0, row : row + 8, col : col + 8])
    with pytest.raises(ValueError, match="no 30 x 30 tile"):
        GeoTiffTiles([path], (30, 30))
