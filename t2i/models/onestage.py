"""What the four one-stage families (dfgan, ssagan, swfgan, csagan) share, written once:

- OneStageConfig: the DF-GAN training recipe (METHODS.md "One-stage GAN training"); families subclass it and
  change defaults or add fields.
- OneStageGenerator: z -> FC -> [N, 8nf, 4, 4] -> ResUpBlocks -> (post hook) -> ToRGB. A family passes the block
  factory and may override `condition` (what the fusion layers read) and `post` (CSA-GAN's G0).
- OneStageFamily: build (G + DF-GAN one-way D) and the two loss steps (hinge + MA-GP, hinge G + optional DAMSM
  and KL). Families override only `build_generator` and, where needed, the loss weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import torch
from torch import Tensor, nn

from t2i import losses
from t2i.models.base import GenOutput, TextConditionalGenerator
from t2i.models.projected import DChoice, build_projected, projected_d_loss, projected_g_loss
from t2i.models.registry import Family, StepContext
from t2i.nn.affine import LRELU_SLOPE, FuseCond, OneWayDiscriminator, num_levels, g_channels
from t2i.nn.common import ToRGB


@dataclass
class OneStageConfig(DChoice):
    """DF-GAN recipe; every one-stage family config extends this."""

    img_size: int = 64  # output resolution: 64, 128 or 256 (any power of two >= 16 builds)
    nf: int = 32  # base width of G and D (32 for birds); channels nf * min(2^i, 8)
    z_dim: int = 100  # noise size
    text_dim: int = 256  # D, size of the DAMSM sentence/word features
    cond_with_z: bool = False  # sentence fusion reads [z; s] (DF-GAN, CVPR 2022) instead of s alone
    lr_g: float = 1e-4  # Adam learning rate of G
    lr_d: float = 4e-4  # Adam learning rate of D
    betas: tuple[float, float] = (0.0, 0.9)  # Adam betas of both optimisers
    magp_k: float = 2.0  # MA-GP weight k
    magp_p: float = 6.0  # MA-GP power p
    magp_every: int = 1  # lazy MA-GP (ours, as StyleGAN2's lazy R1): every k-th D step with weight k (1 = paper)
    lambda_damsm: float = 0.0  # weight of the DAMSM loss in the G step (0 = off)
    truncation: float = 0.88  # truncation of z at sampling time (DF-GAN truncation trick)

    def __post_init__(self):
        num_levels(self.img_size)  # raises on a bad size
        self.betas = tuple(float(b) for b in self.betas)  # a JSON round trip gives a list
        DChoice.__post_init__(self)
        if len(self.betas) != 2:
            raise ValueError(f"betas must have two entries, got {self.betas}")
        for name in ("nf", "z_dim", "text_dim"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")


BlockFactory = Callable[[int, int, int], nn.Module]  # (index, in_ch, out_ch) -> ResUpBlock


class OneStageGenerator(TextConditionalGenerator):
    """z -> FC -> [N, 8nf, 4, 4] -> blocks (each x2) -> post -> ToRGB -> GenOutput(images=[image]).

    masks["block<i>"] / word_attn["block<i>"] (1-based) collect what the blocks' guides report."""

    def __init__(self, img_size: int,  # output resolution
                 nf: int,  # base width
                 z_dim: int,  # noise size
                 text_dim: int,  # D, sentence size
                 make_block: BlockFactory,  # (index, in_ch, out_ch) -> block with forward(x, FuseCond) -> (x, info)
                 cond_with_z: bool = False):  # the fusion condition is [z; s] instead of s
        super().__init__()
        self.img_size, self.nf, self.z_dim, self.text_dim = img_size, nf, z_dim, text_dim
        self.cond_with_z = cond_with_z
        self.channels = g_channels(nf, img_size)
        self.fc = nn.Linear(z_dim, self.channels[0] * 4 * 4)
        self.blocks = nn.ModuleList([make_block(i, a, b)
                                     for i, (a, b) in enumerate(zip(self.channels[:-1], self.channels[1:]))])
        self.to_rgb = ToRGB(self.channels[-1], pre_act=LRELU_SLOPE)

    def condition(self, z: Tensor, sent: Tensor) -> tuple[Tensor, Tensor | None, dict]:
        """The vector the fusion layers read -> (vec [N, c], kl or None, extras)."""
        return (torch.cat([z, sent], dim=1) if self.cond_with_z else sent), None, {}

    def post(self, h: Tensor, z: Tensor, extras: dict) -> Tensor:
        """Hook between the last block and to-RGB (identity here; CSA-GAN adds its G0 branch)."""
        return h

    def forward(self, z: Tensor, sent: Tensor, words: Tensor | None = None,
                word_mask: Tensor | None = None) -> GenOutput:
        n = z.size(0)
        self.check_inputs(z, sent, words, word_mask)
        vec, kl, extras = self.condition(z, sent)
        cond = FuseCond(vec=vec, words=words, word_mask=word_mask)
        h = self.fc(z).view(n, self.channels[0], 4, 4)
        if self.to_rgb.conv.weight.is_contiguous(memory_format=torch.channels_last):
            h = h.contiguous(memory_format=torch.channels_last)  # as the convs: no layout copy in every block
        masks, word_attn = {}, {}
        for i, block in enumerate(self.blocks):
            h, info = block(h, cond)
            if info.get("mask") is not None:
                masks[f"block{i + 1}"] = info["mask"]
            if info.get("word_attn") is not None:
                word_attn[f"block{i + 1}"] = info["word_attn"]
        h = self.post(h, z, extras)
        assert h.shape == (n, self.channels[-1], self.img_size, self.img_size), h.shape
        img = self.to_rgb(h)
        return GenOutput(images=[img], masks=masks, word_attn=word_attn, kl=kl, extras=extras)


