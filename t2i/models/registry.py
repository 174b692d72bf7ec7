"""Model registry: every family registers itself by name (@register("dfgan")) so that the trainer,
the evaluator, the pipeline and the app can take any model by name."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor, nn

_REGISTRY: dict[str, type["Family"]] = {}


def register(name: str):
    """Class decorator: register a Family subclass under `name`."""

    def deco(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model family {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _import_all() -> None:
    import t2i.models  # noqa: F401  (importing the package registers every family)


def get_family(name: str) -> type["Family"]:
    _import_all()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model type {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def list_families() -> list[str]:
    _import_all()
    return sorted(_REGISTRY)


@dataclass
class StepContext:
    """One training batch as the per-family loss steps see it.

    real:      [N, 3, H, W] real images in [-1, 1] at the final resolution.
    sent:      [N, D] sentence features (frozen DAMSM text encoder); words [N, D, L]; word_mask [N, L] (True = pad).
    damsm:     the frozen DAMSM encoders (t2i.text.damsm.DAMSM) for the DAMSM loss, or None.
    perceptual: a frozen perceptual feature extractor (t2i.losses.PerceptualLoss) when the family needs one.
    step:      global training step.
    reuse_fake: one generator forward per step, as DF-GAN's and AttnGAN's code do: d_loss runs G with autograd on,
               puts its GenOutput in shared["g_out"] and g_loss takes it from there (else each step draws its own).
    class_ids: [N] class labels (DAMSM loss: same-class pairs are not negatives); tokens/lengths: raw captions.
    """

    real: Tensor
    sent: Tensor | None
    words: Tensor | None
    word_mask: Tensor | None
    cfg: object
    damsm: object | None = None
    perceptual: object | None = None
    step: int = 0
    class_ids: Tensor | None = None
    tokens: Tensor | None = None  # [N, L] caption token ids (for families with their own text encoder)
    lengths: Tensor | None = None  # [N] caption lengths
    indices: Tensor | None = None  # [N] dataset rows of the images (for per-image precomputed targets)
    reuse_fake: bool = False  # the D step's generator forward (kept with its graph) also serves the G step
    shared: dict = field(default_factory=dict)  # per-step scratch between the D and G steps ("g_out")


def check_types(config_cls, d: dict, what: str) -> dict:
    """The values of `d` checked against the dataclass's annotations (int, float, bool, str, tuples, optionals):
    a wrong type is a ValueError naming the key; whole floats become ints; nothing else is converted."""
    import math
    import typing

    hints = typing.get_type_hints(config_cls)
    out = dict(d)
    for k, v in d.items():
        hint = hints.get(k)
        args = typing.get_args(hint)
        optional = type(None) in args
        base = next((a for a in args if a is not type(None)), hint) if optional else hint
        if v is None and optional:
            continue
        origin = typing.get_origin(base) or base
        bad = f"{what}: config key {k!r} must be {getattr(origin, '__name__', origin)}, got {v!r}"
        if origin is bool:
            if not isinstance(v, bool):
                raise ValueError(bad)
        elif origin is int:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
                raise ValueError(bad)
            out[k] = int(v)
        elif origin is float:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(bad)
        elif origin is str:
            if not isinstance(v, str):
                raise ValueError(bad)
        elif origin in (tuple, list):
            if not isinstance(v, (list, tuple)):
                raise ValueError(bad)
    return out


# model config fields older versions wrote and that never did anything: checkpoints and snapshots that hold them still
# load (config_from_dict drops them); a run config that sets one is refused with the reason (load_run_config)
RETIRED_FIELDS = {"batch_size": "the batch size is train.batch_size; the trainer never read the model's"}


class Family:
    """A model family: its config dataclass, how to build its networks and its two loss steps.

    Subclasses set `Config` (a dataclass) and implement `build`, `d_loss`, `g_loss`.
    Networks are returned in a dict: "G" is the generator (EMA'd and shipped); keys starting with "D" are
    trained by the discriminator optimiser; anything else listed in `g_keys` by the generator optimiser.
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    text_conditional: ClassVar[bool] = True
    g_keys: ClassVar[tuple[str, ...]] = ("G",)
    needs_perceptual: ClassVar[bool] = False
    runtime_fields: ClassVar[tuple[str, ...]] = ()  # config fields that change how, not what, is computed
    source_fields: ClassVar[tuple[str, ...]] = ()  # config fields naming frozen pretrained inputs (a warm start may swap them)
    d_choice_g_keys: ClassVar[tuple[str, ...]] = ()  # G parameters a discriminator choice adds (new on a warm start)

    @classmethod
    def config_from_dict(cls, d: dict):
        """Rebuild the typed config; unknown keys are an error, retired ones (RETIRED_FIELDS) are dropped."""
        names = {f.name for f in dataclasses.fields(cls.Config)}
        d = {k: v for k, v in d.items() if k not in RETIRED_FIELDS}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"{cls.name}: unknown config keys {sorted(unknown)}; allowed: {sorted(names)}")
        return cls.Config(**check_types(cls.Config, d, cls.name))

    @classmethod
    def build(cls, cfg) -> dict[str, nn.Module]:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def build_generator(cls, cfg) -> nn.Module:
        """Only what inference needs (the default builds everything and keeps G)."""
        return cls.build(cfg)["G"]

    @classmethod
    def quick_eval_kind(cls, cfg) -> str | None:
        """Which quick eval the trainer runs every train.eval_every steps: "t2i" (PartAcc / AttrAcc of captions),
        "fid" (FID of unconditional samples), or None (no quick eval for this config)."""
        return "t2i" if cls.text_conditional else None

    @classmethod
    def uses_damsm(cls, cfg) -> bool:
        """Does training read DAMSM sentence/word features (and ship the DAMSM text encoder)?"""
        return cls.text_conditional

    @classmethod
    def uses_perceptual(cls, cfg) -> bool:
        """Does this config's loss use the frozen perceptual network (ctx.perceptual)?"""
        return cls.needs_perceptual

    @classmethod
    def ship_modules(cls, cfg, nets: dict[str, nn.Module], ema_g: nn.Module) -> dict[str, nn.Module]:
        """The components written to model.safetensors besides the text encoder: the EMA generator."""
        return {"generator": ema_g}

    @classmethod
    def preview(cls, G: nn.Module, ctx: StepContext, nets: dict[str, nn.Module] | None = None) -> Tensor:
        """Images for the trainer's sample grid from the (EMA) generator, one per caption in ctx."""
        z = torch.randn(len(ctx.real), ctx.cfg.z_dim, device=ctx.real.device)
        return G(z, ctx.sent, ctx.words, ctx.word_mask).images[-1]

    @classmethod
    def d_loss(cls, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, dict[str, float]]:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def g_loss(cls, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, dict[str, float]]:  # pragma: no cover
        raise NotImplementedError
