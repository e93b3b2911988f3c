"""Debezium 3.6 rules ported from the real output (tests/conformance): defaults, column mappers, snapshot markers,
transaction metadata, Java HashMap order. The expected values are those the real Debezium 3.6.3 wrote."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from cdc.capture.snapshot import marked_rows
from cdc.column_mappers import ColumnMappers
from cdc.postgres import types as t
from cdc.postgres.defaults import default_text
from cdc.postgres.special_types import hstore_json, interval_string, source_type_parameters
from schemas.javacompat import java_hashmap_order
from schemas.json_converter import JsonConverter
from snapshot.progress import SnapshotProgress


def test_default_expressions_as_debezium_reads_them() -> None:
    assert default_text(t.INT4, False, "nextval('defaults_id_seq'::regclass)") == "0"
    assert default_text(t.TIMESTAMP, False, "now()") == "1970-01-01 00:00:00"
    assert default_text(t.VARCHAR, False, "'n/a'::character varying") == "n/a"
    assert default_text(t.TEXT, False, "'it''s'::text") == "it's"
    assert default_text(t.INT4, False, "7") == "7"
    assert default_text(t.BOOL, False, "true") == "t"
    assert default_text(t.NUMERIC, False, "NULL::numeric") is None
    assert default_text(0, True, "'ok'::mood") == "ok"
    assert default_text(t.BYTEA, False, "'\\x00'::bytea") is None  # no mapper in Debezium: no default


def test_column_mappers() -> None:
    mappers = ColumnMappers(
        {
            "column.mask.with.5.chars": "public.t.secret",
            "column.mask.hash.SHA-256.with.salt.s4lt": "public.t.hashed",
            "column.truncate.to.3.chars": "public.t.short",
            "message.key.columns": "public.keyless:a,b",
        }
    )
    mask = mappers.mapping("public", "t", "secret", "text", None, dict)
    assert mask is not None and mask.parameters == {"masked": "true"} and mask.null_value == "*****"
    hashed = mappers.mapping("public", "t", "hashed", "text", None, dict)
    assert hashed is not None and hashed.convert is not None
    assert hashed.convert("some text") == "a7a36feed1efa34938ff931912fcd194634b46f005b0dccf836435f148bf0586"
    short = mappers.mapping("PUBLIC", "T", "SHORT", "text", None, dict)  # names match case-insensitively
    assert short is not None and short.parameters == {"truncateLength": "3"}
    assert short.convert is not None and short.convert("kept") == "kep"
    assert mappers.mapping("public", "t", "other", "text", None, dict) is None
    assert mappers.key_columns_for("public", "keyless") == ("a", "b")
    assert ColumnMappers.problems({"column.mask.hash.NOPE.with.salt.x": "a.b.c"})


def test_source_type_parameters_differ_between_snapshot_and_stream_like_debezium() -> None:
    assert source_type_parameters("numeric", -1, "n", from_stream=False) == {
        "__debezium.source.column.type": "NUMERIC",
        "__debezium.source.column.length": "0",
        "__debezium.source.column.name": "n",
    }
    streamed = source_type_parameters("numeric", -1, "n", from_stream=True)
    assert streamed["__debezium.source.column.length"] == "131089"
    assert streamed["__debezium.source.column.scale"] == "0"
    assert source_type_parameters("float8", -1, "d", True)["__debezium.source.column.scale"] == "17"


def test_hstore_interval_and_hashmap_order() -> None:
    assert hstore_json('"a"=>"1", "b"=>NULL') == '{"a":"1","b":null}'
    assert interval_string("P-1DT-2H-3M-4S") == "P0Y0M-1DT-2H-3M-4S"
    assert java_hashmap_order(["zeta", "alpha", "b", "key10", "key2"]) == ["zeta", "key2", "b", "alpha", "key10"]


class _Table:
    def __init__(self, name: str, rows: int) -> None:
        self.name = name
        self.estimated_rows = rows
        self.table: Any = None
        self._rows = rows

    def rows(self) -> Iterator[Sequence[Any]]:
        return iter([(i,) for i in range(self._rows)])


def test_snapshot_markers() -> None:
    tables = [_Table("a", 3), _Table("b", 1), _Table("c", 0), _Table("d", 2)]
    markers = [m.marker for m in marked_rows(tables, SnapshotProgress(enabled=False))]  # type: ignore[arg-type]
    assert markers == [
        "first",
        "true",
        "last_in_data_collection",
        "last_in_data_collection",
        "first_in_data_collection",
        "last",
    ]


def test_transaction_metadata_records() -> None:
    from cdc.capture.converters import SourceConverters
    from schemas.transaction import TransactionTracker

    tracker = TransactionTracker("p.transaction", SourceConverters(JsonConverter(False), JsonConverter(False)))
    begin = tracker.begin("770:100", 5)
    assert begin.value == b'{"status":"BEGIN","id":"770:100","event_count":null,"data_collections":null,"ts_ms":5}'
    assert tracker.event("public.t", "770:108") == {"id": "770:108", "total_order": 1, "data_collection_order": 1}
    assert tracker.event("public.t", "770:116")["data_collection_order"] == 2
    end = tracker.end("770:200", 5)
    assert end.key == b'{"id":"770:200"}'
    assert b'"event_count":2,"data_collections":[{"data_collection":"public.t","event_count":2}]' in (end.value or b"")
