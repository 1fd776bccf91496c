"""geolab.synth.beach: determinism, valid ids, exact areas, round trip through the loader."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from geolab.data.beachlitter import BeachLitter, class_frequencies
from geolab.geometry import GroundCamera, polygon_area
from geolab.synth.beach import ID, random_camera, read_meta, render_scene, write_dataset


def test_deterministic_and_valid():
    a = render_scene(5, 96, 72)
    b = render_scene(5, 96, 72)
    c = render_scene(6, 96, 72)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2]["true_area_m2"] == b[2]["true_area_m2"]
    assert not np.array_equal(a[0], c[0])
    image, mask, meta = a
    assert image.shape == (72, 96, 3) and image.dtype == np.uint8
    assert mask.shape == (72, 96) and mask.dtype == np.uint8
    assert mask.min() >= 1 and mask.max() <= 8
    assert set(meta["camera"]) >= {"width", "height", "vfov_deg", "camera_height_m", "bottom_distance_m"}


def test_scenes_hold_every_kind_of_region():
    seen = np.zeros(9, int)
    for s in range(30):
        seen += np.bincount(render_scene(s, 96, 72)[1].ravel(), minlength=9)
    assert (seen[1:] > 0).all(), seen
    share = seen / seen.sum()
    assert 0.002 < share[ID["artificial"]] < 0.05 and 0.002 < share[ID["natural"]] < 0.2
    assert share[ID["sand"]] > 0.4


def test_litter_has_distinct_colour_from_sand():
    image, mask, _ = render_scene(3, 256, 192, n_artificial=10, n_natural=4)
    art = image[mask == ID["artificial"]].astype(float)
    sand = image[mask == ID["sand"]].astype(float)
    nat = image[mask == ID["natural"]].astype(float)
    # litter differs from sand on average: artificial more saturated, natural darker
    sat = lambda px: px.max(1) - px.min(1)  # noqa: E731
    assert sat(art).mean() > sat(sand).mean() or art.mean() > sand.mean() + 20
    assert nat.mean() < sand.mean()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_true_areas_match_pixel_areas(seed):
    cam = GroundCamera(800, 600, 42.0, 1.5, 3.0)
    _, mask, meta = render_scene(seed, camera=cam, n_artificial=12, n_natural=4)
    for cid, name in ((1, "Artificial Litter"), (5, "Natural Litter")):  # the real data's ids and names
        true = meta["true_area_m2"][name]
        objs = [o for o in meta["objects"] if o["class_id"] == cid]
        assert true == pytest.approx(sum(polygon_area(*np.array(o["polygon_m"]).T) for o in objs), rel=1e-3)
        if true > 0:
            assert cam.ground_area(mask == cid) == pytest.approx(true, rel=0.04)


def test_litter_is_fully_visible_and_on_sand():
    cam = GroundCamera(320, 240, 40.0, 1.6, 3.0)
    _, mask, meta = render_scene(11, camera=cam, n_artificial=8, n_natural=3)
    for o in meta["objects"]:
        u, v = cam.ground_to_image(*np.array(o["polygon_m"]).T)
        assert u.min() >= 0 and u.max() <= 319 and v.min() >= 0 and v.max() <= 239


def test_random_camera_puts_horizon_in_frame():
    rng = np.random.default_rng(0)
    for _ in range(20):
        cam = random_camera(rng, 128, 96)
        assert 0.12 * 96 - 1 <= cam.horizon_v <= 0.4 * 96


def test_write_dataset_round_trips_through_loader(tmp_path):
    out = write_dataset(tmp_path, n=6, seed=1, size=(48, 64))  # (height, width)
    assert out == tmp_path / "beachlitter"
    assert sorted(p.name for p in (out / "images").iterdir())[0] == "000001.jpg"
    ds = BeachLitter(tmp_path)
    assert len(ds) == 6
    meta = read_meta(tmp_path)
    assert set(meta) == set(ds.stems)
    for i, stem in enumerate(ds.stems):
        image, mask = ds[i]
        assert image.shape == (3, 48, 64) and mask.dtype == torch.int64
        _, ref_mask, ref_meta = render_scene(meta[stem]["seed"], width=64, height=48)
        np.testing.assert_array_equal(mask.numpy(), ref_mask.astype(np.int64) - 1)  # train id = id - 1
        assert meta[stem]["true_area_m2"] == pytest.approx(ref_meta["true_area_m2"])
        assert isinstance(meta[stem]["ground_camera"], GroundCamera)
    assert class_frequencies(ds).sum() == 6 * 64 * 48
    rows = (out / "synthetic_meta.csv").read_text().splitlines()
    assert rows[0].startswith("stem,seed,width,height,vfov_deg") and len(rows) == 7
    json.loads((out / "synthetic_meta.json").read_text())
    # same seed -> same files
    out2 = write_dataset(tmp_path / "again", n=6, seed=1, size=(48, 64))
    assert (out2 / "maskpngs" / "000003.png").read_bytes() == (out / "maskpngs" / "000003.png").read_bytes()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        render_scene(-1)
    with pytest.raises(ValueError, match="n must be"):
        write_dataset(tmp_path, 0)
    with pytest.raises(FileNotFoundError, match="write_dataset"):
        (tmp_path / "x" / "beachlitter" / "images").mkdir(parents=True)
        (tmp_path / "x" / "beachlitter" / "maskpngs").mkdir()
        read_meta(tmp_path / "x")


def test_ids_are_the_real_data_sets():
    # the ids of the BeachLitter data description (Sugiyama et al. 2022), typed out independently
    assert ID == {"artificial": 1, "background": 2, "living": 3, "sea": 4, "natural": 5, "sky": 6, "sand": 7,
                  "nonliving": 8}  # fmt: skip
