"""Uploaded pictures -> the clean square RGB image the models expect, with user-readable errors.

    img = prepare_upload("photo.jpg")           # PIL RGB, square, side <= max_side
    img = prepare_upload(pil, size=64)          # ... and resized to the model's side

What it does, in order (each step is cheap even for a huge upload):
1. open lazily (PIL reads the header only) and refuse decompression bombs before decoding a pixel:
   more than `max_pixels` pixels (default PIL.Image.MAX_IMAGE_PIXELS) -> ImageInputError; PIL's own
   DecompressionBombError/Warning are turned into the same error;
2. downscale first when a side exceeds `max_side` (JPEG: decoded at reduced scale with draft(), then resized);
3. undo camera EXIF rotation; palette/grayscale/CMYK/16-bit -> RGB; transparency (RGBA, LA, palette with a
   transparent colour) composited on white;
4. refuse tiny images (a side < MIN_SIDE px);
5. centre-crop to a square; 6. resize to `size` when given.
Every failure raises ImageInputError (a ValueError) whose message can be shown to the user as is.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MIN_SIDE = 16  # smaller uploads are refused: nothing of a bird survives
# the only formats an upload may be opened as: EPS/PS (Ghostscript), PDF, ICNS and the other exotic decoders stay shut
UPLOAD_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
DEFAULT_MAX_SIDE = 4096  # larger uploads are downscaled to this before anything else


_MODE_NAMES = {"L": "grayscale", "LA": "grayscale + alpha", "P": "palette", "PA": "palette + alpha",
               "RGBA": "RGBA", "CMYK": "CMYK", "1": "black-and-white", "I;16": "16-bit grayscale",
               "I": "32-bit grayscale", "F": "float grayscale", "YCbCr": "YCbCr"}


class ImageInputError(ValueError):
    """An upload the studio cannot use; the message says why and what to do."""


def _open(src) -> Image.Image:
    """A lazily opened PIL image from a path, bytes, a file object, a numpy array or a PIL image."""
    if isinstance(src, Image.Image):
        return src
    if isinstance(src, np.ndarray):
        try:
            return Image.fromarray(src)
        except (TypeError, ValueError) as e:
            raise ImageInputError(f"this array is not an image ({src.dtype}, shape {src.shape}): {e}") from None
    if src is None:
        raise ImageInputError("no image given: upload a photo (PNG or JPEG) or pick an example")
    if isinstance(src, (bytes, bytearray)):
        src = io.BytesIO(src)
    elif isinstance(src, (str, os.PathLike)):
        p = Path(src)
        if not p.is_file():
            raise ImageInputError(f"file not found: {p.name}")
        if p.stat().st_size == 0:
            raise ImageInputError(f"{p.name} is empty (0 bytes): upload a PNG or JPEG photo")
    name = Path(src).name if isinstance(src, (str, os.PathLike)) else "the upload"
    try:
        return Image.open(src, formats=UPLOAD_FORMATS)
    except Image.DecompressionBombError as e:
        raise ImageInputError(f"{name} is too large to open safely ({e}); upload a smaller image") from None
    except UnidentifiedImageError:
        raise ImageInputError(f"{name} is not an image file the studio can read: upload a PNG, JPEG, WebP, BMP, GIF "
                              "or TIFF photo of a bird") from None
    except OSError as e:
        raise ImageInputError(f"{name} could not be read as an image ({e})") from None


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any mode -> RGB; transparent pixels become white."""
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
        im = Image.fromarray(arr.astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return im.convert("RGB") if im.mode != "RGB" else im


GREY_SATURATION = 0.06  # mean HSV saturation below which a picture counts as black-and-white (SynthBirds: > 0.25)


def colour_note(image: Image.Image, notes: list[str]) -> None:
    """Add a warning when a picture has almost no colour (a black-and-white photo, a pencil or ink drawing): the
    editors know colour photos of birds, so what they make of it is a guess (the edit still runs)."""
    sat = np.asarray(image.convert("HSV"), dtype=np.float32)[..., 1].mean() / 255.0
    if sat < GREY_SATURATION:
        notes.append(f"this picture has almost no colour (saturation {sat:.2f}): a black-and-white photo or a "
                     "drawing? The editor learnt from colour photos of birds, so expect an odd edit")


def prepare_upload(path_or_pil, max_side: int = DEFAULT_MAX_SIDE, size: int | None = None,
                   max_pixels: int | None = None, notes: list[str] | None = None, square: bool = True) -> Image.Image:
    """A square RGB PIL image from an upload (path, bytes, file object, numpy array or PIL image).

    max_side:   larger images are downscaled to this side first (before any other processing).
    size:       if given, the square result is resized to size x size.
    max_pixels: refuse images with more pixels than this (decompression bombs); default PIL.Image.MAX_IMAGE_PIXELS.
    notes:      if a list is given, a short sentence is appended for each change made (for the UI).
    square:     centre-crop to a square (False: keep the aspect ratio, e.g. to crop around the bird later;
                `size` then applies to the longer side).
    Raises ImageInputError with a user-readable message.
    """
    if max_side < MIN_SIDE:
        raise ValueError(f"max_side must be >= {MIN_SIDE}, got {max_side}")
    notes = [] if notes is None else notes
    limit = max_pixels if max_pixels is not None else (Image.MAX_IMAGE_PIXELS or 2 ** 31)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = _open(path_or_pil)
            w, h = im.size
            if w * h > limit:
                raise ImageInputError(f"the image is too large ({w}x{h} = {w * h / 1e6:.0f} megapixels; the limit is "
                                      f"{limit / 1e6:.0f}); upload a smaller image")
            if min(w, h) < 1:
                raise ImageInputError("the image is empty (0 pixels)")
            if getattr(im, "is_animated", False):
                im.seek(0)
                notes.append("used the first frame of the animation")
            if max(w, h) > max_side:
                scale = max_side / max(w, h)
                target = (max(1, round(w * scale)), max(1, round(h * scale)))
                if im.format == "JPEG":
                    im.draft("RGB", target)  # decode at 1/2, 1/4 or 1/8 scale: fast and light on memory
                im = ImageOps.exif_transpose(im) if im.getexif().get(0x0112, 1) != 1 else im
                w2, h2 = im.size
                scale = max_side / max(w2, h2)
                im = im.resize((max(1, round(w2 * scale)), max(1, round(h2 * scale))), Image.LANCZOS,
                               reducing_gap=2.0)
                notes.append(f"downscaled from {w}x{h} to {im.size[0]}x{im.size[1]}")
            else:
                im.load()
                im = ImageOps.exif_transpose(im) if im.getexif().get(0x0112, 1) != 1 else im
        except Image.DecompressionBombError as e:
            raise ImageInputError(f"the image is too large to open safely ({e}); upload a smaller image") from None
        except Image.DecompressionBombWarning as e:
            raise ImageInputError(f"the image is too large to open safely ({e}); upload a smaller image") from None
        except ImageInputError:
            raise
        except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt files fail on decode
            raise ImageInputError(f"the image file is damaged or truncated and cannot be decoded ({e})") from None
    mode, transparent = im.mode, "transparency" in im.info
    im = _to_rgb(im)
    if mode != "RGB":
        kind = _MODE_NAMES.get(mode, mode)
        alpha = "A" in mode or (mode == "P" and transparent)
        notes.append(f"converted {kind} to RGB" + (" (transparent parts on white)" if alpha else ""))
    w, h = im.size
    if min(w, h) < MIN_SIDE:
        raise ImageInputError(f"the image is too small ({w}x{h} pixels): it needs at least {MIN_SIDE} pixels on each "
                              "side; upload a larger photo")
    if not square:
        if size is not None and max(w, h) != size:
            k = size / max(w, h)
            im = im.resize((max(1, round(w * k)), max(1, round(h * k))), Image.LANCZOS)
        return im
    if w != h:
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s))
        notes.append(f"centre-cropped {w}x{h} to {s}x{s}")
    if size is not None and im.size != (size, size):
        im = im.resize((size, size), Image.LANCZOS)
    return im
