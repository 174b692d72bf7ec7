"""SynthBirds: a procedural renderer of CUB-like birds with known attributes.

No real bird photographs are reachable on our machines, so SynthBirds draws side-view birds with PIL
(4x supersampling, LANCZOS down-sampling) and writes them in *exactly* the CUB-200-2011 / AttnGAN
directory layout (images, captions, attributes, boxes, part maps, train/test pickles), so that one loader
serves SynthBirds and the real datasets alike (see DESIGN.md, "The data problem and SynthBirds").

Public API:
    ATTRIBUTES, ATTR_PART, ATTR_REGIONS, PART_LABELS, COLORS, PALETTE
    render_bird(attrs, rng, size=64) -> (PIL RGB image, uint8 part map, bbox)
    make_species(seed) -> [(class_dir, attrs), ...]        200 fixed attribute combinations
    make_captions(attrs, rng, k=10) -> [str]               CUB-style captions, 2-5 attributes each
    make_caption(attrs, rng) -> (str, {attr: value})       one caption and what it mentions
    parse_caption(text) -> {attr: value}                   reads mentioned attributes from free text
    write_synthbirds(out, size=64, n=11788, seed=0, workers=2) -> Path
    contact_sheet(root, out_png, rows=8, cols=8) -> Path

Everything is deterministic: species from `seed`, each image from (seed, image id), so the output
does not depend on the number of workers.
"""
from __future__ import annotations

import json
import math
import multiprocessing as mp
import pickle
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

VERSION = "1.0"

# ----------------------------------------------------------------------------------------------
# Attribute schema
# ----------------------------------------------------------------------------------------------

#: CUB colour names with their fixed RGB; chosen far apart so that they survive jitter and shading.
PALETTE: dict[str, tuple[int, int, int]] = {
    "blue": (45, 95, 215),
    "brown": (112, 70, 40),
    "purple": (125, 55, 160),
    "rufous": (182, 72, 32),
    "grey": (140, 142, 145),
    "yellow": (245, 212, 40),
    "olive": (124, 130, 46),
    "green": (45, 160, 70),
    "pink": (240, 150, 185),
    "orange": (250, 148, 22),
    "black": (28, 28, 30),
    "white": (243, 243, 237),
    "red": (205, 30, 35),
    "buff": (222, 192, 140),
}
COLORS: tuple[str, ...] = tuple(PALETTE)
EYE_COLORS = ("black", "brown", "red", "orange", "yellow", "white")
BILL_COLORS = ("black", "grey", "brown", "yellow", "orange", "red", "pink")
LEG_COLORS = ("black", "grey", "brown", "buff", "pink", "yellow", "orange")
BILL_LENGTHS = ("shorter_than_head", "about_the_same_as_head", "longer_than_head")
WING_PATTERNS = ("solid", "spotted", "striped", "wing-bars")
SIZES = ("small_(5_-_9_in)", "medium_(9_-_16_in)", "large_(16_-_32_in)")

#: Attribute name -> values, CUB naming ("has_belly_color::red"); attribute ids follow this order.
ATTRIBUTES: dict[str, list[str]] = {
    "has_bill_length": list(BILL_LENGTHS),
    "has_wing_color": list(COLORS),
    "has_upperparts_color": list(COLORS),
    "has_belly_color": list(COLORS),
    "has_throat_color": list(COLORS),
    "has_eye_color": list(EYE_COLORS),
    "has_size": list(SIZES),
    "has_primary_color": list(COLORS),
    "has_leg_color": list(LEG_COLORS),
    "has_bill_color": list(BILL_COLORS),
    "has_crown_color": list(COLORS),
    "has_wing_pattern": list(WING_PATTERNS),
}

#: Short human name of each attribute (UI labels).
ATTR_PART: dict[str, str] = {
    "has_bill_length": "bill length",
    "has_wing_color": "wings",
    "has_upperparts_color": "back",
    "has_belly_color": "belly",
    "has_throat_color": "throat",
    "has_eye_color": "eyes",
    "has_size": "size",
    "has_primary_color": "overall colour",
    "has_leg_color": "legs",
    "has_bill_color": "bill",
    "has_crown_color": "crown",
    "has_wing_pattern": "wing pattern",
}

#: Segmentation labels (value in the part map -> part name); 0 is background.
PART_LABELS: dict[int, str] = {
    1: "body", 2: "belly", 3: "back", 4: "wing", 5: "crown",
    6: "throat", 7: "eye", 8: "bill", 9: "tail", 10: "legs",
}

