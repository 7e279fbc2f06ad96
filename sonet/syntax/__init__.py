"""Syntax validation of AT Protocol identifiers and string formats.

One module per identifier or lexicon string format (did, handle, nsid, aturi,
tid, recordkey, datetime, cid, language, uri, atidentifier), each with
``is_valid_*`` and ``ensure_valid_*`` (raising :class:`errors.InvalidSyntaxError`);
:mod:`formats` dispatches on lexicon format names.
"""
