"""FF-GAN (seed 003, Xu et al.): feature-fusion text-to-image GAN with one generator and ONE discriminator.

    I_s = CA(s);  F1 = H1(z, I_s)                                         FC -> up blocks (AttnGAN's INIT_STAGE_G)
    for j = 1, 2:
        I_w^j   = Attn_j(e, F_{j,f})                                      AttnGAN word attention (F_{1,f} = F1)
        F_{d,j} = [F_{j,f}, I_s, I_w^j]                                   concatenation (I_s tiled over the map)
        F_{j+1} = H_{j+1}(H_dense(F_{d,j}) + F_{d,j})                     dense block, up block, FPAM residual blocks
        F_{j+1,f} = F_{j+1} + H_Lj(F_{j,f})                               lateral: x2 up + 1x1 conv
    image = ToRGB(F_{3,f}),  F_{3,f} = F3 + H_L2(F2) + H_L2(H_L1(F1)) = F3 + F2' + F1''

H_L is linear (nearest up-sampling and a bias-free 1x1 conv), so H_L2(F2) + H_L2(H_L1(F1)) = H_L2(F2 + H_L1(F1))
= H_L2(F_{2,f}): computing the fused sum stage by stage is exactly the paper's eq. (9)-(10), at half the cost.

Choices where the paper is vague:
- The generator emits only the final image (GenOutput.images has one entry): the paper generates the fine image
  directly from the fused features and has a single discriminator, so intermediate images would be untrained.
  The per-stage word attention ("stage1" on F1, "stage2" on F_{2,f}) and the FPAM pixel attention maps
  ("fpam_stage2", "fpam_stage3") are returned for visualisation.
- H_dense: DenseNet block (BN -> ReLU -> conv3x3, growth rate k, each layer sees all earlier outputs) closed by a
  1x1 transition back to the input width, so that H_dense(F_d) + F_d is defined.
- H_j (j >= 2): a 1x1 conv from the width of F_{d,j} (2 ngf + c_dim) down to ngf (a DenseNet-style transition,
  so the 3x3 conv of the up block runs at ngf width, 3-4x cheaper than on the concatenation), the AttnGAN up
  block (x2 nearest, conv3x3, BN, GLU), then n_res FPAM residual blocks.
- FPAM residual block: residual branch r = BN(conv(GLU(BN(conv(x))))); a U-shaped pyramid on r (4 levels,
  stride-2 convs with kernels 7, 5, 3, 3, a same-kernel lateral conv per level, LeakyReLU(0.2) (no BN: the
  coarsest level can be 1x1 for a batch of one; leaky, so that tiny coarse levels cannot die), coarse-to-fine bilinear
  up-sampling and addition, Pyramid Attention Network style) gives a 1-channel pixel attention map
  (sigmoid; the paper insists on pixel-level, not channel-level, attention); a global-pooling branch adds
  image-level context: a = r * att + conv1x1(mean(r)); out = x + conv1x1([r; a]).
- Losses: D as eq. (4) (see multistage.py); G: eq. (5) adversarial terms + lambda_kl * L_CA (CA is used, and CA
  without its KL term is not CA). Eq. (5) has no DAMSM term, so lambda_damsm defaults to 0 (AttnGAN: 5.0).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2i.models.base import GenOutput, TextConditionalGenerator
from t2i.models.multistage import MultiStageFamily
from t2i.models.registry import register
from t2i.nn.attention import word_attention
from t2i.models.projected import DChoice, build_projected
from t2i.nn.common import CondAugment, check_ca_inference, glu_residual_body, kl_loss, split_latent
from t2i.nn.stack import InitStage, StageDiscriminator, ToRGB, UpBlock, stage_sizes


@dataclass
class FFGANConfig(DChoice):
    img_size: int = 64  # final side; feature maps img_size/4, /2, /1 (64: 16->32->64 on CPU; 256: 64->128->256)
    n_stages: int = 3  # feature stages F1..F3 (the paper: 3)
    ngf: int = 32  # channels of every stage's feature map F_j
    ndf: int = 32  # width of the single discriminator (AttnGAN birds at 256 px: 64)
    z_dim: int = 100  # noise size
    text_dim: int = 256  # D, DAMSM sentence / word feature size
    c_dim: int = 100  # CA output size I_s (AttnGAN: 100)
    dense_layers: int = 4  # layers per dense block H_dense
    dense_growth: int = 16  # growth rate of H_dense
    n_res: int = 1  # FPAM residual blocks per H_j (j >= 2)
    fpam_mid: int | None = None  # channels inside the FPAM pyramid (None: ngf // 2)
    lr_g: float = 2e-4  # Adam lr of G (StackGAN++ / AttnGAN)
    lr_d: float = 2e-4  # Adam lr of D
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas (StackGAN++ / AttnGAN)
    lambda_kl: float = 1.0  # weight of L_CA (AttnGAN: 1)
    lambda_damsm: float = 0.0  # weight of L_DAMSM: eq. (5) has none; AttnGAN birds uses 5.0
    lambda_ms: float = 0.0  # ours: MSGAN mode-seeking term (against z being ignored, CAE-GAN's collapse); 0 = paper
    truncation: float | None = None  # clamp z to [-t, t] when sampling (StackGAN lineage: none)
    ca_inference: str = "sample"  # "sample": CA noise drawn at inference too, from the seeded latent (AttnGAN's code); "mean": c = mu
    # "final": one D on the final image (the paper); "every" (ours, an ablation of that claim): to-RGB heads on
    # F_1..F_{n-1} and a StackGAN++ D per stage, as ECAGAN / CAE-GAN
    d_stages: str = "final"

    def __post_init__(self):
        super().__post_init__()
        if self.d_stages not in ("final", "every"):
            raise ValueError(f"d_stages must be 'final' (the paper) or 'every', got {self.d_stages!r}")


class WordContext(nn.Module):
    """AttnGAN attention: words projected to C channels, each pixel attends over the words -> I_w [N, C, H, W]."""

    def __init__(self, text_dim: int,  # D
                 channels: int):  # C, feature channels
        super().__init__()
        self.proj = nn.Conv1d(text_dim, channels, 1, bias=False)

    def forward(self, h: Tensor, words: Tensor, word_mask: Tensor | None) -> tuple[Tensor, Tensor]:
        n, c, hh, ww = h.shape
        ctx, attn = word_attention(h.flatten(2), self.proj(words), word_mask)
        return ctx.view(n, c, hh, ww), attn.view(n, -1, hh, ww)


class DenseBlock(nn.Module):
    """H_dense: n layers BN -> ReLU -> conv3x3(k), concatenated; a 1x1 transition maps back to the input width."""

    def __init__(self, channels: int,  # input (= output) channels
                 growth: int,  # k, channels each layer adds
                 n_layers: int):  # layers
        super().__init__()
        self.channels = channels
        self.layers = nn.ModuleList(
            nn.Sequential(nn.BatchNorm2d(channels + i * growth), nn.ReLU(inplace=False),
                          nn.Conv2d(channels + i * growth, growth, 3, padding=1, bias=False))
            for i in range(n_layers))
        self.transition = nn.Conv2d(channels + n_layers * growth, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        assert x.size(1) == self.channels, (x.shape, self.channels)
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))
        return self.transition(torch.cat(feats, dim=1))


class PyramidAttention(nn.Module):
    """U-shaped 4-level feature pyramid -> 1-channel pixel attention map in (0, 1) at the input resolution."""

    def __init__(self, channels: int,  # input channels
                 mid: int,  # channels inside the pyramid
                 kernels: tuple[int, ...] = (7, 5, 3, 3)):  # one filter size per level (one stride-2 step each)
        super().__init__()
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels if i == 0 else mid, mid, k, 2, k // 2), nn.LeakyReLU(0.2))
            for i, k in enumerate(kernels))
        self.lateral = nn.ModuleList(
            nn.Sequential(nn.Conv2d(mid, mid, k, 1, k // 2), nn.LeakyReLU(0.2)) for k in kernels)
        self.out = nn.Conv2d(mid, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        feats, h = [], x
        for down, lateral in zip(self.down, self.lateral):
            h = down(h)
            feats.append(lateral(h))
        u = feats[-1]
        for f in reversed(feats[:-1]):  # coarse to fine
            u = f + F.interpolate(u, size=f.shape[-2:], mode="bilinear", align_corners=False)
        u = F.interpolate(u, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return torch.sigmoid(self.out(u))


class FPAMResBlock(nn.Module):
    """Residual block with feature pyramid attention (FPAM) and a global-pooling branch; see the module doc."""

    def __init__(self, channels: int,  # C, input (= output) channels
                 mid: int):  # pyramid channels
        super().__init__()
        self.channels = channels
        self.body = glu_residual_body(channels)
        self.pyramid = PyramidAttention(channels, mid)
        self.global_branch = nn.Conv2d(channels, channels, 1)
        self.fuse = nn.Conv2d(channels * 2, channels, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x [N, C, H, W] -> (out [N, C, H, W], pixel attention [N, 1, H, W])."""
        assert x.dim() == 4 and x.size(1) == self.channels, (x.shape, self.channels)
        r = self.body(x)
        att = self.pyramid(r)
        a = r * att + self.global_branch(r.mean(dim=(2, 3), keepdim=True))
        return x + self.fuse(torch.cat([r, a], dim=1)), att


