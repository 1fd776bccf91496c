"""Load your own cloud images for the cyclone models: files -> ``(N, 1, 64, 64)`` OLR in W m^-2.

Real storm archives store infrared **brightness temperature** on their own grids, e.g. Digital
Typhoon (512 x 512, HDF5), TCIR (N x 201 x 201 x channels, HDF5, NaNs for missing) or
HURSAT-B1 (301 x 301 NetCDF, IRWIN scaled by 0.01 and offset by 200 K, which xarray decodes).
The course's models expect 64 x 64 patches of outgoing longwave radiation (OLR), so
:func:`load_patches` reads the file, converts brightness temperature to OLR with the
Stefan-Boltzmann law (a first-order stand-in for an OLR retrieval), resamples to 64 x 64 by
area averaging and checks shape, NaNs and physical range, with errors that name the file and
the fix.

Formats: NumPy ``.npz`` (always); NetCDF ``.nc`` via xarray and HDF5 ``.h5``/``.hdf5`` via
h5py, both in the optional extra ``pip install "geolab[formats]"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from geolab.synth.clouds import OLR_RANGE, PATCH_SIZE, olr_from_temperature

__all__ = ["CloudFileError", "load_patches", "resample_patches", "to_olr"]

#: Plausible brightness temperatures (K) and OLR (W m^-2) of Earth scenes.
TB_RANGE_K = (150.0, 340.0)
OLR_PLAUSIBLE = (40.0, 400.0)


class CloudFileError(ValueError):
    """A cloud-image file cannot be used; the message names the file and the fix."""


def to_olr(values: np.ndarray, units: Literal["K", "W m-2"], source: str = "input") -> np.ndarray:
    """Convert brightness temperature (K) to OLR (W m^-2), or check OLR; clip to the course's range.

    Args:
        values: Any shape.
        units: ``"K"`` (brightness temperature) or ``"W m-2"`` (already OLR).
        source: Name used in error messages (e.g. the file).

    Returns:
        float32 OLR, same shape, clipped to :data:`geolab.synth.clouds.OLR_RANGE`.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    lo, hi = TB_RANGE_K if units == "K" else OLR_PLAUSIBLE
    if units not in ("K", "W m-2"):
        raise ValueError(f"units must be 'K' or 'W m-2', got {units!r}")
    if finite.size and (finite.min() < lo or finite.max() > hi):
        other = "W m-2" if units == "K" else "K"
        raise CloudFileError(
            f"{source}: values {finite.min():.1f}..{finite.max():.1f} are not plausible in {units} "
            f"(expected {lo:g}..{hi:g}); pass units={other!r} if the file holds that, or undo its "
            f"scaling (e.g. HURSAT: value * 0.01 + 200 K)"
        )
    olr = olr_from_temperature(v) if units == "K" else v
    return np.clip(olr, *OLR_RANGE).astype(np.float32)


def resample_patches(images: np.ndarray, size: tuple[int, int] = (PATCH_SIZE, PATCH_SIZE)) -> np.ndarray:
    """Resample ``(N, H, W)`` images to ``size`` = (height, width) by area averaging (anti-aliased).

    Uses ``skimage.transform.resize`` (bilinear with Gaussian anti-aliasing when shrinking).
    """
    from skimage.transform import resize

    imgs = np.asarray(images, dtype=np.float64)
    if imgs.shape[1:] == tuple(size):
        return imgs.astype(np.float32)
    out = np.stack([resize(im, size, order=1, anti_aliasing=True, preserve_range=True) for im in imgs])
    return out.astype(np.float32)


def _as_stack(array: np.ndarray, source: str, channel: int | None) -> np.ndarray:
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[None]
    elif a.ndim == 4:
        ch_axis = 1 if a.shape[1] <= 8 and a.shape[-1] > 8 else 3
        if a.shape[ch_axis] != 1 and channel is None:
            raise CloudFileError(
                f"{source}: images have {a.shape[ch_axis]} channels (shape {a.shape}); pass channel=<index> "
                f"of the infrared window channel (TCIR: channel=0 for IR1)"
            )
        a = np.take(a, channel or 0, axis=ch_axis)
    if a.ndim != 3 or min(a.shape[1:]) < 8:
        raise CloudFileError(
            f"{source}: expected images (N, H, W), (N, 1, H, W), (N, H, W, C) or one (H, W) image, got shape "
            f"{np.asarray(array).shape}"
        )
    return a


