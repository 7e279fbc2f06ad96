"""Tantivy schemas of the two search indexes.

Posts: ``uri`` (stored, exact), ``author``, ``langs``, ``tags``, ``mentions``, ``domains`` (exact
terms, lowercase tags and domains), ``text`` (the default tokenizer: words, lowercased),
``created_at`` (milliseconds since the epoch, a fast field for ``latest`` order and date
ranges). Actors: ``did`` (stored, exact), ``handle``, ``display_name``, ``description`` (words),
``prefixes`` (every prefix of every word of the handle and display name, for typeahead).
"""

from __future__ import annotations

import tantivy

__all__ = ["actor_schema", "post_schema"]


def post_schema() -> tantivy.Schema:
    """Schema of the post index."""
    b = tantivy.SchemaBuilder()
    b.add_text_field("uri", stored=True, tokenizer_name="raw")
    b.add_text_field("author", tokenizer_name="raw", index_option="basic")
    for name in ("langs", "tags", "mentions", "domains"):
        b.add_text_field(name, tokenizer_name="raw", index_option="basic")
    b.add_text_field("text", tokenizer_name="default")
    b.add_integer_field("created_at", indexed=True, fast=True)
    return b.build()


def actor_schema() -> tantivy.Schema:
    """Schema of the actor index."""
    b = tantivy.SchemaBuilder()
    b.add_text_field("did", stored=True, tokenizer_name="raw")
    b.add_text_field("handle", tokenizer_name="default")
    b.add_text_field("display_name", tokenizer_name="default")
    b.add_text_field("description", tokenizer_name="default")
    b.add_text_field("prefixes", tokenizer_name="raw", index_option="freq")
    return b.build()
