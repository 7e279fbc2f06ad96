"""Exceptions of the lexicon loader and validator (https://atproto.com/specs/lexicon)."""

from __future__ import annotations

__all__ = ["LexiconError", "LexiconNotFoundError", "LexiconValidationError"]


class LexiconError(ValueError):
    """A lexicon document (or one of its definitions) is malformed or used as the wrong kind."""


class LexiconNotFoundError(LookupError):
    """No loaded lexicon document holds the requested definition."""


class LexiconValidationError(ValueError):
    """A value does not conform to its lexicon schema.

    ``path`` locates the offending value (``Record/embed/images/0/alt``) and ``reason`` says
    what is wrong with it (``must be a string``); ``str()`` joins both, the way the reference
    implementation phrases its ``InvalidRequest`` messages.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path} {reason}")
