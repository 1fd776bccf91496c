"""The field tool: uncertainty bounds, horizon check, cameras CSV, and beach-coverage on mixed EXIF photos."""

from __future__ import annotations

import csv
import hashlib
import math

import numpy as np
import pytest
import torch
from torch import nn

import geolab
from geolab.cli import main
from geolab.coverage import CameraUncertainty, coverage_interval, coverage_table, sea_horizon
from geolab.coverage_cli import COLUMNS, run_beach_coverage
from geolab.geometry import GroundCamera
from geolab.photos import read_cameras, vfov_for_orientation
from tests.field_fixtures import COLOURS, render_view, to_rgb, vfov_35, write_photo

RECT = (-0.6, 0.4, 4.0, 5.0)  # litter rectangle (x0, x1, y0, y1) in metres: 1.0 x 1.0 m
TRUE_AREA = (RECT[1] - RECT[0]) * (RECT[3] - RECT[2])


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _tilt(h: float, bottom: float, vfov: float) -> float:
    return math.degrees(math.atan(h / bottom)) - vfov / 2


# ---------------------------------------------------------------- uncertainty
@pytest.mark.parametrize(
    "wrong",
    [dict(h=0.04), dict(h=-0.04), dict(b=0.15), dict(b=-0.15), dict(v=0.4), dict(v=-0.4), dict(h=0.03, b=-0.1, v=0.3)],
)
def test_bounds_from_the_bottom_distance_contain_the_truth(wrong):
    w, h, vfov, ch, bottom = 640, 480, 40.0, 1.5, 3.0
    labels = render_view(w, h, vfov, ch, _tilt(ch, bottom, vfov), rects=(RECT,))
    stated = GroundCamera(w, h, vfov + wrong.get("v", 0), ch + wrong.get("h", 0), bottom + wrong.get("b", 0))
    sd = CameraUncertainty(camera_height_m=0.05, bottom_distance_m=0.2, vfov_deg=0.5)
    measured = coverage_table(labels, stated, max_distance_m=15)["artificial_litter_m2"]
    bounds = coverage_interval(labels, stated, sd, "bottom", 15, segmentation_rel_error=0.02)  # 2 %: rasterisation
    assert bounds["artificial_litter_m2_low"] <= TRUE_AREA <= bounds["artificial_litter_m2_high"]
    assert bounds["artificial_litter_m2_low"] < measured < bounds["artificial_litter_m2_high"]


@pytest.mark.parametrize("wrong", [dict(r=1.5), dict(r=-1.5), dict(h=0.04), dict(v=-0.4), dict(r=1.0, h=-0.04, v=0.4)])
def test_bounds_from_the_horizon_contain_the_truth_and_are_tighter(wrong):
    w, h, vfov, ch, bottom = 640, 480, 40.0, 1.5, 3.0
    tilt = _tilt(ch, bottom, vfov)
    labels = render_view(w, h, vfov, ch, tilt, rects=(RECT,))
    row, slope, _ = sea_horizon(labels)
    stated = GroundCamera.from_horizon(w, h, vfov + wrong.get("v", 0), ch + wrong.get("h", 0), row + wrong.get("r", 0), slope)
    sd = CameraUncertainty(camera_height_m=0.05, horizon_row_px=2.0, vfov_deg=0.5)
    b = coverage_interval(labels, stated, sd, "horizon", 15, segmentation_rel_error=0.02)
    assert b["artificial_litter_m2_low"] <= TRUE_AREA <= b["artificial_litter_m2_high"]
    # the horizon (2 px) pins the tilt better than a bottom distance known to 0.2 m
    from_bottom = coverage_interval(labels, GroundCamera(w, h, vfov, ch, bottom), CameraUncertainty(0.05, 0.2, 2.0, 0.5),
                                    "bottom", 15, 0.02)  # fmt: skip
    width_h = b["artificial_litter_m2_high"] - b["artificial_litter_m2_low"]
    width_b = from_bottom["artificial_litter_m2_high"] - from_bottom["artificial_litter_m2_low"]
    assert width_h < width_b


