"""The connector-neutral capture core (cdc.capture) driven by a small in-memory connector, without a server.

The fake connector delivers Python values (as PyMySQL / mysql-replication do), describes its tables with neutral
column descriptors and implements only the I/O half (``CaptureConnector``); everything else — snapshot markers,
the snapshot → stream switch, offsets, Debezium's per-operation rules, tombstones, heartbeats, envelopes and the
structured ConnectRecord form — is the shared core's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import orjson
import pytest

from cdc.capture.columns import UNAVAILABLE, ColumnDescriptor, ColumnType, identity
from cdc.capture.converters import SourceConverters
from cdc.capture.emit import ChangeEmitter
from cdc.capture.heartbeat import Heartbeat
from cdc.capture.source import CaptureSource, StoredState, needs_snapshot, plan_start
from cdc.capture.table import CapturedTable, TableBuilder
from cdc.errors import FatalError, RetriableError
from cdc.events import SourceRecord
from cdc.filters import TableFilter
from schemas import logical
from schemas.connect import OPTIONAL_INT64, STRING, Field, Schema, struct
from schemas.json_converter import JsonConverter
from snapshot.progress import SnapshotProgress

SOURCE = struct("fake.Source", [Field("name", STRING), Field("snapshot", STRING), Field("pos", OPTIONAL_INT64)])
CONVERTERS = SourceConverters(JsonConverter(True), JsonConverter(True))

INT = ColumnType(Schema("int64"), identity)
TEXT = ColumnType(Schema("string"), identity)
PRICE = ColumnType(logical.decimal_schema("precise", 2, 10), lambda d: logical.decimal_bytes(d, 2))
DAY = ColumnType(logical.date_schema("connect"), logical.epoch_days)
COLUMNS = [
    ColumnDescriptor("id", INT, optional=False),
    ColumnDescriptor("name", TEXT, optional=False),
    ColumnDescriptor("price", PRICE),
    ColumnDescriptor("day", DAY),
    ColumnDescriptor("secret", TEXT),
]


def builder(column_exclude: str | None = "db1\\.items\\.secret") -> TableBuilder:
    return TableBuilder("srv", TableFilter(column_exclude=column_exclude), CONVERTERS, SOURCE, "__unavailable")


def items_table() -> CapturedTable:
    return builder().build("db1.items", "db1", "items", COLUMNS, ["id"])


def decode(record: SourceRecord) -> tuple[Any, Any]:
    key = None if record.key is None else orjson.loads(record.key)
    value = None if record.value is None else orjson.loads(record.value)
    return key, value


def payloads(records: list[SourceRecord]) -> list[tuple[Any, Any]]:
    """(key payload, value payload or None) per record."""
    out = []
    for record in records:
        key, value = decode(record)
        out.append((None if key is None else key["payload"], None if value is None else value["payload"]))
    return out


# -- the fake connector ------------------------------------------------------------------------------------------


class FakeSnapshotTable:
    def __init__(self, table: CapturedTable, rows: list[tuple[Any, ...]], fail_after: int | None = None) -> None:
        self.table = table
        self.name = f"{table.namespace}.{table.name}"
        self.estimated_rows = len(rows)
        self._rows = rows
        self._fail_after = fail_after

    def rows(self) -> Iterator[Sequence[Any]]:
        for i, row in enumerate(self._rows):
            if self._fail_after is not None and i == self._fail_after:
                raise RetriableError("snapshot connection lost")
            yield row


class FakeSnapshot:
    def __init__(self, tables: list[FakeSnapshotTable], pos: int, preamble: list[SourceRecord] | None = None) -> None:
        self._tables = tables
        self.pos = pos
        self.closed = False
        self._preamble = preamble or []

    @property
    def tables(self) -> Sequence[FakeSnapshotTable]:
        return self._tables

    def source(self, table: CapturedTable, marker: str, now_ns: int) -> dict[str, Any]:
        return {"name": "srv", "snapshot": marker, "pos": self.pos}

    def position(self, completed: bool) -> dict[str, Any]:
        return {"pos": self.pos, "snapshot": True, **({"snapshot_completed": True} if completed else {})}

    def preamble(self) -> list[SourceRecord]:
        return self._preamble

    def close(self) -> None:
        self.closed = True


class FakeStream:
    """Events: ("c", after) / ("u", before, after) / ("d", before), values as the driver delivers them."""

    def __init__(
        self,
        table: CapturedTable,
        events: list[tuple[Any, ...]],
        start: int,
        emitter: ChangeEmitter,
        heartbeat: Heartbeat | None,
    ) -> None:
        self.table = table
        self.events = events
        self.pos = start
        self.emitter = emitter
        self.heartbeat = heartbeat
        self.confirmed: list[dict[str, Any]] = []

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        table, emit = self.table, self.emitter
        while self.events and len(out) < max_records:
            event = self.events.pop(0)
            self.pos += 1
            source = {"name": "srv", "snapshot": "false", "pos": self.pos}
            if event[0] == "c":
                emit.create(table, table.row(event[1]), source, 1_000_000_000, out)
            elif event[0] == "u":
                before = None if event[1] is None else table.old_row(False, event[1])
                emit.update(table, before, table.row(event[2]), source, 1_000_000_000, out)
            else:
                emit.delete(table, table.old_row(False, event[1]), source, 1_000_000_000, out)
        if self.heartbeat is not None:
            self.heartbeat.poll(2_000_000_000, out)
        return out

    def position(self) -> dict[str, Any]:
        return {"pos": self.pos}

    def confirm(self, offset: dict[str, Any]) -> None:
        self.confirmed.append(offset)

    def keepalive(self) -> None:
        pass

    @property
    def commit_due(self) -> bool:
        return False


class FakeConnector:
    def __init__(
        self,
        snapshot_mode: str = "initial",
        skipped: str = "",
        tombstones: bool = True,
        heartbeat_s: float | None = None,
        rows: list[tuple[Any, ...]] | None = None,
        events: list[tuple[Any, ...]] | None = None,
        fail_after: int | None = None,
        resumable: bool = True,
        history: str = "none",
        preamble: list[SourceRecord] | None = None,
    ) -> None:
        self.snapshot_mode = snapshot_mode
        self.history = history
        self.preamble = preamble
        self.table = items_table()
        self.rows = rows if rows is not None else []
        self.events = events if events is not None else []
        self.emitter = ChangeEmitter(frozenset(p for p in skipped.split(",") if p), tombstones)
        self.heartbeat = None if heartbeat_s is None else Heartbeat("__hb", "srv", CONVERTERS, heartbeat_s)
        self.fail_after = fail_after
        self.resumable = resumable
        self.stored: dict[str, Any] | None = None
        self.stream: FakeStream | None = None
        self.snapshot: FakeSnapshot | None = None
        self.closed: bool | None = None

    def open(self, stored_offset: dict[str, Any] | None) -> StoredState:
        self.stored = stored_offset
        return StoredState(
            offset_stored=stored_offset is not None,
            snapshot_completed=bool(stored_offset and stored_offset.get("snapshot_completed")),
            resumable=self.resumable,
            schema_history=self.history,  # type: ignore[arg-type]
        )

    def position_lost(self) -> FatalError:
        return FatalError("position lost")

    def begin_snapshot(self) -> FakeSnapshot:
        self.snapshot = FakeSnapshot([FakeSnapshotTable(self.table, self.rows, self.fail_after)], 100, self.preamble)
        return self.snapshot

    def begin_stream(self, after: Any) -> FakeStream:
        start = after.pos if after is not None else (self.stored or {}).get("pos", 0)
        self.stream = FakeStream(self.table, self.events, start, self.emitter, self.heartbeat)
        return self.stream

    def close(self, final: bool) -> None:
        self.closed = final


class SpyProgress(SnapshotProgress):
    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.entered = self.exited = 0

    def __enter__(self) -> SpyProgress:
        self.entered += 1
        return self

    def __exit__(self, *args: Any) -> None:
        self.exited += 1


ROW1 = (1, "apple", Decimal("1.50"), dt.date(2024, 1, 2), "x")
ROW2 = (2, "pear", Decimal("-0.05"), None, "y")
ROW3 = (3, "fig", None, dt.date(1969, 12, 31), None)


# -- tests -------------------------------------------------------------------------------------------------------


def test_snapshot_then_stream_through_the_core() -> None:
    after2 = (2, "pear", Decimal("2.00"), None, "y")
    connector = FakeConnector(
        rows=[ROW1, ROW2, ROW3],
        events=[("c", (4, "kiwi", Decimal("9.99"), dt.date(1970, 1, 1), "s")), ("u", ROW2, after2), ("d", ROW3)],
    )
    progress = SpyProgress()
    source = CaptureSource(connector, progress)
    source.start(None)
    assert source.position() == {"pos": 100, "snapshot": True} and not source.commit_due
    snap = source.poll(2, 0.0)
    assert [v["source"]["snapshot"] for _, v in payloads(snap)] == ["first", "true"]
    snap += source.poll(10, 0.0)  # the last row, then the switch to streaming
    got = payloads(snap)
    assert [(k, v["op"], v["source"]["snapshot"]) for k, v in got] == [
        ({"id": 1}, "r", "first"),
        ({"id": 2}, "r", "true"),
        ({"id": 3}, "r", "last"),
    ]
    assert progress.entered == progress.exited == 1 and connector.snapshot is not None and connector.snapshot.closed
    # wire forms: Decimal(10,2) as base64 of the unscaled bytes, Connect Date as days; the excluded column is gone
    assert got[0][1]["after"] == {"id": 1, "name": "apple", "price": "AJY=", "day": 19724}
    assert got[1][1]["after"]["price"] == "+w==" and got[2][1]["after"]["day"] == -1
    # the completed snapshot's offset stays the position until it is stored, then the stream's takes over
    completed = {"pos": 100, "snapshot": True, "snapshot_completed": True}
    assert source.position() == completed and source.commit_due  # store the completion at once
    stream = source.poll(10, 0.0)
    assert source.position() == completed
    source.committed(completed)
    assert source.position() == {"pos": 103} and not source.commit_due
    assert connector.stream is not None and connector.stream.confirmed == [completed]
    assert [(k, v and v["op"]) for k, v in payloads(stream)] == [
        ({"id": 4}, "c"),
        ({"id": 2}, "u"),
        ({"id": 3}, "d"),
        ({"id": 3}, None),  # the delete's tombstone
    ]
    update = payloads(stream)[1][1]
    assert update["before"]["price"] == "+w==" and update["after"]["price"] == "AMg="
    assert update["source"] == {"name": "srv", "snapshot": "false", "pos": 102}
    source.stop(True)
    assert connector.closed is True


def test_envelope_schema_and_key_schema() -> None:
    table = items_table()
    row = table.row(ROW1)
    key, value = decode(
        table.record(None, row, {"name": "srv", "snapshot": "false", "pos": 1}, "c", 1_700_000_000_123_456_789, row)
    )
    assert key["schema"] == {
        "type": "struct",
        "fields": [{"type": "int64", "optional": False, "field": "id"}],
        "optional": False,
        "name": "srv.db1.items.Key",
    }
    assert value["schema"]["name"] == "srv.db1.items.Envelope"
    assert [f["field"] for f in value["schema"]["fields"]] == [
        "before",
        "after",
        "source",
        "transaction",
        "op",
        "ts_ms",
        "ts_us",
        "ts_ns",
    ]
    after_fields = value["schema"]["fields"][1]["fields"]
    assert [(f["field"], f["optional"]) for f in after_fields] == [
        ("id", False),
        ("name", False),
        ("price", True),
        ("day", True),
    ]
    assert after_fields[2]["parameters"] == {"scale": "2", "connect.decimal.precision": "10"}
    assert value["payload"]["ts_ms"] == 1_700_000_000_123 and value["payload"]["ts_ns"] == 1_700_000_000_123_456_789
    assert value["payload"]["transaction"] is None and value["payload"]["before"] is None


def test_primary_key_change_is_delete_tombstone_create() -> None:
    moved = (10, "apple", Decimal("1.50"), dt.date(2024, 1, 2), "x")
    for tombstones, expected in ((True, ["d", None, "c"]), (False, ["d", "c"])):
        connector = FakeConnector(snapshot_mode="never", events=[("u", ROW1, moved)], tombstones=tombstones)
        source = CaptureSource(connector)
        source.start(None)
        got = payloads(source.poll(10, 0.0))
        assert [v and v["op"] for _, v in got] == expected
        assert got[0][0] == {"id": 1} and got[-1][0] == {"id": 10}
        assert got[0][1]["before"]["id"] == 1 and got[-1][1]["after"]["id"] == 10
        assert got[0][1]["source"] is not got[-1][1]["source"]


def test_skipped_operations() -> None:
    moved = (10, "apple", None, None, None)
    events = [("c", ROW1), ("u", ROW1, ROW1), ("d", ROW1), ("u", ROW1, moved)]
    cases = {
        "c": ["u", "d", None, "d", None],
        "u": ["c", "d", None, "d", None, "c"],  # a key change is still d + c
        "d": ["c", "u", "c"],
        "c,u,d": [],
    }
    for skipped, expected in cases.items():
        connector = FakeConnector(snapshot_mode="never", events=list(events), skipped=skipped)
        source = CaptureSource(connector)
        source.start(None)
        assert [v and v["op"] for _, v in payloads(source.poll(20, 0.0))] == expected, skipped
    emitter = ChangeEmitter(frozenset({"t"}), True)
    out: list[SourceRecord] = []
    emitter.truncate(items_table(), {}, 0, out)
    assert out == [] and not emitter.truncates


def test_key_only_before_and_zero_fill() -> None:
    table = items_table()
    key_only = (1, None, None, None, None)
    before = table.old_row(True, key_only)
    assert before == {"id": 1, "name": "", "price": None, "day": None}  # NOT NULL name gets its zero value
    out: list[SourceRecord] = []
    ChangeEmitter(frozenset(), True).update(table, before, table.row(ROW1), {}, 0, out, before_key_only=True)
    assert [(v["op"], v["before"]) for _, v in payloads(out)] == [("u", None)]


def test_unavailable_values_take_the_placeholder() -> None:
    table = builder(column_exclude=None).build("t", "db1", "items", COLUMNS, ["id"])
    row = table.row((1, "a", UNAVAILABLE, None, UNAVAILABLE))
    assert row == {"id": 1, "name": "a", "price": b"__unavailable", "day": None, "secret": "__unavailable"}
    from cdc.postgres.pgoutput import UNCHANGED_TOAST

    assert UNCHANGED_TOAST is UNAVAILABLE  # PostgreSQL's unchanged TOAST values take the same path


def test_keyless_table_has_null_keys_and_tombstones_with_null_keys() -> None:
    # Debezium 3.6.3 follows a keyless delete with a tombstone whose key is null too (tests/conformance).
    table = builder().build("t", "db1", "log", COLUMNS, [])
    out: list[SourceRecord] = []
    ChangeEmitter(frozenset(), True).delete(table, table.row(ROW1), {}, 0, out)
    assert len(out) == 2 and out[0].key is None and out[0].topic == "srv.db1.log"
    assert out[1].key is None and out[1].value is None


def test_heartbeats_after_the_interval() -> None:
    connector = FakeConnector(snapshot_mode="never", heartbeat_s=0.0)
    source = CaptureSource(connector)
    source.start(None)
    records = source.poll(10, 0.0)
    assert [r.topic for r in records] == ["__hb.srv"]
    key, value = decode(records[0])
    assert key["payload"] == {"serverName": "srv"} and value["payload"] == {"ts_ms": 2000}
    assert key["schema"]["name"] == "io.debezium.connector.common.ServerNameKey"
    slow = FakeConnector(snapshot_mode="never", heartbeat_s=3600.0)
    source = CaptureSource(slow)
    source.start(None)
    assert source.poll(10, 0.0) == []


def test_snapshot_error_closes_the_progress_bar() -> None:
    connector = FakeConnector(rows=[ROW1, ROW2, ROW3], fail_after=2)
    progress = SpyProgress()
    source = CaptureSource(connector, progress)
    source.start(None)
    with pytest.raises(RetriableError):
        source.poll(10, 0.0)
    assert progress.exited == 1
    source.stop(False)
    assert connector.snapshot is not None and connector.snapshot.closed and connector.closed is False


def test_stop_during_a_snapshot_closes_it() -> None:
    connector = FakeConnector(rows=[ROW1, ROW2, ROW3])
    progress = SpyProgress()
    source = CaptureSource(connector, progress)
    source.start(None)
    source.poll(1, 0.0)
    source.stop(True)
    assert progress.exited == 1 and connector.snapshot is not None and connector.snapshot.closed


def test_snapshot_mode_policy() -> None:
    fresh = StoredState(offset_stored=False, snapshot_completed=False, resumable=False)
    done = StoredState(offset_stored=True, snapshot_completed=True, resumable=True)
    done_lost = StoredState(offset_stored=True, snapshot_completed=True, resumable=False)
    half = StoredState(offset_stored=True, snapshot_completed=False, resumable=True)
    expected = {
        "initial": ("snapshot", "stream", "lost", "snapshot"),
        "initial_only": ("snapshot", "finished", "lost", "snapshot"),
        "always": ("snapshot", "snapshot", "snapshot", "snapshot"),
        "when_needed": ("snapshot", "stream", "snapshot", "snapshot"),
        "no_data": ("stream", "stream", "lost", "stream"),
        "never": ("stream", "stream", "lost", "stream"),
    }
    for mode, phases in expected.items():
        assert tuple(plan_start(mode, s) for s in (fresh, done, done_lost, half)) == phases, mode
    assert needs_snapshot("when_needed", done_lost) and not needs_snapshot("initial", done)


def test_initial_only_finishes_after_its_snapshot_and_a_lost_position_is_fatal() -> None:
    connector = FakeConnector(snapshot_mode="initial_only", rows=[ROW1])
    source = CaptureSource(connector)
    source.start(None)
    assert len(source.poll(10, 0.0)) == 1 and source.finished and connector.stream is None
    lost = CaptureSource(FakeConnector(snapshot_mode="initial", resumable=False))
    with pytest.raises(FatalError, match="position lost"):
        lost.start({"pos": 5, "snapshot_completed": True})
    resumed = FakeConnector(snapshot_mode="initial", events=[("c", ROW1)])
    source = CaptureSource(resumed)
    source.start({"pos": 5, "snapshot_completed": True})
    assert len(source.poll(10, 0.0)) == 1 and source.position() == {"pos": 6}


def test_structured_record_uses_the_connect_representation() -> None:
    table = items_table()
    row = table.row(ROW2)
    src = {"name": "srv", "snapshot": "false", "pos": 7}
    record = table.structured(None, row, src, "c", 1_000_000, row)
    assert record.topic == "srv.db1.items"
    assert record.key == {"id": 2} and record.key_schema is table.key_schema
    assert record.value_schema is table.value_schema
    after = record.value["after"]
    assert after["price"] == Decimal("-0.05") and isinstance(after["price"], Decimal) and after["day"] is None
    dated = table.structured(None, table.row(ROW1), src, "c", 0, None)
    assert dated.value["after"]["day"] == dt.date(2024, 1, 2) and dated.key is None
    assert row["price"] == b"\xfb"  # the fast-path row is not modified
    tomb = table.structured_tombstone(row)
    assert tomb.key == {"id": 2} and tomb.value is None and tomb.value_schema is None


def test_schema_only_snapshot_for_a_connector_with_a_schema_history() -> None:
    """no_data with a schema history and no offset: a snapshot is opened for its schemas (its preamble records go
    out first), no row is read, its completion is stored at once, then streaming starts at its position."""
    announce = SourceRecord("srv", b"k", b"schema change")
    connector = FakeConnector(
        snapshot_mode="no_data", rows=[ROW1], events=[("c", ROW2)], history="present", preamble=[announce]
    )
    progress = SpyProgress()
    source = CaptureSource(connector, progress)
    source.start(None)
    assert source.poll(10, 0.0) == [announce]
    assert source.poll(10, 0.0) == []  # no rows: the snapshot completes
    completed = {"pos": 100, "snapshot": True, "snapshot_completed": True}
    assert source.position() == completed and source.commit_due and progress.entered == 0
    assert connector.snapshot is not None and connector.snapshot.closed
    source.committed(completed)
    streamed = payloads(source.poll(10, 0.0))
    assert [(v["op"], k) for k, v in streamed] == [("c", {"id": 2})]
