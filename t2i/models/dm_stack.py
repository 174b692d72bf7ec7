"""The generator trunk ECAGAN and CAE-GAN share (both from seed 002, both built on DM-GAN), their common config
fields and the family base that builds G plus one discriminator per stage.

    text -> conditioner -> (c_hat, mu, log sigma^2)          ECAGAN: CA(s);  CAE-GAN: CA(C_E(s, words))
    F0 = InitStage([c_hat; z])                             FC -> up blocks (ECAGAN: CARAFE + channel attention)
    F_i = DMRefineStage_i(F_{i-1}, words)                  dynamic memory -> residual blocks -> x2 up block
    I_i = ToRGB_i(F_i)                                     one image per stage, coarse to fine
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from t2i.models.base import GenOutput, TextConditionalGenerator
from t2i.models.multistage import MultiStageFamily
from t2i.nn.common import kl_loss
from t2i.models.projected import DChoice, build_projected
from t2i.nn.common import check_ca_inference, split_latent
from t2i.nn.memory import DynamicMemory
from t2i.nn.stack import InitStage, ResBlock, StageDiscriminator, ToRGB, UpBlock, stage_sizes


@dataclass
class DMStackConfig(DChoice):
    """Fields common to ECAGAN and CAE-GAN (each family's Config subclasses this and sets its own defaults)."""

    img_size: int = 64  # final side; stages img_size/4, /2, /1 (64: 16->32->64 on CPU; 256: 64->128->256, CUB)
    n_stages: int = 3  # generator stages = number of discriminators
    ngf: int = 32  # generator width: channels of every stage's feature map (AttnGAN birds: 32)
    ndf: int = 32  # discriminator base width (AttnGAN birds: 64)
    z_dim: int = 100  # noise size
    text_dim: int = 256  # D, DAMSM sentence / word feature size
    c_dim: int = 100  # CA output size (AttnGAN: 100)
    mem_dim: int | None = None  # DM memory slot size N_m (None: = ngf, as DM-GAN)
    n_res: int = 2  # residual blocks per refinement stage (AttnGAN / DM-GAN: 2)
    init_upsampler: str = "nearest"  # up blocks of stage 0: "nearest" | "carafe"
    refine_upsampler: str = "nearest"  # up block of each refinement stage: "nearest" | "carafe"
    n_ca_blocks: int = 0  # channel-attention conv blocks at the end of stage 0
    se_reduction: int = 4  # SE bottleneck ratio of those blocks
    carafe_k_up: int = 5  # CARAFE reassembly kernel (k_up^2 = 25 taps)
    carafe_k_enc: int = 3  # CARAFE content-encoder kernel
    carafe_c_mid: int = 64  # CARAFE compressed channels
    lr_g: float = 2e-4  # Adam lr of G (StackGAN++ / AttnGAN / DM-GAN)
    lr_d: float = 2e-4  # Adam lr of every D
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas (StackGAN++ / AttnGAN)
    lambda_kl: float = 1.0  # weight of L_CA (AttnGAN / DM-GAN: 1)
    lambda_damsm: float = 5.0  # weight of L_DAMSM (AttnGAN / DM-GAN birds: 5.0)
    lambda_ms: float = 0.0  # ours: MSGAN mode-seeking term (against z being ignored, CAE-GAN's collapse); 0 = paper
    truncation: float | None = None  # clamp z to [-t, t] when sampling (StackGAN lineage: none)
    ca_inference: str = "sample"  # "sample": CA noise drawn at inference too, from the seeded latent (AttnGAN's code); "mean": c = mu


class DMRefineStage(nn.Module):
    """DM-GAN refinement stage: dynamic memory (word fusion) -> n_res residual blocks -> x2 up block."""

    def __init__(self, channels: int,  # C, feature channels in and out
                 text_dim: int,  # D, word feature size
                 mem_dim: int,  # memory slot size
                 n_res: int,  # residual blocks
                 upsampler: str = "nearest",  # "nearest" | "carafe"
                 **carafe_kw):  # CARAFE options when upsampler == "carafe"
        super().__init__()
        self.channels = channels
        self.memory = DynamicMemory(channels, text_dim, mem_dim)
        self.res = nn.Sequential(*[ResBlock(channels) for _ in range(n_res)])
        self.up = UpBlock(channels, channels, upsampler, **carafe_kw)

    def forward(self, h: Tensor, words: Tensor, word_mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """h [N, C, H, W] -> (h' [N, C, 2H, 2W], memory read weights [N, L, H, W], response gate [N, 1, H, W])."""
        n, c, hh, ww = h.shape
        h, attn, gate = self.memory(h, words, word_mask)
        h = self.up(self.res(h))
        assert h.shape == (n, c, 2 * hh, 2 * ww), h.shape
        return h, attn, gate


class DMStackGenerator(TextConditionalGenerator):
    """Conditioner -> InitStage -> (n_stages - 1) DM refinement stages; one to-RGB per stage.

    The conditioner maps (sent, words, word_mask, sample) -> (c_hat [N, c_dim], mu, logvar, attn: dict of word
    weights for visualisation). CA samples c_hat in training mode; in eval mode c_hat = mu, so an image is a
    deterministic function of z and the caption (diversity comes from z).
    """

    def __init__(self, cfg: DMStackConfig,  # the family config (a DMStackConfig subclass)
                 conditioner: nn.Module):  # text -> augmented condition (see above)
        super().__init__()
        self.z_dim, self.text_dim, self.c_dim = cfg.z_dim, cfg.text_dim, cfg.c_dim
        self.ca_inference = check_ca_inference(cfg.ca_inference)
        self.sizes = stage_sizes(cfg.img_size, cfg.n_stages)
        carafe = dict(carafe_k_up=cfg.carafe_k_up, carafe_k_enc=cfg.carafe_k_enc, carafe_c_mid=cfg.carafe_c_mid)
        self.conditioner = conditioner
        self.init = InitStage(cfg.c_dim + cfg.z_dim, cfg.ngf, self.sizes[0], cfg.init_upsampler, cfg.n_ca_blocks,
                              cfg.se_reduction, **carafe)
        mem_dim = cfg.mem_dim or cfg.ngf
        self.refine = nn.ModuleList(DMRefineStage(cfg.ngf, cfg.text_dim, mem_dim, cfg.n_res, cfg.refine_upsampler,
                                                  **carafe) for _ in range(cfg.n_stages - 1))
        self.to_rgb = nn.ModuleList(ToRGB(cfg.ngf) for _ in range(cfg.n_stages))

    def forward(self, z: Tensor, sent: Tensor, words: Tensor, word_mask: Tensor | None) -> GenOutput:
        n = z.size(0)
        z, eps = split_latent(z, self.z_dim, self.c_dim)
        self.check_inputs(z, sent, words, word_mask)
        c_hat, mu, logvar, word_attn = self.conditioner(sent, words, word_mask, sample=self.training, eps=eps)
        assert c_hat.shape == (n, self.c_dim), c_hat.shape
        h = self.init(torch.cat([c_hat, z], dim=1))
        images = [self.to_rgb[0](h)]
        masks = {}
        for i, stage in enumerate(self.refine, start=1):
            # "stage{i}": memory read weights of refinement stage i (at the resolution of stage i-1's features)
            h, word_attn[f"stage{i}"], masks[f"gate_stage{i}"] = stage(h, words, word_mask)
            images.append(self.to_rgb[i](h))
        for img, size in zip(images, self.sizes):
            assert img.shape == (n, 3, size, size), (img.shape, size)
        return GenOutput(images=images, masks=masks, word_attn=word_attn, kl=kl_loss(mu, logvar),
                         extras={"c_hat": c_hat})


class DMStackFamily(MultiStageFamily):
    """ECAGAN / CAE-GAN family base: build G (cls.Generator(cfg)) and D0..D{n-1}, one per stage resolution."""

    Generator: ClassVar[type]

    @classmethod
    def build(cls, cfg) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {"G": cls.Generator(cfg)}
        sizes = stage_sizes(cfg.img_size, cfg.n_stages)
        for i, size in enumerate(sizes):
            nets[f"D{i}"] = StageDiscriminator(size, cfg.ndf, cfg.text_dim)
        if cfg.d == "projected":  # ours: the final stage's D only (lower stages are too small for its scales)
            nets[f"D{len(sizes) - 1}"] = build_projected(cfg)
        return nets

    @classmethod
    def build_generator(cls, cfg) -> nn.Module:
        return cls.Generator(cfg)
