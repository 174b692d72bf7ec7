"""DM-GAN dynamic memory (Zhu et al., CVPR 2019): the word-image fusion of the ECAGAN / CAE-GAN refinement stages.

For image features h = R (regions r_j, j over H*W) and words w_i (i over L):
  memory writing:   g_i = sigmoid(A w_i + B mean(R));  m_i = M_w(w_i) * g_i + M_r(mean(R)) * (1 - g_i)
  key addressing:   alpha_ij = softmax_i(phi_K(m_i)^T r_j)      (softmax over words; padded words masked out)
  value reading:    o_j = sum_i alpha_ij phi_V(m_i)
  response gate:    g^r_j = sigmoid(conv1x1([r_j; o_j]));  r'_j = r_j * (1 - g^r_j) + o_j * g^r_j
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from t2i.nn.attention import word_attention


class DynamicMemory(nn.Module):
    """Writes the words into a memory gated by the image, reads it per region, and gates the response."""

    def __init__(self, channels: int,  # C, image feature channels
                 text_dim: int,  # D, word feature size
                 mem_dim: int):  # N_m, memory slot size
        super().__init__()
        self.channels, self.text_dim = channels, text_dim
        self.gate_word = nn.Linear(text_dim, 1)  # A
        self.gate_image = nn.Linear(channels, 1, bias=False)  # B
        self.write_word = nn.Linear(text_dim, mem_dim)  # M_w
        self.write_image = nn.Linear(channels, mem_dim)  # M_r
        self.key = nn.Linear(mem_dim, channels)  # phi_K
        self.value = nn.Linear(mem_dim, channels)  # phi_V
        self.response_gate = nn.Conv2d(channels * 2, 1, 1)  # W, b of g^r

    def forward(self, h: Tensor, words: Tensor, word_mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """h: [N, C, H, W]; words: [N, D, L]; word_mask: [N, L] (True = pad) or None.

        Returns (h' [N, C, H, W], read weights [N, L, H, W] summing to 1 over words, response gate [N, 1, H, W]).
        """
        n, c, hh, ww = h.shape
        assert c == self.channels and words.dim() == 3 and words.shape[:2] == (n, self.text_dim), (h.shape, words.shape)
        w = words.transpose(1, 2)  # [N, L, D]
        r_mean = h.mean(dim=(2, 3))  # [N, C]
        g = torch.sigmoid(self.gate_word(w) + self.gate_image(r_mean)[:, None, :])  # [N, L, 1]
        mem = self.write_word(w) * g + self.write_image(r_mean)[:, None, :] * (1 - g)  # [N, L, N_m]
        keys = self.key(mem).transpose(1, 2)  # [N, C, L]
        values = self.value(mem).transpose(1, 2)  # [N, C, L]
        _, attn = word_attention(h.flatten(2), keys, word_mask)  # [N, L, H*W], softmax over words
        o = torch.bmm(values, attn).view(n, c, hh, ww)
        g_r = torch.sigmoid(self.response_gate(torch.cat([h, o], dim=1)))  # [N, 1, H, W]
        h_new = h * (1 - g_r) + o * g_r
        return h_new, attn.view(n, -1, hh, ww), g_r
