"""Text-conditional projected discriminator (ours, after Projected GANs, Sauer et al. 2021, made text-conditional
the way StyleGAN-T and GALIP do): no seed paper uses it; `d = "projected"` in a family's config selects it.

image [-1, 1] -> DiffAugment (translation, cutout) -> ImageNet normalisation -> frozen EfficientNet-Lite0
(eval mode, never trained, kept out of the state dict) -> features at 4 scales
-> fixed random cross-channel mixing (1x1 conv, CCM) and cross-scale mixing (top-down upsample + add, CSM)
-> one small trainable head per scale (spectrally normalised strided convs down to <= 4x4) -> h [N, C, h, w]
-> logit per location = conv1x1(h) + <h, W_s s> / sqrt(C) (+ <h, word context> / sqrt(C) with word features,
   the context being AttnGAN attention from each location to the projected words).
All locations of all scales are logits; the DF-GAN hinge (real / fake / mismatched caption) applies to each.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from t2i.nn.attention import word_attention

# (block index after which a feature is taken, its channels): strides 4, 8, 16, 32 of EfficientNet-Lite0
FEATURE_BLOCKS = ((2, 24), (4, 40), (10, 112), (15, 320))
MIX_CHANNELS = (32, 64, 128, 256)  # CCM output widths (Projected GANs: 64..512 for 256 px; halved for 64 px)


@lru_cache(maxsize=None)
def _shared_feature_net(device: str) -> nn.Module:
    """One frozen EfficientNet-Lite0 per device, shared by every projected D of the process (it is read-only)."""
    from t2i.nn.pretrained import efficientnet_lite0

    return efficientnet_lite0(frozen=True).to(device)


def diff_augment(x: Tensor, policy: tuple[str, ...]) -> Tensor:
    """DiffAugment (Zhao et al. 2020): differentiable, a fresh draw per image. translation: shift by up to 1/8 of
    the side with zero padding; cutout: a zeroed square of half the side; color: brightness, saturation, contrast."""
    n, _, h, w = x.shape
    if "color" in policy:
        x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean
    if "translation" in policy:
        s = max(1, h // 8)
        shift = torch.randint(-s, s + 1, (n, 2), device=x.device)
        ys = (torch.arange(h, device=x.device)[None, :] - shift[:, :1]).clamp(-1, h)  # [N, H]
        xs = (torch.arange(w, device=x.device)[None, :] - shift[:, 1:]).clamp(-1, w)
        padded = F.pad(x, (1, 1, 1, 1))  # index -1 / h -> the zero border
        idx_y = (ys + 1)[:, None, :, None].expand(n, x.size(1), h, w + 2)
        x = padded.gather(2, idx_y)
        idx_x = (xs + 1)[:, None, None, :].expand(n, x.size(1), h, w)
        x = x.gather(3, idx_x)
    if "cutout" in policy:
        ch, cw = h // 2, w // 2
        cy = torch.randint(0, h - ch + 1, (n, 1, 1), device=x.device)
        cx = torch.randint(0, w - cw + 1, (n, 1, 1), device=x.device)
        yy = torch.arange(h, device=x.device)[None, :, None]
        xx = torch.arange(w, device=x.device)[None, None, :]
        keep = ~((yy >= cy) & (yy < cy + ch) & (xx >= cx) & (xx < cx + cw))
        x = x * keep[:, None].to(x.dtype)
    return x


class ProjectedFeatures(nn.Module):
    """Frozen EfficientNet-Lite0 features at 4 scales, mixed by fixed random CCM and CSM (no parameters)."""

    def __init__(self, input_size: int = 64,  # side the image is resized to before the feature network
                 seed: int = 0):  # seed of the fixed random mixing weights
        super().__init__()
        self.input_size = input_size
        g = torch.Generator().manual_seed(seed)
        for i, ((_, cin), cout) in enumerate(zip(FEATURE_BLOCKS, MIX_CHANNELS)):
            self.register_buffer(f"ccm{i}", torch.randn(cout, cin, 1, 1, generator=g) * math.sqrt(2.0 / cin))
            if i + 1 < len(MIX_CHANNELS):  # CSM: the deeper mixed map, 1x1-projected to this scale's width
                c_deep = MIX_CHANNELS[i + 1]
                self.register_buffer(f"csm{i}", torch.randn(cout, c_deep, 1, 1, generator=g) * math.sqrt(1.0 / c_deep))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    @property
    def net(self) -> nn.Module:
        return _shared_feature_net(str(self.mean.device))

    def forward(self, x: Tensor) -> list[Tensor]:
        if x.shape[-1] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.input_size)
        x = ((x + 1) / 2 - self.mean) / self.std
        net = self.net
        h = net._swish(net._bn0(net._conv_stem(x)))
        taken, wanted, last = [], dict(FEATURE_BLOCKS), FEATURE_BLOCKS[-1][0]
        for i, block in enumerate(net._blocks):
            h = block(h)
            if i in wanted:
                taken.append(h)
            if i >= last:
                break
        mixed = [F.conv2d(f, getattr(self, f"ccm{i}")) for i, f in enumerate(taken)]
        for i in range(len(mixed) - 2, -1, -1):  # top-down: each scale adds the (already mixed) deeper one
            deep = F.interpolate(F.conv2d(mixed[i + 1], getattr(self, f"csm{i}")), size=mixed[i].shape[-2:],
                                 mode="bilinear", align_corners=False)
            mixed[i] = mixed[i] + deep
        return mixed


class ProjectedHead(nn.Module):
    """One scale's trainable head: SN strided convs down to <= 4x4, then per-location text-conditional logits."""

    def __init__(self, in_ch: int,  # channels of the mixed feature
                 side: int,  # its spatial side
                 text_dim: int,  # D, sentence / word feature size
                 width: int = 64,  # channels of the head
                 use_words: bool = True):  # add the word-context term when word features are given
        super().__init__()
        layers, c = [spectral_norm(nn.Conv2d(in_ch, width, 3, 1, 1)), nn.LeakyReLU(0.2)], width
        while side > 4:
            layers += [spectral_norm(nn.Conv2d(c, width, 4, 2, 1)), nn.LeakyReLU(0.2)]
            side //= 2
        self.body = nn.Sequential(*layers)
        self.out = spectral_norm(nn.Conv2d(width, 1, 1))
        self.sent_proj = nn.Linear(text_dim, width)
        self.word_proj = nn.Linear(text_dim, width) if use_words else None
        self.width = width

    def forward(self, feat: Tensor, sent: Tensor, words: Tensor | None = None,
                word_mask: Tensor | None = None) -> Tensor:
        """-> logits [N, locations]."""
        h = self.body(feat)
        n, c = h.shape[:2]
        logit = self.out(h).flatten(1) + (h.flatten(2) * self.sent_proj(sent)[:, :, None]).sum(1) / math.sqrt(c)
        if self.word_proj is not None and words is not None:
            w = self.word_proj(words.transpose(1, 2)).transpose(1, 2)  # [N, C, L]
            ctx, _ = word_attention(h.flatten(2), w, word_mask, gamma=1.0 / math.sqrt(c))
            logit = logit + (h.flatten(2) * ctx).sum(1) / math.sqrt(c)
        return logit


