"""Part segmenter: which pixels of a bird picture are its belly, wings, crown, ... (ours, for the part-masked edits).

CI-GAN's edit (t2i.edit) optimises the whole latent code, so on our 64 px StyleGAN2 a colour asked for one part
spills over the neighbouring parts. The part-masked edit keeps the input outside the part the text names: it needs
to know where that part is in an upload, which this small U-Net tells (trained on SynthBirds' part maps, the
CUB-style segmentations/ folder; any bird dataset with part masks would do).

    seg = load_part_segmenter("checkpoints/partseg-synthbirds-64")
    probs = seg.probabilities(images)                  # [N, 1 + parts, S, S], images in [-1, 1]
    mask = part_mask(seg, images, [("belly",), ...])   # [N, 1, S, S] soft mask of the named parts
    text_parts("this bird has a red belly")            # ("belly",): the parts a text recolours

python -m t2i train part-segmenter --data data/synthbirds-indep-64 --out checkpoints/partseg-synthbirds-64
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from t2i import checkpoint as ckpt
from t2i.data.captions import CaptionDataset, crop_to_box

MODEL_TYPE = "part-segmenter"


def default_parts() -> list[str]:
    from t2i.data.synthbirds import PART_LABELS

    return [PART_LABELS[k] for k in sorted(PART_LABELS)]


@dataclass
class PartSegConfig:
    parts: list = field(default_factory=default_parts)  # class k + 1 is parts[k]; class 0 is the background
    img_size: int = 64
    nf: int = 16  # base width of the U-Net


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
                         nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))


class PartSegmenter(nn.Module):
    """A three-level U-Net (S -> S/2 -> S/4 -> S/8 and back, skip connections) with one logit per part and one for
    the background at every pixel."""

    def __init__(self, cfg: PartSegConfig):
        super().__init__()
        self.cfg = cfg
        w = [cfg.nf, cfg.nf * 2, cfg.nf * 3, cfg.nf * 4]
        self.down = nn.ModuleList([_conv(3, w[0]), _conv(w[0], w[1]), _conv(w[1], w[2]), _conv(w[2], w[3])])
        self.up = nn.ModuleList([_conv(w[3] + w[2], w[2]), _conv(w[2] + w[1], w[1]), _conv(w[1] + w[0], w[0])])
        self.head = nn.Conv2d(w[0], 1 + len(cfg.parts), 1)

    def forward(self, images: Tensor) -> Tensor:
        size = images.shape[-2:]
        s = self.cfg.img_size
        x = images if size == (s, s) else F.interpolate(images, size=(s, s), mode="bilinear", align_corners=False,
                                                         antialias=True)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(torch.cat([F.interpolate(x, scale_factor=2.0, mode="nearest"), skip], 1))
        logits = self.head(x)
        return logits if size == (s, s) else F.interpolate(logits, size=size, mode="bilinear", align_corners=False)

    @torch.no_grad()
    def probabilities(self, images: Tensor) -> Tensor:
        return self(images).softmax(1)


def text_parts(text: str) -> tuple[str, ...]:
    """The parts a text asks to recolour ("a red belly and black wings" -> belly, wing, tail), from the part-colour
    attributes it mentions (t2i.data.synthbirds.parse_caption): a text naming one of PART_COLOUR_ATTRS recolours its
    ATTR_REGIONS; () when it names none (a whole-bird edit)."""
    from t2i.data.synthbirds import ATTR_REGIONS, PART_COLOUR_ATTRS, parse_caption

    named = parse_caption(text)
    return tuple(dict.fromkeys(p for a in PART_COLOUR_ATTRS if a in named for p in ATTR_REGIONS[a]))


@torch.no_grad()
def part_mask(seg: PartSegmenter, images: Tensor, parts: list[tuple[str, ...]], dilate: int = 1) -> Tensor:
    """Soft masks [N, 1, S, S] in [0, 1]: the probability that a pixel belongs to one of image i's parts[i],
    grown by `dilate` px (max filter) so the part's edge is inside. An empty parts[i] gives an all-ones mask."""
    probs = seg.probabilities(images)
    index = {p: k + 1 for k, p in enumerate(seg.cfg.parts)}
    out = torch.ones(len(images), 1, *images.shape[-2:], device=images.device)
    for i, ps in enumerate(parts):
        unknown = [p for p in ps if p not in index]
        if unknown:
            raise ValueError(f"the part segmenter knows {seg.cfg.parts}, not {unknown}")
        if ps:
            out[i, 0] = probs[i, [index[p] for p in ps]].sum(0)
    if dilate > 0:
        out = F.max_pool2d(out, 2 * dilate + 1, stride=1, padding=dilate)
    return out.clamp(0, 1)


