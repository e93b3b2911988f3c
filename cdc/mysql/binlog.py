"""The binlog connection: ``pymysqlreplication.BinLogStreamReader`` opened at a file/position or a GTID set.

Owned by ``cdc.mysql.reader.BinlogReader``. :meth:`BinlogConnection.next_event` returns the next event or
``None`` when the server had nothing to send for one heartbeat period (the server is asked to send a heartbeat
every ``heartbeat_s`` seconds of idleness, so a read never blocks longer than that and the runtime can stop or
commit offsets on an idle server).

Failures: the library silently reconnects after a lost connection, from *its* idea of the position (the start
GTID set again, in GTID mode); the engine must instead resume from its stored offset, so the connection factory
handed to the library refuses a second stream connection with :class:`RetriableError`, and the runtime restarts
the pipeline from the stored offset with backoff. A binlog the server no longer has is a
:class:`BinlogPurgedError`; another replica taking this ``server_id`` is a :class:`FatalError`.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import (
    GtidEvent,
    HeartbeatLogEvent,
    MariadbAnnotateRowsEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    RowsQueryLogEvent,
    XidEvent,
)
from pymysqlreplication.row_event import DeleteRowsEvent, PartialUpdateRowsEvent, UpdateRowsEvent, WriteRowsEvent

from cdc.errors import FatalError, RetriableError
from cdc.mysql.config import MySqlConnectorConfig
from cdc.mysql.tls import tls_arguments

log = logging.getLogger("cdc.mysql.binlog")

EVENTS = [
    QueryEvent,
    RotateEvent,
    XidEvent,
    GtidEvent,
    MariadbGtidEvent,
    HeartbeatLogEvent,
    WriteRowsEvent,
    UpdateRowsEvent,
    PartialUpdateRowsEvent,  # read only to stop on it (cdc.mysql.reader): never skipped silently
    DeleteRowsEvent,
    RowsQueryLogEvent,
    MariadbAnnotateRowsEvent,
]


class BinlogPurgedError(FatalError):
    """The server no longer has the binlog (or GTIDs) the stored offset needs."""


class BinlogConnection:
    """One replication stream from ``file``/``pos`` or from a GTID set."""

    def __init__(
        self,
        cfg: MySqlConnectorConfig,
        flavor: str,
        file: str | None,
        pos: int | None,
        gtids: str | None,
        heartbeat_s: float = 1.0,
        include_query: bool = False,
    ) -> None:
        self.cfg = cfg
        self.flavor = flavor
        self._stream_connections = 0
        settings: dict[str, Any] = {
            "host": cfg.database_hostname,
            "port": cfg.database_port,
            "user": cfg.database_user,
            "password": cfg.database_password.get_secret_value(),
            "connect_timeout": max(1, cfg.connect_timeout_ms // 1000),
            "read_timeout": max(30, int(heartbeat_s * 10)),
        }
        settings.update(tls_arguments(cfg))
        events = list(EVENTS)
        use_gtid = gtids is not None
        kwargs: dict[str, Any] = {}
        if use_gtid:
            kwargs["auto_position"] = gtids
            kwargs["is_mariadb"] = flavor == "mariadb"
        else:
            kwargs["log_file"] = file
            kwargs["log_pos"] = pos
            kwargs["resume_stream"] = True
        self.stream = BinLogStreamReader(
            connection_settings=settings,
            server_id=cfg.database_server_id,
            blocking=True,
            only_events=events,
            slave_heartbeat=heartbeat_s,
            report_slave=("cdc-engine", "", "", 0),
            pymysql_wrapper=self._connect,
            annotate_rows_event=include_query and flavor == "mariadb",
            enable_logging=False,
            **kwargs,
        )
        self.start_description = f"GTID set {gtids!r}" if use_gtid else f"{file}:{pos}"

    def _connect(self, **settings: Any) -> pymysql.connections.Connection[Any]:
        """The connection factory the library calls; a second *stream* connection means it is reconnecting."""
        if "db" in settings:  # the library still uses PyMySQL's deprecated name for its control connection
            settings["database"] = settings.pop("db")
        is_control = settings.get("database") == "information_schema"
        if not is_control:
            self._stream_connections += 1
            if self._stream_connections > 1:
                if not self.cfg.connect_keep_alive:
                    raise FatalError("lost the binlog connection and connect.keep.alive=false: stopping")
                raise RetriableError("lost the binlog connection; resuming from the last stored offset")
        try:
            return pymysql.connect(**settings)
        except pymysql.MySQLError as exc:
            raise RetriableError(f"cannot open the binlog connection: {exc}") from None

    def next_event(self) -> Any:
        """The next event, ``None`` after an idle heartbeat period. Raises Retriable/Fatal/BinlogPurgedError."""
        try:
            event = self.stream.fetchone()
        except pymysql.err.OperationalError as exc:
            raise _classify(exc, self.cfg.database_server_id, self.start_description) from None
        except pymysql.MySQLError as exc:
            raise RetriableError(f"binlog read failed: {exc}") from None
        except (OSError, EOFError, AttributeError) as exc:
            # AttributeError: the library dereferences a closed socket after the server went away.
            raise RetriableError(f"binlog connection failed: {exc}") from None
        if event is None:
            raise RetriableError("the server closed the binlog stream")
        if type(event) is HeartbeatLogEvent:
            return None
        return event

    def close(self) -> None:
        with contextlib.suppress(pymysql.MySQLError, OSError):
            self.stream.close()


def _classify(exc: pymysql.err.OperationalError, server_id: int, start: str) -> Exception:
    code = exc.args[0] if exc.args else None
    message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    lowered = message.lower()
    if "same server_uuid/server_id" in lowered or "same server-id" in lowered or "same server_id" in lowered:
        # MySQL: error 1236 to the replica that was dropped; MariaDB: to the one that tried to connect.
        return FatalError(
            f"another replica uses database.server.id={server_id} ({message}); give each connector and replica "
            "its own database.server.id"
        )
    if code == 1236:
        if "purged" in lowered or "could not find" in lowered or "not find first log" in lowered or "gtid" in lowered:
            return BinlogPurgedError(
                f"the server no longer has the binlog needed to resume from {start} ({message}). Set "
                "snapshot.mode=when_needed to take a new snapshot, or reset the stored offset "
                "(cdc-engine offsets --reset)"
            )
        return FatalError(f"the server refused to send the binlog from {start}: {message}")
    if code in (1045, 1044, 1227):
        return FatalError(f"binlog access denied: {message} (grant REPLICATION SLAVE, REPLICATION CLIENT)")
    return RetriableError(f"binlog connection failed: {message}")
