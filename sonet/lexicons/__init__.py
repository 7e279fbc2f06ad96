"""Lexicon v1 schemas, their loader and validator (https://atproto.com/specs/lexicon)."""

from sonet.lexicons.document import LexiconDoc, parse_lexicon
from sonet.lexicons.errors import LexiconError, LexiconNotFoundError, LexiconValidationError
from sonet.lexicons.registry import Lexicons
from sonet.lexicons.validate import (
    parse_params,
    validate_input,
    validate_message,
    validate_object,
    validate_output,
    validate_record,
)

__all__ = [
    "LexiconDoc",
    "LexiconError",
    "LexiconNotFoundError",
    "LexiconValidationError",
    "Lexicons",
    "parse_lexicon",
    "parse_params",
    "validate_input",
    "validate_message",
    "validate_object",
    "validate_output",
    "validate_record",
]
