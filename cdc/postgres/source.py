"""The PostgreSQL source connector: decides snapshot vs. stream from the stored offset and drives both.

Lifecycle (called by ``cdc.runtime.ConnectorRuntime``): :meth:`PostgresSource.start` checks prerequisites,
manages the publication and slot and picks the phase; :meth:`poll` returns snapshot records first (op ``r``), then
streamed changes; :meth:`committed` forwards stored offsets to the slot. An unfinished snapshot is redone from
scratch on restart (the slot is recreated to get a fresh exported snapshot; nothing was streamed from it yet).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from cdc.config import WorkerConfig
from cdc.errors import FatalError, RetriableError
from cdc.events import SourceRecord
from cdc.postgres.catalog import Catalog
from cdc.postgres.config import PostgresConnectorConfig
from cdc.postgres.offsets import PostgresOffset
from cdc.postgres.reader import StreamReader
from cdc.postgres.replication import ReplicationConnection, lsn_to_str, str_to_lsn
from cdc.postgres.snapshot import PostgresSnapshotTable, SnapshotTransaction
from cdc.postgres.source_info import source_block
from cdc.postgres.tables import CapturedTable, TableRegistry
from cdc.postgres.types import TypeMapper
from schemas.heartbeat import HeartbeatEmitter
from schemas.json_converter import JsonConverter
from snapshot.progress import SnapshotProgress
from snapshot.runner import MarkedRow, marked_rows

log = logging.getLogger("cdc.postgres")


def conninfo_for(cfg: PostgresConnectorConfig) -> str:
    """libpq conninfo from the connector properties (password included; never logged)."""

    def quote(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    parts = {
        "host": cfg.database_hostname,
        "port": str(cfg.database_port),
        "user": cfg.database_user,
        "dbname": cfg.database_dbname,
        "sslmode": cfg.database_sslmode,
        "application_name": "cdc-engine",
        "connect_timeout": "10",
    }
    password = cfg.database_password.get_secret_value()
    if password:
        parts["password"] = password
    return " ".join(f"{k}={quote(v)}" for k, v in parts.items())


class PostgresSource:
    """One PostgreSQL connector instance (implements cdc.source.Source)."""

    def __init__(
        self,
        name: str,
        cfg: PostgresConnectorConfig,
        worker: WorkerConfig,
        progress: SnapshotProgress | None = None,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.conninfo = conninfo_for(cfg)
        self.key_converter = JsonConverter(worker.key_converter_schemas_enable)
        self.value_converter = JsonConverter(worker.value_converter_schemas_enable)
        self.progress = progress or SnapshotProgress(enabled=False)
        self.catalog = Catalog(self.conninfo)
        self.repl: ReplicationConnection | None = None
        self.registry: TableRegistry | None = None
        self.reader: StreamReader | None = None
        self._snapshot_tx: SnapshotTransaction | None = None
        self._snapshot_rows: Iterator[MarkedRow[tuple[str | None, ...]]] | None = None
        self._snapshot_position: PostgresOffset | None = None
        self._snapshot_lsn = 0
        self._finished = False

    # -- start-up --------------------------------------------------------------------------------------------

    def start(self, stored_offset: dict[str, Any] | None) -> None:
        cfg = self.cfg
        wal_level = self.catalog.setting("wal_level")
        if wal_level != "logical":
            raise FatalError(
                f"PostgreSQL wal_level is {wal_level!r}; logical decoding needs wal_level=logical "
                "(ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL)"
            )
        table_filter = cfg.table_filter()
        captured = [(s, t) for _, s, t in self.catalog.capture_candidates() if table_filter.includes_table(s, t)]
        self.catalog.ensure_publication(cfg.publication_name, cfg.publication_autocreate_mode, captured)
        mapper = TypeMapper(cfg.decimal_handling_mode, _time_mode(cfg.time_precision_mode), self.catalog.resolve_type)
        self.registry = TableRegistry(
            self.catalog,
            table_filter,
            cfg.topic_prefix,
            mapper,
            self.key_converter,
            self.value_converter,
            cfg.unavailable_value_placeholder,
        )

        offset = _parse_offset(stored_offset)
        slot = self.catalog.slot(cfg.slot_name)
        if slot is not None and slot["database"] != cfg.database_dbname:
            raise FatalError(
                f"replication slot {cfg.slot_name!r} belongs to database {slot['database']!r}, not "
                f"{cfg.database_dbname!r}; choose another slot.name"
            )
        if slot is not None and slot["active"]:
            raise RetriableError(
                f"replication slot {cfg.slot_name!r} is in use by PID {slot['active_pid']}; another engine is "
                "running with this slot.name"
            )
        need_snapshot = self._needs_snapshot(offset, slot is not None)
        if offset is not None and slot is None and not need_snapshot:
            raise FatalError(
                f"replication slot {cfg.slot_name!r} does not exist, but an offset is stored for this connector "
                f"(lsn {lsn_to_str(offset.lsn)}): changes made since then cannot be read. To re-snapshot, set "
                "snapshot.mode=when_needed, or delete the stored offset (cdc-engine offsets --reset)."
            )
        if cfg.snapshot_mode == "initial_only" and offset is not None and offset.snapshot_completed:
            log.info("snapshot.mode=initial_only and the snapshot is complete; nothing to do")
            self._finished = True
            return

        self.repl = ReplicationConnection(self.conninfo)
        self.repl.connect()
        if need_snapshot:
            if slot is not None:
                log.warning("dropping replication slot %s to take a new consistent snapshot", cfg.slot_name)
                self.catalog.drop_slot(cfg.slot_name)
            lsn, snapshot_name = self.repl.create_slot(cfg.slot_name, export_snapshot=True)
            assert snapshot_name is not None
            self._begin_snapshot(snapshot_name, lsn, captured)
            return
        if slot is None:
            lsn, _ = self.repl.create_slot(cfg.slot_name, export_snapshot=False)
            log.info("created replication slot %s at %s (no snapshot)", cfg.slot_name, lsn_to_str(lsn))
            offset = PostgresOffset(lsn=lsn)
        elif offset is None:
            offset = PostgresOffset(lsn=str_to_lsn(slot["confirmed_flush_lsn"]))
        self._start_stream(offset)

    def _needs_snapshot(self, offset: PostgresOffset | None, slot_exists: bool) -> bool:
        mode = self.cfg.snapshot_mode
        incomplete = offset is None or not offset.snapshot_completed
        if mode in ("initial", "initial_only"):
            return incomplete
        if mode == "always":
            return True
        if mode == "when_needed":
            return incomplete or not slot_exists
        return False  # no_data, never

    def _begin_snapshot(self, snapshot_name: str, lsn: int, captured: list[tuple[str, str]]) -> None:
        assert self.registry is not None
        self._snapshot_lsn = lsn
        self._snapshot_tx = SnapshotTransaction(self.conninfo, snapshot_name)
        tables = []
        relids = {(s, t): r for r, s, t in self.catalog.capture_candidates()}
        for schema, name in captured:
            info = self.catalog.table(relids[(schema, name)])
            if info is None:
                continue
            table = self.registry.from_catalog(info)
            tables.append(PostgresSnapshotTable(self._snapshot_tx.conn, info, table, self.cfg.snapshot_fetch_size))
        log.info("snapshot of %d table(s) at %s (snapshot %s)", len(tables), lsn_to_str(lsn), snapshot_name)
        self.progress.__enter__()
        self._snapshot_rows = marked_rows(tables, self.progress)  # type: ignore[arg-type]
        self._snapshot_position = PostgresOffset(lsn=lsn, tx_id=self._snapshot_tx.tx_id, snapshot=True)

    def _start_stream(self, offset: PostgresOffset) -> None:
        assert self.repl is not None and self.registry is not None
        cfg = self.cfg
        heartbeat = None
        if cfg.heartbeat_interval_ms > 0:
            heartbeat = HeartbeatEmitter(
                cfg.topic_heartbeat_prefix, cfg.topic_prefix, self.key_converter, self.value_converter
            )
        self.reader = StreamReader(
            self.repl,
            self.registry,
            self.catalog,
            offset,
            cfg.topic_prefix,
            cfg.database_dbname,
            cfg.skipped_ops(),
            cfg.tombstones_on_delete,
            heartbeat,
            cfg.heartbeat_interval_ms / 1000,
            cfg.status_update_interval_ms / 1000,
        )
        self.repl.start_replication(cfg.slot_name, offset.lsn, cfg.publication_name)
        log.info(
            "streaming from slot %s at %s%s",
            cfg.slot_name,
            lsn_to_str(offset.lsn),
            f" (inside transaction committing at {lsn_to_str(offset.lsn_commit or 0)})" if offset.events else "",
        )

    # -- running ---------------------------------------------------------------------------------------------

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
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
        tx_id = self._snapshot_position.tx_id
        for marked in self._snapshot_rows:
            table: CapturedTable = marked.table.table  # type: ignore[attr-defined]
            row = table.row(marked.row)
            source = source_block(
                self.cfg.topic_prefix,
                self.cfg.database_dbname,
                table.schema,
                table.name,
                now_ns // 1000,
                marked.marker,
                tx_id,
                self._snapshot_lsn,
                f'[null,"{self._snapshot_lsn}"]',
            )
            records.append(table.record(None, row, source, "r", now_ns, row))
            if len(records) >= max_records:
                return records
        self._finish_snapshot()
        return records

    def _finish_snapshot(self) -> None:
        assert self._snapshot_position is not None
        self._snapshot_rows = None
        if self._snapshot_tx is not None:
            self._snapshot_tx.close()
            self._snapshot_tx = None
        self.progress.__exit__(None, None, None)
        self._snapshot_position = PostgresOffset(
            lsn=self._snapshot_lsn,
            tx_id=self._snapshot_position.tx_id,
            ts_usec=time.time_ns() // 1000,
            snapshot=True,
            last_snapshot_record=True,
        )
        log.info("snapshot completed")
        if self.cfg.snapshot_mode == "initial_only":
            self._finished = True
            return
        self._start_stream(PostgresOffset(lsn=self._snapshot_lsn))

    def position(self) -> dict[str, Any] | None:
        # The snapshot's offset stays the answer until it is stored: streamed records produced meanwhile are
        # then re-read after a crash (duplicates, never gaps).
        if self._snapshot_position is not None:
            return self._snapshot_position.to_dict()
        return None if self.reader is None else self.reader.position().to_dict()

    def committed(self, offset: dict[str, Any]) -> None:
        if offset.get("last_snapshot_record"):
            self._snapshot_position = None
        if self.reader is not None:
            self.reader.confirm(PostgresOffset.from_dict(offset))

    @property
    def commit_due(self) -> bool:
        # Right after the snapshot: store its completion at once, so a stop or crash never redoes it, and so the
        # streamed changes that follow are covered by the next offset rather than replayed (see position()).
        if self._snapshot_position is not None:
            return self._snapshot_position.last_snapshot_record
        return self.reader is not None and self.reader.commit_due

    def keepalive(self) -> None:
        if self.reader is not None:
            self.reader.keepalive()

    @property
    def finished(self) -> bool:
        return self._finished

    def stop(self, final: bool) -> None:
        if self._snapshot_tx is not None:
            self._snapshot_tx.close()
            self._snapshot_tx = None
        if self.repl is not None:
            self.repl.close()
            self.repl = None
        if self.cfg.slot_drop_on_stop and final:
            try:
                if self.catalog.slot(self.cfg.slot_name) is not None:
                    self.catalog.drop_slot(self.cfg.slot_name)
                    log.info("dropped replication slot %s (slot.drop.on.stop=true)", self.cfg.slot_name)
            except RetriableError as exc:
                log.warning("could not drop replication slot %s: %s", self.cfg.slot_name, exc)
        self.catalog.close()


def _time_mode(mode: str) -> str:
    return mode if mode in ("connect", "adaptive_time_microseconds") else "adaptive"


def _parse_offset(stored: dict[str, Any] | None) -> PostgresOffset | None:
    if stored is None:
        return None
    try:
        return PostgresOffset.from_dict(stored)
    except (KeyError, TypeError, ValueError) as exc:
        raise FatalError(
            f"the stored offset {stored!r} is not a PostgreSQL offset ({exc}); reset it with cdc-engine offsets --reset"
        ) from None
