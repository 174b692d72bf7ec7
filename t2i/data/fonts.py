"""The one font loader of the project's picture sheets (SynthBirds contact sheets, t2i.viz grids)."""
from __future__ import annotations

from pathlib import Path

from PIL import ImageFont


def sheet_font(size: int, condensed: bool = False) -> ImageFont.ImageFont:
    """DejaVu Sans (its Condensed cut first when `condensed`) from the system or from matplotlib, which ships it;
    else Pillow's default font at `size`."""
    candidates = (["DejaVuSansCondensed.ttf"] if condensed else []) + ["DejaVuSans.ttf"]
    try:
        import matplotlib

        candidates.append(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"))
    except ImportError:
        pass
    for name in candidates:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)
