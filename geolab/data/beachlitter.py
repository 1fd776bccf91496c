"""The BeachLitter data set (Sugiyama et al. 2022) in its real on-disk format.

The data set (3500 beach photos with pixel labels, SEANOE, doi:10.17882/85472) is for
non-commercial research only, so the course never ships it: you download it yourself (see
:data:`DOWNLOAD_HINT`). :func:`geolab.synth.beach.write_dataset` writes synthetic scenes in the
same format, so this one loader reads both::

    <root>/beachlitter/images/000008.jpg     JPEG photos, 6-digit stems
    <root>/beachlitter/maskpngs/000008.png   palette ("P" mode) PNGs, same stem

A mask pixel's palette *index* is the class id 1..8 (the colours are the PASCAL-VOC colour
map). The loader returns **train ids** = dataset id − 1 (0..7) and :data:`IGNORE_INDEX` (255)
for 0 or any id above 8.

Photos are read upright: their EXIF orientation is applied (:func:`geolab.photos.upright`).
Masks are taken to be drawn on the upright photo, as labelling tools show it; a mask that has
the *stored* (unturned) size of a photo whose EXIF turns it by 90° is turned with the photo.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geolab.constants import IGNORE_INDEX
from geolab.data.base import GeoDataset, split_indices
from geolab.data.fetch import DatasetNotFoundError

__all__ = [
    "ARTIFICIAL",
    "CLASSES",
    "CLASS_TABLE",
    "DATASET_ID",
    "DOWNLOAD_HINT",
    "FRACTIONS",
    "IGNORE_INDEX",
    "LITTER",
    "NATURAL",
    "PALETTE",
    "SAND",
    "TRAIN_ID",
    "BeachLitter",
    "BeachLitterFormatError",
    "class_frequencies",
    "find_real_beachlitter",
    "find_root",
    "is_synthetic",
    "ids_to_train",
    "palette_to_ids",
    "photo_groups",
    "read_image",
    "read_mask",
    "save_mask",
    "split_stems",
    "voc_colormap",
]

#: The class table, in dataset id order: ``(name in the data, short key, is litter)``.
#: Row ``i`` has dataset id ``i + 1`` (the palette index in the mask PNGs), train id ``i`` and
#: the PASCAL-VOC colour of index ``i + 1``. Every other constant below derives from it.
CLASS_TABLE: tuple[tuple[str, str, bool], ...] = (
    ("Artificial Litter", "artificial", True),  # bottles, cans, plastics, wood products
    ("Background", "background", False),  # distant hills, buildings far away
    ("Living", "living", False),  # plants
    ("Sea", "sea", False),
    ("Natural Litter", "natural", True),  # driftwood, seaweed
    ("Sky", "sky", False),
    ("Sand Beach", "sand", False),
    ("Non Living", "nonliving", False),  # installations: fences, blocks, structures
)


def voc_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL-VOC colour map: ``(n, 3)`` uint8, colour of palette index ``i`` in row ``i``.

    Bits 0, 1, 2 of ``i`` set the top bit of red, green and blue, bits 3, 4, 5 the next bit
    down, and so on; so index 1 is dark red ``(128, 0, 0)`` and index 8 is ``(64, 0, 0)``.
    """
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


#: Class names in dataset id order: ``CLASSES[i]`` has dataset id ``i + 1`` and train id ``i``.
CLASSES: tuple[str, ...] = tuple(name for name, _, _ in CLASS_TABLE)

#: Short key -> dataset id (1..8), e.g. ``DATASET_ID["sand"] == 7``.
DATASET_ID: dict[str, int] = {key: i + 1 for i, (_, key, _) in enumerate(CLASS_TABLE)}

#: Short key -> train id (0..7), e.g. ``TRAIN_ID["sand"] == 6``.
TRAIN_ID: dict[str, int] = {key: i for i, (_, key, _) in enumerate(CLASS_TABLE)}

