"""SynthBirds backgrounds: the scene behind the bird (sky, foliage, water, ground, branch), painted at the output
resolution with soft shapes and lighting noise; render_bird (render.py) composites the bird over it."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

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
    j = rng.uniform(-amount, amount, 3)
    return tuple(min(255, max(0, int(float(c) + float(e)))) for c, e in zip(rgb, j))


def _blobs(rng, size, base: np.ndarray, colors, n, rmin, rmax, blur, alpha=1.0, region=(0, 1)):
    """Paint n random ellipses of the given colours onto `base`, blurred (depth of field)."""
    layer = Image.fromarray(base.astype(np.uint8))
    d = ImageDraw.Draw(layer)
    cx = rng.uniform(0, size, n)
    cy = rng.uniform(region[0] * size, region[1] * size, n)
    r = rng.uniform(rmin, rmax, (n, 2)) * size
    cols = np.asarray(colors, np.float32)[rng.integers(len(colors), size=n)]
    cols = np.clip(cols + rng.uniform(-18, 18, (n, 3)), 0, 255).astype(np.int64).tolist()
    for k in range(n):
        box = [cx[k] - r[k, 0], cy[k] - r[k, 1], cx[k] + r[k, 0], cy[k] + r[k, 1]]
        d.ellipse(box, fill=tuple(cols[k]))
    arr = np.asarray(layer.filter(ImageFilter.GaussianBlur(blur * size)), dtype=np.float32)
    return base * (1 - alpha) + arr * alpha


def _bg_sky(rng: np.random.Generator, S: int, feet_y: float) -> np.ndarray:
    """Blue sky gradient with soft clouds."""
    bg = _vgrad(S, _jc(rng, (70, 125, 205), 20), _jc(rng, (185, 212, 236), 12))
    cloud = Image.new("L", (S, S), 0)
    d = ImageDraw.Draw(cloud)
    for _ in range(int(rng.integers(1, 5))):
        cx, cy, r = rng.uniform(0, S), rng.uniform(0, 0.9 * S), rng.uniform(0.08, 0.2) * S
        for _ in range(4):
            ox, oy = rng.uniform(-1.2, 1.2) * r, rng.uniform(-0.3, 0.3) * r
            d.ellipse([cx + ox - r, cy + oy - 0.55 * r, cx + ox + r, cy + oy + 0.55 * r], fill=255)
    a = np.asarray(cloud.filter(ImageFilter.GaussianBlur(0.05 * S)), np.float32)[..., None] / 255
    return bg * (1 - 0.7 * a) + 245 * 0.7 * a


def _bg_foliage(rng: np.random.Generator, S: int, feet_y: float) -> np.ndarray:
    """Out-of-focus leaves in greens, with a few sun flecks."""
    bg = _vgrad(S, _jc(rng, (40, 70, 35)), _jc(rng, (70, 100, 50)))
    greens = [(50, 95, 40), (80, 120, 50), (35, 70, 40), (100, 130, 60), (60, 90, 60)]
    bg = _blobs(rng, S, bg, greens, 40, 0.04, 0.11, 0.03)
    return _blobs(rng, S, bg, [(150, 170, 90), (120, 150, 70)], 6, 0.02, 0.05, 0.05, alpha=0.5)


def _bg_water(rng: np.random.Generator, S: int, feet_y: float) -> np.ndarray:
    """A far bank with trees above water with ripples."""
    h = rng.uniform(0.12, 0.4)
    bank = _vgrad(S, _jc(rng, (150, 180, 200)), _jc(rng, (60, 85, 55)), 0, h)
    bank = _blobs(rng, S, bank, [(55, 80, 45), (80, 100, 60), (90, 80, 60)], 14, 0.04, 0.1, 0.03,
                  region=(h * 0.4, h))
    water = _vgrad(S, _jc(rng, (120, 150, 170)), _jc(rng, (40, 80, 110)), h, 1)
    rip = Image.new("L", (S, S), 0)
    d = ImageDraw.Draw(rip)
    lw = max(1, S // 64)
    for _ in range(45):
        y, x = rng.uniform(h, 1) * S, rng.uniform(-0.1, 1) * S
        d.line([x, y, x + rng.uniform(0.05, 0.3) * S, y], fill=int(rng.integers(60, 200)), width=lw)
    r = np.asarray(rip.filter(ImageFilter.GaussianBlur(0.4 * lw)), np.float32)[..., None] / 255
    water = water * (1 - 0.5 * r) + 200 * 0.5 * r
    return np.where((np.arange(S) / S < h)[:, None, None], bank, water)


def _bg_ground(rng: np.random.Generator, S: int, feet_y: float) -> np.ndarray:
    """Soil with grass blades, the horizon above the bird's feet, blurred greenery behind."""
    h = float(np.clip(feet_y / S - rng.uniform(0.12, 0.3), 0.08, 0.6))
    far = _vgrad(S, _jc(rng, (150, 185, 215)), _jc(rng, (110, 135, 90)), 0, h)
    far = _blobs(rng, S, far, [(70, 100, 60), (90, 115, 70), (110, 110, 80)], 10, 0.05, 0.12, 0.05,
                 region=(0, h))
    soil = [(135, 110, 75), (120, 120, 70), (160, 140, 100), (100, 90, 60)][int(rng.integers(4))]
    earth = _vgrad(S, _jc(rng, soil, 15), _jc(rng, np.array(soil) * 0.7, 10), h, 1)
    earth = earth * (1 + 0.08 * _smooth_noise(rng, S, 8)[..., None])
    g = Image.fromarray(np.where((np.arange(S) / S < h)[:, None, None], far, earth).astype(np.uint8))
    d = ImageDraw.Draw(g)
    lw = max(1, S // 64)
    for _ in range(int(1.2 * S)):
        x, y = rng.uniform(0, S), rng.uniform(h, 1) * S
        ln = rng.uniform(0.02, 0.06) * S
        d.line([x, y, x + rng.uniform(-0.3, 0.3) * ln, y - ln], fill=_jc(rng, (95, 125, 55), 25), width=lw)
    return np.asarray(g, np.float32)


def _bg_branch(rng: np.random.Generator, S: int, feet_y: float) -> np.ndarray:
    """Blurred, muted bokeh (the thick perch is drawn by _perch)."""
    base = [(150, 150, 135), (120, 140, 110), (170, 160, 140), (110, 125, 135)][int(rng.integers(4))]
    bg = _vgrad(S, _jc(rng, base), _jc(rng, np.array(base) * 0.8))
    return _blobs(rng, S, bg, [(90, 110, 80), (190, 185, 165), (130, 120, 100), (150, 170, 160)],
                  14, 0.08, 0.2, 0.08)


_BG_PAINTERS = {"sky": _bg_sky, "foliage": _bg_foliage, "water": _bg_water, "ground": _bg_ground,
                "branch": _bg_branch}


def _background(kind: str, rng: np.random.Generator, size: int, feet_y: float) -> np.ndarray:
    """Background image (size, size, 3) float32 for one of BACKGROUNDS; feet_y in output pixels."""
    bg = _BG_PAINTERS[kind](rng, size, feet_y)
    bg = bg + 10.0 * _smooth_noise(rng, size, 5)[..., None]  # low-frequency lighting variation
    return np.clip(bg, 0, 255).astype(np.float32)
