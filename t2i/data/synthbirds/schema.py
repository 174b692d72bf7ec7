"""SynthBirds attribute schema: CUB colour names and palette, attributes, part labels."""
from __future__ import annotations

VERSION = "1.0"

#: CUB colour names with their fixed RGB; chosen far apart so that they survive jitter and shading.
PALETTE: dict[str, tuple[int, int, int]] = {
    "blue": (45, 95, 215),
    "brown": (112, 70, 40),
    "purple": (125, 55, 160),
    "rufous": (182, 72, 32),
    "grey": (140, 142, 145),
    "yellow": (245, 212, 40),
    "olive": (124, 130, 46),
    "green": (45, 160, 70),
    "pink": (240, 150, 185),
    "orange": (250, 148, 22),
    "black": (28, 28, 30),
    "white": (243, 243, 237),
    "red": (205, 30, 35),
    "buff": (222, 192, 140),
}
COLORS: tuple[str, ...] = tuple(PALETTE)
EYE_COLORS = ("black", "brown", "red", "orange", "yellow", "white")
BILL_COLORS = ("black", "grey", "brown", "yellow", "orange", "red", "pink")
LEG_COLORS = ("black", "grey", "brown", "buff", "pink", "yellow", "orange")
BILL_LENGTHS = ("shorter_than_head", "about_the_same_as_head", "longer_than_head")
WING_PATTERNS = ("solid", "spotted", "striped", "wing-bars")
SIZES = ("small_(5_-_9_in)", "medium_(9_-_16_in)", "large_(16_-_32_in)")

#: Attribute name -> values, CUB naming ("has_belly_color::red"); attribute ids follow this order.
ATTRIBUTES: dict[str, list[str]] = {
    "has_bill_length": list(BILL_LENGTHS),
    "has_wing_color": list(COLORS),
    "has_upperparts_color": list(COLORS),
    "has_belly_color": list(COLORS),
    "has_throat_color": list(COLORS),
    "has_eye_color": list(EYE_COLORS),
    "has_size": list(SIZES),
    "has_primary_color": list(COLORS),
    "has_leg_color": list(LEG_COLORS),
    "has_bill_color": list(BILL_COLORS),
    "has_crown_color": list(COLORS),
    "has_wing_pattern": list(WING_PATTERNS),
}

#: Short human name of each attribute (UI labels).
ATTR_PART: dict[str, str] = {
    "has_bill_length": "bill length",
    "has_wing_color": "wings",
    "has_upperparts_color": "back",
    "has_belly_color": "belly",
    "has_throat_color": "throat",
    "has_eye_color": "eyes",
    "has_size": "size",
    "has_primary_color": "overall colour",
    "has_leg_color": "legs",
    "has_bill_color": "bill",
    "has_crown_color": "crown",
    "has_wing_pattern": "wing pattern",
}

#: The attributes whose value is a part's colour (the rest are shapes and sizes, and the derived overall colour).
PART_COLOUR_ATTRS = ("has_belly_color", "has_wing_color", "has_crown_color", "has_throat_color",
                     "has_upperparts_color", "has_eye_color", "has_leg_color", "has_bill_color")

#: Segmentation labels (value in the part map -> part name); 0 is background.
PART_LABELS: dict[int, str] = {
    1: "body", 2: "belly", 3: "back", 4: "wing", 5: "crown",
    6: "throat", 7: "eye", 8: "bill", 9: "tail", 10: "legs",
}

#: Which part-map regions each attribute paints (edit masks, PSNR outside the edited part).
#: The "body" label (face, nape, neck) takes the upperparts colour, the tail takes the wing colour.
ATTR_REGIONS: dict[str, tuple[str, ...]] = {
    "has_bill_length": ("bill",),
    "has_wing_color": ("wing", "tail"),
    "has_upperparts_color": ("back", "body"),
    "has_belly_color": ("belly",),
    "has_throat_color": ("throat",),
    "has_eye_color": ("eye",),
    "has_size": ("body", "belly", "back", "wing", "crown", "throat", "eye", "bill", "tail", "legs"),
    "has_primary_color": ("body", "belly", "back", "wing", "crown", "throat", "tail"),
    "has_leg_color": ("legs",),
    "has_bill_color": ("bill",),
    "has_crown_color": ("crown",),
    "has_wing_pattern": ("wing",),
}

BACKGROUNDS = ("sky", "foliage", "water", "ground", "branch")

_AREA_WEIGHT = {  # nominal share of the visible bird, for has_primary_color
    "has_wing_color": 0.34, "has_belly_color": 0.28, "has_upperparts_color": 0.22,
    "has_crown_color": 0.07, "has_throat_color": 0.06,
}


def attribute_pairs() -> list[tuple[str, str]]:
    """All (attribute, value) pairs in CUB id order (attr_id = index + 1)."""
    return [(a, v) for a, vals in ATTRIBUTES.items() for v in vals]


def primary_color(attrs: dict) -> str:
    """The colour covering most of the bird (CUB's has_primary_color), from nominal part areas."""
    score: dict[str, float] = {}
    for attr, w in _AREA_WEIGHT.items():
        score[attrs[attr]] = score.get(attrs[attr], 0.0) + w
    return max(score, key=lambda c: (score[c], -COLORS.index(c)))


def complete_attributes(attrs: dict) -> dict:
    """Validate an attribute dict and (re)compute has_primary_color; returns a new dict."""
    out = {}
    for attr, values in ATTRIBUTES.items():
        if attr == "has_primary_color":
            continue
        if attr not in attrs:
            raise KeyError(f"attribute {attr!r} missing; SynthBirds needs all of {list(ATTRIBUTES)}")
        if attrs[attr] not in values:
            raise ValueError(f"{attr}={attrs[attr]!r} is not one of {values}")
        out[attr] = attrs[attr]
    out["has_primary_color"] = primary_color(out)
    return {a: out[a] for a in ATTRIBUTES}
