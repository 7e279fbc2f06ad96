"""Language tags (the lexicon ``language`` format), https://atproto.com/specs/lexicon#language.

A lexicon language string must be a *well-formed* BCP 47 tag (RFC 5646 §2.1),
with the primary language subtag written as 2-3 lowercase letters as the
interop vectors require (``JA`` and the reserved 4-8 letter form are rejected);
:func:`parse_language` additionally rejects tags that are well-formed but not
*valid* because a variant or extension singleton repeats (RFC 5646 §2.2.9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sonet.syntax.errors import InvalidSyntaxError

_ALNUM = "[a-zA-Z0-9]"
_LANGTAG = (
    r"(?P<language>[a-z]{2,3}(?:-[a-zA-Z]{3}){0,3})"
    r"(?:-(?P<script>[a-zA-Z]{4}))?"
    r"(?:-(?P<region>[a-zA-Z]{2}|[0-9]{3}))?"
    rf"(?P<variants>(?:-(?:{_ALNUM}{{5,8}}|[0-9]{_ALNUM}{{3}}))*)"
    rf"(?P<extensions>(?:-[a-wyzA-WYZ0-9](?:-{_ALNUM}{{2,8}})+)*)"
    rf"(?:-(?P<private>[xX](?:-{_ALNUM}{{1,8}})+))?"
)
_PRIVATE_USE = rf"[xX](?:-{_ALNUM}{{1,8}})+"
_GRANDFATHERED = (
    "en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo"
    "|i-pwn|i-tao|i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE"
    "|art-lojban|cel-gaulish|no-bok|no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang"
)
_LANGUAGE_TAG = re.compile(_LANGTAG)
_GRANDFATHERED_TAG = re.compile(_GRANDFATHERED)
_WELL_FORMED = re.compile(f"{_GRANDFATHERED}|{_LANGTAG}|{_PRIVATE_USE}")
_KIND = "language tag"


@dataclass(frozen=True, slots=True)
class LanguageTag:
    """The parts of a BCP 47 language tag, as written (case is not normalized).

    Grandfathered and private-use-only tags keep the whole tag in ``language``.
    """

    tag: str
    language: str
    script: str | None = None
    region: str | None = None
    variants: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    private_use: str | None = None


def is_valid_language(s: str) -> bool:
    """True if ``s`` is a well-formed BCP 47 language tag."""
    return isinstance(s, str) and _WELL_FORMED.fullmatch(s) is not None


def ensure_valid_language(s: str) -> None:
    """Raise :class:`InvalidSyntaxError` unless ``s`` is a well-formed BCP 47 language tag."""
    if not is_valid_language(s):
        raise InvalidSyntaxError(_KIND, s, "not a well-formed BCP 47 (RFC 5646) language tag")


def parse_language(s: str) -> LanguageTag:
    """Split a well-formed tag into its parts; raise if a variant or extension singleton repeats."""
    ensure_valid_language(s)
    match = _LANGUAGE_TAG.fullmatch(s)
    if match is None or _GRANDFATHERED_TAG.fullmatch(s) is not None:
        return LanguageTag(tag=s, language=s)
    variants = tuple(match["variants"].split("-")[1:])
    extensions = _split_extensions(match["extensions"])
    _ensure_unique(s, variants, "variant subtag")
    _ensure_unique(s, tuple(ext[0] for ext in extensions), "extension singleton")
    return LanguageTag(
        tag=s,
        language=match["language"],
        script=match["script"],
        region=match["region"],
        variants=variants,
        extensions=extensions,
        private_use=match["private"],
    )


def _split_extensions(extensions: str) -> tuple[str, ...]:
    """``"-u-co-phonebk-t-en"`` -> ``("u-co-phonebk", "t-en")``; singletons are the 1-char subtags."""
    groups: list[list[str]] = []
    for subtag in extensions.split("-")[1:]:
        if len(subtag) == 1:
            groups.append([subtag])
        else:
            groups[-1].append(subtag)
    return tuple("-".join(group) for group in groups)


def _ensure_unique(tag: str, subtags: tuple[str, ...], what: str) -> None:
    seen: set[str] = set()
    for subtag in subtags:
        folded = subtag.lower()
        if folded in seen:
            raise InvalidSyntaxError(_KIND, tag, f"{what} {subtag!r} is repeated (RFC 5646 §2.2.9)")
        seen.add(folded)
