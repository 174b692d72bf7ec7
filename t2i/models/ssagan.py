"""SSA-GAN (Liao et al., CVPR 2022) — registry name `ssagan`: DF-GAN with semantic-spatial aware blocks.

Each block: nearest x2 -> CNN mask predictor on the upsampled feature (m [N, 1, H, W]) -> 2 x [SSACN -> LReLU ->
conv3x3] with SSACN = BN_noaffine(x) * (1 + m * gamma(s)) + m * beta(s); residual 1x1 shortcut. The fusion reads the
sentence alone (SSA-GAN feeds z only through the FC). DF-GAN D and losses, plus DAMSM.
"""
from __future__ import annotations

from dataclasses import dataclass

from t2i.models.onestage import OneStageConfig, OneStageFamily, OneStageGenerator
from t2i.models.registry import register
from t2i.nn.affine import ResUpBlock
from t2i.nn.spatial import CNNMaskGuide, SpatialAffine


@dataclass
class SSAGANConfig(OneStageConfig):
    """SSA-GAN recipe (learning rates and batch as DF-GAN)."""

    lambda_damsm: float = 0.05  # SSA-GAN's released training script adds 0.05 * L_DAMSM to the G loss
    mask_hidden: int = 100  # hidden width of the two-layer CNN mask predictor
    fusions_per_conv: int = 1  # SSACN layers before each conv (SSA-GAN: 1; DF-GAN's habit: 2)


class SSAGANGenerator(OneStageGenerator):
    """SSA-GAN generator: a CNN mask per block gates the sentence affine (SSACN)."""

    def __init__(self, img_size: int = 64,  # output resolution
                 nf: int = 32,  # base width
                 z_dim: int = 100,  # noise size
                 text_dim: int = 256,  # D, sentence size
                 mask_hidden: int = 100,  # hidden width of the CNN mask predictor
                 fusions_per_conv: int = 1,  # SSACN layers before each conv
                 cond_with_z: bool = False):  # SSACN condition [z; s] instead of s
        cond_dim = text_dim + (z_dim if cond_with_z else 0)

        def make_block(i: int, cin: int, cout: int) -> ResUpBlock:
            return ResUpBlock(cin, cout, fusion=lambda ch: SpatialAffine(ch, cond_dim), upsample="nearest",
                              guide=CNNMaskGuide(cin, mask_hidden), fusions_per_conv=fusions_per_conv)

        super().__init__(img_size, nf, z_dim, text_dim, make_block, cond_with_z=cond_with_z)


@register("ssagan")
class SSAGAN(OneStageFamily):
    Config = SSAGANConfig

    @classmethod
    def build_generator(cls, cfg: SSAGANConfig) -> SSAGANGenerator:
        return SSAGANGenerator(cfg.img_size, cfg.nf, cfg.z_dim, cfg.text_dim, cfg.mask_hidden,
                               cfg.fusions_per_conv, cfg.cond_with_z)
