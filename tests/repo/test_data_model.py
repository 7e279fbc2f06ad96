"""Interop data-model vectors: JSON <-> DAG-CBOR round trips, CIDs, valid and invalid values."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sonet.repo import cbor
from sonet.repo.atjson import DataModelError, data_to_json, json_to_data, json_to_record
from sonet.repo.cid import CID, InvalidCidError, cid_for_cbor, parse_cid

from ..conftest import interop_dir


def _vectors(name: str) -> list[dict[str, Any]]:
    path = interop_dir() / "data-model" / name
    return json.loads(path.read_text()) if path.exists() else []


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v.get("note", str(i)) for i, v in enumerate(vectors)]


FIXTURES = _vectors("data-model-fixtures.json")
VALID = _vectors("data-model-valid.json")
INVALID = _vectors("data-model-invalid.json")


def _b64decode(s: str) -> bytes:
    return base64.b64decode(s + "=" * (-len(s) % 4))


@pytest.mark.parametrize("vector", FIXTURES, ids=[str(i) for i in range(len(FIXTURES))])
def test_fixture_round_trip(interop: Path, vector: dict[str, Any]) -> None:
    expected_cbor = _b64decode(vector["cbor_base64"])
    data = json_to_record(vector["json"])
    encoded = cbor.encode(data)
    assert encoded == expected_cbor
    assert cid_for_cbor(encoded).encode() == vector["cid"]
    decoded = cbor.decode(expected_cbor)
    assert decoded == data
    assert data_to_json(decoded) == vector["json"]
    assert cbor.decode_json(expected_cbor) == vector["json"]


@pytest.mark.parametrize("vector", VALID, ids=_ids(VALID))
def test_valid_values_accepted(interop: Path, vector: dict[str, Any]) -> None:
    data = json_to_record(vector["json"])
    assert cbor.decode(cbor.encode(data)) == data


@pytest.mark.parametrize("vector", INVALID, ids=_ids(INVALID))
def test_invalid_values_rejected(interop: Path, vector: dict[str, Any]) -> None:
    with pytest.raises(DataModelError):
        json_to_record(vector["json"])


def test_vectors_were_found(interop: Path) -> None:
    assert FIXTURES and VALID and INVALID


@pytest.mark.parametrize(
    "hex_bytes",
    [
        "a2616201616101",  # keys out of canonical order
        "1801",  # non-minimal integer
        "c101",  # tag other than 42
        "0101",  # trailing data
        "a1016161",  # integer map key
        "5a000000ff",  # truncated byte string
        "",
    ],
)
def test_malformed_cbor_raises_typed_error(hex_bytes: str) -> None:
    with pytest.raises(cbor.CborDecodeError):
        cbor.decode(bytes.fromhex(hex_bytes))


def test_oversize_block_rejected() -> None:
    with pytest.raises(cbor.CborDecodeError):
        cbor.decode(b"\x40" * 100, max_size=10)


def test_floats_rejected_after_decode() -> None:
    with pytest.raises(cbor.CborDecodeError):
        cbor.check_no_floats({"a": [1, {"b": 1.5}]})
    cbor.check_no_floats({"a": [1, {"b": "x"}]})


def test_bytes_and_links_stay_apart() -> None:
    cid = cid_for_cbor(b"\xa0")
    value = {"b": cid.cid_bytes, "l": cid}
    decoded = cbor.decode(cbor.encode(value))
    assert isinstance(decoded["b"], bytes)
    assert isinstance(decoded["l"], CID)
    assert json_to_data(data_to_json(value)) == value


@pytest.mark.parametrize("text", ["", "b", "Qm123", "bafy!!!", "bafkreiccldh766hwcnuxnf2wh6jg"])
def test_bad_cid_strings(text: str) -> None:
    with pytest.raises(InvalidCidError):
        parse_cid(text)


def test_cid_string_round_trip() -> None:
    cid = cid_for_cbor(b"\xa0")
    assert parse_cid(cid.encode()) == cid