#: Which part-map regions each attribute paints (edit masks, PSNR outside the edited part).
#: The "body" label (face, nape, neck) takes the upperparts colour, the tail takes the wing colour.
ATTR_REGIONS: dict[str, tuple[str, ...]] = {
    "has_bill_length": ("bill",),
    "has_wing_color": ("wing", "tail"),
    "has_upperparts_color": ("back", "body"),
    "has_belly_color": ("belly",),
    "has_throat_color": ("throat",),
    "has_eye_color": ("eye",),
    "has_size": ("body", "belly", "back", "wing", "crown", "throat", "eye", "bill", "tail", "legs"),
    "has_primary_color": ("body", "belly", "back", "wing", "crown", "throat", "tail"),
    "has_leg_color": ("legs",),
    "has_bill_color": ("bill",),
    "has_crown_color": ("crown",),
    "has_wing_pattern": ("wing",),
}

BACKGROUNDS = ("sky", "foliage", "water", "ground", "branch")

# Internal drawing labels: 1..10 as PART_LABELS plus sub-labels folded into parts in the part map.
_WING_MARK, _EYE_RING, _PUPIL, _GLINT = 11, 12, 13, 14
_SUB_TO_PART = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 4, 7, 7, 7, 0], dtype=np.uint8)
_BIG_PARTS = np.zeros(16, dtype=bool)
_BIG_PARTS[[1, 2, 3, 4, 5, 6, 9, _WING_MARK]] = True
_SIZE_FRAC = {SIZES[0]: 0.40, SIZES[1]: 0.52, SIZES[2]: 0.64}  # bird length / frame width
_HEAD_SCALE = {SIZES[0]: 1.12, SIZES[1]: 1.0, SIZES[2]: 0.9}  # small birds have bigger heads
_BILL_FACTOR = {BILL_LENGTHS[0]: 0.45, BILL_LENGTHS[1]: 1.0, BILL_LENGTHS[2]: 1.6}  # x head diameter
_AREA_WEIGHT = {  # nominal share of the visible bird, for has_primary_color
    "has_wing_color": 0.34, "has_belly_color": 0.28, "has_upperparts_color": 0.22,
    "has_crown_color": 0.07, "has_throat_color": 0.06,
}


def attribute_pairs() -> list[tuple[str, str]]:
    """All (attribute, value) pairs in CUB id order (attr_id = index + 1)."""
    return [(a, v) for a, vals in ATTRIBUTES.items() for v in vals]


def primary_color(attrs: dict) -> str:
    """The colour covering most of the bird (CUB's has_primary_color), from nominal part areas."""
    score: dict[str, float] = {}
    for attr, w in _AREA_WEIGHT.items():
        score[attrs[attr]] = score.get(attrs[attr], 0.0) + w
    return max(score, key=lambda c: (score[c], -COLORS.index(c)))


