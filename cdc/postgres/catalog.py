"""Catalog access over an ordinary (non-replication) connection.

pgoutput's Relation message says which columns exist and their type OIDs, but not nullability, primary key or
enum labels; those come from here. Also manages the publication and answers the prerequisite questions of
``cdc-engine validate``. Called by ``cdc.postgres.tables`` (on each new table version) and ``cdc.postgres.source``
(start-up); connection failures raise RetriableError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from cdc.errors import FatalError, RetriableError
from cdc.postgres.replication import SESSION_OPTIONS, ssl_hint
from cdc.postgres.types import PgType


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    type_oid: int
    typmod: int
    not_null: bool
    default: str | None = None  # the default expression (pg_get_expr), e.g. "'n/a'::character varying"


@dataclass(frozen=True)
class CatalogTable:
    relid: int
    schema: str
    name: str
    columns: tuple[CatalogColumn, ...]
    primary_key: tuple[str, ...]
    replica_identity: str
    estimated_rows: int


def connect(conninfo: str, autocommit: bool = True) -> psycopg.Connection[Any]:
    """An ordinary connection with the session settings that fix value text formats."""
    try:
        return psycopg.connect(conninfo, autocommit=autocommit, options=SESSION_OPTIONS)
    except psycopg.OperationalError as exc:
        message = " ".join(str(exc).split())
        hint = ssl_hint(message)
        if hint:
            raise FatalError(f"cannot connect to PostgreSQL: {message}; {hint}") from None
        if "password authentication failed" in message or "does not exist" in message:
            raise FatalError(f"cannot connect to PostgreSQL: {message}") from None
        raise RetriableError(f"cannot connect to PostgreSQL: {message}") from None


_TABLE_SQL = """
SELECT c.oid, n.nspname, c.relname, c.relreplident, GREATEST(c.reltuples, 0)::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = %s
"""
_COLUMNS_SQL = """
SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum
"""
_PK_SQL = """
SELECT a.attname
FROM pg_index i
JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s AND i.indisprimary
ORDER BY k.ord
"""
_TYPE_SQL = """
SELECT t.oid, t.typname, t.typtype, t.typcategory, t.typelem, t.typbasetype, t.typtypmod,
       COALESCE((SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
                '{}')
FROM pg_type t WHERE t.oid = %s
"""
_CAPTURE_CANDIDATES_SQL = """
SELECT c.oid, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
  AND n.nspname NOT LIKE 'pg_temp%%'
ORDER BY n.nspname, c.relname
"""


class Catalog:
    """Catalog queries for one database. Owns one autocommit connection."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: psycopg.Connection[Any] | None = None
        self._types: dict[int, PgType | None] = {}

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._conninfo)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _fetch(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self.conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall()
        except psycopg.OperationalError as exc:
            self.close()
            raise RetriableError(f"catalog query failed: {exc}") from None

    def table(self, relid: int) -> CatalogTable | None:
        """Columns, primary key and replica identity of a table; None if it was dropped meanwhile."""
        rows = self._fetch(_TABLE_SQL, (relid,))
        if not rows:
            return None
        oid, schema, name, replident, estimate = rows[0]
        columns = tuple(CatalogColumn(*r) for r in self._fetch(_COLUMNS_SQL, (relid,)))
        primary_key = tuple(r[0] for r in self._fetch(_PK_SQL, (relid,)))
        return CatalogTable(oid, schema, name, columns, primary_key, replident, int(estimate))

    def resolve_type(self, oid: int) -> PgType | None:
        """pg_type facts for a non-built-in type (enum, domain, array), cached per OID."""
        if oid not in self._types:
            rows = self._fetch(_TYPE_SQL, (oid,))
            if rows:
                t_oid, name, typtype, category, elem, base, base_typmod, labels = rows[0]
                self._types[oid] = PgType(t_oid, name, typtype, category, elem, base, base_typmod, tuple(labels))
            else:
                self._types[oid] = None
        return self._types[oid]

    def forget_types(self) -> None:
        """Drop cached type facts (an enum may have gained labels); called when a Type message arrives."""
        self._types.clear()

    def capture_candidates(self) -> list[tuple[int, str, str]]:
        """(relid, schema, table) of every ordinary/partitioned table, for filtering by the connector."""
        return [(int(r[0]), r[1], r[2]) for r in self._fetch(_CAPTURE_CANDIDATES_SQL)]

    # -- publication ---------------------------------------------------------------------------------------------

    def publication_exists(self, name: str) -> bool:
        return bool(self._fetch("SELECT 1 FROM pg_publication WHERE pubname = %s", (name,)))

    def publication_tables(self, name: str) -> set[tuple[str, str]]:
        rows = self._fetch("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s", (name,))
        return {(r[0], r[1]) for r in rows}

    def ensure_publication(self, name: str, mode: str, tables: list[tuple[str, str]]) -> None:
        """Create (or, in ``filtered`` mode, re-scope) the publication per ``publication.autocreate.mode``."""
        exists = self.publication_exists(name)
        if mode == "disabled":
            if not exists:
                raise FatalError(
                    f"publication {name!r} does not exist and publication.autocreate.mode=disabled; "
                    f"create it (CREATE PUBLICATION {name} FOR ...) or change the mode"
                )
            return
        try:
            if mode == "all_tables" and not exists:
                self.conn.execute(sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(sql.Identifier(name)))
            elif mode == "filtered":
                table_list = sql.SQL(", ").join(sql.Identifier(s, t) for s, t in tables)
                if not tables:
                    raise FatalError("publication.autocreate.mode=filtered but no table matches the include lists")
                verb = "SET TABLE" if exists else None
                if verb:
                    self.conn.execute(
                        sql.SQL("ALTER PUBLICATION {} SET TABLE {}").format(sql.Identifier(name), table_list)
                    )
                else:
                    self.conn.execute(
                        sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(name), table_list)
                    )
        except psycopg.errors.InsufficientPrivilege as exc:
            raise FatalError(
                f"cannot create publication {name!r}: {exc}; create it as a superuser "
                f"(CREATE PUBLICATION {name} FOR ALL TABLES) or grant the user CREATE on the database"
            ) from None
        except psycopg.OperationalError as exc:
            raise RetriableError(f"cannot create publication: {exc}") from None

    # -- slots and settings --------------------------------------------------------------------------------------

    def slot(self, name: str) -> dict[str, Any] | None:
        """The slot's row from pg_replication_slots, or None."""
        rows = self._fetch(
            "SELECT slot_name, plugin, slot_type, database, active, active_pid, "
            "confirmed_flush_lsn::text, restart_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
            (name,),
        )
        if not rows:
            return None
        keys = (
            "slot_name",
            "plugin",
            "slot_type",
            "database",
            "active",
            "active_pid",
            "confirmed_flush_lsn",
            "restart_lsn",
        )
        return dict(zip(keys, rows[0], strict=True))

    def query(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of an ad-hoc catalog query (cdc.postgres.slot_health); RetriableError if the connection fails."""
        return self._fetch(query, params)

    def drop_slot(self, name: str) -> None:
        self._fetch("SELECT pg_drop_replication_slot(%s)", (name,))

    def setting(self, name: str) -> str:
        return str(self._fetch("SELECT current_setting(%s)", (name,))[0][0])

    def role_flags(self) -> tuple[bool, bool]:
        """(superuser, replication) of the connected role."""
        row = self._fetch("SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user")[0]
        return bool(row[0]), bool(row[1])

    def server_version(self) -> int:
        return int(self._fetch("SHOW server_version_num")[0][0])
