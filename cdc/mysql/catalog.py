"""What the server says about itself and its tables: flavour, settings, binlog position, table definitions.

One :class:`Catalog` (a PyMySQL connection, autocommit, session time zone UTC) per connector, used at start-up,
by ``validate``, by the snapshot for the table definitions, and by the stream reader after a DDL statement to
re-read the definition of the tables it changed. Table definitions are :class:`TableDef` of :class:`Column`
descriptors, the connector-neutral form the type mapper and the schema history use.

Connection failures raise :class:`~cdc.errors.RetriableError`; authentication failures and unknown databases
raise :class:`~cdc.errors.FatalError` (retrying cannot fix a password).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import pymysql
import pymysql.cursors

from cdc.errors import FatalError, RetriableError
from cdc.mysql.config import MySqlConnectorConfig
from cdc.mysql.tls import tls_arguments

# MySQL client error codes that mean "the connection failed" rather than "the request is wrong".
_CONNECTION_ERRORS = {2002, 2003, 2006, 2013, 2055, 1040, 1053}
_AUTH_ERRORS = {1045, 1044, 1698, 2059, 2061}


@dataclass(frozen=True)
class Column:
    """One column, as information_schema or a binlog table map describes it (neutral form).

    ``data_type`` is the lower-case type name (``int``, ``varchar``, ``datetime`` …); ``precision`` is the
    decimal precision, the BIT length or the BINARY length; ``scale`` the decimal scale or the fractional seconds
    of time types; ``values`` the ENUM/SET members; ``default`` the default as information_schema spells it.
    """

    name: str
    data_type: str
    column_type: str = ""
    unsigned: bool = False
    nullable: bool = True
    precision: int | None = None
    scale: int | None = None
    values: tuple[str, ...] = ()
    default: str | None = None
    charset: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["values"] = list(self.values)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Column:
        return cls(**{**data, "values": tuple(data.get("values") or ())})


@dataclass(frozen=True)
class TableDef:
    """A table's columns in order and its primary key."""

    database: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    estimated_rows: int = field(default=0, compare=False)
    charset: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "name": self.name,
            "columns": [c.to_json() for c in self.columns],
            "primaryKey": list(self.primary_key),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableDef:
        return cls(
            data["database"],
            data["name"],
            tuple(Column.from_json(c) for c in data["columns"]),
            tuple(data.get("primaryKey") or ()),
        )


