"""Initial snapshot of PostgreSQL tables, consistent with the replication slot.

The slot is created with ``EXPORT_SNAPSHOT`` (``cdc.postgres.replication``); here one ``REPEATABLE READ READ ONLY``
transaction imports that snapshot with ``SET TRANSACTION SNAPSHOT`` and reads every captured table through
server-side cursors, so the rows are exactly the state at the slot's consistent point and streaming from that
point afterwards neither misses nor repeats a change. Values are fetched in the server's text output format
(psycopg is told to load every type as ``str``) so the same converters serve snapshot and stream. A ``::text``
cast would not do: casts to text differ from the output function for some types (``true::text`` is ``'true'``
where pgoutput sends ``t``, ``char(n)`` loses its padding, ``inet`` keeps ``/32``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import postgres, sql
from psycopg.types.string import TextLoader

from cdc.capture.table import CapturedTable
from cdc.errors import RetriableError
from cdc.postgres.catalog import CatalogTable, connect


class PostgresSnapshotTable:
    """One table read inside the snapshot transaction (implements cdc.capture.snapshot.SnapshotTable)."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        info: CatalogTable,
        table: CapturedTable,
        fetch_size: int,
        select_override: str | None = None,
    ):
        self.select_override = select_override
        self.conn = conn
        self.info = info
        self.table = table
        self.fetch_size = fetch_size
        self.name = f"{info.schema}.{info.name}"
        self.estimated_rows = info.estimated_rows

    def rows(self) -> Iterator[tuple[str | None, ...]]:
        columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in self.info.columns)
        query: sql.Composed | sql.SQL = sql.SQL("SELECT {} FROM {}").format(
            columns, sql.Identifier(self.info.schema, self.info.name)
        )
        if self.select_override is not None:
            # snapshot.select.statement.overrides: the user's statement, which must return the table's columns in
            # table order (as Debezium requires); e.g. a WHERE clause that leaves out old rows.
            query = sql.SQL(self.select_override)  # the user's own SQL, by design
        try:
            with self.conn.cursor(name=f"cdc_snapshot_{self.info.relid}") as cur:
                cur.itersize = self.fetch_size
                cur.execute(query)
                yield from cur
        except psycopg.OperationalError as exc:
            raise RetriableError(f"snapshot of {self.name} interrupted: {exc}") from None


class SnapshotTransaction:
    """The REPEATABLE READ transaction that imports the slot's exported snapshot."""

    def __init__(self, conninfo: str, snapshot_name: str) -> None:
        self.conn = connect(conninfo, autocommit=False)
        # Every value as the type's text output, exactly what pgoutput sends: built-in types get the text loader
        # explicitly; any other type (enum, extension) already falls back to it.
        for info in postgres.types:
            self.conn.adapters.register_loader(info.oid, TextLoader)
            if info.array_oid:
                self.conn.adapters.register_loader(info.array_oid, TextLoader)
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self.conn.read_only = True
        try:
            self.conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_name)))
            row = self.conn.execute("SELECT txid_current()").fetchone()
        except psycopg.OperationalError as exc:
            raise RetriableError(f"cannot start the snapshot transaction: {exc}") from None
        self.tx_id = int(row[0]) if row else None

    def close(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()
