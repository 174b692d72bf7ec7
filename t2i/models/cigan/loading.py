"""Loading a CI-GAN model folder through t2i.checkpoint.load_folder: its record, config and inference nets by role."""
from __future__ import annotations

from pathlib import Path

from t2i import checkpoint as ckpt
from t2i.models.cigan.family import CIGAN


def _load_fn(p):
    return ckpt.read_config(p), ckpt.read_weights(p)


STAGE_WHAT = {"stylegan": "the stage-1 StyleGAN2 (no encoder, no text encoder)",
              "encoder": "the stage-2 inversion encoder (no text encoder)",
              "aligner": "the stage-3 text aligner"}


def load_cigan(name, device="cpu", need_stage: str | tuple[str, ...] | None = None):
    """(record, config, nets by role) of a CI-GAN folder: roles 'stylegan', 'encoder', 'text' as far as the stage
    has them (CIGAN.ROLES, STAGE_ROLE). CheckpointError for other folders, or a stage not in `need_stage`. A folder
    written without its frozen nets ('Gen', 'Enc') takes them from generator_ckpt / encoder_ckpt."""
    label = Path(str(name)).name

    def networks(cfg, record):
        """The builders of the folder's networks (after the stage check): its stage's net as 'generator', and the
        frozen 'Gen' / 'Enc' it holds."""
        if need_stage is not None:
            need = (need_stage,) if isinstance(need_stage, str) else tuple(need_stage)
            if cfg.stage not in need:
                raise ckpt.CheckpointError(f"{label} is a CI-GAN {cfg.stage!r}-stage folder ({STAGE_WHAT[cfg.stage]});"
                                           f" this needs a {' or '.join(repr(s) for s in need)}-stage folder"
                                           + (" (train stage 3: model.stage='aligner')" if "aligner" in need else ""))
        make = {"generator": {"stylegan": CIGAN.make_generator, "encoder": CIGAN.make_encoder,
                              "aligner": CIGAN.make_text_encoder}[cfg.stage],
                "Gen": CIGAN.make_generator, "Enc": CIGAN.make_encoder}
        frozen = CIGAN.inference_keys(cfg)[1:]
        keys = ["generator"] + (list(frozen) if all(k in record["components"] for k in frozen) else [])
        return {k: (lambda f=make[k]: f(cfg)) for k in keys}

    got = ckpt.load_folder(name, "cigan", lambda rec: CIGAN.config_from_dict(rec["config"]), networks, device,
                           what="a CI-GAN (cigan) checkpoint")
    cfg, nets = got.config, {("G" if k == "generator" else k): m for k, m in got.modules.items()}
    frozen = CIGAN.inference_keys(cfg)[1:]
    if frozen and frozen[0] not in nets:  # a folder without its frozen nets: they come from the earlier stages'
        nets.update({k: (CIGAN.make_generator if k == "Gen" else CIGAN.make_encoder)(cfg) for k in frozen})
        try:
            CIGAN.attach_pretrained(nets, cfg, _load_fn)
        except (RuntimeError, KeyError, ValueError) as e:
            if isinstance(e, ckpt.CheckpointError):
                raise
            raise ckpt.CheckpointError(f"{label}: its earlier stages do not match the config: {str(e)[:500]}") from None
    roles = {(CIGAN.STAGE_ROLE[cfg.stage] if k == "G" else CIGAN.ROLES[k]): m for k, m in nets.items()}
    return got.record, cfg, {k: v.to(device).eval().requires_grad_(False) for k, v in roles.items()}
