"""A tiny BeachLitter copy in the real on-disk format, for the real-data path's tests.

``write_real_format(root)`` writes ``root/beachlitter/images/NNNNNN.jpg`` (camera-style JPEGs:
stored pixels + EXIF orientation, time and a 35-mm focal length; landscape and portrait, several
sizes) and ``root/beachlitter/maskpngs/NNNNNN.png`` (8-bit palette PNGs with the VOC colour map,
indices = dataset ids 1..8). Masks are drawn on the upright photo, except for the photos listed
in ``STORED_MASKS``, whose mask follows the stored (unturned) pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from geolab.data.beachlitter import save_mask
from tests.field_fixtures import write_photo

# train id -> colour: artificial litter red, sea blue, natural litter brown, sky light blue, sand beige
COLOURS = {0: (220, 30, 30), 3: (20, 60, 150), 4: (110, 70, 30), 5: (150, 200, 235), 6: (210, 195, 150)}
#: (stem, upright (height, width), EXIF orientation, survey day)
PHOTOS = [
    ("000008", (72, 96), 1, "2015:06:01"), ("000012", (96, 72), 6, "2015:06:01"), ("000013", (60, 80), 1, "2015:06:01"),
    ("000020", (90, 120), 3, "2016:05:20"), ("000021", (80, 60), 8, "2016:05:20"), ("000022", (72, 96), 1, "2016:05:20"),
    ("000031", (48, 64), 1, "2017:07:11"), ("000032", (96, 72), 6, "2017:07:11"), ("000033", (72, 96), 1, "2017:07:11"),
    ("000040", (72, 96), 1, "2018:04:02"), ("000041", (64, 48), 6, "2018:04:02"), ("000042", (60, 80), 1, "2018:04:02"),
    ("000050", (72, 96), 1, "2019:06:30"), ("000051", (72, 96), 1, "2019:06:30"),
]  # fmt: skip
#: Photos whose mask was drawn on the stored pixels (it has the stored, turned size).
STORED_MASKS = {"000032"}


def scene(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Train ids ``(height, width)``: sky, sea, sand with a few litter rectangles."""
    ids = np.full((height, width), 6, np.int64)
    horizon = int(height * rng.uniform(0.25, 0.4))
    shore = horizon + max(2, int(height * 0.12))
    ids[:horizon], ids[horizon:shore] = 5, 3
    for cls in (0, 4, 0, 4):
        h, w = int(rng.integers(4, max(5, height // 5))), int(rng.integers(4, max(5, width // 4)))
        r, c = int(rng.integers(shore + 1, height - h)), int(rng.integers(0, width - w))
        ids[r : r + h, c : c + w] = cls
    return ids


def to_rgb(ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colours with a little noise, ``(H, W, 3)`` uint8."""
    rgb = np.zeros((*ids.shape, 3), np.float64)
    for k, col in COLOURS.items():
        rgb[ids == k] = col
    return np.clip(rgb + rng.normal(0, 6, rgb.shape), 0, 255).astype(np.uint8)


def write_real_format(root: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write the fixture; return the upright train-id mask of every stem."""
    rng = np.random.default_rng(seed)
    images, masks = root / "beachlitter" / "images", root / "beachlitter" / "maskpngs"
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    truth = {}
    for stem, (h, w), orientation, day in PHOTOS:
        ids = scene(h, w, rng)
        truth[stem] = ids
        write_photo(images / f"{stem}.jpg", to_rgb(ids, rng), orientation=orientation, f35=35,
                    time=f"{day} 10:{int(stem[-2:]):02d}:00")  # fmt: skip
        dataset_ids = (ids + 1).astype(np.uint8)
        if stem in STORED_MASKS:  # the mask follows the stored pixels: turn it back as the camera stored the photo
            undo = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}
            dataset_ids = np.array(Image.fromarray(dataset_ids).transpose(undo[orientation]))
        save_mask(masks / f"{stem}.png", dataset_ids)
    return truth