class FFStage(nn.Module):
    """One fusion step j: F_{j,f} -> (F_{j+1,f}, word attention on F_{j,f}, FPAM attention of H_{j+1})."""

    def __init__(self, ngf: int,  # channels of F_j
                 text_dim: int,  # D
                 c_dim: int,  # size of I_s
                 dense_layers: int,  # H_dense depth
                 dense_growth: int,  # H_dense growth rate
                 n_res: int,  # FPAM residual blocks in H_{j+1}
                 fpam_mid: int):  # FPAM pyramid channels
        super().__init__()
        self.ngf = ngf
        d = ngf + c_dim + ngf  # width of F_{d,j} = [F_{j,f}, I_s, I_w^j]
        self.attn = WordContext(text_dim, ngf)
        self.dense = DenseBlock(d, dense_growth, dense_layers)
        self.squeeze = nn.Conv2d(d, ngf, 1, bias=False)  # transition to ngf before the x2 up block (see module doc)
        self.up = UpBlock(ngf, ngf)
        self.res = nn.ModuleList(FPAMResBlock(ngf, fpam_mid) for _ in range(n_res))
        self.lateral = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                     nn.Conv2d(ngf, ngf, 1, bias=False))  # H_Lj, linear (see module doc)

    def forward(self, fused: Tensor, c_hat: Tensor, words: Tensor, word_mask: Tensor | None):
        n, c, hh, ww = fused.shape
        i_w, word_attn = self.attn(fused, words, word_mask)
        i_s = c_hat[:, :, None, None].expand(-1, -1, hh, ww)
        f_d = torch.cat([fused, i_s, i_w], dim=1)
        if fused.is_contiguous(memory_format=torch.channels_last):  # i_w comes NCHW from the word attention: one
            f_d = f_d.contiguous(memory_format=torch.channels_last)  # copy here, not one in each dense conv
        h = self.up(self.squeeze(self.dense(f_d) + f_d))
        att = None
        for block in self.res:
            h, att = block(h)
        out = h + self.lateral(fused)
        assert out.shape == (n, self.ngf, 2 * hh, 2 * ww), out.shape
        return out, word_attn, att