#: RGB colour of each class (same order as :data:`CLASSES`): the PASCAL-VOC colours of ids 1..8.
PALETTE: tuple[tuple[int, int, int], ...] = tuple(
    (int(r), int(g), int(b)) for r, g, b in voc_colormap(len(CLASS_TABLE) + 1)[1:]
)

#: Train ids of the two litter classes and of sand.
ARTIFICIAL: int = TRAIN_ID["artificial"]
NATURAL: int = TRAIN_ID["natural"]
SAND: int = TRAIN_ID["sand"]
LITTER: tuple[int, ...] = tuple(i for i, (_, _, litter) in enumerate(CLASS_TABLE) if litter)

DOWNLOAD_HINT = (
    "Download the BeachLitter dataset (v2022) from SEANOE, https://doi.org/10.17882/85472 "
    "(non-commercial research use only; cite Sugiyama et al. 2022), unpack the archive, and pass "
    "the folder that contains `beachlitter/` (or the `beachlitter/` folder itself) as root. A good "
    "place is geolab.runtime.data_dir(), i.e. {data_dir}/beachlitter/images and "
    "{data_dir}/beachlitter/maskpngs. To try the code without it, write a synthetic copy with "
    "geolab.synth.beach.write_dataset(root, n=100, seed=0)."
)

_IMAGE_EXTS = (".jpg", ".jpeg", ".JPG", ".JPEG")
_MASK_EXTS = (".png", ".PNG")


class BeachLitterFormatError(ValueError):
    """A file of the data set is not in the expected format."""


_LUT = np.full(256, IGNORE_INDEX, dtype=np.int64)
_LUT[1 : len(CLASSES) + 1] = np.arange(len(CLASSES))


def ids_to_train(ids: Any) -> np.ndarray:
    """Dataset ids (1..8) to train ids (0..7); 0 and ids above 8 become 255.

    Args:
        ids: ``(H, W)`` integer array of dataset ids.

    Returns:
        ``(H, W)`` int64 array.
    """
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"ids must be an integer array, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    out = np.full(arr.shape, IGNORE_INDEX, dtype=np.int64)
    ok = (arr >= 0) & (arr < 256)
    out[ok] = _LUT[arr[ok]]
    return out


def palette_to_ids(rgb_mask: Any, unknown: int = 0) -> np.ndarray:
    """Turn an RGB-coloured mask (VOC colours) back into dataset ids 1..8.

    Use it when masks were re-saved as RGB (e.g. by ``cv2.imwrite`` or an image editor).

    Args:
        rgb_mask: ``(H, W, 3)`` uint8 array (or ``(H, W, 4)``: alpha is dropped).
        unknown: Id for colours that are not one of :data:`PALETTE` (0 → ignored by the loader).

    Returns:
        ``(H, W)`` uint8 array of dataset ids.
    """
    arr = np.asarray(rgb_mask)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"rgb_mask must be (H, W, 3), got shape {arr.shape}")
    rgb = arr[..., :3].astype(np.int64)
    code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    out = np.full(code.shape, unknown, dtype=np.uint8)
    for i, (r, g, b) in enumerate(PALETTE):
        out[code == ((r << 16) | (g << 8) | b)] = i + 1
    return out


