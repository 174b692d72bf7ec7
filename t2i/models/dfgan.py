"""DF-GAN (Tao et al., CVPR 2022) — registry name `dfgan`: the one-stage baseline.

z -> FC -> [N, 8nf, 4, 4] -> ResUpBlocks (nearest x2; 2 x [affine -> LReLU -> affine -> LReLU -> conv3x3];
affine = gamma([z; s]) * h + beta([z; s])) -> LReLU -> conv3x3 -> tanh. One-way D, hinge loss, MA-GP; no DAMSM.
"""
from __future__ import annotations

from dataclasses import dataclass

from t2i.models.onestage import OneStageConfig, OneStageFamily, OneStageGenerator
from t2i.models.registry import register
from t2i.nn.affine import Affine, ResUpBlock


@dataclass
class DFGANConfig(OneStageConfig):
    """DF-GAN recipe (all fields inherited; see OneStageConfig)."""

    cond_with_z: bool = True  # DF-GAN's released model fuses c = [z; s]
    lambda_damsm: float = 0.0  # DF-GAN trains without the DAMSM loss


class DFGANGenerator(OneStageGenerator):
    """DF-GAN generator: DF-GAN affine fusion in every block, nearest-neighbour upsampling."""

    def __init__(self, img_size: int = 64,  # output resolution
                 nf: int = 32,  # base width
                 z_dim: int = 100,  # noise size
                 text_dim: int = 256,  # D, sentence size
                 cond_with_z: bool = True):  # affine condition [z; s] (True) or s (False)
        cond_dim = text_dim + (z_dim if cond_with_z else 0)

        def make_block(i: int, cin: int, cout: int) -> ResUpBlock:
            return ResUpBlock(cin, cout, fusion=lambda ch: Affine(ch, cond_dim), upsample="nearest")

        super().__init__(img_size, nf, z_dim, text_dim, make_block, cond_with_z=cond_with_z)


@register("dfgan")
class DFGAN(OneStageFamily):
    Config = DFGANConfig

    @classmethod
    def build_generator(cls, cfg: DFGANConfig) -> DFGANGenerator:
        return DFGANGenerator(cfg.img_size, cfg.nf, cfg.z_dim, cfg.text_dim, cfg.cond_with_z)
