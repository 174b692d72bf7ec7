"""DF-GAN building blocks, written once and shared by the one-stage families (dfgan, ssagan, swfgan, csagan).

Generator side
    FuseCond      what a fusion layer may read: the condition vector, a spatial mask, a word context map, words.
    Affine        DF-GAN affine: gamma(c) * h + beta(c), gamma/beta = Linear(c, C) -> ReLU -> Linear(C, C),
                  initialised to gamma = 1, beta = 0.
    WordAffine    per-pixel affine from a word-context map (SWF-GAN word level): gamma(ctx) * h + beta(ctx).
    PlainNorm     unconditional BatchNorm that takes (h, cond) like a fusion layer (CSA-GAN's G0 branch).
    ResUpBlock    the DF-GAN residual generator block, parametrised by the fusion layer, the upsampling mode and
                  an optional per-block "guide" (mask predictor / word attention) that runs on the upsampled
                  input before the residual branch.
Discriminator side (DF-GAN one-way discriminator)
    DownBlock, DFeatures (image -> [N, 8nf, 4, 4]), CondHead (tile sentence to 4x4, concat, two convs -> logit),
    OneWayDiscriminator (the three together; only its forward is called by the loss steps, so it wraps in DDP).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2i.nn.common import bicubic_x2

LRELU_SLOPE = 0.2


# --- channel schedules ------------------------------------------------------------------------------------------
def num_levels(img_size: int) -> int:
    lv = int(round(math.log2(img_size)))
    if 2 ** lv != img_size or img_size < 16:
        raise ValueError(f"img_size must be a power of two >= 16, got {img_size}")
    return lv - 1  # DF-GAN: log2(size) - 1 channel entries -> log2(size) - 2 blocks (4x4 -> size)


def g_channels(nf: int, img_size: int) -> list[int]:
    """Generator channels from the 4x4 start to the final resolution: nf * min(2^i, 8), reversed.
    64 px -> [8, 8, 4, 2, 1] * nf (4 blocks), 128 px -> 5 blocks, 256 px -> 6 blocks."""
    return [nf * min(2 ** i, 8) for i in range(num_levels(img_size))][::-1]


def d_channels(nf: int, img_size: int) -> list[int]:
    """Discriminator channels from the image stem to 4x4: nf * min(2^i, 8). 64 px -> [1, 2, 4, 8, 8] * nf."""
    return [nf * min(2 ** i, 8) for i in range(num_levels(img_size))]


# --- fusion layers --------------------------------------------------------------------------------------------------
@dataclass
class FuseCond:
    """The conditioning a fusion layer can read. Guides return a copy with `mask` / `context` filled in.

    vec:       [N, c] condition vector (sentence, [z; s] or the augmented condition).
    mask:      [N, 1, H, W] spatial mask in [0, 1] at the block's resolution (SSA-GAN / CSA-GAN), or None.
    context:   [N, Cq, H, W] per-pixel word context (SWF-GAN word level), or None.
    words:     [N, D, L] word features, or None; word_mask [N, L] (True = padding), or None.
    """

    vec: Tensor | None
    mask: Tensor | None = None
    context: Tensor | None = None
    words: Tensor | None = None
    word_mask: Tensor | None = None

    def replace(self, **kw) -> "FuseCond":
        return dataclasses.replace(self, **kw)


def cond_mlp(in_dim: int,  # size of the condition
             out_dim: int,  # C, channels to modulate
             bias_init: float,  # initial output (1 for gamma of gamma*h, 0 for beta or for the 1 + gamma form)
             conv: bool = False):  # True: 1x1 convs (a per-pixel MLP on a [N, in_dim, H, W] map)
    """Linear(in, C) -> ReLU -> Linear(C, C) with the last layer zero-weighted, so it starts at `bias_init`."""
    layer = (lambda i, o: nn.Conv2d(i, o, 1)) if conv else nn.Linear
    net = nn.Sequential(layer(in_dim, out_dim), nn.ReLU(inplace=True), layer(out_dim, out_dim))
    nn.init.zeros_(net[2].weight)
    nn.init.constant_(net[2].bias, bias_init)
    return net


class Affine(nn.Module):
    """DF-GAN affine transformation: gamma(c) * h + beta(c), per channel. No normalisation."""

    def __init__(self, num_features: int,  # C, channels of h
                 cond_dim: int):  # size of cond.vec
        super().__init__()
        self.num_features = num_features
        self.fc_gamma = cond_mlp(cond_dim, num_features, 1.0)
        self.fc_beta = cond_mlp(cond_dim, num_features, 0.0)

    def forward(self, h: Tensor, cond: FuseCond) -> Tensor:
        assert h.dim() == 4 and h.size(1) == self.num_features, h.shape
        g = self.fc_gamma(cond.vec)[:, :, None, None]
        b = self.fc_beta(cond.vec)[:, :, None, None]
        return g * h + b


class WordAffine(nn.Module):
    """Word-level affine (SWF-GAN): gamma(ctx) * h + beta(ctx) with spatial gamma, beta maps computed by per-pixel
    MLPs (1x1 convs) from the word-context map cond.context that the block's word-region attention produced."""

    def __init__(self, num_features: int,  # C, channels of h
                 context_dim: int):  # Cq, channels of cond.context
        super().__init__()
        self.num_features = num_features
        self.fc_gamma = cond_mlp(context_dim, num_features, 1.0, conv=True)
        self.fc_beta = cond_mlp(context_dim, num_features, 0.0, conv=True)

    def forward(self, h: Tensor, cond: FuseCond) -> Tensor:
        ctx = cond.context
        assert ctx is not None and ctx.shape[0] == h.shape[0] and ctx.shape[2:] == h.shape[2:], (ctx, h.shape)
        assert h.size(1) == self.num_features, h.shape
        return self.fc_gamma(ctx) * h + self.fc_beta(ctx)