def save_mask(path: str | os.PathLike[str], dataset_ids: Any) -> None:
    """Write dataset ids as a palette PNG with the VOC colour map (the real format).

    Args:
        path: Output ``.png`` path.
        dataset_ids: ``(H, W)`` integer array with values 0..255 (1..8 for the classes).
    """
    from PIL import Image

    arr = np.asarray(dataset_ids)
    if arr.ndim != 2 or arr.min(initial=0) < 0 or arr.max(initial=0) > 255:
        raise ValueError(f"dataset_ids must be (H, W) with values 0..255, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    im = Image.frombytes("P", (arr.shape[1], arr.shape[0]), arr.tobytes())
    im.putpalette(voc_colormap().tobytes())
    im.save(path)


def read_mask(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a palette PNG mask and return its dataset ids ``(H, W)`` uint8.

    Raises:
        BeachLitterFormatError: The file cannot be read, or is an RGB image rather than a
            palette/grey-level PNG.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("P", "L"):
                # np.array of a "P" image gives the palette indices, i.e. the class ids.
                return np.array(im, dtype=np.uint8)
            if mode in ("I", "I;16", "I;16B", "I;16L"):
                return np.array(im).astype(np.int64).clip(0, 255).astype(np.uint8)
            kind = f"an {mode} image"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BeachLitterFormatError(
            f"{path}: cannot read the mask ({type(exc).__name__}: {exc}). The file is damaged or not a PNG: "
            f"download it again or delete it together with its image."
        ) from exc
    raise BeachLitterFormatError(
        f"{path}: the mask is {kind}, but BeachLitter masks are palette ('P' mode) PNGs whose indices are "
        f"the class ids. It was probably re-saved in colour (e.g. with cv2). Convert it with "
        f"geolab.data.beachlitter.save_mask(path, palette_to_ids(np.array(PIL.Image.open(path).convert('RGB'))))"
    )


#: How to turn stored pixels upright for each EXIF orientation (PIL ``Image.Transpose`` names).
_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
              7: "TRANSVERSE", 8: "ROTATE_90"}  # fmt: skip


def _open_upright(path: Path) -> tuple[np.ndarray, tuple[int, int], int]:
    """``(upright RGB (H, W, 3) uint8, stored (height, width), EXIF orientation)`` of a photo."""
    from PIL import Image, UnidentifiedImageError

    from geolab.photos import TAG_ORIENTATION, upright

    try:
        with Image.open(path) as im:
            im.load()
            stored = (im.height, im.width)
            try:
                orientation = int(im.getexif().get(TAG_ORIENTATION, 1) or 1)
            except (TypeError, ValueError):
                orientation = 1
            return np.array(upright(im).convert("RGB"), dtype=np.uint8), stored, orientation
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BeachLitterFormatError(
            f"{path}: cannot read the image ({type(exc).__name__}: {exc}). The file is damaged or not a JPEG: "
            f"download it again or delete it together with its mask."
        ) from exc


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a photo upright (EXIF orientation applied): ``(H, W, 3)`` uint8 RGB.

    Raises:
        BeachLitterFormatError: The file cannot be read; the message names it.
    """
    return _open_upright(Path(path))[0]


def _turn_mask(ids: np.ndarray, orientation: int) -> np.ndarray:
    """Apply the photo's EXIF turn to a mask drawn on its stored pixels."""
    from PIL import Image

    name = _TRANSPOSE.get(orientation)
    if name is None:
        return ids
    return np.array(Image.fromarray(ids).transpose(getattr(Image.Transpose, name)), dtype=np.uint8)


_DATE_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_]?(0[1-9]|1[0-2])[-_]?(0[1-9]|[12]\d|3[01])(?!\d)")


def photo_groups(image_paths: Sequence[str | os.PathLike[str]], by: str = "auto") -> list[str]:
    """A group label per photo, so that a split keeps each survey (date) in one part.

    Photos of one beach on one day look alike; putting some in training and some in validation
    makes the validation score too optimistic. Labels:

    * ``"name-date"``: a date ``YYYYMMDD`` / ``YYYY-MM-DD`` in the file name (``None`` if absent);
    * ``"exif-date"``: the day of the EXIF ``DateTimeOriginal`` (``None`` if absent);
    * ``"photo"``: every photo its own group (a split by photo);
    * ``"auto"``: the file-name date where there is one, else the EXIF date, else the photo.

    Photos without a date always form their own group (``"photo:<stem>"``).

    Args:
        image_paths: The photos.
        by: ``"auto"``, ``"name-date"``, ``"exif-date"`` or ``"photo"``.

    Returns:
        One label per photo, e.g. ``"2015-06-01"`` or ``"photo:000008"``.
    """
    if by not in ("auto", "name-date", "exif-date", "photo"):
        raise ValueError(f"by must be 'auto', 'name-date', 'exif-date' or 'photo', got {by!r}")
    from PIL import Image

    from geolab.photos import exif_time

    out = []
    for raw in image_paths:
        path = Path(raw)
        label = None
        if by in ("auto", "name-date"):
            m = _DATE_IN_NAME.search(path.stem)
            label = f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None
        if label is None and by in ("auto", "exif-date"):
            try:
                with Image.open(path) as im:
                    when = exif_time(im.getexif())
            except (OSError, SyntaxError, ValueError):
                when = None
            label = when[:10] if when else None
        out.append(label if label is not None else f"photo:{path.stem}")
    return out


