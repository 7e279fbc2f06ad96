"""Lexicon v1 schemas, their loader and validator (https://atproto.com/specs/lexicon)."""
