"""CI-GAN (seed 004): cycle-consistent inverse GAN for text-to-image generation and text-guided editing.

Three training stages, one registered family ("cigan") whose Config.stage picks the stage:

  stage "stylegan"  unconditional StyleGAN2 (t2i.models.stylegan2): z -> w -> image.
                    nets = {"G": Generator, "D": Discriminator}
  stage "encoder"   inversion encoder E: image -> w (In-Domain-inversion style, 8 residual blocks), the
                    StyleGAN2 generator frozen. E is trained with pixel L2 + perceptual + image-adversarial
                    loss on G(E(x)) and, with cycle=True, a latent-adversarial loss (D_latent tells w = mapping(z)
                    from E(G(w))) + the latent cycle loss ||w - E(G(w))||^2.
                    nets = {"G": Encoder (trained, EMA'd, shipped), "Gen": frozen Generator, "D": image D,
                            "D_latent": LatentDiscriminator (only when cycle=True)}
  stage "aligner"   text encoder E_text (embedding + 1-layer LSTM -> t, dim t = dim w) trained with InfoNCE on L2
                    distance against w' = E(x) (E frozen).
                    nets = {"G": TextEncoder (trained), "Enc": frozen Encoder, "Gen": frozen Generator}

Inference (text-guided optimisation, section 3.4 of the paper): start from w0 = mapping(z) (generation) or
w0 = E(x) (editing) and minimise ||w - t||^2 (+ lam_per * perceptual(G(w), x) for editing) with Adam on w:
`generate_from_text`, `invert`, `text_guided_optimise` below.

Frozen nets come from the previous stage's checkpoint (Config.generator_ckpt / encoder_ckpt) through
`CIGAN.attach_pretrained(nets, cfg, load_fn)`; they have requires_grad=False and are not in g_keys.
Noise inputs of the frozen generator are 'const' (the stored noise maps) in stages 2-3 and at inference,
so that G(w) is a deterministic function of w.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import Tensor, nn

from t2i.losses import infonce_l2, nonsaturating_d, nonsaturating_g, path_length_penalty, r1_penalty
from t2i.models.registry import Family, StepContext, register
from t2i.models.stylegan2 import (Discriminator, Generator, SynthesisNetwork, _log2_size, channels_at)
from t2i.nn.modconv import EqualConv2d, EqualLinear, downsample2x

STAGES = ("stylegan", "encoder", "aligner")
# Default optimiser settings per stage: (lr_g, lr_d, betas). StyleGAN2: 0.002, betas (0, 0.99); In-Domain inversion
# uses 1e-4 with (0.9, 0.99) for E and D: we take 5e-4 because E starts from scratch on a small CPU budget;
# the text encoder is a plain LSTM regressor.
STAGE_OPTIM = {"stylegan": (0.002, 0.002, (0.0, 0.99)), "encoder": (5e-4, 5e-4, (0.9, 0.99)),
               "aligner": (1e-3, 0.0, (0.9, 0.999))}
# Config fields that fix the architecture (and weight parametrisation) of each network: a checkpoint of an
# earlier stage must agree with the current config on them.
GEN_FIELDS = ("img_size", "z_dim", "w_dim", "mapping_layers", "mapping_lr_mul", "channel_base", "channel_max")
ENC_FIELDS = ("img_size", "w_dim", "enc_blocks", "enc_channel_base", "enc_channel_max")


@dataclass
class CIGANConfig:
    """CI-GAN configuration; the defaults are the 64 px CPU recipe: G 1.13 M params (mapping 0.07 M), D 1.18 M,
    E 1.72 M, D_latent 0.16 M, E_text 1.95 M at vocab 5450 (0.61 M at 200 words).
    GPU 256 px recipe (StyleGAN2 at 256; G 24.8 M, D 24.0 M, E 26.4 M): img_size=256, z_dim=w_dim=512,
    mapping_layers=8, channel_base=d_channel_base=enc_channel_base=16384, channel_max=d_channel_max=
    enc_channel_max=512, r1_gamma=1.0, pl_weight=2.0, style_mixing=0.9, latent_d_hidden=512,
    text_embed_dim=300, text_hidden=512."""

    stage: str = "stylegan"  # which stage build / d_loss / g_loss serve: "stylegan" | "encoder" | "aligner"
    # --- StyleGAN2 generator (trained in stage 1, frozen afterwards) ---
    img_size: int = 64  # output resolution (power of two >= 8); 256 for the GPU recipe
    z_dim: int = 128  # z size (512 in StyleGAN2)
    w_dim: int = 128  # w size = text feature size t (512 in StyleGAN2)
    mapping_layers: int = 4  # mapping MLP depth (8 in StyleGAN2; 4 suffices at CPU scale)
    mapping_lr_mul: float = 0.01  # mapping-network learning-rate multiplier
    w_avg_beta: float = 0.995  # decay of the tracked w average (truncation trick)
    channel_base: int = 2048  # G channels(res) = min(channel_base // res, channel_max): 128 up to 16 px, 64 at 32,
    #                           32 at 64 (DF-GAN nf=32 widths); 4096 doubles the 32-64 px widths at 2.3x the cost
    channel_max: int = 128  # G channel cap
    fused_modconv: bool | None = None  # modconv as one grouped conv (True) or activation scaling (False); None =
    #                                   grouped on CUDA, scaling on CPU (2.8x faster there); weights are the same
    # --- StyleGAN2 discriminator (stage 1; a fresh one is the image D of stage 2) ---
    d_channel_base: int = 2048  # D channels(res) = min(d_channel_base // res, d_channel_max)
    d_channel_max: int = 128  # D channel cap
    mbstd_group: int = 4  # minibatch-stddev group size
    mbstd_channels: int = 1  # minibatch-stddev feature maps
    # --- stage 1 losses ---
    r1_gamma: float = 0.05  # R1 weight gamma (ADA heuristic 0.0002 * res^2 / batch = 0.026 at 64 px, batch 32)
    r1_every: int = 16  # lazy regularisation interval of R1 (steps)
    pl_weight: float = 0.0  # path-length regularisation weight (2.0 in StyleGAN2; off on CPU)
    pl_every: int = 4  # lazy interval of the path-length penalty
    pl_decay: float = 0.01  # decay of the running mean path length
    pl_batch_shrink: int = 2  # the path-length pass uses batch // pl_batch_shrink samples
    style_mixing: float = 0.0  # style-mixing probability (0.9 in StyleGAN2; W-space inversion does not need it)
    # --- stage 2: inversion encoder ---
    enc_blocks: int = 8  # residual blocks in E (In-Domain inversion: 8); log2(img_size) - 2 of them downsample
    enc_channel_base: int = 2048  # E channels(res) = min(enc_channel_base // res, enc_channel_max)
    enc_channel_max: int = 128  # E channel cap
    latent_d_hidden: int = 256  # latent discriminator MLP width
    latent_d_layers: int = 3  # latent discriminator hidden layers
    cycle: bool = True  # cycle-consistency terms (latent adversarial + latent cycle loss); False = ablation
    lam_pix: float = 1.0  # pixel MSE ||x - G(E(x))||^2 (mean over pixels, images in [-1, 1])
    lam_per: float = 0.01  # perceptual (EfficientNet-Lite0 feature MSE, ~100x the pixel MSE in size)
    lam_adv: float = 0.1  # image adversarial loss on G(E(x)) (In-Domain inversion: 0.1)
    lam_latent_adv: float = 0.1  # latent adversarial loss on E(G(w))
    lam_cycle: float = 1.0  # latent cycle loss, mean over w dims of (w - E(G(w)))^2
    enc_r1_gamma: float = 10.0  # R1 on real images for the stage-2 image D (In-Domain inversion: 10)
    # --- stage 3: text encoder ---
    vocab_size: int = 5450  # set from the dataset vocabulary (index 0 = <end>, also the padding id)
    text_embed_dim: int = 256  # word embedding size
    text_hidden: int = 256  # LSTM hidden size
    text_dropout: float = 0.1  # dropout on word embeddings
    # how the stage-3 targets w'_i are made from x_i (and uploads are inverted before an edit): E(x) refined for
    # invert_steps Adam steps at invert_lr on the pixel MSE (In-Domain inversion's encoder + optimisation), in W+
    # when wplus (then t has one code per synthesis layer: dim t = dim w' = num_ws x w_dim). 0 steps = E(x), the paper.
    invert_steps: int = 0  # refinement steps (0 = w' = E(x))
    invert_lr: float = 0.05  # refinement Adam learning rate
    wplus: bool = False  # W+ codes and text features (needs invert_steps > 0: E gives one w)
    infonce_tau: float = 1.0  # InfoNCE temperature on the squared distances (paper: 1; W+ codes lie ~1,400 apart
    #                           squared, where tau = 1 makes the softmax a hard nearest-neighbour choice)
    code_bank: str | None = None  # precomputed w'_i of the training images (t2i.training.cigan_codes), needed
    #                               when invert_steps > 0 (refining every batch would cost 100x the step)
    # --- optimisers (None = the stage's default from STAGE_OPTIM; config_for_stage resets them) ---
    lr_g: float | None = None  # Adam lr of the trained net: 0.002 (StyleGAN2) / 5e-4 (E) / 1e-3 (E_text)
    lr_d: float | None = None  # Adam lr of the discriminators: 0.002 / 5e-4 / unused
    betas: tuple[float, float] | None = None  # Adam betas: (0, 0.99) StyleGAN2 / (0.9, 0.99) In-Domain inv. / (0.9, 0.999)
    # --- checkpoints of earlier stages (read by CIGAN.attach_pretrained) ---
    generator_ckpt: str | None = None  # stage-1 model (local folder or Hub id); needed by stage 2 (and 3)
    encoder_ckpt: str | None = None  # stage-2 model; needed by stage 3

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"cigan: stage must be one of {STAGES}, got {self.stage!r}")
        lr_g, lr_d, betas = STAGE_OPTIM[self.stage]
        self.lr_g = lr_g if self.lr_g is None else float(self.lr_g)
        self.lr_d = lr_d if self.lr_d is None else float(self.lr_d)
        self.betas = tuple(float(b) for b in (betas if self.betas is None else self.betas))  # JSON gives a list
        if len(self.betas) != 2:
            raise ValueError(f"cigan: betas must have two entries, got {self.betas}")
        if self.wplus and self.invert_steps <= 0:
            raise ValueError("cigan: wplus=True needs invert_steps > 0 (the encoder gives one w, not a W+ code)")
        n_down = _log2_size(self.img_size) - 2
        if self.enc_blocks < n_down:
            raise ValueError(f"cigan: enc_blocks={self.enc_blocks} < {n_down} downsamplings needed at {self.img_size} px")


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
class TextEncoder(nn.Module):
    """CI-GAN E_text: token ids -> t in R^{w_dim} (or W+: R^{num_ws x w_dim}). Embedding + one-layer LSTM; the final
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


