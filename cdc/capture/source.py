"""The snapshot → stream phase coordinator and the ``snapshot.mode`` policy (Debezium's
``ChangeEventSourceCoordinator``), shared by every source connector.

A connector implements :class:`CaptureConnector` — the database I/O: open the connection and read what the stored
offset implies (:class:`StoredState`), take a consistent snapshot (:class:`ConsistentSnapshot`), stream changes
from a position (:class:`ChangeStream`). :class:`CaptureSource` wraps it into a ``cdc.source.Source`` for the
runtime: it decides the phase with :func:`plan_start`, turns snapshot rows into op ``r`` records (markers
first/true/last, progress bar), switches to streaming at the snapshot's consistent point, and answers
``position`` / ``committed``.

Connectors that keep a schema history (MySQL: table definitions as of each binlog position, Debezium's
"historized" connectors) say so in :attr:`StoredState.schema_history`; the policy then takes a schema-only snapshot
(phase ``schema``) where others take none, honours ``snapshot.mode=recovery`` (rebuild a lost history, then stream
from the stored offset) and treats a lost history like a lost position. Connectors without one
(``schema_history="none"``, PostgreSQL) see exactly the policy of :func:`needs_snapshot`.

Offsets: while a snapshot runs, and after it until its final offset (``ConsistentSnapshot.position(True)``) is
stored, ``position()`` is the snapshot's. Streamed records produced meanwhile are then re-read after a crash
(duplicates, never gaps). An unfinished snapshot is redone from scratch on restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from cdc.capture.snapshot import MarkedRow, SnapshotTable, marked_rows
from cdc.capture.table import CapturedTable
from cdc.errors import FatalError
from cdc.events import SourceRecord
from snapshot.progress import SnapshotProgress

log = logging.getLogger("cdc.capture")

Phase = Literal["snapshot", "schema", "stream", "finished", "lost"]
SchemaHistoryState = Literal["none", "present", "lost"]


@dataclass(frozen=True)
class StoredState:
    """What the connector learned at start-up, as far as the ``snapshot.mode`` policy needs it.

    ``offset_stored``: an offset was stored for this connector. ``snapshot_completed``: that offset says the
    snapshot completed. ``resumable``: the source can still deliver changes from the stored position
    (PostgreSQL: the slot exists; MySQL: the binlog file was not purged). ``schema_history``: ``none`` when the
    connector keeps no schema history; else whether the history needed to read from the stored offset is
    ``present`` or ``lost`` (only looked at when the offset is resumable and the mode is not ``recovery``).
    """

    offset_stored: bool
    snapshot_completed: bool
    resumable: bool
    schema_history: SchemaHistoryState = "none"


def needs_snapshot(mode: str, state: StoredState) -> bool:
    """Whether ``snapshot.mode`` asks for a snapshot now.

    ``initial``/``initial_only``: until one completed; ``always``: on every start; ``when_needed``: also when the
    stored position can no longer be read; ``no_data``/``never``: not at all. Other modes (a connector's own,
    e.g. MySQL's ``recovery``) are the connector's to handle before and count as "no data snapshot".
    """
    incomplete = not state.offset_stored or not state.snapshot_completed
    if mode in ("initial", "initial_only"):
        return incomplete
    if mode == "always":
        return True
    if mode == "when_needed":
        return incomplete or not state.resumable
    return False


def plan_start(mode: str, state: StoredState) -> Phase:
    """The first phase: ``snapshot``, ``schema`` (a snapshot of the table schemas only), ``stream``,
    ``finished`` (``initial_only`` after its snapshot), or ``lost`` (an offset is stored but its position, or the
    schema history it needs, cannot be read and the mode does not allow a new snapshot)."""
    if state.schema_history != "none":
        return _plan_with_history(mode, state)
    snapshot = needs_snapshot(mode, state)
    if state.offset_stored and not state.resumable and not snapshot:
        return "lost"
    if mode == "initial_only" and state.offset_stored and state.snapshot_completed:
        return "finished"
    return "snapshot" if snapshot else "stream"


def _plan_with_history(mode: str, state: StoredState) -> Phase:
    """:func:`plan_start` for connectors with a schema history (Debezium's historized connectors).

    Without a completed snapshot in the stored offset the schemas must be captured anyway: ``no_data`` and
    ``never`` take a schema-only snapshot; every other mode (``recovery`` included) a full one. With one:
    ``always`` snapshots again, ``initial_only`` is done (whether or not the position is still readable), an
    unreadable position or a lost history needs ``when_needed`` (new snapshot) — or, for a lost history only,
    ``recovery`` (the connector rebuilds it from the live catalog when it begins streaming).
    """
    if not state.offset_stored or not state.snapshot_completed:
        return "schema" if mode in ("no_data", "never") else "snapshot"
    if mode == "always":
        return "snapshot"
    if mode == "initial_only":
        return "finished"
    if not state.resumable:
        return "snapshot" if mode == "when_needed" else "lost"
    if mode == "recovery":
        return "stream"
    if state.schema_history == "lost":
        return "snapshot" if mode == "when_needed" else "lost"
    return "stream"


class ConsistentSnapshot(Protocol):
    """A consistent snapshot the connector opened (``CaptureConnector.begin_snapshot``)."""

    @property
    def tables(self) -> Sequence[SnapshotTable]:
        """The captured tables to read, in order; each carries its CapturedTable."""
        ...

    def source(self, table: CapturedTable, marker: str, now_ns: int) -> dict[str, Any]:
        """The ``source`` block of one snapshot record (``marker``: first/true/last); called per row."""
        ...

    def position(self, completed: bool) -> dict[str, Any]:
        """The offset while the snapshot runs, or (``completed``) the one that marks it complete."""
        ...

    def preamble(self) -> list[SourceRecord]:
        """Records to send before the snapshot's rows (MySQL: its schema change events), also in a schema-only
        snapshot; called once, right after ``begin_snapshot``."""
        ...

    def close(self) -> None:
        """Release the snapshot's transaction/locks; called once, also after errors."""
        ...


class ChangeStream(Protocol):
    """The connector's change stream (``CaptureConnector.begin_stream``)."""

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
        """Up to ``max_records`` records; waits at most ``timeout`` seconds when nothing is pending."""
        ...

    def position(self) -> dict[str, Any]:
        """The offset covering every record returned by ``poll`` so far."""
        ...

    def confirm(self, offset: dict[str, Any]) -> None:
        """``offset`` is stored in Kafka: the source may release data up to it."""
        ...

    def keepalive(self) -> None:
        """Keep the connection alive while the runtime waits on Kafka."""
        ...

    @property
    def commit_due(self) -> bool:
        """True when the stream wants its position stored and confirmed now (``cdc.source.Source.commit_due``)."""
        ...


class CaptureConnector(Protocol):
    """The database-specific half of a source connector, driven by :class:`CaptureSource`."""

    @property
    def snapshot_mode(self) -> str:
        """The connector's ``snapshot.mode`` (the policy in :func:`plan_start` reads it)."""
        ...

    def open(self, stored_offset: dict[str, Any] | None) -> StoredState:
        """Connect, check prerequisites, parse and keep the stored offset. Raises Retriable/FatalError."""
        ...

    def position_lost(self) -> FatalError:
        """The error to raise when an offset is stored but its position (or the schema history it needs) can no
        longer be read."""
        ...

    def begin_snapshot(self) -> ConsistentSnapshot:
        """Open a consistent snapshot of the captured tables (their CapturedTables built). For a schema-only
        snapshot (phase ``schema``) the coordinator reads no rows from it."""
        ...

    def begin_stream(self, after: ConsistentSnapshot | None) -> ChangeStream:
        """Start streaming: from the snapshot's consistent point (``after``), else from the stored offset (or
        the source's current position when none is stored). With a schema history and no ``after``, the
        connector restores the schemas as of the stored offset first (``snapshot.mode=recovery``: from the
        live catalog)."""
        ...

    def close(self, final: bool) -> None:
        """Release connections; ``final`` as in ``cdc.source.Source.stop``."""
        ...


class CaptureSource:
    """A ``cdc.source.Source`` made of a connector's I/O and the shared phase machine."""

    def __init__(self, connector: CaptureConnector, progress: SnapshotProgress | None = None) -> None:
        self.connector = connector
        self.progress = progress or SnapshotProgress(enabled=False)
        self.stream: ChangeStream | None = None
        self._snapshot: ConsistentSnapshot | None = None
        self._snapshot_rows: Iterator[MarkedRow] | None = None
        self._snapshot_position: dict[str, Any] | None = None  # until the completed snapshot's offset is stored
        self._completed_position: dict[str, Any] | None = None
        self._preamble: list[SourceRecord] = []
        self._progress_open = False
        self._finished = False

    # -- start-up --------------------------------------------------------------------------------------------

    def start(self, stored_offset: dict[str, Any] | None) -> None:
        state = self.connector.open(stored_offset)
        mode = self.connector.snapshot_mode
        phase = plan_start(mode, state)
        if phase == "lost":
            raise self.connector.position_lost()
        if phase == "finished":
            log.info("snapshot.mode=initial_only and the snapshot is complete; nothing to do")
            self._finished = True
        elif phase in ("snapshot", "schema"):
            if mode == "when_needed" and state.offset_stored and state.snapshot_completed:
                log.warning("taking a new snapshot (snapshot.mode=when_needed)")
            self._begin_snapshot(with_data=phase == "snapshot")
        else:
            self.stream = self.connector.begin_stream(None)

    def _begin_snapshot(self, with_data: bool) -> None:
        snapshot = self._snapshot = self.connector.begin_snapshot()
        self._preamble = snapshot.preamble()
        if with_data:
            self.progress.__enter__()
            self._progress_open = True
            self._snapshot_rows = marked_rows(snapshot.tables, self.progress)
        else:
            self._snapshot_rows = iter(())
        self._snapshot_position = snapshot.position(False)

    def _close_progress(self) -> None:
        if self._progress_open:
            self._progress_open = False
            self.progress.__exit__(None, None, None)

    # -- running ---------------------------------------------------------------------------------------------

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
        if self._preamble:
            preamble, self._preamble = self._preamble, []
            return preamble
        if self.stream is not None:
            return self.stream.poll(max_records, timeout)
        if self._snapshot_rows is not None:
            try:
                return self._poll_snapshot(max_records)
            except BaseException:
                self._close_progress()  # the bar must not stay on screen over the error
                raise
        time.sleep(min(timeout, 0.05))
        return []

    def _poll_snapshot(self, max_records: int) -> list[SourceRecord]:
        assert self._snapshot_rows is not None and self._snapshot is not None
        records: list[SourceRecord] = []
        now_ns = time.time_ns()
        source = self._snapshot.source
        for marked in self._snapshot_rows:
            table = marked.table.table
            row = table.row(marked.row)
            records.append(table.record(None, row, source(table, marked.marker, now_ns), "r", now_ns, row))
            if len(records) >= max_records:
                return records
        self._finish_snapshot()
        return records

    def _finish_snapshot(self) -> None:
        snapshot = self._snapshot
        assert snapshot is not None
        self._snapshot_rows = None
        self._completed_position = self._snapshot_position = snapshot.position(True)
        self._snapshot = None
        snapshot.close()
        self._close_progress()
        log.info("snapshot completed")
        if self.connector.snapshot_mode == "initial_only":
            self._finished = True
            return
        self.stream = self.connector.begin_stream(snapshot)

    def position(self) -> dict[str, Any] | None:
        if self._snapshot_position is not None:
            return self._snapshot_position
        return None if self.stream is None else self.stream.position()

    def committed(self, offset: dict[str, Any]) -> None:
        if self._completed_position is not None and offset == self._completed_position:
            self._snapshot_position = self._completed_position = None
        if self.stream is not None:
            self.stream.confirm(offset)

    def keepalive(self) -> None:
        if self.stream is not None:
            self.stream.keepalive()

    @property
    def commit_due(self) -> bool:
        # Right after the snapshot: store its completion at once, so a stop or crash never redoes it, and so the
        # streamed changes that follow are covered by the next offset rather than replayed (see position()).
        if self._snapshot_position is not None:
            return self._completed_position is not None
        return self.stream is not None and self.stream.commit_due

    @property
    def finished(self) -> bool:
        return self._finished

    def stop(self, final: bool) -> None:
        try:
            if self._snapshot is not None:
                self._close_progress()
                snapshot, self._snapshot, self._snapshot_rows = self._snapshot, None, None
                snapshot.close()
        finally:
            self.connector.close(final)


_Offset = TypeVar("_Offset")


def parse_stored_offset(
    stored: dict[str, Any] | None, from_dict: Callable[[dict[str, Any]], _Offset], kind: str
) -> _Offset | None:
    """A connector's typed offset from the stored JSON (None when nothing is stored).

    Called by each connector's ``open`` with its offset class's ``from_dict``; a value it cannot read is a
    FatalError naming ``kind`` (e.g. "PostgreSQL") and the reset command, never a traceback.
    """
    if stored is None:
        return None
    try:
        return from_dict(stored)
    except (KeyError, TypeError, ValueError) as exc:
        raise FatalError(
            f"the stored offset {stored!r} is not a {kind} offset ({exc}); reset it with cdc-engine offsets --reset"
        ) from None
