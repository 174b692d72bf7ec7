"""CSA-GAN: conditional semantic augmentation GAN (seed 001) — registry name `csagan`.

s -> CSA (StackGAN++ conditioning augmentation: c^ = mu(s) + sigma(s) * eps, KL term)
z -> FC -> [N, 8nf, 4, 4] -> blocks: nearest x2 -> CNN mask m per block (two-layer CNN on the upsampled feature)
  -> 2 x [SSF -> LReLU -> conv3x3], SSF = BN_noaffine(x) * (1 + m * gamma(c^)) + m * beta(c^) -> + shortcut
  -> h_ssf [N, nf, S, S]
G0: [z; c^] -> FC -> plain (unconditional, BatchNorm) residual up-blocks -> conv1x1 -> h_g0 [N, nf, S, S]
h = h_ssf + alpha * h_g0 (alpha a learned scalar) -> LReLU -> conv3x3 -> tanh.
D: DF-GAN one-way D; D loss = hinge + 1/2 fake + 1/2 mismatched + lambda1 MA-GP; G loss = -D(x^, s)
+ lambda3 L_DAMSM + lambda2 KL, lambda = (2, 0.01, 0.05).

Choices where the paper is vague:
- KL placement: eq. 24 writes lambda2 * KL inside the D objective, but the text calls it a regulariser of the
  generator and the CA layer belongs to G (the D step cannot change it), so lambda2 * KL is added to the G step.
- c^ at inference: sampled while training; in eval mode c^ = mu(s), so a seed reproduces an image (diversity
  then comes from z, which also feeds both branches).
- G0 ("a second generator branch fed from the augmented condition, added with a learned weight"): a light
  DF-GAN-shaped generator without text fusion — FC([z; c^]) to 4x4, then one up-block per main block with
  BatchNorm in place of the affines (widths g0_nf * min(2^i, 8), reversed), a 1x1 conv to the main branch's
  final width; it is added to the SSF branch's final feature before to-RGB with weight alpha, initialised to 0.1
  so G0 gets gradients from the first step. z is fed too so the residual varies with the noise like the
  main branch.
- The SSF condition is c^ alone (SSA-GAN's habit: z enters through the FC only).
Ablations (all default True): use_ssf=False -> DF-GAN affine on c^ without masks; use_csa=False -> the fusion
and G0 read s, no KL; use_g0=False -> no G0 branch; use_damsm=False -> no DAMSM term.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from t2i.models.onestage import OneStageConfig, OneStageFamily, OneStageGenerator
from t2i.models.registry import register
from t2i.nn.affine import Affine, FuseCond, PlainNorm, ResUpBlock, g_channels
from t2i.nn.common import CondAugment, kl_loss
from t2i.nn.spatial import CNNMaskGuide, SpatialAffine


@dataclass
class CSAGANConfig(OneStageConfig):
    """CSA-GAN recipe (paper section 4.1); magp_k is lambda1."""

    lr_g: float = 2e-4  # Adam learning rate of G (paper: 0.0002)
    lr_d: float = 4e-4  # Adam learning rate of D (paper: 0.0004)
    lambda_kl: float = 0.01  # lambda2, weight of the CSA KL term (added to the G step)
    lambda_damsm: float = 0.05  # lambda3, weight of the DAMSM loss in the G step
    c_dim: int = 100  # size of the augmented condition c^ (StackGAN++/AttnGAN CONDITION_DIM)
    mask_hidden: int = 100  # hidden width of the two-layer CNN mask predictor
    fusions_per_conv: int = 1  # SSF layers before each conv (as SSA-GAN)
    g0_nf: int = 16  # base width of the residual generator G0
    use_ssf: bool = True  # ablation: spatial-semantic fusion with CNN masks (False: DF-GAN affine, no mask)
    use_damsm: bool = True  # ablation: DAMSM loss in the G step
    use_csa: bool = True  # ablation: conditional semantic augmentation of s (False: the fusion reads s, no KL)
    use_g0: bool = True  # ablation: residual generator branch G0


class ResidualG0(nn.Module):
    """CSA-GAN's residual generator G0: [z; c] -> FC -> [N, 8 g0_nf, 4, 4] -> unconditional up-blocks -> 1x1 conv
    -> [N, out_ch, S, S]."""

    def __init__(self, img_size: int,  # S, output resolution
                 nf: int,  # base width of G0
                 in_dim: int,  # size of the input vector [z; c]
                 out_ch: int):  # channels of the main branch's final feature
        super().__init__()
        self.img_size, self.out_ch = img_size, out_ch
        self.channels = g_channels(nf, img_size)
        self.fc = nn.Linear(in_dim, self.channels[0] * 4 * 4)
        self.blocks = nn.ModuleList([ResUpBlock(a, b, fusion=PlainNorm, upsample="nearest", fusions_per_conv=1)
                                     for a, b in zip(self.channels[:-1], self.channels[1:])])
        self.out = nn.Conv2d(self.channels[-1], out_ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc(x).view(x.size(0), self.channels[0], 4, 4)
        cond = FuseCond(vec=None)
        for block in self.blocks:
            h, _ = block(h, cond)
        h = self.out(h)
        assert h.shape[1:] == (self.out_ch, self.img_size, self.img_size), h.shape
        return h


class CSAGANGenerator(OneStageGenerator):
    """CSA-GAN generator: CSA on s, CNN mask + SSF blocks, residual branch G0 added before to-RGB."""

    def __init__(self, img_size: int = 64,  # output resolution
                 nf: int = 32,  # base width of the main branch
                 z_dim: int = 100,  # noise size
                 text_dim: int = 256,  # D, sentence size
                 c_dim: int = 100,  # size of the augmented condition c^
                 use_ssf: bool = True,  # CNN mask + SSF (False: DF-GAN affine, no mask)
                 use_csa: bool = True,  # condition augmentation (False: the condition is s)
                 use_g0: bool = True,  # residual generator branch G0
                 mask_hidden: int = 100,  # hidden width of the CNN mask predictor
                 fusions_per_conv: int = 1,  # fusion layers before each conv
                 g0_nf: int = 16,  # base width of G0
                 cond_with_z: bool = False):  # the fusion reads [z; c^] instead of c^
        c = c_dim if use_csa else text_dim
        cond_dim = c + (z_dim if cond_with_z else 0)

        def make_block(i: int, cin: int, cout: int) -> ResUpBlock:
            if use_ssf:
                return ResUpBlock(cin, cout, fusion=lambda ch: SpatialAffine(ch, cond_dim), upsample="nearest",
                                  guide=CNNMaskGuide(cin, mask_hidden), fusions_per_conv=fusions_per_conv)
            return ResUpBlock(cin, cout, fusion=lambda ch: Affine(ch, cond_dim), upsample="nearest",
                              fusions_per_conv=fusions_per_conv)

        super().__init__(img_size, nf, z_dim, text_dim, make_block, cond_with_z=cond_with_z)
        self.ca = CondAugment(text_dim, c_dim) if use_csa else None
        if use_g0:
            self.g0 = ResidualG0(img_size, g0_nf, z_dim + c, self.channels[-1])
            self.g0_weight = nn.Parameter(torch.full((1,), 0.1))  # alpha, the learned weight of G0
        else:
            self.g0 = None

    def condition(self, z: Tensor, sent: Tensor) -> tuple[Tensor, Tensor | None, dict]:
        kl = None
        c_hat = sent
        extras: dict = {}
        if self.ca is not None:
            c_hat, mu, logvar = self.ca(sent, sample=self.training)
            kl = kl_loss(mu, logvar)
            extras.update(mu=mu, logvar=logvar)
        extras["c_hat"] = c_hat
        vec = torch.cat([z, c_hat], dim=1) if self.cond_with_z else c_hat
        return vec, kl, extras

    def post(self, h: Tensor, z: Tensor, extras: dict) -> Tensor:
        if self.g0 is None:
            return h
        return h + self.g0_weight * self.g0(torch.cat([z, extras["c_hat"]], dim=1))


@register("csagan")
class CSAGAN(OneStageFamily):
    Config = CSAGANConfig

    @classmethod
    def build_generator(cls, cfg: CSAGANConfig) -> CSAGANGenerator:
        return CSAGANGenerator(cfg.img_size, cfg.nf, cfg.z_dim, cfg.text_dim, cfg.c_dim, cfg.use_ssf, cfg.use_csa,
                               cfg.use_g0, cfg.mask_hidden, cfg.fusions_per_conv, cfg.g0_nf, cfg.cond_with_z)

    @classmethod
    def damsm_weight(cls, cfg: CSAGANConfig) -> float:
        return cfg.lambda_damsm if cfg.use_damsm else 0.0

    @classmethod
    def kl_weight(cls, cfg: CSAGANConfig) -> float:
        return cfg.lambda_kl if cfg.use_csa else 0.0