def find_root(root: str | os.PathLike[str]) -> Path:
    """Return the ``beachlitter`` folder (holding ``images/`` and ``maskpngs/``) under ``root``.

    ``root`` may be the folder that contains ``beachlitter/`` or that folder itself.

    Raises:
        DatasetNotFoundError: Nothing there; the message says how to download the data set.
    """
    from geolab.runtime import data_dir

    root = Path(root).expanduser()
    hint = DOWNLOAD_HINT.format(data_dir=data_dir(create=False))
    candidates = [root / "beachlitter", root]
    for c in candidates:
        if (c / "images").is_dir() and (c / "maskpngs").is_dir():
            return c
    if not root.exists():
        raise DatasetNotFoundError(f"BeachLitter root {root} does not exist. {hint}")
    for c in candidates:
        has_i, has_m = (c / "images").is_dir(), (c / "maskpngs").is_dir()
        if has_i != has_m:
            missing = "maskpngs" if has_i else "images"
            raise DatasetNotFoundError(
                f"{c} has {'images' if has_i else 'maskpngs'}/ but no {missing}/ folder; the archive seems "
                f"incompletely unpacked. {hint}"
            )
    raise DatasetNotFoundError(f"{root} holds neither beachlitter/images nor images/ + maskpngs/. {hint}")


def is_synthetic(folder: str | os.PathLike[str]) -> bool:
    """Whether a ``beachlitter`` folder is a synthetic copy (``geolab.synth.beach.write_dataset`` marks it)."""
    return (Path(folder) / "synthetic_meta.json").exists()


def find_real_beachlitter(root: str | os.PathLike[str] | None = None) -> Path | None:
    """The real BeachLitter folder under ``root`` (default: :func:`geolab.runtime.data_dir`), or None.

    None when there is no ``beachlitter/images`` + ``maskpngs`` there, or when the folder is a
    synthetic copy, so code that looks for the real data never trains on synthetic scenes by
    accident.
    """
    from geolab.runtime import data_dir

    base = Path(root).expanduser() if root is not None else data_dir(create=False)
    try:
        folder = find_root(base)
    except DatasetNotFoundError:
        return None
    return None if is_synthetic(folder) else folder


#: Default shares ``(train, val, test)`` of BeachLitter: the paper's 20 % test split, and a
#: validation split of 10 % of all photos taken from its 80 % training part.
FRACTIONS: tuple[float, float, float] = (0.7, 0.1, 0.2)


def split_stems(
    stems: Sequence[str],
    split: str,
    fractions: Sequence[float] = FRACTIONS,
    seed: int = 0,
    groups: Sequence[str] | None = None,
) -> list[str]:
    """Deterministic train / val / test split of file stems.

    The stems are sorted, then split by :func:`geolab.data.split_indices` (``seed``,
    ``fractions``). The real data set has no official split file; the test split is the first
    ``round(f_test · n)`` stems of ``numpy.random.default_rng(seed).permutation(n)``, so it does
    not change when the validation share changes. The real file names (6-digit photo numbers)
    carry no site or date; pass ``groups`` (e.g. from :func:`photo_groups`) to keep each survey
    day in one split.

    Args:
        stems: File stems.
        split: ``"all"``, ``"train"``, ``"val"`` or ``"test"``.
        fractions: Shares ``(train, val, test)``.
        seed: Seed of the shuffle.
        groups: Optional group label of each stem (same order as ``stems``).

    Returns:
        Sorted stems of the split.
    """
    if groups is not None and len(groups) != len(stems):
        raise ValueError(f"groups has {len(groups)} labels for {len(stems)} stems")
    order = sorted(range(len(stems)), key=lambda i: stems[i])
    ordered = [stems[i] for i in order]
    labels = None if groups is None else [groups[i] for i in order]
    picked = split_indices(len(ordered), split, fractions=fractions, seed=seed, groups=labels)
    return [ordered[i] for i in picked]


