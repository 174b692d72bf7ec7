"""SynthBirds renderer: a side-view bird drawn with PIL at 4x, shaded, on its perch, over a procedural background.

Pipeline of render_bird: attributes -> shapes in "bird units" (_bird_shape) -> pose on the 4x canvas
-> internal label map (_rasterize) -> colours and shading (_part_colors, _shade_bird) -> perch
(_perch) -> LANCZOS down-sampling -> composite over the background (backgrounds._background) -> part map, bbox.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from . import photo as photo_mod
from .backgrounds import _background, _jc
from .schema import BACKGROUNDS, BILL_LENGTHS, PALETTE, SIZES, complete_attributes

# Internal drawing labels: 1..10 as PART_LABELS plus sub-labels folded into parts in the part map.
_WING_MARK, _EYE_RING, _PUPIL, _GLINT = 11, 12, 13, 14
_SUB_TO_PART = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 4, 7, 7, 7, 0], dtype=np.uint8)
_BIG_PARTS = np.zeros(16, dtype=bool)
_BIG_PARTS[[1, 2, 3, 4, 5, 6, 9, _WING_MARK]] = True
_SIZE_FRAC = {SIZES[0]: 0.40, SIZES[1]: 0.52, SIZES[2]: 0.64}  # bird length / frame width
_HEAD_SCALE = {SIZES[0]: 1.12, SIZES[1]: 1.0, SIZES[2]: 0.9}  # small birds have bigger heads
_BILL_FACTOR = {BILL_LENGTHS[0]: 0.6, BILL_LENGTHS[1]: 1.0, BILL_LENGTHS[2]: 1.8}  # x head diameter


# ----------------------------------------------------------------------------------------------
# Geometry: a side-view bird in "bird units" (u forward to the head, v up; body length about 1)
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Pose:
    """Placement of the bird on the supersampled canvas."""

    facing: int  # +1: head to the right, -1: head to the left
    tilt: float  # radians, counter-clockwise, head up when positive
    scale: float  # canvas pixels per bird unit
    tx: float  # canvas position of the bird origin (torso centre)
    ty: float

    def to_canvas(self, pts: np.ndarray) -> np.ndarray:
        """Map (N, 2) bird-unit points to canvas pixel coordinates."""
        c, s = math.cos(self.tilt), math.sin(self.tilt)
        u = pts[:, 0] * c - pts[:, 1] * s
        v = pts[:, 0] * s + pts[:, 1] * c
        return np.stack([self.tx + self.scale * self.facing * u, self.ty - self.scale * v], 1)

    def to_bird(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map canvas pixel coordinates (arrays) back to bird units."""
        c, s = math.cos(self.tilt), math.sin(self.tilt)
        up = (x - self.tx) / (self.scale * self.facing)
        vp = -(y - self.ty) / self.scale
        return up * c + vp * s, -up * s + vp * c


def _rot(pts, ang: float) -> np.ndarray:
    """Rotate (N, 2) points counter-clockwise by `ang` radians about the origin."""
    pts = np.asarray(pts, dtype=np.float64)
    c, s = math.cos(ang), math.sin(ang)
    return np.stack([pts[:, 0] * c - pts[:, 1] * s, pts[:, 0] * s + pts[:, 1] * c], 1)


def _ellipse_pts(cx, cy, a, b, ang=0.0, n=40) -> np.ndarray:
    """Polygon points of a rotated ellipse."""
    t = np.arange(n) * (2 * math.pi / n)
    ct, st = np.cos(t), np.sin(t)
    c, s = math.cos(ang), math.sin(ang)
    return np.stack([cx + a * ct * c - b * st * s, cy + a * ct * s + b * st * c], 1)


def _bezier(p0, p1, p2, p3, n=14) -> np.ndarray:
    """Points on a cubic Bezier curve (including both ends)."""
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2, p3 = (np.asarray(p, dtype=np.float64) for p in (p0, p1, p2, p3))
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3


