"""The three caption sets every text-to-image model is scored on (DESIGN.md, "Evaluation protocol"), fixed seeds:

in_species  one caption per test image (the test split's own captions; its attribute set is a training species')
novel       captions from the SynthBirds caption generator for birds whose attributes are drawn independently,
            kept only when the attributes a caption mentions are held together by NO training image: the model
            must compose parts it never saw together (a red crown on a green bird)
freestyle   hand-written captions in styles the templates never use (t2i/data/freestyle_dev.json)

Each set is a list of CaptionItem(caption, mentioned {group: value}, image index in the test split or None).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SETS = ("in_species", "novel", "freestyle")


@dataclass(frozen=True)
class CaptionItem:
    caption: str
    mentioned: dict  # attribute group -> value the caption states
    image: int | None = None  # the test image the caption was written for (in_species only)


def in_species(data, seed: int = 0, limit: int | None = None) -> list[CaptionItem]:
    """One fixed caption per test image of a CaptionDataset (t2i.eval.generators.test_captions' choice)."""
    from t2i.data.synthbirds import parse_caption

    rng = random.Random(seed)
    n = len(data) if limit is None else min(limit, len(data))
    out = []
    for i in range(len(data)):  # draw for every image so a prefix is the same whatever the limit
        cap = data.caption(i, rng.randrange(data.captions_per_image))
        if i < n:
            out.append(CaptionItem(cap, parse_caption(cap), i))
    return out


def training_combinations(root) -> list[dict]:
    """The attribute sets of the training images of a SynthBirds root."""
    from t2i.data.attributes import read_image_attributes

    _, labels = read_image_attributes(root)
    from t2i.data.captions import read_filenames

    return [labels[k] for k in read_filenames(Path(root) / "train" / "filenames.pickle") if k in labels]


def novel(root, n: int = 1000, seed: int = 0) -> list[CaptionItem]:
    """n captions whose mentioned attribute combination no training image of `root` has (see the module doc)."""
    from t2i.data.synthbirds import make_caption
    from t2i.data.synthbirds.species import random_attributes

    combos = training_combinations(root)
    groups = sorted({g for c in combos for g in c})
    index = {g: {} for g in groups}  # group -> value -> set of training image ids holding it
    for i, c in enumerate(combos):
        for g, v in c.items():
            index[g].setdefault(v, set()).add(i)
    rng = np.random.default_rng([seed, 0x40E1])
    out: list[CaptionItem] = []
    while len(out) < n:
        cap, mentioned = make_caption(random_attributes(rng), rng)
        holders = None
        for g, v in mentioned.items():
            ids = index.get(g, {}).get(v, set())
            holders = ids if holders is None else holders & ids
            if not holders:
                break
        if not holders:
            out.append(CaptionItem(cap, dict(mentioned)))
    return out


def freestyle(path: str | Path | None = None) -> list[CaptionItem]:
    from t2i.data.freestyle import load_freestyle

    return [CaptionItem(c, dict(a)) for c, a in load_freestyle(path)]


def caption_set(name: str, data=None, root=None, limit: int | None = None, seed: int = 0) -> list[CaptionItem]:
    """One of SETS by name; `data` (the test CaptionDataset) for in_species, `root` for novel."""
    if name == "in_species":
        return in_species(data, seed, limit)
    if name == "novel":
        return novel(root, 1000 if limit is None else limit, seed)
    if name == "freestyle":
        items = freestyle()
        return items if limit is None else items[:limit]
    raise ValueError(f"unknown caption set {name!r}; one of {SETS}")