def _complete(attrs: dict) -> dict:
    """Validate an attribute dict and (re)compute has_primary_color; returns a new dict."""
    out = {}
    for attr, values in ATTRIBUTES.items():
        if attr == "has_primary_color":
            continue
        if attr not in attrs:
            raise KeyError(f"attribute {attr!r} missing; SynthBirds needs all of {list(ATTRIBUTES)}")
        if attrs[attr] not in values:
            raise ValueError(f"{attr}={attrs[attr]!r} is not one of {values}")
        out[attr] = attrs[attr]
    out["has_primary_color"] = primary_color(out)
    return {a: out[a] for a in ATTRIBUTES}


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
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return _rot(np.stack([a * np.cos(t), b * np.sin(t)], 1), ang) + (cx, cy)


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
    wing_axis: tuple  # (shoulder (2,), tip (2,), half width)
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
    hx, hy = 0.28 + 0.1 * math.cos(P) * 0.5, 0.25
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
    bthick = max(0.62 * rh, 2.4 * px)
    bx = hx + 0.8 * rh
    by = hy - 0.12 * rh
    droop = 0.18 * blen if attrs["has_bill_length"] == BILL_LENGTHS[2] else 0.05 * blen
    bill = np.array([
        (bx - 0.15 * rh, by + 0.5 * bthick), (bx + 0.45 * blen, by + 0.18 * bthick - 0.4 * droop),
        (bx + blen, by - droop), (bx + 0.5 * blen, by - 0.22 * bthick - 0.5 * droop),
        (bx - 0.15 * rh, by - 0.5 * bthick)])
    er = min(max(0.3 * rh, 1.8 * px), 0.5 * rh)
    eye = (hx + 0.36 * rh, hy + 0.14 * rh, er)
    feet_v = -0.34
    legs = []
    for hu in (-0.03, 0.05):
        hip, knee = (hu, -0.12), (hu + 0.02, -0.24)
        foot = (hu, feet_v)
        legs.append((hip, knee, foot, (hu + 0.075, feet_v - 0.005), (hu - 0.05, feet_v + 0.005)))
    return _Shape(
        posture=P, torso=(0.0, 0.0, ta, tb), head=(hx, hy, rh), neck=(0.2, 0.13, 0.12, 0.15),
        tail=tail, wing=wing, wing_axis=(sh, tip, 0.12), bill=bill, eye=eye, legs=tuple(legs),
        leg_width=max(0.035, 1.6 * px), feet_v=feet_v, px=px)


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
    sh, tip, _ = shape.wing_axis
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
    ring = max(0.25 * er, 0.5 * px)
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
    lut[7] = jit(attrs["has_eye_color"])
    lut[8] = jit(attrs["has_bill_color"])
    lut[10] = jit(attrs["has_leg_color"])
    lum = float(wing @ np.array([0.3, 0.59, 0.11], dtype=np.float32))
    lut[_WING_MARK] = (245, 245, 240) if lum < 125 else (22, 22, 24)
    lut[_EYE_RING] = (205, 200, 190) if attrs["has_eye_color"] == "black" else (30, 28, 28)
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
    # Rim darkening from a blurred silhouette of the big parts.
    rad = max(1.0, 0.045 * pose.scale)
    blur = np.asarray(Image.fromarray((big * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(rad)), dtype=np.float32) / 255.0
    frim = 0.7 + 0.3 * np.clip(blur * 1.6 - 0.3, 0, 1)
    f = np.where(big, fv * frim, 1.0).astype(np.float32)
    # Bill: lighter top, darker bottom.
    f = np.where(w == 8, 1.0 + 0.1 * np.clip((v - v[w == 8].mean()) / 0.03, -1, 1)
                 if (w == 8).any() else 1.0, f)
    # Dark lines along part boundaries (feather edges) and an outline around the silhouette.
    k = 2
    edge = np.zeros_like(bird)
    sil = np.zeros_like(bird)
    for dy, dx in ((k, 0), (-k, 0), (0, k), (0, -k)):
        sh = np.roll(w, (dy, dx), (0, 1))
        edge |= (sh != w) & big & _BIG_PARTS[sh]
        sil |= (sh == 0)
    f = np.where(edge, f * 0.84, f)
    f = np.where(sil & bird & (w != 10), f * 0.62, f)
    out = rgb * f[..., None] + 28.0 * np.clip(fv - 1.0, 0, None)[..., None] * big[..., None]
    return np.clip(out, 0, 255)


# ----------------------------------------------------------------------------------------------
# Backgrounds (final resolution) and perches (canvas resolution)
# ----------------------------------------------------------------------------------------------

def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1], (size, size) float32."""
    g = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(g, "F").resize((size, size), Image.BICUBIC))


def _vgrad(size: int, top, bottom, y0: float = 0.0, y1: float = 1.0) -> np.ndarray:
    """Vertical colour gradient (size, size, 3) between rows y0*size and y1*size."""
    t = np.clip((np.arange(size, dtype=np.float32) / size - y0) / max(1e-6, y1 - y0), 0, 1)
    col = np.asarray(top, np.float32) * (1 - t[:, None]) + np.asarray(bottom, np.float32) * t[:, None]
    return np.repeat(col[:, None, :], size, axis=1)


def _jc(rng: np.random.Generator, rgb, amount: float = 18) -> tuple[int, int, int]:
    """Jitter a background colour."""
    return tuple(int(c) for c in np.clip(np.asarray(rgb) + rng.uniform(-amount, amount, 3), 0, 255))


def _blobs(rng, size, base: np.ndarray, colors, n, rmin, rmax, blur, alpha=1.0, region=(0, 1)):
    """Paint n random ellipses of the given colours onto `base`, blurred (depth of field)."""
    layer = Image.fromarray(base.astype(np.uint8))
    d = ImageDraw.Draw(layer)
    for _ in range(n):
        cx, cy = rng.uniform(0, size), rng.uniform(region[0] * size, region[1] * size)
        rx, ry = rng.uniform(rmin, rmax) * size, rng.uniform(rmin, rmax) * size
        d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=_jc(rng, colors[rng.integers(len(colors))]))
    arr = np.asarray(layer.filter(ImageFilter.GaussianBlur(blur * size)), dtype=np.float32)
    return base * (1 - alpha) + arr * alpha


def _background(kind: str, rng: np.random.Generator, size: int, feet_y: float) -> np.ndarray:
    """Background image (size, size, 3) float32 for one of BACKGROUNDS; feet_y in output pixels."""
    S = size
    if kind == "sky":
        top = _jc(rng, (70, 125, 205), 20)
        bg = _vgrad(S, top, _jc(rng, (185, 212, 236), 12))
        cloud = Image.new("L", (S, S), 0)
        d = ImageDraw.Draw(cloud)
        for _ in range(int(rng.integers(1, 5))):
            cx, cy, r = rng.uniform(0, S), rng.uniform(0, 0.9 * S), rng.uniform(0.08, 0.2) * S
            for _ in range(4):
                ox, oy = rng.uniform(-1.2, 1.2) * r, rng.uniform(-0.3, 0.3) * r
                d.ellipse([cx + ox - r, cy + oy - 0.55 * r, cx + ox + r, cy + oy + 0.55 * r], fill=255)
        a = np.asarray(cloud.filter(ImageFilter.GaussianBlur(0.05 * S)), np.float32)[..., None] / 255
        bg = bg * (1 - 0.7 * a) + 245 * 0.7 * a
    elif kind == "foliage":
        bg = _vgrad(S, _jc(rng, (40, 70, 35)), _jc(rng, (70, 100, 50)))
        greens = [(50, 95, 40), (80, 120, 50), (35, 70, 40), (100, 130, 60), (60, 90, 60)]
        bg = _blobs(rng, S, bg, greens, 40, 0.04, 0.11, 0.03)
        bg = _blobs(rng, S, bg, [(150, 170, 90), (120, 150, 70)], 6, 0.02, 0.05, 0.05, alpha=0.5)
    elif kind == "water":
        h = rng.uniform(0.12, 0.4)
        bank = _vgrad(S, _jc(rng, (150, 180, 200)), _jc(rng, (60, 85, 55)), 0, h)
        bank = _blobs(rng, S, bank, [(55, 80, 45), (80, 100, 60), (90, 80, 60)], 14, 0.04, 0.1, 0.03,
                      region=(h * 0.4, h))
        water = _vgrad(S, _jc(rng, (120, 150, 170)), _jc(rng, (40, 80, 110)), h, 1)
        rip = Image.fromarray(np.zeros((S, S), np.uint8))
        d = ImageDraw.Draw(rip)
        lw = max(1, S // 64)
        for _ in range(45):
            y = rng.uniform(h, 1) * S
            x = rng.uniform(-0.1, 1) * S
            d.line([x, y, x + rng.uniform(0.05, 0.3) * S, y], fill=int(rng.integers(60, 200)), width=lw)
        r = np.asarray(rip.filter(ImageFilter.GaussianBlur(0.4 * lw)), np.float32)[..., None] / 255
        water = water * (1 - 0.5 * r) + 200 * 0.5 * r
        rows = (np.arange(S) / S < h)[:, None, None]
        bg = np.where(rows, bank, water)
    elif kind == "ground":
        h = float(np.clip(feet_y / S - rng.uniform(0.12, 0.3), 0.08, 0.6))
        far = _vgrad(S, _jc(rng, (150, 185, 215)), _jc(rng, (110, 135, 90)), 0, h)
        far = _blobs(rng, S, far, [(70, 100, 60), (90, 115, 70), (110, 110, 80)], 10, 0.05, 0.12,
                     0.05, region=(0, h))
        soil = [(135, 110, 75), (120, 120, 70), (160, 140, 100), (100, 90, 60)][int(rng.integers(4))]
        earth = _vgrad(S, _jc(rng, soil, 15), _jc(rng, np.array(soil) * 0.7, 10), h, 1)
        earth = earth * (1 + 0.08 * _smooth_noise(rng, S, 8)[..., None])
        rows = (np.arange(S) / S < h)[:, None, None]
        bg = np.where(rows, far, earth)
        g = Image.fromarray(bg.astype(np.uint8))
        d = ImageDraw.Draw(g)
        lw = max(1, S // 64)
        for _ in range(int(1.2 * S)):
            x, y = rng.uniform(0, S), rng.uniform(h, 1) * S
            ln = rng.uniform(0.02, 0.06) * S
            d.line([x, y, x + rng.uniform(-0.3, 0.3) * ln, y - ln],
                   fill=_jc(rng, (95, 125, 55), 25), width=lw)
        bg = np.asarray(g, np.float32)
    else:  # branch: blurred, muted bokeh behind a thick perch
        base = [(150, 150, 135), (120, 140, 110), (170, 160, 140), (110, 125, 135)][int(rng.integers(4))]
        bg = _vgrad(S, _jc(rng, base), _jc(rng, np.array(base) * 0.8))
        bg = _blobs(rng, S, bg, [(90, 110, 80), (190, 185, 165), (130, 120, 100), (150, 170, 160)],
                    14, 0.08, 0.2, 0.08)
    bg = bg + 10.0 * _smooth_noise(rng, S, 5)[..., None]
    return np.clip(bg, 0, 255).astype(np.float32)


def _perch(kind: str, rng: np.random.Generator, shape: _Shape, pose: _Pose, canvas: int):
    """Perch under the feet (branch, twig, rock): (rgb (C,C,3) float32, mask (C,C) bool) or None."""
    if kind == "ground":
        return None
    feet = pose.to_canvas(np.array([(0.01, shape.feet_v), (1.01, shape.feet_v), (0.01, shape.feet_v - 1)]))
    f0, dvec, nvec = feet[0], feet[1] - feet[0], feet[2] - feet[0]
    dvec, nvec = dvec / np.hypot(*dvec), nvec / np.hypot(*nvec)  # along the perch, and "down"
    yy, xx = np.mgrid[0:canvas, 0:canvas].astype(np.float32) + 0.5
    t = (xx - f0[0]) * dvec[0] + (yy - f0[1]) * dvec[1]
    sd = (xx - f0[0]) * nvec[0] + (yy - f0[1]) * nvec[1]
    C = canvas
    if kind == "water":  # a rock the bird stands on
        ra, rb = rng.uniform(0.14, 0.24) * C, rng.uniform(0.06, 0.1) * C
        ang = np.arctan2(sd - rb * 0.8, t)
        lump = 1 + 0.08 * np.sin(3 * ang + rng.uniform(0, 6)) + 0.05 * np.sin(5 * ang + rng.uniform(0, 6))
        mask = (t / ra) ** 2 + ((sd - rb * 0.8) / rb) ** 2 <= lump ** 2
        col = _jc(rng, [(120, 115, 105), (105, 95, 80), (140, 135, 125)][int(rng.integers(3))], 12)
        shade = 1.15 - 0.45 * np.clip((sd - rb * 0.8) / rb + 0.5, 0, 1.5) - 0.1 * t / ra
    else:
        th = {"branch": (0.045, 0.075), "foliage": (0.03, 0.05), "sky": (0.014, 0.024)}[kind]
        th = rng.uniform(*th) * C
        c = sd - 0.42 * th
        mask = np.abs(c) < th / 2
        if rng.random() < 0.4:  # the perch ends a little beyond the bird
            side = 1 if rng.random() < 0.5 else -1
            mask &= side * t < rng.uniform(0.2, 0.35) * C
        col = _jc(rng, [(95, 75, 55), (110, 100, 90), (80, 65, 50), (125, 105, 80)][int(rng.integers(4))], 10)
        shade = 1.15 - 0.5 * (c / th + 0.5) + 0.06 * np.sin(2 * math.pi * c / (th / 2.5) + 0.7 * np.sin(t / (0.7 * th)))
        if kind == "foliage":  # a few leaves on the perch, behind the bird
            leaves = Image.new("L", (C, C), 0)
            d = ImageDraw.Draw(leaves)
            for _ in range(int(rng.integers(3, 7))):
                tt = rng.uniform(-0.5, 0.5) * C
                base = f0 + dvec * tt + nvec * 0.42 * th
                ang = rng.uniform(-2.6, -0.5)
                ln = rng.uniform(0.06, 0.1) * C
                cen = base + ln * np.array([math.cos(ang), math.sin(ang)])
                pts = _ellipse_pts(cen[0], cen[1], ln, ln * 0.38, ang, n=20)
                d.polygon([tuple(p) for p in pts], fill=255)
            lm = np.asarray(leaves) > 0
            lcol = np.array(_jc(rng, (70, 120, 50), 15), np.float32)
            rgb = np.where(mask[..., None], np.array(col, np.float32) * shade[..., None], lcol * (0.8 + 0.2 * (yy / C))[..., None])
            return np.clip(rgb, 0, 255), mask | lm
    rgb = np.array(col, np.float32) * shade[..., None]
    return np.clip(rgb, 0, 255), mask
