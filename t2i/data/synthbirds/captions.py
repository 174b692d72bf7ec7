"""SynthBirds captions: a CUB-style caption generator and the parser that reads attributes back.

parse_caption reads back exactly what make_caption mentions (tested over many random captions); it
is what the evaluation (AttrAcc) and the app (text edits) use to find the attributes a text names.
"""
from __future__ import annotations

import re

import numpy as np

from .schema import ATTRIBUTES, BILL_LENGTHS, COLORS, SIZES, complete_attributes

_COLOR_ATTRS = ("has_belly_color", "has_upperparts_color", "has_wing_color", "has_crown_color",
                "has_throat_color", "has_eye_color", "has_bill_color", "has_leg_color")
_GEN_NOUNS = {  # attribute -> [(noun, plural)], for the caption generator
    "has_belly_color": [("belly", 0), ("belly", 0), ("stomach", 0), ("abdomen", 0), ("breast", 0),
                        ("chest", 0), ("underparts", 1)],
    "has_upperparts_color": [("back", 0), ("back", 0), ("back", 0), ("upperparts", 1)],
    "has_wing_color": [("wings", 1)],
    "has_crown_color": [("crown", 0), ("crown", 0), ("head", 0), ("cap", 0)],
    "has_throat_color": [("throat", 0)],
    "has_eye_color": [("eyes", 1)],
    "has_bill_color": [("bill", 0), ("beak", 0)],
    "has_leg_color": [("legs", 1), ("legs", 1), ("feet", 1), ("legs and feet", 1)],
}
_GEN_COLOR = {"grey": ("grey", "grey", "gray"), "rufous": ("rufous", "rufous", "rusty"),
              "buff": ("buff", "buff", "tan")}
_GEN_MOD = {"yellow": ("bright", "pale"), "red": ("bright", "dark"), "orange": ("bright",),
            "blue": ("bright", "dark"), "green": ("bright", "dark"), "pink": ("pale",),
            "brown": ("dark",), "grey": ("dark", "light"), "purple": ("dark", "deep")}
_GEN_SIZE = {SIZES[0]: ("small", "small", "tiny", "little"), SIZES[1]: ("medium sized", "medium-sized"),
             SIZES[2]: ("large", "large", "big")}
_GEN_SIZE_PRED = {SIZES[0]: ("small", "tiny", "small in size"),
                  SIZES[1]: ("medium sized", "medium-sized", "of medium size"),
                  SIZES[2]: ("large", "big", "large in size")}
_GEN_LEN_ADJ = {BILL_LENGTHS[0]: ("short",), BILL_LENGTHS[1]: ("medium-length", "medium length"),
                BILL_LENGTHS[2]: ("long",)}
_GEN_LEN_PHRASE = {BILL_LENGTHS[0]: ("shorter than its head", "shorter than the head"),
                   BILL_LENGTHS[1]: ("about the same length as its head", "as long as its head",
                                     "the same length as its head"),
                   BILL_LENGTHS[2]: ("longer than its head", "longer than the head")}
_GEN_PAT_ADJ = {"spotted": ("spotted", "speckled"), "striped": ("striped", "streaked"),
                "solid": ("solid", "plain", "solid colored")}
_GEN_PAT_NOUN = {"spotted": ("spots", "speckles"), "striped": ("stripes", "streaks"),
                 "wing-bars": ("wing bars", "wingbars", "two wing bars")}
_ATTR_WEIGHT = {"has_belly_color": 1.0, "has_upperparts_color": 0.8, "has_wing_color": 1.0,
                "has_crown_color": 1.0, "has_throat_color": 0.8, "has_eye_color": 0.6,
                "has_bill_color": 0.8, "has_leg_color": 0.6, "has_bill_length": 0.8,
                "has_wing_pattern": 0.7, "has_size": 0.8, "has_primary_color": 0.8}
