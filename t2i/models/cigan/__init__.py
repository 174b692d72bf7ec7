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
                    nets = {"G": LatentTextEncoder (trained), "Enc": frozen Encoder, "Gen": frozen Generator}

Inference (text-guided optimisation, section 3.4 of the paper): start from w0 = mapping(z) (generation) or
w0 = E(x) (editing) and minimise ||w - t||^2 (+ lam_per * perceptual(G(w), x) for editing) with Adam on w:
`generate_from_text`, `invert`, `text_guided_optimise` (inference.py).

Frozen nets come from the previous stage's checkpoint (Config.generator_ckpt / encoder_ckpt) through
`CIGAN.attach_pretrained(nets, cfg, load_fn)`; they have requires_grad=False and are not in g_keys.
Noise inputs of the frozen generator are 'const' (the stored noise maps) in stages 2-3 and at inference,
so that G(w) is a deterministic function of w.

Modules: config (CIGANConfig, stages), networks (Encoder, LatentDiscriminator, LatentTextEncoder, CodeBank,
read_code_bank), family (the registered CIGAN family), inference (invert, text_guided_optimise, optimise_latent,
generate_from_text; contrast_texts, the colour-swapped alternatives the edits' DAMSM guidance contrasts with),
loading (load_cigan: a model folder's nets by role). Every name is importable from t2i.models.cigan; importing it registers the family.
"""
from t2i.models.cigan.config import ENC_FIELDS, GEN_FIELDS, STAGE_OPTIM, STAGES, CIGANConfig
from t2i.models.cigan.family import CIGAN, _config_dict, _psnr, _split_state  # noqa: F401 - registers "cigan"
from t2i.models.cigan.inference import (COLOUR_SYNONYMS, _encode, _synth, contrast_texts,  # noqa: F401
                                        generate_from_text, invert, optimise_latent, text_guided_optimise)
from t2i.models.cigan.loading import _load_fn, load_cigan  # noqa: F401
from t2i.models.cigan.networks import (CodeBank, Encoder, EncoderBlock, LatentDiscriminator,  # noqa: F401
                                       LatentTextEncoder, _unwrap, read_code_bank)

__all__ = ["CIGAN", "CIGANConfig", "COLOUR_SYNONYMS", "CodeBank", "ENC_FIELDS", "Encoder", "EncoderBlock",
           "GEN_FIELDS", "LatentDiscriminator", "STAGES", "STAGE_OPTIM", "LatentTextEncoder", "contrast_texts",
           "generate_from_text", "invert", "load_cigan", "optimise_latent", "read_code_bank",
           "text_guided_optimise"]
