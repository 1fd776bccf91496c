"""Patches cut from synthetic beach scenes: labels agree with the scene masks."""

from __future__ import annotations

import numpy as np
import pytest

from geolab.synth.beach import render_scene
from geolab.synth.beach_patches import PATCH_CLASSES, PATCH_IDS, beach_patches


@pytest.fixture(scope="module")
def patches():
    return beach_patches(4, (10, 12), per_scene=3, scene_size=(72, 96), seed=5)


def test_patches_are_crops_whose_label_covers_the_window(patches):
    assert patches.images.shape[1:] == (10, 12, 3) and patches.images.dtype == np.uint8
    assert len(patches) == len(patches.labels) == len(patches.scenes) == len(patches.corners)
    scenes = {s: render_scene(int(s), width=96, height=72, litter_scale=2.0)[:2] for s in np.unique(patches.scenes)}
    for image, label, scene, (r, c) in zip(patches.images, patches.labels, patches.scenes, patches.corners):
        full, mask = scenes[scene]
        assert np.array_equal(image, full[r : r + 10, c : c + 12])
        window = np.isin(mask[r : r + 10, c : c + 12], PATCH_IDS[PATCH_CLASSES[label]])
        assert window.mean() >= 0.5 and window[5, 6]  # counted directly, not with the box filter


def test_at_most_per_scene_of_each_class_and_several_classes(patches):
    pairs, counts = np.unique(np.stack([patches.scenes, patches.labels]), axis=1, return_counts=True)
    assert counts.max() <= 3
    assert len(np.unique(patches.labels)) >= 3


def test_same_seed_same_patches(patches):
    again = beach_patches(4, (10, 12), per_scene=3, scene_size=(72, 96), seed=5)
    assert np.array_equal(again.images, patches.images) and np.array_equal(again.labels, patches.labels)


def test_split_by_scene_keeps_scenes_apart(patches):
    parts = patches.split_by_scene((0.5, 0.25, 0.25), seed=1)
    assert sum(len(p) for p in parts) == len(patches)
    sets = [set(p.scenes.tolist()) for p in parts]
    assert all(s for s in sets) and not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    with pytest.raises(ValueError, match="sum to 1"):
        patches.split_by_scene((0.5, 0.2))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="min_fraction"):
        beach_patches(1, 8, min_fraction=0)
    with pytest.raises(ValueError, match="patch size"):
        beach_patches(1, (200, 8), scene_size=(72, 96))
