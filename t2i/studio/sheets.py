"""PIL drawing for the studio: the font, display upscaling, labelled sheets of images, difference maps and
word-attention sheets."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from t2i.studio.errors import StudioError

DISPLAY_SIDE = 256  # images are shown at this side (the models make 32-256 px birds)
_FONTS: dict[tuple[int, bool], ImageFont.ImageFont] = {}


def font(size: int = 14, bold: bool = False):
    """DejaVu Sans from matplotlib's data (always installed with it); PIL's default font otherwise."""
    key = (size, bold)
    if key not in _FONTS:
        try:
            import matplotlib

            name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
            _FONTS[key] = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)
        except (OSError, ImportError):
            _FONTS[key] = ImageFont.load_default(size=size)
    return _FONTS[key]


def upscale(im: Image.Image, side: int = DISPLAY_SIDE) -> Image.Image:
    """Bring a small model image up to `side` for display (smooth), keep larger ones."""
    if im.size[0] >= side:
        return im
    return im.resize((side, round(side * im.size[1] / im.size[0])), Image.LANCZOS)


def _wrap(draw: ImageDraw.ImageDraw, text: str, fnt, width: int, max_lines: int = 3) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        trial = f"{cur} {w}".strip()
        if draw.textlength(trial, font=fnt) <= width or not cur:
            cur = trial
        else:
            lines.append(cur)
            cur = w
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        while lines[-1] and draw.textlength(lines[-1] + "…", font=fnt) > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] += "…"
    return lines


def labelled_grid(rows: list[list[Image.Image | None]], col_labels: list[str] | None = None,
                  row_labels: list[str] | None = None, side: int = 160, pad: int = 8,
                  bg=(255, 255, 255), fg=(31, 41, 55)) -> Image.Image:
    """A sheet of images (rows x columns, None = empty cell) with wrapped column headers and row labels."""
    ncol = max(len(r) for r in rows)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    f_col, f_row = font(13, True), font(13, True)
    col_lines = [_wrap(probe, c, f_col, side) for c in col_labels] if col_labels else []
    head = (max(len(c) for c in col_lines) * 16 + 8) if col_lines else 0
    row_w = (max(int(probe.textlength(w, font=f_row)) for r in row_labels for w in r.split("\n")) + 2 * pad) \
        if row_labels else 0
    row_w = min(row_w, 220)
    W = row_w + ncol * (side + pad) + pad
    H = head + len(rows) * (side + pad) + pad
    sheet = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(sheet)
    for j, lines in enumerate(col_lines):
        x = row_w + pad + j * (side + pad)
        for k, line in enumerate(lines):
            d.text((x + side / 2, pad + k * 16), line, fill=fg, font=f_col, anchor="ma")
    for i, r in enumerate(rows):
        y = head + pad + i * (side + pad)
        if row_labels:
            lines = []
            for part in row_labels[i].split("\n"):
                lines += _wrap(d, part, f_row, row_w - 2 * pad, 2)
            y0 = y + side / 2 - 8 * len(lines)
            for k, line in enumerate(lines):
                d.text((pad, y0 + 16 * k), line, fill=fg, font=f_row)
        for j, im in enumerate(r):
            if im is not None:
                sheet.paste(im.convert("RGB").resize((side, side), Image.LANCZOS), (row_w + pad + j * (side + pad), y))
    return sheet


def difference_map(a: Image.Image, b: Image.Image, cmap: str = "magma") -> tuple[Image.Image, float]:
    """|a - b| averaged over colour, scaled to its maximum and coloured; and the mean change in [0, 1]."""
    from matplotlib import colormaps

    x = np.asarray(a.convert("RGB"), dtype=np.float32) / 255.0
    y = np.asarray(b.convert("RGB").resize(a.size), dtype=np.float32) / 255.0
    d = np.abs(x - y).mean(-1)
    m = float(d.max())
    if m < 1.5 / 255:  # nothing changed (at 8 bits): say so instead of showing a black square
        tile = Image.new("RGB", a.size, (229, 231, 235))
        side = max(a.size[0], 96)
        tile = tile.resize((side, side))
        ImageDraw.Draw(tile).text((side / 2, side / 2), "no change", fill=(75, 85, 99), font=font(side // 8),
                                  anchor="mm")
        return tile, float(d.mean())
    rgb = colormaps[cmap](d / m)[..., :3]
    return Image.fromarray((rgb * 255).astype(np.uint8)), float(d.mean())


def word_attention_sheet(image: Image.Image, maps: np.ndarray, words: list[str], side: int = 128,
                         per_row: int = 4) -> Image.Image:
    """One layer's word attention [L, h, w] over the image: a tile per word, the word above it. Maps share one
    scale (the layer's maximum), so a word the layer hardly uses stays faint."""
    L = min(len(words), len(maps))
    if L == 0:
        raise StudioError("no words to show")
    m = maps[:L].astype(np.float32)
    top = float(m.max())
    m = m / top if top > 0 else m
    from t2i.viz.cam import heatmap

    base = image.convert("RGB").resize((side, side), Image.LANCZOS)
    tiles = [heatmap(base, m[i], alpha=0.75, cmap="inferno") for i in range(L)]
    rows = [tiles[i:i + per_row] for i in range(0, L, per_row)]
    labels = [words[i:i + per_row] for i in range(0, L, per_row)]
    pad, head = 6, 26
    W = pad + min(per_row, L) * (side + pad)
    H = len(rows) * (side + head + pad) + pad
    sheet = Image.new("RGB", (W, H), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    f = font(18, True)
    for r, (row, labs) in enumerate(zip(rows, labels)):
        y = pad + r * (side + head + pad)
        for c, (t, w) in enumerate(zip(row, labs)):
            x = pad + c * (side + pad)
            d.text((x + side / 2, y + 2), w, fill=(31, 41, 55), font=f, anchor="ma")
            sheet.paste(t, (x, y + head))
    return sheet


def stack_sheets(items: list[tuple[Image.Image, str]], pad: int = 8, top: int = 8) -> Image.Image:
    """Images stacked vertically, each under a bold title (e.g. one word-attention sheet per layer; 18 px text
    stays readable when the app shrinks the sheet to its column)."""
    f = font(18, True)
    W = max(im.size[0] for im, _ in items) + 2 * pad
    H = sum(im.size[1] + 26 for im, _ in items) + pad * len(items) + top
    out = Image.new("RGB", (W, H), (255, 255, 255))
    d = ImageDraw.Draw(out)
    y = top
    for im, title in items:
        d.text((pad, y), title, fill=(13, 148, 136), font=f)
        out.paste(im, (pad, y + 26))
        y += im.size[1] + 26 + pad
    return out
