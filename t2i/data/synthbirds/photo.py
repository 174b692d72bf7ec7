"""Photo-like SynthBirds (ours; issue 26): the variation a camera adds to a bird, so that models trained or measured
on renders see what uploaded photos look like. render_bird(..., photo=True) applies, in this order:

- feather texture: streaks along the body axis and scalloped feather rows, in bird coordinates (so they follow the
  pose), and a light from a random direction across the bird (feather_and_light, on the 4x canvas);
- two more scenes: "white" (a studio cut-out on white, no perch) and "cluttered" (sharp, high-contrast twigs and
  leaves, the hard case for finding the bird), besides the five of the plain set;
- a soft cast shadow of the bird (and perch) on the scene (cast_shadow);
- the camera (camera): white balance, exposure and contrast, saturation, defocus or motion blur, vignetting,
  sensor noise and JPEG compression, each drawn per image.
The plain renderer's random stream is untouched, so photo=False images stay bit-identical.
"""
from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .backgrounds import _blobs, _jc, _smooth_noise, _vgrad

PHOTO_SCENES = ("white", "cluttered")  # scenes only the photo-like renders use (the plain five come first)
CUTOUT = "cutout"  # photo=True, background="cutout": an RGBA cut-out, transparent around the bird
PERCH = {"white": "ground", "cutout": "ground", "cluttered": "branch"}  # the plain scene whose perch each one takes


def _lattice(u: np.ndarray, v: np.ndarray, grid: np.ndarray, fu: float, fv: float) -> np.ndarray:
    """Value noise at (u * fu, v * fv) over a periodic random grid, bilinear: smooth, in [-1, 1]."""
    n = grid.shape[0]
    x, y = u * fu, v * fv
    x0, y0 = np.floor(x), np.floor(y)
    tx, ty = x - x0, y - y0
    i0, j0 = x0.astype(np.int64) % n, y0.astype(np.int64) % n
    i1, j1 = (i0 + 1) % n, (j0 + 1) % n
    a = grid[j0, i0] * (1 - tx) + grid[j0, i1] * tx
    b = grid[j1, i0] * (1 - tx) + grid[j1, i1] * tx
    return a * (1 - ty) + b * ty


def feather_and_light(rgb: np.ndarray, lab: np.ndarray, u: np.ndarray, v: np.ndarray, big: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """Feather texture and directional light on the bird's window (h, w, 3) float; u, v: its bird coordinates."""
    grid = rng.uniform(-1, 1, (64, 64)).astype(np.float32)
    streak = _lattice(u, v, grid, 14.0, 90.0)  # long along the body, thin across it
    period = rng.uniform(0.045, 0.07)  # feather rows: scallops across the body, offset every other row
    row = np.floor(v / period)
    arc = ((u + 0.5 * period * (row % 2)) / period) % 1.0
    scallop = np.cos(2 * math.pi * (arc - 0.5)) * ((v / period) % 1.0)
    grain = rng.normal(0, 1, u.shape).astype(np.float32)
    tex = 1.0 + rng.uniform(0.05, 0.12) * streak + rng.uniform(0.02, 0.07) * scallop + 0.03 * grain
    ang = rng.uniform(0, 2 * math.pi)  # where the light comes from, in bird coordinates
    side = (u * math.cos(ang) + v * math.sin(ang)) / 0.5
    light = 1.0 + rng.uniform(0.08, 0.28) * np.clip(side, -1, 1)
    f = np.where(big, tex * light, np.where(lab > 0, light, 1.0)).astype(np.float32)
    return np.clip(rgb * f[..., None], 0, 255)


def scene(kind: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """The two photo-only scenes, (size, size, 3) float32."""
    if kind == "white":  # a studio background: near white, a faint gradient
        return _vgrad(size, _jc(rng, (250, 250, 248), 4), _jc(rng, (236, 236, 232), 6))
    if kind == "cluttered":  # sharp, contrasting leaves and twigs all over
        base = [(90, 110, 70), (140, 130, 110), (70, 90, 80)][int(rng.integers(3))]
        bg = _vgrad(size, _jc(rng, base), _jc(rng, np.array(base) * 0.7))
        cols = [(40, 70, 30), (150, 170, 80), (200, 190, 160), (90, 60, 40), (60, 110, 50), (230, 220, 120)]
        bg = _blobs(rng, size, bg, cols, 70, 0.015, 0.06, 0.002)
        img = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(6, 14))):
            x, y = rng.uniform(0, size, 2)
            ang, ln = rng.uniform(0, 2 * math.pi), rng.uniform(0.2, 0.7) * size
            d.line([x, y, x + ln * math.cos(ang), y + ln * math.sin(ang)], fill=_jc(rng, (85, 65, 45), 20),
                   width=max(1, int(rng.uniform(0.01, 0.03) * size)))
        return np.asarray(img, np.float32) + 8.0 * _smooth_noise(rng, size, 12)[..., None]
    raise ValueError(f"no photo scene {kind!r}; photo scenes: {PHOTO_SCENES}")


def cast_shadow(bg: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Darken the scene under a soft, offset copy of the foreground's alpha (size, size, 1)."""
    size = bg.shape[0]
    dx, dy = int(round(rng.uniform(-0.08, 0.08) * size)), int(round(rng.uniform(0.01, 0.07) * size))
    sh = np.roll(np.roll(alpha[..., 0], dy, axis=0), dx, axis=1)
    sh = np.asarray(Image.fromarray((sh * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(rng.uniform(0.015, 0.05) * size)), np.float32)[..., None] / 255
    return bg * (1 - rng.uniform(0.15, 0.4) * sh)


def camera(out: np.ndarray, rng: np.random.Generator, jpeg: bool = True) -> np.ndarray:
    """A camera's look on a finished (size, size, 3) float image in 0..255: returns float 0..255."""
    size = out.shape[0]
    out = out * rng.uniform(0.93, 1.07, 3)  # white balance
    mean = out.mean()
    out = (out - mean) * rng.uniform(0.85, 1.2) + mean * rng.uniform(0.85, 1.12)  # contrast, exposure
    grey = out.mean(-1, keepdims=True)
    out = grey + (out - grey) * rng.uniform(0.75, 1.25)  # saturation
    out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** rng.uniform(0.85, 1.2)  # tone curve
    img = Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))
    r = rng.random()
    if r < 0.55:  # defocus
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 0.9) * size / 64))
    elif r < 0.7:  # motion blur: the average of copies shifted along a random direction
        ang, n = rng.uniform(0, math.pi), max(2, int(round(rng.uniform(1.5, 3.5) * size / 64)))
        a = np.asarray(img, np.float32)
        img = Image.fromarray(np.clip(sum(np.roll(a, (int(round(k * math.sin(ang))), int(round(k * math.cos(ang)))),
                                                 axis=(0, 1)) for k in range(n)) / n + 0.5, 0, 255).astype(np.uint8))
    out = np.asarray(img, np.float32)
    if rng.random() < 0.35:  # vignetting
        yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size - 0.5
        out = out * (1 - rng.uniform(0.1, 0.35) * (xx ** 2 + yy ** 2) / 0.5)[..., None]
    out = out + rng.normal(0, rng.uniform(1.0, 6.0), out.shape)  # sensor noise, per channel (chroma noise)
    out = np.clip(out + 0.5, 0, 255)
    if jpeg and rng.random() < 0.7:
        buf = io.BytesIO()
        Image.fromarray(out.astype(np.uint8)).save(buf, "JPEG", quality=int(rng.integers(35, 91)))
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), np.float32)
    return out
