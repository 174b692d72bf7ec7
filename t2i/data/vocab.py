"""AttnGAN caption convention: lower-case, RegexpTokenizer(r'\\w+'), drop non-ASCII, index 0 = <end>."""
from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
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
    """A caption as token ids: `ids` padded with 0 to `max_words`, `length` real tokens, `unknown` dropped words."""

    ids: list[int]
    length: int
    unknown: list[str]


class Vocabulary:
    """Word <-> index map; index 0 is <end> (also the padding id)."""

    def __init__(self, words: list[str]):
        if not words or words[0] != END:
            words = [END] + [w for w in words if w != END]
        self.itos = list(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has duplicate words")

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
    def load(cls, path: str | Path) -> "Vocabulary":
        try:
            words = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"vocabulary file not found: {path}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"vocabulary file {path} is not valid JSON: {e}") from None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError(f"vocabulary file {path} must hold a JSON list of strings")
        return cls(words)

    def encode(self, text: str, max_words: int = MAX_WORDS, rng: random.Random | None = None) -> Encoded:
        """Token ids of `text`. Longer than max_words: a random order-keeping subset when `rng` is given
        (training), else the first max_words (evaluation). Words not in the vocabulary are dropped and listed."""
        toks = tokenize(text)
        unknown = [t for t in toks if t not in self.stoi]
        ids = [self.stoi[t] for t in toks if t in self.stoi]
        if len(ids) > max_words:
            if rng is not None:
                keep = sorted(rng.sample(range(len(ids)), max_words))
                ids = [ids[i] for i in keep]
            else:
                ids = ids[:max_words]
        length = len(ids)
        return Encoded(ids + [0] * (max_words - length), length, unknown)

    def batch(self, texts: list[str], max_words: int = MAX_WORDS) -> tuple[torch.Tensor, torch.Tensor, list[list[str]]]:
        """Encode several captions: (ids [N, max_words] long, lengths [N] long, unknown words per caption)."""
        enc = [self.encode(t, max_words) for t in texts]
        return (torch.tensor([e.ids for e in enc], dtype=torch.long),
                torch.tensor([e.length for e in enc], dtype=torch.long),
                [e.unknown for e in enc])

    def decode(self, ids) -> str:
        return " ".join(self.itos[int(i)] for i in ids if int(i) != 0)
