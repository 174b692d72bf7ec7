"""The registered CI-GAN family: building each stage's nets, attaching the frozen earlier stages, checkpoint
splitting, the three stages' losses, shipping and loading for inference, previews."""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2i.losses import infonce_l2, nonsaturating_d, nonsaturating_g, path_length_penalty, r1_penalty
from t2i.models.cigan.config import ENC_FIELDS, GEN_FIELDS, CIGANConfig
from t2i.models.cigan.inference import generate_from_text
from t2i.models.cigan.networks import CodeBank, Encoder, LatentDiscriminator, LatentTextEncoder, _unwrap, read_code_bank
from t2i.models.registry import Family, StepContext, register
from t2i.models.stylegan2 import Discriminator, Generator, _log2_size


# --- helpers ---------------------------------------------------------------------------------------------------
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
    def quick_eval_kind(cls, cfg) -> str | None:
        return "fid" if cfg.stage == "stylegan" else None  # stage 1 is unconditional: FID picks its checkpoints

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
    def make_text_encoder(cfg) -> LatentTextEncoder:
        num_ws = 2 * _log2_size(cfg.img_size) - 2 if cfg.wplus else 0
        return LatentTextEncoder(cfg.vocab_size, cfg.w_dim, cfg.text_embed_dim, cfg.text_hidden, cfg.text_dropout,
                                 num_ws)

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
        if ctx.reuse_fake:  # one G forward per step (StepContext.reuse_fake): the G step reads these fakes
            ctx.shared["g_fake"] = fake = nets["G"](z, mix_prob=cfg.style_mixing, update_w_avg=True)
        else:
            with torch.no_grad():
                fake = nets["G"](z, mix_prob=cfg.style_mixing)
        return cls._d_real_fake(nets["D"], real, fake, cfg.r1_gamma, ctx)

    @classmethod
    def _stylegan_g(cls, nets, ctx):
        cfg, real = ctx.cfg, ctx.real
        n = real.shape[0]
        z = torch.randn(n, cfg.z_dim, device=real.device)
        fake = ctx.shared.pop("g_fake", None)
        fake = nets["G"](z, mix_prob=cfg.style_mixing, update_w_avg=True) if fake is None else fake
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
    ROLES = {"G": None, "Gen": "stylegan", "Enc": "encoder"}  # role names of the nets for the pipeline (load_cigan)
    STAGE_ROLE = {"stylegan": "stylegan", "encoder": "encoder", "aligner": "text"}  # role of nets["G"]

    @classmethod
    def ship_modules(cls, cfg, nets: dict[str, nn.Module], ema_g: nn.Module) -> dict[str, nn.Module]:
        """Components for t2i.checkpoint.save_model_folder: the EMA'd trained net as 'generator' plus the frozen
        nets inference needs ('Gen', 'Enc'), so that every stage's folder is self-contained."""
        return {"generator": ema_g, **{k: _unwrap(nets[k]) for k in cls.inference_keys(cfg)[1:]}}

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
