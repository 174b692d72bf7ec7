"""Sentence-word semantic-space fusion GAN (seed 000, patent) — registry name `swfgan`.

z -> FC -> f0 [N, 8nf, 4, 4]
-> sentence-level perception blocks (the first half): bicubic x2 -> coordinate mask predictor m = f * m_x * m_y
   -> two SSATM sub-blocks [SenAff -> LReLU -> SenAff -> LReLU -> conv3x3] that act on m, SenAff = gamma(s) * m +
   beta(s) (DF-GAN affine) -> + shortcut(upsampled f)
-> word-level perception blocks (the second half): bicubic x2 -> coordinate mask predictor -> word-region
   attention -> two word sub-blocks [WordAff -> LReLU -> WordAff -> LReLU -> conv3x3] that act on f itself,
   WordAff = gamma(ctx) * f + beta(ctx) -> + shortcut(upsampled f)
-> LReLU -> conv3x3 -> tanh. DF-GAN one-way D, hinge loss, MA-GP (S6-S7).

Split: 1:1 sentence:word blocks; with an odd count (128 px: 5 blocks) the sentence level gets the extra block,
since it lays out the global structure. 64 px: 2 + 2, 128 px: 3 + 2, 256 px: 3 + 3.

Word affine (the patent only says: w is reshaped and passed through a Linear to w' in R^{N x D x L_i}, then
gamma = MLP1(w'), beta = MLP2(w')). Our reading, per word block:
  1. w' = Linear(D -> C)(w): the words projected into the block's C-channel feature space   [N, C, L]
  2. queries q = conv1x1(m) from the coordinate-masked feature m (the block's coordinate mask is what decides
     which image regions look for words; with use_coord_mask=False the raw upsampled feature is the query)
  3. AttnGAN word attention a = softmax_L(w'^T q / sqrt(C)) with padded words masked out   [N, L, H, W]
     (exposed as GenOutput.word_attn["block<i>"], sums to 1 over words at every pixel)
  4. context ctx = w' a                                                                      [N, C, H, W]
  5. each WordAff layer: gamma = MLP1(ctx), beta = MLP2(ctx) as per-pixel MLPs (1x1 convs, Linear -> ReLU ->
     Linear like DF-GAN's, initialised to gamma = 1, beta = 0), WordAff = gamma * f + beta.
So every pixel gets its own gamma, beta from the words it attends to — the word-level counterpart of the
sentence affine. The block's coordinate mask is reported in GenOutput.masks like the sentence blocks'.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from t2i.models.onestage import OneStageConfig, OneStageFamily, OneStageGenerator
from t2i.models.registry import register
from t2i.nn.affine import Affine, FuseCond, ResUpBlock, WordAffine, g_channels
from t2i.nn.attention import word_attention
from t2i.nn.coord_mask import CoordMask


@dataclass
class SWFGANConfig(OneStageConfig):
    """SWF-GAN recipe: the patent gives no training hyper-parameters, so DF-GAN's (its baseline) are used."""

    lambda_damsm: float = 0.0  # the patent trains with the adversarial loss only (S7)
    use_coord_mask: bool = True  # coordinate mask predictor in every block (False: SSATM acts on f directly)
    use_word_level: bool = True  # word-level blocks for the second half (False: all blocks sentence-level)
    coord_reduction: int = 32  # r of the coordinate mask predictor (hidden = max(8, C // r))


class CoordMaskGuide(nn.Module):
    """Sentence-level guide: the residual branch (SSATM) runs on the coordinate-masked feature m."""

    def __init__(self, channels: int,  # channels of the block input
                 reduction: int = 32):  # r of the coordinate mask predictor
        super().__init__()
        self.coord = CoordMask(channels, reduction)

    def forward(self, h: Tensor, cond: FuseCond, low: Tensor | None = None):  # low: unused (bicubic blocks)
        m, vis = self.coord(h)
        return m, cond, {"mask": vis}


