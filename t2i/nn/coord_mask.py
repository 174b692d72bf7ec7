"""The patent's coordinate mask predictor (coordinate attention, Hou et al. 2021), seed 000, Fig. 4.

    f   [N, C, H, W]
    f_x = mean over W -> [N, C, H, 1];  f_y = mean over H -> [N, C, 1, W]
    f'  = cat(transpose(f_x) [N, C, 1, H], f_y) along the last axis -> [N, C, 1, H + W]
    f'' = nonlinearity(norm(conv1x1(f'))) -> [N, C/r, 1, H + W]        (shared across both directions)
    split f'' back into [N, C/r, 1, H] (-> transposed to [N, C/r, H, 1]) and [N, C/r, 1, W]
    m_x = sigmoid(conv1x1_x(.)) [N, C, H, 1];  m_y = sigmoid(conv1x1_y(.)) [N, C, 1, W]
    m   = f * m_x * m_y -> [N, C, H, W]

The patent names "normalisation and activation" without saying which: we take the coordinate-attention
paper's BatchNorm + h-swish and its reduction r = 32 with at least 8 hidden channels.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class CoordMask(nn.Module):
    """forward(f) -> (m [N, C, H, W], vis [N, 1, H, W] in [0, 1]); vis = mean over channels of m_x * m_y."""

    def __init__(self, channels: int,  # C, channels of f
                 reduction: int = 32,  # r: the shared conv maps C -> max(min_hidden, C // r)
                 min_hidden: int = 8):  # lower bound on the hidden width
        super().__init__()
        self.channels = channels
        hidden = max(min_hidden, channels // reduction)
        self.shared = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.BatchNorm2d(hidden), nn.Hardswish())
        self.conv_x = nn.Conv2d(hidden, channels, 1)
        self.conv_y = nn.Conv2d(hidden, channels, 1)

    def forward(self, f: Tensor) -> tuple[Tensor, Tensor]:
        assert f.dim() == 4 and f.size(1) == self.channels, f.shape
        n, c, h, w = f.shape
        f_x = f.mean(dim=3, keepdim=True)  # [N, C, H, 1]
        f_y = f.mean(dim=2, keepdim=True)  # [N, C, 1, W]
        y = self.shared(torch.cat([f_x.transpose(2, 3), f_y], dim=3))  # [N, C/r, 1, H + W]
        y_x, y_y = y.split([h, w], dim=3)
        m_x = self.conv_x(y_x.transpose(2, 3)).sigmoid()  # [N, C, H, 1]
        m_y = self.conv_y(y_y).sigmoid()  # [N, C, 1, W]
        assert m_x.shape == (n, c, h, 1) and m_y.shape == (n, c, 1, w), (m_x.shape, m_y.shape)
        att = m_x * m_y  # [N, C, H, W] in [0, 1]
        m = f * att
        vis = att.mean(dim=1, keepdim=True)
        return m, vis