class PlainNorm(nn.Module):
    """BatchNorm2d (with its own affine) that ignores the condition; a fusion layer for unconditional branches."""

    def __init__(self, num_features: int):  # C, channels of h
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features)

    def forward(self, h: Tensor, cond: FuseCond) -> Tensor:
        return self.bn(h)


# --- generator block ------------------------------------------------------------------------------------------------
FusionFactory = Callable[[int], nn.Module]  # channels -> module with forward(h, cond: FuseCond) -> h


_NEAREST_TAPS = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def nearest_conv_as_transposed(w: Tensor) -> Tensor:
    """The weight [I, O, 4, 4] of the stride-2, padding-1 transposed conv equal to conv3x3(w) after nearest x2:
    output row 2i reads input rows i-1 (tap 0) and i (taps 1 + 2), row 2i+1 rows i (taps 0 + 1) and i+1 (tap 2)."""
    m = _NEAREST_TAPS.to(w)
    fmt = torch.channels_last if w.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    return torch.einsum("pu,oiuv,qv->iopq", m, w, m).contiguous(memory_format=fmt)  # the layout the input will have


class NearestConvCache:
    """A conv3x3's weight in the transposed form of nearest_conv_as_transposed, for modules that apply it after a
    nearest x2; without autograd it is computed once per weight version (the cache follows in-place changes)."""

    def __init__(self):
        self._key, self._w = None, None

    def __call__(self, conv: nn.Conv2d) -> Tensor:
        w = conv.weight
        if torch.is_grad_enabled() and w.requires_grad:
            return nearest_conv_as_transposed(w)
        key = (w.data_ptr(), -1 if w.is_inference() else w._version, w.dtype, w.device)
        if self._key != key:
            self._w, self._key = nearest_conv_as_transposed(w.detach()), key
        return self._w


def conv_after_nearest(x: Tensor, conv: nn.Conv2d, cache: NearestConvCache) -> Tensor:
    """conv(nearest x2(x)) for a 3x3, padding-1 conv, computed as a stride-2 transposed 4x4 conv of x: the same
    numbers from 16/36 of the multiply-adds (ours, issue 22); a few pixels keep the plain form, where oneDNN's
    transposed conv is slower."""
    if x.size(0) * x.size(2) * x.size(3) < 64:
        return conv(F.interpolate(x, scale_factor=2, mode="nearest"))
    return F.conv_transpose2d(x, cache(conv), conv.bias, stride=2, padding=1)


