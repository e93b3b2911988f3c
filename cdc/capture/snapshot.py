"""Marks snapshot rows the way Debezium does, over a connector's list of tables.

``source.snapshot`` follows Debezium 3.x (checked against 3.6.3 by ``tests/conformance``): ``first`` on the very
first record, ``last`` on the very last, ``first_in_data_collection`` / ``last_in_data_collection`` on the first
and last record of each table (precedence: ``last``, ``first``, ``last_in_data_collection``,
``first_in_data_collection``, as Debezium's ``SnapshotMarkerResolver``) and ``true`` in between (``false`` is the
streaming value). Knowing which record is last needs one record of look-ahead, which :func:`marked_rows` keeps.
Connectors supply :class:`SnapshotTable` objects that yield rows in their own representation (the values their
``CapturedTable.row`` accepts); this module never looks inside them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from cdc.capture.table import CapturedTable
from snapshot.progress import SnapshotProgress


class SnapshotTable(Protocol):
    """One table to snapshot: ``rows()`` streams its rows (server-side cursor), ``estimated_rows`` for progress,
    ``table`` is the CapturedTable that converts them."""

    name: str
    estimated_rows: int
    table: CapturedTable

    def rows(self) -> Iterator[Sequence[Any]]: ...


class MarkedRow:
    """One snapshot row with its table and its ``source.snapshot`` marker."""

    __slots__ = ("marker", "row", "table")

    def __init__(self, table: SnapshotTable, row: Sequence[Any], marker: str) -> None:
        self.table = table
        self.row = row
        self.marker = marker


def marked_rows(tables: Sequence[SnapshotTable], progress: SnapshotProgress) -> Iterator[MarkedRow]:
    """Every row of every table, in order, with its snapshot marker (see the module docstring)."""
    pending: tuple[SnapshotTable, Sequence[Any], str] | None = None  # the previous row and its marker if not last
    first = True
    for table in tables:
        progress.start_table(table.name, table.estimated_rows)
        batch = 0
        table_first = True
        for row in table.rows():
            if pending is not None:
                yield MarkedRow(pending[0], pending[1], pending[2])
            pending = (table, row, "first" if first else ("first_in_data_collection" if table_first else "true"))
            first = table_first = False
            batch += 1
            if batch == 1000:
                progress.advance(batch)
                batch = 0
        progress.advance(batch)
        progress.finish_table()
        if pending is not None and pending[0] is table and pending[2] != "first":
            pending = (table, pending[1], "last_in_data_collection")
    if pending is not None:
        yield MarkedRow(pending[0], pending[1], "last")
