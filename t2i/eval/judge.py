"""The part-level judge (PartAcc): does each part of the image show what the caption says of it?

Why a new judge: the attribute classifier (t2i.eval.attributes) was trained on SynthBirds' 200 species, whose
attribute combinations are fixed, so it learned species, not parts: it reads 0.97 of perfect renders of a species'
attribute set and about 0.49 of random combinations. A model that paints a red crown on a green bird could not be
scored by it.

How this one reads an image [N, 3, S, S] in [-1, 1]:
  1. the part segmenter (t2i.partseg, a U-Net trained on SynthBirds part maps) gives each pixel a probability of
     background and of each of the 10 parts;
  2. part_features pools the image under each part's probability map: area, mean and spread of the colour, a core
     colour (probability^4-weighted, so the part's edge and its neighbours weigh little), texture (luminance
     gradients along x and y, for spots / stripes / bars), and the part's centre and extent (bill length, size);
  3. one small MLP head per attribute group reads those pooled features.
The heads are trained on attribute-INDEPENDENT SynthBirds (`data synthbirds --independent`: every attribute drawn on
its own), so a head cannot lean on what usually comes with a part: the only way to read a belly's colour is from the
belly. Everything is in torch and saved as a model folder (config.json + safetensors; no pickled sklearn model).

    judge = load_judge("checkpoints/judge-synthbirds-64")
    judge.read(images)                      # {"has_belly_color": ["red", ...], ...}
    part_acc(judge, images, mentioned)      # PartAcc overall and per attribute, beside its shuffled-caption chance
python -m t2i train part-judge --data data/synthbirds-indep-s3-64 --out checkpoints/judge-synthbirds-64
"""
from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from t2i import checkpoint as ckpt
from t2i.partseg import PartSegConfig, PartSegmenter, load_part_segmenter

MODEL_TYPE = "part-judge"
SHIPPED_JUDGE = "judge-synthbirds-64"
_PER_PART = 17  # features pooled under each probability map (see part_features)
DERIVED = "has_primary_color"  # read as SynthBirds computes it, from the part colours the heads read
_PRIMARY_FROM = ("has_wing_color", "has_belly_color", "has_upperparts_color", "has_crown_color", "has_throat_color")


def part_features(images: Tensor, probs: Tensor) -> Tensor:
    """Features [N, (1 + parts) * 17 + 1] of images [N, 3, S, S] in [-1, 1] pooled under part probabilities
    probs [N, 1 + parts, S, S] (background first). Per map: area, mean RGB, std RGB, core RGB (weights p^4), mean
    |d luminance / dx| and |.. / dy|, std of luminance, centre x, y and spread x, y (in units of the side). Plus the
    bird's area. A part that is not there has area 0 and its other features 0."""
    n, _, s, _ = images.shape
    assert probs.shape[0] == n and probs.shape[-2:] == images.shape[-2:], (images.shape, probs.shape)
    x = images.float()
    p = probs.float()
    lum = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)  # [N, 1, S, S]
    gx = F.pad((lum[..., :, 1:] - lum[..., :, :-1]).abs(), (0, 1, 0, 0))
    gy = F.pad((lum[..., 1:, :] - lum[..., :-1, :]).abs(), (0, 0, 0, 1))
    coords = (torch.arange(s, dtype=torch.float32, device=x.device) + 0.5) / s
    cy, cx = coords.view(1, 1, s, 1), coords.view(1, 1, 1, s)

    def pooled(w: Tensor, v: Tensor) -> Tensor:  # w [N, K, S, S], v [N, C, S, S] -> [N, K, C]
        return torch.einsum("nkhw,nchw->nkc", w, v) / w.sum((2, 3)).clamp(min=1e-4).unsqueeze(-1)

    area = p.mean((2, 3)).unsqueeze(-1)  # [N, K, 1]
    mean = pooled(p, x)
    std = (pooled(p, x * x) - mean ** 2).clamp(min=0).sqrt()
    core = pooled(p ** 4, x)
    tex = pooled(p, torch.cat([gx, gy], 1))
    lstd = (pooled(p, lum * lum) - pooled(p, lum) ** 2).clamp(min=0).sqrt()
    grid = torch.cat([cx.expand(n, 1, s, s), cy.expand(n, 1, s, s)], 1)
    centre = pooled(p, grid)
    spread = (pooled(p, grid * grid) - centre ** 2).clamp(min=0).sqrt()
    f = torch.cat([area * 10, mean, std, core, tex * 4, lstd, centre, spread * 4], -1)  # [N, K, 17]
    present = (area > 2e-4).float()  # below ~1 pixel in 64 x 64: the part is not there
    f = torch.cat([area * 10, f[..., 1:] * present], -1)
    bird = 1 - p[:, 0].mean((1, 2))
    return torch.cat([f.flatten(1), bird.unsqueeze(1)], 1)


