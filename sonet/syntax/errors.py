"""The one exception type for malformed AT Protocol identifiers and string formats."""

from __future__ import annotations

_PREVIEW_CHARS = 80


def _preview(value: object) -> str:
    """A short repr of ``value`` so that huge inputs do not flood logs."""
    if not isinstance(value, str):
        return f"of type {type(value).__name__}"
    if len(value) <= _PREVIEW_CHARS:
        return repr(value)
    return f"{value[:_PREVIEW_CHARS]!r}... ({len(value)} chars)"


class InvalidSyntaxError(ValueError):
    """A string does not match the syntax of an AT Protocol identifier or format."""

    def __init__(self, kind: str, value: object, reason: str) -> None:
        self.kind = kind
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {kind} {_preview(value)}: {reason}")
