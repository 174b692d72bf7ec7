"""The free-style development caption set: captions written by hand in styles the SynthBirds templates never use
(birder prose, designer briefs, questions, lists, run-on sentences, synonyms, hyphenated compounds, size words,
a few typos), each with exactly the attributes it states (t2i.data.synthbirds.schema names and values).

    for caption, attrs in load_freestyle():   # [("a little bird whose stomach is bright red ...", {...}), ...]
        ...
"""
from __future__ import annotations

import json
from pathlib import Path

from t2i.data.synthbirds.schema import ATTRIBUTES

FREESTYLE_DEV = Path(__file__).with_name("freestyle_dev.json")


def load_freestyle(path: str | Path | None = None) -> list[tuple[str, dict[str, str]]]:
    """[(caption, {attribute: value})] of the set at `path` (default: the shipped freestyle_dev.json). ValueError
    naming the entry when one is malformed: not {"caption": text, "attributes": {...}}, an empty caption or
    attribute set, an attribute or value that ATTRIBUTES lacks, or a caption given twice."""
    path = Path(path) if path is not None else FREESTYLE_DEV
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"free-style caption set not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, list):
        raise ValueError(f"{path} must hold a JSON list of {{'caption': ..., 'attributes': {{...}}}} objects")
    out, seen = [], set()
    for i, e in enumerate(data):
        where = f"{path.name} entry {i}"
        if not isinstance(e, dict) or set(e) != {"caption", "attributes"}:
            raise ValueError(f"{where}: expected exactly the keys 'caption' and 'attributes', got {e!r:.120}")
        cap, attrs = e["caption"], e["attributes"]
        if not isinstance(cap, str) or not cap.strip():
            raise ValueError(f"{where}: the caption must be non-empty text, got {cap!r}")
        where = f"{where} ({cap[:50]!r})"
        if not isinstance(attrs, dict) or not attrs:
            raise ValueError(f"{where}: 'attributes' must be a non-empty object {{attribute: value}}")
        for a, v in attrs.items():
            if a not in ATTRIBUTES:
                raise ValueError(f"{where}: unknown attribute {a!r}; one of {list(ATTRIBUTES)}")
            if v not in ATTRIBUTES[a]:
                raise ValueError(f"{where}: {a}={v!r} is not one of {ATTRIBUTES[a]}")
        key = " ".join(cap.lower().split())
        if key in seen:
            raise ValueError(f"{where}: the caption appears twice")
        seen.add(key)
        out.append((cap, dict(attrs)))
    return out