@dataclass
class JudgeConfig:
    groups: dict = field(default_factory=dict)  # attribute group -> its values (CUB naming), one head each
    segmenter: dict = field(default_factory=dict)  # PartSegConfig of the segmenter whose maps the heads read
    hidden: int = 256  # width of each head's hidden layers
    n_features: int = 0  # part_features size (set by the builder from the segmenter's part count)
    not_judged: dict = field(default_factory=dict)  # group -> why its reading is not counted (validation too low)


class PartJudge(nn.Module):
    """Segmenter (frozen) -> part_features -> normalisation -> one MLP head per attribute group."""

    def __init__(self, cfg: JudgeConfig):
        super().__init__()
        self.cfg = cfg
        self.segmenter = PartSegmenter(PartSegConfig(**cfg.segmenter))
        nf = cfg.n_features or (1 + len(self.segmenter.cfg.parts)) * _PER_PART + 1
        self.cfg.n_features = nf
        self.register_buffer("feat_mean", torch.zeros(nf))
        self.register_buffer("feat_std", torch.ones(nf))
        self.heads = nn.ModuleDict({g: nn.Sequential(nn.Linear(nf, cfg.hidden), nn.SiLU(), nn.Dropout(0.1),
                                                     nn.Linear(cfg.hidden, cfg.hidden), nn.SiLU(),
                                                     nn.Linear(cfg.hidden, len(v)))
                                    for g, v in cfg.groups.items()})

    @property
    def judged(self) -> list[str]:
        return [g for g in self.cfg.groups if g not in self.cfg.not_judged]

    @torch.no_grad()
    def features(self, images: Tensor, batch: int = 256) -> Tensor:
        self.segmenter.eval()
        out = []
        for s in range(0, len(images), batch):
            x = images[s:s + batch].to(self.feat_mean.device).float()
            if x.shape[-1] != self.segmenter.cfg.img_size:
                x = F.interpolate(x, size=self.segmenter.cfg.img_size, mode="bilinear", align_corners=False,
                                  antialias=True)
            out.append(part_features(x, self.segmenter.probabilities(x)))
        return torch.cat(out)

    def logits(self, feats: Tensor) -> dict[str, Tensor]:
        z = (feats - self.feat_mean) / self.feat_std
        return {g: h(z) for g, h in self.heads.items()}

    @torch.no_grad()
    def read(self, images: Tensor) -> dict[str, list[str]]:
        """images [N, 3, S, S] in [-1, 1] -> {group: [value read on image i]} for every group (judged or not)."""
        self.eval()
        logits = self.logits(self.features(images))
        out = {g: [self.cfg.groups[g][i] for i in lg.argmax(1).tolist()] for g, lg in logits.items()}
        if DERIVED in out and all(g in out for g in _PRIMARY_FROM):
            # SynthBirds defines the overall colour from the part colours (nominal areas): read it the same way
            from t2i.data.synthbirds import primary_color

            out[DERIVED] = [primary_color({g: out[g][i] for g in _PRIMARY_FROM}) for i in range(len(images))]
        return out


def part_acc(judge: PartJudge, images: Tensor, mentioned: list[dict[str, str]], chance_seed: int = 0,
             readings: dict | None = None) -> dict[str, float]:
    """PartAcc: the share of the (judged) attributes each caption mentions that the judge reads on its image, overall
    and per group; `chance` is the same images scored against the captions shuffled (fixed seed), the level a
    generator that ignores its caption reaches."""
    from t2i.eval.attributes import mention_accuracy

    read = readings if readings is not None else judge.read(images)
    judged = set(judge.judged)
    per, h, t = mention_accuracy(read, mentioned, judged)
    perm = list(range(len(mentioned)))
    random.Random(chance_seed).shuffle(perm)
    _, hc, tc = mention_accuracy(read, [mentioned[j] for j in perm], judged)
    out = {"part_acc": h / max(t, 1), "chance": hc / max(tc, 1), "n_mentions": t}
    out.update({f"part_acc/{g}": v for g, v in per.items()})
    return out


def validate_judge(judge: PartJudge, images: Tensor, labels: list[dict[str, str]]) -> dict[str, float]:
    """Agreement of the judge with the true attributes of (perfect, rendered) images, per group and the mean."""
    read = judge.read(images)
    out = {}
    for g in judge.cfg.groups:
        rows = [(read[g][i], lab[g]) for i, lab in enumerate(labels) if g in lab]
        if rows:
            out[g] = sum(a == b for a, b in rows) / len(rows)
    out["mean"] = float(np.mean([out[g] for g in judge.judged if g in out]))
    return out


def load_judge(name=SHIPPED_JUDGE, device="cpu") -> PartJudge:
    return ckpt.load_component(name, MODEL_TYPE, JudgeConfig, PartJudge, "judge", device)[0]


def labelled_split(root, split: str, size: int = 64, limit: int | None = None):
    """(images [N, 3, S, S] in [-1, 1], [{group: value}]) of a SynthBirds split: the renders and their true labels."""
    from t2i.data.attributes import read_image_attributes
    from t2i.data.captions import CaptionDataset

    _, labels = read_image_attributes(root)
    data = CaptionDataset(root, split, size, augment=False, limit=limit)
    images = torch.stack([data[i]["image"] for i in tqdm(range(len(data)), desc=f"load {split}", leave=False)])
    return images, [labels.get(s.key, {}) for s in data.samples]


