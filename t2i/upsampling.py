"""Output size of both pipelines (issue 30): the model's own 64 px images, or 256 px through the shared learned 4x
upsampler (t2i.models.upsampler, the folder checkpoints/upsampler-synthbirds-256); and edits composited into the
upload at its own resolution.

    pipe = t2i.load_pipeline("csagan-synthbirds-64", size=256)   # or pipe(caption, size=256) per call
    res = pipe("a small bird with a red belly")
    res.images          # 256 px: the kept images (after best-of) through the upsampler
    res.originals       # the generator's own 64 px images

size None or the model's side (64) is the model's output unchanged; 4 x its side (256) runs the kept images, never
the best-of candidates, through the upsampler. Any other size is refused. The upsampler is loaded once per pipeline
(or handed in: `upsampler=` a folder or an Upsampler, as the studio shares one).

Edits (composite_edit): the editor works at 64 px; its result is upsampled to 256, resized to the upload's side and
pasted into the upload only inside the edited part's mask (feathered), so the upload's own pixels stay outside it.
A whole-image edit (no mask) is the whole upsampled image at the upload's side.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
from PIL import Image, ImageFilter

from t2i import checkpoint as ckpt
from t2i.models.upsampler import Upsampler, load_upsampler
from t2i.viz.grids import to_pil

SHIPPED_UPSAMPLER = "upsampler-synthbirds-256"  # the shipped folder (checkpoints/), 64 -> 256 px
FACTOR = 4  # the upsampler's scale
UPSAMPLE_BATCH = 16  # images per upsampler call
HOW_TO_SHIP = ("train one with `python -m t2i train upsampler --out runs/upsampler-synthbirds-256` and copy its "
               "config.json and model.safetensors into checkpoints/upsampler-synthbirds-256/ (README: 256 px upsampler)")
PASTE_FLOOR = 0.05  # part-mask values below this count as outside the part: the upload's own pixels are kept there
FEATHER = 0.5  # Gaussian feather of the pasted edit's edge, in model pixels (scaled to the upload's side)


def load_output_upsampler(name=None, device="cpu") -> Upsampler:
    """The upsampler folder `name` (None: the shipped one), with a message that says how to train and ship one
    when it is missing or corrupt (a CheckpointError)."""
    name = SHIPPED_UPSAMPLER if name is None else name
    try:
        return load_upsampler(name, device)
    except ckpt.CheckpointError as e:
        raise ckpt.CheckpointError(f"256 px output needs the 4x upsampler {str(name)!r}, which could not be loaded "
                                   f"({e}); {HOW_TO_SHIP}. Use size=64 (--size 64) for the model's own images.") \
            from None


def upsampler_shipped(root=None) -> bool:
    """Whether the shipped upsampler folder is there with its weights (checks files only, loads nothing)."""
    folder = (ckpt.SHIPPED if root is None else root) / SHIPPED_UPSAMPLER
    return (folder / ckpt.CONFIG).is_file() and (folder / ckpt.WEIGHTS).is_file()


def check_size(size, native: int) -> int | None:
    """The output side asked for -> None (the model's own images: size None or `native`) or FACTOR * native (through
    the upsampler); a ValueError for anything else."""
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, (int, np.integer, float)) or not np.isfinite(size) \
            or size != int(size):
        raise ValueError(f"size must be {native} or {FACTOR * native} (pixels), got {size!r}")
    size = int(size)
    if size == native:
        return None
    if size != FACTOR * native:
        raise ValueError(f"size must be {native} (the model's own images) or {FACTOR * native} (through the 4x "
                         f"upsampler), got {size}")
    return size


@torch.inference_mode()
def upsample_tensor(upsampler: Upsampler, images: torch.Tensor, batch: int = UPSAMPLE_BATCH) -> torch.Tensor:
    """images [N, 3, S, S] in [-1, 1] -> [N, 3, 4S, 4S] in [-1, 1], `batch` at a time, on the upsampler's device."""
    dev = next(upsampler.parameters()).device
    return torch.cat([upsampler(images[s:s + batch].to(dev).float()) for s in range(0, len(images), batch)])


