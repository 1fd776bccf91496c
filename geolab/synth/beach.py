"""Synthetic BeachLitter-like scenes rendered through a pinhole camera over flat ground.

Every scene is built in metres on the ground plane and seen through a
:class:`geolab.geometry.GroundCamera`, so the true ground area of each piece of litter is
known exactly (it is the polygon's area), while its image shows the perspective
foreshortening of a real beach photo: litter near the camera is big, far litter is small and
squashed. The masks use the real data set's ids, read from the one class table
:data:`geolab.data.beachlitter.CLASS_TABLE` (``ID`` here is its ``DATASET_ID``). What the
generator draws for each class:

* artificial litter: bottles, cans, fragments, floats: small, bright, hard-edged;
* background: hills or land at the horizon; living: plants at the edges of the view;
* sea: sea with waves and foam beyond the shore; sky: sky with clouds;
* natural litter: driftwood and seaweed, elongated, brown or dark;
* sand beach: textured sand, pebbles, wet sand near the water;
* non living: concrete blocks and fences.

By default litter pieces never overlap each other or the standing objects (plants, blocks,
fences) and lie wholly inside the frame, so the class areas in ``meta["true_area_m2"]`` are exact.
``hard=True`` makes the scenes more like a real beach: artificial wood (lumber, pallet slats,
artificial litter) lies next to driftwood (natural litter) in the same colours, a wrack line of
small natural debris follows the high-water mark, pieces overlap and are cut by the frame edge,
and some lie in the far field near the shore. The truth is then the *visible* ground area of each
piece: its polygon clipped to the frame (exact) minus what later pieces cover (measured on a fine
ground grid, a few tenths of a per cent of the overlap), see :func:`litter_area`.

``field=True`` renders a "field" scene that the flat-ground camera model does not describe: the
beach falls away towards the sea (slope 2–8°), the camera is rolled (±4°) and every piece of
litter has a height. ``meta["camera"]`` is still the flat camera a surveyor would use (measured
camera height, taped bottom-edge distance along the ground, field of view, no roll), so measuring
a field scene with it shows the method's own geometric error.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from geolab.data.beachlitter import ARTIFICIAL, CLASSES, DATASET_ID, NATURAL, find_root, save_mask
from geolab.geometry import GroundCamera, polygon_area
from geolab.synth.beach_geometry import (
    FieldView,
    clip_polygon,
    frame_halfplanes,
    litter_area,
    litter_outline,
    litter_thickness,
    rotate,
    visible_areas,
)

__all__ = ["ID", "clip_polygon", "litter_area", "random_camera", "read_meta", "render_scene", "write_dataset"]

#: Dataset ids (1..8) by short key, from the BeachLitter class table.
ID: dict[str, int] = DATASET_ID

_ART_COLOURS = np.array(
    [
        (235, 240, 245),  # white plastic / styrofoam
        (40, 110, 220),  # blue
        (215, 40, 35),  # red
        (250, 200, 30),  # yellow
        (40, 170, 80),  # green
        (245, 120, 30),  # orange
        (175, 225, 240),  # clear PET, bluish
        (200, 200, 210),  # aluminium
    ],
    dtype=float,
)
#: Sawn and weathered timber, painted boards: deliberately close to driftwood's colours.
_WOOD_COLOURS = np.array(
    [(185, 150, 105), (160, 125, 85), (125, 100, 75), (150, 140, 125), (95, 120, 140)], dtype=float
)
_NAT_COLOURS = {
    "driftwood": np.array([(120, 90, 60), (140, 115, 85), (95, 70, 45), (150, 135, 115)], dtype=float),
    "seaweed": np.array([(55, 50, 25), (70, 60, 30), (40, 45, 30), (85, 65, 35)], dtype=float),
}


def random_camera(rng: np.random.Generator, width: int, height: int) -> GroundCamera:
    """A plausible hand-held beach camera: 36–48° vertical field of view, 1.2–1.8 m high.

    The bottom distance is chosen so that the horizon lies between 12 % and 40 % of the
    image height from the top.
    """
    for _ in range(100):
        cam = GroundCamera(
            int(width),
            int(height),
            float(rng.uniform(36, 48)),
            float(rng.uniform(1.2, 1.8)),
            float(rng.uniform(2.0, 4.5)),
        )
        frac = (cam.horizon_v + 0.5) / height
        if 0.12 <= frac <= 0.40:
            return cam
    return GroundCamera(int(width), int(height), 40.0, 1.5, 3.0)  # pragma: no cover


def _noise(rng: np.random.Generator, X: np.ndarray, Y: np.ndarray, cell: float, extent: float) -> np.ndarray:
    """Smooth value noise in [-1, 1] at points (metres) with ``|X| <= extent``, ``0 <= Y <= 2 extent``."""
    from scipy.ndimage import map_coordinates

    n = int(math.ceil(2 * extent / cell)) + 3
    grid = rng.uniform(-1, 1, size=(n, n))
    cx = np.clip((X + extent) / cell, 0, n - 1.001)
    cy = np.clip(Y / cell, 0, n - 1.001)
    return map_coordinates(grid, [cy.ravel(), cx.ravel()], order=1, mode="nearest").reshape(X.shape)


def _raster(u: np.ndarray, v: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixels whose centres lie inside the image polygon ``(u, v)``."""
    from skimage.draw import polygon

    rr, cc = polygon(v, u, shape=shape)
    return rr, cc


