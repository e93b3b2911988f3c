"""SQL for one target database family: connect, inspect and evolve tables, and write batches.

PostgreSQL (psycopg 3): batches of at least ``COPY_THRESHOLD`` rows are streamed with ``COPY`` (into the table for
``insert.mode=insert``; into a temporary staging table followed by one ``INSERT … SELECT … ON CONFLICT DO UPDATE``
for upserts); smaller ones use ``executemany`` (pipelined by psycopg). MySQL/MariaDB (PyMySQL): ``executemany``,
which PyMySQL turns into multi-row ``INSERT … VALUES (…),(…) ON DUPLICATE KEY UPDATE``.

Errors are sorted into two kinds by :meth:`Database.is_connection_error`: the connection or server is unavailable
(the task raises ``RetriableError``), or the statement was rejected for its data (the task isolates the row).
"""

from __future__ import annotations

import contextlib
import itertools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from sinks.jdbc.url import JdbcUrl

COPY_THRESHOLD = 64


class Database(ABC):
    """One connection to the target database, used by one task (one thread)."""

    family: str

    def __init__(self, url: JdbcUrl, user: str | None, password: str, quote_identifiers: bool) -> None:
        self.url = url
        self.user = user or url.params.get("user") or ""
        self.password = password or url.params.get("password", "")
        self.quote_identifiers = quote_identifiers

    @abstractmethod
    def connect(self) -> None:
        """Open the connection (called at start and after a connection error)."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection; safe to call twice."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    @abstractmethod
    def is_connection_error(self, exc: BaseException) -> bool:
        """True for a lost connection / unavailable server (retry), False for a rejected statement."""

    @abstractmethod
    def driver_errors(self) -> tuple[type[BaseException], ...]:
        """The driver's exception base classes."""

    @abstractmethod
    def quote(self, name: str) -> str:
        """An identifier as it goes into SQL."""

    @abstractmethod
    def existing_columns(self, table: str) -> set[str] | None:
        """The table's column names (as stored), or None when the table does not exist."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def normalize(self, name: str) -> str:
        """How the database stores an identifier written as ``name`` (unquoted identifiers fold on PostgreSQL)."""
        return name

    # -- DDL --------------------------------------------------------------------------------------------------

    def create_table(self, table: str, columns: Sequence[tuple[str, str, bool]], pk: Sequence[str]) -> None:
        """``columns``: (name, SQL type, nullable)."""
        parts = [f"{self.quote(n)} {t}{'' if nullable else ' NOT NULL'}" for n, t, nullable in columns]
        if pk:
            parts.append(f"PRIMARY KEY ({', '.join(self.quote(p) for p in pk)})")
        self.execute(f"CREATE TABLE IF NOT EXISTS {self.quote(table)} ({', '.join(parts)})")

    def add_columns(self, table: str, columns: Sequence[tuple[str, str]]) -> None:
        """Add nullable columns (a NOT NULL column without default cannot be added to a filled table)."""
        for name, sql_type in columns:
            self.execute(f"ALTER TABLE {self.quote(table)} ADD COLUMN {self.quote(name)} {sql_type} NULL")

    # -- DML --------------------------------------------------------------------------------------------------

    @abstractmethod
    def upsert(self, table: str, columns: Sequence[str], pk: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` or overwrite the rows with the same primary key."""

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Plain INSERT of ``rows``."""
        cols = ", ".join(self.quote(c) for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        self.executemany(f"INSERT INTO {self.quote(table)} ({cols}) VALUES ({marks})", rows)

    def update(self, table: str, columns: Sequence[str], pk: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """UPDATE the non-key columns of existing rows (rows in ``columns`` order)."""
        others = [c for c in columns if c not in pk]
        if not others:
            return
        index = {c: i for i, c in enumerate(columns)}
        sets = ", ".join(f"{self.quote(c)} = %s" for c in others)
        where = " AND ".join(f"{self.quote(p)} = %s" for p in pk)
        params = [[row[index[c]] for c in others] + [row[index[p]] for p in pk] for row in rows]
        self.executemany(f"UPDATE {self.quote(table)} SET {sets} WHERE {where}", params)

    def delete(self, table: str, pk: Sequence[str], keys: Sequence[Sequence[Any]]) -> None:
        """DELETE the rows with these primary keys."""
        where = " AND ".join(f"{self.quote(p)} = %s" for p in pk)
        self.executemany(f"DELETE FROM {self.quote(table)} WHERE {where}", keys)

    def truncate(self, table: str) -> None:
        """Empty the table."""
        self.execute(f"TRUNCATE TABLE {self.quote(table)}")


class PostgresDatabase(Database):
    """PostgreSQL through psycopg 3."""

    family = "postgresql"

    def __init__(self, url: JdbcUrl, user: str | None, password: str, quote_identifiers: bool) -> None:
        super().__init__(url, user, password, quote_identifiers)
        self._conn: Any = None
        self._staging = itertools.count()

    def connect(self) -> None:
        import psycopg

        params: dict[str, Any] = {
            k: v for k, v in self.url.params.items() if k in ("sslmode", "connect_timeout", "application_name")
        }
        params.setdefault("connect_timeout", 10)
        self._conn = psycopg.connect(
            host=self.url.host,
            port=self.url.port,
            dbname=self.url.database,
            user=self.user,
            password=self.password,
            **params,
        )
        self._conn.execute("SET TIME ZONE 'UTC'")
        self._conn.commit()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.rollback()

    def is_connection_error(self, exc: BaseException) -> bool:
        import psycopg

        if isinstance(exc, psycopg.OperationalError):
            # Lock/serialization problems are transient too; everything else of this class is the connection.
            return True
        return isinstance(exc, psycopg.InterfaceError) or self._conn is None or self._conn.closed

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

    def normalize(self, name: str) -> str:
        return name if self.quote_identifiers else name.lower()

    def quote(self, name: str) -> str:
        return '"' + self.normalize(name).replace('"', '""') + '"'

    def existing_columns(self, table: str) -> set[str] | None:
        rows = self._conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s",
            (self.normalize(table),),
        ).fetchall()
        return {r[0] for r in rows} or None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, params or None)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(sql, rows)

    def _copy(self, table_sql: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        cols = ", ".join(self.quote(c) for c in columns)
        with self._conn.cursor() as cur, cur.copy(f"COPY {table_sql} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if len(rows) >= COPY_THRESHOLD:
            self._copy(self.quote(table), columns, rows)
        else:
            super().insert(table, columns, rows)

    def upsert(self, table: str, columns: Sequence[str], pk: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        cols = ", ".join(self.quote(c) for c in columns)
        conflict = ", ".join(self.quote(p) for p in pk)
        others = [c for c in columns if c not in pk]
        action = (
            "DO UPDATE SET " + ", ".join(f"{self.quote(c)} = EXCLUDED.{self.quote(c)}" for c in others)
            if others
            else "DO NOTHING"
        )
        if len(rows) < COPY_THRESHOLD:
            marks = ", ".join(["%s"] * len(columns))
            self.executemany(
                f"INSERT INTO {self.quote(table)} ({cols}) VALUES ({marks}) ON CONFLICT ({conflict}) {action}", rows
            )
            return
        # COPY into a staging table shaped like the target's columns (types only: no constraints), then one
        # set-based upsert. The staging table lives until the transaction ends.
        staging = f'"cdc_stage_{next(self._staging)}"'
        self.execute(
            f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS SELECT {cols} FROM {self.quote(table)} WITH NO DATA"
        )
        self._copy(staging, columns, rows)
        self.execute(
            f"INSERT INTO {self.quote(table)} ({cols}) SELECT {cols} FROM {staging} ON CONFLICT ({conflict}) {action}"
        )


# MySQL client/server error numbers meaning "the connection or server is unavailable right now".
_MYSQL_TRANSIENT = {1040, 1053, 1205, 1213, 2002, 2003, 2006, 2013, 2055}


class MySqlDatabase(Database):
    """MySQL and MariaDB through PyMySQL."""

    family = "mysql"

    def __init__(self, url: JdbcUrl, user: str | None, password: str, quote_identifiers: bool) -> None:
        super().__init__(url, user, password, quote_identifiers)
        self._conn: Any = None

    def connect(self) -> None:
        import pymysql

        self._conn = pymysql.connect(
            host=self.url.host,
            port=self.url.port,
            user=self.user,
            password=self.password,
            database=self.url.database,
            charset="utf8mb4",
            autocommit=False,
            connect_timeout=10,
            init_command="SET time_zone = '+00:00'",
        )

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.rollback()

    def is_connection_error(self, exc: BaseException) -> bool:
        import pymysql

        if isinstance(exc, pymysql.err.InterfaceError):
            return True
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        return code in _MYSQL_TRANSIENT

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        import pymysql

        return (pymysql.err.Error,)

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def existing_columns(self, table: str) -> set[str] | None:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() "
                "AND table_name = %s",
                (table,),
            )
            rows = cur.fetchall()
        return {r[0] for r in rows} or None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._conn.cursor() as cur:
            cur.execute(sql, tuple(params) or None)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(sql, [tuple(r) for r in rows])

    def upsert(self, table: str, columns: Sequence[str], pk: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        cols = ", ".join(self.quote(c) for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        others = [c for c in columns if c not in pk]
        if others:
            updates = ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})" for c in others)
            sql = f"INSERT INTO {self.quote(table)} ({cols}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {updates}"
        else:
            sql = f"INSERT IGNORE INTO {self.quote(table)} ({cols}) VALUES ({marks})"
        self.executemany(sql, rows)


def open_database(url: JdbcUrl, user: str | None, password: str, quote_identifiers: bool) -> Database:
    """The Database for ``url``'s family (not yet connected)."""
    if url.family == "postgresql":
        return PostgresDatabase(url, user, password, quote_identifiers)
    return MySqlDatabase(url, user, password, quote_identifiers)