@dataclass(frozen=True)
class _Shape:
    """All shapes of one bird in bird units (see _bird_shape)."""

    posture: float  # torso axis angle
    torso: tuple  # (cx, cy, a, b)
    head: tuple  # (cx, cy, r)
    neck: tuple  # (cx, cy, a, b)
    tail: np.ndarray
    wing: np.ndarray
    wing_axis: tuple  # (shoulder (2,), wing tip (2,))
    bill: np.ndarray
    eye: tuple  # (cx, cy, r)
    legs: tuple  # ((hip, knee, foot, toe_front, toe_back), ...)
    leg_width: float
    feet_v: float
    px: float  # one output pixel at 64 px, in bird units (floor for thin parts)


def _bird_shape(attrs: dict, frac: float, rng: np.random.Generator) -> _Shape:
    """Build the bird's shapes from its attributes; small per-image jitter of proportions."""
    px = 1.0 / (64.0 * frac)
    P = math.radians(rng.uniform(18, 30))
    ta, tb = 0.31 * rng.uniform(0.95, 1.05), 0.20 * rng.uniform(0.93, 1.07)
    rh = 0.13 * _HEAD_SCALE[attrs["has_size"]] * rng.uniform(0.96, 1.04)
    hx, hy = 0.28 + 0.05 * math.cos(P), 0.25
    tail_len = rng.uniform(0.26, 0.36)
    tail = _rot([(-0.17, 0.08), (-0.2 - tail_len, 0.035), (-0.22 - tail_len, -0.015),
                 (-0.2 - tail_len, -0.075), (-0.17, -0.1)], P)
    wl = rng.uniform(0.42, 0.5)
    upper = _bezier((0.17, 0.03), (0.22, 0.15), (-0.12, 0.14), (-wl, -0.01))
    lower = _bezier((-wl, -0.01), (-0.22, -0.09), (0.1, -0.12), (0.17, 0.03))
    wing = _rot(np.concatenate([upper, lower[1:-1]]), P)
    sh, tip = _rot([(0.17, 0.03), (-wl, -0.01)], P)
    # Bill: base on the front of the head, length relative to the head diameter.
    blen = _BILL_FACTOR[attrs["has_bill_length"]] * 2 * rh
    bthick = max(0.62 * rh, 3.3 * px)
    bx = hx + 0.85 * rh
    by = hy - 0.12 * rh
    long_bill = attrs["has_bill_length"] == BILL_LENGTHS[2]
    droop = 0.18 * blen if long_bill else 0.05 * blen
    mid = 0.2 if long_bill else 0.28  # half thickness at mid-length, in units of bthick
    bill = np.array([
        (bx - 0.2 * rh, by + 0.5 * bthick), (bx + 0.45 * blen, by + mid * bthick - 0.4 * droop),
        (bx + blen, by - droop), (bx + 0.5 * blen, by - mid * bthick - 0.5 * droop),
        (bx - 0.2 * rh, by - 0.5 * bthick)])
    er = min(max(0.3 * rh, 2.0 * px), 0.55 * rh)
    eye = (hx + 0.36 * rh, hy + 0.14 * rh, er)
    feet_v = -0.37
    legs = []
    for hu in (-0.03, 0.05):
        hip, knee = (hu, -0.12), (hu + 0.02, -0.26)
        foot = (hu, feet_v)
        legs.append((hip, knee, foot, (hu + 0.075, feet_v - 0.005), (hu - 0.05, feet_v + 0.005)))
    return _Shape(
        posture=P, torso=(0.0, 0.0, ta, tb), head=(hx, hy, rh), neck=(0.2, 0.13, 0.12, 0.15),
        tail=tail, wing=wing, wing_axis=(sh, tip), bill=bill, eye=eye, legs=tuple(legs),
        leg_width=max(0.035, 1.8 * px), feet_v=feet_v, px=px)


def _shape_points(shape: _Shape) -> np.ndarray:
    """All outline points of a shape (for the bounding box used in placement)."""
    hx, hy, rh = shape.head
    pts = [shape.tail, shape.wing, shape.bill, _ellipse_pts(hx, hy, rh, rh, n=16),
           _ellipse_pts(*shape.torso, ang=shape.posture, n=16)]
    pts += [np.array(leg) for leg in shape.legs]
    return np.concatenate(pts)