class WordRegionGuide(nn.Module):
    """Word-level guide: coordinate mask -> word-region attention -> per-pixel word context for WordAffine.
    The residual branch runs on the (upsampled) feature f itself."""

    def __init__(self, channels: int,  # C, channels of the block input (also the context width)
                 text_dim: int,  # D, word feature size
                 use_coord_mask: bool = True,  # attention queries from the coordinate-masked feature
                 reduction: int = 32):  # r of the coordinate mask predictor
        super().__init__()
        self.channels = channels
        self.coord = CoordMask(channels, reduction) if use_coord_mask else None
        self.word_proj = nn.Linear(text_dim, channels)  # w -> w' (the patent's reshape + Linear)
        self.query = nn.Conv2d(channels, channels, 1)

    def forward(self, h: Tensor, cond: FuseCond, low: Tensor | None = None):  # low: unused (bicubic blocks)
        assert cond.words is not None, "swfgan word-level blocks need word features"
        n, c, hh, ww = h.shape
        info = {}
        q_in = h
        if self.coord is not None:
            q_in, info["mask"] = self.coord(h)
        words = self.word_proj(cond.words.transpose(1, 2)).transpose(1, 2)  # [N, C, L]
        word_mask = cond.word_mask
        if word_mask is not None and bool(word_mask.all(dim=1).any()):
            word_mask = word_mask.clone()  # a caption with no real word: attend to all rather than to none (NaN)
            word_mask[word_mask.all(dim=1)] = False
        ctx, attn = word_attention(self.query(q_in).flatten(2), words, word_mask, gamma=1.0 / math.sqrt(c))
        ctx = ctx.view(n, c, hh, ww)
        if h.is_contiguous(memory_format=torch.channels_last):  # the 1x1 convs of every WordAffine read it
            ctx = ctx.contiguous(memory_format=torch.channels_last)
        info["word_attn"] = attn.view(n, -1, hh, ww)
        return h, cond.replace(context=ctx), info


class SWFGANGenerator(OneStageGenerator):
    """Sentence-word fusion generator: sentence-level then word-level perception blocks (bicubic x2 each)."""

    def __init__(self, img_size: int = 64,  # output resolution
                 nf: int = 32,  # base width
                 z_dim: int = 100,  # noise size
                 text_dim: int = 256,  # D, sentence and word feature size
                 use_coord_mask: bool = True,  # coordinate mask predictor in every block
                 use_word_level: bool = True,  # second half of the blocks word-level
                 coord_reduction: int = 32,  # r of the coordinate mask predictor
                 cond_with_z: bool = False):  # sentence affine reads [z; s] instead of s (patent: s)
        cond_dim = text_dim + (z_dim if cond_with_z else 0)
        n_blocks = len(g_channels(nf, img_size)) - 1
        n_sentence = (n_blocks + 1) // 2 if use_word_level else n_blocks

        def make_block(i: int, cin: int, cout: int) -> ResUpBlock:
            if i < n_sentence:
                guide = CoordMaskGuide(cin, coord_reduction) if use_coord_mask else None
                return ResUpBlock(cin, cout, fusion=lambda ch: Affine(ch, cond_dim), upsample="bicubic", guide=guide)
            guide = WordRegionGuide(cin, text_dim, use_coord_mask, coord_reduction)
            return ResUpBlock(cin, cout, fusion=lambda ch: WordAffine(ch, cin), upsample="bicubic", guide=guide)

        super().__init__(img_size, nf, z_dim, text_dim, make_block, cond_with_z=cond_with_z)
        self.n_sentence_blocks = n_sentence  # blocks 1..n_sentence are sentence-level, the rest word-level


@register("swfgan")
class SWFGAN(OneStageFamily):
    Config = SWFGANConfig

    @classmethod
    def build_generator(cls, cfg: SWFGANConfig) -> SWFGANGenerator:
        return SWFGANGenerator(cfg.img_size, cfg.nf, cfg.z_dim, cfg.text_dim, cfg.use_coord_mask,
                               cfg.use_word_level, cfg.coord_reduction, cfg.cond_with_z)