def _listing(folder: Path, exts: tuple[str, ...]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in folder.iterdir():
        if p.is_file() and p.suffix in exts and not p.name.startswith("."):
            out[p.stem] = p
    return out


class BeachLitter(GeoDataset):
    """BeachLitter over ``<root>/beachlitter/images`` + ``maskpngs``, a :class:`~geolab.data.GeoDataset`.

    ``dataset[i]`` is ``(image, mask)``: ``image`` a ``tv_tensors.Image`` uint8 ``(3, H, W)``,
    ``mask`` a ``tv_tensors.Mask`` int64 ``(H, W)`` of train ids 0..7 and 255 (ignore).

    Args:
        root: Folder that holds ``beachlitter/``, or the ``beachlitter`` folder itself.
        split: ``"all"``, ``"train"`` (70 %), ``"val"`` (10 %) or ``"test"`` (20 %), see
            :func:`split_stems`. Choose epochs and thresholds on ``"val"``.
        transforms: Joint transform called as ``transforms(image, mask)`` with tv_tensors
            (e.g. ``torchvision.transforms.v2.Compose``); masks are only ever resampled with
            nearest neighbours by v2.
        size: Optional ``(height, width)`` (or one int for both) to resize every pair to:
            images bilinear with antialiasing, masks nearest.
        seed: Seed of the split.
        fractions: Shares ``(train, val, test)`` of the split.
        strict: If ``False``, images without masks and masks without images are skipped with a
            warning instead of raising.
        group_by: ``None`` (split by photo) or a :func:`photo_groups` rule (``"auto"``,
            ``"name-date"``, ``"exif-date"``) to keep each survey day in one split.
        limit: Keep only the first ``limit`` photos of the split (a quick check; ``None``: all).

    Raises:
        DatasetNotFoundError: ``root`` does not hold the data set.
        BeachLitterFormatError: Unpaired files (with ``strict=True``) or an empty folder.
    """

    classes = CLASSES
    palette = PALETTE
    ignore_index = IGNORE_INDEX

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "all",
        transforms: Callable[..., Any] | None = None,
        size: int | tuple[int, int] | None = None,
        seed: int = 0,
        fractions: Sequence[float] = FRACTIONS,
        strict: bool = True,
        group_by: str | None = None,
        limit: int | None = None,
    ) -> None:
        super().__init__(split)
        self.root = find_root(root)
        self.transforms = transforms
        self.size = (size, size) if isinstance(size, int) else (tuple(size) if size is not None else None)
        images = _listing(self.root / "images", _IMAGE_EXTS)
        masks = _listing(self.root / "maskpngs", _MASK_EXTS)
        no_mask = sorted(set(images) - set(masks))
        no_image = sorted(set(masks) - set(images))
        problems = []
        if no_mask:
            ex = ", ".join(images[s].name for s in no_mask[:5]) + (" ..." if len(no_mask) > 5 else "")
            problems.append(f"{len(no_mask)} image(s) have no mask in {self.root / 'maskpngs'}: {ex}")
        if no_image:
            ex = ", ".join(masks[s].name for s in no_image[:5]) + (" ..." if len(no_image) > 5 else "")
            problems.append(f"{len(no_image)} mask(s) have no image in {self.root / 'images'}: {ex}")
        if problems:
            msg = "; ".join(problems)
            if strict:
                raise BeachLitterFormatError(
                    f"{msg}. Images and masks are paired by file stem (000008.jpg <-> 000008.png): restore or "
                    f"delete the unpaired files, or pass strict=False to skip them."
                )
            warnings.warn(f"{msg}; skipping them (strict=False).", stacklevel=2)
        stems = sorted(set(images) & set(masks))
        if not stems:
            raise BeachLitterFormatError(
                f"{self.root} has no image/mask pairs (.jpg in images/, .png in maskpngs/). "
                + DOWNLOAD_HINT.format(data_dir="<data_dir>")
            )
        groups = None if group_by is None else photo_groups([images[s] for s in stems], group_by)
        self.stems = split_stems(stems, split, fractions=fractions, seed=seed, groups=groups)
        if limit is not None:
            if limit < 0:
                raise ValueError(f"limit must be >= 0 photos or None, got {limit}")
            self.stems = self.stems[:limit]
        self.image_paths = [images[s] for s in self.stems]
        self.mask_paths = [masks[s] for s in self.stems]

    def __len__(self) -> int:
        """Number of photos in the split."""
        return len(self.stems)

    def read_mask(self, index: int) -> np.ndarray:
        """Train ids ``(H, W)`` int64 of one mask, without the image or any transform."""
        return ids_to_train(read_mask(self.mask_paths[index]))

    def read_pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(image (H, W, 3) uint8, train ids (H, W) int64)`` upright, checked, not resized or transformed."""
        img_path, mask_path = self.image_paths[index], self.mask_paths[index]
        image, stored, orientation = _open_upright(img_path)
        ids = read_mask(mask_path)
        if ids.shape != image.shape[:2] and ids.shape == stored:
            ids = _turn_mask(ids, orientation)  # drawn on the stored pixels: turn it with the photo
        if ids.shape != image.shape[:2]:
            extra = ""
            if ids.shape == image.shape[1::-1]:
                extra = " (the sizes are swapped: the mask was turned differently from the photo's EXIF orientation)"
            raise BeachLitterFormatError(
                f"{mask_path} is {ids.shape[1]} x {ids.shape[0]} pixels but its image {img_path.name} is "
                f"{image.shape[1]} x {image.shape[0]}{extra}. Mask and image must have the same size: replace the "
                f"mask with the original one, or resize it with nearest neighbours only "
                f"(PIL: mask.resize(size, Image.NEAREST))."
            )
        return image, ids_to_train(ids)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(image, mask)`` of photo ``index`` of the split, resized and transformed."""
        import torch
        from torchvision import tv_tensors
        from torchvision.transforms.v2 import functional as F

        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        image_np, mask_np = self.read_pair(index)
        image = tv_tensors.Image(torch.from_numpy(image_np).permute(2, 0, 1).contiguous())
        mask = tv_tensors.Mask(torch.from_numpy(mask_np))
        if self.size is not None:
            image = F.resize(image, list(self.size), antialias=True)
            mask = F.resize(mask, list(self.size))  # v2 resizes Mask with nearest neighbours
        if self.transforms is not None:
            image, mask = self.transforms(image, mask)
        return image, mask

    def __repr__(self) -> str:
        return f"BeachLitter(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"


def class_frequencies(dataset: Any, num_classes: int = len(CLASSES)) -> np.ndarray:
    """Pixel count of every train id over a data set (for class-balance plots and loss weights).

    Reads only the masks when ``dataset`` is a :class:`BeachLitter` without transforms/size;
    otherwise iterates ``dataset[i][1]``.

    Args:
        dataset: :class:`BeachLitter` or any sequence of ``(image, mask)`` pairs.
        num_classes: Number of train ids.

    Returns:
        ``(num_classes,)`` int64 counts; ignored pixels (255) are not counted.
    """
    counts = np.zeros(num_classes, dtype=np.int64)
    fast = isinstance(dataset, BeachLitter) and dataset.transforms is None and dataset.size is None
    for i in range(len(dataset)):
        m = dataset.read_mask(i) if fast else np.asarray(dataset[i][1])
        m = m.reshape(-1)
        m = m[(m >= 0) & (m < num_classes)]
        counts += np.bincount(m.astype(np.int64), minlength=num_classes)[:num_classes]
    return counts
