"""Drives an initial snapshot over a list of tables and marks records the way Debezium does.

``source.snapshot`` is ``first`` on the very first record, ``last`` on the very last and ``true`` in between
(``false`` is the streaming value). Knowing which record is last needs one record of look-ahead, which
:func:`marked_rows` keeps. Connectors supply :class:`SnapshotTable` objects that yield rows in their own
representation; the runner never looks inside them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from snapshot.progress import SnapshotProgress

Row = TypeVar("Row")
Table = TypeVar("Table", bound="SnapshotTable[object]")


class SnapshotTable(Protocol[Row]):  # type: ignore[misc]
    """One table to snapshot: ``rows()`` streams its rows (server-side cursor), ``estimated_rows`` for progress."""

    name: str
    estimated_rows: int

    def rows(self) -> Iterator[Row]: ...


class MarkedRow(Generic[Row]):
    __slots__ = ("marker", "row", "table")

    def __init__(self, table: SnapshotTable[Row], row: Row, marker: str) -> None:
        self.table = table
        self.row = row
        self.marker = marker


def marked_rows(tables: list[SnapshotTable[Row]], progress: SnapshotProgress) -> Iterator[MarkedRow[Row]]:
    """Every row of every table, in order, with its snapshot marker (first/true/last)."""
    pending: tuple[SnapshotTable[Row], Row] | None = None
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