class ResUpBlock(nn.Module):
    """DF-GAN residual generator block, parametrised:

        h = upsample(x)                                    (nearest | bicubic | none)
        r, cond, info = guide(h, cond, low)                (default: r = h; a mask predictor may fill cond.mask
                                                            or replace r, e.g. by the coordinate-masked feature)
        r = conv3x3(LReLU(fuse(... LReLU(fuse(r)))))       sub-block 1 (in_ch -> out_ch), `fusions_per_conv` fusions
        r = conv3x3(LReLU(fuse(... LReLU(fuse(r)))))       sub-block 2 (out_ch -> out_ch)
        out = shortcut(h) + r                              (1x1 conv shortcut when in_ch != out_ch)

    forward(x, cond) -> (out, info); info may hold "mask" [N, 1, H, W] and "word_attn" [N, L, H, W].
    """

    def __init__(self, in_ch: int,  # channels of x
                 out_ch: int,  # channels of the output
                 fusion: FusionFactory,  # builds one fusion layer for a given channel count
                 upsample: str | None = "nearest",  # "nearest" | "bicubic" | None (no resolution change)
                 guide: nn.Module | None = None,  # forward(h, cond, low) -> (branch_input, cond, info) or None;
                 # low: x when h is its nearest x2 (a guide's conv3x3 on h may run on it: conv_after_nearest), else None
                 fusions_per_conv: int = 2):  # fusion+LReLU pairs before each conv (DF-GAN: 2)
        super().__init__()
        if upsample not in ("nearest", "bicubic", None):
            raise ValueError(f"upsample must be nearest, bicubic or None, got {upsample!r}")
        self.in_ch, self.out_ch, self.upsample = in_ch, out_ch, upsample
        self.guide = guide
        self.fuse1 = nn.ModuleList([fusion(in_ch) for _ in range(fusions_per_conv)])
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.fuse2 = nn.ModuleList([fusion(out_ch) for _ in range(fusions_per_conv)])
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()
        # nearest x2 copies each pixel to a 2x2 patch, so per-channel fusions, LReLU and the 1x1 shortcut give the
        # same result before it as after it, and conv3x3(nearest x2(r)) is a stride-2 transposed 4x4 conv of r:
        # the same numbers from 1/4 of the fusion work and 16/36 of conv1's multiply-adds (ours, issue 22)
        self.low_res = upsample == "nearest" and guide is None and all(isinstance(f, Affine) for f in self.fuse1)
        self._conv1_t = NearestConvCache()

    @staticmethod
    def _fuse_all(fusions: nn.ModuleList, r: Tensor, cond: FuseCond) -> Tensor:
        for f in fusions:
            r = F.leaky_relu(f(r, cond), LRELU_SLOPE)
        return r

    def forward(self, x: Tensor, cond: FuseCond) -> tuple[Tensor, dict[str, Tensor]]:
        assert x.dim() == 4 and x.size(1) == self.in_ch, (x.shape, self.in_ch)
        if self.low_res:
            r = conv_after_nearest(self._fuse_all(self.fuse1, x, cond), self.conv1, self._conv1_t)
            r = self.conv2(self._fuse_all(self.fuse2, r, cond))
            return F.interpolate(self.shortcut(x), scale_factor=2, mode="nearest") + r, {}
        h = x
        if self.upsample == "bicubic":
            h = bicubic_x2(x)  # keeps x's channels-last layout (the built-in kernel returns NCHW)
        elif self.upsample == "nearest":
            h = F.interpolate(x, scale_factor=2, mode="nearest")
        info: dict[str, Tensor] = {}
        r = h
        if self.guide is not None:
            r, cond, info = self.guide(h, cond, x if self.upsample == "nearest" else None)
            assert r.shape == h.shape, (r.shape, h.shape)
        r = self.conv1(self._fuse_all(self.fuse1, r, cond))
        r = self.conv2(self._fuse_all(self.fuse2, r, cond))
        out = self.shortcut(h) + r
        assert out.shape == (x.size(0), self.out_ch, h.size(2), h.size(3)), out.shape
        return out, info