def connect(cfg: MySqlConnectorConfig, **extra: Any) -> pymysql.connections.Connection[Any]:
    """A PyMySQL connection as the connector's user (session time zone UTC, utf8mb4, autocommit)."""
    timeout = max(1, cfg.connect_timeout_ms // 1000)
    tls = tls_arguments(cfg)
    try:
        return pymysql.connect(
            host=cfg.database_hostname,
            port=cfg.database_port,
            user=cfg.database_user,
            password=cfg.database_password.get_secret_value(),
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=timeout,
            init_command="SET time_zone = '+00:00'",
            **tls,
            **extra,
        )
    except pymysql.MySQLError as exc:
        raise classify(exc, f"cannot connect to {cfg.database_hostname}:{cfg.database_port}") from None


_SSL_CONNECTION_ERROR = 2026  # CR_SSL_CONNECTION_ERROR: e.g. TLS required but the server has none


def classify(exc: BaseException, what: str) -> Exception:
    """Turn a PyMySQL error into Retriable (connection) or Fatal (credentials, privileges, SQL) errors."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = exc.args[1] if len(exc.args) > 1 else str(exc)
    if code in _AUTH_ERRORS:
        return FatalError(f"{what}: {text} (check database.user / database.password and the user's host)")
    if code == _SSL_CONNECTION_ERROR or "CERTIFICATE_VERIFY_FAILED" in str(text):
        # TLS set-up failures do not heal by retrying: the server has no TLS, or its certificate is not trusted.
        return FatalError(f"{what}: TLS failed: {text} (check database.ssl.mode and database.ssl.truststore)")
    if code in _CONNECTION_ERRORS or code is None or (isinstance(code, int) and code >= 2000):
        return RetriableError(f"{what}: {text}")  # client-side (2xxx) errors: the connection failed
    return FatalError(f"{what}: {text}")


class Catalog:
    """Server facts and table definitions over one lazily opened connection."""

    def __init__(self, cfg: MySqlConnectorConfig) -> None:
        self.cfg = cfg
        self._conn: pymysql.connections.Connection[Any] | None = None
        self._flavor: str | None = None

    # -- plumbing ------------------------------------------------------------------------------------------

    def query(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement, return its rows; a lost connection is reopened once, then RetriableError."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = connect(self.cfg)
            try:
                with self._conn.cursor() as cur:
                    cur.execute(sql, args)
                    return list(cur.fetchall())
            except pymysql.err.OperationalError as exc:
                self.close()
                if attempt == 2 or exc.args[0] not in _CONNECTION_ERRORS:
                    raise classify(exc, f"query failed ({sql.split()[0]})") from None
            except pymysql.MySQLError as exc:
                raise classify(exc, f"query failed: {sql[:80]}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(pymysql.MySQLError):
                self._conn.close()
            self._conn = None

    # -- server facts --------------------------------------------------------------------------------------

    @property
    def flavor(self) -> str:
        """``mariadb`` or ``mysql``, from the server's version string."""
        if self._flavor is None:
            version = self.version()
            self._flavor = "mariadb" if "mariadb" in version.lower() else "mysql"
        return self._flavor

    def version(self) -> str:
        return str(self.query("SELECT VERSION()")[0][0])

    def variables(self, *names: str) -> dict[str, str]:
        """Global variables by lower-case name (missing ones are absent)."""
        placeholders = ",".join(["%s"] * len(names))
        rows = self.query(
            f"SELECT LOWER(VARIABLE_NAME), VARIABLE_VALUE FROM performance_schema.global_variables "
            f"WHERE LOWER(VARIABLE_NAME) IN ({placeholders})"
            if self._has_perf_schema_variables()
            else f"SHOW GLOBAL VARIABLES WHERE LOWER(Variable_name) IN ({placeholders})",
            names,
        )
        return {str(k).lower(): "" if v is None else str(v) for k, v in rows}

    def _has_perf_schema_variables(self) -> bool:
        return False  # SHOW GLOBAL VARIABLES works on both flavours and without performance_schema

    def binlog_status(self) -> tuple[str, int, str]:
        """(file, position, executed GTID set) of the server's binlog now."""
        if self.flavor == "mariadb":
            rows = self.query("SHOW MASTER STATUS")
            gtids = self.query("SELECT @@GLOBAL.gtid_binlog_pos")[0][0] or ""
        else:
            try:
                rows = self.query("SHOW BINARY LOG STATUS")
            except FatalError:
                rows = self.query("SHOW MASTER STATUS")
            gtids = rows[0][4] if rows and len(rows[0]) > 4 else ""
        if not rows:
            raise FatalError(
                "the binlog is disabled (SHOW BINARY LOG STATUS is empty): start the server with --log-bin"
            )
        return str(rows[0][0]), int(rows[0][1]), str(gtids or "").replace("\n", "")

    def binlog_files(self) -> list[str]:
        """Binlog files the server still has (``SHOW BINARY LOGS``)."""
        return [str(r[0]) for r in self.query("SHOW BINARY LOGS")]

    def purged_gtids(self) -> str:
        """``@@gtid_purged`` (MySQL); '' on MariaDB."""
        if self.flavor == "mariadb":
            return ""
        return str(self.query("SELECT @@GLOBAL.gtid_purged")[0][0] or "").replace("\n", "")

    def server_uuid(self) -> str | None:
        if self.flavor == "mariadb":
            return None
        return str(self.query("SELECT @@server_uuid")[0][0])

    def replica_server_ids(self) -> list[int]:
        """server_ids of the replicas connected now (to report a server_id already in use)."""
        try:
            rows = self.query("SHOW REPLICAS" if self.flavor == "mysql" else "SHOW SLAVE HOSTS")
        except FatalError:
            return []  # not permitted (MariaDB needs REPLICATION MASTER ADMIN): the server reports it on connect
        return [int(r[0]) for r in rows]

    # -- tables --------------------------------------------------------------------------------------------

    def tables(self) -> list[tuple[str, str]]:
        """Every base table as (database, table), system databases excluded."""
        rows = self.query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' "
            "AND TABLE_SCHEMA NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema') "
            "ORDER BY TABLE_SCHEMA, TABLE_NAME"
        )
        return [(str(d), str(t)) for d, t in rows]

    def databases(self) -> list[str]:
        return [str(r[0]) for r in self.query("SHOW DATABASES")]

    def table_def(self, database: str, table: str) -> TableDef | None:
        """The table's current definition from information_schema; None when it does not exist."""
        rows = self.query(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE, "
            "DATETIME_PRECISION, CHARACTER_MAXIMUM_LENGTH, COLUMN_DEFAULT, CHARACTER_SET_NAME, COLUMN_KEY, EXTRA "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        if not rows:
            return None
        columns = tuple(_column_from_info(r, self.flavor) for r in rows)
        pk_rows = self.query(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
            "AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        estimate = self.query(
            "SELECT TABLE_ROWS, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
            "AND TABLE_NAME = %s",
            (database, table),
        )
        rows_estimate = int(estimate[0][0] or 0) if estimate else 0
        charset = str(estimate[0][1]).split("_")[0] if estimate and estimate[0][1] else None
        return TableDef(database, table, columns, tuple(str(r[0]) for r in pk_rows), rows_estimate, charset)

    def show_create_table(self, database: str, table: str) -> str:
        """``SHOW CREATE TABLE`` (what Debezium's snapshot announces as the table's DDL)."""
        quoted = "`" + database.replace("`", "``") + "`.`" + table.replace("`", "``") + "`"
        return str(self.query(f"SHOW CREATE TABLE {quoted}")[0][1])

    def database_charset(self, database: str) -> tuple[str, str]:
        """(default character set, default collation) of a database."""
        rows = self.query(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
            "WHERE SCHEMA_NAME = %s",
            (database,),
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else ("", "")


def _column_from_info(row: tuple[Any, ...], flavor: str) -> Column:
    from cdc.mysql.types import parse_enum_values

    name, data_type, column_type, nullable, num_prec, num_scale, dt_prec, char_len, default, charset, _key, extra = row
    data_type = str(data_type).lower()
    column_type = str(column_type)
    precision: int | None = None
    scale: int | None = None
    if data_type in ("decimal", "numeric"):
        precision, scale = int(num_prec or 10), int(num_scale or 0)
    elif data_type == "bit":
        precision = int(num_prec or 1)
    elif data_type == "binary":
        precision = int(char_len or 1)
    elif data_type in ("time", "datetime", "timestamp"):
        scale = int(dt_prec or 0)
    if default is not None:
        default = str(default)
        if flavor == "mariadb":
            # MariaDB quotes string defaults in information_schema ('abc') and writes NULL for "no default".
            if default == "NULL":
                default = None
            elif default.startswith("'") and default.endswith("'"):
                default = default[1:-1].replace("''", "'")
        if default is not None and (
            "DEFAULT_GENERATED" in str(extra or "") or re.match(r"(?i)current_timestamp", default)
        ):
            default = None  # an expression, evaluated per row
    values = parse_enum_values(column_type) if data_type in ("enum", "set") else ()
    return Column(
        name=str(name),
        data_type=data_type,
        column_type=column_type,
        unsigned="unsigned" in column_type.lower(),
        nullable=str(nullable).upper() == "YES",
        precision=precision,
        scale=scale,
        values=values,
        default=default,
        charset=None if charset is None else str(charset),
    )
