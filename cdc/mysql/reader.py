"""The binlog stream reader: binlog events → serialized Debezium change records, with exact positions.

Constructed by ``cdc.mysql.source.MySqlSource`` from a stored :class:`~cdc.mysql.offsets.MySqlOffset`.
:meth:`BinlogReader.poll` returns batches of records; :meth:`position` describes exactly "everything returned so
far", which the runtime stores once Kafka has acknowledged those records.

Positions: ``file``/``pos``/``gtids`` move only at commits (XID event, ``COMMIT`` query, or a DDL statement,
which commits implicitly). Inside a transaction the offset keeps the transaction's start and counts the row
events already delivered (``event``) — a rows event is always emitted whole, so ``row`` stays 0 here but is
honoured when read. A restart reads from the transaction's start (file/pos, or the GTID set that lacks it) and
skips exactly that many row events of the first transaction it sees.

DDL: a query event that is not BEGIN/COMMIT is parsed (``cdc.mysql.schema_history.parse_ddl``); the tables it
touched are re-read from the live catalog, recorded in the schema history topic, and, when
``include.schema.changes`` is on, announced on the ``<topic.prefix>`` topic. Row events are read with the column
list of their own table-map event, so rows before and after an ALTER get their own schemas.

Row images are decoded by a decoder generated per table map and table version (``cdc.mysql.row_decoder``), which
reads the event's raw bytes and yields converted rows; events it does not handle are parsed by the library
(``event.rows``) and converted by the table's row function, with identical results.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymysqlreplication.event import (
    GtidEvent,
    MariadbAnnotateRowsEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    RowsQueryLogEvent,
    XidEvent,
)
from pymysqlreplication.row_event import DeleteRowsEvent, PartialUpdateRowsEvent, UpdateRowsEvent, WriteRowsEvent

from cdc.capture.emit import ChangeEmitter
from cdc.capture.heartbeat import Heartbeat
from cdc.errors import FatalError
from cdc.events import SourceRecord
from cdc.mysql.binlog import BinlogConnection
from cdc.mysql.offsets import GtidSet, MySqlOffset, gtid_source, gtid_source_predicate
from cdc.mysql.row_decoder import DecoderCache, RowDecoder
from cdc.mysql.schema_history import DdlEffect, parse_ddl
from cdc.mysql.source_info import source_block
from cdc.mysql.tables import MySqlTable, MySqlTableRegistry

log = logging.getLogger("cdc.mysql.reader")


@dataclass(frozen=True)
class DdlEvent:
    """A DDL statement read from the binlog, handed to the source (``on_ddl``) to re-read the catalog, write the
    schema history and the schema change event."""

    statement: str
    database: str
    effect: DdlEffect
    file: str
    start_pos: int
    end_pos: int
    gtids_after: str | None
    gtid: str | None
    server_id: int
    ts_us: int
    thread: int | None


DdlHandler = Callable[[DdlEvent, list[SourceRecord]], None]


class BinlogReader:
    """Reads one binlog stream. Single-threaded; owned by MySqlSource."""

    def __init__(
        self,
        conn: BinlogConnection,
        registry: MySqlTableRegistry,
        offset: MySqlOffset,
        flavor: str,
        server: str,
        emitter: ChangeEmitter,
        heartbeat: Heartbeat | None,
        on_ddl: DdlHandler,
        include_query: bool,
        gtid_includes: str | None = None,
        gtid_excludes: str | None = None,
        gtid_filter_dml: bool = True,
    ) -> None:
        self.conn = conn
        self.registry = registry
        self.flavor = flavor
        self.server = server
        self.emitter = emitter
        self.heartbeat = heartbeat
        self.on_ddl = on_ddl
        self.include_query = include_query
        self.gtid_includes = gtid_includes
        self.gtid_excludes = gtid_excludes
        # gtid.source.filter.dml.events: row events of transactions from other GTID sources are dropped.
        self._source_kept = (
            gtid_source_predicate(gtid_includes, gtid_excludes)
            if gtid_filter_dml and (gtid_includes or gtid_excludes)
            else None
        )
        self.tx_ignored = False  # the current transaction's GTID source is filtered out

        # Committed position (moves at commits only).
        self.file = offset.file
        self.pos = offset.pos
        self.gtids = GtidSet(flavor, offset.gtids)
        self.server_id = offset.server_id
        self.ts_sec = offset.ts_sec
        # Skip counts for the first transaction read (a restart inside a transaction).
        self._pending_skip: tuple[int, int] | None = (offset.event, offset.row) if offset.event or offset.row else None

        self.current_file = offset.file  # the file events are being read from (Rotate events move it)
        self.in_tx = False
        self.tx_file = offset.file
        self.tx_pos = offset.pos
        self.tx_gtid: str | None = None
        self.tx_thread: int | None = None
        self.tx_ts_us: int | None = None  # the GTID event's commit timestamp (MySQL 8+), else None
        self.tx_events = 0  # row events of this transaction read (emitted, filtered or skipped)
        self.tx_skip_events = 0
        self.tx_skip_rows = 0
        self._gtid_pending: tuple[str, int, str] | None = None  # (gtid, start pos, file) of a GTID event
        self._gtid_ts_us: int | None = None
        self._query: str | None = None
        self._table_cache: dict[int, tuple[Any, MySqlTable | None, RowDecoder | None]] = {}
        self.decoders = DecoderCache()
        self.events_read = 0

    # -- position --------------------------------------------------------------------------------------------

    def position(self) -> MySqlOffset:
        """The offset covering every record returned by poll() so far."""
        gtids = str(self.gtids.filtered(self.gtid_includes, self.gtid_excludes)) or None
        if self.in_tx and (self.tx_events > 0 or self.tx_skip_events > 0):
            return MySqlOffset(
                file=self.tx_file,
                pos=self.tx_pos,
                gtids=gtids,
                event=max(self.tx_events, self.tx_skip_events),
                row=self.tx_skip_rows if self.tx_events <= self.tx_skip_events else 0,
                server_id=self.server_id,
                ts_sec=self.ts_sec,
            )
        if self._pending_skip is not None:
            # Nothing of the interrupted transaction read yet: keep the stored counts.
            return MySqlOffset(
                self.file, self.pos, gtids, self._pending_skip[0], self._pending_skip[1], self.server_id, self.ts_sec
            )
        return MySqlOffset(self.file, self.pos, gtids, 0, 0, self.server_id, self.ts_sec)

    # -- reading ---------------------------------------------------------------------------------------------

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
        """Up to about ``max_records`` records (a rows event is never split); at most ~``timeout`` when idle."""
        records: list[SourceRecord] = []
        deadline = time.monotonic() + timeout
        next_event = self.conn.next_event
        while len(records) < max_records:
            event = next_event()
            if event is None:  # heartbeat: the server has nothing more right now
                break
            self.events_read += 1
            kind = type(event)
            if kind is WriteRowsEvent or kind is UpdateRowsEvent or kind is DeleteRowsEvent:
                self._rows(event, records)
            elif kind is XidEvent:
                self._commit(event)
            elif kind is GtidEvent or kind is MariadbGtidEvent:
                self._gtid(event)
            elif kind is QueryEvent:
                self._query_event(event, records)
            elif kind is RotateEvent:
                self.current_file = event.next_binlog
                if not self.in_tx and event.position >= 4 and event.timestamp == 0:
                    # The fake rotate sent at connect time (or a new file): nothing uncommitted lies before it.
                    pass
            elif kind is RowsQueryLogEvent:
                self._query = event.query
            elif kind is MariadbAnnotateRowsEvent:
                self._query = event.sql_statement.decode("utf-8", "replace")  # the library keeps it as bytes
            elif kind is PartialUpdateRowsEvent:
                self._partial_json(event)
            if not self.in_tx and records:
                # A transaction just ended: hand its records over now. Reading on could block until the next
                # event or heartbeat (up to a second on an idle server), which would only add latency.
                break
            if not records and time.monotonic() >= deadline:
                break
        if self.heartbeat is not None and not self.in_tx:
            self.heartbeat.poll(time.time_ns(), records)
        return records

    # -- transactions ----------------------------------------------------------------------------------------

    def _gtid(self, event: Any) -> None:
        start = event.packet.log_pos - event.packet.event_size
        self._gtid_pending = (event.gtid, start, self.current_file)
        self._gtid_ts_us = _commit_timestamp_us(event)
        if kind_is_mariadb_tx(event):
            self._begin(start, self.current_file, None)

    def _begin(self, start: int, file: str, thread: int | None) -> None:
        self.in_tx = True
        gtid = self._gtid_pending
        if gtid is not None:
            self.tx_gtid, self.tx_pos, self.tx_file = gtid
        else:
            self.tx_gtid, self.tx_pos, self.tx_file = None, start, file
        self.tx_thread = thread
        self.tx_ts_us = self._gtid_ts_us
        self.tx_events = 0
        kept = self._source_kept
        self.tx_ignored = kept is not None and self.tx_gtid is not None and not kept(gtid_source(self.tx_gtid))
        self._query = None
        if self._pending_skip is not None:
            self.tx_skip_events, self.tx_skip_rows = self._pending_skip
            self._pending_skip = None
            log.info(
                "resuming inside a transaction: skipping %d delivered row event(s) and %d row(s)",
                self.tx_skip_events,
                self.tx_skip_rows,
            )
        else:
            self.tx_skip_events = self.tx_skip_rows = 0

    def _commit(self, event: Any) -> None:
        if self.tx_gtid is not None:
            self.gtids.add(self.tx_gtid)
        self.file = self.current_file
        self.pos = event.packet.log_pos
        self.server_id = event.packet.server_id
        self.ts_sec = event.timestamp
        self.in_tx = False
        self.tx_gtid = None
        self._gtid_pending = None
        self.tx_events = self.tx_skip_events = self.tx_skip_rows = 0
        self._query = None

    def _partial_json(self, event: Any) -> None:
        """A MySQL partial JSON update: stop rather than lose it.

        With ``binlog_row_value_options=PARTIAL_JSON`` (global, or set by one session) MySQL writes only the changed
        parts of a JSON document in an update's after image, so the row cannot be rebuilt from the event; Debezium
        does not support it either. Raised as FatalError: the stored offset stays before this transaction.
        """
        raise FatalError(
            f"partial JSON update of {event.schema}.{event.table} at {self.current_file}:{event.packet.log_pos}: "
            "its after image holds only the changed parts of the JSON document and cannot be captured; "
            "set binlog_row_value_options='' (globally and in every session that sets PARTIAL_JSON); the binlog "
            "from here on cannot be replayed, so take a new snapshot: cdc-engine offsets --reset --config …, then start"
        )

    def _query_event(self, event: Any, out: list[SourceRecord]) -> None:
        query: str = event.query
        head = query[:9].upper()
        if head.startswith("BEGIN") or head.startswith("XA START"):
            if not self.in_tx:
                self._begin(event.packet.log_pos - event.packet.event_size, self.current_file, event.slave_proxy_id)
            else:
                self.tx_thread = event.slave_proxy_id
            return
        if head.startswith("COMMIT") or head.startswith("XA END") or head.startswith("XA COMMIT"):
            self._commit(event)
            return
        if self.in_tx and self.tx_events > 0 and not _is_ddl(query):
            return  # a statement logged inside a transaction (SAVEPOINT, …)
        database = event.schema.decode() if isinstance(event.schema, bytes) else str(event.schema or "")
        effect = parse_ddl(query, database)
        start_pos = event.packet.log_pos - event.packet.event_size
        ts_us = self._gtid_ts_us if self._gtid_pending is not None and self._gtid_ts_us else event.timestamp * 1_000_000
        if self._pending_skip is not None and self._gtid_pending is not None:
            self._pending_skip = None  # a DDL transaction cannot be the interrupted one
        gtid = self._gtid_pending[0] if self._gtid_pending is not None else None
        if gtid is not None:
            self.gtids.add(gtid)
        self.file = self.current_file
        self.pos = event.packet.log_pos
        self.server_id = event.packet.server_id
        self.ts_sec = event.timestamp
        self.in_tx = False
        self._gtid_pending = None
        self.tx_gtid = None
        self._table_cache.clear()
        if effect.kind != "OTHER":
            gtids = str(self.gtids.filtered(self.gtid_includes, self.gtid_excludes)) or None
            ddl = DdlEvent(
                query,
                database,
                effect,
                self.file,
                start_pos,
                self.pos,
                gtids,
                gtid,
                event.packet.server_id,
                ts_us,
                event.slave_proxy_id,
            )
            self.on_ddl(ddl, out)
            if effect.kind == "TRUNCATE" and self.emitter.truncates:
                db, name = effect.tables[0]
                table = self.registry.definitions.get((db, name))
                if table is not None and self.registry.includes(db, name):
                    version = self.registry.for_definition(table)
                    source = self._source(version, event, 0, event.slave_proxy_id)
                    self.emitter.truncate(version.captured, source, time.time_ns(), out)

    # -- rows (hot path) -------------------------------------------------------------------------------------

    def _table(self, event: Any) -> tuple[MySqlTable | None, RowDecoder | None]:
        """The table version of a rows event (None: not captured) and its generated row decoder (None: the
        library parses the rows), from the event's table map."""
        tm = self.conn.stream.table_map.get(event.table_id)
        cached = self._table_cache.get(event.table_id)
        if cached is not None and cached[0] is tm:
            return cached[1], cached[2]
        table: MySqlTable | None = None
        decoder: RowDecoder | None = None
        if tm is not None and self.registry.includes(tm.schema, tm.table):
            table = self.registry.for_binlog(tm.schema, tm.table, tm.columns, tm.data.get("primary_key"))
            decoder = self.decoders.get(tm.columns, table)
        self._table_cache[event.table_id] = (tm, table, decoder)
        return table, decoder

    def _source(self, table: MySqlTable, event: Any, row: int, thread: int | None) -> dict[str, Any]:
        return source_block(
            self.flavor,
            self.server,
            table.definition.database,
            table.definition.name,
            self.tx_ts_us or event.timestamp * 1_000_000,
            "false",
            event.packet.server_id,
            self.tx_gtid,
            self.current_file,
            event.packet.log_pos - event.packet.event_size,
            row,
            thread,
            self._query if self.include_query else None,
        )

    def _rows(self, event: Any, out: list[SourceRecord]) -> None:
        if not self.in_tx:
            self._begin(event.packet.log_pos - event.packet.event_size, self.current_file, None)
        self.tx_events += 1
        if self.tx_events <= self.tx_skip_events:
            return
        if self.tx_ignored:
            return
        skip_rows = self.tx_skip_rows if self.tx_events == self.tx_skip_events + 1 else 0
        table, decoder = self._table(event)
        if table is None:
            return
        captured = table.captured
        now_ns = time.time_ns()
        emitter = self.emitter
        base = self._source(table, event, 0, self.tx_thread)
        kind = type(event)
        # The generated decoder gives converted rows (an update's before and after alternate); None: the event
        # is one it does not read, and the library's parsed rows go through the table's row function.
        rows = decoder.decode(event) if decoder is not None else None
        if rows is None:
            rows = self._library_rows(event, table)
        if kind is UpdateRowsEvent:
            for i in range(len(rows) // 2):
                if i < skip_rows:
                    continue
                source = base if i == 0 else {**base, "row": i}
                emitter.update(captured, rows[2 * i], rows[2 * i + 1], source, now_ns, out)
            return
        create = kind is WriteRowsEvent
        for i, row in enumerate(rows):
            if i < skip_rows:
                continue
            source = base if i == 0 else {**base, "row": i}
            if create:
                emitter.create(captured, row, source, now_ns, out)
            else:
                emitter.delete(captured, row, source, now_ns, out)

    @staticmethod
    def _library_rows(event: Any, table: MySqlTable) -> list[dict[str, Any]]:
        """The rows as the library parses them, converted by the table's row function (decoder layout)."""
        convert = table.row_from_dict
        if type(event) is UpdateRowsEvent:
            rows: list[dict[str, Any]] = []
            for row in event.rows:
                rows.append(convert(row["before_values"]))
                rows.append(convert(row["after_values"]))
            return rows
        return [convert(row["values"]) for row in event.rows]


def _commit_timestamp_us(event: Any) -> int | None:
    """The commit time (µs) a MySQL 8+ GTID event carries after the fields the library parses.

    Layout after ``sequence_number``: ``immediate_commit_timestamp`` (7 bytes, little-endian; its top bit says
    that ``original_commit_timestamp`` follows, 7 more bytes). Debezium reports the original one (the commit on
    the first server) in ``source.ts_us``; on the server itself both are equal. None for MariaDB or old servers.
    """
    if type(event) is not GtidEvent:
        return None
    try:
        raw = event.packet.read(7)
        if len(raw) < 7:
            return None
        immediate = int.from_bytes(raw, "little")
        if immediate & (1 << 55):
            immediate &= ~(1 << 55)
            original = int.from_bytes(event.packet.read(7), "little")
            return original or immediate
        return immediate or None
    except (IndexError, ValueError, AttributeError):
        return None


def kind_is_mariadb_tx(event: Any) -> bool:
    """A MariaDB GTID event starts a transaction unless it is standalone (DDL: FL_STANDALONE = 1)."""
    return type(event) is MariadbGtidEvent and not (getattr(event, "flags", 0) & 1)


def _is_ddl(query: str) -> bool:
    head = query.lstrip()[:8].upper()
    return head.startswith(("CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE"))
