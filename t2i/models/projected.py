"""Training steps with the projected discriminator (ours, t2i.nn.projected), shared by every family that offers
`d = "projected"`: the DF-GAN hinge with real / fake / mismatched-caption terms on every location of every
head, and no gradient penalty (Projected GANs need none: the heads are spectrally normalised)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from t2i import losses
from t2i.models.registry import StepContext
from t2i.nn.projected import ProjectedDiscriminator

D_CHOICES = ("paper", "projected")


@dataclass
class DChoice:
    """The discriminator switch every family config inherits (the paper's D stays the default)."""

    d: str = "paper"  # "paper": the family's own D; "projected" (ours): frozen EfficientNet-Lite0 features + heads
    d_width: int = 64  # projected D: channels of each head
    d_words: bool = True  # projected D: word-context term in each head
    d_augment: tuple[str, ...] = ("translation", "cutout")  # projected D: DiffAugment (colour jitter would blur colour words)

    def __post_init__(self):
        self.d_augment = tuple(self.d_augment)  # a JSON round trip gives a list
        if self.d not in D_CHOICES:
            raise ValueError(f"d must be one of {D_CHOICES}, got {self.d!r}")
        unknown = set(self.d_augment) - {"translation", "cutout", "color"}
        if unknown:
            raise ValueError(f"d_augment: unknown {sorted(unknown)} (allowed: translation, cutout, color)")
        if self.d_width <= 0:
            raise ValueError("d_width must be > 0")


def build_projected(cfg) -> ProjectedDiscriminator:
    """The projected D of a family config (fields text_dim, img_size, d_width, d_words, d_augment)."""
    return ProjectedDiscriminator(cfg.text_dim, cfg.img_size, cfg.d_width, cfg.d_words, tuple(cfg.d_augment))


def _text(ctx: StepContext, roll: int = 0):
    sent, words, mask = ctx.sent, ctx.words, ctx.word_mask
    if roll:
        sent = torch.roll(sent, roll, dims=0)
        words = None if words is None else torch.roll(words, roll, dims=0)
        mask = None if mask is None else torch.roll(mask, roll, dims=0)
    return sent, words, mask


def projected_d_loss(D: nn.Module, fake: Tensor, real: Tensor, ctx: StepContext,
                     prefix: str = "") -> tuple[Tensor, dict[str, float]]:
    """hinge(real | s) + 1/2 (hinge(fake | s) + hinge(real | s rolled by one)), per location."""
    sent, words, mask = _text(ctx)
    real_logits, mis_logits = D(real.detach(), sent, words, mask, mismatched=_text(ctx, 1))
    fake_logits = D(fake.detach(), sent, words, mask)
    loss = losses.hinge_d(real_logits, fake_logits, mis_logits)
    return loss, {f"{prefix}d_loss": loss.item(), f"{prefix}d_real": real_logits.mean().item(),
                  f"{prefix}d_fake": fake_logits.mean().item(), f"{prefix}d_mis": mis_logits.mean().item()}


def projected_g_loss(D: nn.Module, fake: Tensor, ctx: StepContext) -> Tensor:
    """-D(fake | s) averaged over locations and heads."""
    return losses.hinge_g(D(fake, *_text(ctx)))