class ProjectedDiscriminator(nn.Module):
    """D(img, sent, words, word_mask) -> logits [N, K] over all locations of the 4 heads.

    forward(..., mismatched=(sent', words', mask')) also scores the same features against other captions
    (one feature pass for both) and returns (logits, mismatched_logits)."""

    def __init__(self, text_dim: int = 256,  # D, sentence / word feature size
                 input_size: int = 64,  # side the feature network reads (64: 16, 8, 4, 2 px feature maps)
                 width: int = 64,  # channels of each head
                 use_words: bool = True,  # word-context term in each head
                 augment: tuple[str, ...] = ("translation", "cutout")):  # DiffAugment policy
        super().__init__()
        self.features = ProjectedFeatures(input_size)
        self.augment = tuple(augment)
        sides = [input_size // 4, input_size // 8, input_size // 16, input_size // 32]
        self.heads = nn.ModuleList([ProjectedHead(c, max(1, s), text_dim, width, use_words)
                                    for c, s in zip(MIX_CHANNELS, sides)])

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        _shared_feature_net(str(self.features.mean.device))  # the frozen net follows the module's device
        return self

    def forward(self, img: Tensor, sent: Tensor, words: Tensor | None = None, word_mask: Tensor | None = None,
                mismatched: tuple | None = None):
        if self.augment:
            img = diff_augment(img, self.augment)
        feats = self.features(img)
        logits = torch.cat([hd(f, sent, words, word_mask) for hd, f in zip(self.heads, feats)], dim=1)
        if mismatched is None:
            return logits
        s2, w2, m2 = mismatched
        return logits, torch.cat([hd(f, s2, w2, m2) for hd, f in zip(self.heads, feats)], dim=1)