_ATTR_NAMES = tuple(ATTRIBUTES)
_ATTR_W = np.array([_ATTR_WEIGHT[a] for a in _ATTR_NAMES])
_N_MENTION_CDF = np.cumsum([0.3, 0.35, 0.25])  # P(2, 3, 4 attributes); 5 otherwise


def _pick(rng: np.random.Generator, seq):
    """A random element of a sequence."""
    return seq[int(rng.integers(len(seq)))]


def _cword(color: str, rng: np.random.Generator) -> str:
    """A colour as a caption writes it (synonyms, sometimes a modifier such as 'bright')."""
    w = _pick(rng, _GEN_COLOR.get(color, (color,)))
    if color in _GEN_MOD and rng.random() < 0.12:
        w = f"{_pick(rng, _GEN_MOD[color])} {w}"
    return w


def _join(items: list[str], rng: np.random.Generator, pair_last: bool = False) -> str:
    """'a', 'a and b', 'a, b and c' (sometimes with the serial comma)."""
    if len(items) == 1:
        return items[0]
    comma = "," if (len(items) > 2 and rng.random() < 0.4) or pair_last else ""
    return ", ".join(items[:-1]) + f"{comma} and {items[-1]}"


def _facts(mentioned: dict, rng: np.random.Generator) -> list[dict]:
    """Group mentioned attributes into caption facts (bill colour+length, wing colour+pattern,
    two parts sharing a colour)."""
    m = dict(mentioned)
    facts = []
    if "has_bill_color" in m or "has_bill_length" in m:
        facts.append({"kind": "bill", "color": m.pop("has_bill_color", None),
                      "len": m.pop("has_bill_length", None)})
    if "has_wing_pattern" in m:
        facts.append({"kind": "wing", "color": m.pop("has_wing_color", None),
                      "pat": m.pop("has_wing_pattern")})
    simple = [a for a in _COLOR_ATTRS if a in m]
    for i, a in enumerate(simple):
        for b in simple[i + 1:]:
            if a in m and b in m and m[a] == m[b] and rng.random() < 0.6:
                facts.append({"kind": "pair", "attrs": (a, b), "color": m.pop(a)})
                m.pop(b)
    for a in simple:
        if a in m:
            facts.append({"kind": "color", "attr": a, "color": m.pop(a)})
    order = rng.permutation(len(facts))
    return [facts[i] for i in order]


def _noun(attr: str, rng: np.random.Generator, single: bool = False) -> tuple[str, int]:
    """A noun for a part (single: no 'legs and feet')."""
    choices = [c for c in _GEN_NOUNS[attr] if not (single and " " in c[0])]
    return _pick(rng, choices)


