"""Frozen dataclass rows in and out of SQL tables, matched by field and column names.

A store describes a table row as a dataclass whose fields are named like the table's columns;
these two helpers save writing every column out again for each SELECT and INSERT. SQLAlchemy's
column types already give Python values (``Boolean`` columns come back as ``bool`` on SQLite
too), so no conversion happens here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["from_row", "insert_values"]

RowT = TypeVar("RowT", bound="DataclassInstance")


@cache
def _field_names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(field.name for field in fields(cls))


def from_row(cls: type[RowT], result_row: Any) -> RowT:
    """A ``cls`` built from the same-named columns of a SQLAlchemy result row."""
    mapping = result_row._mapping
    return cls(**{name: mapping[name] for name in _field_names(cls)})


def insert_values(row: DataclassInstance, *, without: Collection[str] = ()) -> dict[str, Any]:
    """The column values of ``row`` for an INSERT: every field by name except ``without``."""
    return {name: getattr(row, name) for name in _field_names(type(row)) if name not in without}
