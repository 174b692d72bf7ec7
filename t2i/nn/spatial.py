"""SSA-GAN / CSA-GAN spatial pieces: the two-layer CNN mask predictor and spatial-semantic fusion (SSF, SSA-GAN's
semantic-spatial conditional BN):

    m  = sigmoid(conv1x1(ReLU(BN(conv3x3(h)))))                [N, 1, H, W], on the block's upsampled input h
    x~ = BN_noaffine(x) * (1 + m * gamma(c)) + m * beta(c)     gamma, beta = Linear(c, C) -> ReLU -> Linear(C, C),
                                                               last layers zero-initialised (x~ = BN(x) at start)
"""
from __future__ import annotations

from torch import Tensor, nn

from t2i.nn.affine import FuseCond, NearestConvCache, cond_mlp, conv_after_nearest


class CNNMask(nn.Module):
    """Two-layer CNN mask predictor: conv3x3 -> BN -> ReLU -> conv1x1 -> sigmoid; [N, C, H, W] -> [N, 1, H, W]."""

    def __init__(self, channels: int,  # C, channels of the feature the mask is predicted from
                 hidden: int = 100):  # width of the hidden layer (SSA-GAN's released model uses 100)
        super().__init__()
        self.channels = channels
        self.net = nn.Sequential(nn.Conv2d(channels, hidden, 3, 1, 1), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
                                 nn.Conv2d(hidden, 1, 1))

        self.low_res = True  # with `low` given: its conv3x3 in the exact low-res form (conv_after_nearest; ours)
        self._conv_t = NearestConvCache()

    def forward(self, h: Tensor, low: Tensor | None = None) -> Tensor:
        """h [N, C, H, W]; low: the input h is the nearest x2 of, or None."""
        assert h.dim() == 4 and h.size(1) == self.channels, h.shape
        if low is None or not self.low_res:
            return self.net(h).sigmoid()
        return self.net[1:](conv_after_nearest(low, self.net[0], self._conv_t)).sigmoid()


class CNNMaskGuide(nn.Module):
    """ResUpBlock guide: predicts the block's mask from the upsampled input and hands it to the SSF layers."""

    def __init__(self, channels: int,  # channels of the block input
                 hidden: int = 100):  # hidden width of the CNN mask predictor
        super().__init__()
        self.mask = CNNMask(channels, hidden)

    def forward(self, h: Tensor, cond: FuseCond, low: Tensor | None = None):  # low: see ResUpBlock's guide
        m = self.mask(h, low)
        return h, cond.replace(mask=m), {"mask": m}


class SpatialAffine(nn.Module):
    """SSF / SSACN fusion: BN without affine, then x^ * (1 + m * gamma(c)) + m * beta(c); m = cond.mask."""

    def __init__(self, num_features: int,  # C, channels of x
                 cond_dim: int):  # size of cond.vec
        super().__init__()
        self.num_features = num_features
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.fc_gamma = cond_mlp(cond_dim, num_features, 0.0)
        self.fc_beta = cond_mlp(cond_dim, num_features, 0.0)

    def forward(self, x: Tensor, cond: FuseCond) -> Tensor:
        m = cond.mask
        assert x.dim() == 4 and x.size(1) == self.num_features, x.shape
        assert m is not None and m.shape == (x.size(0), 1, x.size(2), x.size(3)), (None if m is None else m.shape)
        g = self.fc_gamma(cond.vec)[:, :, None, None]
        b = self.fc_beta(cond.vec)[:, :, None, None]
        return self.bn(x) * (1 + m * g) + m * b
