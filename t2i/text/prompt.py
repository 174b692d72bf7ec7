"""The checks of a caption a user typed, before a model reads it: the pipelines (t2i.pipeline, t2i.edit) and the
studio share them, so a bad caption gets the same CaptionError everywhere. t2i.pipeline re-exports these names."""
from __future__ import annotations

from t2i.data.vocab import Vocabulary, tokenize

MAX_CAPTION_CHARS = 2000  # longer input is cut here before tokenising (only 18 words are used anyway)


class CaptionError(ValueError):
    """A caption the model cannot use (empty, or no word it knows); the message says what to do."""


def check_caption(text) -> str:
    if not isinstance(text, str):
        raise CaptionError(f"a caption must be text, got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise CaptionError("the caption is empty: describe a bird, e.g. 'a small bird with a red belly and black wings'")
    return text[:MAX_CAPTION_CHARS]


def encode_caption(vocab: Vocabulary, caption: str, max_words: int):
    """vocab.encode(caption) for a checked caption (mapped through the vocabulary's open map when it has one); a
    CaptionError that names the unknown words when no word of it is in (or maps onto) the vocabulary."""
    enc = vocab.encode(caption, max_words)
    if enc.length == 0:
        hint = (f" (unknown: {', '.join(enc.unknown[:8])})" if enc.unknown else
                " (only words like 'the' or 'with')" if tokenize(caption) else " (no English words found)")
        raise CaptionError(f"none of the words of {caption[:60]!r} are in the model's vocabulary or map onto it{hint}; "
                           "describe the bird's colours and parts, e.g. 'a red bird with black wings'")
    return enc
