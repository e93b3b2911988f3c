"""The JDBC sink task: Debezium JDBC sink semantics on PostgreSQL and MySQL/MariaDB.

``put`` turns each record into a change (``sinks.jdbc.records``), reduces the batch to the last change per primary
key and table (every change carries the full row or a delete, so the last one decides the final state), and
writes it in one database transaction: per table, deletes first, then upserts/inserts grouped by column set.
Replaying the same records therefore leaves the same rows (``insert.mode=upsert``). The transaction commits
before ``put`` returns, so ``flush`` has nothing left to do and the runtime commits offsets after it.

Failures: a lost connection rolls back and raises ``RetriableError`` (the runtime retries the batch after a
reconnect). A statement the database rejects for its data (constraint violation, bad value, missing column) rolls
back and the batch is written again one change per transaction, so only the offending records are reported
(``SinkContext.report``: dead-letter topic under ``errors.tolerance=all``, stop under ``none``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from cdc.errors import RetriableError
from schemas.converters.base import ConversionError
from schemas.record import ConnectRecord
from sinks.jdbc.config import JdbcSinkConfig
from sinks.jdbc.dialects import Database, open_database
from sinks.jdbc.records import Change, ChangeMapper, RowPlan
from sinks.jdbc.types import column_type
from sinks.jdbc.url import parse_jdbc_url
from sinks.task import SinkContext, SinkTask

log = logging.getLogger("sinks.jdbc")


class JdbcSinkTask(SinkTask):
    """Writes change events into tables of one database (see the module docstring)."""

    # psycopg releases the GIL while PostgreSQL works (PyMySQL while it waits on the socket): the next batch
    # converts meanwhile.
    put_in_background = True
    # Change events go from the converter's wire form straight to row tuples (ChangeMapper._wire_change): the
    # parts of a Debezium envelope the table does not need (source block, before, the Connect structs) are never
    # built. Everything else is decoded as usual.
    accepts_wire_records = True

    def __init__(self, name: str, config: JdbcSinkConfig) -> None:
        self.name = name
        self.config = config
        self.url = parse_jdbc_url(config.connection_url)
        self.db: Database = open_database(
            self.url,
            config.connection_username,
            config.connection_password.get_secret_value(),
            config.quote_identifiers,
        )
        self.mapper = ChangeMapper(config, self.url.family)
        # What a rejected write raises: the driver's errors, or a value no column type fits.
        self._errors: tuple[type[BaseException], ...] = (*self.db.driver_errors(), ConversionError)
        self.context: SinkContext | None = None
        self._columns: dict[str, set[str] | None] = {}  # table → known columns (normalized); None = missing
        self._connected = False
        self.rows_written = 0

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self, context: SinkContext) -> None:
        """Connect (a failure is retriable: the runtime restarts the worker with backoff)."""
        self.context = context
        self._connect()
        log.info(
            "JDBC sink %s writing to %s database %s on %s:%d (insert.mode=%s, primary.key.mode=%s)",
            self.name,
            self.url.dialect,
            self.url.database,
            self.url.host,
            self.url.port,
            self.config.insert_mode,
            self.config.primary_key_mode,
        )

    def _connect(self) -> None:
        try:
            self.db.connect()
        except self.db.driver_errors() as exc:
            self.db.close()
            detail = " ".join(str(exc).split())  # psycopg's messages span lines; a log line should not
            raise RetriableError(
                f"cannot connect to {self.url.dialect} at {self.url.host}:{self.url.port}: {detail}"
            ) from None
        self._connected = True
        self._columns.clear()

    def stop(self) -> None:
        """Close the connection."""
        self.db.close()
        self._connected = False

    # -- writing ------------------------------------------------------------------------------------------------

    def put(self, records: Sequence[ConnectRecord]) -> None:
        """Write ``records`` in one transaction (see the module docstring)."""
        if not self._connected:
            self._connect()
        changes: list[Change] = []
        for record in records:
            try:
                change = self.mapper.change(record)
            except ConversionError as exc:
                self._report(record, exc)
                continue
            if change is not None:
                changes.append(change)
        if not changes:
            return
        try:
            self._write(changes)
            self.db.commit()
        except self._errors as exc:
            self._after_failure(exc)
            self._write_one_by_one(changes)

    def _after_failure(self, exc: BaseException) -> None:
        """Roll back; a connection problem becomes RetriableError (the runtime retries the whole batch)."""
        if self.db.is_connection_error(exc):
            self.db.close()
            self._connected = False
            raise RetriableError(f"{self.url.dialect} write failed: {' '.join(str(exc).split())}") from None
        self.db.rollback()
        self._columns.clear()  # a failed DDL may have been rolled back with the batch (PostgreSQL)
        log.info("batch rejected (%s); writing it change by change to find the offending records", exc)

    def _write_one_by_one(self, changes: list[Change]) -> None:
        for change in changes:
            try:
                self._write([change])
                self.db.commit()
            except self._errors as exc:
                if self.db.is_connection_error(exc):
                    self._after_failure(exc)
                self.db.rollback()
                self._columns.pop(change.table, None)
                self._report(change.record, exc)

    def _report(self, record: ConnectRecord, exc: BaseException) -> None:
        assert self.context is not None
        self.context.report(record, exc)

    def _write(self, changes: list[Change]) -> None:
        # Segments of the batch between truncates of a table; within one, the last change per key wins.
        pending: dict[str, dict[Any, Change] | list[Change]] = {}
        order: list[str] = []
        keyed = self.config.primary_key_mode != "none"
        for change in changes:
            table = change.table
            if change.op == "truncate":
                self._write_table(table, pending.pop(table, []))
                self.db.truncate(table)
                continue
            if table not in pending:
                pending[table] = {} if keyed else []
                order.append(table)
            bucket = pending[table]
            if isinstance(bucket, dict):
                bucket.pop(change.key, None)  # re-insert so the dict keeps the order of last changes
                bucket[change.key] = change
            else:
                bucket.append(change)
        for table in order:
            if table in pending:
                self._write_table(table, pending[table])

    def _write_table(self, table: str, bucket: dict[Any, Change] | list[Change]) -> None:
        changes = list(bucket.values()) if isinstance(bucket, dict) else bucket
        if not changes:
            return
        deletes = [c for c in changes if c.op == "delete"]
        writes = [c for c in changes if c.op == "upsert"]
        if writes:
            self._ensure_table(table, writes)
        elif self._known_columns(table) is None:
            return  # deleting from a table that does not exist: nothing to do
        if deletes:
            plan = deletes[0].plan
            assert plan is not None
            self.db.delete(table, plan.pk, [c.key for c in deletes])
        groups: dict[tuple[str, ...], tuple[RowPlan, list[tuple[Any, ...]]]] = {}
        for c in writes:
            assert c.plan is not None
            group = groups.get(c.plan.columns)
            if group is None:
                groups[c.plan.columns] = group = (c.plan, [])
            group[1].append(c.values)
        mode = self.config.insert_mode
        for plan, rows in groups.values():
            if mode == "upsert":
                self.db.upsert(table, plan.columns, plan.pk, rows)
            elif mode == "update":
                self.db.update(table, plan.columns, plan.pk, rows)
            else:
                self.db.insert(table, plan.columns, rows)
            self.rows_written += len(rows)

    # -- schema evolution ---------------------------------------------------------------------------------------

    def _known_columns(self, table: str) -> set[str] | None:
        if table not in self._columns:
            self._columns[table] = self.db.existing_columns(table)
        return self._columns[table]

    def _ensure_table(self, table: str, writes: list[Change]) -> None:
        existing = self._known_columns(table)
        plans = {id(c.plan): c.plan for c in writes if c.plan is not None}
        normalize = self.db.normalize
        if existing is not None:
            missing: dict[str, str] = {}
            for plan in plans.values():
                for name, schema in zip(plan.columns, plan.schemas, strict=True):
                    if normalize(name) not in existing and normalize(name) not in missing:
                        missing[normalize(name)] = column_type(schema, self.db.family, name in plan.pk)
            if not missing or self.config.schema_evolution == "none":
                return  # a missing column then fails the statement: reported per record
            self.db.add_columns(table, list(missing.items()))
            log.info("schema evolution: added column(s) %s to %s", ", ".join(missing), table)
            existing |= set(missing)
            return
        if self.config.schema_evolution == "none":
            return  # the INSERT fails with "relation does not exist": reported per record
        plan = next(iter(plans.values()))
        columns = [
            (name, column_type(schema, self.db.family, name in plan.pk), schema.optional and name not in plan.pk)
            for name, schema in zip(plan.columns, plan.schemas, strict=True)
        ]
        self.db.create_table(table, columns, plan.pk)
        log.info("schema evolution: created table %s (%d columns)", table, len(columns))
        self._columns[table] = {normalize(n) for n, _, _ in columns}
        if len(plans) > 1:
            self._ensure_table(table, writes)  # other row shapes in the batch may add columns
