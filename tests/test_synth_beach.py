"""geolab.synth.beach: determinism, valid ids, exact areas, round trip through the loader."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from geolab.data.beachlitter import BeachLitter, class_frequencies
from geolab.geometry import GroundCamera, polygon_area
from geolab.synth.beach import ID, clip_polygon, litter_area, random_camera, read_meta, render_scene, write_dataset


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


# --- the harder benchmark and the field set ------------------------------------------------


def test_clip_polygon_against_analytic_areas():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    half = clip_polygon(square, [(1.0, 0.0, -0.5)])  # x >= 0.5
    assert polygon_area(*half.T) == pytest.approx(3.0)
    tri = clip_polygon(square, [(-1.0, -1.0, 2.0)])  # x + y <= 2: half of the square
    assert polygon_area(*tri.T) == pytest.approx(2.0)
    assert len(clip_polygon(square, [(1.0, 0.0, -5.0)])) == 0  # nothing left
    # a non-convex L shape cut by a line: 3 unit squares, the line x <= 1 keeps two of them
    ell = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], float)
    assert polygon_area(*clip_polygon(ell, [(-1.0, 0.0, 1.0)]).T) == pytest.approx(2.0)


def test_litter_area_limits_and_overlaps():
    # two unit squares, the second (drawn later) covers a quarter of the first
    meta = {
        "objects": [
            {"class_id": ID["natural"], "polygon_m": [[0, 4], [1, 4], [1, 5], [0, 5]]},
            {"class_id": ID["artificial"], "polygon_m": [[0.5, 4.5], [1.5, 4.5], [1.5, 5.5], [0.5, 5.5]]},
        ],
        "true_area_m2": {},
    }
    full = litter_area(meta, 100.0)
    assert full["Natural Litter"] == pytest.approx(0.75, rel=0.01)
    assert full["Artificial Litter"] == pytest.approx(1.0)
    near = litter_area(meta, 4.5)  # only y <= 4.5: half of the first square, none of the second
    assert near["Natural Litter"] == pytest.approx(0.5, rel=0.01) and near["Artificial Litter"] == pytest.approx(0.0)


def test_hard_scenes_are_deterministic_and_harder():
    a = render_scene(4, 160, 120, hard=True)
    b = render_scene(4, 160, 120, hard=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    kinds, cut, hidden, far = set(), 0, 0, 0
    for s in range(12):
        _, _, meta = render_scene(s, 160, 120, hard=True)
        d_b = meta["camera"]["bottom_distance_m"]
        for o in meta["objects"]:
            kinds.add(o["kind"])
            vis = polygon_area(*np.array(o["visible_polygon_m"]).reshape(-1, 2).T) if o["visible_polygon_m"] else 0.0
            cut += vis < 0.999 * o["area_m2"]
            hidden += o["visible_area_m2"] < vis - 1e-9
            far += np.array(o["polygon_m"])[:, 1].mean() > d_b + 7
        assert sum(meta["true_area_m2"].values()) == pytest.approx(sum(o["visible_area_m2"] for o in meta["objects"]))
    assert {"lumber", "slat", "driftwood", "wrack", "twig"} <= kinds  # wood next to driftwood, a wrack line
    assert cut > 0 and hidden > 0 and far > 0, (cut, hidden, far)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hard_true_masks_match_visible_areas(seed):
    cam = GroundCamera(800, 600, 42.0, 1.5, 3.0)
    _, mask, meta = render_scene(seed, camera=cam, hard=True)
    truth = litter_area(meta, 12.0)
    coverage = {"Artificial Litter": ID["artificial"], "Natural Litter": ID["natural"]}
    v, u = np.mgrid[0:600, 0:800]
    near = cam.image_to_ground(u, v)[1] <= 12.0
    got = sum(cam.ground_area((mask == cid) & near) for cid in coverage.values())
    assert got == pytest.approx(sum(truth.values()), rel=0.04)


def test_field_scene_without_slope_roll_or_height_is_a_flat_scene():
    _, mask, meta = render_scene(3, 400, 300, field={"slope_deg": 0.0, "roll_deg": 0.0, "litter_height": False})
    cam = read_meta_camera(meta)
    truth = sum(litter_area(meta, 15.0).values())
    v, u = np.mgrid[0:300, 0:400]
    litter = np.isin(mask, [ID["artificial"], ID["natural"]]) & (cam.image_to_ground(u, v)[1] <= 15.0)
    assert cam.ground_area(litter) == pytest.approx(truth, rel=0.05)


def test_field_scene_roll_and_horizon():
    from geolab.coverage import sea_horizon

    checked = 0
    for seed in range(8):
        _, mask, meta = render_scene(seed, 320, 240, sea=True, field={"roll_deg": 3.0, "slope_deg": 2.0})
        f = meta["field"]
        assert f["horizon_slope"] == pytest.approx(np.tan(np.radians(3.0)), rel=1e-6)
        found = sea_horizon(mask.astype(np.int64) - 1, min_columns=0.5)
        if found is None:  # hills hide the sea horizon
            continue
        row, slope, _ = found
        assert abs(row - f["horizon_row"]) < 1.5 and abs(slope - f["horizon_slope"]) < 0.01
        # the horizon gives back the true tilt (no dip: the synthetic sea is flat to infinity)
        c = meta["camera"]
        cam = GroundCamera.from_horizon(320, 240, c["vfov_deg"], c["camera_height_m"], row, slope, dip_height_m=0)
        assert cam.tilt_deg == pytest.approx(f["tilt_deg"], abs=0.5) and cam.roll_deg == pytest.approx(3.0, abs=0.3)
        checked += 1
    assert checked >= 2


def test_raised_litter_looks_larger_to_the_flat_model():
    ratios = []
    for s in range(6):
        flat = {"slope_deg": 0.0, "roll_deg": 0.0}
        _, m0, meta0 = render_scene(s, 320, 240, field={**flat, "litter_height": False})
        _, m1, meta1 = render_scene(s, 320, 240, field={**flat, "litter_height": True})
        cam = read_meta_camera(meta0)
        a0 = cam.ground_area(np.isin(m0, [ID["artificial"], ID["natural"]]))
        a1 = cam.ground_area(np.isin(m1, [ID["artificial"], ID["natural"]]))
        t0, t1 = sum(meta0["true_area_m2"].values()), sum(meta1["true_area_m2"].values())
        if t0 > 0 and t1 > 0:
            ratios.append((a1 / t1) / (a0 / t0))
    assert np.median(ratios) > 1.1


def test_field_argument_is_checked():
    with pytest.raises(ValueError, match="slope_deg"):
        render_scene(1, 64, 48, field={"pitch": 3})


def test_write_dataset_passes_hard_and_field(tmp_path):
    write_dataset(tmp_path, n=3, seed=2, size=(48, 64), field=True)
    meta = read_meta(tmp_path)
    for m in meta.values():
        assert "field" in m and m["hard"] and isinstance(m["ground_camera"], GroundCamera)
        assert m["ground_camera"].width == 64 and m["ground_camera"].height == 48


def read_meta_camera(meta):
    c = meta["camera"]
    return GroundCamera(c["width"], c["height"], c["vfov_deg"], c["camera_height_m"], c["bottom_distance_m"])


def test_field_view_without_slope_is_the_ground_camera():
    from geolab.synth.beach_geometry import FieldView

    cam = GroundCamera(320, 240, 40.0, 1.5, 3.0)
    view = FieldView(320, 240, cam.focal_px, 1.5, cam.tilt_deg, slope=0.0)
    np.testing.assert_allclose(view.homography, cam.homography)
    u, v = np.array([10.0, 160.0, 300.0]), np.array([230.0, 200.0, 120.0])
    np.testing.assert_allclose(view.image_to_ground(u, v), cam.image_to_ground(u, v), rtol=1e-9)
    # on a sloping beach the same pixels see farther ground, and project back onto themselves
    steep = FieldView(320, 240, cam.focal_px, 1.5, cam.tilt_deg, slope=np.tan(np.radians(4.0)))
    X, Y = steep.image_to_ground(u, v)
    assert (Y > cam.image_to_ground(u, v)[1]).all()
    np.testing.assert_allclose(np.column_stack(steep.ground_to_image(X, Y)), np.column_stack([u, v]), atol=1e-6)


def test_empty_field_dict_is_a_random_field_scene():
    a = render_scene(2, 96, 72, field={})
    b = render_scene(2, 96, 72, field=True)
    assert "field" in a[2] and a[2]["field"] == b[2]["field"]
    np.testing.assert_array_equal(a[1], b[1])
