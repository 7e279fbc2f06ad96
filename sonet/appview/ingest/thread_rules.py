"""Reply and quote rules checked when a post is indexed, as the reference AppView applies them.

https://atproto.com/lexicons/app-bsky-feed (``threadgate``, ``postgate``):

- a reply's root is invalid when its parent is not indexed, is itself invalid, or does not belong
  to the same thread (replying to the root: the root must not be a reply; replying to a reply:
  the parent's root must be the reply's root);
- a reply violates the root's threadgate unless the replier is the root's author, the gate has no
  ``allow`` list, or one of its rules admits the replier (mentioned in the root post, follows the
  author, is followed by the author, is in one of the listed lists); an empty ``allow`` admits
  nobody;
- a quote violates the quoted post's postgate when the gate has a ``disableRule`` and the quoter
  is not the quoted post's author.
"""

from __future__ import annotations

from typing import Any

from sonet.appview.ingest.notify import uri_did
from sonet.appview.ingest.post_content import summarize_facets
from sonet.repo import cbor
from sonet.storage.appview_index_posts import follows, listed
from sonet.storage.appview_index_records import record_data
from sonet.storage.appview_steps import Row, Steps

__all__ = [
    "gate_uri",
    "invalid_reply_root",
    "load_record",
    "violates_embedding_rules",
    "violates_thread_gate",
]

_RULE = "app.bsky.feed.threadgate#"


def gate_uri(post_uri: str, gate_collection: str) -> str:
    """The URI of the gate record (same author and rkey) of a post."""
    did = uri_did(post_uri)
    rkey = post_uri.rsplit("/", 1)[-1]
    return f"at://{did}/{gate_collection}/{rkey}"


def load_record(uri: str) -> Steps[dict[str, Any] | None]:
    """The stored record at ``uri``, decoded, or None."""
    data = yield from record_data(uri)
    if data is None:
        return None
    value = cbor.decode(data)
    return value if isinstance(value, dict) else None


def invalid_reply_root(root_uri: str, parent_uri: str, parent: Row | None) -> bool:
    """``parent`` is the indexed parent's ``(reply_root, invalid_reply_root)`` or None."""
    if parent is None:
        return True
    parent_root, parent_invalid = parent
    if parent_invalid:
        return True
    if parent_uri == root_uri:
        return parent_root is not None
    return bool(parent_root != root_uri)


def violates_thread_gate(replier: str, root_uri: str, gate: dict[str, Any] | None) -> Steps[bool]:
    """Whether ``replier`` may not reply in the thread of ``root_uri`` under ``gate``."""
    owner = uri_did(root_uri)
    if replier == owner or gate is None or gate.get("allow") is None:
        return False
    rules = [r for r in gate["allow"] if isinstance(r, dict)]
    kinds = {str(r.get("$type", "")).removeprefix(_RULE) for r in rules}
    if "mentionRule" in kinds:
        root = yield from load_record(root_uri)
        if root is not None and replier in summarize_facets(root).mentions:
            return False
    if "followerRule" in kinds and (yield from follows(replier, owner)):
        return False
    if "followingRule" in kinds and (yield from follows(owner, replier)):
        return False
    for rule in rules:
        target = rule.get("list") if rule.get("$type") == _RULE + "listRule" else None
        if isinstance(target, str) and (yield from listed(target, replier)):
            return False
    return True


def violates_embedding_rules(quoter: str, quoted_uri: str, gate: dict[str, Any] | None) -> bool:
    """Whether the quoted post's postgate refuses this quote."""
    if gate is None or quoter == uri_did(quoted_uri):
        return False
    rules = gate.get("embeddingRules") or ()
    return any(
        isinstance(r, dict) and r.get("$type") == "app.bsky.feed.postgate#disableRule"
        for r in rules
    )
