"""Self-labels of posts and profiles as ``com.atproto.label.defs#label`` views.

https://atproto.com/specs/label#self-labels-in-records: a record's ``labels``
(``com.atproto.label.defs#selfLabels``) become labels whose source is the record's author,
dated by the record's ``createdAt`` (the epoch when it has none), as the reference AppView
shows them. Labeler labels are not hydrated by Sonet.
"""

from __future__ import annotations

from typing import Any

from sonet.appview.ingest.notify import uri_did
from sonet.appview.ingest.times import EPOCH, normalize_time

__all__ = ["self_labels"]

_SELF_LABELS = "com.atproto.label.defs#selfLabels"


def self_labels(uri: str, cid: str, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The self-labels of ``record`` (stored at ``uri`` with ``cid``)."""
    labels = record.get("labels")
    if not isinstance(labels, dict) or labels.get("$type") != _SELF_LABELS:
        return []
    values = labels.get("values")
    if not isinstance(values, list):
        return []
    cts = normalize_time(record.get("createdAt"), EPOCH)
    src = uri_did(uri)
    return [
        {"src": src, "uri": uri, "cid": cid, "val": v["val"], "cts": cts}
        for v in values
        if isinstance(v, dict) and isinstance(v.get("val"), str)
    ]
