"""CI-GAN's own networks (the StyleGAN2 generator and discriminator are t2i.models.stylegan2's): the stage-2
inversion encoder and latent discriminator, the stage-3 text encoder, and the bank of stage-3 targets with its reader."""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors import safe_open
from torch import Tensor, nn

from t2i.models.stylegan2 import _log2_size, channels_at
from t2i.nn.modconv import EqualConv2d, EqualLinear, downsample2x


# --- stage 2 networks ----------------------------------------------------------------------------------------
class EncoderBlock(nn.Module):
    """Residual block (no normalisation): conv3x3 -> [avg-pool 2] -> conv3x3; skip = [avg-pool 2] -> 1x1 when the
    shape changes, identity otherwise; sum / sqrt(2)."""

    def __init__(self, in_channels: int,  # input channels
                 out_channels: int,  # output channels
                 down: bool):  # halve the resolution
        super().__init__()
        self.down = down
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, activation=True)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, activation=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False) if (down or in_channels != out_channels) else None

    def forward(self, x: Tensor) -> Tensor:
        skip = downsample2x(x) if self.down else x
        if self.skip is not None:
            skip = self.skip(skip)
        h = self.conv0(x)
        if self.down:
            h = downsample2x(h)
        return (self.conv1(h) + skip) / math.sqrt(2.0)