# ----------------------------------------------------------------------------------------------
# Rasterisation: label map, colours, shading
# ----------------------------------------------------------------------------------------------

def _rasterize(shape: _Shape, pose: _Pose, canvas: int, pattern: str) -> tuple[np.ndarray, tuple]:
    """Draw the bird's internal label map (canvas x canvas uint8) and return it with its window."""
    img = Image.new("L", (canvas, canvas), 0)
    d = ImageDraw.Draw(img)
    tc = pose.to_canvas
    lw = max(1, int(round(shape.leg_width * pose.scale)))
    for hip, knee, foot, toe_f, toe_b in shape.legs:
        p = tc(np.array([hip, knee, foot, toe_f, toe_b]))
        d.line([tuple(p[0]), tuple(p[1]), tuple(p[2])], fill=10, width=lw, joint="curve")
        d.line([tuple(p[2]), tuple(p[3])], fill=10, width=max(1, int(lw * 0.8)))
        d.line([tuple(p[2]), tuple(p[4])], fill=10, width=max(1, int(lw * 0.8)))
    d.polygon([tuple(q) for q in tc(shape.tail)], fill=9)
    d.polygon([tuple(q) for q in tc(shape.bill)], fill=8)
    hx, hy, rh = shape.head
    for pts in (_ellipse_pts(*shape.torso, ang=shape.posture), _ellipse_pts(*shape.neck, ang=0.3),
                _ellipse_pts(hx, hy, rh, rh)):
        d.polygon([tuple(q) for q in tc(pts)], fill=1)
    wimg = Image.new("L", (canvas, canvas), 0)
    ImageDraw.Draw(wimg).polygon([tuple(q) for q in tc(shape.wing)], fill=1)
    lab = np.array(img)

    # Window around the bird; all per-pixel work happens inside it.
    ext = tc(_shape_points(shape))
    m = 4
    x0, y0 = (max(0, int(ext[:, i].min()) - m) for i in (0, 1))
    x1, y1 = (min(canvas, int(ext[:, i].max()) + m + 1) for i in (0, 1))
    win = lab[y0:y1, x0:x1]
    wing_mask = np.asarray(wimg)[y0:y1, x0:x1] > 0
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
    u, v = pose.to_bird(xx, yy)

    # Split the body silhouette into back / belly / crown / throat / body (face, nape).
    ca, sa = math.cos(shape.posture), math.sin(shape.posture)
    tu, tv = u * ca + v * sa, -u * sa + v * ca  # torso frame
    in_torso = (tu / shape.torso[2]) ** 2 + (tv / shape.torso[3]) ** 2 <= 1.0
    dh2 = (u - hx) ** 2 + (v - hy) ** 2
    in_head = dh2 <= (rh * 1.02) ** 2
    body = win == 1
    win[body & in_torso & (tv > 0.03 + 0.1 * tu)] = 3
    neck_front = (u - hx) > -0.9 * rh + 0.6 * (hy - v)
    win[body & in_torso & (tv <= 0.03 + 0.1 * tu)] = 2
    win[body & ~in_torso & ~in_head & (v < hy - 0.9 * rh) & neck_front] = 2
    throat = (v < hy - 0.28 * rh) & ((u - hx) > -0.45 * rh + 0.5 * (hy - 0.28 * rh - v))
    win[body & ~in_torso & throat & (v >= hy - 1.5 * rh)] = 6
    win[body & in_head & ((v - hy) > 0.42 * rh - 0.3 * (u - hx))] = 5

    # Wing with its pattern (marks in wing-local coordinates).
    win[wing_mask] = 4
    sh, tip = shape.wing_axis
    ax = tip - sh
    wlen = float(np.hypot(*ax))
    ax = ax / wlen
    al = ((u - sh[0]) * ax[0] + (v - sh[1]) * ax[1]) / wlen  # 0 at shoulder, 1 at tip
    ac = -(u - sh[0]) * ax[1] + (v - sh[1]) * ax[0]  # across the wing, up positive
    px = shape.px
    if pattern == "striped":
        per = max(0.05, 3.4 * px)
        marks = ((ac / per) % 1.0 < 0.45) & (al > 0.12)
    elif pattern == "spotted":
        per = max(0.055, 3.6 * px)
        row = np.floor(ac / per)
        col = (al * wlen + 0.5 * per * (row % 2)) / per
        du = (col - np.floor(col) - 0.5) * per
        dv = (ac / per - row - 0.5) * per
        marks = (du ** 2 + dv ** 2 < (max(0.018, 1.05 * px)) ** 2) & (al > 0.1)
    elif pattern == "wing-bars":
        bw = max(0.028, 1.5 * px)
        p1, p2 = 0.2, 0.2 + max(0.1, (3.6 * px) / wlen)
        marks = (np.abs(al - p1) * wlen < bw / 2) | (np.abs(al - p2) * wlen < bw / 2)
    else:
        marks = np.zeros_like(wing_mask)
    win[wing_mask & marks] = _WING_MARK

    # Eye: iris with a ring (+ pupil and glint when the eye is big enough to show them).
    ex, ey, er = shape.eye
    de = np.sqrt((u - ex) ** 2 + (v - ey) ** 2)
    ring = max(0.22 * er, 0.45 * px)
    win[de < er] = _EYE_RING
    win[de < er - ring] = 7
    er_px = er * pose.scale / 4
    if er_px >= 3.0:
        win[de < 0.38 * (er - ring)] = _PUPIL
        g = np.sqrt((u - ex - 0.3 * er) ** 2 + (v - ey - 0.3 * er) ** 2)
        win[g < 0.15 * er] = _GLINT
    return lab, (x0, y0, x1, y1, u, v)