# --- discriminator ------------------------------------------------------------------------------------------------
class DownBlock(nn.Module):
    """DF-GAN downsampling residual D block: x -> avgpool(shortcut(x)) + gamma * [conv4x4/2 -> LReLU -> conv3x3 ->
    LReLU](x); gamma is a learned scalar initialised to 0; 1x1 shortcut conv when channels change."""

    def __init__(self, in_ch: int,  # input channels
                 out_ch: int):  # output channels (resolution halves)
        super().__init__()
        self.in_ch, self.out_ch = in_ch, out_ch
        self.res = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 4, 2, 1, bias=False), nn.LeakyReLU(LRELU_SLOPE, inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False), nn.LeakyReLU(LRELU_SLOPE, inplace=True))
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        assert x.dim() == 4 and x.size(1) == self.in_ch and x.size(2) % 2 == 0, x.shape
        return F.avg_pool2d(self.shortcut(x), 2) + self.gamma * self.res(x)


class DFeatures(nn.Module):
    """Image [N, 3, S, S] -> features [N, 8nf, 4, 4]: conv3x3 stem then DownBlocks down to 4x4."""

    def __init__(self, nf: int,  # base width
                 img_size: int):  # S, input resolution
        super().__init__()
        ch = d_channels(nf, img_size)
        self.img_size, self.out_ch = img_size, ch[-1]
        self.stem = nn.Conv2d(3, ch[0], 3, 1, 1)
        self.blocks = nn.Sequential(*[DownBlock(a, b) for a, b in zip(ch[:-1], ch[1:])])

    def forward(self, img: Tensor) -> Tensor:
        assert img.dim() == 4 and img.shape[1:] == (3, self.img_size, self.img_size), img.shape
        h = self.blocks(self.stem(img))
        assert h.shape[1:] == (self.out_ch, 4, 4), h.shape
        return h


class CondHead(nn.Module):
    """One-way conditional head: tile the sentence to 4x4, concat with the features, conv3x3 -> LReLU -> conv4x4
    -> one logit per image."""

    def __init__(self, feat_ch: int,  # channels of the 4x4 image features
                 text_dim: int,  # D, sentence size
                 hidden: int):  # channels of the joint conv (DF-GAN: 2 nf)
        super().__init__()
        self.feat_ch, self.text_dim = feat_ch, text_dim
        self.joint = nn.Sequential(
            nn.Conv2d(feat_ch + text_dim, hidden, 3, 1, 1, bias=False), nn.LeakyReLU(LRELU_SLOPE, inplace=True),
            nn.Conv2d(hidden, 1, 4, 1, 0, bias=False))

    def forward(self, feat: Tensor, sent: Tensor) -> Tensor:
        assert feat.shape[1:] == (self.feat_ch, 4, 4), feat.shape
        assert sent.shape == (feat.size(0), self.text_dim), sent.shape
        s = sent[:, :, None, None].expand(-1, -1, 4, 4)
        return self.joint(torch.cat([feat, s], dim=1)).view(-1)


class OneWayDiscriminator(nn.Module):
    """DF-GAN one-way discriminator: D(img, sent) -> logits [N].

    forward(img, sent, mismatched) additionally scores the same image features against `mismatched` sentences
    (one feature pass for both) and returns (logits, mismatched_logits)."""

    def __init__(self, nf: int,  # base width (nf = 32 for birds)
                 img_size: int,  # input resolution
                 text_dim: int):  # D, sentence size
        super().__init__()
        self.features = DFeatures(nf, img_size)
        self.head = CondHead(self.features.out_ch, text_dim, hidden=2 * nf)

    def forward(self, img: Tensor, sent: Tensor, mismatched: Tensor | None = None):
        feat = self.features(img)
        logits = self.head(feat, sent)
        if mismatched is None:
            return logits
        return logits, self.head(feat, mismatched)
