"""CAE-GAN (seed 002b, Tan et al., Computer Science 2022): a Transformer-style cross-attention encoder C_E aligns
the text with visual features before a DM-GAN generator.

    f_c, W = C_E(s, F_R);  F0 = G0(f_c + z);  F1 = G1(DM(F0, W));  F2 = G2(DM(F1, W))
    C_E:  q_v = Lin(F_R), k_s, v_s = Lin(text);  l = dropout(softmax(lambda_c q_v k_s^T)) v_s;  l_c = Norm(A1 l + B1)
          q_l, k_l, v_l = Lin(l_c);  l_cs = dropout(softmax(lambda_s q_l k_l^T)) v_l;       f_c = Norm(A2 l_cs + B2)
    L_G = sum_i L_Gi + tau_1 L_CA + tau_2 L_DAMSM  (no perceptual loss)

Choices where the paper is vague:
- Visual features F_R: the paper takes Inception-v3 region features of the training image, which do not exist
  when generating from text alone. We use a learned query bank (n_queries vectors, a learned prior over
  "regions") in training AND at inference, so the generator sees the same kind of input in both; feeding the
  frozen DAMSM image regions during training would make train and test differ.
- Text tokens: keys/values are the word features plus the sentence feature as one extra, never-masked token,
  so the global caption is always available (and a caption of only padding cannot give an empty softmax).
  Padded words are masked. lambda_c = lambda_s = 1/sqrt(enc_dim) (scaled dot product); Norm = LayerNorm.
- f_c is a sequence (one vector per query); it is mean-pooled to one vector, passed through CA (the paper's
  L_CA needs a Gaussian condition somewhere; StackGAN++ puts it on the text code) and concatenated with z
  ("f_c + z", as StackGAN joins condition and noise). W fed to the dynamic memory is the text encoder's words.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from t2i.models.dm_stack import DMStackConfig, DMStackFamily, DMStackGenerator
from t2i.models.registry import register
from t2i.nn.common import CondAugment


@dataclass
class CAEGANConfig(DMStackConfig):
    """CAE-GAN; the shared fields are documented on DMStackConfig (lambda_kl = tau_1, lambda_damsm = tau_2)."""

    enc_dim: int | None = None  # width of the cross-attention encoder (None: = text_dim)
    n_queries: int = 16  # learned visual queries standing in for the region features F_R
    attn_dropout: float = 0.1  # dropout on both attention maps (Transformer default)


class CrossAttentionEncoder(nn.Module):
    """C_E: learned visual queries attend to the text tokens, then self-attention; returns the pooled f_c."""

    def __init__(self, text_dim: int,  # D, sentence / word feature size
                 dim: int,  # encoder width
                 n_queries: int,  # learned query bank size
                 dropout: float):  # attention dropout
        super().__init__()
        self.text_dim, self.dim = text_dim, dim
        self.queries = nn.Parameter(torch.randn(n_queries, dim) * 0.02)  # stands in for F_R (see module doc)
        self.q_v = nn.Linear(dim, dim)
        self.k_s = nn.Linear(text_dim, dim)
        self.v_s = nn.Linear(text_dim, dim)
        self.out1 = nn.Linear(dim, dim)  # A1, B1
        self.norm1 = nn.LayerNorm(dim)
        self.qkv_l = nn.Linear(dim, dim * 3)
        self.out2 = nn.Linear(dim, dim)  # A2, B2
        self.norm2 = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)
        self.scale = 1.0 / math.sqrt(dim)  # lambda_c = lambda_s

    def forward(self, sent: Tensor, words: Tensor, word_mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """sent [N, D], words [N, D, L] -> (f_c [N, dim], word weights [N, L]: mean cross-attention per word over the
        queries, renormalised over the words (the sentence token left out), for visualisation)."""
        n, d, length = words.shape
        tokens = torch.cat([sent[:, None, :], words.transpose(1, 2)], dim=1)  # [N, 1 + L, D]
        pad = torch.zeros(n, 1 + length, dtype=torch.bool, device=words.device)
        if word_mask is not None:
            pad[:, 1:] = word_mask
        q = self.q_v(self.queries).expand(n, -1, -1)  # [N, Q, dim]
        score = torch.bmm(q, self.k_s(tokens).transpose(1, 2)) * self.scale  # [N, Q, 1 + L]
        score = torch.softmax(score.masked_fill(pad[:, None, :], float("-inf")), dim=2)
        l_c = self.norm1(self.out1(torch.bmm(self.drop(score), self.v_s(tokens))))  # [N, Q, dim]
        q_l, k_l, v_l = self.qkv_l(l_c).chunk(3, dim=2)
        s_s = torch.softmax(torch.bmm(q_l, k_l.transpose(1, 2)) * self.scale, dim=2)  # [N, Q, Q]
        f_c = self.norm2(self.out2(torch.bmm(self.drop(s_s), v_l)))  # [N, Q, dim]
        w = score[:, :, 1:].mean(dim=1)  # [N, L]
        w = w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return f_c.mean(dim=1), w


class CAEConditioner(nn.Module):
    """C_E followed by conditioning augmentation."""

    def __init__(self, text_dim: int,  # D
                 enc_dim: int,  # C_E width
                 n_queries: int,  # learned query bank size
                 dropout: float,  # attention dropout
                 c_dim: int):  # CA output size
        super().__init__()
        self.encoder = CrossAttentionEncoder(text_dim, enc_dim, n_queries, dropout)
        self.ca = CondAugment(enc_dim, c_dim)

    def forward(self, sent: Tensor, words: Tensor, word_mask: Tensor | None, sample: bool = True,
                eps: Tensor | None = None):
        f_c, w = self.encoder(sent, words, word_mask)
        c_hat, mu, logvar = self.ca(f_c, sample=sample, eps=eps)
        return c_hat, mu, logvar, {"encoder": w}


class CAEGANGenerator(DMStackGenerator):
    def __init__(self, cfg: CAEGANConfig):  # the family config
        enc_dim = cfg.enc_dim or cfg.text_dim
        super().__init__(cfg, CAEConditioner(cfg.text_dim, enc_dim, cfg.n_queries, cfg.attn_dropout, cfg.c_dim))


@register("caegan")
class CAEGAN(DMStackFamily):
    Config = CAEGANConfig
    Generator = CAEGANGenerator
