"""The snapshot → stream phase coordinator and the ``snapshot.mode`` policy (Debezium's
``ChangeEventSourceCoordinator``), shared by every source connector.

A connector implements :class:`CaptureConnector` — the database I/O: open the connection and read what the stored
offset implies (:class:`StoredState`), take a consistent snapshot (:class:`ConsistentSnapshot`), stream changes
from a position (:class:`ChangeStream`). :class:`CaptureSource` wraps it into a ``cdc.source.Source`` for the
runtime: it decides the phase with :func:`plan_start`, turns snapshot rows into op ``r`` records (markers
first/true/last, progress bar), switches to streaming at the snapshot's consistent point, and answers
``position`` / ``committed``.

Offsets: while a snapshot runs, and after it until its final offset (``ConsistentSnapshot.position(True)``) is
stored, ``position()`` is the snapshot's. Streamed records produced meanwhile are then re-read after a crash
(duplicates, never gaps). An unfinished snapshot is redone from scratch on restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from cdc.capture.snapshot import MarkedRow, SnapshotTable, marked_rows
from cdc.capture.table import CapturedTable
from cdc.errors import FatalError
from cdc.events import SourceRecord
from snapshot.progress import SnapshotProgress

log = logging.getLogger("cdc.capture")

Phase = Literal["snapshot", "stream", "finished", "lost"]


@dataclass(frozen=True)
class StoredState:
    """What the connector learned at start-up, as far as the ``snapshot.mode`` policy needs it.

    ``offset_stored``: an offset was stored for this connector. ``snapshot_completed``: that offset says the
    snapshot completed. ``resumable``: the source can still deliver changes from the stored position
    (PostgreSQL: the slot exists; MySQL: the binlog file was not purged).
    """

    offset_stored: bool
    snapshot_completed: bool
    resumable: bool


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
    """The first phase: ``snapshot``, ``stream``, ``finished`` (``initial_only`` after its snapshot), or ``lost``
    (an offset is stored but its position cannot be read and the mode does not allow a new snapshot)."""
    snapshot = needs_snapshot(mode, state)
    if state.offset_stored and not state.resumable and not snapshot:
        return "lost"
    if mode == "initial_only" and state.offset_stored and state.snapshot_completed:
        return "finished"
    return "snapshot" if snapshot else "stream"


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
        """The error to raise when an offset is stored but its position can no longer be read."""
        ...

    def begin_snapshot(self) -> ConsistentSnapshot:
        """Open a consistent snapshot of the captured tables (their CapturedTables built)."""
        ...

    def begin_stream(self, after: ConsistentSnapshot | None) -> ChangeStream:
        """Start streaming: from the snapshot's consistent point (``after``), else from the stored offset (or
        the source's current position when none is stored)."""
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
        self._finished = False

    # -- start-up --------------------------------------------------------------------------------------------

    def start(self, stored_offset: dict[str, Any] | None) -> None:
        state = self.connector.open(stored_offset)
        phase = plan_start(self.connector.snapshot_mode, state)
        if phase == "lost":
            raise self.connector.position_lost()
        if phase == "finished":
            log.info("snapshot.mode=initial_only and the snapshot is complete; nothing to do")
            self._finished = True
        elif phase == "snapshot":
            self._begin_snapshot()
        else:
            self.stream = self.connector.begin_stream(None)

    def _begin_snapshot(self) -> None:
        snapshot = self._snapshot = self.connector.begin_snapshot()
        self.progress.__enter__()
        self._snapshot_rows = marked_rows(snapshot.tables, self.progress)
        self._snapshot_position = snapshot.position(False)

    # -- running ---------------------------------------------------------------------------------------------

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
        if self.stream is not None:
            return self.stream.poll(max_records, timeout)
        if self._snapshot_rows is not None:
            try:
                return self._poll_snapshot(max_records)
            except BaseException:
                self.progress.__exit__(None, None, None)  # the bar must not stay on screen over the error
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
        self.progress.__exit__(None, None, None)
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
                self.progress.__exit__(None, None, None)
                snapshot, self._snapshot, self._snapshot_rows = self._snapshot, None, None
                snapshot.close()
        finally:
            self.connector.close(final)