class Encoder(nn.Module):
    """Inversion encoder E: image [N, 3, S, S] -> w [N, w_dim] (W space, In-Domain-inversion style).

    Stem 3x3 conv, `num_blocks` residual blocks of which log2(S) - 2 downsample (spread evenly, so at 64 px
    the pattern is [same, down] x 4), then a linear layer from the 4x4 features to w. The output is an offset
    from `w_mean` (a buffer set to the frozen generator's w_avg by CIGAN.attach_pretrained), so that E starts
    at the centre of W instead of at 0 (pSp/e4e practice; In-Domain inversion regresses w directly).
    No BatchNorm (In-Domain inversion uses it): E is EMA'd and inverts single images at inference."""

    def __init__(self, img_size: int = 64,  # input resolution
                 w_dim: int = 128,  # latent size
                 num_blocks: int = 8,  # residual blocks
                 channel_base: int = 4096,  # channels(res) = min(channel_base // res, channel_max)
                 channel_max: int = 128):  # channel cap
        super().__init__()
        k = _log2_size(img_size)
        n_down = k - 2
        assert num_blocks >= n_down, (num_blocks, n_down)
        self.img_size, self.w_dim = img_size, w_dim
        ch = lambda r: channels_at(r, channel_base, channel_max)  # noqa: E731
        self.stem = EqualConv2d(3, ch(img_size), 3, activation=True)
        blocks, res = [], img_size
        for i in range(num_blocks):
            down = (i + 1) * n_down // num_blocks > i * n_down // num_blocks
            blocks.append(EncoderBlock(ch(res), ch(res // 2) if down else ch(res), down))
            res = res // 2 if down else res
        assert res == 4, res
        self.blocks = nn.Sequential(*blocks)
        self.head = EqualLinear(ch(4) * 16, w_dim)
        self.register_buffer("w_mean", torch.zeros(w_dim))

    def forward(self, x: Tensor) -> Tensor:
        assert x.dim() == 4 and x.shape[1:] == (3, self.img_size, self.img_size), x.shape
        h = self.blocks(self.stem(x))
        return self.w_mean + self.head(h.flatten(1))


class LatentDiscriminator(nn.Module):
    """MLP on w: tells w = mapping(z) (real) from E(G(w)) (fake). w [N, w_dim] -> logit [N]."""

    def __init__(self, w_dim: int = 128,  # latent size
                 hidden: int = 256,  # hidden width
                 num_layers: int = 3):  # hidden layers
        super().__init__()
        layers = [EqualLinear(w_dim if i == 0 else hidden, hidden, activation=True) for i in range(num_layers)]
        self.net = nn.Sequential(*layers, EqualLinear(hidden, 1))
        self.w_dim = w_dim

    def forward(self, w: Tensor) -> Tensor:
        assert w.dim() == 2 and w.shape[1] == self.w_dim, w.shape
        return self.net(w).squeeze(1)


# --- stage 3 network -------------------------------------------------------------------------------------------
class LatentTextEncoder(nn.Module):
    """CI-GAN E_text: token ids -> a latent t in R^{w_dim} (or W+: R^{num_ws x w_dim}); not DAMSM's sentence encoder
    (t2i.text.damsm.TextEncoder, a BiLSTM giving word and sentence features). Embedding + one-layer LSTM; the final
    hidden state of the last real token goes through a linear layer (the paper: 'a one-layer LSTM ... dim(t) = dim(w')')."""

    def __init__(self, vocab_size: int,  # vocabulary size (index 0 = <end>/padding)
                 w_dim: int = 128,  # output size = latent size
                 embed_dim: int = 256,  # word embedding size
                 hidden: int = 256,  # LSTM hidden size
                 dropout: float = 0.1,  # dropout on the embeddings
                 num_ws: int = 0):  # 0: t in W [N, w_dim]; > 0: t in W+ [N, num_ws, w_dim]
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embed_dim, hidden, num_layers=1, batch_first=True)
        self.proj = nn.Linear(hidden, w_dim * max(num_ws, 1))
        self.w_dim, self.num_ws = w_dim, num_ws

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """tokens [N, L] long (padded with 0), lengths [N] (number of real tokens) -> t [N, w_dim] ([N, num_ws, w_dim])."""
        assert tokens.dim() == 2 and lengths.shape == tokens.shape[:1], (tokens.shape, lengths.shape)
        x = self.drop(self.embed(tokens))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.detach().cpu().clamp(min=1, max=tokens.shape[1]),
                                                   batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)  # h [1, N, hidden], back in input order
        t = self.proj(h[-1])
        return t.view(len(t), self.num_ws, self.w_dim) if self.num_ws else t


def read_code_bank(path) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(codes float32, indices int64, metadata) of a bank file; ValueError with a readable message otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no code bank at {path} (build it with: python -m t2i cigan-codes --out {path})")
    try:
        with safe_open(str(path), "pt") as f:
            meta = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
            codes, indices = f.get_tensor("codes").float(), f.get_tensor("indices").long()
    except Exception as e:  # noqa: BLE001 - any unreadable file is reported the same way
        raise ValueError(f"{path}: not a readable code bank ({e})") from None
    if len(codes) != len(indices):
        raise ValueError(f"{path}: {len(codes)} codes but {len(indices)} indices")
    return codes, indices, meta


class CodeBank(nn.Module):
    """The stage-3 targets w'_i of the training images (t2i.training.cigan_codes), looked up by dataset row.
    Non-persistent buffers: filled by CIGAN.attach_pretrained from cfg.code_bank, never saved with the run."""

    def __init__(self):
        super().__init__()
        self.register_buffer("codes", torch.zeros(0), persistent=False)
        self.register_buffer("has", torch.zeros(0, dtype=torch.bool), persistent=False)

    def fill(self, codes: Tensor, indices: Tensor) -> None:
        n = int(indices.max()) + 1 if len(indices) else 0
        self.codes = torch.zeros(n, *codes.shape[1:], device=self.codes.device)
        self.has = torch.zeros(n, dtype=torch.bool, device=self.codes.device)
        self.codes[indices.to(self.codes.device)] = codes.to(self.codes)
        self.has[indices.to(self.codes.device)] = True

    def forward(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        """indices [N] -> (codes [N, ...] (zeros where missing), available [N] bool)."""
        if len(self.has) == 0:
            raise ValueError("the code bank is empty: CIGAN.attach_pretrained fills it from cfg.code_bank")
        idx = indices.to(self.has.device).clamp(max=len(self.has) - 1)
        ok = self.has[idx] & (indices.to(self.has.device) < len(self.has))
        return self.codes[idx], ok


def _unwrap(net: nn.Module) -> nn.Module:
    """The module inside a DDP / compile wrapper (frozen nets are used through their methods)."""
    return getattr(net, "module", getattr(net, "_orig_mod", net))