def test_segmentation_term_alone_and_zero_uncertainty():
    cam = GroundCamera(320, 240, 40.0, 1.5, 3.0)
    labels = render_view(320, 240, 40.0, 1.5, cam.tilt_deg, rects=(RECT,))
    base = coverage_table(labels, cam, max_distance_m=15)
    none = CameraUncertainty(0, 0, 0, 0)
    b = coverage_interval(labels, cam, none, "bottom", 15, segmentation_rel_error=0.1)
    assert b["litter_m2_low"] == pytest.approx(0.9 * base["litter_m2"]) and b["litter_m2_high"] == pytest.approx(1.1 * base["litter_m2"])
    assert b["beach_m2_low"] == b["beach_m2_high"] == pytest.approx(base["beach_m2"])  # segmentation moves litter into sand
    assert b["coverage_pct_high"] == pytest.approx(1.1 * base["coverage_pct"])
    zero = coverage_interval(labels, cam, none, "bottom", 15)
    assert all(zero[f"{k}_low"] == pytest.approx(base[k]) for k in ("litter_m2", "beach_m2", "coverage_pct"))
    with pytest.raises(ValueError, match="tilt_from"):
        coverage_interval(labels, cam, none, "guess")
    with pytest.raises(ValueError, match="horizon_row_px"):
        CameraUncertainty(horizon_row_px=-1)
    # a bottom distance so uncertain that the camera could look above the horizon: unbounded above
    steep = GroundCamera(320, 240, 40.0, 1.5, 30.0)
    assert math.isinf(coverage_interval(labels, steep, CameraUncertainty(0, 60.0, 0, 0), "bottom", 15)["litter_m2_high"])


def test_sea_horizon_ignores_stray_sky_and_needs_enough_columns():
    labels = render_view(400, 300, 40.0, 1.5, 6.0, 2.0)
    clean = sea_horizon(labels)
    noisy = labels.copy()
    noisy[200:202, 50:60] = 5  # a sky-coloured patch on the sand (e.g. a blue tarp) above ...
    noisy[202:204, 50:60] = 3  # ... something labelled sea
    got = sea_horizon(noisy)
    assert clean is not None and got is not None
    assert got[0] == pytest.approx(clean[0], abs=0.3) and got[1] == pytest.approx(clean[1], abs=1e-3)
    hills = labels.copy()
    hills[:, 30:] = np.where(hills[:, 30:] == 5, 1, hills[:, 30:])  # background hides the horizon in most columns
    assert sea_horizon(hills) is None
    with pytest.raises(ValueError, match="H, W"):
        sea_horizon(np.zeros((2, 3, 4)))


# ---------------------------------------------------------------- cameras CSV
def test_read_cameras_and_its_errors(tmp_path):
    p = tmp_path / "cams.csv"
    p.write_text("photo,camera_height_m,horizon_row,vfov_deg\na.jpg,1.6,120.5,\nb,1.4,,41\n")
    assert read_cameras(p) == {"a.jpg": {"camera_height_m": 1.6, "horizon_row": 120.5}, "b": {"camera_height_m": 1.4, "vfov_deg": 41.0}}
    p.write_text("photo,height\na.jpg,1.5\n")
    with pytest.raises(ValueError, match=r"cams\.csv.*unknown column.*height"):
        read_cameras(p)
    p.write_text("photo,camera_height_m\na.jpg,tall\n")
    with pytest.raises(ValueError, match=r"cams\.csv:2.*camera_height_m.*tall"):
        read_cameras(p)
    p.write_text("photo,camera_height_m\na.jpg,1.5\na.jpg,1.6\n")
    with pytest.raises(ValueError, match="twice"):
        read_cameras(p)
    p.write_text("name,camera_height_m\n")
    with pytest.raises(ValueError, match="'photo' column"):
        read_cameras(p)
    with pytest.raises(ValueError, match="does not exist"):
        read_cameras(tmp_path / "none.csv")


# ---------------------------------------------------------------- end to end
class ColourModel(nn.Module):
    """A 'segmentation model' that knows the fixture colours: nearest colour wins (an oracle)."""

    def __init__(self) -> None:
        super().__init__()
        table = torch.full((8, 3), 5.0)  # classes that never occur: far away colours
        for k, col in COLOURS.items():
            table[k] = torch.tensor(col, dtype=torch.float32) / 255
        self.register_buffer("table", table)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = ((x[:, None] - self.table[None, :, :, None, None]) ** 2).sum(2)
        return -100 * d + 0 * self.dummy


