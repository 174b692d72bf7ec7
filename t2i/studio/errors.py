"""What the studio tells a user: `StudioError` (something the user can fix), yes/no inputs, and the text shown
for any exception."""
from __future__ import annotations

import re


class StudioError(ValueError):
    """Something the user can fix (no model, bad choice); the message is shown as is."""


def parse_flag(name: str, value) -> bool:
    """A yes/no input: a bool, 0/1, or true/false, yes/no, on/off (any case); anything else is refused
    (bool("no") would be True)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise StudioError(f"{name} must be yes or no, got {value!r}")


def _tidy(msg: str, max_word: int = 100, max_len: int = 700) -> str:
    """Shorten what a user typed when it comes back inside a message (a 5,000-character 'word' ...)."""
    msg = re.sub(r"\S{%d,}" % (max_word + 1), lambda m: m.group(0)[:max_word] + "…", msg)
    return msg if len(msg) <= max_len else msg[:max_len] + "…"


def user_message(err: BaseException) -> str:
    """The text to show for an exception raised by the studio (user errors as is; anything else, briefly)."""
    if isinstance(err, ValueError):  # CaptionError, ImageInputError, StudioError, CheckpointError, pipelines' errors
        return _tidy(str(err))
    return _tidy(f"Something went wrong ({type(err).__name__}: {err}). Try again, or try another model.")

