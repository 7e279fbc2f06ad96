"""A collection of lexicon documents with reference resolution and compiled validators.

https://atproto.com/specs/lexicon#lexicon-files: a definition is addressed as ``nsid#name``;
a bare ``nsid`` means its ``main`` definition.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import orjson

from sonet.lexicons.compiler import Validator, compile_named, lazy_ref
from sonet.lexicons.document import LexiconDoc, parse_lexicon
from sonet.lexicons.errors import LexiconError, LexiconNotFoundError
from sonet.lexicons.refs import absolute_ref

__all__ = ["SCHEMAS_DIR", "Lexicons", "bundled_schema_files", "load_lexicon_file"]

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
"""Where the lexicon documents bundled with Sonet live (``**/*.json``)."""

_T = TypeVar("_T")
_MAX_EAGER_DEPTH = 32
"""Refs nested deeper than this while compiling are bound lazily, bounding the recursion."""


class Lexicons:
    """Lexicon documents by NSID, with definitions compiled into validators on first use.

    Documents can not be replaced or removed once added, so compiled validators stay valid.
    """

    def __init__(self, docs: Iterable[Mapping[str, Any] | LexiconDoc] = ()) -> None:
        self._docs: dict[str, LexiconDoc] = {}
        self._cache: dict[object, Any] = {}
        self._compiling: set[str] = set()
        self._lock = threading.Lock()
        for doc in docs:
            self.add(doc)

    @classmethod
    def bundled(cls) -> Lexicons:
        """The shared collection of every document under :data:`SCHEMAS_DIR` (loaded once)."""
        return _load_bundled()

    def add(self, doc: Mapping[str, Any] | LexiconDoc) -> LexiconDoc:
        """Validate and add a document; raises :class:`LexiconError` if it is invalid or its
        NSID is already present."""
        parsed = doc if isinstance(doc, LexiconDoc) else parse_lexicon(doc)
        with self._lock:
            if parsed.id in self._docs:
                raise LexiconError(f"lexicon {parsed.id} is already registered")
            self._docs[parsed.id] = parsed
        return parsed

    def get(self, nsid: str) -> LexiconDoc | None:
        """The document with this NSID, if present."""
        return self._docs.get(nsid)

    def __contains__(self, nsid: object) -> bool:
        return nsid in self._docs

    def __iter__(self) -> Iterator[LexiconDoc]:
        return iter(list(self._docs.values()))

    def __len__(self) -> int:
        return len(self._docs)

    def get_def(self, ref: str, kinds: Iterable[str] | None = None) -> Mapping[str, Any]:
        """The schema of ``nsid#name`` (``nsid`` alone means ``main``).

        Raises :class:`LexiconNotFoundError` if it is not loaded, and :class:`LexiconError` if
        ``kinds`` is given and the definition's type is not among them.
        """
        uri = absolute_ref(ref)
        nsid, _, name = uri.partition("#")
        doc = self._docs.get(nsid)
        if doc is None or name not in doc.defs:
            raise LexiconNotFoundError(f"Lexicon not found: {uri.removesuffix('#main')}")
        definition = doc.defs[name]
        if kinds is not None:
            allowed = tuple(kinds)
            if definition["type"] not in allowed:
                raise LexiconError(f"Not a {' or '.join(allowed)} lexicon: {ref}")
        return definition

    def validator(self, ref: str) -> Validator:
        """The compiled validator of a named definition (absolute ``nsid#name`` or ``nsid``)."""
        uri = absolute_ref(ref)
        return self.cached(("def", uri), lambda: self._compile(uri))

    def cached(self, key: object, build: Callable[[], _T]) -> _T:
        """Memoise ``build()`` under ``key`` for the lifetime of this collection."""
        try:
            return self._cache[key]  # type: ignore[no-any-return]
        except KeyError:
            value = build()
            return self._cache.setdefault(key, value)  # type: ignore[no-any-return]

    def _compile(self, uri: str) -> Validator:
        definition = self.get_def(uri)
        self._compiling.add(uri)
        try:
            return compile_named(definition, uri.partition("#")[0], self.link)
        finally:
            self._compiling.discard(uri)

    def link(self, uri: str) -> Validator:
        """Resolver for the compiler: the validator of the absolute ref ``uri``, bound directly
        to the compiled target, or lazily for a cycle, a very deep chain or a definition that is
        not loaded (yet)."""
        compiled: Validator | None = self._cache.get(("def", uri))
        if compiled is not None:
            return compiled
        nsid, _, name = uri.partition("#")
        doc = self._docs.get(nsid)
        deferred = uri in self._compiling or len(self._compiling) >= _MAX_EAGER_DEPTH
        if deferred or doc is None or name not in doc.defs:
            return lazy_ref(uri, self.validator)
        return self.validator(uri)


def load_lexicon_file(path: Path) -> LexiconDoc:
    """Read and validate one lexicon JSON file; problems raise :class:`LexiconError`."""
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise LexiconError(f"{path}: can not read lexicon JSON: {exc}") from exc
    try:
        return parse_lexicon(raw)
    except LexiconError as exc:
        raise LexiconError(f"{path}: {exc}") from exc


def bundled_schema_files() -> list[Path]:
    """Every ``*.json`` file under :data:`SCHEMAS_DIR`, sorted (empty if it does not exist)."""
    if not SCHEMAS_DIR.is_dir():
        return []
    return sorted(SCHEMAS_DIR.rglob("*.json"))


@functools.cache
def _load_bundled() -> Lexicons:
    return Lexicons(load_lexicon_file(path) for path in bundled_schema_files())
