"""The MySQL / MariaDB source connector: decides snapshot vs. stream from the stored offset and drives both.

Lifecycle (called by ``cdc.runtime.ConnectorRuntime``): :meth:`MySqlSource.start` checks the server's
prerequisites (every failure at once, exit code 2), restores the schema from the schema history topic and picks
the phase; :meth:`poll` returns snapshot records first (op ``r``), then streamed changes. An unfinished snapshot
is redone from scratch on restart.

``snapshot.mode``: ``initial`` (snapshot once, then stream), ``initial_only`` (snapshot, then stop), ``no_data``
/ ``never`` (schema only, stream from the current position), ``always`` (snapshot at every start),
``when_needed`` (snapshot when there is no offset or the binlog it needs is gone), ``recovery`` (rebuild a
lost schema history from the live catalog, then stream from the stored offset).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from cdc.capture.converters import SourceConverters
from cdc.capture.emit import ChangeEmitter
from cdc.capture.heartbeat import Heartbeat
from cdc.capture.snapshot import MarkedRow, marked_rows
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


class MySqlSource:
    """One MySQL / MariaDB connector instance (implements cdc.source.Source)."""

    def __init__(
        self,
        name: str,
        cfg: MySqlConnectorConfig,
        worker: WorkerConfig,
        progress: SnapshotProgress | None,
        converters: SourceConverters,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.worker = worker
        self.converters = converters
        self.progress = progress or SnapshotProgress(enabled=False)
        self.catalog = Catalog(cfg)
        self.history = SchemaHistory(
            cfg.schema_history_internal_kafka_bootstrap_servers or worker.bootstrap_servers,
            cfg.history_topic(),
            cfg.topic_prefix,
        )
        self.registry: MySqlTableRegistry | None = None
        self.reader: BinlogReader | None = None
        self.binlog: BinlogConnection | None = None
        self.schema_changes: SchemaChangeEmitter | None = None
        self._snapshot_tx: SnapshotTransaction | None = None
        self._snapshot_rows: Iterator[tuple[MarkedRow, str]] | None = None
        self._completed_position: dict[str, Any] | None = None
        self._snapshot_position: MySqlOffset | None = None
        self._pending: list[SourceRecord] = []
        self._finished = False
        self.flavor = "mysql"

    # -- start-up --------------------------------------------------------------------------------------------

    def start(self, stored_offset: dict[str, Any] | None) -> None:
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
        offset = _parse_offset(stored_offset)
        mode = cfg.snapshot_mode

        if offset is not None and offset.snapshot_completed and mode not in ("always",):
            if mode == "initial_only":
                log.info("snapshot.mode=initial_only and the snapshot is complete; nothing to do")
                self._finished = True
                return
            purged = self._purged(offset)
            if purged and mode != "when_needed":
                raise FatalError(
                    f"the server no longer has the binlog needed to resume from {offset.file}:{offset.pos} "
                    f"(gtids {offset.gtids or '-'}): {purged}. Set snapshot.mode=when_needed to take a new "
                    "snapshot, or reset the stored offset (cdc-engine offsets --reset)"
                )
            if not purged:
                if mode == "recovery":
                    self._recover_history(offset)
                else:
                    records = self.history.read()
                    if not records:
                        if mode != "when_needed":
                            raise FatalError(
                                f"the schema history topic {self.history.topic!r} is missing or empty, but an offset "
                                f"is stored ({offset.file}:{offset.pos}); the table schemas as of that position "
                                "cannot be rebuilt. Set snapshot.mode=recovery to rebuild the history from the live "
                                "catalog (correct if no DDL ran since the offset), or snapshot.mode=when_needed "
                                "to take a new snapshot"
                            )
                    else:
                        for definition in recover(records, offset.file, offset.pos).values():
                            self.registry.set_definition(definition)
                        self._start_stream(offset)
                        return
            log.warning("taking a new snapshot (snapshot.mode=when_needed)")
        if offset is not None and mode in ("no_data", "never", "recovery") and offset.snapshot_completed:
            self._recover_history(offset)
            return
        if offset is None and mode == "recovery":
            raise FatalError(
                "snapshot.mode=recovery needs a stored offset; use snapshot.mode=initial for a first start"
            )
        self._begin_snapshot(with_data=mode not in ("no_data", "never"))

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
        """snapshot.mode=recovery (or no_data after a restart): table definitions from the live catalog."""
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
        self._start_stream(offset)

    def _begin_snapshot(self, with_data: bool) -> None:
        assert self.registry is not None
        captured = self._captured()
        tx = SnapshotTransaction(self.cfg, self.catalog, captured)
        self._snapshot_tx = tx
        changes: list[tuple[str, tuple[str, str], Any]] = []
        tables = []
        for definition in tx.definitions:
            self.registry.set_definition(definition)
            changes.append(("CREATE", (definition.database, definition.name), definition))
            version = self.registry.for_definition(definition, snapshot=True)
            tables.append(MySqlSnapshotTable(tx.conn, definition, version, self.cfg.snapshot_fetch_size))
        self.history.record(tx.file, tx.pos, tx.gtids or None, "", "-- snapshot", changes)
        if self.schema_changes is not None:
            self._pending = self._snapshot_schema_changes(tx.definitions, tx.file, tx.pos)
        log.info(
            "snapshot of %d table(s) at %s:%d (gtids %s, lock %s)",
            len(tables),
            tx.file,
            tx.pos,
            tx.gtids or "-",
            tx.lock_kind,
        )
        self._snapshot_position = MySqlOffset(tx.file, tx.pos, tx.gtids or None, snapshot=True)
        if not with_data:
            self._finish_snapshot()
            return
        self.progress.__enter__()
        self._snapshot_rows = per_table_markers(marked_rows(tables, self.progress))

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

    def _start_stream(self, offset: MySqlOffset) -> None:
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
        self.reader = BinlogReader(
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
        )
        log.info(
            "streaming the binlog from %s%s",
            self.binlog.start_description,
            f" (inside a transaction: skipping {offset.event} row event(s))" if offset.event else "",
        )

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

    # -- running ---------------------------------------------------------------------------------------------

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
        if self._pending:
            pending, self._pending = self._pending, []
            return pending
        if self.reader is not None:
            return self.reader.poll(max_records, timeout)
        if self._snapshot_rows is not None:
            return self._poll_snapshot(max_records)
        time.sleep(min(timeout, 0.05))
        return []

    def _poll_snapshot(self, max_records: int) -> list[SourceRecord]:
        assert self._snapshot_rows is not None and self._snapshot_position is not None
        records: list[SourceRecord] = []
        now_ns = time.time_ns()
        file, pos = self._snapshot_position.file, self._snapshot_position.pos
        for marked, marker in self._snapshot_rows:
            captured = marked.table.table
            row = captured.row(marked.row)
            source = source_block(
                self.flavor,
                self.cfg.topic_prefix,
                captured.namespace,
                captured.name,
                now_ns // 1000,
                marker,
                0,
                None,
                file,
                pos,
                0,
                None,
                None,
            )
            records.append(captured.record(None, row, source, "r", now_ns, row))
            if len(records) >= max_records:
                return records
        self._finish_snapshot()
        return records

    def _finish_snapshot(self) -> None:
        assert self._snapshot_position is not None
        if self._snapshot_rows is not None:
            self.progress.__exit__(None, None, None)
        self._snapshot_rows = None
        if self._snapshot_tx is not None:
            self._snapshot_tx.close()
            self._snapshot_tx = None
        start = self._snapshot_position
        self._snapshot_position = MySqlOffset(
            start.file, start.pos, start.gtids, ts_sec=int(time.time()), snapshot=True, last_snapshot_record=True
        )
        self._completed_position = self._snapshot_position.to_dict()
        log.info("snapshot completed")
        if self.cfg.snapshot_mode == "initial_only":
            self._finished = True
            return
        self._start_stream(MySqlOffset(start.file, start.pos, start.gtids))

    def position(self) -> dict[str, Any] | None:
        # The snapshot's offset stays the answer until it is stored: streamed records produced meanwhile are
        # then re-read after a crash (duplicates, never gaps).
        if self._snapshot_position is not None:
            return self._snapshot_position.to_dict()
        return None if self.reader is None else self.reader.position().to_dict()

    def committed(self, offset: dict[str, Any]) -> None:
        if offset.get("last_snapshot_record"):
            self._snapshot_position = self._completed_position = None

    @property
    def commit_due(self) -> bool:
        """Right after the snapshot: store its completion at once, so that a stop or crash never redoes it."""
        return self._completed_position is not None

    def keepalive(self) -> None:
        """Nothing to do: the server sends heartbeats; a MySQL replica needs no status updates."""

    @property
    def finished(self) -> bool:
        return self._finished

    def stop(self, final: bool) -> None:
        if self._snapshot_rows is not None:
            self.progress.__exit__(None, None, None)
            self._snapshot_rows = None
        if self._snapshot_tx is not None:
            self._snapshot_tx.close()
            self._snapshot_tx = None
        if self.binlog is not None:
            self.binlog.close()
            self.binlog = None
        self.history.close()
        self.catalog.close()


def create_source(
    name: str,
    cfg: MySqlConnectorConfig,
    worker: WorkerConfig,
    progress: SnapshotProgress | None,
    converters: SourceConverters,
) -> MySqlSource:
    """The ``ConnectorSpec.factory`` of the MySQL / MariaDB connector."""
    return MySqlSource(name, cfg, worker, progress, converters)


def per_table_markers(rows: Iterator[MarkedRow]) -> Iterator[tuple[MarkedRow, str]]:
    """Debezium 3.x snapshot markers: ``first`` and ``last`` for the whole snapshot, and in between
    ``first_in_data_collection`` / ``last_in_data_collection`` on each table's first and last row, else ``true``.

    The shared runner marks first/true/last only; one more row of look-ahead tells where a table ends.
    """
    held: tuple[MarkedRow, bool] | None = None
    previous_table: object = None
    for row in rows:
        first_in_table = row.table is not previous_table
        previous_table = row.table
        if held is not None:
            yield held[0], _marker(held[0].marker, held[1], row.table is not held[0].table)
        held = (row, first_in_table)
    if held is not None:
        yield held[0], _marker(held[0].marker, held[1], True)


def _marker(base: str, first_in_table: bool, last_in_table: bool) -> str:
    if base in ("first", "last"):
        return base
    if first_in_table:
        return "first_in_data_collection"
    return "last_in_data_collection" if last_in_table else "true"


def _parse_offset(stored: dict[str, Any] | None) -> MySqlOffset | None:
    if stored is None:
        return None
    try:
        return MySqlOffset.from_dict(stored)
    except (KeyError, TypeError, ValueError) as exc:
        raise FatalError(
            f"the stored offset {stored!r} is not a MySQL offset ({exc}); reset it with cdc-engine offsets --reset"
        ) from None
