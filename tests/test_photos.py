"""geolab.photos: upright photos, EXIF field of view, time and GPS, on photos the tests write."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from geolab.geometry import GroundCamera
from geolab.photos import ExifError, PhotoError, exif_field_of_view, read_photo, vfov_for_orientation
from tests.field_fixtures import vfov_35, write_photo


def _scene(width: int, height: int) -> np.ndarray:
    """An upright test card: red top-left corner, blue bottom edge, so turns are visible."""
    img = np.full((height, width, 3), 200, np.uint8)
    img[: height // 4, : width // 4] = (255, 0, 0)
    img[-height // 8 :] = (0, 0, 255)
    img[:, -3:] = (0, 255, 0)
    return img


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("size", [(90, 60), (48, 64)])  # (width, height): landscape and portrait
def test_read_photo_turns_upright(tmp_path, orientation, size):
    upright = _scene(*size)
    path = write_photo(tmp_path / f"o{orientation}.png", upright, orientation=orientation)
    with Image.open(path) as im:  # what is on disk is turned for 5..8
        assert im.size == (size[::-1] if orientation in (6, 8) else size)
    photo = read_photo(path)
    assert (photo.width, photo.height) == size and photo.orientation == orientation
    np.testing.assert_array_equal(photo.image, upright)  # PNG: lossless


def test_fov_35mm_for_landscape_and_portrait(tmp_path):
    land = read_photo(write_photo(tmp_path / "l.jpg", _scene(400, 300), f35=36))
    port = read_photo(write_photo(tmp_path / "p.jpg", _scene(300, 400), orientation=6, f35=36))
    assert land.fov is not None and port.fov is not None
    assert land.fov.source == port.fov.source == "exif-35mm"
    assert land.fov.vfov_deg == pytest.approx(vfov_35(36, 400, 300), rel=1e-9)
    assert port.fov.vfov_deg == pytest.approx(vfov_35(36, 300, 400), rel=1e-9)
    # the portrait's vertical view is the landscape's horizontal one (GroundCamera as the oracle)
    assert port.fov.vfov_deg == pytest.approx(GroundCamera(400, 300, land.fov.vfov_deg, 1.5, 3.0).hfov_deg, rel=1e-9)
    assert vfov_for_orientation(land.fov.vfov_deg, 300, 400) == pytest.approx(port.fov.vfov_deg, rel=1e-9)
    assert vfov_for_orientation(40.0, 400, 300) == 40.0


def test_fov_sensor_route_turned_resized_and_cross_checked(tmp_path):
    # 6.17 x 4.63 mm sensor, 6.2 mm lens (Canon PowerShot D10), tags for a 2592 x 1944 original
    sensor, focal = (6.17, 4.63), 6.2
    vland = math.degrees(2 * math.atan(4.63 / (2 * focal)))
    vport = math.degrees(2 * math.atan(6.17 / (2 * focal)))
    cases = {
        "land": dict(upright=_scene(324, 243), orientation=1),
        "port": dict(upright=_scene(243, 324), orientation=6),  # stored landscape, shown portrait
    }
    for name, case in cases.items():
        p = write_photo(tmp_path / f"{name}.jpg", case["upright"], orientation=case["orientation"], focal_mm=focal,
                        sensor_mm=sensor, exif_size=(2592, 1944))  # fmt: skip
        fov = read_photo(p).fov
        assert fov is not None and fov.source == "exif-sensor"
        assert fov.vfov_deg == pytest.approx(vland if name == "land" else vport, abs=0.01)
    # software turned the pixels upright, dropped the orientation, kept ExifImageWidth/Height
    p = write_photo(tmp_path / "soft.jpg", _scene(243, 324), focal_mm=focal, sensor_mm=sensor, exif_size=(2592, 1944))
    with Image.open(p) as im:
        fov = exif_field_of_view(im.getexif(), (im.height, im.width))
    assert fov.vfov_deg == pytest.approx(vport, abs=0.01)
    # both routes: 35 mm wins, the sensor route is the cross-check; a disagreement is reported
    f35_ok = round(math.hypot(36, 24) / math.hypot(6.17, 4.63) * focal)
    good = read_photo(write_photo(tmp_path / "both.jpg", _scene(324, 243), f35=f35_ok, focal_mm=focal,
                                  sensor_mm=sensor, exif_size=(2592, 1944))).fov  # fmt: skip
    assert good is not None and good.source == "exif-35mm" and not good.warnings
    assert good.cross_check_deg == pytest.approx(vland, abs=0.01)
    bad = read_photo(write_photo(tmp_path / "bad.jpg", _scene(324, 243), f35=50, focal_mm=focal,
                                 sensor_mm=sensor, exif_size=(2592, 1944))).fov  # fmt: skip
    assert bad is not None and bad.vfov_deg == pytest.approx(vfov_35(50, 324, 243))
    assert any("differ" in w and "bad.jpg" in w for w in bad.warnings)


def test_digital_zoom(tmp_path):
    sensor, focal, zoom = (6.17, 4.63), 6.2, 2.0
    v_zoomed = math.degrees(2 * math.atan(4.63 / (2 * focal * zoom)))
    only_sensor = read_photo(write_photo(tmp_path / "s.jpg", _scene(324, 243), focal_mm=focal, sensor_mm=sensor,
                                         zoom=zoom)).fov  # fmt: skip
    assert only_sensor is not None and only_sensor.vfov_deg == pytest.approx(v_zoomed, abs=0.01)
    f35 = round(math.hypot(36, 24) / math.hypot(6.17, 4.63) * focal)  # without the zoom
    both = read_photo(write_photo(tmp_path / "b.jpg", _scene(324, 243), f35=f35, focal_mm=focal, sensor_mm=sensor,
                                  zoom=zoom)).fov  # fmt: skip
    assert both is not None and both.vfov_deg == pytest.approx(vfov_35(f35 * zoom, 324, 243))
    assert any("excludes the digital zoom" in w for w in both.warnings)
    only35 = read_photo(write_photo(tmp_path / "e.jpg", _scene(324, 243), f35=2 * f35, zoom=zoom)).fov
    assert only35 is not None and only35.vfov_deg == pytest.approx(vfov_35(2 * f35, 324, 243))
    assert any("assumed" in w for w in only35.warnings)


def test_time_and_gps(tmp_path):
    p = write_photo(tmp_path / "t.jpg", _scene(64, 48), time="2019:05:21 10:15:30", offset="+09:00",
                    gps=(38.91234, 139.8321, 4.5))  # fmt: skip
    photo = read_photo(p)
    assert photo.exif_time == "2019-05-21T10:15:30+09:00"
    assert photo.gps is not None
    lat, lon, alt = photo.gps
    assert lat == pytest.approx(38.91234, abs=1e-6) and lon == pytest.approx(139.8321, abs=1e-6) and alt == 4.5
    south = read_photo(write_photo(tmp_path / "s.jpg", _scene(64, 48), time="2020:01:02 03:04:05",
                                   gps=(-33.5, -70.25, -2.0)))  # fmt: skip
    assert south.exif_time == "2020-01-02T03:04:05" and south.gps == pytest.approx((-33.5, -70.25, -2.0))
    bare = read_photo(write_photo(tmp_path / "n.png", _scene(64, 48)))
    assert bare.exif_time is None and bare.gps is None and bare.fov is None
    assert "n.png" in bare.fov_problem and "vfov" in bare.fov_problem


def test_bad_files_name_the_file(tmp_path):
    with pytest.raises(PhotoError, match="missing.jpg.*no such file"):
        read_photo(tmp_path / "missing.jpg")
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8 not a photo")
    with pytest.raises(PhotoError, match="junk.jpg.*re-export"):
        read_photo(junk)
    with Image.open(write_photo(tmp_path / "z.png", _scene(64, 48))) as im, pytest.raises(ExifError, match="vfov"):
        exif_field_of_view(im.getexif(), (48, 64), name="z.png")


def test_from_exif_is_upright(tmp_path):
    p = write_photo(tmp_path / "p.jpg", _scene(300, 400), orientation=6, f35=36)
    cam = GroundCamera.from_exif(p, 1.5, 3.0)
    assert (cam.width, cam.height) == (300, 400)
    assert cam.vfov_deg == pytest.approx(vfov_35(36, 300, 400))
