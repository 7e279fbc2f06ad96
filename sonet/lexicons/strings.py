"""String lengths as lexicon constraints count them.

https://atproto.com/specs/lexicon#string: ``minLength``/``maxLength`` count UTF-8 bytes and
``minGraphemes``/``maxGraphemes`` count Unicode extended grapheme clusters (UAX #29), which the
``regex`` package matches with ``\\X``.
"""

from __future__ import annotations

import regex

__all__ = ["grapheme_len", "utf8_len"]

_GRAPHEME = regex.compile(r"\X")


def utf8_len(text: str) -> int:
    """Length of ``text`` in UTF-8 bytes (a lone surrogate counts as its 3-byte encoding)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def grapheme_len(text: str) -> int:
    """Number of extended grapheme clusters in ``text``."""
    if text.isascii():
        # In ASCII only CR LF forms a cluster of more than one character.
        return len(text) - text.count("\r\n")
    return len(_GRAPHEME.findall(text))
