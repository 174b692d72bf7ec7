"""CUB-format attribute labels: attributes.txt ('<id> has_part_color::value') + image_attribute_labels.txt."""
from __future__ import annotations

from pathlib import Path


def read_attribute_names(root: str | Path) -> list[tuple[str, str]]:
    """[(group, value)] in attribute-id order, e.g. ('has_belly_color', 'red')."""
    root = Path(root)
    for f in (root / "CUB_200_2011" / "attributes" / "attributes.txt", root / "attributes.txt"):
        if f.is_file():
            out = []
            for n, line in enumerate(f.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                parts = line.split(maxsplit=1)
                if len(parts) != 2 or "::" not in parts[1]:
                    raise ValueError(f"{f}:{n}: expected '<id> has_x::value', got {line!r}")
                group, value = parts[1].strip().split("::", 1)
                out.append((group, value))
            return out
    raise FileNotFoundError(f"no attributes.txt under {root} (CUB_200_2011/attributes/ or the root)")


def read_image_attributes(root: str | Path) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """(schema group -> values, key -> {group: value}) with, per image and group, the value marked present."""
    root = Path(root)
    names = read_attribute_names(root)
    schema: dict[str, list[str]] = {}
    for g, v in names:
        schema.setdefault(g, []).append(v)
    cub = root / "CUB_200_2011"
    id2key = {}
    for line in (cub / "images.txt").read_text().splitlines():
        if line.strip():
            i, path = line.split()
            id2key[i] = path.rsplit(".", 1)[0]
    f = cub / "attributes" / "image_attribute_labels.txt"
    if not f.is_file():
        raise FileNotFoundError(f"missing attribute labels: {f}")
    labels: dict[str, dict[str, str]] = {}
    for n, line in enumerate(f.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3:
            raise ValueError(f"{f}:{n}: expected '<image_id> <attr_id> <is_present> ...', got {line!r}")
        if parts[2] == "1":
            g, v = names[int(parts[1]) - 1]
            labels.setdefault(id2key[parts[0]], {})[g] = v
    return schema, labels