F35 = 36
H_CAM, BOTTOM = 1.5, 3.0


def _season(folder):
    """Four photos of one survey: landscape/portrait, EXIF-turned, no EXIF, rolled with a horizon row."""
    folder.mkdir()
    out = {}
    # 1. landscape JPEG, 35-mm focal length, time, GPS
    v1 = vfov_35(F35, 400, 300)
    out["land"] = (write_photo(folder / "land.jpg", to_rgb(render_view(400, 300, v1, H_CAM, _tilt(H_CAM, BOTTOM, v1), rects=(RECT,))),
                               f35=F35, time="2019:05:21 10:15:30", offset="+09:00", gps=(38.9, 139.8, 3.0)), v1)  # fmt: skip
    # 2. portrait stored sideways (orientation 6), 35-mm focal length
    v2 = vfov_35(F35, 300, 400)
    out["port"] = (write_photo(folder / "port.jpg", to_rgb(render_view(300, 400, v2, H_CAM, _tilt(H_CAM, BOTTOM, v2), rects=(RECT,))),
                               orientation=6, f35=F35), v2)  # fmt: skip
    # 3. small PNG without EXIF: field of view from the cameras CSV
    v3 = 45.0
    out["plain"] = (write_photo(folder / "plain.png", to_rgb(render_view(320, 240, v3, 1.2, _tilt(1.2, 2.5, v3), rects=(RECT,)))), v3)
    # 4. rolled landscape whose tilt comes from its horizon (row and slope in the CSV)
    v4 = vfov_35(F35, 480, 360)
    tilt4, roll4 = 7.0, 2.5
    out["rolled"] = (write_photo(folder / "rolled.jpg", to_rgb(render_view(480, 360, v4, H_CAM, tilt4, roll4, rects=(RECT,))), f35=F35), v4)
    level_row = GroundCamera.from_horizon(480, 360, v4, H_CAM, 100.0).sea_horizon_v()  # any camera: just the formula below
    f = 180 / math.tan(math.radians(v4) / 2)
    from geolab.geometry import sea_horizon_dip_deg

    level_row = 179.5 - f * math.tan(math.radians(tilt4 - sea_horizon_dip_deg(H_CAM)))
    row_centre = 179.5 + (level_row - 179.5) / math.cos(math.radians(roll4))
    cams = folder.parent / "cams.csv"
    cams.write_text(
        "photo,camera_height_m,bottom_distance_m,horizon_row,horizon_slope,vfov_deg\n"
        f"plain.png,1.2,2.5,,,{v3}\n"
        f"rolled,,,{row_centre:.3f},{math.tan(math.radians(roll4)):.6f},\n"
    )
    return out, cams


