"""Open vocabulary (t2i.data.openvocab): curated synonyms, compounds, the embedding table (built here with a fake
embedder; the shipped one read back), function words, typos, and what the pipeline reports."""
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from t2i.data.openvocab import FUNCTION_WORDS, WORD_MAP, OpenVocabulary, coverage, format_note, split_compounds
from t2i.data.openvocab_build import build_word_map, write_word_map
from t2i.data.vocab import Vocabulary

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "damsm-synthbirds-64"
SMALL = ["<end>", "a", "bird", "with", "the", "and", "its", "is", "belly", "bill", "crown", "wings", "legs", "feet",
         "red", "black", "white", "yellow", "grey", "large", "small", "spotted", "striped", "short"]


def test_curated_synonyms_map_onto_what_the_vocabulary_has():
    ov = OpenVocabulary(SMALL)
    m = ov.map("a plump bird whose stomach is crimson, with a jet beak and a slate cap")
    assert ("stomach", "belly") in m.mapped and ("crimson", "red") in m.mapped and ("beak", "bill") in m.mapped
    assert ("plump", "large") in m.mapped and ("cap", "crown") in m.mapped and ("slate", "grey") in m.mapped
    assert m.words == ["a", "large", "bird", "belly", "is", "red", "with", "a", "black", "bill", "and", "a", "grey",
                       "crown"]
    assert m.note().startswith("mapped: plump → large, stomach → belly")
    # the shipped vocabulary has stomach, beak and cap itself: kept, not mapped
    shipped = Vocabulary.load(SHIPPED / "vocab.json", open_map=True).open_map.map("stomach beak cap underbelly")
    assert shipped.kept == ["stomach", "beak", "cap"] and shipped.mapped == [("underbelly", "belly")]
    # targets absent from a vocabulary fall through: nothing for 'crimson' without 'red'
    assert OpenVocabulary(["<end>", "bird", "blue"]).map("a crimson bird").ignored == ["crimson"]
    for w in ("speckled", "dotted"):
        assert ov.map(f"{w} wings").words == ["spotted", "wings"]
    assert ov.map("streaked wings").words == ov.map("barred wings").words == ["striped", "wings"]


def test_compounds_are_split_before_tokenising():
    ov = OpenVocabulary(SMALL)
    m = ov.map("Yellow-bellied, red-crowned and black-winged; long-billed, grey-legged, white-eyed")
    assert m.words[:6] == ["yellow", "belly", "red", "crown", "and", "black"]
    assert ("yellow-bellied", "yellow belly") in m.mapped and ("black-winged", "black wings") in m.mapped
    assert ("grey-legged", "grey legs") in m.mapped and ("white-eyed", "white eyes") in m.mapped
    assert [t for t, _, _ in split_compounds("red-breasted, snow-capped, medium-sized")] == \
        ["red", "breast", "snow", "cap", "medium", "sized"]
    # the shade before a colour is absorbed ('jet-black', 'sky-blue'); 'dark-brown' keeps both words
    assert ov.map("a snow-white belly").words == ["a", "white", "belly"]
    assert [t for t, _, _ in split_compounds("dark-brown")] == ["dark", "brown"]
    assert ov.map("crimson-throated").mapped == [("crimson-throated", "red throat")]  # 'throat' not in SMALL
    assert ov.map("crimson-throated").ignored == ["throat"]


def test_function_words_are_dropped_quietly():
    ov = OpenVocabulary(SMALL)
    m = ov.map("whose belly is red while its wings are of a black hue")
    assert m.ignored == ["hue"] and {"whose", "while", "are", "of"} <= set(m.dropped)
    assert not FUNCTION_WORDS & {w for w, _ in m.mapped}
    assert ov.map("zorp glorb the").ignored == ["zorp", "glorb"]


class FakeEmbedder:
    """Unit vectors by hand: each word near the anchor it names, other words random and far."""

    NEAR = {"tubby": "plump", "paws": "feet", "scarlets": "red", "wintry": "winter"}

    def __init__(self, dim=64):
        self.dim, self.calls = dim, 0

    def _base(self, w):
        v = np.random.default_rng(zlib.crc32(w.encode())).normal(size=self.dim)
        return v / np.linalg.norm(v)

    def encode(self, words):
        self.calls += 1
        out = []
        for w in words:
            v = self._base(self.NEAR.get(w, w))
            if w in self.NEAR:
                v = v + 0.3 * self._base(w + "#")
            out.append(v / np.linalg.norm(v))
        return np.stack(out)


