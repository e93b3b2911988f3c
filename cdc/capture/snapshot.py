"""Marks snapshot rows the way Debezium does, over a connector's list of tables.

``source.snapshot`` is ``first`` on the very first record, ``last`` on the very last and ``true`` in between
(``false`` is the streaming value). Knowing which record is last needs one record of look-ahead, which
:func:`marked_rows` keeps. Connectors supply :class:`SnapshotTable` objects that yield rows in their own
representation (the values their ``CapturedTable.row`` accepts); this module never looks inside them.
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
    """Every row of every table, in order, with its snapshot marker (first/true/last)."""
    pending: tuple[SnapshotTable, Sequence[Any]] | None = None
    first = True
    for table in tables:
        progress.start_table(table.name, table.estimated_rows)
        batch = 0
        for row in table.rows():
            if pending is not None:
                yield MarkedRow(pending[0], pending[1], "first" if first else "true")
                first = False
            pending = (table, row)
            batch += 1
            if batch == 1000:
                progress.advance(batch)
                batch = 0
        progress.advance(batch)
        progress.finish_table()
    if pending is not None:
        yield MarkedRow(pending[0], pending[1], "last")
