"""The PostgreSQL source connector's I/O half: publication, slot, exported snapshot and pgoutput stream.

:class:`PostgresConnector` implements ``cdc.capture.source.CaptureConnector``; the shared
``cdc.capture.source.CaptureSource`` drives it (``snapshot.mode`` policy, snapshot → stream switch, offsets while
snapshotting). :func:`create_source` is the connector factory named by ``cdc.postgres.SPEC``. An unfinished
snapshot is redone from scratch on restart (the slot is recreated to get a fresh exported snapshot; nothing was
streamed from it yet).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from cdc.capture.converters import SourceConverters
from cdc.capture.emit import ChangeEmitter
from cdc.capture.heartbeat import Heartbeat
from cdc.capture.source import CaptureSource, ConsistentSnapshot, StoredState, parse_stored_offset
from cdc.capture.table import CapturedTable, TableBuilder
from cdc.column_mappers import ColumnMappers
from cdc.config import WorkerConfig
from cdc.errors import CdcError, FatalError, RetriableError
from cdc.events import SourceRecord, context_headers, new_run_id
from cdc.postgres.catalog import Catalog
from cdc.postgres.config import PostgresConnectorConfig
from cdc.postgres.messages import MessageEmitter
from cdc.postgres.offsets import PostgresOffset
from cdc.postgres.reader import StreamReader
from cdc.postgres.replication import ReplicationConnection, lsn_to_str, str_to_lsn
from cdc.postgres.slot_health import SlotLostError, SlotWatch, lost_message, slot_state
from cdc.postgres.snapshot import PostgresSnapshotTable, SnapshotTransaction
from cdc.postgres.source_info import SOURCE_SCHEMA, source_block
from cdc.postgres.tables import TableRegistry
from cdc.postgres.types import TypeMapper
from schemas.transaction import TransactionTracker
from snapshot.progress import SnapshotProgress

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


def create_source(
    name: str,
    cfg: PostgresConnectorConfig,
    worker: WorkerConfig,
    progress: SnapshotProgress | None,
    converters: SourceConverters,
) -> CaptureSource:
    """The ``ConnectorSpec.factory`` of the PostgreSQL connector: its I/O half inside the shared coordinator."""
    return CaptureSource(PostgresConnector(name, cfg, converters), progress)


class PostgresSnapshot:
    """The slot's exported snapshot, read in one transaction (implements ``cdc.capture.source.ConsistentSnapshot``)."""

    def __init__(self, cfg: PostgresConnectorConfig, tx: SnapshotTransaction, lsn: int) -> None:
        self.cfg = cfg
        self.tx = tx
        self.lsn = lsn
        self.tables: list[PostgresSnapshotTable] = []
        self._sequence = f'[null,"{lsn}"]'

    def source(self, table: CapturedTable, marker: str, now_ns: int) -> dict[str, Any]:
        return source_block(
            self.cfg.topic_prefix,
            self.cfg.database_dbname,
            table.namespace,
            table.name,
            now_ns // 1000,
            marker,
            self.tx.tx_id,
            self.lsn,
            self._sequence,
        )

    def position(self, completed: bool) -> dict[str, Any]:
        if not completed:
            return PostgresOffset(lsn=self.lsn, tx_id=self.tx.tx_id, snapshot=True).to_dict()
        return PostgresOffset(
            lsn=self.lsn,
            tx_id=self.tx.tx_id,
            ts_usec=time.time_ns() // 1000,
            snapshot=True,
            last_snapshot_record=True,
        ).to_dict()

    def preamble(self) -> list[SourceRecord]:
        return []  # PostgreSQL announces no schema changes before the rows

    def close(self) -> None:
        self.tx.close()