def test_embedding_table_built_with_an_injected_embedder_is_used_at_runtime(tmp_path):
    words = ["tubby", "paws", "scarlets", "wintry", "zebra", "the", "red"]
    table = build_word_map(SMALL, FakeEmbedder(), words, threshold=0.6, word_list="test")
    assert table["map"]["tubby"][0] == "large"  # nearest the curated 'plump', which stands for large
    assert table["map"]["paws"][0] == "feet" and table["map"]["scarlets"][0] == "red"
    assert "wintry" not in table["map"]  # nearest a decoy (scene words are no colour: winter -> white)
    assert "zebra" not in table["map"] and "the" not in table["map"] and "red" not in table["map"]
    (tmp_path / "vocab.json").write_text(json.dumps(SMALL))
    out = write_word_map(tmp_path, FakeEmbedder(), words, threshold=0.6, word_list="test")
    assert out.name == WORD_MAP and json.loads(out.read_text())["map"] == table["map"]
    vocab = Vocabulary.load(tmp_path / "vocab.json", open_map=True)
    enc = vocab.encode("a tubby bird with pink paws")
    assert vocab.decode(enc.ids) == "a large bird with feet" and enc.unknown == ["pink"]
    assert enc.mapped == [("tubby", "large"), ("paws", "feet")]
    # training loads vocabularies without the map: encoding unchanged
    plain = Vocabulary.load(tmp_path / "vocab.json")
    assert plain.open_map is None and plain.decode(plain.encode("a tubby bird with pink paws").ids) == "a bird with"
    # a table built for another vocabulary is left out with a warning (the curated synonyms still apply)
    (tmp_path / "vocab.json").write_text(json.dumps(SMALL + ["blue"]))
    with pytest.warns(UserWarning, match="another vocabulary"):
        stale = Vocabulary.load(tmp_path / "vocab.json", open_map=True)
    assert stale.open_map.table == {} and stale.open_map.lookup("plump")[1] == "large"
    (tmp_path / WORD_MAP).write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="word_map.json: not a t2i-word-map table"):
        Vocabulary.load(tmp_path / "vocab.json", open_map=True)


@pytest.mark.skipif(not (SHIPPED / WORD_MAP).is_file(), reason="no shipped word_map.json")
def test_shipped_table_maps_known_words_and_typos():
    vocab = Vocabulary.load(SHIPPED / "vocab.json", open_map=True)
    ov = vocab.open_map
    assert ov.info["format"] == "t2i-word-map" and ov.table
    for word, targets in {"thigh": {"legs", "feet"}, "biggest": {"large", "big"}, "eyelid": {"eyes"},
                          "thicker": {"stout"}, "petites": {"small", "tiny", "little"}}.items():
        status, target, how = ov.lookup(word)
        assert target in targets and how == "embedding", word
    assert ov.map("yelow brest, blak wigns").words == ["yellow", "breast", "black", "wings"]
    assert ov.lookup("wine")[0] == "ignored"  # a real word one edit from 'wing' is left alone
    assert ov.lookup("winter")[0] == "ignored"  # scene words are not colours
    for path in SHIPPED.parent.glob(f"*/{WORD_MAP}"):  # every shipped table reads back and matches its vocabulary
        Vocabulary.load(path.parent / "vocab.json", open_map=True)


def test_coverage_before_and_after():
    caps = ["a plump bird whose underbelly is crimson", "zorp wings"]
    before = coverage(caps, SMALL)
    after = coverage(caps, SMALL, OpenVocabulary(SMALL))
    # content words: plump bird underbelly crimson zorp wings (whose, is, a: function words)
    assert before["content_words"] == after["content_words"] == 6
    assert before["kept"] == pytest.approx(2 / 6) and before["ignored"] == pytest.approx(4 / 6)
    assert after["mapped"] == pytest.approx(3 / 6) and after["ignored"] == pytest.approx(1 / 6)
    assert after["mapped_by"] == {"synonym": 3} and after["top_ignored"] == ["zorp"]


def test_format_note():
    assert format_note([("crimson", "red")], ["plump"]) == "mapped: crimson → red; ignored: plump"
    assert format_note([], []) == ""


@pytest.fixture(scope="module")
def tiny_pipe():
    from t2i.models.registry import get_family
    from t2i.pipeline import TextToImagePipeline
    from t2i.text.damsm import TextEncoder

    fam = get_family("dfgan")
    cfg = fam.config_from_dict({"img_size": 32, "nf": 4, "text_dim": 16, "z_dim": 8})
    vocab = Vocabulary(SMALL)
    from t2i.data.openvocab import OpenVocabulary as OV

    vocab.open_map = OV(vocab.itos)
    torch.manual_seed(0)
    return TextToImagePipeline("dfgan", cfg, fam.build_generator(cfg), TextEncoder(len(vocab), 8, 16, 0.0), vocab)


def test_pipeline_result_carries_mapped_and_ignored(tiny_pipe):
    res = tiny_pipe(["a plump crimson-bellied bird, flibbertigibbet", "a red bird"], n=2)
    assert res.mapped[0] == res.mapped[1] == [("plump", "large"), ("crimson-bellied", "red belly")]
    assert res.unknown[0] == ["flibbertigibbet"] and res.mapped[2] == [] and res.unknown[2] == []
    assert res.words[0] == ["a", "large", "red", "belly", "bird"] and res.cut == [0, 0, 0, 0]
    from t2i.studio import vocab_notes

    notes = vocab_notes(res.mapped[0], res.unknown[0])
    assert "plump → `large`" in notes[0] and "~~flibbertigibbet~~" in notes[1]


def test_only_unknown_words_give_a_clear_error(tiny_pipe):
    from t2i.pipeline import CaptionError

    with pytest.raises(CaptionError, match="unknown: zorp, glorb"):
        tiny_pipe("zorp glorb")
    with pytest.raises(CaptionError, match="only words like"):
        tiny_pipe("whose of were")
