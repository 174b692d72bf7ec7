"""SynthBirds: a procedural renderer of CUB-like birds with known attributes.

No real bird photographs are reachable on our machines, so SynthBirds draws side-view birds with PIL
(4x supersampling, LANCZOS down-sampling) and writes them in *exactly* the CUB-200-2011 / AttnGAN
directory layout (images, captions, attributes, boxes, part maps, train/test pickles), so that one loader
serves SynthBirds and the real datasets alike (see DESIGN.md, "The data problem and SynthBirds").

Modules: schema (attributes, palette, part labels), render (the bird, its perch, render_bird), backgrounds (the
scene behind the bird), species (200 fixed attribute combinations), captions (generator and parser), dataset
(writer, contact sheet).

Public API (all importable from t2i.data.synthbirds):
    ATTRIBUTES, ATTR_PART, ATTR_REGIONS, PART_LABELS, COLORS, PALETTE, BACKGROUNDS
    render_bird(attrs, rng, size=64) -> (PIL RGB image, uint8 part map, bbox)
    make_species(seed) -> [(class_dir, attrs), ...]        200 fixed attribute combinations
    vary_attributes(attrs, rng) -> attrs                   per-image variation within a species
    make_captions(attrs, rng, k=10) -> [str]               CUB-style captions, 2-5 attributes each
    make_caption(attrs, rng) -> (str, {attr: value})       one caption and what it mentions
    parse_caption(text) -> {attr: value}                   reads mentioned attributes from free text
    write_synthbirds(out, size=64, n=11788, seed=0, workers=2) -> Path
    ensure_synthbirds(root=None, size=64) -> Path          DEFAULT_DATA (data/synthbirds-64), rendered when missing
    is_default_render(root) -> bool                        a copy of the default set (what ship records as data/synthbirds-64)
    contact_sheet(root, out_png, rows=8, cols=8) -> Path
    python -m t2i.data.synthbirds OUT [--size 64] [--n 11788] [--seed 0] [--workers 2]

Everything is deterministic: species from `seed`, each image from (seed, image id), so the output
does not depend on the number of workers.
"""
from .captions import make_caption, make_captions, parse_caption
from .dataset import (
    CUB_TEST_SHARE, DEFAULT_DATA, contact_sheet, ensure_synthbirds, is_default_render, per_class_counts,
    per_class_test_counts, write_synthbirds,
)
from .render import render_bird
from .schema import (
    ATTR_PART, ATTR_REGIONS, ATTRIBUTES, BACKGROUNDS, BILL_COLORS, BILL_LENGTHS, COLORS, EYE_COLORS,
    LEG_COLORS, PALETTE, PART_COLOUR_ATTRS, PART_LABELS, SIZES, VERSION, WING_PATTERNS, attribute_pairs,
    complete_attributes, primary_color,
)
from .species import make_species, vary_attributes

__all__ = [
    "ATTRIBUTES", "ATTR_PART", "ATTR_REGIONS", "BACKGROUNDS", "BILL_COLORS", "BILL_LENGTHS", "COLORS",
    "CUB_TEST_SHARE", "DEFAULT_DATA", "EYE_COLORS", "LEG_COLORS", "PALETTE", "PART_COLOUR_ATTRS", "PART_LABELS", "SIZES", "VERSION",
    "WING_PATTERNS", "attribute_pairs", "complete_attributes", "contact_sheet", "ensure_synthbirds", "is_default_render",
    "make_caption",
    "make_captions", "make_species", "parse_caption", "per_class_counts", "per_class_test_counts",
    "primary_color", "render_bird", "vary_attributes", "write_synthbirds",
]