def _box(cam: GroundCamera, x0: float, y0: float, sx: float, sy: float, sz: float) -> list[np.ndarray]:
    """Image polygons (whole hull, front face) of a box standing on the ground."""
    import cv2

    xs = np.array([x0, x0 + sx, x0 + sx, x0, x0, x0 + sx, x0 + sx, x0])
    ys = np.array([y0, y0, y0 + sy, y0 + sy, y0, y0, y0 + sy, y0 + sy])
    zs = np.array([0, 0, 0, 0, sz, sz, sz, sz], dtype=float)
    u, v = cam.world_to_image(xs, ys, zs)
    if not (np.isfinite(u).all() and np.isfinite(v).all()):
        return []
    pts = np.column_stack([u, v]).astype(np.float32)
    hull = cv2.convexHull(pts)[:, 0, :]
    front = pts[[0, 1, 5, 4]]
    return [hull, front]


def render_scene(
    seed: int,
    width: int = 128,
    height: int = 96,
    camera: GroundCamera | None = None,
    *,
    n_artificial: int | None = None,
    n_natural: int | None = None,
    litter_scale: float = 1.0,
    sea: bool | None = None,
    noise: float | None = None,
    hard: bool = False,
    field: bool | dict[str, Any] = False,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Render one beach photo with its label mask and ground truth.

    Args:
        seed: Seed; the same seed gives the same scene.
        width: Image width in pixels (ignored when ``camera`` is given).
        height: Image height in pixels (ignored when ``camera`` is given).
        camera: Camera to use (default :func:`random_camera`).
        n_artificial: Number of artificial litter pieces (default random, 0 or 4–17).
        n_natural: Number of natural litter pieces (default random, 1–8).
        litter_scale: Multiplies every litter size.
        sea: Sea at the horizon (``True``), land (``False``) or random (``None``).
        noise: Standard deviation of the pixel noise in grey levels (default random, 1–6).
        hard: The harder beach (see the module docstring): artificial wood next to driftwood,
            a wrack line, overlapping pieces, pieces cut by the frame and in the far field.
        field: A field scene (implies ``hard``): beach sloping down towards the sea by 1–5°,
            camera rolled by ±4°, litter with height. A dict fixes some of these:
            ``{"slope_deg": 0, "roll_deg": 0, "litter_height": False}`` is a flat field scene.

    Returns:
        ``image`` uint8 ``(H, W, 3)``; ``mask`` uint8 ``(H, W)`` with dataset ids 1..8;
        ``meta`` dict with ``camera`` (the flat camera's parameters), ``true_area_m2`` (visible
        ground area of each litter class, by class name), ``objects`` (every litter polygon in
        metres, in drawing order, with its part inside the frame and its visible area), the scene
        settings and, for field scenes, ``field`` (slope, roll, true tilt and horizon line).
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    rng = np.random.default_rng(seed)
    cam: Any = camera if camera is not None else random_camera(rng, width, height)
    survey = cam
    W0, H0 = cam.width, cam.height
    frame = np.array([[-0.5, -0.5], [W0 - 0.5, -0.5], [W0 - 0.5, H0 - 0.5], [-0.5, H0 - 0.5]])
    field_meta: dict[str, Any] | None = None
    to_photo = None
    litter_height = False
    is_field = field is True or isinstance(field, dict)  # {} is a field scene with random settings
    if is_field:
        import cv2

        # render level on a larger canvas, then turn by the roll and crop the photo from its centre
        slope_deg, roll_deg = float(rng.uniform(1.0, 5.0)), float(rng.uniform(-4.0, 4.0))
        if isinstance(field, dict):
            unknown = set(field) - {"slope_deg", "roll_deg", "litter_height"}
            if unknown:
                raise ValueError(f"field takes slope_deg, roll_deg and litter_height, not {sorted(unknown)}")
            slope_deg = float(field.get("slope_deg", slope_deg))
            roll_deg = float(field.get("roll_deg", roll_deg))
        litter_height = bool(field.get("litter_height", True)) if isinstance(field, dict) else True
        pad = int(math.ceil(0.5 * max(W0, H0) * math.sin(math.radians(abs(roll_deg))))) + 2
        view = FieldView(W0 + 2 * pad, H0 + 2 * pad, cam.focal_px, cam.camera_height_m, cam.tilt_deg,
                          math.tan(math.radians(slope_deg)))  # fmt: skip
        to_photo = cv2.getRotationMatrix2D(((view.width - 1) / 2, (view.height - 1) / 2), -roll_deg, 1.0)
        to_photo[:, 2] -= pad  # canvas pixel -> photo pixel
        to_canvas = cv2.invertAffineTransform(to_photo)
        frame = frame @ to_canvas[:, :2].T + to_canvas[:, 2]
        bu, bv = to_canvas @ np.array([(W0 - 1) / 2, H0 - 0.5, 1.0])
        _, y_bottom = view.image_to_ground(bu, bv)
        view.bottom_distance_m = float(y_bottom)
        taped = float(y_bottom) * math.hypot(1.0, view.slope)  # along the sloping ground
        survey = GroundCamera(W0, H0, cam.vfov_deg, cam.camera_height_m, taped)
        # the true horizon (level line through the canvas) in photo pixels
        hu = np.array([0.0, view.width - 1.0])
        hp = np.column_stack([hu, np.full(2, view.horizon_v), np.ones(2)]) @ to_photo.T
        h_slope = float((hp[1, 1] - hp[0, 1]) / (hp[1, 0] - hp[0, 0]))
        h_row = float(hp[0, 1] + h_slope * ((W0 - 1) / 2 - hp[0, 0]))
        field_meta = {"slope_deg": slope_deg, "roll_deg": roll_deg, "litter_height": litter_height,
                      "tilt_deg": cam.tilt_deg, "horizon_row": h_row, "horizon_slope": h_slope}  # fmt: skip
        cam = view
    W, H = cam.width, cam.height
    shape = (H, W)
    v, u = np.mgrid[0:H, 0:W].astype(float)
    X, Y = cam.image_to_ground(u, v)
    ground = np.isfinite(Y)
    Xg = np.where(ground, X, 0.0)
    Yg = np.where(ground, np.minimum(Y, 500.0), 500.0)
    extent = 60.0

    img = np.zeros((H, W, 3), dtype=float)
    mask = np.zeros(shape, dtype=np.uint8)
    light = rng.uniform(0.8, 1.15)
    tint = rng.normal(1.0, 0.04, size=3)

    # --- sky -------------------------------------------------------------------------------
    overcast = rng.random() < 0.3
    top = np.array((185, 190, 198)) if overcast else np.array((90, 145, 215)) + rng.normal(0, 10, 3)
    low = np.array((215, 218, 222)) if overcast else np.array((195, 215, 238)) + rng.normal(0, 6, 3)
    t = np.clip((v + 0.5) / max(cam.horizon_v + 0.5, 1.0), 0, 1)[..., None]
    sky = top * (1 - t) + low * t
    clouds = _noise(rng, (u / W - 0.5) * 40, v / H * 60, rng.uniform(3.0, 6.0), 30.0)
    cloud = np.clip((clouds - rng.uniform(0.0, 0.5)) * 2.5, 0, 1)[..., None]
    sky = sky * (1 - cloud) + np.array((245, 245, 248)) * cloud
    img[~ground] = sky[~ground]
    mask[~ground] = ID["sky"]

    # --- sea or land beyond the shore ------------------------------------------------------
    has_sea = bool(rng.random() < 0.75) if sea is None else bool(sea)
    shore0 = float(rng.uniform(10, 30))
    amp, k, ph = rng.uniform(0.3, 2.0), rng.uniform(0.05, 0.3), rng.uniform(0, 2 * np.pi)
    shore = shore0 + amp * np.sin(k * Xg + ph)
    beyond = ground & (Yg > shore)
    if has_sea:
        deep = np.array((35, 85, 120)) + rng.normal(0, 10, 3)
        near = np.array((70, 140, 150)) + rng.normal(0, 10, 3)
        d = np.clip((Yg - shore) / 30.0, 0, 1)[..., None]
        col = near * (1 - d) + deep * d
        waves = np.sin(Yg * rng.uniform(1.5, 3.0) + 0.5 * np.sin(Xg * 0.7))[..., None]
        col = col + 12 * waves
        foam = (Yg - shore < rng.uniform(0.4, 1.2))[..., None] & (waves > -0.2)
        col = np.where(foam, np.array((235, 240, 240)), col)
        img[beyond] = col[beyond]
        mask[beyond] = ID["sea"]
    else:
        land = np.array((85, 100, 70)) + rng.normal(0, 10, 3)
        tex = _noise(rng, Xg, Yg, 2.0, extent)[..., None]
        img[beyond] = (land + 20 * tex)[beyond]
        mask[beyond] = ID["background"]

    # --- hills on the horizon --------------------------------------------------------------
    if (not has_sea) or rng.random() < 0.5:
        vh = cam.horizon_v
        hill_h = rng.uniform(0.03, 0.12) * H
        prof = _noise(rng, (np.arange(W) / W - 0.5) * 40, np.zeros(W) + 1.0, rng.uniform(3, 10), 25.0)
        top_v = vh - hill_h * (0.55 + 0.45 * prof)
        hill = (~ground) & (v >= top_v[None, :])
        hcol = np.array((95, 115, 110)) + rng.normal(0, 10, 3)
        haze = np.clip((v - top_v[None, :]) / max(hill_h, 1.0), 0, 1)[..., None]
        img[hill] = (hcol * (1 - 0.3 * haze) + 0.3 * haze * low)[hill]
        mask[hill] = ID["background"]

    # --- sand ------------------------------------------------------------------------------
    sand = ground & ~beyond
    base = np.array([(205, 190, 155), (180, 168, 140), (160, 140, 105), (215, 205, 180)][rng.integers(4)], dtype=float)
    base = base + rng.normal(0, 6, 3)
    tex = 0.6 * _noise(rng, Xg, Yg, 0.6, 30.0) + 0.4 * _noise(rng, Xg, Yg, 0.12, 10.0)
    col = base[None, None, :] * (1 + 0.07 * tex[..., None])
    wet = np.clip(1 - (shore - Yg) / rng.uniform(1.0, 4.0), 0, 1)[..., None] if has_sea else 0.0
    col = col * (1 - 0.3 * wet)
    img[sand] = col[sand]
    mask[sand] = ID["sand"]
    # distractors on sand: pebbles and shadows (still sand)
    for _ in range(int(rng.integers(0, 25))):
        px, py = rng.uniform(-6, 6), rng.uniform(cam.bottom_distance_m, cam.bottom_distance_m + 10)
        r = rng.uniform(0.02, 0.08)
        ang = np.linspace(0, 2 * np.pi, 10, endpoint=False)
        uu, vv = cam.ground_to_image(px + r * np.cos(ang), py + r * 0.8 * np.sin(ang))
        if not np.isfinite(uu).all():
            continue
        rr, cc = _raster(uu, vv, shape)
        keep = mask[rr, cc] == ID["sand"]
        img[rr[keep], cc[keep]] = rng.uniform(60, 130) * np.array((1.0, 0.97, 0.9))

    occluder = np.zeros(shape, dtype=bool)
    # --- installations (blocks, fence) -----------------------------------------------------
    if rng.random() < 0.45:
        grey = rng.uniform(120, 175)
        if rng.random() < 0.5:  # concrete blocks
            for _ in range(int(rng.integers(1, 4))):
                s = rng.uniform(0.6, 1.4)
                y0 = rng.uniform(cam.bottom_distance_m + 3, min(shore0 - 1, cam.bottom_distance_m + 14))
                x0 = rng.uniform(-0.6, 0.6) * y0 * 0.5
                polys = _box(cam, x0, y0, s, s * rng.uniform(0.6, 1.2), s * rng.uniform(0.5, 1.0))
                for j, p in enumerate(polys):
                    rr, cc = _raster(p[:, 0], p[:, 1], shape)
                    img[rr, cc] = grey * (0.8 if j else 1.0) * np.array((1.0, 1.0, 0.97))
                    mask[rr, cc] = ID["nonliving"]
                    occluder[rr, cc] = True
        else:  # fence of posts and rails
            y0 = rng.uniform(cam.bottom_distance_m + 4, min(shore0 - 1, cam.bottom_distance_m + 16))
            side = rng.choice([-1.0, 1.0])
            xs = side * np.arange(rng.uniform(0.5, 2.0), 12.0, rng.uniform(1.2, 2.0))
            wood = np.array((110, 95, 75)) * rng.uniform(0.8, 1.2)
            for x0 in xs:
                for p in _box(cam, x0, y0, 0.08, 0.08, 1.0)[:1]:
                    rr, cc = _raster(p[:, 0], p[:, 1], shape)
                    img[rr, cc] = wood
                    mask[rr, cc] = ID["nonliving"]
                    occluder[rr, cc] = True
            x_lo, x_hi = float(min(xs.min(), xs.max())), float(max(xs.min(), xs.max()))
            for zr in (0.45, 0.85):
                rail = _box(cam, x_lo, y0, x_hi - x_lo + 0.08, 0.04, zr)
                if rail:
                    uu, vv = cam.world_to_image([x_lo, x_hi, x_hi, x_lo], [y0] * 4, [zr - 0.05, zr - 0.05, zr, zr])
                    rr, cc = _raster(uu, vv, shape)
                    img[rr, cc] = wood * 0.9
                    mask[rr, cc] = ID["nonliving"]
                    occluder[rr, cc] = True

    # --- plants at the edges ---------------------------------------------------------------
    for side in (-1.0, 1.0):
        if rng.random() >= 0.45:
            continue
        u_edge = 0.0 if side < 0 else W - 1.0
        below = H - cam.horizon_v
        v_row = float(rng.uniform(cam.horizon_v + 0.15 * below, cam.horizon_v + 0.6 * below))
        xe, ye = cam.image_to_ground(u_edge, v_row)
        if not np.isfinite(xe):
            continue
        xb, yb = float(xe), float(ye)
        green = np.array((55, 105, 45)) + rng.normal(0, 12, 3)
        for _ in range(int(rng.integers(25, 60))):
            bx = xb + rng.normal(0, 0.5) - side * abs(rng.normal(0, 0.3))
            by = yb + rng.normal(0, 0.5)
            hgt = rng.uniform(0.15, 0.5)
            lx, ly = rng.normal(0, 0.15), rng.normal(0, 0.15)
            bw = rng.uniform(0.02, 0.06)
            uu, vv = cam.world_to_image([bx - bw, bx + bw, bx + lx], [by, by, by + ly], [0.0, 0.0, hgt])
            if not (np.isfinite(uu).all() and np.isfinite(vv).all()):
                continue
            rr, cc = _raster(uu, vv, shape)
            img[rr, cc] = green * rng.uniform(0.7, 1.3)
            mask[rr, cc] = ID["living"]
            occluder[rr, cc] = True

    # --- litter on the sand ----------------------------------------------------------------
    if n_artificial is None:
        n_artificial = 0 if rng.random() < 0.08 else int(rng.integers(4, 18))
    if n_natural is None:
        n_natural = int(rng.integers(1, 9))
    taken = occluder.copy()
    objects: list[dict[str, Any]] = []
    art_name, nat_name = CLASSES[ARTIFICIAL], CLASSES[NATURAL]
    y_far = min(shore0 - 1.5, cam.bottom_distance_m + 7.0)
    kinds = ["artificial"] * n_artificial + ["natural"] * n_natural
    hard = bool(hard or is_field)
    frame_hp = frame_halfplanes(cam.homography, frame)

    def draw(cls: str, kind: str, gx: np.ndarray, gy: np.ndarray, px: float, py: float, outline: np.ndarray,
             rr: np.ndarray, cc: np.ndarray) -> None:  # fmt: skip
        """Paint one piece's pixels and record it."""
        # local coordinates (metres) of the covered pixels, for shading
        local = np.stack([np.nan_to_num(X[rr, cc]) - px, np.nan_to_num(Y[rr, cc]) - py], axis=-1)
        if cls == "artificial":
            pal = _WOOD_COLOURS if kind in ("lumber", "slat") else _ART_COLOURS
        else:
            pal = _NAT_COLOURS["seaweed" if kind == "wrack" else "driftwood" if kind == "twig" else kind]
        colour = pal[rng.integers(len(pal))] * rng.uniform(0.9, 1.05)
        span = np.abs(outline).max() + 1e-6
        axis = local @ (outline[np.argmax(np.abs(outline[:, 0]))] / span)
        if cls == "artificial":
            shade = 1.0 + 0.12 * np.clip(axis / span, -1, 1)
            pix = colour[None, :] * shade[:, None]
            if kind in ("bottle", "can") and rng.random() < 0.7:  # label band / highlight
                band = np.abs(axis / span) < 0.25
                pix[band] = pal[rng.integers(len(pal))]
            if kind in ("lumber", "slat"):  # sawn wood: fine grain along the board
                across = local @ np.array([-1.0, 0.0])
                pix = pix * (1 + 0.05 * np.sin(across * rng.uniform(150, 250)))[:, None]
        else:
            across = local @ np.array([-1.0, 0.0])
            grain = np.sin(across * rng.uniform(60, 120) + axis * 5)
            pix = colour[None, :] * (1 + (0.12 if kind in ("driftwood", "twig") else 0.2) * grain[:, None])
        img[rr, cc] = pix
        mask[rr, cc] = ID[cls]
        polygon = np.column_stack([gx, gy])
        objects.append(
            {
                "class_id": ID[cls],
                "kind": kind,
                "area_m2": polygon_area(gx, gy),
                "polygon_m": polygon.round(5).tolist(),
                "visible_polygon_m": clip_polygon(polygon, frame_hp).round(5).tolist(),
            }
        )

    def footprint(gx: np.ndarray, gy: np.ndarray, thick: float) -> tuple[np.ndarray, np.ndarray] | None:
        """Pixels of a piece lying on the ground (a prism ``thick`` metres high in field scenes)."""
        uu, vv = cam.ground_to_image(gx, gy)
        if not (np.isfinite(uu).all() and np.isfinite(vv).all()):
            return None
        rr, cc = _raster(uu, vv, shape)
        if thick > 0:
            tu, tv = cam.world_to_image(gx, gy, thick)
            if not (np.isfinite(tu).all() and np.isfinite(tv).all()):
                return None
            parts = [(rr, cc), _raster(tu, tv, shape)]
            for k in range(len(gx)):
                j = (k + 1) % len(gx)
                parts.append(
                    _raster(np.array([uu[k], uu[j], tu[j], tu[k]]), np.array([vv[k], vv[j], tv[j], tv[k]]), shape)
                )
            flat = np.unique(np.concatenate([r * W + c for r, c in parts]))
            rr, cc = flat // W, flat % W
        return rr, cc

    if not hard:
        for cls in kinds:
            for _attempt in range(30):
                if cls == "artificial":
                    kind = str(rng.choice(["bottle", "can", "fragment", "fragment", "float"]))
                else:
                    kind = str(rng.choice(["driftwood", "seaweed"]))
                outline = rotate(litter_outline(kind, rng, litter_scale), rng.uniform(0, np.pi))
                # distance drawn so that more pieces lie near the camera
                py = cam.bottom_distance_m + (y_far - cam.bottom_distance_m) * rng.random() ** 2
                half = abs(float(cam.image_to_ground(W - 0.5, cam.ground_to_image(0.0, py)[1])[0]))
                px = rng.uniform(-half, half)
                gx, gy = outline[:, 0] + px, outline[:, 1] + py
                uu, vv = cam.ground_to_image(gx, gy)
                if not (np.isfinite(uu).all() and np.isfinite(vv).all()):
                    continue
                if uu.min() < 0 or uu.max() > W - 1 or vv.min() < 0 or vv.max() > H - 1:
                    continue
                rr, cc = _raster(uu, vv, shape)
                if rr.size == 0:
                    continue
                r0, r1 = max(rr.min() - 1, 0), min(rr.max() + 2, H)
                c0, c1 = max(cc.min() - 1, 0), min(cc.max() + 2, W)
                if taken[r0:r1, c0:c1].any() or (mask[rr, cc] != ID["sand"]).any():
                    continue
                draw(cls, kind, gx, gy, px, py, outline, rr, cc)
                taken[r0:r1, c0:c1] = True
                break
    else:
        # the harder beach: wood next to driftwood, pallets, overlaps, pieces cut by the frame, far field
        y_shore = shore0 - 1.5
        wood_near: list[tuple[float, float]] = []
        litter_ids = (ID["sand"], ID["artificial"], ID["natural"])
        pieces: list[tuple[str, str]] = []
        for cls in kinds:
            if cls == "artificial":
                kind = str(rng.choice(["bottle", "can", "fragment", "float", "lumber", "lumber", "pallet"]))
            else:
                kind = str(rng.choice(["driftwood", "driftwood", "seaweed"]))
            pieces.append((cls, kind))
        pieces.sort(key=lambda p: p[1] not in ("driftwood",))  # driftwood first, so wood can lie next to it
        for cls, kind in pieces:
            for _attempt in range(30):
                angle = rng.uniform(0, np.pi)
                if kind == "pallet":
                    n_slats, gap = int(rng.integers(3, 5)), rng.uniform(0.1, 0.2)
                    slats = [litter_outline("slat", rng, litter_scale) for _ in range(n_slats)]
                    outlines = [s + np.array([0.0, (k - (n_slats - 1) / 2) * gap * 1.8]) for k, s in enumerate(slats)]
                    outlines = [rotate(o, angle) for o in outlines]
                else:
                    outlines = [rotate(litter_outline(kind, rng, litter_scale), angle)]
                if kind in ("lumber", "pallet") and wood_near and rng.random() < 0.6:
                    wx, wy = wood_near[int(rng.integers(len(wood_near)))]
                    px, py = wx + rng.normal(0, 0.7), wy + rng.normal(0, 0.7)
                elif y_shore > y_far + 1 and rng.random() < 0.2:  # far field, small in the photo
                    py = rng.uniform(y_far, y_shore)
                    half = abs(float(cam.image_to_ground(W - 0.5, cam.ground_to_image(0.0, py)[1])[0]))
                    px = rng.uniform(-half, half)
                else:
                    py = cam.bottom_distance_m + (y_far - cam.bottom_distance_m) * rng.random() ** 2
                    half = abs(float(cam.image_to_ground(W - 0.5, cam.ground_to_image(0.0, py)[1])[0]))
                    px = rng.uniform(-1.15 * half, 1.15 * half)  # some pieces stick out of the frame
                if (frame_hp @ np.array([px, py, 1.0]) < 0).any() or not 0.5 < py < y_shore:
                    continue  # the piece's centre must be in the frame
                overlap_ok = rng.random() < 0.35
                # in field scenes every piece is a prism: round things about as high as wide, flat things thin
                thick = [litter_thickness(kind, float(np.ptp(rotate(o, -angle)[:, 1])), rng) * litter_height
                         for o in outlines] if is_field else [0.0] * len(outlines)  # fmt: skip
                placed = []
                for o, th in zip(outlines, thick):
                    gx, gy = o[:, 0] + px, o[:, 1] + py
                    fp = footprint(gx, gy, th)
                    if fp is None:
                        break
                    placed.append((o, gx, gy, fp))
                if len(placed) < len(outlines) or sum(p[3][0].size for p in placed) == 0:
                    continue
                rr_all = np.concatenate([p[3][0] for p in placed])
                cc_all = np.concatenate([p[3][1] for p in placed])
                if not np.isin(mask[rr_all, cc_all], litter_ids).all() or occluder[rr_all, cc_all].any():
                    continue
                r0, r1 = max(rr_all.min() - 1, 0), min(rr_all.max() + 2, H)
                c0, c1 = max(cc_all.min() - 1, 0), min(cc_all.max() + 2, W)
                if not overlap_ok and taken[r0:r1, c0:c1].any():
                    continue
                for o, gx, gy, (rr, cc) in placed:
                    draw(cls, "slat" if kind == "pallet" else kind, gx, gy, px, py, o, rr, cc)
                taken[r0:r1, c0:c1] = True
                if kind == "driftwood":
                    wood_near.append((px, py))
                break
        # a wrack line of small natural debris along the high-water mark
        if has_sea and rng.random() < 0.7:
            y_w = shore0 - rng.uniform(1.0, 3.0)
            if y_w > cam.bottom_distance_m + 2:
                wk, wph = rng.uniform(0.1, 0.4), rng.uniform(0, 2 * np.pi)
                half = abs(float(cam.image_to_ground(W - 0.5, cam.ground_to_image(0.0, y_w)[1])[0]))
                for _ in range(int(rng.integers(15, 40))):
                    kind = str(rng.choice(["wrack", "wrack", "twig"]))
                    outline = rotate(litter_outline(kind, rng, litter_scale), rng.uniform(0, np.pi))
                    px = rng.uniform(-half, half)
                    py = y_w + 0.4 * math.sin(wk * px + wph) + rng.normal(0, 0.2)
                    if (frame_hp @ np.array([px, py, 1.0]) < 0).any():
                        continue
                    gx, gy = outline[:, 0] + px, outline[:, 1] + py
                    fp = footprint(gx, gy, litter_thickness(kind, 0.0, rng) * litter_height if is_field else 0.0)
                    if fp is None or fp[0].size == 0:
                        continue
                    rr, cc = fp
                    if not np.isin(mask[rr, cc], litter_ids).all() or occluder[rr, cc].any():
                        continue
                    draw("natural", kind, gx, gy, px, py, outline, rr, cc)

    visible = visible_areas([np.array(o["visible_polygon_m"]).reshape(-1, 2) for o in objects])
    areas = {art_name: 0.0, nat_name: 0.0}
    for o, a in zip(objects, visible):
        o["visible_area_m2"] = a
        areas[art_name if o["class_id"] == ID["artificial"] else nat_name] += a

    # --- lighting, noise -------------------------------------------------------------------
    img = img * light * tint
    sigma = float(rng.uniform(1, 6)) if noise is None else float(noise)
    img = img + rng.normal(0, sigma, size=img.shape)
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)
    if to_photo is not None:
        import cv2

        image = np.asarray(cv2.warpAffine(image, to_photo, (W0, H0), flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REFLECT), dtype=np.uint8)  # fmt: skip
        mask = np.asarray(cv2.warpAffine(mask, to_photo, (W0, H0), flags=cv2.INTER_NEAREST,
                                         borderMode=cv2.BORDER_REFLECT), dtype=np.uint8)  # fmt: skip

    meta: dict[str, Any] = {
        "seed": int(seed),
        "camera": {
            "width": W0,
            "height": H0,
            "vfov_deg": survey.vfov_deg,
            "camera_height_m": survey.camera_height_m,
            "bottom_distance_m": survey.bottom_distance_m,
            "tilt_deg": survey.tilt_deg,
            "focal_px": survey.focal_px,
        },
        "true_area_m2": areas,
        "objects": objects,
        "has_sea": has_sea,
        "shore_distance_m": shore0,
        "hard": bool(hard),
    }
    if field_meta is not None:
        meta["field"] = field_meta
    return image, mask, meta


