"""Errors of AppView ingestion."""

from __future__ import annotations

__all__ = ["IngestError", "InvalidRecordError", "SourceError"]


class IngestError(ValueError):
    """Something ingested could not be applied (a bad event, repo or record)."""


class InvalidRecordError(IngestError):
    """A record is not indexed: it violates its lexicon or the AppView's indexing rules (a
    threadgate for another author's post, a listitem in someone else's list...)."""


class SourceError(IngestError):
    """A firehose or repository source returned something unusable."""
