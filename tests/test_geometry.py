"""geolab.geometry against analytic results and OpenCV."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from geolab.geometry import ExifError, GroundCamera, polygon_area


@pytest.fixture
def cam() -> GroundCamera:
    return GroundCamera(640, 480, 40.0, 1.5, 3.0)


def test_tilt_and_bottom_edge(cam):
    assert cam.tilt_deg == pytest.approx(math.degrees(math.atan(1.5 / 3.0)) - 20.0)
    X, Y = cam.image_to_ground((cam.width - 1) / 2, cam.height - 0.5)
    assert float(X) == pytest.approx(0.0, abs=1e-9)
    assert float(Y) == pytest.approx(3.0)
    assert cam.focal_px == pytest.approx(240 / math.tan(math.radians(20)))


def test_homography_matches_full_projection(cam):
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(-3, 3, 50), rng.uniform(3, 20, 50)
    u1, v1 = cam.ground_to_image(X, Y)
    u2, v2 = cam.world_to_image(X, Y, 0.0)
    np.testing.assert_allclose(u1, u2, rtol=1e-10)
    np.testing.assert_allclose(v1, v2, rtol=1e-10)
    # independent oracle: pinhole projection written out with angles
    t = math.radians(cam.tilt_deg)
    depth = Y * math.cos(t) + cam.camera_height_m * math.sin(t)
    down = cam.camera_height_m * math.cos(t) - Y * math.sin(t)
    np.testing.assert_allclose(v1, (cam.height - 1) / 2 + cam.focal_px * down / depth, rtol=1e-10)
    np.testing.assert_allclose(u1, (cam.width - 1) / 2 + cam.focal_px * X / depth, rtol=1e-10)


def test_round_trip(cam):
    rng = np.random.default_rng(1)
    X, Y = rng.uniform(-2, 2, 100), rng.uniform(3, 30, 100)
    u, v = cam.ground_to_image(X, Y)
    X2, Y2 = cam.image_to_ground(u, v)
    np.testing.assert_allclose(X2, X, atol=1e-9)
    np.testing.assert_allclose(Y2, Y, rtol=1e-9)


def test_horizon_is_nan(cam):
    area = cam.pixel_area()
    vh = cam.horizon_v
    assert 0 < vh < cam.height
    rows_above = int(math.floor(vh))
    assert np.isnan(area[: rows_above + 1]).all()
    assert np.isfinite(area[rows_above + 1 :]).all() and (area[rows_above + 1 :] > 0).all()
    X, Y = cam.image_to_ground(10.0, vh - 0.01)
    assert np.isnan(X) and np.isnan(Y)
    u, v = cam.ground_to_image(0.0, -5.0)  # behind the camera
    assert np.isnan(u) and np.isnan(v)


@pytest.mark.parametrize("rect", [(-0.5, 0.5, 4.0, 5.0), (-1.0, 0.2, 3.5, 6.0), (0.3, 1.3, 8.0, 9.5)])
def test_ground_rectangle_area_within_1_percent(cam, rect):
    x0, x1, y0, y1 = rect
    u, v = cam.ground_to_image([x0, x1, x1, x0], [y0, y0, y1, y1])
    # rasterise the projected quadrilateral at pixel centres
    from matplotlib.path import Path as MPath

    vv, uu = np.mgrid[0 : cam.height, 0 : cam.width]
    inside = MPath(np.column_stack([u, v])).contains_points(np.column_stack([uu.ravel(), vv.ravel()])).reshape(vv.shape)
    assert cam.ground_area(inside) == pytest.approx((x1 - x0) * (y1 - y0), rel=0.01)


def test_pixel_area_integral_equals_polygon_area(cam):
    # exact footprint of the block of pixels rows 300..479: integrate pixel_area, compare with
    # the shoelace area of the ground quadrilateral under the block's outer edges
    r0 = 300
    area = cam.pixel_area()[r0:].sum()
    u = np.array([-0.5, cam.width - 0.5, cam.width - 0.5, -0.5])
    v = np.array([r0 - 0.5, r0 - 0.5, cam.height - 0.5, cam.height - 0.5])
    X, Y = cam.image_to_ground(u, v)
    assert area == pytest.approx(polygon_area(X, Y), rel=1e-3)


def test_pixel_area_is_jacobian_of_image_to_ground(cam):
    u, v, e = 200.0, 400.0, 1e-3
    X1, Y1 = cam.image_to_ground(u + e, v)
    X0, Y0 = cam.image_to_ground(u - e, v)
    X3, Y3 = cam.image_to_ground(u, v + e)
    X2, Y2 = cam.image_to_ground(u, v - e)
    jac = abs((X1 - X0) * (Y3 - Y2) - (Y1 - Y0) * (X3 - X2)) / (4 * e * e)
    assert cam.pixel_area()[400, 200] == pytest.approx(float(jac), rel=1e-5)


def test_ground_area_shape_error(cam):
    with pytest.raises(ValueError, match="with_size"):
        cam.ground_area(np.ones((10, 10), bool))


def test_with_size_keeps_angles(cam):
    small = cam.with_size(160, 120)
    assert small.tilt_deg == pytest.approx(cam.tilt_deg)
    mask = np.zeros((120, 160), bool)
    mask[100:, 60:100] = True
    big = cv2.resize(mask.astype(np.uint8), (640, 480), interpolation=cv2.INTER_NEAREST).astype(bool)
    assert small.ground_area(mask) == pytest.approx(cam.ground_area(big), rel=0.01)


def test_bad_arguments():
    with pytest.raises(ValueError, match="vfov_deg"):
        GroundCamera(10, 10, 0, 1, 1)
    with pytest.raises(ValueError, match="camera_height_m"):
        GroundCamera(10, 10, 40, -1, 1)
    with pytest.raises(ValueError, match="bottom_distance_m"):
        GroundCamera(10, 10, 40, 1, 0)


def test_from_focal_length():
    cam = GroundCamera.from_focal_length(2592, 1944, 6.2, 4.62, 1.5, 3.0)
    assert cam.vfov_deg == pytest.approx(40.9, abs=0.1)


def _write_exif_jpeg(path, tags: dict[int, object], size=(2592, 1944)) -> None:
    img = Image.new("RGB", size, (200, 190, 150))
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon PowerShot D10"
    sub = exif.get_ifd(0x8769)
    for k, val in tags.items():
        sub[k] = val
    img.save(path, exif=exif)


def test_from_exif_canon_d10(tmp_path):
    # Canon PowerShot D10: 6.2 mm lens, 1/2.3" sensor 6.17 x 4.63 mm, 2592 x 1944 pixels
    from PIL.TiffImagePlugin import IFDRational

    path = tmp_path / "d10.jpg"
    yres = 1944 / (4.628 / 25.4)  # pixels per inch
    _write_exif_jpeg(
        path,
        {0x920A: IFDRational(62, 10), 0xA20E: IFDRational(round(2592 / (6.17 / 25.4) * 1000), 1000),
         0xA20F: IFDRational(round(yres * 1000), 1000), 0xA210: 2, 0xA002: 2592, 0xA003: 1944},
    )  # fmt: skip
    cam = GroundCamera.from_exif(path, 1.5, 3.0)
    assert (cam.width, cam.height) == (2592, 1944)
    assert cam.vfov_deg == pytest.approx(40.9, abs=0.15)
    assert cam.hfov_deg == pytest.approx(52.9, abs=0.3)
    with Image.open(path) as im:  # also from an open PIL image
        assert GroundCamera.from_exif(im, 1.5, 3.0).vfov_deg == pytest.approx(cam.vfov_deg)


def test_from_exif_35mm_equivalent(tmp_path):
    path = tmp_path / "eq.jpg"
    _write_exif_jpeg(path, {0xA405: 35}, size=(400, 300))
    cam = GroundCamera.from_exif(path, 1.5, 3.0)
    # 35 mm equivalent is defined on the 43.27 mm diagonal; a 4:3 frame is 25.96 mm high
    assert cam.vfov_deg == pytest.approx(math.degrees(2 * math.atan(0.6 * math.hypot(36, 24) / 70)), rel=1e-6)


def test_from_exif_missing_tags(tmp_path):
    path = tmp_path / "bare.jpg"
    Image.new("RGB", (64, 48)).save(path)
    with pytest.raises(ExifError, match=r"bare\.jpg.*FocalLength.*vfov"):
        GroundCamera.from_exif(path, 1.5, 3.0)


def test_top_down_against_perspective_transform(cam):
    m, extent = 0.02, (-2.0, 2.0, 3.0, 8.0)
    img = np.zeros((cam.height, cam.width), np.uint8)
    # a ground square drawn into the image
    sq_x, sq_y = np.array([-0.5, 0.5, 0.5, -0.5]), np.array([4.0, 4.0, 5.0, 5.0])
    u, v = cam.ground_to_image(sq_x, sq_y)
    cv2.fillPoly(img, [np.round(np.column_stack([u, v]) * 16).astype(np.int32)], 1, shift=4)
    top = cam.top_down(img, m, extent)
    assert top.shape == (250, 200) and top.dtype == np.uint8
    assert set(np.unique(top)) <= {0, 1}  # nearest for masks
    # where OpenCV maps the image corners of the square: the same matrix as top_down uses
    A = np.array([[m, 0, extent[0] + m / 2], [0, -m, extent[3] - m / 2], [0, 0, 1]])
    M = np.linalg.inv(cam.homography @ A)  # image -> top-down pixel
    corners = cv2.perspectiveTransform(np.column_stack([u, v]).reshape(-1, 1, 2), M)[:, 0]
    expect_j = (sq_x - extent[0]) / m - 0.5
    expect_i = (extent[3] - sq_y) / m - 0.5
    np.testing.assert_allclose(corners[:, 0], expect_j, atol=1e-6)
    np.testing.assert_allclose(corners[:, 1], expect_i, atol=1e-6)
    # the square appears as a 50 x 50 pixel block at those places
    assert int(top.sum()) == pytest.approx(50 * 50, rel=0.08)  # fillPoly includes the boundary
    rows, cols = np.nonzero(top)
    assert rows.min() == pytest.approx(expect_i.min() + 0.5, abs=2) and cols.min() == pytest.approx(expect_j.min() + 0.5, abs=2)


def test_top_down_colour_and_default_extent(cam):
    img = np.full((cam.height, cam.width, 3), 200, np.uint8)
    top = cam.top_down(img, 0.05)
    assert top.ndim == 3 and top.shape[2] == 3
    assert (top == 200).any() and (top == 0).any()
    x0, x1, y0, y1 = cam.ground_extent()
    assert y0 == cam.bottom_distance_m and x0 == -x1 and y1 > y0


def test_polygon_area():
    assert polygon_area([0, 2, 2, 0], [0, 0, 3, 3]) == pytest.approx(6.0)


# ---------------------------------------------------------------- calibration from the sea horizon
def test_sea_horizon_dip_against_the_tangent_to_the_sphere():
    from geolab.geometry import sea_horizon_dip_deg
    from tests.field_fixtures import exact_dip_deg

    for h in (0.5, 1.5, 10.0):
        assert sea_horizon_dip_deg(h) == pytest.approx(exact_dip_deg(h), rel=1e-3)
    assert sea_horizon_dip_deg(0.0) == 0.0
    with pytest.raises(ValueError, match="eye_height_m"):
        sea_horizon_dip_deg(-1.0)


@pytest.mark.parametrize(
    "size,vfov,tilt,roll",
    [((640, 480), 40.0, 8.0, 0.0), ((640, 480), 40.0, 5.0, 3.0), ((480, 640), 51.0, 2.0, -4.0), ((800, 450), 35.0, 10.0, 1.5)],
)
def test_from_horizon_recovers_tilt_and_roll_of_a_rendered_view(size, vfov, tilt, roll):
    from geolab.coverage import sea_horizon
    from tests.field_fixtures import render_view

    w, h = size
    labels = render_view(w, h, vfov, 1.5, tilt, roll)  # ray-traced, sea sphere with refraction
    found = sea_horizon(labels)
    assert found is not None
    row, slope, n = found
    assert n > 0.9 * w
    assert math.degrees(math.atan(slope)) == pytest.approx(roll, abs=0.05)
    cam = GroundCamera.from_horizon(w, h, vfov, 1.5, row, slope)
    assert cam.roll_deg == pytest.approx(roll, abs=0.05)
    assert cam.tilt_deg == pytest.approx(tilt, abs=0.03)  # ~ a tenth of a pixel's angle
    truth = GroundCamera(w, h, vfov, 1.5, 1.5 / math.tan(math.radians(tilt + vfov / 2)))
    assert cam.bottom_distance_m == pytest.approx(truth.bottom_distance_m, rel=2e-3)
    # levelling the rendered view leaves a level horizon at the camera's sea-horizon row
    level = cam.level(labels, fill=255)
    again = sea_horizon(np.where(level == 255, 6, level))
    assert again is not None and abs(again[1]) < 2e-3
    assert again[0] == pytest.approx(cam.sea_horizon_v(), abs=0.5)
    # and the levelled view is the view of a roll-free camera (up to the filled corners)
    flat = render_view(w, h, vfov, 1.5, tilt, 0.0)
    valid = cam.level(np.ones((h, w), np.uint8), fill=0).astype(bool)
    assert (level[valid] == flat[valid]).mean() > 0.995


def test_from_horizon_without_dip_equals_flat_ground_horizon(cam):
    back = GroundCamera.from_horizon(cam.width, cam.height, cam.vfov_deg, cam.camera_height_m, cam.horizon_v, dip_height_m=0)
    assert back.bottom_distance_m == pytest.approx(cam.bottom_distance_m, rel=1e-9)
    assert back.tilt_deg == pytest.approx(cam.tilt_deg, abs=1e-9)
    with_dip = GroundCamera.from_horizon(cam.width, cam.height, cam.vfov_deg, 1.5, cam.sea_horizon_v())
    assert with_dip.tilt_deg == pytest.approx(cam.tilt_deg, abs=1e-9)
    assert cam.sea_horizon_v() > cam.horizon_v  # the sea horizon lies a little lower


def test_from_horizon_errors_and_roll_limits(cam):
    with pytest.raises(ValueError, match="bottom edge"):
        GroundCamera.from_horizon(640, 480, 40.0, 1.5, 700.0)  # horizon far below the frame
    with pytest.raises(ValueError, match="roll_deg"):
        GroundCamera(640, 480, 40.0, 1.5, 3.0, roll_deg=60.0)
    assert cam.with_size(320, 240).roll_deg == 0.0
    rolled = GroundCamera(640, 480, 40.0, 1.5, 3.0, roll_deg=2.0)
    assert rolled.with_size(320, 240).roll_deg == 2.0
    assert cam.level(np.zeros((480, 640), np.uint8)) is not None
    with pytest.raises(ValueError, match="shape"):
        rolled.level(np.zeros((10, 10)))


def test_from_horizon_rejects_impossible_views():
    with pytest.raises(ValueError, match="behind the camera"):
        GroundCamera.from_horizon(640, 480, 40.0, 1.5, -2000.0)  # horizon far above the frame: looking past vertical
    with pytest.raises(ValueError, match="camera_height_m"):
        GroundCamera.from_horizon(640, 480, 40.0, 0.0, 100.0)
    with pytest.raises(ValueError, match="vfov_deg"):
        GroundCamera.from_horizon(640, 480, 0.0, 1.5, 100.0)


def test_pinhole_project_matches_opencv_project_points():
    import cv2

    from geolab.geometry import GroundCamera, pinhole_project

    cam = GroundCamera(640, 480, vfov_deg=41.0, camera_height_m=1.5, bottom_distance_m=3.0)
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(-5, 5, 50), rng.uniform(2, 30, 50), rng.uniform(-1.5, 0.5, 50)])
    u, v = pinhole_project(cam.K, cam.R, pts[:, 0], pts[:, 1], pts[:, 2])
    rvec, _ = cv2.Rodrigues(cam.R)
    ref, _ = cv2.projectPoints(pts.reshape(-1, 1, 3), rvec, np.zeros(3), cam.K, None)
    np.testing.assert_allclose(np.column_stack([u, v]), ref.reshape(-1, 2), rtol=1e-9, atol=1e-6)
    behind = pinhole_project(cam.K, cam.R, 0.0, -5.0, -1.5)
    assert np.isnan(behind[0]) and np.isnan(behind[1])
