"""Consistent initial snapshot of MySQL / MariaDB tables, aligned with a binlog position.

:class:`SnapshotTransaction` follows Debezium's sequence:

1. on a *lock* connection, ``FLUSH TABLES WITH READ LOCK``; when the user may not take the global lock
   (no RELOAD privilege, or a managed server), ``LOCK TABLES … READ`` on the captured tables instead;
2. on the *snapshot* connection, ``START TRANSACTION WITH CONSISTENT SNAPSHOT`` (REPEATABLE READ);
3. read the binlog file/position and the executed GTID set, and the captured tables' definitions;
4. release the lock (``snapshot.locking.mode=minimal``; ``extended`` keeps it until the snapshot ends, ``none``
   never takes it).

Writes to the captured tables were blocked between 1 and 3, so the transaction's view is exactly the state at
the binlog position: streaming from there neither misses nor repeats a change. Rows are then read through an
unbuffered (server-side streaming) cursor, ``snapshot.fetch.size`` rows per round trip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pymysql
import pymysql.cursors

from cdc.errors import RetriableError
from cdc.mysql.catalog import Catalog, TableDef, classify, connect
from cdc.mysql.config import MySqlConnectorConfig
from cdc.mysql.tables import MySqlTable

log = logging.getLogger("cdc.mysql.snapshot")

# ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR
_DENIED = {1227, 1044, 1045, 1142}


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MySqlSnapshotTable:
    """One table read inside the snapshot transaction (implements snapshot.runner.SnapshotTable)."""

    def __init__(self, conn: Any, definition: TableDef, version: MySqlTable, fetch_size: int) -> None:
        self.conn = conn
        self.definition = definition
        self.version = version
        self.table = version.captured
        self.fetch_size = fetch_size
        self.name = f"{definition.database}.{definition.name}"
        self.estimated_rows = definition.estimated_rows

    def rows(self) -> Iterator[tuple[Any, ...]]:
        columns = ", ".join(_ident(c.name) for c in self.definition.columns)
        query = f"SELECT {columns} FROM {_ident(self.definition.database)}.{_ident(self.definition.name)}"
        try:
            with self.conn.cursor(pymysql.cursors.SSCursor) as cur:
                cur.execute(query)
                while True:
                    batch = cur.fetchmany(self.fetch_size)
                    if not batch:
                        break
                    yield from batch
        except pymysql.MySQLError as exc:
            raise RetriableError(f"snapshot of {self.name} interrupted: {exc}") from None


class SnapshotTransaction:
    """The locks and the consistent-snapshot transaction of one snapshot; ``close()`` releases everything."""

    def __init__(self, cfg: MySqlConnectorConfig, catalog: Catalog, captured: list[tuple[str, str]]) -> None:
        self.cfg = cfg
        self.lock_conn: Any = None
        self.conn: Any = connect(cfg)
        self.lock_kind = "none"
        try:
            if cfg.snapshot_locking_mode != "none":
                self._lock(captured)
            with self.conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            self.file, self.pos, self.gtids = catalog.binlog_status()
            self.definitions = [d for d in (catalog.table_def(db, t) for db, t in captured) if d is not None]
            if cfg.snapshot_locking_mode == "minimal":
                self.release_lock()
        except pymysql.MySQLError as exc:
            self.close()
            raise classify(exc, "cannot start the snapshot") from None
        except BaseException:
            self.close()
            raise

    def _lock(self, captured: list[tuple[str, str]]) -> None:
        self.lock_conn = connect(self.cfg)
        try:
            with self.lock_conn.cursor() as cur:
                cur.execute("FLUSH TABLES WITH READ LOCK")
            self.lock_kind = "global"
            log.info("snapshot: global read lock taken")
            return
        except pymysql.MySQLError as exc:
            if exc.args[0] not in _DENIED:
                raise
            log.warning("snapshot: FLUSH TABLES WITH READ LOCK not permitted (%s); locking the captured tables", exc)
        if not captured:
            return
        tables = ", ".join(f"{_ident(db)}.{_ident(t)} READ" for db, t in captured)
        with self.lock_conn.cursor() as cur:
            cur.execute(f"LOCK TABLES {tables}")
        self.lock_kind = "tables"
        log.info("snapshot: table locks taken on %d table(s)", len(captured))

    def release_lock(self) -> None:
        if self.lock_conn is not None:
            try:
                with self.lock_conn.cursor() as cur:
                    cur.execute("UNLOCK TABLES")
                self.lock_conn.close()
            except pymysql.MySQLError:
                pass
            self.lock_conn = None
            log.info("snapshot: lock released")

    def close(self) -> None:
        self.release_lock()
        if self.conn is not None:
            try:
                self.conn.rollback()
                self.conn.close()
            except pymysql.MySQLError:
                pass
            self.conn = None
