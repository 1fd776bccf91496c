"""Small labelled patches cut from synthetic beach scenes, for first classifiers.

Stands in for hand-labelled crops of beach photos: each patch is a window of a scene from
:func:`geolab.synth.beach.render_scene` whose label is the class covering at least
``min_fraction`` of the window (and its centre pixel). Five coarse classes are kept: sand, sea,
sky, vegetation (the data set's "living") and litter (artificial and natural litter together).
Every patch records the scene it comes from, so training and test patches can be taken from
different scenes (patches of one photo are not independent: they share its light and noise).

Where it breaks down: real litter is far more varied than the generator's shapes and colours,
real vegetation is not confined to the edges of the view, and a window's label ignores the
other classes it contains.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from geolab.synth.beach import ID, render_scene

__all__ = ["PATCH_CLASSES", "PATCH_IDS", "BeachPatches", "beach_patches"]

#: The coarse patch classes, in label order.
PATCH_CLASSES: tuple[str, ...] = ("sand", "sea", "sky", "vegetation", "litter")
#: Dataset ids (see :data:`geolab.synth.beach.ID`) that make up each patch class.
PATCH_IDS: dict[str, tuple[int, ...]] = {
    "sand": (ID["sand"],),
    "sea": (ID["sea"],),
    "sky": (ID["sky"],),
    "vegetation": (ID["living"],),
    "litter": (ID["artificial"], ID["natural"]),
}


@dataclass
class BeachPatches:
    """Patches and their labels.

    Attributes:
        images: uint8 ``(N, H, W, 3)`` RGB patches.
        labels: int64 ``(N,)`` index into :attr:`classes`.
        scenes: int64 ``(N,)`` seed of the scene each patch was cut from.
        corners: int64 ``(N, 2)`` (row, column) of each patch's top-left pixel in its scene.
        classes: class names, in label order.
    """

    images: np.ndarray
    labels: np.ndarray
    scenes: np.ndarray
    corners: np.ndarray
    classes: tuple[str, ...] = PATCH_CLASSES

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> BeachPatches:
        """The patches at ``index`` (an integer or boolean array)."""
        return BeachPatches(self.images[index], self.labels[index], self.scenes[index], self.corners[index],
                            self.classes)

    def split_by_scene(self, fractions: tuple[float, ...], seed: int = 0) -> list[BeachPatches]:
        """Split into parts whose scenes do not overlap (e.g. ``(0.6, 0.2, 0.2)`` for train/val/test).

        Scenes are shuffled with ``seed`` and cut in the given proportions of scenes.
        """
        if not fractions or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
            raise ValueError(f"fractions must be positive and sum to 1, got {fractions}")
        scenes = np.random.default_rng(seed).permutation(np.unique(self.scenes))
        if len(scenes) < len(fractions):
            raise ValueError(f"{len(scenes)} scenes cannot be split into {len(fractions)} parts: render more scenes")
        cuts = np.rint(np.cumsum(fractions)[:-1] * len(scenes)).astype(int)
        cuts = np.clip(cuts, np.arange(1, len(fractions)), len(scenes) - np.arange(len(fractions) - 1, 0, -1))
        return [self.subset(np.isin(self.scenes, part)) for part in np.split(scenes, cuts)]


def beach_patches(
    n_scenes: int,
    size: int | tuple[int, int] = (12, 12),
    *,
    per_scene: int = 6,
    min_fraction: float = 0.5,
    scene_size: tuple[int, int] = (144, 192),
    litter_scale: float = 2.0,
    seed: int = 0,
) -> BeachPatches:
    """Cut labelled patches from ``n_scenes`` synthetic beach scenes.

    Args:
        n_scenes: Number of scenes; scene ``i`` is ``render_scene(seed + i, ...)``.
        size: Patch size ``(height, width)`` in pixels (an int means a square).
        per_scene: At most this many patches of each class from each scene.
        min_fraction: Share of the window the class must cover (0 < min_fraction <= 1).
        scene_size: Scene size ``(height, width)`` in pixels.
        litter_scale: Multiplies every litter size (litter is small; 2 gives enough litter patches).
        seed: Seed of the first scene and of the choice of windows.

    Returns:
        The patches; classes appear in unequal numbers (vegetation is rare).
    """
    h, w = (size, size) if isinstance(size, int) else size
    sh, sw = scene_size
    if n_scenes < 1 or per_scene < 1 or h < 1 or w < 1 or h > sh or w > sw:
        raise ValueError(f"need n_scenes >= 1, per_scene >= 1 and a patch size within the scene, got "
                         f"n_scenes={n_scenes}, per_scene={per_scene}, size={(h, w)}, scene_size={scene_size}")
    if not 0 < min_fraction <= 1:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    rng = np.random.default_rng(seed)
    images, labels, scenes, corners = [], [], [], []
    for i in range(n_scenes):
        image, mask, _ = render_scene(seed + i, width=sw, height=sh, litter_scale=litter_scale)
        for label, name in enumerate(PATCH_CLASSES):
            inside = np.isin(mask, PATCH_IDS[name]).astype(np.float32)
            # share of the class in the window whose top-left corner is (r, c): a box filter of the mask
            share = cv2.boxFilter(inside, -1, (w, h), anchor=(0, 0), normalize=True, borderType=cv2.BORDER_CONSTANT)
            share = share[: sh - h + 1, : sw - w + 1]
            centre = inside[h // 2 : h // 2 + sh - h + 1, w // 2 : w // 2 + sw - w + 1]
            rows, cols = np.nonzero((share >= min_fraction - 1e-6) & (centre > 0))
            if len(rows) == 0:
                continue
            pick = rng.choice(len(rows), size=min(per_scene, len(rows)), replace=False)
            for r, c in zip(rows[pick], cols[pick]):
                images.append(image[r : r + h, c : c + w])
                labels.append(label)
                scenes.append(seed + i)
                corners.append((r, c))
    if not images:
        raise ValueError(f"no window reached min_fraction={min_fraction} in {n_scenes} scenes: lower it or render more")
    return BeachPatches(
        np.stack(images).astype(np.uint8),
        np.array(labels, dtype=np.int64),
        np.array(scenes, dtype=np.int64),
        np.array(corners, dtype=np.int64).reshape(-1, 2),
    )
