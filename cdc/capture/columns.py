"""The neutral column descriptor: what a connector tells the capture core about one column.

A connector maps each of its column types once per table version to a :class:`ColumnType` — the Connect schema
(usually one of ``schemas.logical``) and the *connector-supplied* converter from the value its driver delivers
(PostgreSQL text, a Python value from PyMySQL or mysql-replication) to the Connect wire value. It then describes
the table's columns as :class:`ColumnDescriptor` objects and hands them, with the primary key, to
``cdc.capture.table.TableBuilder.build``. Everything after that (row and key functions, filters, schemas,
envelopes) is shared.

Converters are never called with ``None`` (SQL NULL stays null) nor with :data:`UNAVAILABLE`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from schemas.connect import Schema

ValueConverter = Callable[[Any], Any]
F = TypeVar("F", bound=Callable[..., Any])


class _Unavailable:
    """Marker for a value the source did not send (PostgreSQL: an unchanged TOAST value; MySQL: a column left
    out of a minimal/noblob row image). The row takes the column's ``unavailable.value.placeholder``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNAVAILABLE"


UNAVAILABLE: Any = _Unavailable()

# Converters whose work the row compiler writes inline (see cdc.capture.table._compile_row): function → Python
# expression over ``v`` that gives the same result for a non-None ``v``.
_INLINE: dict[Callable[..., Any], str] = {}


def inline_expression(expression: str) -> Callable[[F], F]:
    """Decorator: register ``expression`` (over ``v``) as the inline form of a cheap converter.

    Saves a Python call per value in the generated row function, e.g. PostgreSQL booleans: ``v == 't'``.
    """

    def register(fn: F) -> F:
        _INLINE[fn] = expression
        return fn

    return register


def inline_form(convert: Callable[..., Any]) -> str | None:
    """The registered inline expression of ``convert``, or None; called by the row compiler."""
    return _INLINE.get(convert)


@inline_expression("v")
def identity(value: Any) -> Any:
    """The converter for values that already are their Connect value (text columns, ints from a driver)."""
    return value


@dataclass(frozen=True)
class ColumnType:
    """A column type's Connect schema (non-optional; nullability is per column) and its value converter."""

    schema: Schema
    convert: ValueConverter


@dataclass(frozen=True)
class ColumnDescriptor:
    """One column of a table version, in table order: its name, type and nullability.

    ``optional`` is the column's nullability (True unless NOT NULL); it makes the field schema optional and
    decides the zero value Debezium puts in a NOT NULL non-key column the source did not send.
    """

    name: str
    type: ColumnType | None  # None: a type the connector leaves out (Debezium's unknown types); not emitted
    optional: bool = True
    # The Connect value of the column's default for its field schema (None: no default), as the connector's
    # Debezium counterpart computes it; JsonConverter writes it in place of a null (replace.null.with.default).
    default: Any = None
    # For the column mappers (cdc.column_mappers): the source type name, declared length, and a function giving
    # the __debezium.source.column.* parameters (column.propagate.source.type).
    type_name: str = ""
    length: int | None = None
    source_type: Callable[[], dict[str, str]] | None = None
