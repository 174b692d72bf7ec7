"""The studio's logic, independent of Gradio: model discovery and cache, generate-and-package, look inside,
compare, edit, latent-space figures and model cards. app.py only wires these to components.

    studio = Studio()                                   # models from $T2I_CHECKPOINTS (default checkpoints/)
    gen = studio.generate("a small bird with a red belly and black wings", "swfgan-synthbirds-64", seed=0, n=4)
    gen.gallery, gen.grid_path, gen.info               # display images, downloadable PNG grid, a Markdown line
    inside = studio.look_inside(caption, model, seed=0, n=4, index=0)   # stages, masks, word attention, CAM

Everything a user can get wrong raises `StudioError` (or CaptionError / ImageInputError, all ValueErrors) with a
message meant to be shown as is. Pipelines are loaded once, lazily, under a lock, and shared by all users.

Modules: catalogue.py (model discovery, ModelEntry, family and metric labels, examples), sheets.py (PIL drawing),
results.py (what the tabs return), errors.py (StudioError, user messages), service.py (the Studio: models, pipelines,
cache, checks) with the tabs' logic in generate.py (Generate, Look inside, Compare) and editing.py (Edit, Latent
space, model cards). Everything is importable from `t2i.studio`.
"""
from t2i.studio.catalogue import (DEFAULT_ORDER, EXAMPLES_DIR, FAMILY_INFO, KIND_ORDER, METRIC_LABELS, PICKER_METRICS,
                                  ModelEntry, checkpoints_root, discover_models, example_images, hub_model_ids,
                                  model_kind, read_prompts)
from t2i.studio.editing import EDIT_GUIDANCE, EDIT_UNAVAILABLE, MAX_EDIT_STEPS, TSNE_FILES, UPLOAD_WORK_SIDE, EditTabs
from t2i.studio.errors import StudioError, parse_flag, user_message
from t2i.studio.generate import GenerateTabs
from t2i.studio.results import Comparison, EditOutput, Generation, Inside, vocab_notes
from t2i.studio.service import BEST_OF, CAM_UNAVAILABLE, CLASSIFIER_NAME, MAX_IMAGES, Studio
from t2i.studio.sessions import NewestRequest
from t2i.studio.sheets import (DISPLAY_SIDE, difference_map, font, labelled_grid, stack_sheets, upscale,
                               word_attention_sheet)

__all__ = ["BEST_OF", "CAM_UNAVAILABLE", "CLASSIFIER_NAME", "DEFAULT_ORDER", "DISPLAY_SIDE", "EDIT_GUIDANCE",
           "EDIT_UNAVAILABLE", "EXAMPLES_DIR", "FAMILY_INFO", "KIND_ORDER", "MAX_EDIT_STEPS", "MAX_IMAGES",
           "METRIC_LABELS", "PICKER_METRICS", "TSNE_FILES", "UPLOAD_WORK_SIDE", "Comparison", "EditOutput", "EditTabs",
           "GenerateTabs", "Generation", "Inside", "ModelEntry", "NewestRequest", "Studio", "StudioError",
           "checkpoints_root", "difference_map", "discover_models", "example_images", "font", "hub_model_ids",
           "labelled_grid", "model_kind", "parse_flag", "read_prompts", "stack_sheets", "upscale", "user_message",
           "vocab_notes", "word_attention_sheet"]