class PostgresStream:
    """The slot's change stream (implements ``cdc.capture.source.ChangeStream`` over :class:`StreamReader`)."""

    def __init__(self, reader: StreamReader, watch: SlotWatch) -> None:
        self.reader = reader
        self.watch = watch

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
        self._check_slot_health()
        return self.reader.poll(max_records, timeout)

    def _check_slot_health(self) -> None:
        """Every few seconds: a slot PostgreSQL invalidated stops the engine (or, with snapshot.mode=when_needed,
        restarts the pipeline, whose start-up drops it and re-snapshots)."""
        try:
            self.watch.check()
        except SlotLostError as exc:
            if self.watch.snapshot_mode != "when_needed":
                raise
            raise RetriableError(f"{exc}; restarting to re-snapshot") from None

    def position(self) -> dict[str, Any]:
        return self.reader.position().to_dict()

    def confirm(self, offset: dict[str, Any]) -> None:
        self.reader.confirm(PostgresOffset.from_dict(offset))

    def keepalive(self) -> None:
        self.reader.keepalive()

    @property
    def commit_due(self) -> bool:
        return self.reader.commit_due


class PostgresConnector:
    """One PostgreSQL connector instance's database I/O (implements ``cdc.capture.source.CaptureConnector``)."""

    def __init__(self, name: str, cfg: PostgresConnectorConfig, converters: SourceConverters) -> None:
        self.name = name
        self.cfg = cfg
        self.snapshot_mode = cfg.snapshot_mode
        self.conninfo = conninfo_for(cfg)
        self.converters = converters
        self.catalog = Catalog(self.conninfo)
        self.repl: ReplicationConnection | None = None
        self.registry: TableRegistry | None = None
        self._offset: PostgresOffset | None = None
        self._slot: dict[str, Any] | None = None
        self._captured: list[tuple[str, str]] = []
        self._snapshot_tx: SnapshotTransaction | None = None

    def open(self, stored_offset: dict[str, Any] | None) -> StoredState:
        cfg = self.cfg
        wal_level = self.catalog.setting("wal_level")
        if wal_level != "logical":
            raise FatalError(
                f"PostgreSQL wal_level is {wal_level!r}; logical decoding needs wal_level=logical "
                "(ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL)"
            )
        table_filter = cfg.table_filter()
        candidates = self.catalog.capture_candidates()
        self._captured = [(s, t) for _, s, t in candidates if table_filter.includes_table(s, t)]
        if not self._captured:
            log.warning(
                "no table matches the filters (schema/table include and exclude lists) among the %d table(s) of "
                "database %s: nothing is captured until a matching table is created",
                len(candidates),
                cfg.database_dbname,
            )
        _check_replication_privilege(self.catalog, cfg.database_user)
        self.catalog.ensure_publication(cfg.publication_name, cfg.publication_autocreate_mode, self._captured)
        mapper = TypeMapper(
            cfg.decimal_handling_mode,
            _time_mode(cfg.time_precision_mode),
            self.catalog.resolve_type,
            hstore_handling_mode=cfg.hstore_handling_mode,
            interval_handling_mode=cfg.interval_handling_mode,
            binary_handling_mode=cfg.binary_handling_mode,
            money_fraction_digits=cfg.money_fraction_digits,
            include_unknown_datatypes=cfg.include_unknown_datatypes,
        )
        builder = TableBuilder(
            cfg.topic_prefix,
            table_filter,
            self.converters,
            SOURCE_SCHEMA,
            cfg.unavailable_value_placeholder,
            context_headers(cfg.topic_prefix, "postgresql", new_run_id()) if cfg.extended_headers_enabled else None,
            ColumnMappers(cfg.model_extra or {}),
        )
        self.registry = TableRegistry(self.catalog, table_filter, mapper, builder)

        offset = self._offset = parse_stored_offset(stored_offset, PostgresOffset.from_dict, "PostgreSQL")
        slot = self._slot = self.catalog.slot(cfg.slot_name)
        if slot is not None and slot["database"] != cfg.database_dbname:
            raise FatalError(
                f"replication slot {cfg.slot_name!r} belongs to database {slot['database']!r}, not "
                f"{cfg.database_dbname!r}; choose another slot.name"
            )
        if slot is not None:
            slot = self._slot = self._check_slot(slot)
        return StoredState(
            offset_stored=offset is not None,
            snapshot_completed=offset is not None and offset.snapshot_completed,
            resumable=slot is not None,
        )

    def position_lost(self) -> FatalError:
        assert self._offset is not None
        return FatalError(
            f"replication slot {self.cfg.slot_name!r} does not exist, but an offset is stored for this connector "
            f"(lsn {lsn_to_str(self._offset.lsn)}): changes made since then cannot be read. To re-snapshot, set "
            "snapshot.mode=when_needed, or delete the stored offset (cdc-engine offsets --reset)."
        )

    def _check_slot(self, slot: dict[str, Any]) -> dict[str, Any] | None:
        """Start-up checks of an existing slot; returns it, or None when a lost slot was dropped to re-snapshot.

        A lost slot is never retried: FatalError, or with snapshot.mode=when_needed it is dropped and the
        coordinator plans a new snapshot. A slot held by another process is retried (RetriableError) while the
        holder may be a previous connection of ours the server has not noticed is gone (wal_sender_timeout),
        then FatalError naming the holder.
        """
        name = self.cfg.slot_name
        state = slot_state(self.catalog, name)
        if state is not None and state.wal_status == "lost":
            message = lost_message(name, self.catalog, self.cfg.snapshot_mode)
            if self.cfg.snapshot_mode != "when_needed":
                raise SlotLostError(message)
            log.warning("%s: dropping it and taking a new snapshot", message)
            self.catalog.drop_slot(name)
            return None
        if slot["active"]:
            holder = state.holder if state is not None and state.holder else f"PID {slot['active_pid']}"
            key = (name, slot["active_pid"])
            first_seen = _SLOT_HELD_SINCE.setdefault(key, time.monotonic())
            waited = time.monotonic() - first_seen
            limit = _held_slot_patience_s(self.catalog)
            if waited >= limit:
                raise FatalError(
                    f"replication slot {name!r} is held by {holder} and was not released for {waited:.0f}s: "
                    "another consumer (another cdc-engine, Debezium, pg_recvlogical) streams from it. Stop it, "
                    f"or end it with SELECT pg_terminate_backend({slot['active_pid']}), or choose another slot.name"
                )
            raise RetriableError(
                f"replication slot {name!r} is held by {holder}; waiting up to {limit:.0f}s in case it is a "
                "previous connection of this engine that the server has not noticed is gone"
            )
        return slot

    def _replication(self) -> ReplicationConnection:
        if self.repl is None:
            self.repl = ReplicationConnection(self.conninfo)
            self.repl.connect()
        return self.repl

    def begin_snapshot(self) -> PostgresSnapshot:
        assert self.registry is not None
        cfg = self.cfg
        repl = self._replication()
        if self._slot is not None:
            log.warning("dropping replication slot %s to take a new consistent snapshot", cfg.slot_name)
            self.catalog.drop_slot(cfg.slot_name)
            self._slot = None
        lsn, snapshot_name = repl.create_slot(cfg.slot_name, export_snapshot=True)
        assert snapshot_name is not None
        tx = self._snapshot_tx = SnapshotTransaction(self.conninfo, snapshot_name)
        snapshot = PostgresSnapshot(cfg, tx, lsn)
        relids = {(s, t): r for r, s, t in self.catalog.capture_candidates()}
        for schema, name in self._captured:
            info = self.catalog.table(relids[(schema, name)])
            if info is None:
                continue
            table = self.registry.from_catalog(info)
            override = cfg.select_override(info.schema, info.name)
            snapshot.tables.append(PostgresSnapshotTable(tx.conn, info, table, cfg.snapshot_fetch_size, override))
        log.info("snapshot of %d table(s) at %s (snapshot %s)", len(snapshot.tables), lsn_to_str(lsn), snapshot_name)
        return snapshot

    def begin_stream(self, after: ConsistentSnapshot | None) -> PostgresStream:
        cfg = self.cfg
        repl = self._replication()
        if isinstance(after, PostgresSnapshot):
            self._snapshot_tx = None
            offset = PostgresOffset(lsn=after.lsn)
        elif self._slot is None:
            lsn, _ = repl.create_slot(cfg.slot_name, export_snapshot=False)
            log.info("created replication slot %s at %s (no snapshot)", cfg.slot_name, lsn_to_str(lsn))
            offset = PostgresOffset(lsn=lsn)
        elif self._offset is None:
            offset = PostgresOffset(lsn=str_to_lsn(self._slot["confirmed_flush_lsn"]))
        else:
            offset = self._offset
        watch = SlotWatch(self.catalog, cfg.slot_name, cfg.snapshot_mode)
        return PostgresStream(self._start_reader(repl, offset), watch)

    def _start_reader(self, repl: ReplicationConnection, offset: PostgresOffset) -> StreamReader:
        assert self.registry is not None
        cfg = self.cfg
        heartbeat = None
        if cfg.heartbeat_interval_ms > 0:
            heartbeat = Heartbeat(
                cfg.topic_heartbeat_prefix, cfg.topic_prefix, self.converters, cfg.heartbeat_interval_ms / 1000
            )
        reader = StreamReader(
            repl,
            self.registry,
            self.catalog,
            offset,
            cfg.topic_prefix,
            cfg.database_dbname,
            ChangeEmitter(cfg.skipped_ops(), cfg.tombstones_on_delete),
            heartbeat,
            cfg.status_update_interval_ms / 1000,
            MessageEmitter(cfg.topic_prefix, self.converters, cfg.binary_handling_mode),
            TransactionTracker(f"{cfg.topic_prefix}.transaction", self.converters)
            if cfg.provide_transaction_metadata
            else None,
            getattr(self.converters.value, "replace_null_with_default", True),
            cfg.signal_data_collection,
        )
        repl.start_replication(cfg.slot_name, offset.lsn, cfg.publication_name, cfg.stream_params())
        log.info(
            "streaming from slot %s at %s%s",
            cfg.slot_name,
            lsn_to_str(offset.lsn),
            f" (inside transaction committing at {lsn_to_str(offset.lsn_commit or 0)})" if offset.events else "",
        )
        return reader

    def close(self, final: bool) -> None:
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


