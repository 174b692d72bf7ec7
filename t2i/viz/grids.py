"""Image grids (PIL), optionally with a caption under each tile."""
from __future__ import annotations

import textwrap

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from t2i.data.fonts import sheet_font


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    """[N, 3, H, W] in [-1, 1] -> list of RGB PIL images."""
    arr = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(a) for a in arr]


def tile(pils: list[Image.Image], nrow: int, pad: int = 2, captions: list[str] | None = None,
         scale: int = 1, bg=(255, 255, 255)) -> Image.Image:
    """Tile images into rows of `nrow`, each upscaled by `scale`, captions wrapped beneath when given."""
    if not pils:
        raise ValueError("no images to tile")
    w, h = pils[0].size
    w, h = w * scale, h * scale
    font = ImageFont.load_default()
    text_h = 0
    wrapped = None
    if captions:
        chars = max(8, w // 6)
        wrapped = ["\n".join(textwrap.wrap(c, chars)[:4]) for c in captions]
        text_h = 12 * max(c.count("\n") + 1 for c in wrapped) + 4
    ncol = min(nrow, len(pils))
    rows = (len(pils) + nrow - 1) // nrow
    sheet = Image.new("RGB", (ncol * (w + pad) + pad, rows * (h + text_h + pad) + pad), bg)
    draw = ImageDraw.Draw(sheet)
    for i, im in enumerate(pils):
        r, c = divmod(i, nrow)
        x, y = pad + c * (w + pad), pad + r * (h + text_h + pad)
        sheet.paste(im.resize((w, h), Image.NEAREST) if scale != 1 else im, (x, y))
        if wrapped:
            draw.multiline_text((x + 1, y + h + 2), wrapped[i], fill=(20, 20, 20), font=font, spacing=1)
    return sheet


def image_grid(images: torch.Tensor, nrow: int = 8, captions: list[str] | None = None, scale: int = 1) -> Image.Image:
    return tile(to_pil(images), nrow, captions=captions, scale=scale)


def spotlight(image: Image.Image, mask: np.ndarray, floor: float = 0.18) -> Image.Image:
    """A [0, 1] mask (any size; resized) shown as a spotlight: the image in full colour where the mask is high,
    faded to a dim grey where it is low (no tint, so the bird's own colours stay readable)."""
    m = Image.fromarray((np.clip(mask, 0, 1) * 255).astype(np.uint8)).resize(image.size, Image.BILINEAR)
    m = np.asarray(m, dtype=np.float32)[..., None] / 255.0
    base = np.asarray(image.convert("RGB"), dtype=np.float32)
    grey = base.mean(axis=2, keepdims=True) * 0.45 + 120 * 0.55
    out = base * m + grey * (1 - m)
    out = out * (floor + (1 - floor) * (0.35 + 0.65 * m))
    return Image.fromarray(out.clip(0, 255).astype(np.uint8))


def sheet_image(rows: list[tuple[str, list[Image.Image]]], columns: list[str], title: str, side: int = 256,
                pad: int = 8, label_w: int = 220, footer: list[str] | None = None) -> Image.Image:
    """rows of (label, images) under column headers, a title on top, optional footer lines (e.g. a legend);
    images shown at side x side (nearest)."""
    f, fb = sheet_font(15), sheet_font(17)
    head = 64
    ncol = len(columns)
    foot = 20 * len(footer or []) + (pad if footer else 0)
    sheet = Image.new("RGB", (label_w + ncol * (side + pad) + pad, head + len(rows) * (side + pad) + pad + foot),
                      "white")
    d = ImageDraw.Draw(sheet)
    d.text((pad, 8), title, fill=(17, 24, 39), font=fb)
    for c, name in enumerate(columns):
        d.text((label_w + c * (side + pad) + 4, 36), name, fill=(55, 65, 81), font=f)
    for r, (label, ims) in enumerate(rows):
        y = head + r * (side + pad)
        for k, line in enumerate(label.split("\n")):
            d.text((pad, y + side // 2 - 18 + 20 * k), line, fill=(31, 41, 55), font=f)
        for c, im in enumerate(ims):
            sheet.paste(im if im.size == (side, side) else im.resize((side, side), Image.NEAREST),
                        (label_w + c * (side + pad), y))
    for k, line in enumerate(footer or []):
        d.text((pad, head + len(rows) * (side + pad) + pad + 20 * k), line, fill=(55, 65, 81), font=f)
    return sheet
