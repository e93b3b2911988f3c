"""Source connectors with ``transforms=…``: captured tables and heartbeats emit through the SMT chain and the
worker's converters (``cdc.capture.transform``); without transforms the fast path is untouched."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pytest

from cdc.capture.columns import ColumnDescriptor, ColumnType, identity
from cdc.capture.converters import SourceConverters
from cdc.capture.emit import ChangeEmitter
from cdc.capture.heartbeat import Heartbeat
from cdc.capture.table import CapturedTable, TableBuilder, TransformedTable
from cdc.capture.transform import SourceTransform, transform_properties
from cdc.errors import FatalError
from cdc.events import DROPPED, SourceRecord, TransformedRecord
from cdc.filters import TableFilter
from cdc.postgres.config import PostgresConnectorConfig
from schemas import logical
from schemas.connect import OPTIONAL_INT64, STRING, Field, Schema, struct
from schemas.converters.connect_json import JsonConverter as ConnectJsonConverter
from schemas.json_converter import JsonConverter
from sinks.transforms.chain import TransformChain

SOURCE = struct("fake.Source", [Field("name", STRING), Field("table", STRING), Field("pos", OPTIONAL_INT64)])
INT = ColumnType(Schema("int64"), identity)
TEXT = ColumnType(Schema("string"), identity)
PRICE = ColumnType(logical.decimal_schema("precise", 2, 10), lambda d: logical.decimal_bytes(d, 2))
DAY = ColumnType(logical.date_schema("connect"), logical.epoch_days)
COLUMNS = [
    ColumnDescriptor("id", INT, optional=False),
    ColumnDescriptor("name", TEXT, optional=False),
    ColumnDescriptor("price", PRICE),
    ColumnDescriptor("day", DAY),
]
ROW = (1, "apple", Decimal("1.50"), dt.date(2024, 1, 2))
SRC = {"name": "srv", "table": "items", "pos": 7}


def _converters(props: dict[str, str] | None) -> SourceConverters:
    transform = None
    if props:
        json_key, json_value = ConnectJsonConverter(), ConnectJsonConverter()
        json_key.configure({}, True)
        json_value.configure({}, False)
        transform = SourceTransform(TransformChain.from_properties(props), json_key, json_value)
    return SourceConverters(JsonConverter(True), JsonConverter(True), transform)


def _table(props: dict[str, str] | None) -> CapturedTable:
    builder = TableBuilder("srv", TableFilter(), _converters(props), SOURCE, "__unavailable")
    return builder.build("db1.items", "db1", "items", COLUMNS, ["id"])


def _decode(record: SourceRecord) -> tuple[Any, Any]:
    return (
        None if record.key is None else orjson.loads(record.key),
        None if record.value is None else orjson.loads(record.value),
    )


UNWRAP = {
    "transforms": "unwrap",
    "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
    "transforms.unwrap.add.fields": "op,table",
    "transforms.unwrap.add.headers": "op",
}


def test_without_transforms_the_fast_path_is_unchanged() -> None:
    table = _table(None)
    assert type(table) is CapturedTable
    out: list[SourceRecord] = []
    ChangeEmitter(frozenset(), True).create(table, table.row(ROW), SRC, 0, out)
    assert type(out[0]) is SourceRecord and _decode(out[0])[1]["payload"]["op"] == "c"


def test_unwrap_on_the_source_side() -> None:
    table = _table(UNWRAP)
    assert isinstance(table, TransformedTable)
    emitter = ChangeEmitter(frozenset(), True)
    out: list[SourceRecord] = []
    row = table.row(ROW)
    emitter.create(table, row, SRC, 0, out)
    emitter.delete(table, row, SRC, 0, out)
    created, deleted, tombstone = out
    assert isinstance(created, TransformedRecord) and created.topic == "srv.db1.items"
    key, value = _decode(created)
    assert key["payload"] == {"id": 1}
    assert value["payload"] == {
        "id": 1,
        "name": "apple",
        "price": "AJY=",
        "day": 19724,
        "__op": "c",
        "__table": "items",
    }
    assert value["schema"]["name"] == "srv.db1.items.Value" and value["schema"]["optional"] is False
    assert list(created.headers or ()) == [("__op", b"c")]
    # Default delete.tombstone.handling.mode=tombstone: the delete keeps a null payload with the row schema, and
    # Debezium's own tombstone is dropped.
    assert _decode(deleted)[1]["payload"] is None and deleted.value is not None
    assert tombstone is DROPPED


def test_dropped_records_and_heartbeats_go_through_the_chain() -> None:
    props = {
        "transforms": "route,drop",
        "transforms.route.type": "RegexRouter",
        "transforms.route.regex": "__hb\\.(.*)",
        "transforms.route.replacement": "beats.$1",
        "transforms.drop.type": "Filter",
        "transforms.drop.predicate": "isData",
        "predicates": "isData",
        "predicates.isData.type": "TopicNameMatches",
        "predicates.isData.pattern": "srv\\..*",
    }
    converters = _converters(props)
    beat = Heartbeat("__hb", "srv", converters, 0.0).record(5)
    assert beat.topic == "beats.srv" and _decode(beat)[1]["payload"] == {"ts_ms": 5}
    table = _table(props)
    out: list[SourceRecord] = []
    ChangeEmitter(frozenset(), True).create(table, table.row(ROW), SRC, 0, out)
    assert out == [DROPPED]


def test_a_record_the_chain_cannot_process_stops_the_source() -> None:
    table = _table({"transforms": "x", "transforms.x.type": "ExtractField$Value", "transforms.x.field": "nope"})
    with pytest.raises(FatalError, match="Unknown field: nope"):
        ChangeEmitter(frozenset(), True).create(table, table.row(ROW), SRC, 0, [])


def test_chain_problems_are_configuration_problems() -> None:
    raw = {
        "database.hostname": "h",
        "database.user": "u",
        "database.dbname": "d",
        "topic.prefix": "p",
        "transforms": "unwrap",
        "transforms.unwrap.type": "ExtractNewRecordState",
        "transforms.unwrap.delete.tombstone.handling.mode": "nope",
    }
    problems = PostgresConnectorConfig.cross_field_problems(raw)
    assert any(p.startswith("config.transforms.unwrap.delete.tombstone.handling.mode='nope'") for p in problems)
    assert transform_properties({**raw, "transformsX": "1"}) == {
        "transforms": "unwrap",
        "transforms.unwrap.type": "ExtractNewRecordState",
        "transforms.unwrap.delete.tombstone.handling.mode": "nope",
    }


def test_errors_tolerance_all_skips_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    props = {"transforms": "x", "transforms.x.type": "ExtractField$Value", "transforms.x.field": "nope"}
    key, value = ConnectJsonConverter(), ConnectJsonConverter()
    key.configure({}, True)
    value.configure({}, False)
    transform = SourceTransform(TransformChain.from_properties(props), key, value, tolerate_all=True)
    builder = TableBuilder(
        "srv", TableFilter(), SourceConverters(JsonConverter(True), JsonConverter(True), transform), SOURCE, "__u"
    )
    table = builder.build("db1.items", "db1", "items", COLUMNS, ["id"])
    out: list[SourceRecord] = []
    ChangeEmitter(frozenset(), True).create(table, table.row(ROW), SRC, 0, out)
    assert out == [DROPPED] and transform.skipped == 1
    assert "errors.tolerance=all: skipped a record of topic srv.db1.items" in caplog.text
    assert "Unknown field: nope" in caplog.text and "apple" not in caplog.text  # values only with include.messages
    raw = {"errors.tolerance": "some", "errors.log.enable": "yes"}
    problems = PostgresConnectorConfig.cross_field_problems(raw)
    assert "config.errors.tolerance='some' is invalid; expected none or all" in problems
    assert "config.errors.log.enable='yes' is not a boolean (expected true or false)" in problems