# --- finding the bird in an upload (issue 26) -------------------------------------------------------------------------
BIRD_MIN_SHARE = 0.01  # the bird's pixels (segmenter foreground) must cover at least 1 % of the picture
BIRD_MIN_SIDE = 12  # ... and span this many of the upload's pixels (at 64 px a smaller bird has no parts left)
BIRD_MARGIN = 1.5  # the square around the bird: 1.5x its longer side, AttnGAN's crop of the training images


class NoBirdError(ValueError):
    """An upload in which the part segmenter finds no bird it could edit (the message says why and what to do)."""


@torch.no_grad()
def find_bird(seg: PartSegmenter, image: Image.Image) -> tuple[tuple[int, int, int, int], float] | None:
    """The bird's box (x, y, w, h, in the image's pixels) and the share of the picture it covers, from the
    segmenter's foreground (any part) on the whole picture letterboxed to its side; None when under BIRD_MIN_SHARE.
    A wide (or tall) picture where that finds nothing is looked at again square by square along its longer side
    (half-overlapping squares of its shorter side; the one with the most bird wins): letterboxed whole, a bird in
    a panorama is a few model pixels across."""
    found = _look(seg, image)
    W, H = image.size
    short, long_ = min(W, H), max(W, H)
    if found is not None or long_ < 1.5 * short:
        return found
    best = None
    for off in sorted({*range(0, long_ - short + 1, max(1, short // 2)), long_ - short}):
        win = (off, 0, off + short, H) if W >= H else (0, off, W, off + short)
        got = _look(seg, image.crop(win))
        if got is not None and (best is None or got[1] > best[1]):
            (x, y, w, h), share = got
            best = (x + win[0], y + win[1], w, h), share * short * short / (W * H)
    return best


def _look(seg: PartSegmenter, image: Image.Image) -> tuple[tuple[int, int, int, int], float] | None:
    """find_bird's one look: the whole picture letterboxed to the segmenter's side."""
    s = seg.cfg.img_size
    W, H = image.size
    k = s / max(W, H)
    w, h = max(1, round(W * k)), max(1, round(H * k))
    small = np.asarray(image.convert("RGB").resize((w, h), Image.BILINEAR), dtype=np.float32)
    top, left = (s - h) // 2, (s - w) // 2
    canvas = np.pad(small, ((top, s - h - top), (left, s - w - left), (0, 0)), mode="edge")
    x = torch.from_numpy(canvas).permute(2, 0, 1)[None] / 127.5 - 1
    probs = seg.probabilities(x.to(next(seg.parameters()).device))[0]
    mask = (1 - probs[0]).cpu().numpy()[top:top + h, left:left + w] > 0.5
    share = float(mask.mean())
    if share < BIRD_MIN_SHARE:
        return None
    ys, xs = np.nonzero(mask)
    (y0, y1), (x0, x1) = np.percentile(ys, [1, 99]), np.percentile(xs, [1, 99])  # stray pixels do not count
    box = (x0 / k, y0 / k, (x1 - x0 + 1) / k, (y1 - y0 + 1) / k)
    return (int(box[0]), int(box[1]), max(1, round(box[2])), max(1, round(box[3]))), share


def crop_to_bird(seg: PartSegmenter, image: Image.Image, notes: list[str] | None = None) -> Image.Image:
    """The square of `image` around its bird (BIRD_MARGIN x its longer side, kept inside the picture), instead of
    the centre. NoBirdError when no bird is found or it is too small to edit."""
    notes = [] if notes is None else notes
    found = find_bird(seg, image)
    if found is None:
        raise NoBirdError("no bird found in the picture: the part segmenter sees no bird in it (it knows birds "
                          "seen from the side that fill a good part of the frame); upload a photo of one bird, or "
                          "crop closer around it")
    (x, y, w, h), _ = found
    W, H = image.size
    if 2 * max(w, h) < max(W, H):  # a small bird in a large picture: look again, closer, to place it better
        r = 1.5 * max(w, h)
        cx, cy = x + w / 2, y + h / 2
        win = (int(max(0, cx - r)), int(max(0, cy - r)), int(min(W, cx + r)), int(min(H, cy + r)))
        closer = find_bird(seg, image.crop(win))
        if closer is not None:
            (x, y, w, h), _ = closer
            x, y = x + win[0], y + win[1]
    if max(w, h) < BIRD_MIN_SIDE:
        raise NoBirdError(f"the bird is only about {max(w, h)} px across: too small to edit; crop closer around it "
                          "or upload a larger photo")
    side = min(W, H, max(round(BIRD_MARGIN * max(w, h)), BIRD_MIN_SIDE))
    cx, cy = x + w / 2, y + h / 2
    left = int(min(max(cx - side / 2, 0), W - side))
    top = int(min(max(cy - side / 2, 0), H - side))
    if (left, top, side) != ((W - min(W, H)) // 2, (H - min(W, H)) // 2, min(W, H)):
        notes.append(f"cropped {W}x{H} to the {side}x{side} square around the bird")
    elif W != H:
        notes.append(f"centre-cropped {W}x{H} to {side}x{side} (the bird fills the frame)")
    if max(w, h) > min(W, H):
        notes.append("the bird is larger than the picture's short side: parts of it are cut off")
    return image.crop((left, top, left + side, top + side))


def load_part_map(root, sample, size: int) -> np.ndarray:
    """The SynthBirds part map CUB_200_2011/segmentations/<key>.png of a CaptionDataset sample, cropped and
    resized exactly like its image (AttnGAN box crop, nearest neighbour): uint8 [size, size] of PART_LABELS ids."""
    f = Path(root) / "CUB_200_2011" / "segmentations" / f"{sample.key}.png"
    if not f.is_file():
        raise FileNotFoundError(f"no part map {f}: SynthBirds' segmentations/ folder is needed")
    with Image.open(f) as im:
        return np.asarray(crop_to_box(im.convert("L"), sample.box).resize((size, size), Image.NEAREST))


class PartMaps(Dataset):
    """CaptionDataset images with their part maps (class ids 0..parts); flip: random horizontal flips of both."""

    def __init__(self, base: CaptionDataset, root, flip: bool = False):
        self.base, self.root, self.flip = base, root, flip

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        img = self.base[i]["image"]
        target = torch.from_numpy(load_part_map(self.root, self.base.samples[i], self.base.size).astype(np.int64))
        if self.flip and torch.rand(()) < 0.5:
            img, target = img.flip(-1), target.flip(-1)
        return {"image": img, "target": target}


@torch.no_grad()
def part_iou(model: PartSegmenter, data: PartMaps, device="cpu", batch: int = 128) -> dict[str, float]:
    """Per-part intersection over union on a dataset, their mean, and the IoU of the whole bird (any part)."""
    model.eval()
    k = 1 + len(model.cfg.parts)
    inter, union = torch.zeros(k + 1), torch.zeros(k + 1)
    for b in DataLoader(data, batch_size=batch):
        pred = model(b["image"].to(device)).argmax(1).cpu()
        t = b["target"]
        for c in range(1, k):
            inter[c] += ((pred == c) & (t == c)).sum()
            union[c] += ((pred == c) | (t == c)).sum()
        inter[k] += ((pred > 0) & (t > 0)).sum()
        union[k] += ((pred > 0) | (t > 0)).sum()
    out = {f"iou/{p}": float(inter[c + 1] / union[c + 1]) for c, p in enumerate(model.cfg.parts) if union[c + 1] > 0}
    out["iou/mean"] = sum(out.values()) / max(len(out), 1)
    out["iou/bird"] = float(inter[k] / union[k].clamp(min=1))
    return out


def train_part_segmenter(data_root: str, out: str, img_size: int = 64, steps: int = 2000, batch_size: int = 32,
                         lr: float = 2e-3, seed: int = 0, device: str | None = None, limit: int | None = None,
                         init: str | None = None, eval_every: int = 500, nf: int = 16) -> dict:
    """Train the part segmenter on a SynthBirds root's train split (cross-entropy per pixel; resumable, like the
    attribute classifier); reports the per-part IoU on its test split."""
    from t2i.nn.fit import fit
    from t2i.runtime import pick_device, seed_everything

    seed_everything(seed)
    dev = pick_device(device)
    train = PartMaps(CaptionDataset(data_root, "train", img_size, augment=False, limit=limit), data_root, flip=True)
    test = PartMaps(CaptionDataset(data_root, "test", img_size, augment=False, limit=limit), data_root)
    cfg = PartSegConfig(img_size=img_size, nf=nf)
    model = PartSegmenter(cfg).to(dev)

    def loss_fn(m, b):
        loss = F.cross_entropy(m(b["image"].to(dev)), b["target"].to(dev))
        return loss, {"loss": loss.item()}

    def save(folder: Path, step: int):
        ckpt.save_model_folder(folder, MODEL_TYPE, dataclasses.asdict(cfg), {"segmenter": model}, step=step,
                               resolution=img_size)

    loader = DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True)
    return fit(model, loss_fn, loader, out, steps, lr, save, eval_fn=lambda: part_iou(model, test, dev),
               eval_every=eval_every, device=dev, desc="part-segmenter", cosine=True, init=init)


def load_part_segmenter(name, device="cpu") -> PartSegmenter:
    """A part-segmenter folder (local, shipped or Hub) -> PartSegmenter in eval mode, frozen."""
    return ckpt.load_component(name, MODEL_TYPE, PartSegConfig, PartSegmenter, "segmenter", device)[0]
