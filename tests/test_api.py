"""The public API: `from t2i import ...` gives the real objects, and `import t2i` alone imports no model code."""
import subprocess
import sys
from pathlib import Path

import pytest

import t2i

PUBLIC = ["EditConfig", "EditPipeline", "GenerationResult", "TextToImagePipeline", "__version__", "list_models",
          "load_pipeline"]


def test_import_t2i_is_cheap():
    code = ("import sys, t2i; loaded = [m for m in ('torch', 't2i.pipeline', 't2i.edit') if m in sys.modules]; "
            "assert not loaded, loaded; print(t2i.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(t2i.__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == t2i.__version__


def test_public_names_are_the_real_objects():
    from t2i import (EditConfig, EditPipeline, GenerationResult, TextToImagePipeline, __version__,  # noqa: F401
                     list_models, load_pipeline)
    from t2i import edit, edit_config, pipeline, version

    assert sorted(t2i.__all__) == PUBLIC and set(PUBLIC) <= set(dir(t2i))
    assert list_models is pipeline.list_models and callable(load_pipeline)
    assert TextToImagePipeline is pipeline.TextToImagePipeline and GenerationResult is pipeline.GenerationResult
    assert EditPipeline is edit.EditPipeline and EditConfig is edit_config.EditConfig
    assert __version__ == version.__version__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        t2i.nope  # noqa: B018
    assert {m["name"] for m in list_models()} >= {"dfgan-synthbirds-64", "cigan-synthbirds-64"}


def test_both_pipelines_share_one_call_shape():
    """TextToImagePipeline and EditPipeline take pipe(captions, seed, n, truncation) -> GenerationResult, with the
    defaults of t2i.pipeline.Pipeline (the studio calls either the same way)."""
    import inspect

    from t2i import EditPipeline, GenerationResult, TextToImagePipeline
    from t2i.pipeline import Pipeline

    shape = inspect.signature(Pipeline.__call__).parameters
    positional = [k for k, p in shape.items() if p.kind == p.POSITIONAL_OR_KEYWORD]
    for cls in (TextToImagePipeline, EditPipeline):
        params = inspect.signature(cls.__call__).parameters
        assert list(params)[:len(positional)] == positional, cls  # self, captions, seed, n, truncation
        assert all(k in params and params[k].default == shape[k].default for k in shape), cls  # + seeds=None
        assert inspect.signature(cls.__call__).return_annotation in (GenerationResult, "GenerationResult"), cls
