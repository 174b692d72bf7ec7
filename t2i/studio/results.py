"""What the studio's tabs return (Generation, Inside, Comparison, EditOutput) and the open-vocabulary info lines."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from t2i.pipeline import GenerationResult


@dataclass
class Generation:
    result: GenerationResult
    gallery: list[tuple[Image.Image, str]]  # display-size images with their captions
    grid_path: Path  # the downloadable PNG grid (the images as shown: 256 px upsampled, or 64 px enlarged 2x)
    info: str  # Markdown: what was read, ignored, how long it took
    seeds: list[int] = field(default_factory=list)  # per image: the seed that redraws it as image #1


@dataclass
class Inside:
    image: Image.Image  # the chosen image, display size
    stages: list[tuple[Image.Image, str]]
    masks: list[tuple[Image.Image, str]]
    word_attn: list[tuple[Image.Image, str]]  # one sheet per attention layer, with the layer's name
    word_attn_sheet: Image.Image | None  # all layers stacked, titled (None: the model has no word attention)
    cam: Image.Image | None
    cam_info: str
    attribute_choices: list[tuple[str, str]]  # (label, "group::value") for the CAM picker
    attribute: str | None  # the one shown
    info: str


@dataclass
class Comparison:
    sheet: Image.Image
    info: str
    rows: dict[str, list[Image.Image]] = field(default_factory=dict)  # model -> images (A then B)


@dataclass
class EditOutput:
    original: Image.Image  # the upload as the model saw it (its side, e.g. 64 px)
    inversion: Image.Image
    edited: Image.Image
    info: str
    seconds: float = 0.0
    # at full size (the upsampler shipped): the square upload at its own side, the edit pasted into it inside the
    # part mask (t2i.upsampling.composite_edit) and the inversion through the 4x upsampler; None otherwise
    upload: Image.Image | None = None
    full_edited: Image.Image | None = None
    full_inversion: Image.Image | None = None


def vocab_notes(mapped, ignored) -> list[str]:
    """Info lines of the open vocabulary: 'Read as: crimson → red, …' and 'Ignored (nothing in the model's
    vocabulary fits): ~~plump~~ …'."""
    out = []
    if mapped:
        out.append("Read as: " + ", ".join(f"{a} → `{b}`" for a, b in mapped[:12]) + (" …" if len(mapped) > 12 else ""))
    unk = sorted(set(ignored or []))
    if unk:
        out.append("Ignored (nothing in the model's vocabulary fits): " + ", ".join(f"~~{w}~~" for w in unk[:12])
                   + (" …" if len(unk) > 12 else ""))
    return out
