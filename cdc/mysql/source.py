"""The MySQL / MariaDB source connector's I/O half: prerequisites, schema history, consistent snapshot, binlog.

:class:`MySqlConnector` implements ``cdc.capture.source.CaptureConnector``; the shared
``cdc.capture.source.CaptureSource`` drives it (``snapshot.mode`` policy, snapshot → stream switch, snapshot
markers, offsets while snapshotting). :func:`create_source` is the connector factory named by ``cdc.mysql.SPEC``.

What the coordinator's policy needs from here (:meth:`MySqlConnector.open`): whether an offset is stored and its
snapshot completed, whether the binlog it points into still exists (``resumable``), and whether the schema history
topic holds the table definitions as of it (``schema_history``). ``snapshot.mode``: ``initial``, ``initial_only``,
``no_data``/``never`` (a schema-only snapshot when no completed one is stored, then stream from the current
position), ``always``, ``when_needed`` (also when the binlog or the history is gone), ``recovery`` (rebuild a lost
schema history from the live catalog, then stream from the stored offset). An unfinished snapshot is redone from
scratch on restart.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from cdc.capture.converters import SourceConverters
from cdc.capture.emit import ChangeEmitter
from cdc.capture.heartbeat import Heartbeat
from cdc.capture.source import CaptureSource, ConsistentSnapshot, SchemaHistoryState, StoredState, parse_stored_offset
from cdc.capture.table import CapturedTable
from cdc.config import WorkerConfig
from cdc.errors import ConfigError, FatalError, RetriableError
from cdc.events import SourceRecord
from cdc.mysql.binlog import BinlogConnection
from cdc.mysql.catalog import Catalog
from cdc.mysql.config import MySqlConnectorConfig
from cdc.mysql.offsets import MySqlOffset
from cdc.mysql.reader import BinlogReader, DdlEvent
from cdc.mysql.schema_change import SchemaChangeEmitter
from cdc.mysql.schema_history import SchemaHistory, recover
from cdc.mysql.snapshot import MySqlSnapshotTable, SnapshotTransaction
from cdc.mysql.source_info import source_block
from cdc.mysql.tables import MySqlTableRegistry
from cdc.mysql.types import MySqlTypeMapper
from cdc.mysql.validate import server_checks
from snapshot.progress import SnapshotProgress

log = logging.getLogger("cdc.mysql")


def create_source(
    name: str,
    cfg: MySqlConnectorConfig,
    worker: WorkerConfig,
    progress: SnapshotProgress | None,
    converters: SourceConverters,
) -> CaptureSource:
    """The ``ConnectorSpec.factory`` of the MySQL / MariaDB connector: its I/O half inside the shared coordinator."""
    return CaptureSource(MySqlConnector(name, cfg, worker, converters), progress)


class MySqlSnapshot:
    """A consistent snapshot: the transaction, the tables to read and the schema change events announcing them
    (implements ``cdc.capture.source.ConsistentSnapshot``)."""

    def __init__(
        self,
        flavor: str,
        topic_prefix: str,
        tx: SnapshotTransaction,
        tables: list[MySqlSnapshotTable],
        schema_changes: list[SourceRecord],
    ) -> None:
        self.flavor = flavor
        self.topic_prefix = topic_prefix
        self.tx = tx
        self.tables = tables
        self.start = MySqlOffset(tx.file, tx.pos, tx.gtids or None)
        self._schema_changes = schema_changes

    def source(self, table: CapturedTable, marker: str, now_ns: int) -> dict[str, Any]:
        start = self.start
        return source_block(
            self.flavor,
            self.topic_prefix,
            table.namespace,
            table.name,
            now_ns // 1000,
            marker,
            0,
            None,
            start.file,
            start.pos,
            0,
            None,
            None,
        )

    def position(self, completed: bool) -> dict[str, Any]:
        start = self.start
        if not completed:
            return MySqlOffset(start.file, start.pos, start.gtids, snapshot=True).to_dict()
        return MySqlOffset(
            start.file, start.pos, start.gtids, ts_sec=int(time.time()), snapshot=True, last_snapshot_record=True
        ).to_dict()

    def preamble(self) -> list[SourceRecord]:
        return self._schema_changes

    def close(self) -> None:
        self.tx.close()


class MySqlStream:
    """The binlog change stream (implements ``cdc.capture.source.ChangeStream`` over :class:`BinlogReader`).

    A MySQL replica sends the server no acknowledgements: the server's heartbeats keep the connection alive, and
    the stored offset alone says where a restart reads from.
    """

    def __init__(self, reader: BinlogReader) -> None:
        self.reader = reader

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
        return self.reader.poll(max_records, timeout)

    def position(self) -> dict[str, Any]:
        return self.reader.position().to_dict()

    def confirm(self, offset: dict[str, Any]) -> None:
        """Nothing to release on the server."""

    def keepalive(self) -> None:
        """Nothing to do: the server sends heartbeats; a MySQL replica needs no status updates."""

    @property
    def commit_due(self) -> bool:
        return False


class MySqlConnector:
    """One MySQL / MariaDB connector instance's database I/O (implements ``cdc.capture.source.CaptureConnector``)."""

    def __init__(
        self, name: str, cfg: MySqlConnectorConfig, worker: WorkerConfig, converters: SourceConverters
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.snapshot_mode = cfg.snapshot_mode
        self.converters = converters
        self.catalog = Catalog(cfg)
        self.history = SchemaHistory(
            cfg.schema_history_internal_kafka_bootstrap_servers or worker.bootstrap_servers,
            cfg.history_topic(),
            cfg.topic_prefix,
        )
        self.registry: MySqlTableRegistry | None = None
        self.binlog: BinlogConnection | None = None
        self.schema_changes: SchemaChangeEmitter | None = None
        self.flavor = "mysql"
        self._offset: MySqlOffset | None = None
        self._purged_reason: str | None = None
        self._history_records: list[Any] = []

    # -- start-up --------------------------------------------------------------------------------------------

    def open(self, stored_offset: dict[str, Any] | None) -> StoredState:
        """Check the prerequisites (every failure at once: ConfigError), build the table registry, parse the
        offset, and find out whether its binlog and its schema history still exist."""
        cfg = self.cfg
        failed = [c for c in server_checks(self.catalog, cfg) if not c.ok]
        if failed:
            raise ConfigError([f"server: {c.detail}; fix: {c.fix}" for c in failed])
        self.flavor = self.catalog.flavor
        self._check_server_id()
        mapper = MySqlTypeMapper(
            cfg.decimal_handling_mode,
            cfg.time_precision_mode,
            cfg.bigint_unsigned_handling_mode,
            cfg.binary_handling_mode,
        )
        self.registry = MySqlTableRegistry(
            self.flavor,
            cfg.table_filter(),
            cfg.topic_prefix,
            mapper,
            self.converters,
            cfg.unavailable_value_placeholder,
        )
        if cfg.include_schema_changes:
            self.schema_changes = SchemaChangeEmitter(self.flavor, cfg.topic_prefix, self.converters)
        self.history.ensure_topic()
        offset = self._offset = parse_stored_offset(stored_offset, MySqlOffset.from_dict, "MySQL")
        mode = cfg.snapshot_mode
        if offset is None and mode == "recovery":
            raise FatalError(
                "snapshot.mode=recovery needs a stored offset; use snapshot.mode=initial for a first start"
            )
        history: SchemaHistoryState = "present"
        if offset is not None and offset.snapshot_completed and mode not in ("always", "initial_only"):
            self._purged_reason = self._purged(offset)
            if self._purged_reason is None and mode != "recovery":
                self._history_records = self.history.read()
                history = "present" if self._history_records else "lost"
        return StoredState(
            offset_stored=offset is not None,
            snapshot_completed=offset is not None and offset.snapshot_completed,
            resumable=self._purged_reason is None,
            schema_history=history,
        )

    def position_lost(self) -> FatalError:
        offset = self._offset
        assert offset is not None
        if self._purged_reason is not None:
            return FatalError(
                f"the server no longer has the binlog needed to resume from {offset.file}:{offset.pos} "
                f"(gtids {offset.gtids or '-'}): {self._purged_reason}. Set snapshot.mode=when_needed to take a new "
                "snapshot, or reset the stored offset (cdc-engine offsets --reset)"
            )
        return FatalError(
            f"the schema history topic {self.history.topic!r} is missing or empty, but an offset "
            f"is stored ({offset.file}:{offset.pos}); the table schemas as of that position "
            "cannot be rebuilt. Set snapshot.mode=recovery to rebuild the history from the live "
            "catalog (correct if no DDL ran since the offset), or snapshot.mode=when_needed "
            "to take a new snapshot"
        )

    def _check_server_id(self) -> None:
        if self.cfg.database_server_id in self.catalog.replica_server_ids():
            raise RetriableError(
                f"database.server.id={self.cfg.database_server_id} is in use by another replica connected to the "
                "server (SHOW REPLICAS); give each connector its own database.server.id. Retrying in case it is "
                "this connector's previous connection closing"
            )

    def _purged(self, offset: MySqlOffset) -> str | None:
        """Why the stored position can no longer be read, or None when it can."""
        files = self.catalog.binlog_files()
        if self.flavor == "mysql" and offset.gtids and self._gtid_mode():
            rows = self.catalog.query("SELECT GTID_SUBSET(@@GLOBAL.gtid_purged, %s)", (offset.gtids,))
            return None if rows and int(rows[0][0]) == 1 else "binlogs holding GTIDs after the stored set were purged"
        if offset.file not in files:
            return f"binlog file {offset.file} was purged (oldest kept: {files[0] if files else 'none'})"
        return None

    def _gtid_mode(self) -> bool:
        if self.flavor == "mariadb":
            return True
        return self.catalog.variables("gtid_mode").get("gtid_mode", "OFF").upper() == "ON"

    def _captured(self) -> list[tuple[str, str]]:
        assert self.registry is not None
        return [(db, t) for db, t in self.catalog.tables() if self.registry.includes(db, t)]

    def _recover_history(self, offset: MySqlOffset) -> None:
        """snapshot.mode=recovery: table definitions from the live catalog, recorded at the stored offset."""
        assert self.registry is not None
        changes: list[tuple[str, tuple[str, str], Any]] = []
        for db, t in self._captured():
            definition = self.catalog.table_def(db, t)
            if definition is not None:
                self.registry.set_definition(definition)
                changes.append(("CREATE", (db, t), definition))
        self.history.record(offset.file, offset.pos, offset.gtids, "", "-- recovered from the live catalog", changes)
        log.info(
            "schema history rebuilt from the live catalog (%d table(s)) at %s:%d", len(changes), offset.file, offset.pos
        )

    # -- snapshot --------------------------------------------------------------------------------------------

    def begin_snapshot(self) -> MySqlSnapshot:
        """Lock, open the consistent-snapshot transaction, read position and definitions (recorded in the schema
        history), release the lock (``minimal``); the schema change events are the snapshot's preamble."""
        assert self.registry is not None
        captured = self._captured()
        tx = SnapshotTransaction(self.cfg, self.catalog, captured)
        try:
            changes: list[tuple[str, tuple[str, str], Any]] = []
            tables = []
            for definition in tx.definitions:
                self.registry.set_definition(definition)
                changes.append(("CREATE", (definition.database, definition.name), definition))
                version = self.registry.for_definition(definition, snapshot=True)
                tables.append(MySqlSnapshotTable(tx.conn, definition, version, self.cfg.snapshot_fetch_size))
            self.history.record(tx.file, tx.pos, tx.gtids or None, "", "-- snapshot", changes)
            schema_changes = (
                self._snapshot_schema_changes(tx.definitions, tx.file, tx.pos)
                if self.schema_changes is not None
                else []
            )
        except BaseException:
            tx.close()
            raise
        log.info(
            "snapshot of %d table(s) at %s:%d (gtids %s, lock %s)",
            len(tables),
            tx.file,
            tx.pos,
            tx.gtids or "-",
            tx.lock_kind,
        )
        return MySqlSnapshot(self.flavor, self.cfg.topic_prefix, tx, tables, schema_changes)

    def _snapshot_schema_changes(self, definitions: list[Any], file: str, pos: int) -> list[SourceRecord]:
        """The schema change events Debezium's snapshot writes before the rows: the server character set, a
        DROP TABLE IF EXISTS per table, then per database DROP/CREATE DATABASE, USE and each table's
        ``SHOW CREATE TABLE``."""
        assert self.schema_changes is not None
        emit = self.schema_changes.record
        now_ms = time.time_ns() // 1_000_000

        def source(db: str, table: str | None) -> dict[str, Any]:
            return source_block(
                self.flavor, self.cfg.topic_prefix, db, table, now_ms * 1000, "true", 0, None, file, pos, 0, None, None
            )

        names = self.catalog.variables("character_set_server", "collation_server")
        out = [
            emit(
                "",
                f"SET character_set_server={names.get('character_set_server', '')}, "
                f"collation_server={names.get('collation_server', '')}",
                source("", None),
                [],
                now_ms,
            )
        ]
        for d in definitions:
            ident = f"`{d.database}`.`{d.name}`"
            out.append(
                emit(
                    d.database,
                    f"DROP TABLE IF EXISTS {ident}",
                    source(d.database, d.name),
                    [("DROP", (d.database, d.name), None)],
                    now_ms,
                )
            )
        for database in dict.fromkeys(d.database for d in definitions):
            charset, collation = self.catalog.database_charset(database)
            for ddl in (
                f"DROP DATABASE IF EXISTS `{database}`",
                f"CREATE DATABASE `{database}` CHARSET {charset} COLLATE {collation}",
                f"USE `{database}`",
            ):
                out.append(emit(database, ddl, source(database, None), [], now_ms))
            for d in definitions:
                if d.database == database:
                    ddl = self.catalog.show_create_table(d.database, d.name)
                    changes = [("CREATE", (d.database, d.name), d)]
                    out.append(emit(database, ddl, source(database, d.name), changes, now_ms))
        return out

    # -- streaming -------------------------------------------------------------------------------------------

    def begin_stream(self, after: ConsistentSnapshot | None) -> MySqlStream:
        """From the snapshot's position, else from the stored offset with the schemas as of it (from the schema
        history, or with snapshot.mode=recovery from the live catalog)."""
        assert self.registry is not None
        if isinstance(after, MySqlSnapshot):
            return self._start_stream(after.start)
        offset = self._offset
        assert offset is not None  # the coordinator streams without a snapshot only from a completed offset
        if self.cfg.snapshot_mode == "recovery":
            self._recover_history(offset)
        else:
            for definition in recover(self._history_records, offset.file, offset.pos).values():
                self.registry.set_definition(definition)
        self._history_records = []
        return self._start_stream(offset)

    def _start_stream(self, offset: MySqlOffset) -> MySqlStream:
        assert self.registry is not None
        cfg = self.cfg
        heartbeat = None
        if cfg.heartbeat_interval_ms > 0:
            heartbeat = Heartbeat(
                cfg.topic_heartbeat_prefix, cfg.topic_prefix, self.converters, cfg.heartbeat_interval_ms / 1000
            )
        use_gtids = bool(offset.gtids) and self._gtid_mode()
        self.binlog = BinlogConnection(
            cfg,
            self.flavor,
            None if use_gtids else offset.file,
            None if use_gtids else offset.pos,
            offset.gtids if use_gtids else None,
            include_query=cfg.include_query,
        )
        reader = BinlogReader(
            self.binlog,
            self.registry,
            offset,
            self.flavor,
            cfg.topic_prefix,
            ChangeEmitter(cfg.skipped_ops(), cfg.tombstones_on_delete),
            heartbeat,
            self._on_ddl,
            cfg.include_query,
            cfg.gtid_source_includes,
            cfg.gtid_source_excludes,
            cfg.gtid_source_filter_dml_events,
        )
        log.info(
            "streaming the binlog from %s%s",
            self.binlog.start_description,
            f" (inside a transaction: skipping {offset.event} row event(s))" if offset.event else "",
        )
        return MySqlStream(reader)

    # -- DDL -------------------------------------------------------------------------------------------------

    def _on_ddl(self, event: DdlEvent, out: list[SourceRecord]) -> None:
        """A DDL statement was read: re-read the tables it touched, record them, announce the change."""
        assert self.registry is not None
        effect = event.effect
        changes: list[tuple[str, tuple[str, str], Any]] = []
        for db, table in effect.dropped:
            self.registry.drop_definition(db, table)
            changes.append(("DROP", (db, table), None))
        if effect.kind == "DROP_DATABASE" and effect.database:
            for db, table in [k for k in self.registry.definitions if k[0] == effect.database]:
                self.registry.drop_definition(db, table)
                changes.append(("DROP", (db, table), None))
        for db, table in effect.tables:
            definition = self.catalog.table_def(db, table)
            if definition is None:
                continue
            self.registry.set_definition(definition)
            changes.append(("CREATE" if effect.kind in ("CREATE", "RENAME") else "ALTER", (db, table), definition))
        self.history.record(event.file, event.end_pos, event.gtids_after, event.database, event.statement, changes)
        captured = [c for c in changes if self.registry.includes(*c[1])]
        if self.schema_changes is not None and (captured or effect.kind in ("CREATE_DATABASE", "DROP_DATABASE")):
            db = effect.database or event.database
            table_name = captured[0][1][1] if captured else None
            source = source_block(
                self.flavor,
                self.cfg.topic_prefix,
                db,
                table_name,
                event.ts_us,
                "false",
                event.server_id,
                event.gtid,
                event.file,
                event.start_pos,
                0,
                None,
                None,
            )
            out.append(self.schema_changes.record(db, event.statement, source, captured, time.time_ns() // 1_000_000))

    # -- stop ------------------------------------------------------------------------------------------------

    def close(self, final: bool) -> None:
        """Release the binlog connection, the history producer and the catalog connection (the coordinator
        closed any snapshot before)."""
        if self.binlog is not None:
            self.binlog.close()
            self.binlog = None
        self.history.close()
        self.catalog.close()