def _part_colors(attrs: dict, rng: np.random.Generator) -> np.ndarray:
    """Per-image colour table (16, 3) float32 for the internal labels, with small jitter."""
    def jit(name: str) -> np.ndarray:
        """Palette colour with a small, clipped per-channel jitter."""
        c = np.array(PALETTE[name], dtype=np.float32)
        return np.clip(c + np.clip(rng.normal(0, 4.0, 3), -8, 8), 0, 255)

    lut = np.zeros((16, 3), dtype=np.float32)
    up, wing = jit(attrs["has_upperparts_color"]), jit(attrs["has_wing_color"])
    lut[1], lut[3] = up, up
    lut[2] = jit(attrs["has_belly_color"])
    lut[4] = wing
    lut[9] = wing * 0.85
    lut[5] = jit(attrs["has_crown_color"])
    lut[6] = jit(attrs["has_throat_color"])
    eye = attrs["has_eye_color"]
    # A brown iris is drawn lighter than brown plumage so that it stays apart from a black one.
    lut[7] = jit(eye) if eye != "brown" else np.clip(jit(eye) * 1.25, 0, 255)
    lut[8] = jit(attrs["has_bill_color"])
    lut[10] = jit(attrs["has_leg_color"])
    lum = float(wing @ np.array([0.3, 0.59, 0.11], dtype=np.float32))
    # Pattern marks: a pale or dark shade of the wing colour, so the wing keeps its hue.
    lut[_WING_MARK] = wing + 0.62 * (245.0 - wing) if lum < 125 else wing * 0.35
    lut[_EYE_RING] = (205, 200, 190) if eye in ("black", "brown") else (30, 28, 28)  # contrasting ring
    lut[_PUPIL] = (10, 10, 10)
    lut[_GLINT] = (250, 250, 250)
    return lut