# --- helpers ---------------------------------------------------------------------------------------------------
def _unwrap(net: nn.Module) -> nn.Module:
    """The module inside a DDP / compile wrapper (frozen nets are used through their methods)."""
    return getattr(net, "module", getattr(net, "_orig_mod", net))


def _psnr(a: Tensor, b: Tensor) -> float:
    """PSNR in dB of images in [-1, 1] (peak-to-peak 2)."""
    mse = F.mse_loss(a.clamp(-1, 1), b.clamp(-1, 1)).item()
    return 10.0 * math.log10(4.0 / max(mse, 1e-10))


def _config_dict(d: dict) -> dict:
    """The family config inside a loaded checkpoint config (either the config itself or nested under a key)."""
    if "stage" in d:
        return d
    for v in d.values():
        if isinstance(v, dict) and "stage" in v:
            return v
    raise ValueError("checkpoint config holds no CI-GAN config (no 'stage' field found)")


def _split_state(sd: dict) -> dict[str, dict]:
    """Split a state dict by component: keys '<component>.<param>' (t2i.checkpoint writes the shipped net as
    'generator.', CIGAN.ship_modules adds 'Gen.' / 'Enc.'; 'G.' is accepted for 'generator.'). A state dict with
    no such prefix is the shipped net's own ('G'). Unknown components (e.g. a DAMSM 'text_encoder.') are kept."""
    known = {"generator": "G", "G": "G", "Gen": "Gen", "Enc": "Enc"}
    if not any(k.split(".", 1)[0] in known for k in sd):
        return {"G": dict(sd)}
    parts: dict[str, dict] = {}
    for k, v in sd.items():
        head, _, rest = k.partition(".")
        parts.setdefault(known.get(head, head), {})[rest] = v
    return parts


