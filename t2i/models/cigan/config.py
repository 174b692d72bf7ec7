"""CI-GAN's configuration: the stages, their optimiser defaults, the architecture fields and CIGANConfig."""
from __future__ import annotations

from dataclasses import dataclass

from t2i.models.stylegan2 import _log2_size

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