def _shade_bird(lab: np.ndarray, win: tuple, lut: np.ndarray, pose: _Pose) -> np.ndarray:
    """Colour the label window and shade it (volume, rim, part edges, outline): (h, w, 3) float."""
    x0, y0, x1, y1, u, v = win
    w = lab[y0:y1, x0:x1]
    rgb = lut[w]
    big = _BIG_PARTS[w]
    bird = w > 0
    # Volume: light from above, darker lower edge.
    fv = 1.0 + 0.17 * np.clip((v - 0.04) / 0.22, -1.3, 1.0)
    # Rim darkening from a blurred silhouette of the big parts (blurred at half resolution).
    h, wd = w.shape
    rad = max(0.5, 0.0225 * pose.scale)
    half = Image.fromarray((big * 255).astype(np.uint8)).reduce(2).filter(ImageFilter.GaussianBlur(rad))
    blur = np.asarray(half.resize((wd, h), Image.BILINEAR), dtype=np.float32) / 255.0
    frim = 0.7 + 0.3 * np.clip(blur * 1.6 - 0.3, 0, 1)
    f = np.where(big, fv * frim, 1.0).astype(np.float32)
    # Bill: lighter top, darker bottom.
    is_bill = w == 8
    if is_bill.any():
        f[is_bill] = 1.0 + 0.1 * np.clip((v[is_bill] - v[is_bill].mean()) / 0.03, -1, 1)
    # Dark lines along part boundaries (feather edges) and an outline around the silhouette.
    k = 2
    edge = np.zeros_like(bird)
    sil = np.zeros_like(bird)
    for i, j in ((np.s_[k:], np.s_[:-k]), (np.s_[:, k:], np.s_[:, :-k])):  # vertical, horizontal
        a, b = w[i], w[j]
        m = (a != b) & big[i] & big[j]
        edge[i] |= m
        edge[j] |= m
        sil[i] |= b == 0
        sil[j] |= a == 0
    f[edge] *= 0.84
    f[sil & big] *= 0.62
    f[sil & (w == 8)] *= 0.85
    out = rgb * f[..., None] + 28.0 * np.clip(fv - 1.0, 0, None)[..., None] * big[..., None]
    return np.clip(out, 0, 255)


# ----------------------------------------------------------------------------------------------
# Perches (canvas resolution; the backgrounds are in backgrounds.py)
# ----------------------------------------------------------------------------------------------