def _np(f: dict, rng: np.random.Generator) -> str:
    """A noun phrase for a fact ('a red belly', 'wings that are black', 'a short black bill')."""
    k = f["kind"]
    if k == "color":
        n, pl = _noun(f["attr"], rng)
        c = _cword(f["color"], rng)
        if rng.random() < 0.75:
            return f"{'' if pl else 'a '}{c} {n}"
        return f"{'' if pl else 'a '}{n} that {'are' if pl else 'is'} {c}"
    if k == "pair":
        (n1, pl), (n2, _) = _noun(f["attrs"][0], rng, True), _noun(f["attrs"][1], rng, True)
        return f"{'' if pl else 'a '}{_cword(f['color'], rng)} {n1} and {n2}"
    if k == "bill":
        n = _pick(rng, ("bill", "beak"))
        adj = f"{_pick(rng, ('pointed', 'sharp', 'thin', 'stout'))} " if rng.random() < 0.2 else ""
        c = _cword(f["color"], rng) if f["color"] else None
        if f["len"] is None:
            return f"a {adj}{c} {n}" if rng.random() < 0.75 else f"a {n} that is {c}"
        la, lp = _pick(rng, _GEN_LEN_ADJ[f["len"]]), _pick(rng, _GEN_LEN_PHRASE[f["len"]])
        r = rng.random()
        if c is None:
            return f"a {la} {adj}{n}" if r < 0.5 else (f"a {n} {lp}" if r < 0.75 else f"a {n} that is {lp}")
        if r < 0.5:
            return f"a {la} {adj}{c} {n}"
        return f"a {c} {n} {lp}" if r < 0.75 else f"a {c} {n} that is {lp}"
    if k == "wing":  # pattern always present here
        p, c = f["pat"], (_cword(f["color"], rng) if f["color"] else None)
        r = rng.random()
        if p == "wing-bars":
            wb = _pick(rng, _GEN_PAT_NOUN[p])
            return f"{c} wings with {wb}" if c else (wb if r < 0.5 else f"wings with {wb}")
        pa = _pick(rng, _GEN_PAT_ADJ[p])
        if c is None:
            if r < 0.6 or p == "solid":
                return f"{pa} wings"
            return f"wings with {_pick(rng, _GEN_PAT_NOUN[p])}"
        if r < 0.35:
            return f"{pa} {c} wings"
        if r < 0.6 and p != "solid":
            return f"{c} {pa} wings"
        if r < 0.8 and p != "solid":
            return f"{c} wings with {_pick(rng, _GEN_PAT_NOUN[p])}"
        return f"wings that are {c} and {pa}" if p != "solid" else f"{pa} {c} wings"
    raise ValueError(k)


def _clause(f: dict, rng: np.random.Generator) -> str:
    """A full clause for a fact ('its belly is red', 'the bird is small')."""
    k = f["kind"]
    poss = _pick(rng, ("its", "its", "the"))
    if k == "color":
        n, pl = _noun(f["attr"], rng)
        return f"{poss} {n} {'are' if pl else 'is'} {_cword(f['color'], rng)}"
    if k == "pair":
        n1, n2 = _noun(f["attrs"][0], rng, True)[0], _noun(f["attrs"][1], rng, True)[0]
        return f"{poss} {n1} and {n2} are {_cword(f['color'], rng)}"
    if k == "bill":
        n = _pick(rng, ("bill", "beak"))
        ln = None
        if f["len"]:
            ln = _pick(rng, ("short", _GEN_LEN_PHRASE[f["len"]][0])) if f["len"] == BILL_LENGTHS[0] else (
                _pick(rng, ("long", _GEN_LEN_PHRASE[f["len"]][0])) if f["len"] == BILL_LENGTHS[2] else
                _pick(rng, ("medium length",) + _GEN_LEN_PHRASE[f["len"]]))
        if f["color"] and ln:
            return f"{poss} {n} is {_cword(f['color'], rng)} and {ln}"
        if f["color"]:
            return f"{poss} {n} is {_cword(f['color'], rng)}"
        return f"{poss} {n} is {ln}"
    if k == "wing":
        p, c = f["pat"], (_cword(f["color"], rng) if f["color"] else None)
        if p == "wing-bars":
            wb = _pick(rng, _GEN_PAT_NOUN[p])
            return f"{poss} wings are {c} with {wb}" if c else f"{poss} wings have {wb}"
        pa = _pick(rng, _GEN_PAT_ADJ[p])
        if c is None:
            return f"{poss} wings are {pa}" if p == "solid" or rng.random() < 0.5 else \
                f"{poss} wings have {_pick(rng, _GEN_PAT_NOUN[p])}"
        if p == "solid":
            return f"{poss} wings are {_pick(rng, ('solid', 'plain'))} {c}"
        return f"{poss} wings are {c} and {pa}" if rng.random() < 0.5 else \
            f"{poss} wings are {c} with {_pick(rng, _GEN_PAT_NOUN[p])}"
    subj = _pick(rng, ("the bird", "this bird"))
    if k == "size":
        return f"{_pick(rng, (subj, 'it'))} is {_pick(rng, _GEN_SIZE_PRED[f['value']])}"
    if k == "primary":
        c = _cword(f["color"], rng)
        return _pick(rng, (f"{subj} is mostly {c}", f"{subj} is predominantly {c}", f"{subj} is {c} overall",
                           f"its body is mostly {c}", f"its plumage is mostly {c}"))
    raise ValueError(k)