def degrade(images: Tensor, generator: torch.Generator) -> Tensor:
    """A random generator-like degradation of each image in [-1, 1]: Gaussian blur (sigma 0.5-1.6), resampling
    through 24-48 px, pixel noise (0-0.12) or a mix, so that the heads do not rely on pixel-exact renders."""
    n, _, s, _ = images.shape
    out = images.clone()
    kind = torch.randint(0, 4, (n,), generator=generator)
    for i in range(n):
        x = out[i:i + 1]
        if kind[i] in (0, 3):
            sigma = float(0.5 + 1.1 * torch.rand(1, generator=generator))
            k = torch.exp(-torch.arange(-3, 4).float() ** 2 / (2 * sigma ** 2))
            k = (k / k.sum()).to(x)
            x = F.conv2d(F.pad(x, (3, 3, 0, 0), mode="reflect"), k.view(1, 1, 1, 7).repeat(3, 1, 1, 1), groups=3)
            x = F.conv2d(F.pad(x, (0, 0, 3, 3), mode="reflect"), k.view(1, 1, 7, 1).repeat(3, 1, 1, 1), groups=3)
        if kind[i] in (1, 3):
            low = int(torch.randint(24, 49, (1,), generator=generator))
            x = F.interpolate(F.interpolate(x, size=low, mode="bilinear", antialias=True, align_corners=False),
                              size=s, mode="bilinear", align_corners=False)
        if kind[i] in (2, 3):
            x = x + float(0.12 * torch.rand(1, generator=generator)) * torch.randn(x.shape, generator=generator)
        out[i] = x[0].clamp(-1, 1)
    return out


def train_part_judge(data_root: str, out: str, segmenter: str = "partseg-synthbirds-64", steps: int = 3000,
                     batch_size: int = 256, lr: float = 2e-3, seed: int = 0, device: str = "cpu",
                     hidden: int = 256, limit: int | None = None, flip: bool = True,
                     min_agreement: float = 0.8) -> dict:
    """Train the heads on the part features of an attribute-independent SynthBirds root (`data synthbirds
    --independent`), the segmenter frozen; each image counts twice, as rendered and degraded (`degrade`: blur,
    resampling, noise, as generators' images are; mirrored half of the time with flip).
    Groups whose test agreement stays under `min_agreement` are saved as not judged, with the reason."""
    from t2i.data.attributes import read_image_attributes

    torch.manual_seed(seed)
    groups, _ = read_image_attributes(data_root)
    seg = load_part_segmenter(segmenter, device)
    judge = PartJudge(JudgeConfig(groups=groups, segmenter=dataclasses.asdict(seg.cfg), hidden=hidden)).to(device)
    judge.segmenter.load_state_dict(seg.state_dict())
    judge.segmenter.requires_grad_(False)

    def table(split):
        images, labels = labelled_split(data_root, split, limit=limit)
        feats = judge.features(images)
        if split == "train":  # each training image twice: as rendered, and degraded (and mirrored when flip)
            other = degrade(images, torch.Generator().manual_seed(seed + 1))
            if flip:
                other = torch.where(torch.rand(len(images), 1, 1, 1, generator=gen) < 0.5, other.flip(-1), other)
            feats = torch.cat([feats, judge.features(other)])
            labels = labels + labels
        t = torch.tensor([[groups[g].index(lab[g]) if g in lab else -1 for g in groups] for lab in labels])
        return feats, t

    gen = torch.Generator().manual_seed(seed)
    xtr, ytr = table("train")
    xte, yte = table("test")
    judge.feat_mean.copy_(xtr.mean(0))
    judge.feat_std.copy_(xtr.std(0).clamp(min=1e-3))
    opt = torch.optim.AdamW(judge.heads.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    names = list(groups)
    for _ in tqdm(range(steps), desc="part-judge"):
        judge.heads.train()
        idx = torch.randint(len(xtr), (batch_size,), generator=gen)
        logits = judge.logits(xtr[idx] + 0.05 * torch.randn(batch_size, xtr.shape[1], generator=gen) * judge.feat_std)
        loss = sum(F.cross_entropy(logits[g], ytr[idx, j], ignore_index=-1) for j, g in enumerate(names)) / len(names)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    judge.eval()
    with torch.no_grad():
        lg = judge.logits(xte)
    acc = {g: float((lg[g].argmax(1) == yte[:, j])[yte[:, j] >= 0].float().mean()) for j, g in enumerate(names)}
    judge.cfg.not_judged = {g: f"agreement {a:.2f} on perfect renders of independent attributes (< {min_agreement})"
                            for g, a in acc.items() if a < min_agreement}
    ckpt.save_model_folder(Path(out), MODEL_TYPE, dataclasses.asdict(judge.cfg), {"judge": judge}, step=steps,
                           resolution=judge.segmenter.cfg.img_size, dataset=str(data_root))
    return acc