class FFGANGenerator(TextConditionalGenerator):
    """F1 = H1(z, I_s), then (n_stages - 1) fusion steps, then to-RGB on the fully fused map; see the module doc."""

    def __init__(self, cfg: FFGANConfig):  # the family config
        super().__init__()
        self.z_dim, self.text_dim, self.c_dim = cfg.z_dim, cfg.text_dim, cfg.c_dim
        self.ca_inference = check_ca_inference(cfg.ca_inference)
        self.sizes = stage_sizes(cfg.img_size, cfg.n_stages)
        self.ca = CondAugment(cfg.text_dim, cfg.c_dim)
        self.h1 = InitStage(cfg.c_dim + cfg.z_dim, cfg.ngf, self.sizes[0])
        fpam_mid = cfg.fpam_mid or max(cfg.ngf // 2, 4)
        self.stages = nn.ModuleList(
            FFStage(cfg.ngf, cfg.text_dim, cfg.c_dim, cfg.dense_layers, cfg.dense_growth, cfg.n_res, fpam_mid)
            for _ in range(cfg.n_stages - 1))
        self.to_rgb = ToRGB(cfg.ngf)
        # ours, d_stages = "every" only: an image of every coarser fused map, for its own D
        self.stage_rgb = nn.ModuleList(ToRGB(cfg.ngf) for _ in range(cfg.n_stages - 1)) \
            if cfg.d_stages == "every" else None

    def forward(self, z: Tensor, sent: Tensor, words: Tensor, word_mask: Tensor | None) -> GenOutput:
        n = z.size(0)
        z, eps = split_latent(z, self.z_dim, self.c_dim)
        self.check_inputs(z, sent, words, word_mask)
        c_hat, mu, logvar = self.ca(sent, sample=self.training, eps=eps)
        fused = self.h1(torch.cat([c_hat, z], dim=1))  # F_{1,f} = F1
        word_attn, masks, coarse = {}, {}, []
        for j, stage in enumerate(self.stages, start=1):
            if self.stage_rgb is not None:
                coarse.append(self.stage_rgb[j - 1](fused))
            fused, word_attn[f"stage{j}"], att = stage(fused, c_hat, words, word_mask)
            if att is not None:
                masks[f"fpam_stage{j + 1}"] = att
        image = self.to_rgb(fused)
        assert image.shape == (n, 3, self.sizes[-1], self.sizes[-1]), image.shape
        return GenOutput(images=coarse + [image], masks=masks, word_attn=word_attn, kl=kl_loss(mu, logvar),
                         extras={"c_hat": c_hat})


@register("ffgan")
class FFGAN(MultiStageFamily):
    Config = FFGANConfig
    d_choice_g_keys = ("stage_rgb.",)  # the heads d_stages = "every" adds: a warm start from "final" starts them afresh

    @classmethod
    def build(cls, cfg: FFGANConfig) -> dict[str, nn.Module]:
        D = build_projected(cfg) if cfg.d == "projected" else StageDiscriminator(cfg.img_size, cfg.ndf, cfg.text_dim)
        if cfg.d_stages == "final":
            return {"G": FFGANGenerator(cfg), "D": D}
        # ours: the per-stage Ds of the other multi-stage papers on FF-GAN's generator, D on the final image last
        ds = [StageDiscriminator(s, cfg.ndf, cfg.text_dim) for s in stage_sizes(cfg.img_size, cfg.n_stages)[:-1]]
        return {"G": FFGANGenerator(cfg), **{f"D{i}": d for i, d in enumerate(ds + [D])}}

    @classmethod
    def build_generator(cls, cfg: FFGANConfig) -> nn.Module:
        return FFGANGenerator(cfg)
