"""Blobs of the PDS: storage of their bytes, their metadata, record references and clean-up.

https://atproto.com/specs/blob: blobs are uploaded first (held as temporary), become permanent
when a record of the same account references them, and are deleted when no record does.
"""