def _read(path: Path, variable: str | None, label_variable: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            name = variable or next((k for k in ("x", "X", "images", "olr", "tb") if k in z), None)
            if name is None or name not in z:
                raise CloudFileError(f"{path}: no image array {variable or '(x, X, images, olr, tb)'}; it holds {keys}; pass variable=<name>")
            lab = label_variable or next((k for k in ("y", "labels", "label") if k in z), None)
            return np.array(z[name]), (np.array(z[lab]) if lab in z else None)
    if suffix in (".nc", ".nc4", ".netcdf"):
        try:
            import xarray as xr
        except ImportError as err:
            raise ImportError(f"reading {path} needs xarray and a NetCDF backend: pip install \"geolab[formats]\"") from err
        with xr.open_dataset(path, engine="h5netcdf" if _is_hdf5(path) else None) as ds:
            name = variable or next((v for v in ("IRWIN", "irwin", "tb", "olr", "x") if v in ds), None)
            if name is None or name not in ds:
                raise CloudFileError(f"{path}: no image variable {variable or '(IRWIN, tb, olr, x)'}; it holds {list(ds.data_vars)}; pass variable=<name>")
            labels = np.asarray(ds[label_variable].values) if label_variable else None
            return np.asarray(ds[name].values), labels
    if suffix in (".h5", ".hdf5", ".he5"):
        try:
            import h5py
        except ImportError as err:
            raise ImportError(f"reading {path} needs h5py: pip install \"geolab[formats]\"") from err
        with h5py.File(path, "r") as f:
            name = variable or next((v for v in ("matrix", "tb", "olr", "x", "images") if v in f), None)
            if name is None or name not in f:
                raise CloudFileError(f"{path}: no image dataset {variable or '(matrix, tb, olr, x, images)'}; it holds {list(f.keys())}; pass variable=<name>")
            labels = np.asarray(f[label_variable][()]) if label_variable else None
            return np.asarray(f[name][()]), labels
    raise CloudFileError(f"{path}: unknown format {suffix!r}; use .npz, .nc (NetCDF) or .h5/.hdf5 (HDF5)")


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89HDF\r\n\x1a\n"


def load_patches(
    path: str | os.PathLike[str],
    *,
    units: Literal["K", "W m-2"] = "K",
    variable: str | None = None,
    label_variable: str | None = None,
    channel: int | None = None,
    nan: Literal["raise", "fill"] = "raise",
    size: tuple[int, int] = (PATCH_SIZE, PATCH_SIZE),
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read cloud images and return model-ready OLR patches.

    Args:
        path: ``.npz``, ``.nc`` or ``.h5``/``.hdf5`` file.
        units: What the file holds: ``"K"`` brightness temperature or ``"W m-2"`` OLR.
        variable: Name of the image array (default: the first of the usual names present).
        label_variable: Name of the labels (``.npz``: ``y``/``labels`` by default).
        channel: Channel index for multi-channel stacks (TCIR: 0 = IR1).
        nan: ``"raise"`` on missing pixels, or ``"fill"`` them with the patch's median.
        size: Output (height, width); the models expect (64, 64).

    Returns:
        ``(X, y)``: ``X`` float32 ``(N, 1, height, width)`` OLR in W m^-2; ``y`` ``(N,)`` int64 or ``None``.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file; give the path to an .npz, .nc or .h5 file of cloud images")
    raw, labels = _read(p, variable, label_variable)
    stack = _as_stack(raw, str(p), channel).astype(np.float64)
    bad = ~np.isfinite(stack)
    if bad.any():
        if nan == "raise":
            n_img = int(bad.any(axis=(1, 2)).sum())
            raise CloudFileError(f"{p}: {int(bad.sum())} missing (NaN/inf) pixels in {n_img} images; pass nan='fill' to fill them with each image's median, or drop those images")
        for i in np.flatnonzero(bad.any(axis=(1, 2))):
            good = stack[i][~bad[i]]
            if good.size == 0:
                raise CloudFileError(f"{p}: image {i} has no valid pixel; drop it")
            stack[i][bad[i]] = np.median(good)
    olr = np.clip(resample_patches(to_olr(stack, units, str(p)), size), *OLR_RANGE)  # average energy, not temperature
    y = None
    if labels is not None:
        y = np.asarray(labels).reshape(-1).astype(np.int64)
        if len(y) != len(olr):
            raise CloudFileError(f"{p}: {len(y)} labels for {len(olr)} images; they must match one to one")
    return olr[:, None], y
