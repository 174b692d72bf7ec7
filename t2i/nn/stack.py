"""Building blocks of the StackGAN++ / AttnGAN / DM-GAN multi-stage pipeline, shared by ECAGAN, CAE-GAN and FF-GAN:
up-sampling block, residual block, to-RGB, the initial stage (FC -> up blocks) and the per-stage discriminator
with unconditional and sentence-conditional logits.

Resolutions: the last stage has img_size; stage i of n has img_size / 2^(n-1-i) (64 px: 16 -> 32 -> 64;
256 px: 64 -> 128 -> 256 as StackGAN++).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2i.nn.carafe import CARAFE
from t2i.nn.channel_attention import ChannelAttentionConv
from t2i.nn.common import ToRGB, glu_residual_body  # noqa: F401 - ToRGB is part of this module's API


def stage_sizes(img_size: int, n_stages: int) -> list[int]:
    """Side of each stage's image, coarse to fine; the first must be a power of two >= 8 (4x4 seed + up blocks)."""
    sizes = [img_size >> (n_stages - 1 - i) for i in range(n_stages)]
    first = sizes[0]
    if first < 8 or first & (first - 1) or sizes[0] << (n_stages - 1) != img_size:
        raise ValueError(f"img_size {img_size} with {n_stages} stages gives a first stage of {first} px: "
                         "need a power of two >= 8")
    return sizes


