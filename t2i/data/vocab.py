"""AttnGAN caption convention: lower-case, RegexpTokenizer(r'\\w+'), drop non-ASCII, index 0 = <end>.

At inference a Vocabulary may carry an open map (t2i.data.openvocab; `Vocabulary.load(path, open_map=True)`):
`encode` then maps words outside the vocabulary onto it ("crimson" -> red) before looking them up. Training loads
vocabularies without one, so the training data is encoded exactly as before."""
from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from nltk.tokenize import RegexpTokenizer

_TOKENIZER = RegexpTokenizer(r"\w+")
END = "<end>"
MAX_WORDS = 18  # AttnGAN's caption length


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens with non-ASCII characters dropped (AttnGAN)."""
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    return _TOKENIZER.tokenize(text)


@dataclass
class Encoded:
    """A caption as token ids: `ids` padded with 0 to `max_words`, `length` real tokens, `unknown` dropped words
    (with an open map: the content words nothing fits), `mapped` (word, replacement) pairs of the open map, `cut`
    known words beyond max_words."""

    ids: list[int]
    length: int
    unknown: list[str]
    mapped: list[tuple[str, str]] = field(default_factory=list)
    cut: int = 0


class Vocabulary:
    """Word <-> index map; index 0 is <end> (also the padding id)."""

    def __init__(self, words: list[str]):
        if not words or words[0] != END:
            words = [END] + [w for w in words if w != END]
        self.itos = list(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has duplicate words")
        self.open_map = None  # t2i.data.openvocab.OpenVocabulary applied by encode (inference only), or None

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    @classmethod
    def build(cls, captions, min_count: int = 1) -> "Vocabulary":
        """From an iterable of caption strings; words sorted by frequency then alphabetically (deterministic)."""
        counts = Counter(t for c in captions for t in tokenize(c))
        words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls([END] + words)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.itos))

    @classmethod
    def load(cls, path: str | Path, open_map: bool = False) -> "Vocabulary":
        """From a vocab.json. open_map: attach the open vocabulary (curated synonyms, compounds and the folder's
        word_map.json when there is one) for inference; never for training."""
        try:
            words = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"vocabulary file not found: {path}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"vocabulary file {path} is not valid JSON: {e}") from None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError(f"vocabulary file {path} must hold a JSON list of strings")
        vocab = cls(words)
        if open_map:
            from t2i.data.openvocab import OpenVocabulary

            vocab.open_map = OpenVocabulary.for_folder(vocab.itos, Path(path).parent)
        return vocab

    def encode(self, text: str, max_words: int = MAX_WORDS, rng: random.Random | None = None) -> Encoded:
        """Token ids of `text`. Longer than max_words: a random order-keeping subset when `rng` is given
        (training), else the first max_words (evaluation). Words not in the vocabulary are dropped and listed;
        with an open map they are mapped first, and function words are dropped without being listed."""
        mapped = []
        if self.open_map is not None:
            m = self.open_map.map(text)
            toks, unknown, mapped = m.words, m.ignored, m.mapped
        else:
            toks = tokenize(text)
            unknown = [t for t in toks if t not in self.stoi]
        ids = [self.stoi[t] for t in toks if t in self.stoi]
        cut = max(0, len(ids) - max_words)
        if len(ids) > max_words:
            if rng is not None:
                keep = sorted(rng.sample(range(len(ids)), max_words))
                ids = [ids[i] for i in keep]
            else:
                ids = ids[:max_words]
        length = len(ids)
        return Encoded(ids + [0] * (max_words - length), length, unknown, mapped, cut)

    def batch(self, texts: list[str], max_words: int = MAX_WORDS) -> tuple[torch.Tensor, torch.Tensor, list[list[str]]]:
        """Encode several captions: (ids [N, max_words] long, lengths [N] long, unknown words per caption)."""
        enc = [self.encode(t, max_words) for t in texts]
        return (torch.tensor([e.ids for e in enc], dtype=torch.long),
                torch.tensor([e.length for e in enc], dtype=torch.long),
                [e.unknown for e in enc])

    def decode(self, ids) -> str:
        return " ".join(self.itos[int(i)] for i in ids if int(i) != 0)
