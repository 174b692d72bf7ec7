"""Generator families, one module per paper. Importing this package registers them all."""
from t2i.models.registry import Family, StepContext, get_family, list_families, register  # noqa: F401

# Each family module registers itself on import; a module that is not written yet is simply absent.
import importlib as _importlib

for _mod in ("dfgan", "ssagan", "swfgan", "csagan", "ecagan", "caegan", "ffgan", "cigan"):
    try:
        _importlib.import_module(f"t2i.models.{_mod}")
    except ModuleNotFoundError as _e:  # only tolerate the module itself being absent
        if _e.name != f"t2i.models.{_mod}":
            raise
