"""Channel attention (squeeze-and-excitation) and ECAGAN's channel-attention convolution block."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from t2i.nn.common import glu_residual_body


class SqueezeExcite(nn.Module):
    """SE channel attention: global average pool -> FC(C -> C/r) -> ReLU -> FC(C/r -> C) -> sigmoid, x * a."""

    def __init__(self, channels: int,  # C
                 reduction: int = 4):  # r, bottleneck ratio (SENet uses 16 on wide nets; our C is 32-64)
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def weights(self, x: Tensor) -> Tensor:
        """Per-channel importance a in (0, 1): [N, C]."""
        return self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3))))).sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return x * self.weights(x)[:, :, None, None]


class ChannelAttentionConv(nn.Module):
    """ECAGAN's channel-attention convolution: conv3x3 -> BN -> GLU -> conv3x3 -> BN -> SE, added to the input.

    The paper only says "convolution weighted by channel attention"; we use the residual form of RCAN's residual
    channel-attention block (SE on the residual branch, as SE-ResNet), which keeps the block an identity at init.
    """

    def __init__(self, channels: int,  # C, input (= output) channels
                 reduction: int = 4):  # SE bottleneck ratio
        super().__init__()
        self.channels = channels
        self.body = glu_residual_body(channels)
        self.se = SqueezeExcite(channels, reduction)

    def forward(self, x: Tensor) -> Tensor:
        assert x.dim() == 4 and x.size(1) == self.channels, (x.shape, self.channels)
        return x + self.se(self.body(x))