def _intro(size: str | None, color: str | None, rng: np.random.Generator, alone: bool) -> str:
    """Opening words, absorbing the size and/or the primary colour when given."""
    s = _pick(rng, _GEN_SIZE[size]) if size else None
    c = _cword(color, rng) if color else None
    if alone:  # nothing follows
        if s and c:
            return _pick(rng, (f"this is a {s} {c} bird", f"a {s} bird that is mostly {c}",
                               f"a {s} {c} bird"))
        return f"this is a {s} bird" if s else f"this bird is mostly {c}"
    if s and c:
        return _pick(rng, (f"a {s} {c} bird with", f"this {s} {c} bird has", f"this is a {s} {c} bird with",
                           f"this {s} bird is mostly {c} with"))
    if s:
        return _pick(rng, (f"a {s} bird with", f"this {s} bird has", f"this is a {s} bird with",
                           f"the {s} bird has"))
    if c:
        return _pick(rng, (f"a {c} bird with", f"this {c} bird has", f"this is a {c} bird with",
                           f"the bird is mostly {c} with", f"this bird is {c} with",
                           f"a mostly {c} bird with"))
    return _pick(rng, ("this bird has", "the bird has", "this is a bird with", "a bird with",
                       "this particular bird has", "the bird features", "this bird has"))


def make_caption(attrs: dict, rng: np.random.Generator) -> tuple[str, dict]:
    """One CUB-style caption mentioning 2-5 true attributes; returns (text, {attr: value} mentioned)."""
    return _caption(complete_attributes(attrs), rng)


def _caption(attrs: dict, rng: np.random.Generator) -> tuple[str, dict]:
    """make_caption for an already validated attribute dict."""
    k = 2 + int(np.searchsorted(_N_MENTION_CDF, rng.random(), side="right"))
    # weighted sampling without replacement (Efraimidis-Spirakis keys)
    keys = rng.random(len(_ATTR_NAMES)) ** (1.0 / _ATTR_W)
    chosen = np.argsort(-keys)[:k]
    mentioned = {_ATTR_NAMES[i]: attrs[_ATTR_NAMES[i]] for i in sorted(chosen)}
    size, prim = mentioned.get("has_size"), mentioned.get("has_primary_color")
    facts = _facts({a: v for a, v in mentioned.items() if a not in ("has_size", "has_primary_color")}, rng)
    extra = []  # size / primary said in a clause instead of the opening
    if size and rng.random() < 0.25 and facts:
        extra.append({"kind": "size", "value": size})
        size = None
    if prim and rng.random() < 0.25 and facts:
        extra.append({"kind": "primary", "color": prim})
        prim = None
    if not facts and not extra:
        text = _intro(size, prim, rng, alone=True)
    else:  # an opening with noun phrases ("this bird has a red belly and ..."), then clauses
        r = rng.random()
        if not (size or prim) and r < 0.15:
            n_np = 0
        elif r < 0.6 or (not extra and len(facts) < 2):
            n_np = len(facts)
        else:
            n_np = int(rng.integers(1, len(facts) + 1))
        nps, clauses = facts[:n_np], [_clause(f, rng) for f in facts[n_np:] + extra]
        if nps:
            pair_last = len(nps) > 1 and nps[-2]["kind"] == "pair"
            text = f"{_intro(size, prim, rng, False)} {_join([_np(f, rng) for f in nps], rng, pair_last)}"
        else:
            text = clauses.pop(0)
        for c in clauses:
            text += f"{_pick(rng, ('.', ',', ', and', ' and'))} {c}"
    text = re.sub(r"\ba (?=[aeiou])", "an ", text)
    if rng.random() < 0.6:
        text += "."
    return text, mentioned


