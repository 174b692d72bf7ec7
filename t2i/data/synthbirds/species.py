"""SynthBirds species: 200 fixed attribute combinations with CUB-like names, and per-image variation."""
from __future__ import annotations

import numpy as np

from .schema import ATTRIBUTES, BILL_LENGTHS, SIZES, complete_attributes

_NOUNS_BY_SIZE = {
    SIZES[0]: ("Warbler", "Sparrow", "Finch", "Wren", "Vireo", "Bunting", "Flycatcher", "Kinglet",
               "Chickadee", "Titmouse", "Gnatcatcher", "Siskin", "Redstart", "Pipit", "Sunbird"),
    SIZES[1]: ("Tanager", "Oriole", "Thrush", "Blackbird", "Grosbeak", "Jay", "Shrike", "Cuckoo",
               "Starling", "Cardinal", "Waxwing", "Mockingbird", "Grackle", "Kingbird", "Bulbul"),
    SIZES[2]: ("Crow", "Raven", "Gull", "Hawk", "Cormorant", "Albatross", "Magpie", "Pigeon",
               "Falcon", "Jacana", "Coucal", "Turaco", "Hornbill", "Pheasant", "Kite"),
}
_LONG_BILL_NOUNS = {
    SIZES[0]: ("Hummingbird", "Creeper", "Sunbird", "Spiderhunter"),
    SIZES[1]: ("Kingfisher", "Sandpiper", "Woodpecker", "Bee_eater"),
    SIZES[2]: ("Heron", "Ibis", "Curlew", "Egret"),
}
_NAME_PARTS = (("has_belly_color", "bellied"), ("has_crown_color", "crowned"),
               ("has_throat_color", "throated"), ("has_wing_color", "winged"),
               ("has_upperparts_color", "backed"))
_PREFIXES = ("Western", "Eastern", "Northern", "Southern", "Lesser", "Greater", "Common", "Mountain",
             "Marsh", "Forest", "Desert", "Island", "Coastal", "Pine", "Sierra", "Tropical")
_VARYING = ("has_eye_color", "has_bill_color", "has_leg_color", "has_wing_pattern")


def _balanced(rng: np.random.Generator, values, n: int) -> list:
    """n values with (near) equal counts, shuffled."""
    reps = -(-n // len(values))
    out = [v for _ in range(reps) for v in values][:n]
    return [out[i] for i in rng.permutation(n)]


def _species_name(attrs: dict, rng: np.random.Generator, taken: set) -> str:
    """A CUB-like species name ("Rufous_bellied_Warbler") consistent with the attributes."""
    prim = attrs["has_primary_color"]
    order = [_NAME_PARTS[i] for i in rng.permutation(len(_NAME_PARTS))]
    part = next(((a, w) for a, w in order if attrs[a] != prim), order[0])
    size = attrs["has_size"]
    nouns = _LONG_BILL_NOUNS[size] if attrs["has_bill_length"] == BILL_LENGTHS[2] else _NOUNS_BY_SIZE[size]
    noun = nouns[int(rng.integers(len(nouns)))]
    base = f"{attrs[part[0]].capitalize()}_{part[1]}_{noun}"
    name, i = base, 0
    while name in taken:
        name = f"{_PREFIXES[i % len(_PREFIXES)]}_{base}" + ("" if i < len(_PREFIXES) else f"_{i}")
        i += 1
    taken.add(name)
    return name


def make_species(seed: int = 0, n_classes: int = 200) -> list[tuple[str, dict]]:
    """The fixed species of a seed: [(class_dir "NNN.Name", full attribute dict), ...].

    Colours are drawn balanced per part, with some within-bird correlation (wings, crown like the
    back; throat like the belly) so that birds look plausible; all combinations are distinct.
    """
    rng = np.random.default_rng([seed, 0xB1D])
    cols = {a: _balanced(rng, ATTRIBUTES[a], n_classes) for a in ATTRIBUTES if a != "has_primary_color"}
    seen, taken, out = set(), set(), []
    for i in range(n_classes):
        a = {k: v[i] for k, v in cols.items()}
        if rng.random() < 0.3:
            a["has_wing_color"] = a["has_upperparts_color"]
        if rng.random() < 0.3:
            a["has_crown_color"] = a["has_upperparts_color"]
        if rng.random() < 0.35:
            a["has_throat_color"] = a["has_belly_color"]
        a = complete_attributes(a)
        while tuple(a.values()) in seen:  # re-draw a secondary attribute until the combo is new
            k = _VARYING[int(rng.integers(len(_VARYING)))]
            a[k] = ATTRIBUTES[k][int(rng.integers(len(ATTRIBUTES[k])))]
        seen.add(tuple(a.values()))
        out.append((f"{i + 1:03d}.{_species_name(a, rng, taken)}", a))
    return out


def vary_attributes(attrs: dict, rng: np.random.Generator, p: float = 0.1) -> dict:
    """Per-image variation: with probability p one secondary attribute takes another value."""
    a = dict(attrs)
    if rng.random() < p:
        k = _VARYING[int(rng.integers(len(_VARYING)))]
        others = [v for v in ATTRIBUTES[k] if v != a[k]]
        a[k] = others[int(rng.integers(len(others)))]
    return complete_attributes(a)


def random_attributes(rng: np.random.Generator) -> dict:
    """Every attribute drawn uniformly and independently (has_primary_color derived): a bird of no species."""
    return complete_attributes({k: v[int(rng.integers(len(v)))] for k, v in ATTRIBUTES.items()
                                if k != "has_primary_color"})
