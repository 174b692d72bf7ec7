"""The StackGAN++ / AttnGAN training step, written once for the multi-stage families (ECAGAN, CAE-GAN, FF-GAN).

Every discriminator D judges one of the generator's images (`MultiStageFamily.judged`): one D per stage for
ECAGAN / CAE-GAN, a single D on the final image for FF-GAN. Per judged image x_hat_i (real x_i = the real batch
resized to its side, bilinear + antialias):

  L_Di = 1/2 [BCE(D_i(x_i), 1) + BCE(D_i(x_hat_i), 0)]                                 unconditional
       + 1/3 [BCE(D_i(x_i, s), 1) + BCE(D_i(x_hat_i, s), 0) + BCE(D_i(x_i, s_mis), 0)]    conditional
  (s_mis: the batch's sentences rolled by one, i.e. real images with mismatched captions)
  L_Gi = 1/2 [BCE(D_i(x_hat_i), 1) + BCE(D_i(x_hat_i, s), 1)]
  L_G  = sum_i (L_Gi + lambda_per * L_per(x_hat_i, x_i)) + lambda_kl * L_CA + lambda_damsm * L_DAMSM(x_hat_final)

The weights of L_D are FF-GAN's eq. (4), the only one of the three papers that writes the mismatched-text term;
ECAGAN and CAE-GAN write 1/2 (uncond + cond) without it, and we add StackGAN++'s mismatched term to them as well.
The 1/2 in L_Gi is the papers' (AttnGAN's code sums the two terms). L_per is applied to every judged image.
With `d = "projected"` (ours) the final image is judged by the projected D instead (t2i.models.projected: hinge,
real / fake / mismatched, no BCE), the lower stages keep theirs.
lambda_ms > 0 (ours, MSGAN) adds the mode-seeking term 1 / (|x1 - x2| / |z1 - z2| + eps) on half the batch.
The config (ctx.cfg) must have z_dim, lambda_kl and lambda_damsm (and lambda_per where there is a perceptual loss).
"""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from t2i.losses import bce_fake, bce_real
from t2i.models.base import GenOutput
from t2i.models.projected import projected_d_loss, projected_g_loss
from t2i.models.registry import Family, StepContext
from t2i.nn.stack import resize_image