def _perch(kind: str, rng: np.random.Generator, shape: _Shape, pose: _Pose, canvas: int):
    """Perch under the feet (branch, twig, rock) on the canvas: (ys, xs, rgb (N, 3) uint8) or None."""
    if kind == "ground":
        return None
    C = canvas
    fv = shape.feet_v
    feet = pose.to_canvas(np.array([(0.01, fv), (1.01, fv), (0.01, fv - 1)]))
    f0, dvec, nvec = feet[0], feet[1] - feet[0], feet[2] - feet[0]
    dvec, nvec = dvec / np.hypot(*dvec), nvec / np.hypot(*nvec)  # along the perch, and "down"
    img = Image.new("L", (C, C), 0)
    d = ImageDraw.Draw(img)
    if kind == "water":  # a rock the bird stands on
        ra, rb = rng.uniform(0.14, 0.24) * C, rng.uniform(0.06, 0.1) * C
        ang = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        lump = 1 + 0.08 * np.sin(3 * ang + rng.uniform(0, 6)) + 0.05 * np.sin(5 * ang + rng.uniform(0, 6))
        loc = np.stack([ra * lump * np.cos(ang), rb * lump * np.sin(ang) + 0.8 * rb], 1)
        d.polygon([tuple(q) for q in f0 + loc[:, :1] * dvec + loc[:, 1:] * nvec], fill=1)
        col = _jc(rng, [(120, 115, 105), (105, 95, 80), (140, 135, 125)][int(rng.integers(3))], 12)
        ys, xs = np.nonzero(np.asarray(img))
        px, py = xs + 0.5 - f0[0], ys + 0.5 - f0[1]
        t, sd = px * dvec[0] + py * dvec[1], px * nvec[0] + py * nvec[1]
        shade = 1.15 - 0.45 * np.clip((sd - rb * 0.8) / rb + 0.5, 0, 1.5) - 0.1 * t / ra
        rgb = np.asarray(col, np.float32) * shade[:, None]
        return ys, xs, np.clip(rgb, 0, 255).astype(np.uint8)
    th = {"branch": (0.045, 0.075), "foliage": (0.03, 0.05), "sky": (0.014, 0.024)}[kind]
    th = rng.uniform(*th) * C
    lcol = _jc(rng, (70, 120, 50), 15)
    if kind == "foliage":  # a few leaves on the perch, behind the bird
        for _ in range(int(rng.integers(3, 7))):
            base = f0 + dvec * rng.uniform(-0.5, 0.5) * C + nvec * 0.42 * th
            ang = rng.uniform(-2.6, -0.5)
            ln = rng.uniform(0.06, 0.1) * C
            cen = base + ln * np.array([math.cos(ang), math.sin(ang)])
            leaf = _ellipse_pts(cen[0], cen[1], ln, ln * 0.38, ang, n=20)
            d.polygon([tuple(q) for q in leaf], fill=2)
    t0, t1 = -2.0 * C, 2.0 * C
    if rng.random() < 0.4:  # the perch ends a little beyond the bird
        if rng.random() < 0.5:
            t1 = rng.uniform(0.2, 0.35) * C
        else:
            t0 = -rng.uniform(0.2, 0.35) * C
    c0, c1 = 0.42 * th - th / 2, 0.42 * th + th / 2
    quad = [f0 + dvec * t + nvec * c for t, c in ((t0, c0), (t1, c0), (t1, c1), (t0, c1))]
    d.polygon([tuple(q) for q in quad], fill=1)
    bark_cols = [(95, 75, 55), (110, 100, 90), (80, 65, 50), (125, 105, 80)]
    col = _jc(rng, bark_cols[int(rng.integers(4))], 10)
    lab = np.asarray(img)
    ys, xs = np.nonzero(lab)
    px, py = xs + 0.5 - f0[0], ys + 0.5 - f0[1]
    t, c = px * dvec[0] + py * dvec[1], px * nvec[0] + py * nvec[1] - 0.42 * th
    bark = np.sin(2 * math.pi * c / (th / 2.5) + 0.7 * np.sin(t / (0.7 * th)))  # wavy grain
    shade = 1.15 - 0.5 * (c / th + 0.5) + 0.06 * bark
    rgb = np.asarray(col, np.float32) * shade[:, None]
    leaf = lab[ys, xs] == 2
    if leaf.any():
        rgb[leaf] = np.asarray(lcol, np.float32) * (0.8 + 0.2 * ys[leaf, None] / C)
    return ys, xs, np.clip(rgb, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Rendering one image
# ----------------------------------------------------------------------------------------------

def render_bird(attrs: dict, rng: np.random.Generator, size: int = 64, background: str | None = None,
                photo: bool = False) -> tuple[Image.Image, np.ndarray, tuple]:
    """Render one bird with the given attributes.

    attrs: every attribute of ATTRIBUTES except has_primary_color (derived); rng: all per-image
    randomness (pose, background, jitter); size: output side in pixels (64, 128, 256, ...);
    background: one of BACKGROUNDS (with photo, also "white", "cluttered" or "cutout"), random when None;
    photo: photo-like variation (ours; photo.py): feather texture, light, cast shadow, camera.
    Returns (RGB image, or RGBA for a cut-out, uint8 part map (size, size) with PART_LABELS values, bbox (x, y, w, h)).
    """
    attrs = complete_attributes(attrs)
    if size < 32:
        raise ValueError(f"size must be >= 32, got {size}")
    ss = 4
    C = size * ss
    scenes = BACKGROUNDS + photo_mod.PHOTO_SCENES if photo else BACKGROUNDS
    kind = background if background is not None else scenes[int(rng.integers(len(scenes)))]
    if kind not in scenes and not (photo and kind == photo_mod.CUTOUT):
        raise ValueError(f"background {kind!r} is not one of {scenes}" + ("" if photo else " (photo=True has more)"))
    frac = _SIZE_FRAC[attrs["has_size"]] * rng.uniform(0.96, 1.04)
    shape = _bird_shape(attrs, frac, rng)
    facing = 1 if rng.random() < 0.5 else -1
    tilt = rng.uniform(-0.18, 0.18)
    ext = _Pose(facing, tilt, frac * C, 0.0, 0.0).to_canvas(_shape_points(shape))
    lo, hi = ext.min(0), ext.max(0)
    m = 0.04 * C

    def place(lo_, hi_, m0, m1):
        """Uniform position keeping [lo_, hi_] inside the frame, centred when it does not fit."""
        a, b = m0 - lo_, C - m1 - hi_
        return rng.uniform(a, b) if b > a else (C - lo_ - hi_) / 2

    pose = _Pose(facing, tilt, frac * C, place(lo[0], hi[0], m, m), place(lo[1], hi[1], m, 0.08 * C))

    lab, win = _rasterize(shape, pose, C, attrs["has_wing_pattern"])
    lut = _part_colors(attrs, rng)
    bird_rgb = _shade_bird(lab, win, lut, pose)
    x0, y0, x1, y1 = win[:4]
    if photo:
        w = lab[y0:y1, x0:x1]
        bird_rgb = photo_mod.feather_and_light(bird_rgb, w, win[4], win[5], _BIG_PARTS[w], rng)

    fg = np.zeros((C, C, 4), np.uint8)
    perch = _perch(photo_mod.PERCH.get(kind, kind), rng, shape, pose, C)
    if perch is not None:
        pys, pxs, prgb = perch
        fg[pys, pxs, :3] = prgb
        fg[pys, pxs, 3] = 255
    wmask = lab[y0:y1, x0:x1] > 0
    sub = fg[y0:y1, x0:x1]
    sub[wmask, :3] = bird_rgb[wmask].astype(np.uint8)
    sub[wmask, 3] = 255
    # 4x -> 1x: a 2x box reduction, then LANCZOS (what Pillow's reducing_gap does, but explicit)
    fgi = Image.fromarray(fg, "RGBA").reduce(2).resize((size, size), Image.LANCZOS)
    fgi = np.asarray(fgi, np.float32)
    alpha = fgi[..., 3:] / 255.0

    feet = pose.to_canvas(np.array([(0.01, shape.feet_v)]))[0] / ss
    if kind == photo_mod.CUTOUT:  # no scene: the bird on transparency, through the camera without JPEG
        rgb = photo_mod.camera(fgi[..., :3], rng, jpeg=False)
        img = Image.fromarray(np.concatenate([rgb, fgi[..., 3:]], -1).astype(np.uint8), "RGBA")
        return (img,) + _part_map_and_box(lab, win, size, ss)
    if kind in photo_mod.PHOTO_SCENES:
        bg = photo_mod.scene(kind, rng, size)
    else:
        bg = _background(kind, rng, size, float(feet[1]))
    if photo:
        bg = photo_mod.cast_shadow(bg, alpha, rng)
    if kind == "ground":  # soft contact shadow under the feet
        sh = Image.new("L", (size, size), 0)
        r = 0.22 * frac * size
        ImageDraw.Draw(sh).ellipse([feet[0] - r, feet[1] - 0.3 * r, feet[0] + r, feet[1] + 0.3 * r], fill=255)
        sh = np.asarray(sh.filter(ImageFilter.GaussianBlur(0.3 * r + 0.5)), np.float32)[..., None] / 255
        bg = bg * (1 - 0.35 * sh)
    out = fgi[..., :3] * alpha + bg * (1 - alpha)
    if photo:
        out = photo_mod.camera(out, rng)
    else:
        out = out * rng.uniform(0.96, 1.04) + rng.normal(0, 2.0, out.shape)
    img = Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")
    return (img,) + _part_map_and_box(lab, win, size, ss)


def _part_map_and_box(lab: np.ndarray, win: tuple, size: int, ss: int) -> tuple[np.ndarray, tuple]:
    """The part map at the output size and the bird's bounding box (x, y, w, h) in output pixels."""
    x0, y0 = win[:2]
    parts = np.asarray(Image.fromarray(_SUB_TO_PART[lab]).resize((size, size), Image.NEAREST))
    ys, xs = np.nonzero(lab[y0:win[3], x0:win[2]])
    bx0, by0 = (xs.min() + x0) // ss, (ys.min() + y0) // ss
    bx1, by1 = (xs.max() + x0) // ss + 1, (ys.max() + y0) // ss + 1
    return np.ascontiguousarray(parts), (float(bx0), float(by0), float(bx1 - bx0), float(by1 - by0))