def resize_image(x: Tensor, size: int) -> Tensor:
    """Down-scale a real image batch to one stage's resolution (bilinear, antialiased); identity at the same size."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


class UpBlock(nn.Module):
    """x2 up-sampling (nearest, or CARAFE) -> conv3x3 -> BN -> GLU (AttnGAN's upBlock)."""

    def __init__(self, in_ch: int,  # input channels
                 out_ch: int,  # output channels
                 upsampler: str = "nearest",  # "nearest" (StackGAN++/AttnGAN/DM-GAN) or "carafe" (ECAGAN)
                 carafe_k_up: int = 5,  # CARAFE reassembly kernel size
                 carafe_k_enc: int = 3,  # CARAFE content-encoder kernel size
                 carafe_c_mid: int = 64):  # CARAFE compressed channels
        super().__init__()
        self.in_ch, self.out_ch = in_ch, out_ch
        if upsampler == "nearest":
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
        elif upsampler == "carafe":
            self.up = CARAFE(in_ch, 2, carafe_k_up, carafe_k_enc, carafe_c_mid)
        else:
            raise ValueError(f"unknown upsampler {upsampler!r} (nearest | carafe)")
        self.conv = nn.Sequential(nn.Conv2d(in_ch, out_ch * 2, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(out_ch * 2), nn.GLU(dim=1))

    def forward(self, x: Tensor) -> Tensor:
        assert x.dim() == 4 and x.size(1) == self.in_ch, (x.shape, self.in_ch)
        return self.conv(self.up(x))


class ResBlock(nn.Module):
    """AttnGAN residual block: x + BN(conv3x3(GLU(BN(conv3x3(x)))))."""

    def __init__(self, channels: int):  # C, input (= output) channels
        super().__init__()
        self.channels = channels
        self.body = glu_residual_body(channels)

    def forward(self, x: Tensor) -> Tensor:
        assert x.dim() == 4 and x.size(1) == self.channels, (x.shape, self.channels)
        return x + self.body(x)


class InitStage(nn.Module):
    """Stage 0 trunk: FC(code -> C0 x 4 x 4) -> BN -> GLU -> n_up up blocks halving channels -> [ngf channels].

    C0 = ngf * 2^n_up, so at 64 px (n_up = 4) the seed is ngf * 16 channels, as in AttnGAN's INIT_STAGE_G.
    The FC is normalised by a BatchNorm2d over the 4x4 map (AttnGAN uses BatchNorm1d on the flat vector), which
    also works for a batch of one image. ECAGAN adds channel-attention conv blocks at the end.
    """

    def __init__(self, in_dim: int,  # size of the input code ([c_hat; z])
                 ngf: int,  # output channels
                 out_size: int,  # output side (4 * 2^n_up)
                 upsampler: str = "nearest",  # up-sampling of the up blocks ("nearest" | "carafe")
                 n_ca_blocks: int = 0,  # channel-attention conv blocks after the last up block (ECAGAN)
                 se_reduction: int = 4,  # their SE bottleneck ratio
                 **carafe_kw):  # carafe_k_up / carafe_k_enc / carafe_c_mid for upsampler="carafe"
        super().__init__()
        n_up = int(math.log2(out_size // 4))
        assert 4 << n_up == out_size, out_size
        self.in_dim, self.ngf, self.out_size = in_dim, ngf, out_size
        c0 = ngf << n_up
        self.c0 = c0
        self.fc = nn.Linear(in_dim, c0 * 2 * 16, bias=False)
        self.bn = nn.BatchNorm2d(c0 * 2)
        self.ups = nn.Sequential(*[UpBlock(c0 >> i, c0 >> (i + 1), upsampler, **carafe_kw) for i in range(n_up)])
        self.ca = nn.Sequential(*[ChannelAttentionConv(ngf, se_reduction) for _ in range(n_ca_blocks)])

    def forward(self, code: Tensor) -> Tensor:
        assert code.dim() == 2 and code.size(1) == self.in_dim, (code.shape, self.in_dim)
        h = F.glu(self.bn(self.fc(code).view(-1, self.c0 * 2, 4, 4)), dim=1)
        h = self.ca(self.ups(h))
        assert h.shape[1:] == (self.ngf, self.out_size, self.out_size), h.shape
        return h


class StageDiscriminator(nn.Module):
    """StackGAN++ / AttnGAN discriminator for one resolution.

    Image encoder: conv4x4/2 down to 4x4 (channels ndf * min(2^i, 8); BN after all but the first; LReLU 0.2).
    Unconditional logit: conv4x4 on the 4x4 code. Conditional logit: the sentence feature is tiled to 4x4 and
    concatenated, conv3x3 -> BN -> LReLU, conv4x4. Logits (no sigmoid): use with bce_real / bce_fake.
    forward(x, sent, sent_mismatch=None) -> (uncond [N], cond [N], cond_mismatch [N] or None); the mismatched
    sentence reuses the image code, and a single call keeps the module DDP-friendly.
    """

    def __init__(self, img_size: int,  # side of the images it judges (power of two >= 8)
                 ndf: int,  # base channels
                 text_dim: int):  # D, sentence feature size
        super().__init__()
        n_down = int(math.log2(img_size // 4))
        assert img_size >= 8 and 4 << n_down == img_size, img_size
        self.img_size, self.text_dim = img_size, text_dim
        chans = [ndf * min(2 ** i, 8) for i in range(n_down)]
        layers: list[nn.Module] = [nn.Conv2d(3, chans[0], 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
        self.encode = nn.Sequential(*layers)
        c = chans[-1]
        self.code_ch = c
        self.uncond = nn.Conv2d(c, 1, 4)
        self.joint = nn.Sequential(nn.Conv2d(c + text_dim, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                   nn.LeakyReLU(0.2, inplace=True))
        self.cond = nn.Conv2d(c, 1, 4)

    def _cond_logit(self, h: Tensor, sent: Tensor) -> Tensor:
        assert sent.shape == (h.size(0), self.text_dim), (sent.shape, h.shape)
        s = sent[:, :, None, None].expand(-1, -1, 4, 4)
        return self.cond(self.joint(torch.cat([h, s], dim=1))).flatten()

    def forward(self, x: Tensor, sent: Tensor, sent_mismatch: Tensor | None = None):
        assert x.shape[1:] == (3, self.img_size, self.img_size), (x.shape, self.img_size)
        h = self.encode(x)
        assert h.shape[1:] == (self.code_ch, 4, 4), h.shape
        mis = None if sent_mismatch is None else self._cond_logit(h, sent_mismatch)
        return self.uncond(h).flatten(), self._cond_logit(h, sent), mis