class OneStageFamily(Family):
    """DF-GAN training step shared by dfgan, ssagan, swfgan, csagan.

    D: hinge(real | s) + 1/2 (hinge(fake | s) + hinge(real | s rolled by one)) + MA-GP(real, s).
    G: -D(fake | s) + damsm_weight * L_DAMSM(fake) + kl_weight * KL (when G returns one).
    Both steps call G and D only through their forward, so DDP-wrapped networks work.
    """

    Config: ClassVar[type] = OneStageConfig

    @classmethod
    def build_generator(cls, cfg) -> OneStageGenerator:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def build(cls, cfg) -> dict[str, nn.Module]:
        D = build_projected(cfg) if cfg.d == "projected" else OneWayDiscriminator(cfg.nf, cfg.img_size, cfg.text_dim)
        return {"G": cls.build_generator(cfg), "D": D}

    @classmethod
    def damsm_weight(cls, cfg) -> float:
        return cfg.lambda_damsm

    @classmethod
    def kl_weight(cls, cfg) -> float:
        return 0.0

    @staticmethod
    def _noise(ctx: StepContext) -> Tensor:
        return torch.randn(ctx.real.size(0), ctx.cfg.z_dim, device=ctx.real.device)

    @classmethod
    @torch.profiler.record_function("G forward")
    def _generate(cls, G: nn.Module, ctx: StepContext) -> GenOutput:
        return G(cls._noise(ctx), ctx.sent, ctx.words, ctx.word_mask)

    @classmethod
    def d_loss(cls, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        cfg, G, D = ctx.cfg, nets["G"], nets["D"]
        fake = cls._fake_for_d(G, ctx)
        if cfg.d == "projected":
            return projected_d_loss(D, fake, ctx.real, ctx)
        # lazy regularisation (ours, StyleGAN2's lazy R1): MA-GP on every magp_every-th step only, weight x that
        lazy = max(1, cfg.magp_every)
        with_gp = ctx.step % lazy == 0
        real = ctx.real.detach().requires_grad_(with_gp)
        sent = ctx.sent.detach().requires_grad_(with_gp)
        real_logits, mis_logits = D(real, sent, torch.roll(ctx.sent.detach(), 1, dims=0))
        fake_logits = D(fake, ctx.sent.detach())
        adv = losses.hinge_d(real_logits, fake_logits, mis_logits)
        logs = {"d_adv": adv.item()}
        loss = adv
        if with_gp:
            gp = losses.ma_gp(real_logits, real, sent, k=cfg.magp_k, p=cfg.magp_p)
            loss = adv + lazy * gp
            logs["ma_gp"] = gp.item()
        return loss, {"d_loss": loss.item(), **logs, "d_real": real_logits.mean().item(),
                      "d_fake": fake_logits.mean().item(), "d_mis": mis_logits.mean().item()}

    @classmethod
    def _fake_for_d(cls, G: nn.Module, ctx: StepContext) -> Tensor:
        """Detached fakes for the D step; with ctx.reuse_fake the forward keeps its graph for the G step."""
        if ctx.reuse_fake:
            ctx.shared["g_out"] = cls._generate(G, ctx)
            return ctx.shared["g_out"].image.detach()
        with torch.no_grad():
            return cls._generate(G, ctx).image

    @classmethod
    def g_loss(cls, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        cfg, G, D = ctx.cfg, nets["G"], nets["D"]
        out = ctx.shared.pop("g_out", None)
        out = cls._generate(G, ctx) if out is None else out
        adv = projected_g_loss(D, out.image, ctx) if cfg.d == "projected" else losses.hinge_g(D(out.image, ctx.sent))
        loss, logs = adv, {"g_adv": adv.item()}
        w_damsm = cls.damsm_weight(cfg)
        if w_damsm > 0 and ctx.damsm is not None:
            damsm = ctx.damsm.loss(out.image, ctx.words, ctx.sent, ctx.word_mask, ctx.class_ids)
            loss = loss + w_damsm * damsm
            logs["damsm"] = damsm.item()
        w_kl = cls.kl_weight(cfg)
        if out.kl is not None:
            logs["kl"] = out.kl.item()
            if w_kl > 0:
                loss = loss + w_kl * out.kl
        logs["g_loss"] = loss.item()
        return loss, logs

