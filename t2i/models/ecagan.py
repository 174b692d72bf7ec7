"""ECAGAN (seed 002a, Zhang et al., Computer Engineering 2022): DM-GAN with content-aware (CARAFE) up-sampling and
channel-attention convolutions in the low-resolution stage, trained with a perceptual loss.

    s -> CA -> c_hat;  F0 = [c_hat; z] -> FC -> CARAFE up blocks (CAUPBlock) -> channel-attention conv -> I_0
    F_i = DM-GAN refinement (dynamic memory -> residual blocks -> up block) -> I_i,  i = 1, 2
    L_G = sum_i (L_Gi + lambda_per * L_per(I'_i, I_i)) + lambda_kl * L_CA + lambda_damsm * L_DAMSM

Choices where the paper is vague (see also t2i/models/multistage.py for the losses):
- CARAFE and channel attention are placed in stage 0 only, where the paper describes them ("the low-resolution
  stage ... CAUPBlock ... then convolution with channel attention"); the refinement stages are DM-GAN's
  (nearest up-sampling). `refine_upsampler="carafe"` puts CARAFE there too.
- One channel-attention block (an SE residual block) after the last CARAFE up block (`n_ca_blocks`).
- lambda_per = 0.005: the paper does not give lambda_1. Our perceptual loss is the feature MSE of a frozen
  EfficientNet-Lite0 (the only ImageNet CNN available offline); its features are unnormalised, so the loss is
  ~100-200 between unrelated 64 px images and ~10 between an image and a slightly noisy copy. 0.005 makes the
  term about one adversarial term (~0.5-1 per stage) at the start, shrinking as the fakes approach the layout
  of the paired real image, so the adversarial loss keeps leading (a text-to-image G cannot reproduce the
  paired photo, and a heavy regression term blurs).
- per_size = 128: each stage's image (16, 32, 64 px) is resized to 128 px before the perceptual net, so that its
  deepest block still has a 4x4 map; this reading is 47 % of a training step on CPU, and per_size = 64 reads it at a
  quarter of the cost (ours, issue 22; a run-config switch).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from t2i.models.dm_stack import DMStackConfig, DMStackFamily, DMStackGenerator
from t2i.models.registry import register
from t2i.nn.common import CondAugment


@dataclass
class ECAGANConfig(DMStackConfig):
    """ECAGAN; the shared fields are documented on DMStackConfig."""

    init_upsampler: str = "carafe"  # CAUPBlock: CARAFE up-sampling in stage 0
    n_ca_blocks: int = 1  # channel-attention conv blocks at the end of stage 0
    lambda_per: float = 0.005  # lambda_1, perceptual loss per stage (paper gives no value; see module doc)
    per_size: int = 128  # ours: the side every stage's image is read at by the perceptual net (64: 4x cheaper)


class SentenceCA(nn.Module):
    """Conditioner of ECAGAN: conditioning augmentation of the sentence feature."""

    def __init__(self, text_dim: int,  # D
                 c_dim: int):  # CA output size
        super().__init__()
        self.ca = CondAugment(text_dim, c_dim)

    def forward(self, sent: Tensor, words: Tensor, word_mask: Tensor | None, sample: bool = True,
                eps: Tensor | None = None):
        c_hat, mu, logvar = self.ca(sent, sample=sample, eps=eps)
        return c_hat, mu, logvar, {}


class ECAGANGenerator(DMStackGenerator):
    def __init__(self, cfg: ECAGANConfig):  # the family config
        super().__init__(cfg, SentenceCA(cfg.text_dim, cfg.c_dim))


@register("ecagan")
class ECAGAN(DMStackFamily):
    Config = ECAGANConfig
    Generator = ECAGANGenerator
    needs_perceptual = True
