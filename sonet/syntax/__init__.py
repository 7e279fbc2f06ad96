"""Syntax validation of AT Protocol identifiers and string formats."""