def make_captions(attrs: dict, rng: np.random.Generator, k: int = 10) -> list[str]:
    """k CUB-style captions for one image (each mentions 2-5 of its true attributes)."""
    attrs = complete_attributes(attrs)
    return [_caption(attrs, rng)[0] for _ in range(k)]


# --- parser -------------------------------------------------------------------------------------

_P_COLORS = {c: c for c in COLORS} | {
    "gray": "grey", "rusty": "rufous", "rust": "rufous", "chestnut": "rufous", "tan": "buff",
    "beige": "buff", "violet": "purple", "golden": "yellow", "crimson": "red", "scarlet": "red",
    "reddish": "red", "brownish": "brown", "yellowish": "yellow", "greenish": "green", "bluish": "blue",
    "blueish": "blue", "greyish": "grey", "grayish": "grey", "orangish": "orange", "orangey": "orange",
    "pinkish": "pink", "purplish": "purple", "blackish": "black", "whitish": "white", "olivaceous": "olive",
}
_P_NOUNS = {  # noun -> attribute whose colour it names (None: a known part without an attribute)
    **dict.fromkeys(("belly", "bellies", "stomach", "abdomen", "breast", "chest", "underparts",
                     "underbelly", "underside"), "has_belly_color"),
    **dict.fromkeys(("back", "upperparts", "mantle"), "has_upperparts_color"),
    **dict.fromkeys(("wing", "wings"), "has_wing_color"),
    **dict.fromkeys(("crown", "head", "cap"), "has_crown_color"),
    **dict.fromkeys(("throat", "chin"), "has_throat_color"),
    **dict.fromkeys(("eye", "eyes", "iris", "irises"), "has_eye_color"),
    **dict.fromkeys(("bill", "bills", "beak", "beaks"), "has_bill_color"),
    **dict.fromkeys(("leg", "legs", "foot", "feet", "tarsus", "tarsi"), "has_leg_color"),
    **dict.fromkeys(("bird", "birds", "body", "plumage"), "has_primary_color"),
    **dict.fromkeys(("tail", "tails", "neck", "nape", "face", "cheek", "cheeks", "rump", "flanks",
                     "flank", "sides", "eyering", "eyebrow", "eyebrows", "superciliary", "wingbars",
                     "feathers", "rectrices", "primaries", "secondaries", "coverts", "tip", "tips"), None),
}
_P_PHRASES = {  # multi-word expressions, rewritten to one token before parsing
    ("wing", "bars"): "wingbars", ("wing", "bar"): "wingbars", ("wingbar",): "wingbars",
    ("eye", "ring"): "eyering", ("eye", "rings"): "eyering", ("olive", "green"): "olive",
    ("under", "parts"): "underparts", ("upper", "parts"): "upperparts",
    ("medium", "sized"): "sizemedium", ("medium", "size"): "sizemedium", ("mid", "sized"): "sizemedium",
    ("medium", "length"): "lensame", ("top", "of", "head"): "crown",
}
for _d in ("its", "the", "his", "her", "their"):
    _P_PHRASES |= {
        ("top", "of", _d, "head"): "crown",
        ("shorter", "than", _d, "head"): "lenshort", ("longer", "than", _d, "head"): "lenlong",
        ("about", "the", "same", "length", "as", _d, "head"): "lensame",
        ("the", "same", "length", "as", _d, "head"): "lensame",
        ("same", "length", "as", _d, "head"): "lensame",
        ("about", "as", "long", "as", _d, "head"): "lensame", ("as", "long", "as", _d, "head"): "lensame",
    }
del _d
_P_MAXPHRASE = max(len(k) for k in _P_PHRASES)
_P_SIZE = {"small": SIZES[0], "tiny": SIZES[0], "little": SIZES[0], "sizemedium": SIZES[1],
           "medium": SIZES[1], "large": SIZES[2], "big": SIZES[2], "huge": SIZES[2]}