def write_dataset(
    root: str | os.PathLike[str],
    n: int,
    seed: int = 0,
    size: tuple[int, int] = (96, 128),
    camera: GroundCamera | None = None,
    quality: int = 92,
    progress: bool = False,
    **scene_kwargs: Any,
) -> Path:
    """Write ``n`` synthetic scenes in the real BeachLitter format.

    Layout: ``root/beachlitter/images/NNNNNN.jpg``, ``root/beachlitter/maskpngs/NNNNNN.png``
    (palette PNGs), plus ``root/beachlitter/synthetic_meta.json`` (full metadata per stem) and
    ``synthetic_meta.csv`` (camera and true areas per stem).

    Args:
        root: Output folder (created).
        n: Number of scenes; stems ``000001`` .. ``n``.
        seed: Master seed; scene ``i`` gets its own seed derived from it.
        size: ``(height, width)`` in pixels (when ``camera`` is not given).
        camera: One camera for every scene (default: a random camera per scene).
        quality: JPEG quality.
        progress: Show a tqdm bar.
        **scene_kwargs: Passed to :func:`render_scene`.

    Returns:
        The ``beachlitter`` folder.
    """
    from PIL import Image

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    out = Path(root) / "beachlitter"
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "maskpngs").mkdir(parents=True, exist_ok=True)
    seeds = np.random.SeedSequence(seed).generate_state(n, dtype=np.uint32)
    all_meta: dict[str, Any] = {}
    it: Any = range(n)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="scenes")
    for i in it:
        stem = f"{i + 1:06d}"
        height, width = size
        image, mask, meta = render_scene(int(seeds[i]), width=width, height=height, camera=camera, **scene_kwargs)
        Image.fromarray(image).save(out / "images" / f"{stem}.jpg", quality=quality)
        save_mask(out / "maskpngs" / f"{stem}.png", mask)
        all_meta[stem] = meta
    (out / "synthetic_meta.json").write_text(json.dumps(all_meta))
    with open(out / "synthetic_meta.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["stem", "seed", "width", "height", "vfov_deg", "camera_height_m", "bottom_distance_m",
                    "artificial_litter_m2", "natural_litter_m2"])  # fmt: skip
        for stem, m in all_meta.items():
            c = m["camera"]
            w.writerow([stem, m["seed"], c["width"], c["height"], f"{c['vfov_deg']:.6f}", f"{c['camera_height_m']:.6f}",
                        f"{c['bottom_distance_m']:.6f}", f"{m['true_area_m2'][CLASSES[ARTIFICIAL]]:.8f}",
                        f"{m['true_area_m2'][CLASSES[NATURAL]]:.8f}"])  # fmt: skip
    return out


def read_meta(root: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Metadata written by :func:`write_dataset`, by stem (``root`` as for the loader).

    Each entry also holds a ready ``GroundCamera`` under ``"ground_camera"``.
    """
    path = find_root(root) / "synthetic_meta.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: only write_dataset() writes it (real data has none)")
    meta = json.loads(path.read_text())
    for m in meta.values():
        c = m["camera"]
        m["ground_camera"] = GroundCamera(
            c["width"], c["height"], c["vfov_deg"], c["camera_height_m"], c["bottom_distance_m"]
        )
    return meta
