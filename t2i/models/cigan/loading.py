"""Loading a CI-GAN model folder: its record, config and inference nets by role, with one error style."""
from __future__ import annotations

from pathlib import Path

from t2i import checkpoint as ckpt
from t2i.models.cigan.family import CIGAN


def _load_fn(p):
    return ckpt.read_config(p), ckpt.read_weights(p)


def _check_size(name, cfg) -> None:
    """Build the nets on the meta device first: a config asking for a huge network is refused before any memory
    is allocated (checkpoint.MAX_PARAMETERS per network)."""
    import torch

    try:
        with torch.device("meta"):
            nets = CIGAN.build(cfg)
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as e:
        raise ckpt.CheckpointError(f"{name}: CI-GAN cannot be built from its config: {e}") from None
    for key, net in nets.items():
        ckpt.checked_shapes(name, f"CI-GAN network {key!r}", net)


def load_cigan(name, device="cpu", need_stage: str | tuple[str, ...] | None = None):
    """(record, config, nets by role) of a CI-GAN folder: roles 'stylegan', 'encoder', 'text' as far as the stage
    has them (CIGAN.load_inference). CheckpointError for other folders, or a stage not in `need_stage`."""
    record = ckpt.read_config(name)
    if record["model_type"] != "cigan":
        raise ckpt.CheckpointError(f"{name} holds a {record['model_type']!r} model, not a CI-GAN (cigan) checkpoint")
    try:
        cfg = CIGAN.config_from_dict(record["config"])
    except (TypeError, ValueError, KeyError) as e:
        raise ckpt.CheckpointError(f"{name}: config does not match this version of t2i: {e}") from None
    if need_stage is not None:
        need = (need_stage,) if isinstance(need_stage, str) else tuple(need_stage)
        if cfg.stage not in need:
            what = {"stylegan": "the stage-1 StyleGAN2 (no encoder, no text encoder)",
                    "encoder": "the stage-2 inversion encoder (no text encoder)",
                    "aligner": "the stage-3 text aligner"}[cfg.stage]
            raise ckpt.CheckpointError(f"{name} is a CI-GAN {cfg.stage!r}-stage folder ({what}); this needs a "
                                       f"{' or '.join(repr(s) for s in need)}-stage folder"
                                       + (" (train stage 3: model.stage='aligner')" if "aligner" in need else ""))
    _check_size(Path(str(name)).name, cfg)
    tensors = ckpt.read_weights(name)
    try:
        nets = CIGAN.load_inference(cfg, tensors, load_fn=_load_fn)
    except (RuntimeError, KeyError, ValueError) as e:
        if isinstance(e, ckpt.CheckpointError):
            raise
        raise ckpt.CheckpointError(f"{name}: weights do not match the config: {str(e)[:500]}") from None
    return record, cfg, {k: v.to(device) for k, v in nets.items()}
