"""Diversity: for one caption and many seeds, how different are the images? (DESIGN.md, "Evaluation protocol")

The distance of two images is 1 - cosine similarity of their frozen ImageNet EfficientNet-Lite0 features (global
average pool of the last feature map, inputs resized to 128 px); a caption's diversity is the mean distance over all
pairs of its images, and the score is the mean over captions. The reference is the same measure on real images of
one species (the species each caption was written for): a generator that ignores its noise scores ~0, one that draws
as varied birds as the data about 1 in `diversity_ratio`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


class FeatureNet(torch.nn.Module):
    """Frozen EfficientNet-Lite0 -> L2-normalised pooled features [N, 1280]; images in [-1, 1] (Lite0's own range).
    bird_mask (ours, session 28): images -> [N, 1, H, W] bird probability (e.g. `segmenter_bird_mask(seg)`); the
    features then see the bird alone on mid-grey, so that a generator whose noise moves only the background scores ~0."""

    def __init__(self, size: int = 128, bird_mask=None):
        super().__init__()
        from t2i.nn.pretrained import efficientnet_lite0

        self.net = efficientnet_lite0(frozen=True)
        self.size = size
        self.bird_mask = bird_mask

    @torch.no_grad()
    def forward(self, images: Tensor, batch: int = 64) -> Tensor:
        out = []
        for s in range(0, len(images), batch):
            x = images[s:s + batch].float()
            if self.bird_mask is not None:
                x = x * self.bird_mask(x).to(x)  # mid-grey (0 in [-1, 1]) wherever there is no bird
            if x.shape[-1] != self.size:
                x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
            f = self.net.extract_features(x).mean((2, 3))
            out.append(F.normalize(f, dim=1))
        return torch.cat(out)


def segmenter_bird_mask(seg):
    """A bird_mask for FeatureNet from the SynthBirds part segmenter (t2i.partseg): 1 - P(background) per pixel."""
    @torch.no_grad()
    def mask(images: Tensor) -> Tensor:
        return 1 - seg.probabilities(images.to(next(seg.parameters()).device))[:, :1]
    return mask


def group_diversity(feats: Tensor) -> float:
    """feats [K, M, D] (L2-normalised, M images of each of K groups) -> mean pairwise 1 - cos within groups."""
    k, m, _ = feats.shape
    if m < 2:
        raise ValueError("diversity needs at least two images per caption")
    sim = feats @ feats.transpose(1, 2)  # [K, M, M]
    off = ~torch.eye(m, dtype=torch.bool)
    return float((1 - sim[:, off]).clamp(min=0).mean())


@torch.no_grad()
def generator_diversity(pipe, captions: list[str], seeds: int = 8, net: FeatureNet | None = None,
                        seed: int = 0) -> float:
    """Diversity of `pipe` over `seeds` draws of each caption (one batch of `seeds` images per caption)."""
    net = net or FeatureNet()
    feats = []
    for j, cap in enumerate(captions):
        res = pipe([cap], seed=seed + 1000 * j, n=seeds, return_tensors=True)
        feats.append(net(res.tensors.images[-1].float().cpu()))
    return group_diversity(torch.stack(feats))


def real_diversity(data, class_ids: list[int], per_class: int = 8, net: FeatureNet | None = None,
                   seed: int = 0) -> float:
    """The same measure on real images: `per_class` random images of each given class of a CaptionDataset."""
    net = net or FeatureNet()
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for i, s in enumerate(data.samples):
        by_class.setdefault(s.class_id, []).append(i)
    feats = []
    for c in class_ids:
        pool = by_class.get(c, [])
        if len(pool) < 2:  # a class with a single image says nothing about spread
            continue
        pick = rng.choice(len(pool), size=min(per_class, len(pool)), replace=False)
        feats.append(net(torch.stack([data[pool[int(j)]]["image"] for j in pick])))
    if not feats:
        return float("nan")
    m = min(len(f) for f in feats)
    return group_diversity(torch.stack([f[:m] for f in feats]))
