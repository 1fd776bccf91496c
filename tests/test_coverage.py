"""geolab.coverage and the `geolab beach-coverage` command."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from PIL import Image

from geolab.cli import build_parser, main
from geolab.coverage import coverage_table
from geolab.coverage_cli import COLUMNS, DEFAULT_MAX_DISTANCE_M, run_beach_coverage
from geolab.geometry import GroundCamera
from geolab.synth.beach import render_scene


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from geolab.segmentation import build_model, save_model

    torch.manual_seed(0)
    model = build_model("unet", num_classes=8, base=4, depth=2)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model(path, model, image_size=64)
    return path


def test_coverage_table_against_analytic_areas():
    cam = GroundCamera(400, 300, 40.0, 1.5, 3.0)
    mask = np.full((300, 400), 6, np.int64)  # sand (train id 6)
    mask[:100] = 5  # sky
    mask[250:, 100:200] = 0  # artificial litter
    mask[200:220, 300:] = 4  # natural litter
    mask[0, 0] = 255
    t = coverage_table(mask, cam)
    area = np.nan_to_num(cam.pixel_area())
    assert t["artificial_litter_m2"] == pytest.approx(area[250:, 100:200].sum())
    assert t["natural_litter_m2"] == pytest.approx(area[200:220, 300:].sum())
    assert t["litter_m2"] == pytest.approx(t["artificial_litter_m2"] + t["natural_litter_m2"])
    assert t["beach_m2"] == pytest.approx(t["litter_m2"] + t["sand_beach_m2"])
    assert t["coverage_pct"] == pytest.approx(100 * t["litter_m2"] / t["beach_m2"])
    assert t["sky_m2"] == pytest.approx(area[:100].sum())  # above the horizon: 0 except below it
    # a torch mask works too; a wrong size is refused
    assert coverage_table(torch.from_numpy(mask), cam)["litter_m2"] == pytest.approx(t["litter_m2"])
    with pytest.raises(ValueError, match="with_size"):
        coverage_table(mask[:10], cam)
    assert math.isnan(coverage_table(np.full((300, 400), 5), cam)["coverage_pct"])
    near = coverage_table(mask, cam, max_distance_m=6.0)
    _, Y = cam.image_to_ground(*np.meshgrid(np.arange(400), np.arange(300)))
    assert near["sand_beach_m2"] == pytest.approx(np.nan_to_num(cam.pixel_area())[(mask == 6) & (Y <= 6.0)].sum())
    assert near["sand_beach_m2"] < t["sand_beach_m2"]


def test_coverage_of_synthetic_truth_matches_polygons():
    cam = GroundCamera(640, 480, 40.0, 1.5, 3.0)
    _, mask, meta = render_scene(4, camera=cam, n_artificial=10, n_natural=3)
    t = coverage_table(mask.astype(np.int64) - 1, cam)
    assert t["artificial_litter_m2"] == pytest.approx(meta["true_area_m2"]["Artificial Litter"], rel=0.05)
    assert t["natural_litter_m2"] == pytest.approx(meta["true_area_m2"]["Natural Litter"], rel=0.05)


def _photos(tmp_path):
    paths = []
    for s in range(2):
        image, _, _ = render_scene(s, 96, 72)
        p = tmp_path / f"beach{s}.jpg"
        Image.fromarray(image).save(p)
        paths.append(p)
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"\xff\xd8 definitely not a photo")
    return paths, bad


def test_cli_two_photos_and_a_corrupt_one(tmp_path, model_path, capsys):
    (p0, p1), bad = _photos(tmp_path)
    out = tmp_path / "res" / "results.csv"
    code = main(["beach-coverage", str(p0), str(bad), str(p1), "--model", str(model_path), "--camera-height", "1.5",
                 "--bottom-distance", "3", "--vfov-deg", "40", "--out", str(out), "--overlays", str(tmp_path / "ov"),
                 "--max-distance", "25"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1  # measured, but something was skipped
    assert "corrupt.jpg" in captured.err and "2 photo(s) measured, 1 skipped" in captured.out
    rows = _read_csv(out)
    assert len(rows) == 2 and list(rows[0]) == COLUMNS
    assert [r["photo"] for r in rows] == [str(p0), str(p1)]
    assert sorted(q.name for q in (tmp_path / "ov").iterdir()) == ["beach0_overlay.png", "beach1_overlay.png"]
    # the CSV areas are coverage_table of the model's prediction
    from geolab.segmentation import load_model, predict_masks

    model = load_model(model_path)
    image = np.array(Image.open(p0).convert("RGB").resize((64, 48), Image.BILINEAR))  # image_size=64 in the model
    mask = predict_masks(model, image).numpy()
    expect = coverage_table(mask, GroundCamera(64, 48, 40.0, 1.5, 3.0), max_distance_m=25.0)
    for key in ("artificial_litter_m2", "sand_beach_m2", "litter_m2", "beach_m2"):
        assert float(rows[0][key]) == pytest.approx(expect[key], rel=1e-4, abs=1e-9)


def test_run_without_exif_skips_with_the_fix(tmp_path, model_path):
    (p0, _), _ = _photos(tmp_path)
    rows, skipped = run_beach_coverage([p0], model_path, 1.5, 3.0, vfov_deg=None, progress=False)
    assert rows == [] and len(skipped) == 1 and "vfov" in skipped[0][1]


def test_run_reads_exif_and_resizes(tmp_path, model_path):
    big = Image.fromarray(render_scene(2, 256, 192)[0])
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 35
    p = tmp_path / "exif.jpg"
    big.save(p, exif=exif)
    rows, skipped = run_beach_coverage([p], model_path, 1.5, 3.0, progress=False)  # size 64 from the checkpoint
    assert not skipped and rows[0]["mask_width"] == 64 and rows[0]["mask_height"] == 48
    assert rows[0]["vfov_deg"] == pytest.approx(GroundCamera.from_exif(p, 1.5, 3.0).vfov_deg)


def test_cli_missing_model_and_parser(tmp_path, capsys):
    (p0, _), _ = _photos(tmp_path)
    code = main(["beach-coverage", str(p0), "--model", str(tmp_path / "none.pt"), "--camera-height", "1.5",
                 "--bottom-distance", "3", "--vfov-deg", "40", "--out", str(tmp_path / "r.csv")])  # fmt: skip
    assert code == 2 and "none.pt" in capsys.readouterr().err
    assert "beach-coverage" in build_parser().format_help()


def test_prior_correction_uses_the_saved_class_weights(tmp_path, model_path, capsys):
    from geolab.segmentation import build_model, load_model, predict_masks, prior_bias, save_model

    (p0, _), _ = _photos(tmp_path)
    weights = [5.0, 1.0, 2.0, 1.0, 5.0, 0.5, 0.5, 2.0]
    torch.manual_seed(0)
    weighted = save_model(tmp_path / "weighted.pt", build_model("unet", num_classes=8, base=4, depth=2),
                          image_size=64, class_weights=weights, prior_correction=0.5)  # fmt: skip
    cam = dict(camera_height_m=1.5, bottom_distance_m=3.0, vfov_deg=40.0, progress=False)
    image = np.array(Image.open(p0).convert("RGB").resize((64, 48), Image.BILINEAR))
    model = load_model(weighted)
    for strength in (None, 0.0, 1.0):  # None: the checkpoint's 0.5
        rows, _ = run_beach_coverage([p0], weighted, prior_correction=strength, **cam)
        s = 0.5 if strength is None else strength
        mask = predict_masks(model, image, class_bias=prior_bias(weights, s)).numpy()
        expect = coverage_table(mask, GroundCamera(64, 48, 40.0, 1.5, 3.0), max_distance_m=DEFAULT_MAX_DISTANCE_M)
        assert rows[0]["max_distance_m"] == DEFAULT_MAX_DISTANCE_M  # the safe default
        assert rows[0]["sand_beach_m2"] == pytest.approx(expect["sand_beach_m2"], rel=1e-6, abs=1e-12)
    # a checkpoint without class weights cannot be corrected: the error names the file and the fix
    with pytest.raises(ValueError, match=r"tiny\.pt.*class_weights"):
        run_beach_coverage([p0], model_path, prior_correction=0.5, **cam)
    code = main(["beach-coverage", str(p0), "--model", str(model_path), "--camera-height", "1.5", "--bottom-distance",
                 "3", "--vfov-deg", "40", "--prior-correction", "0.5", "--out", str(tmp_path / "r.csv")])  # fmt: skip
    assert code == 2 and "class weights" in capsys.readouterr().err
