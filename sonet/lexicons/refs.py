"""Lexicon references: ``#name`` (local), ``nsid`` (its ``main``) and ``nsid#name``.

https://atproto.com/specs/lexicon#lexicon-files: definitions are referenced with fragment
syntax; a bare NSID references the ``main`` definition. Internally every reference is kept in
its absolute form ``nsid#name``.
"""

from __future__ import annotations

from sonet.lexicons.errors import LexiconError
from sonet.syntax.nsid import is_valid_nsid

__all__ = ["absolute_ref", "is_valid_def_name", "is_valid_ref", "split_ref"]


def is_valid_def_name(name: object) -> bool:
    """True for a usable definition name: a non-empty string without ``#`` or whitespace."""
    return (
        isinstance(name, str)
        and name != ""
        and "#" not in name
        and not any(c.isspace() for c in name)
    )


def split_ref(ref: str) -> tuple[str, str]:
    """Split a reference into ``(nsid, name)``; ``nsid`` is ``""`` for a local ``#name``.

    Raises :class:`LexiconError` if the reference is not syntactically valid.
    """
    if not isinstance(ref, str):
        raise LexiconError(f"a reference must be a string, not {type(ref).__name__}")
    nsid, hash_mark, name = ref.partition("#")
    if not hash_mark:
        name = "main"
    bad_nsid = (nsid != "" or not hash_mark) and not is_valid_nsid(nsid)
    if bad_nsid or not is_valid_def_name(name):
        raise LexiconError(f"invalid lexicon reference {ref!r}")
    return nsid, name


def is_valid_ref(ref: object) -> bool:
    """True if ``ref`` is a syntactically valid local or global reference."""
    if not isinstance(ref, str):
        return False
    try:
        split_ref(ref)
    except LexiconError:
        return False
    return True


def absolute_ref(ref: str, base_nsid: str | None = None) -> str:
    """The absolute ``nsid#name`` form of ``ref``, resolving ``#name`` against ``base_nsid``."""
    nsid, name = split_ref(ref)
    if not nsid:
        if base_nsid is None:
            raise LexiconError(f"local reference {ref!r} needs the NSID of its document")
        nsid = base_nsid
    return f"{nsid}#{name}"
