"""Sonet against logs made or judged by the reference did:plc library (fixtures/plc/README.md)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sonet.crypto import import_private_hex
from sonet.identity import plc_errors
from sonet.identity.plc_document import format_did_doc
from sonet.identity.plc_log import (
    LogEntry,
    apply_op,
    parse_log_entry,
    validate_operation_log,
    verify_audit_log,
)
from sonet.identity.plc_ops import did_for_genesis, op_cid, update_operation
from sonet.identity.plc_validate import parse_operation
from sonet.syntax.datetime import parse_datetime

FIXTURES = Path(__file__).parent / "fixtures" / "plc"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def audit_of(fixture: dict[str, Any]) -> list[LogEntry]:
    return [parse_log_entry(entry) for entry in fixture["audit"]]


def test_fixtures_present() -> None:
    assert any(n.startswith("ref_") for n in NAMES)
    assert any(n.startswith("sonet_") for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_same_did_and_cids(name: str) -> None:
    fixture = load(name)
    assert did_for_genesis(fixture["audit"][0]["operation"]) == fixture["did"]
    for entry in fixture["audit"]:
        assert op_cid(entry["operation"]) == entry["cid"]


@pytest.mark.parametrize("name", NAMES)
def test_audit_log_replays_to_the_same_state(name: str) -> None:
    fixture = load(name)
    data = verify_audit_log(fixture["did"], audit_of(fixture))
    assert data == fixture["data"]
    if data is None:
        assert fixture["document"] is None
    else:
        assert format_did_doc(data) == fixture["document"]


@pytest.mark.parametrize("name", NAMES)
def test_valid_chain(name: str) -> None:
    fixture = load(name)
    ops = [parse_operation(op) for op in fixture["log"]]
    assert validate_operation_log(fixture["did"], ops) == fixture["data"]


@pytest.mark.parametrize("name", NAMES)
def test_reference_rejections_are_rejected(name: str) -> None:
    fixture = load(name)
    audit = audit_of(fixture)
    for case in fixture["rejected"]:
        expected = getattr(plc_errors, case["error"], plc_errors.PlcError)
        replayed: list[LogEntry] = []
        for entry in audit[: case["afterEntries"]]:
            replayed = apply_op(fixture["did"], replayed, entry.operation, entry.created_at)
        with pytest.raises(expected):
            apply_op(
                fixture["did"],
                replayed,
                parse_operation(case["operation"]),
                parse_datetime(case["createdAt"]),
            )


@pytest.mark.parametrize("name", [n for n in NAMES if load(n)["data"] is not None])
def test_sonet_extends_the_log(name: str) -> None:
    fixture = load(name)
    audit = audit_of(fixture)
    head = [e for e in audit if not e.nullified][-1]
    keys = {k["did"]: k for k in fixture["keys"].values()}
    rotation = next(keys[d] for d in fixture["data"]["rotationKeys"] if d in keys)
    signer = import_private_hex(rotation["privateHex"], rotation["curve"])
    assert head.operation["type"] != "plc_tombstone"
    op = update_operation(head.operation, signer, handle="extended.test")
    log = apply_op(fixture["did"], audit, op, head.created_at + timedelta(days=30))
    data = verify_audit_log(fixture["did"], log)
    assert data is not None
    assert data["alsoKnownAs"][0] == "at://extended.test"