def test_season_of_mixed_photos_with_an_oracle_model(tmp_path):
    photos, cams = _season(tmp_path / "season")
    paths = [p for p, _ in photos.values()]
    rows, skipped = run_beach_coverage(paths, ColourModel(), camera_height_m=H_CAM, bottom_distance_m=BOTTOM,
                                       cameras=cams, segmentation_rel_error=0.03, progress=False, size=480)  # fmt: skip
    assert not skipped
    by = {r["photo"].split("/")[-1].split(".")[0]: r for r in rows}
    assert (by["port"]["width"], by["port"]["height"], by["port"]["exif_orientation"]) == (300, 400, 6)
    for name, (_, vfov) in photos.items():
        r = by[name]
        assert r["vfov_deg"] == pytest.approx(vfov, abs=1e-6), name
        assert r["max_distance_m"] == 15.0
        assert r["artificial_litter_m2_low"] <= TRUE_AREA <= r["artificial_litter_m2_high"], (name, r["artificial_litter_m2"])
        assert r["artificial_litter_m2"] == pytest.approx(TRUE_AREA, rel=0.06), name  # rasterisation
        assert "sea/sky" not in r["warnings"], (name, r["warnings"])  # every camera agrees with its horizon
        assert abs(r["horizon_offset_px"]) < 3 / min(1.0, 480 / max(r["width"], r["height"])), name
        assert r["segmentation_error_source"] == "option" and r["segmentation_rel_error"] == 0.03
    assert by["land"]["vfov_source"] == by["port"]["vfov_source"] == "exif-35mm"
    assert by["plain"]["vfov_source"] == "cameras-csv" and by["plain"]["camera_height_m"] == 1.2
    assert by["rolled"]["tilt_from"] == "horizon" and by["rolled"]["roll_deg"] == pytest.approx(2.5, abs=1e-4)
    assert by["rolled"]["tilt_deg"] == pytest.approx(7.0, abs=1e-3)
    assert by["land"]["exif_time"] == "2019-05-21T10:15:30+09:00" and by["land"]["gps_lat"] == pytest.approx(38.9)
    assert by["port"]["exif_time"] == "" and math.isnan(by["port"]["gps_lat"])
    # a wrong bottom distance puts the camera's horizon away from the segmented one: warned
    bad, _ = run_beach_coverage([photos["land"][0]], ColourModel(), H_CAM, 2.0, progress=False, size=480)
    assert "sea/sky boundary" in bad[0]["warnings"] and abs(bad[0]["horizon_offset_px"]) > 3
    # one --vfov-deg for a mixed batch means the landscape value; portrait photos get the long side's
    one, _ = run_beach_coverage([photos["land"][0], photos["port"][0]], ColourModel(), H_CAM, BOTTOM, vfov_deg=photos["land"][1],
                                progress=False, size=480)  # fmt: skip
    assert one[1]["vfov_deg"] == pytest.approx(vfov_for_orientation(photos["land"][1], 300, 400))
    assert one[1]["artificial_litter_m2"] == pytest.approx(TRUE_AREA, rel=0.05)