# --- the family ------------------------------------------------------------------------------------------------
@register("cigan")
class CIGAN(Family):
    """CI-GAN as one family; Config.stage selects the stage (see the module docstring).

    Trainer contract: nets["G"] is the trained net of the stage (EMA'd, shipped); keys starting with "D" go to the
    discriminator optimiser (none in the aligner stage: `has_discriminator(cfg)` is False, skip the D step);
    "Gen"/"Enc" are frozen. Call `attach_pretrained(nets, cfg, load_fn)` right after `build(cfg)`.
    Data: captions (ctx.tokens, ctx.lengths) only when `needs_text(cfg)`; ctx.perceptual when `uses_perceptual(cfg)`.
    Inference needs `inference_keys(cfg)` nets: ship them all (the frozen ones too)."""

    Config = CIGANConfig
    text_conditional = False  # G is never conditioned on DAMSM features; the aligner reads token ids
    needs_perceptual = True  # (stage 2 only, see uses_perceptual)
    g_keys = ("G",)
    runtime_fields = ("fused_modconv",)
    source_fields = ("generator_ckpt", "encoder_ckpt", "code_bank")

    # --- what the trainer needs to know ---
    @classmethod
    def needs_text(cls, cfg) -> bool:
        return cfg.stage == "aligner"

    @classmethod
    def uses_perceptual(cls, cfg) -> bool:
        return cfg.stage == "encoder" and cfg.lam_per > 0

    @classmethod
    def has_discriminator(cls, cfg) -> bool:
        return cfg.stage != "aligner"

    @classmethod
    def inference_keys(cls, cfg) -> tuple[str, ...]:
        return {"stylegan": ("G",), "encoder": ("G", "Gen"), "aligner": ("G", "Enc", "Gen")}[cfg.stage]

    @classmethod
    def config_for_stage(cls, prev, stage: str, **overrides) -> CIGANConfig:
        """The next stage's config from the previous one (a Config or its dict): same architecture, new stage."""
        d = dataclasses.asdict(prev) if dataclasses.is_dataclass(prev) else dict(_config_dict(prev))
        d.update(stage=stage, lr_g=None, lr_d=None, betas=None)  # optimiser defaults are per stage
        d.update(overrides)
        return cls.config_from_dict(d)

    # --- networks ---
    @staticmethod
    def make_generator(cfg) -> Generator:
        return Generator(cfg.z_dim, cfg.w_dim, cfg.img_size, cfg.mapping_layers, cfg.mapping_lr_mul, cfg.w_avg_beta,
                         cfg.channel_base, cfg.channel_max, cfg.fused_modconv)

    @staticmethod
    def make_discriminator(cfg) -> Discriminator:
        return Discriminator(cfg.img_size, cfg.d_channel_base, cfg.d_channel_max, cfg.mbstd_group, cfg.mbstd_channels)

    @staticmethod
    def make_encoder(cfg) -> Encoder:
        return Encoder(cfg.img_size, cfg.w_dim, cfg.enc_blocks, cfg.enc_channel_base, cfg.enc_channel_max)

    @staticmethod
    def make_text_encoder(cfg) -> TextEncoder:
        num_ws = 2 * _log2_size(cfg.img_size) - 2 if cfg.wplus else 0
        return TextEncoder(cfg.vocab_size, cfg.w_dim, cfg.text_embed_dim, cfg.text_hidden, cfg.text_dropout, num_ws)

    @classmethod
    def build(cls, cfg) -> dict[str, nn.Module]:
        if cfg.stage == "stylegan":
            return {"G": cls.make_generator(cfg), "D": cls.make_discriminator(cfg)}
        frozen_gen = cls.make_generator(cfg).requires_grad_(False).eval()
        if cfg.stage == "encoder":
            nets = {"G": cls.make_encoder(cfg), "Gen": frozen_gen, "D": cls.make_discriminator(cfg)}
            if cfg.cycle:
                nets["D_latent"] = LatentDiscriminator(cfg.w_dim, cfg.latent_d_hidden, cfg.latent_d_layers)
            return nets
        nets = {"G": cls.make_text_encoder(cfg), "Enc": cls.make_encoder(cfg).requires_grad_(False).eval(),
                "Gen": frozen_gen}
        if cfg.invert_steps > 0:
            nets["Bank"] = CodeBank()
        return nets

    @classmethod
    def attach_pretrained(cls, nets: dict[str, nn.Module], cfg,
                          load_fn: Callable[[str], tuple[dict, dict]]) -> dict[str, nn.Module]:
        """Load the frozen nets of stages 2-3 from the earlier stages' checkpoints (strict) and freeze them.

        load_fn(path) -> (config dict, state dict). The config dict is the CI-GAN config or holds it under some
        key; the state dict is the shipped net's own (unprefixed = "G") or several nets' keys prefixed with
        "G." / "Gen." / "Enc.". Stage 2 reads generator_ckpt; stage 3 reads encoder_ckpt and takes the generator
        from it ("Gen." keys) or else from generator_ckpt (this config's, then the encoder checkpoint's)."""
        if cfg.stage == "stylegan":
            return nets

        def load(path, expect_stage, fields, what):
            if not path:
                raise ValueError(f"cigan stage {cfg.stage!r} needs {what} (a checkpoint of stage {expect_stage!r})")
            conf, sd = load_fn(path)
            conf = _config_dict(conf)
            if conf.get("stage") != expect_stage:
                raise ValueError(f"{path}: is a CI-GAN {conf.get('stage')!r} checkpoint, expected {expect_stage!r}")
            bad = [f"{f}={conf.get(f)!r} (config says {getattr(cfg, f)!r})" for f in fields
                   if f in conf and conf[f] != getattr(cfg, f)]
            if bad:
                raise ValueError(f"{path}: architecture does not match this config: {', '.join(bad)}; "
                                 f"derive the config with CIGAN.config_for_stage(<that config>, {cfg.stage!r})")
            return conf, _split_state(sd)

        gen, enc = _unwrap(nets["Gen"]), _unwrap(nets.get("Enc", nets["G"]))
        if cfg.stage == "encoder":
            _, parts = load(cfg.generator_ckpt, "stylegan", GEN_FIELDS, "generator_ckpt")
            gen.load_state_dict(parts["G"], strict=True)
            with torch.no_grad():
                enc.w_mean.copy_(gen.mapping.w_avg)  # E starts at the centre of W
        else:
            enc_conf, parts = load(cfg.encoder_ckpt, "encoder", ENC_FIELDS + GEN_FIELDS, "encoder_ckpt")
            enc.load_state_dict(parts["G"], strict=True)
            if "Gen" in parts:
                gen.load_state_dict(parts["Gen"], strict=True)
            else:
                _, gparts = load(cfg.generator_ckpt or enc_conf.get("generator_ckpt"), "stylegan", GEN_FIELDS,
                                 "generator_ckpt (the encoder checkpoint holds no generator)")
                gen.load_state_dict(gparts["G"], strict=True)
            enc.requires_grad_(False).eval()
            if "Bank" in nets:
                cls._fill_bank(_unwrap(nets["Bank"]), cfg)
        gen.requires_grad_(False).eval()
        return nets

    @staticmethod
    def _fill_bank(bank: CodeBank, cfg) -> None:
        """Load cfg.code_bank into `bank`, checking that it was built the way cfg.invert_* says."""
        if not cfg.code_bank:
            raise ValueError("cigan aligner with invert_steps > 0 needs code_bank (build it with: python -m t2i "
                             "cigan-codes --encoder <encoder_ckpt> --steps <invert_steps> --out <file>)")
        codes, indices, meta = read_code_bank(cfg.code_bank)
        want = {"steps": cfg.invert_steps, "lr": cfg.invert_lr, "wplus": cfg.wplus, "w_dim": cfg.w_dim,
                "img_size": cfg.img_size}
        bad = [f"{k}={meta.get(k)!r} (config {v!r})" for k, v in want.items() if meta.get(k) != v]
        if bad:
            raise ValueError(f"code bank {cfg.code_bank} does not match the config: {', '.join(bad)}")
        if len(codes) < 2:
            raise ValueError(f"code bank {cfg.code_bank} holds {len(codes)} codes; InfoNCE needs at least 2")
        bank.fill(codes, indices)

    # --- loss steps ---
    @classmethod
    def d_loss(cls, nets, ctx: StepContext):
        stage = ctx.cfg.stage
        if stage == "stylegan":
            return cls._stylegan_d(nets, ctx)
        if stage == "encoder":
            return cls._encoder_d(nets, ctx)
        # aligner: no discriminator (has_discriminator is False); a harmless zero for a generic loop
        return torch.zeros((), device=ctx.real.device, requires_grad=True), {}

    @classmethod
    def g_loss(cls, nets, ctx: StepContext):
        return {"stylegan": cls._stylegan_g, "encoder": cls._encoder_g, "aligner": cls._aligner_g}[ctx.cfg.stage](nets, ctx)

    @staticmethod
    def _d_real_fake(D: nn.Module, real: Tensor, fake: Tensor, gamma: float, ctx: StepContext):
        """Non-saturating logistic D loss + lazy R1 on real images (every r1_every steps, weight gamma/2 * interval)."""
        cfg = ctx.cfg
        do_r1 = gamma > 0 and ctx.step % cfg.r1_every == 0
        real = real.detach().requires_grad_(do_r1)
        real_logits, fake_logits = D(real), D(fake.detach())
        loss = nonsaturating_d(real_logits, fake_logits)
        logs = {"d_adv": loss.item(), "d_real": real_logits.mean().item(), "d_fake": fake_logits.mean().item()}
        if do_r1:
            r1 = r1_penalty(real_logits, real)
            loss = loss + (gamma / 2) * cfg.r1_every * r1
            logs["r1"] = r1.item()
        return loss, logs

    # stage 1: StyleGAN2
    @classmethod
    def _stylegan_d(cls, nets, ctx):
        cfg, real = ctx.cfg, ctx.real
        z = torch.randn(real.shape[0], cfg.z_dim, device=real.device)
        with torch.no_grad():
            fake = nets["G"](z, mix_prob=cfg.style_mixing)
        return cls._d_real_fake(nets["D"], real, fake, cfg.r1_gamma, ctx)

    @classmethod
    def _stylegan_g(cls, nets, ctx):
        cfg, real = ctx.cfg, ctx.real
        n = real.shape[0]
        z = torch.randn(n, cfg.z_dim, device=real.device)
        fake = nets["G"](z, mix_prob=cfg.style_mixing, update_w_avg=True)
        loss = nonsaturating_g(nets["D"](fake))
        logs = {"g_adv": loss.item()}
        if cfg.pl_weight > 0 and ctx.step % cfg.pl_every == 0:
            m = max(1, n // cfg.pl_batch_shrink)
            img, ws = nets["G"](z[:m], mix_prob=cfg.style_mixing, return_ws=True)
            G = _unwrap(nets["G"])
            pl, new_mean = path_length_penalty(img, ws, G.pl_mean, cfg.pl_decay)
            G.pl_mean.copy_(new_mean.detach())
            loss = loss + cfg.pl_weight * cfg.pl_every * pl
            logs.update(pl=pl.item(), pl_mean=G.pl_mean.item())
        return loss, logs

    # stage 2: inversion encoder
    @classmethod
    def _encoder_d(cls, nets, ctx):
        cfg, real = ctx.cfg, ctx.real
        E, gen = nets["G"], _unwrap(nets["Gen"])
        with torch.no_grad():
            rec = gen.synthesis(E(real), noise_mode="const")
        loss, logs = cls._d_real_fake(nets["D"], real, rec, cfg.enc_r1_gamma, ctx)
        if cfg.cycle:
            with torch.no_grad():
                w = gen.mapping(torch.randn(real.shape[0], cfg.z_dim, device=real.device))
                w_cyc = E(gen.synthesis(w, noise_mode="const"))
            ld = nonsaturating_d(nets["D_latent"](w), nets["D_latent"](w_cyc))
            loss = loss + ld
            logs["d_latent"] = ld.item()
        return loss, logs

    @classmethod
    def _encoder_g(cls, nets, ctx):
        cfg, real = ctx.cfg, ctx.real
        n = real.shape[0]
        E, gen = nets["G"], _unwrap(nets["Gen"])
        if cfg.cycle:  # one encoder pass over [real images; G(w)]
            with torch.no_grad():
                w = gen.mapping(torch.randn(n, cfg.z_dim, device=real.device))
                x_w = gen.synthesis(w, noise_mode="const")
            w_all = E(torch.cat([real, x_w]))
            w_inv, w_cyc = w_all[:n], w_all[n:]
        else:
            w_inv = E(real)
        rec = gen.synthesis(w_inv, noise_mode="const")  # gradients flow through the frozen G into E
        pix = F.mse_loss(rec, real)
        adv = nonsaturating_g(nets["D"](rec))
        loss = cfg.lam_pix * pix + cfg.lam_adv * adv
        logs = {"pix": pix.item(), "adv": adv.item(), "psnr": _psnr(rec.detach(), real)}
        if cfg.lam_per > 0:
            if ctx.perceptual is None:
                raise ValueError("cigan encoder stage with lam_per > 0 needs ctx.perceptual (t2i.losses.PerceptualLoss)")
            per = ctx.perceptual(rec, real)
            loss = loss + cfg.lam_per * per
            logs["per"] = per.item()
        if cfg.cycle:
            cyc = F.mse_loss(w_cyc, w)
            ladv = nonsaturating_g(nets["D_latent"](w_cyc))
            loss = loss + cfg.lam_cycle * cyc + cfg.lam_latent_adv * ladv
            logs.update(cycle=cyc.item(), latent_adv=ladv.item())
        return loss, logs

    # stage 3: text-latent alignment
    @classmethod
    def _aligner_g(cls, nets, ctx):
        if ctx.tokens is None or ctx.lengths is None:
            raise ValueError("cigan aligner stage needs ctx.tokens [N, L] and ctx.lengths [N]")
        if int(ctx.tokens.max()) >= ctx.cfg.vocab_size:
            raise ValueError(f"token id {int(ctx.tokens.max())} >= vocab_size {ctx.cfg.vocab_size}: set the cigan "
                             "config's vocab_size to the vocabulary's size")
        t = nets["G"](ctx.tokens, ctx.lengths)
        if "Bank" in nets:  # w'_i precomputed (refined inversions); rows the bank lacks sit out this step
            if ctx.indices is None:
                raise ValueError("cigan aligner with a code bank needs ctx.indices (the batch's dataset rows)")
            w_inv, ok = nets["Bank"](ctx.indices)
            if int(ok.sum()) < 2:
                return t.sum() * 0.0, {"bank_rows": int(ok.sum())}
            t, w_inv = t[ok], w_inv[ok]
        else:
            with torch.no_grad():
                w_inv = nets["Enc"](ctx.real)
        t, w_inv = t.flatten(1), w_inv.flatten(1)  # W+: one long code per image
        loss = infonce_l2(t, w_inv, ctx.cfg.infonce_tau)
        with torch.no_grad():
            d = torch.cdist(w_inv, t).pow(2)
            top1 = (d.argmin(dim=1) == torch.arange(len(t), device=t.device)).float().mean()
        return loss, {"infonce": loss.item(), "l2_pos": d.diagonal().mean().item(), "top1": top1.item(),
                      "pairs": len(t)}

    # --- shipping, inference and preview ---
    ROLES = {"G": None, "Gen": "stylegan", "Enc": "encoder"}  # role names of the nets for the pipeline
    STAGE_ROLE = {"stylegan": "stylegan", "encoder": "encoder", "aligner": "text"}  # role of nets["G"]

    @classmethod
    def ship_modules(cls, cfg, nets: dict[str, nn.Module], ema_g: nn.Module) -> dict[str, nn.Module]:
        """Components for t2i.checkpoint.save_model_folder: the EMA'd trained net as 'generator' plus the frozen
        nets inference needs ('Gen', 'Enc'), so that every stage's folder is self-contained."""
        return {"generator": ema_g, **{k: _unwrap(nets[k]) for k in cls.inference_keys(cfg)[1:]}}

    @classmethod
    def load_inference(cls, cfg, tensors: dict[str, Tensor],
                       load_fn: Callable[[str], tuple[dict, dict]] | None = None) -> dict[str, nn.Module]:
        """Inference nets by role — 'stylegan' (Generator), 'encoder' (Encoder), 'text' (TextEncoder), as far as
        the stage has them — strictly loaded from a model folder's tensors, frozen, in eval mode. Frozen nets the
        folder lacks (written without ship_modules) come from generator_ckpt / encoder_ckpt through load_fn."""
        keys = cls.inference_keys(cfg)
        built = cls.build(cfg)
        nets = {k: built[k] for k in keys}
        parts = _split_state(tensors)
        nets["G"].load_state_dict(parts["G"], strict=True)
        if all(k in parts for k in keys[1:]):
            for k in keys[1:]:
                nets[k].load_state_dict(parts[k], strict=True)
        elif load_fn is None:
            raise ValueError(f"this cigan {cfg.stage!r} checkpoint lacks {[k for k in keys[1:] if k not in parts]}; "
                             "pass load_fn to read them from generator_ckpt / encoder_ckpt")
        else:
            cls.attach_pretrained(nets, cfg, load_fn)
        return {(cls.STAGE_ROLE[cfg.stage] if k == "G" else cls.ROLES[k]): nets[k].requires_grad_(False).eval()
                for k in keys}

    @classmethod
    @torch.no_grad()
    def preview(cls, G: nn.Module, ctx: StepContext, nets: dict[str, nn.Module] | None = None) -> Tensor:
        """Sample-grid images: stage 1 G(z); stage 2 reconstructions G(E(x)) of ctx.real; stage 3 text-to-image
        from ctx.tokens. Stages 2-3 need the frozen generator: pass nets (the trainer's dict); without it the
        real images come back unchanged."""
        cfg, real = ctx.cfg, ctx.real
        if cfg.stage == "stylegan":
            return G(torch.randn(len(real), cfg.z_dim, device=real.device), noise_mode="const").clamp(-1, 1)
        if nets is None:
            return real
        gen = _unwrap(nets["Gen"])
        if cfg.stage == "encoder":
            return gen.synthesis(G(real), noise_mode="const").clamp(-1, 1)
        _, img = generate_from_text(gen, None, G(ctx.tokens, ctx.lengths))
        return img.clamp(-1, 1)


# --- inference: inversion and text-guided optimisation ---------------------------------------------------------
def _synth(G, noise_mode: str = "const") -> Callable[[Tensor], Tensor]:
    """w -> image from a Generator, a SynthesisNetwork, or any callable."""
    g = _unwrap(G)
    if isinstance(g, Generator):
        return lambda w: g.synthesis(w, noise_mode=noise_mode)
    if isinstance(g, SynthesisNetwork):
        return lambda w: g(w, noise_mode=noise_mode)
    return G


def text_guided_optimise(G, w_init: Tensor, t: Tensor, steps: int = 100, lr: float = 0.01, lam_per: float = 0.0,
                         x_ref: Tensor | None = None, perceptual: Callable | None = None, progress=None,
                         lam_pix: float = 0.0, noise_mode: str = "const",
                         image_loss: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """CI-GAN eq. 9: minimise ||w - t||^2 + lam_per * perceptual(G(w), x_ref) [+ lam_pix * MSE(G(w), x_ref)]
    over w with Adam, starting at w_init; returns (w, G(w)) detached.

    G:        a Generator / SynthesisNetwork (synthesised with `noise_mode`) or any callable w -> image.
    w_init:   [N, w_dim] (W) or [N, num_ws, w_dim] (W+); t: [N, w_dim] text features (broadcast over layers).
    steps, lr: Adam moves each coordinate by at most about lr per step, so a coordinate travels at most about
              steps * lr towards t; ||w - t||^2 alone has its optimum at w = t (all of w_init forgotten), so the
              number of steps is what keeps the random start's diversity (generation) or the source image
              (editing). ||w - t||^2 is summed over w dims (about 2 * w_dim between unrelated codes), the
              perceptual term of t2i.losses.PerceptualLoss is ~30-100 between unrelated images.
    lam_per / x_ref / perceptual: the paper's preservation term for editing (x_ref = the source image).
    lam_pix:  an extra pixel-MSE preservation term (ours, default off; useful when the perceptual net is weak
              at low resolution).
    image_loss: an optional further term on G(w) (ours: t2i.edit's DAMSM guidance).
    progress: called as progress(i, steps) after step i = 1..steps (e.g. a Gradio progress bar).
    Safe under torch.no_grad()/inference_mode(); G's parameters receive no .grad.
    """
    t = t.detach().clone()
    if w_init.dim() == 3 and t.dim() == 2:
        t = t.unsqueeze(1)
    return optimise_latent(G, w_init, lambda w: (w - t).pow(2).sum(dim=-1).mean(), steps=steps, lr=lr,
                           lam_per=lam_per, x_ref=x_ref, perceptual=perceptual, progress=progress, lam_pix=lam_pix,
                           noise_mode=noise_mode, image_loss=image_loss)


def optimise_latent(G, w_init: Tensor, text_loss: Callable[[Tensor], Tensor], steps: int, lr: float,
                    lam_per: float = 0.0, x_ref: Tensor | None = None, perceptual: Callable | None = None,
                    progress=None, lam_pix: float = 0.0, noise_mode: str = "const",
                    image_loss: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """The optimisation loop of the text-guided edits: Adam on w for `steps` steps of
    text_loss(w) + lam_per * perceptual(G(w), x_ref) + lam_pix * MSE(G(w), x_ref) [+ image_loss(G(w))];
    returns (w, G(w)) detached. text_loss is ||w - t||^2 (text_guided_optimise) or the contrastive score of
    t2i.edit.optimise_contrastive; image_loss is any further term on the image (t2i.edit's DAMSM guidance)."""
    needs_image = lam_per > 0 or lam_pix > 0 or image_loss is not None
    if (lam_per > 0 or lam_pix > 0) and x_ref is None:
        raise ValueError("lam_per/lam_pix > 0 need x_ref (the image to preserve)")
    if lam_per > 0 and perceptual is None:
        raise ValueError("lam_per > 0 needs a perceptual loss (t2i.losses.PerceptualLoss)")
    synth = _synth(G, noise_mode)
    with torch.inference_mode(False), torch.enable_grad():
        w = w_init.detach().clone().requires_grad_(True)
        x_ref = None if x_ref is None else x_ref.detach().clone()
        opt = torch.optim.Adam([w], lr=lr)
        for i in range(steps):
            loss = text_loss(w)
            if needs_image:
                img = synth(w)
                if lam_per > 0:
                    loss = loss + lam_per * perceptual(img, x_ref)
                if lam_pix > 0:
                    loss = loss + lam_pix * F.mse_loss(img, x_ref)
                if image_loss is not None:
                    loss = loss + image_loss(img)
            (w.grad,) = torch.autograd.grad(loss, [w])
            opt.step()
            w.grad = None
            if progress is not None:
                progress(i + 1, steps)
        with torch.no_grad():
            img = synth(w)
    return w.detach(), img.detach()


@torch.no_grad()
def _encode(E, x: Tensor) -> Tensor:
    return E(x)


def invert(E, G, x: Tensor, steps: int = 0, lr: float = 0.01, lam_per: float = 0.0, perceptual: Callable | None = None,
           lam_enc: float = 2.0, progress=None, noise_mode: str = "const", wplus: bool = False) -> Tensor:
    """w = E(x) for images x [N, 3, S, S] in [-1, 1]. With steps > 0 the code is refined by In-Domain inversion's
    domain-regularised optimisation: min_w ||x - G(w)||^2 + lam_per * perceptual(G(w), x) + lam_enc * ||w - E(G(w))||^2
    (E and G frozen; G may be None when steps == 0). wplus=True refines one code per synthesis layer (W+, as
    In-Domain inversion does for StyleGAN; E(G(w)) regularises every layer's code). Returns w [N, w_dim] (W) or
    [N, num_ws, w_dim] (W+, steps > 0 only) detached."""
    w0 = _encode(E, x)
    if steps <= 0:
        return w0
    if lam_per > 0 and perceptual is None:
        raise ValueError("lam_per > 0 needs a perceptual loss")
    synth = _synth(G, noise_mode)
    with torch.inference_mode(False), torch.enable_grad():
        w = (w0.unsqueeze(1).repeat(1, _unwrap(G).synthesis.num_ws, 1) if wplus else w0).clone().requires_grad_(True)
        x = x.detach().clone()
        opt = torch.optim.Adam([w], lr=lr)
        for i in range(steps):
            img = synth(w)
            loss = F.mse_loss(img, x)
            if lam_enc > 0:
                e = E(img)
                loss = loss + lam_enc * F.mse_loss(e.unsqueeze(1).expand_as(w) if wplus else e, w)
            if lam_per > 0:
                loss = loss + lam_per * perceptual(img, x)
            (w.grad,) = torch.autograd.grad(loss, [w])
            opt.step()
            w.grad = None
            if progress is not None:
                progress(i + 1, steps)
    return w.detach()


def generate_from_text(G, mapping: nn.Module | None, t: Tensor, steps: int = 100, lr: float = 0.01, psi: float = 0.7,
                       generator: torch.Generator | None = None, progress=None,
                       noise_mode: str = "const") -> tuple[Tensor, Tensor]:
    """Text-to-image: w0 = mapping(z) (z ~ N(0, I), truncation psi towards w_avg), then optimise towards t
    (perceptual term off, as in the paper). t [N, w_dim] -> (w [N, w_dim], image [N, 3, S, S]).
    mapping=None takes G.mapping; `generator` seeds z (a CPU generator works for any device)."""
    mapping = mapping if mapping is not None else _unwrap(G).mapping
    mapping = _unwrap(mapping)
    z = torch.randn(t.shape[0], mapping.z_dim, generator=generator,
                    device=generator.device if generator is not None else t.device).to(t.device)
    with torch.no_grad():
        w0 = mapping(z, psi=psi)
    if t.dim() == 3:  # W+ text features: the random start repeated over the layers
        w0 = w0.unsqueeze(1).repeat(1, t.shape[1], 1)
    return text_guided_optimise(G, w0, t, steps=steps, lr=lr, progress=progress, noise_mode=noise_mode)
