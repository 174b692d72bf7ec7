"""T2I Studio: GAN text-to-image synthesis and text-guided editing of birds.

Public API (the app and the CLI use these names; each is imported on first use, so `import t2i` stays cheap):
    list_models()                          the shipped model folders and their config records
    load_pipeline(name, device="cpu", size=None)   the right pipeline for a model folder, shipped name or Hub id
                                           (size=256: images through the shared 4x upsampler, t2i.upsampling)
    TextToImagePipeline, EditPipeline      both called as pipe(captions, seed=0, n=1, ...) -> GenerationResult
    GenerationResult                       images (+ stages, masks, word attention, the words read)
    EditConfig                             the settings of a text-guided edit (EditConfig.masked(), .paper(), ...)
    __version__
"""
from t2i.version import __version__

_PUBLIC = {"list_models": "t2i.pipeline", "TextToImagePipeline": "t2i.pipeline", "GenerationResult": "t2i.pipeline",
           "EditPipeline": "t2i.edit", "EditConfig": "t2i.edit_config"}
__all__ = ["EditConfig", "EditPipeline", "GenerationResult", "TextToImagePipeline", "__version__", "list_models",
           "load_pipeline"]


def load_pipeline(name, device="cpu", size=None, upsampler=None, t2i_mode=None):
    """The right pipeline for a model folder (local, shipped name or Hub id): CI-GAN's EditPipeline for a CI-GAN
    folder, else the TextToImagePipeline of a text-to-image GAN. Both are called the same way (t2i.pipeline.Pipeline):
    pipe(captions, seed=0, n=1) -> GenerationResult. size: the default output side (None / 64: the model's own
    images; 256: through the shared 4x upsampler, which is then loaded at once, the 64 px kept in result.originals);
    upsampler: its folder (None: checkpoints/upsampler-synthbirds-256) or an Upsampler. t2i_mode: CI-GAN's
    text-to-image, "retrieve-auto" (ours, the default with a code bank), "retrieve", "retrieve-edit" or "paper"
    (t2i.edit.EditPipeline.from_pretrained);
    ValueError for another model."""
    from t2i import checkpoint as ckpt

    kw = {k: v for k, v in (("size", size), ("upsampler", upsampler)) if v is not None}  # the 64 px call unchanged
    if ckpt.read_config(name)["model_type"] == "cigan":
        from t2i.edit import EditPipeline

        mode = {"t2i_mode": t2i_mode} if t2i_mode is not None else {}
        return EditPipeline.from_pretrained(name, device=device, **mode, **kw)
    if t2i_mode is not None:
        raise ValueError(f"t2i_mode is a CI-GAN setting; {name} is a text-to-image GAN")
    from t2i.pipeline import TextToImagePipeline

    return TextToImagePipeline.from_pretrained(name, device=device, **kw)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 't2i' has no attribute {name!r}")
    if _PUBLIC[name] == "t2i.pipeline":
        from t2i import pipeline as module
    elif _PUBLIC[name] == "t2i.edit":
        from t2i import edit as module
    else:
        from t2i import edit_config as module
    value = getattr(module, name)
    globals()[name] = value  # imported once
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