def pil_tensor(images: list[Image.Image]) -> torch.Tensor:
    """RGB PIL images of one size -> [N, 3, H, W] in [-1, 1]."""
    arr = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2) / 127.5 - 1.0


def upsample_images(upsampler: Upsampler, images: list[Image.Image]) -> list[Image.Image]:
    """PIL images -> the upsampler's 4x PIL images."""
    return to_pil(upsample_tensor(upsampler, pil_tensor(images))) if images else []


def upsample_result(result, upsampler: Upsampler, tensor: torch.Tensor | None = None):
    """A GenerationResult with its images upsampled 4x and the model's own kept as `originals` (stages, masks and
    word attention stay at the model's resolution). tensor: the images as [N, 3, S, S] in [-1, 1] when at hand
    (upsampled before 8-bit rounding); its seconds include the upsampling. A result already upsampled is returned
    as it is."""
    if result.originals:
        return result
    t0 = time.perf_counter()
    big = to_pil(upsample_tensor(upsampler, tensor)) if tensor is not None else upsample_images(upsampler,
                                                                                                  result.images)
    return dataclasses.replace(result, images=big, originals=list(result.images),
                               seconds=result.seconds + time.perf_counter() - t0)


class Upsampling:
    """The output-size option both pipelines share (a mixin): `size` (None = the model's own side), the upsampler
    (a folder name or path, None = the shipped one, or an Upsampler), loaded on first use and kept."""

    size: int | None = None
    _upsampler_source = None
    _upsampler: Upsampler | None = None

    def _init_upsampling(self, size=None, upsampler=None) -> None:
        self._upsampler_source = upsampler
        self._upsampler = upsampler if isinstance(upsampler, torch.nn.Module) else None  # an Upsampler or its trace
        self.size = check_size(size, self.native_size)
        if self.size is not None:
            self.upsampler()  # a missing or corrupt upsampler is said at load time, not at the first image

    @property
    def native_size(self) -> int:
        raise NotImplementedError

    def upsampler(self) -> Upsampler:
        """The 4x upsampler (loaded on first use; CheckpointError saying how to ship one when it cannot be)."""
        if self._upsampler is None:
            dev = getattr(self, "device", "cpu")
            self._upsampler = load_output_upsampler(self._upsampler_source, dev)
        return self._upsampler

    def output_size(self, size=None) -> int | None:
        """A call's size (None: the pipeline's) checked -> None (the model's images) or the upsampled side."""
        return check_size(self.size if size is None else size, self.native_size)

    def resized(self, result, out_size: int | None, tensor: torch.Tensor | None = None):
        """`result` at an output size output_size() gave: as it is (None), or upsampled (upsample_result)."""
        return result if out_size is None else upsample_result(result, self.upsampler(), tensor)


def composite_edit(upload: Image.Image, edited: Image.Image, mask: np.ndarray | None, upsampler: Upsampler,
                   feather: float = FEATHER, floor: float = PASTE_FLOOR) -> Image.Image:
    """The edit at the upload's own resolution: `edited` (the model's square image, e.g. 64 px) through the 4x
    upsampler, resized to the upload's side (square RGB `upload`, e.g. prepare_upload's) and pasted into it inside
    `mask` ([S, S] in [0, 1] at the model's side; values below `floor` are outside the part), its edge feathered by
    `feather` model pixels; outside the mask the upload's pixels are kept exactly. mask None (a whole-image
    edit): the whole upsampled image at the upload's side."""
    upload = upload.convert("RGB")
    side = upload.size[0]
    if upload.size[1] != side:
        raise ValueError(f"composite_edit needs a square upload (prepare_upload's), got {upload.size}")
    big = upsample_images(upsampler, [edited])[0]
    if big.size[0] != side:
        big = big.resize((side, side), Image.LANCZOS)
    if mask is None:
        return big
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"the part mask must be [H, W], got shape {m.shape}")
    m = np.where(m < floor, 0.0, np.clip(m, 0.0, 1.0))
    paste = Image.fromarray((m * 255 + 0.5).astype(np.uint8), "L").resize((side, side), Image.BILINEAR)
    radius = feather * side / m.shape[-1]
    if radius > 0:
        paste = paste.filter(ImageFilter.GaussianBlur(radius))
    return Image.composite(big, upload, paste)
