"""Every bundled lexicon document loads and all its references resolve within the bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonet.lexicons import LexiconNotFoundError, Lexicons
from sonet.lexicons.document import iter_refs
from sonet.lexicons.registry import SCHEMAS_DIR, bundled_schema_files, load_lexicon_file

FILES = bundled_schema_files()


def _id(path: Path) -> str:
    return str(path.relative_to(SCHEMAS_DIR))


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_bundled_file_loads(path: Path) -> None:
    doc = load_lexicon_file(path)
    assert Lexicons.bundled().get(doc.id) is not None


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_bundled_refs_resolve(path: Path) -> None:
    bundled = Lexicons.bundled()
    doc = load_lexicon_file(path)
    missing = []
    for where, ref in iter_refs(doc):
        try:
            bundled.get_def(ref)
        except LexiconNotFoundError:
            missing.append(f"{where} -> {ref}")
    assert not missing, "unresolved refs:\n" + "\n".join(missing)


def test_bundled_file_names_match_ids() -> None:
    for path in FILES:
        doc = load_lexicon_file(path)
        assert _id(path) == doc.id.replace(".", "/") + ".json"


def test_bundled_collection_holds_every_file() -> None:
    assert len(Lexicons.bundled()) == len(FILES)