class MultiStageFamily(Family):
    """Family base with the StackGAN++ discriminator / generator steps; subclasses implement `build`."""

    runtime_fields: ClassVar[tuple[str, ...]] = ("ca_inference",)  # inference only: a warm start may differ in it

    @classmethod
    def judged(cls, nets: dict[str, nn.Module], n_images: int) -> list[tuple[str, int]]:
        """(discriminator key, index into GenOutput.images) pairs: one "D" judges the final image (FF-GAN), else
        D0..D{n-1} one stage each."""
        if "D" in nets:
            return [("D", n_images - 1)]
        keys = sorted((k for k in nets if k.startswith("D")), key=lambda k: int(k[1:]))
        assert len(keys) == n_images, (keys, n_images)
        return [(k, i) for i, k in enumerate(keys)]

    @staticmethod
    def projected(cfg, idx: int, n_images: int) -> bool:
        """Is image `idx` judged by the projected D (ours, `d = "projected"`: the final image only)?"""
        return getattr(cfg, "d", "paper") == "projected" and idx == n_images - 1

    @classmethod
    @torch.profiler.record_function("G forward")
    def _generate(cls, nets: dict[str, nn.Module], ctx: StepContext) -> GenOutput:
        real = ctx.real
        z = torch.randn(real.size(0), ctx.cfg.z_dim, device=real.device, dtype=real.dtype)
        out = nets["G"](z, ctx.sent, ctx.words, ctx.word_mask)
        out.extras["z"] = z
        return out

    @staticmethod
    def mode_seeking(nets: dict[str, nn.Module], out: GenOutput, ctx: StepContext) -> Tensor:
        """MSGAN's mode-seeking ratio (Mao et al., CVPR 2019; ours here, no seed paper has it): the first half of
        the batch drawn again with other noise, mean |x1 - x2| / mean |z1 - z2|. The loss adds 1 / (ratio + eps)."""
        h = max(1, ctx.real.size(0) // 2)
        z1 = out.extras["z"][:h]
        z2 = torch.randn_like(z1)
        x2 = nets["G"](z2, ctx.sent[:h], ctx.words[:h], None if ctx.word_mask is None else ctx.word_mask[:h]).image
        return (out.image[:h] - x2).abs().mean() / (z1 - z2).abs().mean()

    @classmethod
    def d_loss(cls, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        if ctx.reuse_fake:  # one G forward per step (StepContext.reuse_fake)
            out = ctx.shared["g_out"] = cls._generate(nets, ctx)
        else:
            with torch.no_grad():
                out = cls._generate(nets, ctx)
        sent = ctx.sent
        sent_mis = torch.roll(sent, shifts=1, dims=0)
        total = ctx.real.new_zeros(())
        logs: dict[str, float] = {}
        for key, idx in cls.judged(nets, len(out.images)):
            D = nets[key]
            fake = out.images[idx].detach()
            real = resize_image(ctx.real, fake.shape[-1])
            if cls.projected(ctx.cfg, idx, len(out.images)):
                loss, plogs = projected_d_loss(D, fake, real, ctx, prefix=f"{key}_")
                total = total + loss
                logs.update(plogs)
                continue
            real_u, real_c, mis_c = D(real, sent, sent_mis)
            fake_u, fake_c, _ = D(fake, sent)
            uncond = 0.5 * (bce_real(real_u) + bce_fake(fake_u))
            cond = (bce_real(real_c) + bce_fake(fake_c) + bce_fake(mis_c)) / 3.0
            loss = uncond + cond
            total = total + loss
            logs[f"d_{key}"] = float(loss.detach())
            logs[f"d_{key}_real_acc"] = float((real_c.detach() > 0).float().mean())
            logs[f"d_{key}_fake_acc"] = float((fake_c.detach() < 0).float().mean())
        logs["d_total"] = float(total.detach())
        return total, logs

    @classmethod
    def g_loss(cls, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        cfg = ctx.cfg
        out = ctx.shared.pop("g_out", None)
        out = cls._generate(nets, ctx) if out is None else out
        total = ctx.real.new_zeros(())
        logs: dict[str, float] = {}
        lambda_per = getattr(cfg, "lambda_per", 0.0)  # families without a perceptual loss have no such field
        use_per = lambda_per > 0
        if use_per and ctx.perceptual is None:
            raise ValueError(f"{cls.name}: lambda_per > 0 needs ctx.perceptual (a t2i.losses.PerceptualLoss)")
        for key, idx in cls.judged(nets, len(out.images)):
            fake = out.images[idx]
            if cls.projected(cfg, idx, len(out.images)):
                adv = projected_g_loss(nets[key], fake, ctx)
            else:
                fake_u, fake_c, _ = nets[key](fake, ctx.sent)
                adv = 0.5 * (bce_real(fake_u) + bce_real(fake_c))
            total = total + adv
            logs[f"g_adv_{key}"] = float(adv.detach())
            if use_per:
                real = resize_image(ctx.real, fake.shape[-1]).detach()
                per = ctx.perceptual(fake, real)
                total = total + lambda_per * per
                logs[f"g_per_{key}"] = float(per.detach())
        if out.kl is not None and cfg.lambda_kl > 0:
            total = total + cfg.lambda_kl * out.kl
            logs["g_kl"] = float(out.kl.detach())
        if cfg.lambda_damsm > 0 and ctx.damsm is not None:
            damsm = ctx.damsm.loss(out.image, ctx.words, ctx.sent, ctx.word_mask, ctx.class_ids)
            total = total + cfg.lambda_damsm * damsm
            logs["g_damsm"] = float(damsm.detach())
        lambda_ms = getattr(cfg, "lambda_ms", 0.0)
        if lambda_ms > 0:
            ratio = cls.mode_seeking(nets, out, ctx)
            total = total + lambda_ms / (ratio + 1e-5)
            logs["g_ms_ratio"] = float(ratio.detach())
        logs["g_total"] = float(total.detach())
        return total, logs