def test_cli_end_to_end_with_a_saved_checkpoint(tmp_path, capsys):
    from geolab.segmentation import build_model, save_model

    photos, cams = _season(tmp_path / "season")
    torch.manual_seed(0)
    ckpt = save_model(tmp_path / "tiny.pt", build_model("unet", num_classes=8, base=4, depth=2), image_size=96,
                      class_weights=[2.0, 1, 1, 1, 2.0, 1, 1, 1], prior_correction=0.5, segmentation_rel_error=0.2)  # fmt: skip
    out = tmp_path / "out" / "season.csv"
    code = main(["beach-coverage", *[str(p) for p, _ in photos.values()], "--model", str(ckpt), "--cameras", str(cams),
                 "--camera-height", "1.5", "--bottom-distance", "3", "--out", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "ground up to 15 m" in captured.err and "4 photo(s) measured, 0 skipped" in captured.out
    rows = _read_csv(out)
    assert list(rows[0]) == COLUMNS and len(rows) == 4
    sha = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    for r in rows:
        assert r["model"] == str(ckpt) and r["model_sha256"] == sha and r["geolab_version"] == geolab.__version__
        assert r["prior_correction"] == "0.5" and r["segmentation_rel_error"] == "0.2"
        assert r["segmentation_error_source"] == "checkpoint" and r["max_distance_m"] == "15"
        for k in ("litter_m2", "beach_m2"):
            assert float(r[f"{k}_low"]) <= float(r[k]) <= float(r[f"{k}_high"])
    port = next(r for r in rows if r["photo"].endswith("port.jpg"))
    assert (port["width"], port["height"], port["mask_width"], port["mask_height"]) == ("300", "400", "72", "96")
    # "all" is only on request, and then says so
    code = main(["beach-coverage", str(photos["land"][0]), "--model", str(ckpt), "--camera-height", "1.5",
                 "--bottom-distance", "3", "--max-distance", "all", "--segmentation-error", "0.1", "--out", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and "all ground" in captured.err
    row = _read_csv(out)[0]
    assert row["max_distance_m"] == "all" and row["segmentation_error_source"] == "option"
    # a photo without camera values is skipped with the fix; a bad cameras file stops with exit code 2
    code = main(["beach-coverage", str(photos["land"][0]), "--model", str(ckpt), "--out", str(out)])
    assert code == 2 and "--camera-height" in capsys.readouterr().out
    (tmp_path / "bad.csv").write_text("photo,tilt\n")
    code = main(["beach-coverage", str(photos["land"][0]), "--model", str(ckpt), "--cameras", str(tmp_path / "bad.csv"),
                 "--out", str(out)])  # fmt: skip
    assert code == 2 and "bad.csv" in capsys.readouterr().err


def test_tilt_and_roll_from_the_segmented_horizon(tmp_path):
    photos, _ = _season(tmp_path / "season")
    rolled, land = photos["rolled"][0], photos["land"][0]
    model = ColourModel()
    # no bottom distance at all: the horizon the model finds is the calibration
    rows, skipped = run_beach_coverage([rolled, land], model, H_CAM, None, progress=False, size=480,
                                       horizon_from_segmentation=True)  # fmt: skip
    assert not skipped
    r, l_ = rows
    assert r["tilt_from"] == l_["tilt_from"] == "segmented-horizon"
    assert r["roll_deg"] == pytest.approx(2.5, abs=0.1) and r["tilt_deg"] == pytest.approx(7.0, abs=0.05)
    assert l_["roll_deg"] == pytest.approx(0.0, abs=0.1) and l_["tilt_deg"] == pytest.approx(_tilt(H_CAM, BOTTOM, photos["land"][1]), abs=0.05)
    for row in rows:
        assert row["artificial_litter_m2_low"] <= TRUE_AREA <= row["artificial_litter_m2_high"]
        assert row["artificial_litter_m2"] == pytest.approx(TRUE_AREA, rel=0.06)
        assert row["horizon_row_sd_px"] >= 1.0  # at least one mask pixel
    # a wrong bottom distance is now the check that fails, and the horizon wins
    rows, _ = run_beach_coverage([land], model, H_CAM, 2.2, progress=False, size=480, horizon_from_segmentation=True)
    assert "horizon of the bottom distance" in rows[0]["warnings"] and rows[0]["horizon_offset_px"] > 3
    assert rows[0]["artificial_litter_m2"] == pytest.approx(TRUE_AREA, rel=0.06)
    # no horizon in view and no bottom distance: skipped with the fix; with one: used, with a warning
    hidden = write_photo(tmp_path / "sand.png", to_rgb(np.full((240, 320), 6)))  # sand only: no horizon
    rows, skipped = run_beach_coverage([hidden], model, H_CAM, vfov_deg=40.0, progress=False, horizon_from_segmentation=True)
    assert not rows and "--bottom-distance" in skipped[0][1]
    rows, _ = run_beach_coverage([hidden], model, H_CAM, BOTTOM, vfov_deg=40.0, progress=False, horizon_from_segmentation=True)
    assert rows[0]["tilt_from"] == "bottom" and "no sea horizon found" in rows[0]["warnings"]


def test_add_parser_registers_the_command(tmp_path):
    import argparse

    from geolab.coverage_cli import add_parser

    parser = argparse.ArgumentParser(prog="x")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["beach-coverage", "a.jpg", "--model", "m.pt", "--max-distance", "all"])
    assert args.max_distance is None and callable(args._run) and args.horizon_from_segmentation is False
    assert parser.parse_args(["beach-coverage", "a.jpg", "--model", "m.pt"]).max_distance == 15.0
    with pytest.raises(SystemExit):
        parser.parse_args(["beach-coverage", "a.jpg", "--model", "m.pt", "--max-distance", "-3"])


def test_the_default_limit_keeps_one_wrong_pixel_at_the_horizon_harmless():
    from geolab.coverage_cli import DEFAULT_MAX_DISTANCE_M

    cam = GroundCamera(640, 480, 41.0, 1.5, 3.0)
    labels = render_view(640, 480, 41.0, 1.5, cam.tilt_deg, rects=(RECT,), shore_m=1e9)  # sand to the horizon
    wrong = labels.copy()
    first_ground_row = int(math.floor(cam.horizon_v)) + 1
    wrong[first_ground_row, 320] = 0  # one sand pixel just below the horizon called litter
    for limit, bound in ((DEFAULT_MAX_DISTANCE_M, 1e-9), (None, 100.0)):
        extra = coverage_table(wrong, cam, max_distance_m=limit)["litter_m2"] - coverage_table(labels, cam, max_distance_m=limit)["litter_m2"]
        if limit is None:
            assert extra > bound * TRUE_AREA  # without a limit that pixel outweighs the real litter by far
        else:
            assert extra <= bound