_P_LEN = {"short": BILL_LENGTHS[0], "shorter": BILL_LENGTHS[0], "lenshort": BILL_LENGTHS[0],
          "lensame": BILL_LENGTHS[1], "long": BILL_LENGTHS[2], "longer": BILL_LENGTHS[2],
          "lenlong": BILL_LENGTHS[2]}
_P_PATTERN = {"spotted": "spotted", "spots": "spotted", "spot": "spotted", "speckled": "spotted",
              "speckles": "spotted", "dotted": "spotted", "dots": "spotted",
              "striped": "striped", "stripes": "striped", "stripe": "striped", "streaked": "striped",
              "streaks": "striped", "streak": "striped", "stripy": "striped",
              "solid": "solid", "plain": "solid", "barred": "wing-bars", "bars": "wing-bars"}
_P_ADJ = frozenset((
    "bright", "dark", "light", "pale", "deep", "vivid", "dull", "very", "vibrant", "rich", "small",
    "large", "short", "long", "tiny", "big", "thin", "thick", "pointed", "pointy", "sharp", "curved",
    "stout", "little", "round", "rounded", "beady", "spotted", "striped", "streaked", "speckled",
    "barred", "solid", "plain", "colored", "tinted", "medium", "sizemedium", "lensame", "lenshort",
    "lenlong", "slightly", "somewhat", "quite", "fairly", "rather", "relatively"))
_P_PUNCT = frozenset(".,;:!?")
_P_DET = frozenset(("its", "the", "his", "her", "their", "a", "an", "this", "with", "has", "and"))
_P_BACK_COLOR = frozenset(("that", "which", "is", "are", "was", "were", "be", "being", "mostly", "mainly",
                           "predominantly", "primarily", "largely", "entirely", "completely", "all",
                           "a", "an", "very", "bright", "dark", "light", "pale", "deep", "solid",
                           "plain", "colored", "overall"))
_P_BACK_LEN = frozenset(("that", "which", "is", "are", "was", "were", "very", "quite", "rather",
                         "relatively", "fairly", "and", "about")) | _P_ADJ
_P_FWD_PAT = frozenset(("on", "its", "the", "along", "across")) | _P_ADJ
_P_BACK_PAT = frozenset(("with", "that", "which", "are", "is", "have", "has", "and", "a", "an", "two",
                         "some", "many", "several")) | _P_ADJ
_P_OVERALL = frozenset(("mostly", "mainly", "predominantly", "primarily", "largely", "entirely", "all"))
_BILL_NOUNS = frozenset(("bill", "bills", "beak", "beaks"))


def _tokens(text: str) -> list[str]:
    """Lower-case word/punctuation tokens with multi-word expressions merged (see _P_PHRASES)."""
    raw = re.findall(r"[a-z]+|[.,;:!?]", text.lower().replace("colour", "color").replace("-", " "))
    out, i = [], 0
    while i < len(raw):
        for n in range(min(_P_MAXPHRASE, len(raw) - i), 0, -1):
            key = tuple(raw[i:i + n])
            if key in _P_PHRASES:
                out.append(_P_PHRASES[key])
                i += n
                break
        else:
            out.append(raw[i])
            i += 1
    return out


def _scan(toks: list[str], i: int, step: int, skip) -> int | None:
    """Index of the first token from i (direction step) not in `skip` and not a colour word
    when colours are skippable; None at punctuation or the end."""
    while 0 <= i < len(toks):
        t = toks[i]
        if t in _P_PUNCT:
            return None
        if t not in skip and not (None in skip and t in _P_COLORS):
            return i
        i += step
    return None