def _check_replication_privilege(catalog: Catalog, user: str) -> None:
    """Before anything that needs other privileges: without REPLICATION nothing else matters, so say it first."""
    superuser, replication = catalog.role_flags()
    if superuser or replication:
        return
    rows = catalog.query(
        "SELECT 1 FROM pg_roles r WHERE r.rolname = 'rds_replication' AND pg_has_role(current_user, r.oid, 'MEMBER')"
    )
    if not rows:
        raise FatalError(
            f"user {user!r} may not use logical replication: grant it with ALTER ROLE {user} REPLICATION "
            "(on Amazon RDS: GRANT rds_replication TO ...) and allow replication connections for it in pg_hba.conf"
        )


# (slot, holder PID) → when start-up first found the slot held by it; bounds the retries across pipeline restarts.
_SLOT_HELD_SINCE: dict[tuple[str, Any], float] = {}


def _held_slot_patience_s(catalog: Catalog) -> float:
    """How long a held slot may be our own dead connection: the server ends it after wal_sender_timeout."""
    try:
        timeout_ms = int(catalog.query("SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout'")[0][0])
    except (CdcError, IndexError, ValueError):
        timeout_ms = 60000
    return (timeout_ms if timeout_ms > 0 else 60000) / 1000 + 15


def _time_mode(mode: str) -> str:
    return mode if mode in ("connect", "adaptive_time_microseconds") else "adaptive"
