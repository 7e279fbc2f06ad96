"""Every line of the atproto interop syntax vectors (interop/syntax/*.txt) as its own test case."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sonet.syntax.aturi import AtUri
from sonet.syntax.datetime import normalize_datetime, parse_datetime
from sonet.syntax.errors import InvalidSyntaxError
from sonet.syntax.formats import ensure_format, validate_format
from sonet.syntax.language import is_valid_language, parse_language
from tests.conftest import interop_dir

FORMAT_OF_FILE_PREFIX = {
    "atidentifier": "at-identifier",
    "aturi": "at-uri",
    "recordkey": "record-key",
}
PARSERS: dict[str, Callable[[str], object]] = {
    "datetime": parse_datetime,
    "language": parse_language,
}


def _vectors(kind: str) -> list[object]:
    """``(file name, line)`` params for every vector line in ``*_<kind>.txt``."""
    folder = interop_dir() / "syntax"
    if not folder.is_dir():
        return [pytest.param("missing", "", id="interop-missing")]
    params: list[object] = []
    for path in sorted(folder.glob(f"*_{kind}.txt")):
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            if line and not line.startswith("#"):
                label = f"{path.stem}:{number}:{line[:40]}"
                params.append(pytest.param(path.name, line, id=label))
    assert params, f"no *_{kind}.txt vectors in {folder}"
    return params


def _format(file_name: str) -> str:
    prefix = file_name.split("_", 1)[0]
    return FORMAT_OF_FILE_PREFIX.get(prefix, prefix)


@pytest.mark.parametrize(("file_name", "line"), _vectors("syntax_valid"))
def test_valid(interop: Path, file_name: str, line: str) -> None:
    fmt = _format(file_name)
    assert validate_format(fmt, line)
    ensure_format(fmt, line)


@pytest.mark.parametrize(("file_name", "line"), _vectors("syntax_invalid"))
def test_invalid(interop: Path, file_name: str, line: str) -> None:
    fmt = _format(file_name)
    assert not validate_format(fmt, line)
    with pytest.raises(InvalidSyntaxError):
        ensure_format(fmt, line)


@pytest.mark.parametrize(("file_name", "line"), _vectors("parse_invalid"))
def test_parse_invalid(interop: Path, file_name: str, line: str) -> None:
    parse = PARSERS[_format(file_name)]
    with pytest.raises(InvalidSyntaxError):
        parse(line)


@pytest.mark.parametrize(("file_name", "line"), _vectors("syntax_valid"))
def test_valid_values_parse(interop: Path, file_name: str, line: str) -> None:
    """Valid AT URIs round-trip; valid datetimes and language tags parse."""
    fmt = _format(file_name)
    if fmt == "at-uri":
        assert str(AtUri.parse(line)) == line
    elif fmt == "datetime" and not line.startswith("0000"):  # year 0 is beyond Python's datetime
        parsed = parse_datetime(line)
        assert parsed.tzinfo is not None
        to_millis = parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)
        assert parse_datetime(normalize_datetime(line)) == to_millis
    elif fmt == "language":
        assert parse_language(line).tag == line


def test_language_parse_invalid_vectors_are_well_formed(interop: Path) -> None:
    """The lexicon ``language`` format accepts these (well-formed); only parsing rejects them."""
    lines = (interop / "syntax" / "language_parse_invalid.txt").read_text().split("\n")
    tags = [line for line in lines if line and not line.startswith("#")]
    assert tags
    assert all(is_valid_language(tag) for tag in tags)
