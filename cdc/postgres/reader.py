"""The PostgreSQL stream reader: pgoutput messages → serialized Debezium change records.

It does the PostgreSQL part (decoding, positions, the source block) and leaves the per-operation rules to the
shared ``cdc.capture.emit.ChangeEmitter`` and heartbeats to ``cdc.capture.heartbeat.Heartbeat``.

Constructed by ``cdc.postgres.source.PostgresConnector`` from a stored :class:`~cdc.postgres.offsets.PostgresOffset`
(it keeps no other position state). :meth:`StreamReader.poll` returns batches of records; :meth:`position`
describes exactly "everything returned so far", which is what the runtime stores once Kafka has acknowledged
those records; :meth:`confirm` is then called with that stored offset and only then is the slot's flush LSN
advanced.

Resuming inside a transaction: the slot replays every transaction not confirmed, in full. The stored offset
names the transaction (``lsn_commit``) and how many of its change messages were delivered (``events``), and the
reader skips exactly those. Transactions that end at or before the stored ``lsn`` are skipped whole.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import zlib
from typing import Any

from cdc.capture.emit import ChangeEmitter, TxBlock
from cdc.capture.heartbeat import Heartbeat
from cdc.capture.table import CapturedTable
from cdc.events import SourceRecord
from cdc.postgres.catalog import Catalog
from cdc.postgres.messages import MessageEmitter
from cdc.postgres.offsets import PostgresOffset
from cdc.postgres.pgoutput import (
    UNCHANGED_TOAST,
    Begin,
    Commit,
    Delete,
    Insert,
    LogicalMessage,
    Origin,
    Relation,
    Truncate,
    TypeInfo,
    Update,
    decode,
)
from cdc.postgres.replication import Keepalive, ReplicationConnection, pg_time_to_unix_micros
from cdc.postgres.source_info import source_block
from cdc.postgres.tables import TableRegistry
from schemas.transaction import TransactionTracker

log = logging.getLogger("cdc.postgres.reader")

# provide.transaction.metadata: Debezium counts logical decoding messages of a transaction under this "data
# collection", the toString() of a Java object (its identity hash differs per run); ours is stable per connector.
MESSAGE_COLLECTION = "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@"


class StreamReader:
    """Reads one replication slot (implements ``cdc.capture.source.ChangeStream`` through PostgresStream).
    Single-threaded; owned by the PostgreSQL connector."""

    def __init__(
        self,
        conn: ReplicationConnection,
        registry: TableRegistry,
        catalog: Catalog,
        offset: PostgresOffset,
        server: str,
        dbname: str,
        emitter: ChangeEmitter,
        heartbeat: Heartbeat | None,
        status_interval_s: float,
        messages: MessageEmitter | None = None,
        transactions: TransactionTracker | None = None,
        replace_null_with_default: bool = True,
        signal_collection: str | None = None,
    ) -> None:
        self.signal_collection = signal_collection
        self.conn = conn
        self.messages = messages
        self.transactions = transactions
        # Debezium leaves source.snapshot null while streaming; JsonConverter writes the schema default "false"
        # unless replace.null.with.default=false.
        self.streaming_marker = "false" if replace_null_with_default else None
        self.registry = registry
        self.catalog = catalog
        self.server = server
        self.dbname = dbname
        self.emitter = emitter
        self.heartbeat = heartbeat
        self.status_interval_s = status_interval_s

        # Position state, all derived from the stored offset.
        self.resume_lsn = offset.lsn  # end of the last completed transaction
        self.last_commit_lsn: int | None = offset.lsn_commit if offset.events == 0 else None
        # End LSN of the last commit read: the first element of source.sequence, as Debezium has it (null until the
        # first commit after a fresh start). After a completed transaction the stored lsn is that commit's end.
        self.last_commit_end_lsn: int | None = offset.lsn if offset.lsn_commit is not None else None
        self.last_change_lsn: int | None = offset.lsn_proc
        self.last_tx_id = offset.tx_id
        self.last_ts_usec = offset.ts_usec
        self._replay_commit_lsn = offset.lsn_commit if offset.events else None
        self._resumed_from = offset
        self._replay_skip = offset.events

        # The transaction being read.
        self.in_tx = False
        self.tx_id = 0
        self.tx_commit_lsn = 0
        self.tx_ts_us = 0
        self.tx_events = 0  # change messages seen in this transaction (emitted or filtered)
        self.tx_skip = 0  # change messages to skip (already delivered before a restart)
        self.tx_skip_whole = False

        # Source blocks of the current transaction per relid, without the per-event fields (see _source).
        self._sources: dict[int, tuple[dict[str, Any], str]] = {}

        self.confirmed_lsn = offset.lsn
        self._last_status = 0.0
        self._last_confirm = time.monotonic()
        self._status_requested = False
        # The server asked for a reply while we hold a position past what it has confirmed (a fast shutdown waits
        # for exactly that): the runtime should store and confirm it now, not at the next periodic commit.
        self._flush_requested = False
        # Records were returned since the last confirm; while False, every record ever returned is stored.
        self._emitted = False

    # -- position --------------------------------------------------------------------------------------------

    def position(self) -> PostgresOffset:
        """The offset covering every record returned by poll() so far."""
        if self._replay_commit_lsn is not None and not (self.in_tx and self.tx_commit_lsn == self._replay_commit_lsn):
            # Resumed inside a transaction that has not been read again up to there yet: the stored offset (with
            # its ``events``) is still exact. The fallback below would drop ``events``, and a stop or commit now
            # would make the next start re-send the changes of that transaction already delivered. ``lsn`` may
            # follow the keepalives (the transaction commits past it, so a restart from there still replays it),
            # which lets a fast shutdown's flush request be confirmed meanwhile.
            return dataclasses.replace(self._resumed_from, lsn=max(self._resumed_from.lsn, self.resume_lsn))
        if self.in_tx and (self.tx_events > 0 or self.tx_skip > 0):
            return PostgresOffset(
                lsn=self.resume_lsn,
                lsn_commit=self.tx_commit_lsn,
                lsn_proc=self.last_change_lsn,
                tx_id=self.tx_id,
                ts_usec=self.tx_ts_us,
                events=max(self.tx_events, self.tx_skip),  # never behind what a previous run stored
            )
        return PostgresOffset(
            lsn=self.resume_lsn,
            lsn_commit=self.last_commit_lsn,
            lsn_proc=self.last_change_lsn,
            tx_id=self.last_tx_id,
            ts_usec=self.last_ts_usec,
        )

    def confirm(self, offset: PostgresOffset) -> None:
        """The runtime stored ``offset`` in Kafka: let the server recycle WAL up to its ``lsn``.

        Called by the runtime right after the offset record was acknowledged; no poll() happened since
        position() produced ``offset``, so every record returned so far is now stored.
        """
        self.confirmed_lsn = max(self.confirmed_lsn, offset.lsn)
        self.conn.send_status(self.confirmed_lsn)
        self._last_status = self._last_confirm = time.monotonic()
        self._flush_requested = False
        self._emitted = False

    @property
    def commit_due(self) -> bool:
        """True when the runtime should store and confirm position() now rather than at its next periodic commit.

        Two cases, both with a position past the confirmed one: the server requested a reply (a fast shutdown
        waits until the client confirms everything it was sent), or the stream has been idle or filtered -
        nothing returned since the last confirm - for ``status.update.interval.ms``, so the slot can release the
        WAL it does not need instead of holding it until the next offset flush. Inside a transaction the
        position's ``lsn`` is still the end of the last completed one, which is what gets confirmed.
        """
        if self.resume_lsn <= self.confirmed_lsn:
            return False
        if self._flush_requested:
            return True
        return not self._emitted and time.monotonic() - self._last_confirm >= self.status_interval_s

    def keepalive(self) -> None:
        """Send a status update if one is due; called while the runtime waits on the producer."""
        now = time.monotonic()
        if self._status_requested or now - self._last_status >= self.status_interval_s:
            self.conn.send_status(self.confirmed_lsn)
            self._last_status = now
            self._status_requested = False

    # -- reading ---------------------------------------------------------------------------------------------

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
        """Up to ``max_records`` records, returning within about ``timeout`` seconds in every case.

        Called by the runtime in its loop. It must come back even when messages keep arriving without yielding
        records (keepalives, filtered or skipped changes): the runtime checks for a stop request, commits offsets
        and confirms positions between calls. A server that requests a reply while we hold an unconfirmed
        position (a fast shutdown) ends the call at once so the runtime can store and confirm it (commit_due).
        """
        records: list[SourceRecord] = []
        now_ns = time.time_ns()
        read = self.conn.read
        monotonic = time.monotonic
        deadline = monotonic() + timeout
        spins = 0
        while len(records) < max_records:
            if records:
                msg = read(0.0)
            else:
                remaining = deadline - monotonic()
                if remaining <= 0:
                    break
                msg = read(remaining)
            if msg is None:
                break
            if isinstance(msg, Keepalive):
                if not self.in_tx and msg.wal_end > self.resume_lsn:
                    # Everything before wal_end that concerns us has been sent and read: an idle or filtered
                    # stretch of WAL. Advancing here keeps an idle slot from pinning WAL (see README).
                    self.resume_lsn = msg.wal_end
                if msg.reply_requested:
                    # Answer now, not when poll returns: a long stretch of changes that yield no records (skipped
                    # after a restart, filtered tables or ops) keeps this loop going past wal_sender_timeout.
                    self._status_requested = True
                    self.keepalive()
                    if self.resume_lsn > self.confirmed_lsn:
                        # The server waits for a confirmation (at shutdown it waits for exactly this position).
                        self._flush_requested = True
                        break
            else:
                self._dispatch(decode(msg.payload), msg.data_start, now_ns, records)
            spins += 1
            if not spins & 1023 and monotonic() > deadline:
                break  # a long run of messages that yield few records: give the runtime its turn
        if records:
            self._emitted = True
        self.keepalive()
        if self.heartbeat is not None and not self.in_tx:
            # Heartbeats do not make the stream busy: an idle slot with heartbeats is still confirmed every
            # status.update.interval.ms (the commit flushes them before it stores the offset).
            self.heartbeat.poll(now_ns, records)
        return records

    def _dispatch(self, msg: Any, lsn: int, now_ns: int, out: list[SourceRecord]) -> None:
        kind = type(msg)
        if kind is Insert or kind is Update or kind is Delete:
            if self.tx_skip_whole:
                return
            self.tx_events += 1
            if self.tx_events <= self.tx_skip:
                return
            self.last_change_lsn = lsn
            table = self.registry.get(msg.relid)
            if table is not None:
                self._emit_change(table, msg, lsn, now_ns, out)
                if self.signal_collection is not None and kind is Insert:
                    self._signal(table, msg)
        elif kind is Begin:
            self._begin(msg, lsn, out)
        elif kind is Commit:
            self._commit(msg, lsn, out)
        elif kind is Relation:
            self._sources.clear()
            self.registry.on_relation(msg)
        elif kind is Truncate:
            if self.tx_skip_whole:
                return
            self.tx_events += 1
            if self.tx_events <= self.tx_skip or not self.emitter.truncates:
                return
            self.last_change_lsn = lsn
            for relid in msg.relids:
                table = self.registry.get(relid)
                if table is not None:
                    self.emitter.truncate(table, self._source(table, lsn), now_ns, out, self._tx(table, lsn))
        elif kind is TypeInfo:
            self.catalog.forget_types()
        elif kind is LogicalMessage:
            self._message(msg, lsn, now_ns, out)
        elif kind is Origin:
            pass  # replication origins: source.origin stays null (see docs/debezium-conformance.md)

    def _message(self, msg: LogicalMessage, lsn: int, now_ns: int, out: list[SourceRecord]) -> None:
        """pg_logical_emit_message(): an op ``m`` record on ``<prefix>.message`` (Debezium's MessageValue).

        A transactional message counts as a change of its transaction (for resuming inside it); a
        non-transactional one stands alone and, as in Debezium, completes at its own LSN (source.sequence).
        """
        if msg.transactional:
            if self.tx_skip_whole:
                return
            self.tx_events += 1
            if self.tx_events <= self.tx_skip:
                return
            self.last_change_lsn = lsn
            ts_us, tx_id = self.tx_ts_us, self.tx_id
        else:
            ts_us, tx_id = self.last_ts_usec or now_ns // 1000, None
            self.last_commit_end_lsn = lsn
        if self.messages is None:
            return
        source = source_block(self.server, self.dbname, "", "", ts_us, self.streaming_marker, tx_id, lsn, None)
        start = "null" if self.last_commit_end_lsn is None else f'"{self.last_commit_end_lsn}"'
        source["sequence"] = f'[{start},"{lsn}"]'
        transaction = None
        if msg.transactional and self.transactions is not None:
            collection = f"{MESSAGE_COLLECTION}{zlib.crc32(self.server.encode()):08x}"
            transaction = self.transactions.event(collection, f"{self.tx_id}:{lsn}")
        out.append(self.messages.record(msg.prefix, msg.content, source, transaction, now_ns))

    def _signal(self, table: CapturedTable, msg: Insert) -> None:
        """A row inserted into signal.data.collection: Debezium's signal (id, type, data). ``log`` signals are
        logged; every other type (execute-snapshot, stop-snapshot, pause/resume …) is not supported yet and is
        reported, loudly, and ignored."""
        if f"{table.namespace}.{table.name}" != self.signal_collection:
            return
        values = [*msg.new, None, None, None]
        signal_id, signal_type, data = values[0], values[1], values[2]
        if signal_type == "log":
            log.info("signal %s (log): %s", signal_id, data)
        else:
            log.error(
                "signal %s of type %r ignored: ad hoc snapshots and other signals are not supported yet "
                "(only 'log'); data: %s",
                signal_id,
                signal_type,
                data,
            )

    def _begin(self, msg: Begin, lsn: int, out: list[SourceRecord]) -> None:
        self._sources.clear()
        self.in_tx = True
        self.tx_id = msg.xid
        self.tx_commit_lsn = msg.final_lsn
        self.tx_ts_us = pg_time_to_unix_micros(msg.commit_ts)
        self.tx_events = 0
        # A transaction whose commit record lies before the resume point was fully delivered before a restart.
        self.tx_skip_whole = msg.final_lsn < self.resume_lsn
        if self.transactions is not None and not self.tx_skip_whole:
            out.append(self.transactions.begin(f"{msg.xid}:{lsn}", self.tx_ts_us // 1000))
        if self._replay_commit_lsn is not None and msg.final_lsn == self._replay_commit_lsn:
            self.tx_skip = self._replay_skip
            log.info("resuming inside transaction %s: skipping %d delivered changes", msg.xid, self.tx_skip)
        else:
            self.tx_skip = 0

    def _commit(self, msg: Commit, lsn: int, out: list[SourceRecord]) -> None:
        self._sources.clear()
        self.in_tx = False
        if self.transactions is not None and not self.tx_skip_whole:
            # Debezium's transaction ids are "<xid>:<LSN>"; BEGIN and END use the Begin/Commit message's LSN.
            out.append(self.transactions.end(f"{self.tx_id}:{lsn}", self.tx_ts_us // 1000))
        if not self.tx_skip_whole:
            self.resume_lsn = max(self.resume_lsn, msg.end_lsn)
            self.last_commit_lsn = msg.commit_lsn
            self.last_commit_end_lsn = msg.end_lsn
            self.last_tx_id = self.tx_id
            self.last_ts_usec = self.tx_ts_us
        if self._replay_commit_lsn is not None and msg.commit_lsn >= self._replay_commit_lsn:
            self._replay_commit_lsn = None
        self.tx_events = 0
        self.tx_skip = 0
        self.tx_skip_whole = False

    # -- record building (hot path) --------------------------------------------------------------------------

    def _source(self, table: CapturedTable, lsn: int) -> dict[str, Any]:
        """The event's source block: a copy of the transaction's block for this table with the LSN filled in.

        Only ``sequence`` and ``lsn`` vary within a transaction, so the block is built once per table and
        transaction (the cache is cleared at Begin, Commit and Relation) and copied per event.
        """
        cached = self._sources.get(table.table_id)
        if cached is None:
            marker = self.streaming_marker
            block = source_block(
                self.server, self.dbname, table.namespace, table.name, self.tx_ts_us, marker, self.tx_id, None, None
            )
            end = self.last_commit_end_lsn
            sequence_prefix = f'["{end}","' if end is not None else '[null,"'
            cached = self._sources[table.table_id] = (block, sequence_prefix)
        block, sequence_prefix = cached
        source = block.copy()
        source["sequence"] = f'{sequence_prefix}{lsn}"]'
        source["lsn"] = lsn
        return source

    def _emit_change(self, table: CapturedTable, msg: Any, lsn: int, now_ns: int, out: list[SourceRecord]) -> None:
        kind = type(msg)
        emitter = self.emitter
        tx = self._tx(table, lsn)
        if kind is Insert:
            if emitter.creates:
                emitter.create(table, table.row(msg.new), self._source(table, lsn), now_ns, out, tx)
        elif kind is Update:
            new = msg.new
            if msg.old_kind == "O" and UNCHANGED_TOAST in new:
                # REPLICA IDENTITY FULL: the old tuple has the real value of every unchanged TOASTed column.
                new = [o if v is UNCHANGED_TOAST else v for v, o in zip(new, msg.old, strict=True)]
            after = table.row(new)
            before = None if msg.old is None else table.old_row(msg.old_kind == "K", msg.old)
            # REPLICA IDENTITY DEFAULT sends the old key ('K') only when it changed.
            emitter.update(table, before, after, self._source(table, lsn), now_ns, out, msg.old_kind == "K", tx)
        elif emitter.deletes:
            before = table.old_row(msg.old_kind == "K", msg.old)
            emitter.delete(table, before, self._source(table, lsn), now_ns, out, tx)

    def _tx(self, table: CapturedTable, lsn: int) -> TxBlock | None:
        """With provide.transaction.metadata: what gives each emitted event its transaction block, whose id is
        "<xid>:<LSN of the event>" as in Debezium; None otherwise (the hot path pays one test)."""
        tracker = self.transactions
        if tracker is None:
            return None
        collection, event_id = f"{table.namespace}.{table.name}", f"{self.tx_id}:{lsn}"
        return lambda: tracker.event(collection, event_id)