def parse_caption(text: str) -> dict[str, str]:
    """Read the attributes a free-text caption mentions: {attribute: value} in ATTRIBUTES order.

    Handles the synonyms and grammar of make_caption ("a red belly", "wings that are black",
    "its crown and throat are grey", "a short black beak", "a bill longer than its head",
    "spotted wings", "wing bars", "a small bird", "mostly yellow") and similar user text.
    Values that an attribute cannot take (e.g. blue legs) are ignored.
    """
    toks = _tokens(text)
    found: dict[str, tuple[int, str]] = {}

    def bind(noun_idx: int, value: str, prio: int = 2) -> None:
        """Record value for the attribute named by the noun (direct=2 beats carried-over=1)."""
        attr = _P_NOUNS.get(toks[noun_idx])
        if attr and value in ATTRIBUTES[attr] and (attr not in found or found[attr][0] < prio):
            found[attr] = (prio, value)

    def is_noun(j: int) -> bool:
        """Token j is a known part noun."""
        return 0 <= j < len(toks) and toks[j] in _P_NOUNS

    def colour_noun(j: int) -> bool:
        """Token j names a part whose colour is an attribute (not the whole bird)."""
        return is_noun(j) and _P_NOUNS[toks[j]] not in (None, "has_primary_color")

    skip_fwd_color = _P_ADJ
    skip_size = _P_ADJ | {"and", "mostly", None}  # None: colours are skipped too
    skip_len_fwd = _P_ADJ | {"and", None}
    for i, t in enumerate(toks):
        if t in _P_COLORS:
            c = _P_COLORS[t]
            j = _scan(toks, i + 1, 1, skip_fwd_color)
            if j is not None and is_noun(j):
                bind(j, c)
                # "a black crown and throat": the colour carries over to a bare second noun
                while (toks[j + 1:j + 2] == ["and"] and colour_noun(j + 2)
                       and (j + 3 >= len(toks) or toks[j + 3] in _P_PUNCT
                            or (toks[j + 3] == "and" and not is_noun(j + 4)))):
                    bind(j + 2, c, 1)
                    j += 2
                continue
            j = _scan(toks, i - 1, -1, _P_BACK_COLOR)
            if j is not None and is_noun(j):
                bind(j, c)
                # "its crown and throat are black", "its crown, throat and belly are black"
                while (j >= 2 and toks[j - 1] in ("and", ",") and colour_noun(j - 2)
                       and (j == 2 or toks[j - 3] in _P_DET or toks[j - 3] in _P_PUNCT)):
                    bind(j - 2, c, 1)
                    j -= 2
            elif toks[i - 1:i] and toks[i - 1] in _P_OVERALL or toks[i + 1:i + 2] == ["overall"]:
                found.setdefault("has_primary_color", (2, c))  # "..., mostly red"
        elif t in _P_SIZE:
            j = _scan(toks, i + 1, 1, skip_size)
            if j is not None and (colour_noun(j) or toks[j] in _P_NOUNS and _P_NOUNS[toks[j]] is None):
                continue  # "a small red crown", "a large tail": not the bird's size
            if j is not None and toks[j] == "bird" or not is_noun(j if j is not None else -1):
                found.setdefault("has_size", (2, _P_SIZE[t]))
        if t in _P_LEN:  # "a bill (that is) shorter than its head" first, then "a short (black) bill"
            j = _scan(toks, i - 1, -1, _P_BACK_LEN | {None})
            if j is None or toks[j] not in _BILL_NOUNS:
                j = _scan(toks, i + 1, 1, skip_len_fwd)
            if j is not None and toks[j] in _BILL_NOUNS:
                found.setdefault("has_bill_length", (2, _P_LEN[t]))
        if t == "wingbars":
            found.setdefault("has_wing_pattern", (2, "wing-bars"))
        elif t in _P_PATTERN:
            j = _scan(toks, i + 1, 1, _P_FWD_PAT | {None})
            if j is None or not is_noun(j):
                j = _scan(toks, i - 1, -1, _P_BACK_PAT | {None})
            if j is not None and toks[j] in ("wing", "wings"):
                found.setdefault("has_wing_pattern", (2, _P_PATTERN[t]))
    return {a: found[a][1] for a in ATTRIBUTES if a in found}
