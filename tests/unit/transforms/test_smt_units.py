"""SMT behaviour the recorded Connect reference does not cover: our extensions (legacy ReplaceField names),
Java formatting helpers, the source-side header sharing of Debezium's unwrap, caches, and chain corner cases."""

from __future__ import annotations

import datetime

import pytest
from smt_connect_json import from_json
from smt_reference_cases import DELETE, ITEMS_KEY, USER_VALUE

from cdc.errors import ConfigError
from schemas.connect import Field, Schema
from schemas.record import ConnectRecord
from sinks.transforms.cast import java_float, to_float32
from sinks.transforms.chain import TransformChain
from sinks.transforms.dateformat import SimpleDateFormat
from sinks.transforms.fields import ReplaceFieldValue, parse_field_path
from sinks.transforms.headers import header_text, java_double, java_hashmap_order, literal_header


def _user() -> ConnectRecord:
    schema, value = from_json(USER_VALUE, True)
    return ConnectRecord("shop.users", None, None, schema, value, kafka_offset=1)


def test_replace_field_legacy_whitelist_blacklist() -> None:
    # Kafka 4 dropped these names (it ignores them); Kafka 2.x/3.x configs still carry them, so we honour them.
    t = ReplaceFieldValue()
    t.configure({"whitelist": "id,name,email", "blacklist": "email"})
    out = t.apply(_user())
    assert out is not None and list(out.value) == ["id", "name"]
    assert [f.name for f in out.value_schema.fields] == ["id", "name"]  # type: ignore[union-attr]
    t.configure({"include": "id", "whitelist": "name"})  # the current name wins
    out = t.apply(_user())
    assert out is not None and list(out.value) == ["id"]


def test_schema_cache_reuses_derived_schema() -> None:
    t = ReplaceFieldValue()
    t.configure({"exclude": "data"})
    record = _user()
    first, second = t.apply(record), t.apply(record)
    assert first is not None and second is not None and first.value_schema is second.value_schema


def test_java_number_and_text_formats() -> None:
    assert [java_double(v) for v in (1.0, 1e7, 1.5e-4, 123.25, -0.0)] == ["1.0", "1.0E7", "1.5E-4", "123.25", "-0.0"]
    assert java_float(to_float32(1.1)) == "1.1"
    assert literal_header("007") == b"7" and literal_header(" x y ") == b"x y" and literal_header("null") is None
    schema = Schema("struct", fields=(Field("a", Schema("int32")), Field("b", Schema("string"))))
    assert header_text({"a": 1, "b": 'q"t'}, schema) == b'{"a":1,"b":"q\\"t"}'
    assert header_text([1, "x", None]) == b'[1,"x",null]'
    assert header_text(datetime.date(2024, 3, 5)) == b"2024-03-05"
    assert header_text(datetime.datetime(2024, 3, 5, 1, 2, 3, 4000, tzinfo=datetime.UTC)) == b"2024-03-05T01:02:03.004Z"
    # java.util.HashMap iteration order (JsonConverter's schemaless maps), checked against the real Connect output.
    assert java_hashmap_order(["street", "city", "geo"]) == ["geo", "city", "street"]


def test_simple_date_format_round_trip() -> None:
    when = datetime.datetime(2024, 3, 5, 14, 7, 9, 123000, tzinfo=datetime.UTC)
    for pattern in ("yyyyMMdd", "yyyy-MM-dd'T'HH:mm:ss.SSSX", "EEE, d MMM yyyy hh:mm a", "''yy''"):
        fmt = SimpleDateFormat(pattern)
        text = fmt.format(when)
        assert SimpleDateFormat(pattern).format(fmt.parse(text)) == text
    assert SimpleDateFormat("dd/MM/yyyy HH:mm Z").parse("05/03/2024 16:07 +0200") == datetime.datetime(
        2024, 3, 5, 14, 7, tzinfo=datetime.UTC
    )
    with pytest.raises(ValueError, match="Unparseable"):
        SimpleDateFormat("yyyy-MM-dd").parse("2024/03/05")


def test_field_path_v2() -> None:
    assert parse_field_path("a.b.c", "V2") == ["a", "b", "c"]
    assert parse_field_path("`a.b`.c", "V2") == ["a.b", "c"]
    assert parse_field_path("a.b", "V1") == ["a.b"]
    with pytest.raises(ValueError, match="Incomplete backtick"):
        parse_field_path("`a.b", "V2")


def test_unwrap_delete_headers_repeat_on_the_following_tombstone() -> None:
    chain = TransformChain.from_properties(
        {
            "transforms": "unwrap",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.unwrap.add.headers": "op",
            "transforms.unwrap.delete.tombstone.handling.mode": "rewrite-with-tombstone",
        }
    )
    key_schema, key = from_json(ITEMS_KEY, True)
    value_schema, value = from_json(DELETE, True)
    delete = ConnectRecord("dbz.public.items", key_schema, key, value_schema, value)
    tombstone = ConnectRecord("dbz.public.items", key_schema, key, None, None)
    out_delete, out_tombstone = chain.apply(delete), chain.apply(tombstone)
    assert out_delete is not None and out_delete.headers == [("__op", b"d")]
    # Source side (no Kafka offset): Debezium's delete and tombstone share one headers object.
    assert out_tombstone is not None and out_tombstone.headers == [("__op", b"d"), ("__op", b"d")]
    # Sink side: separate records, no sharing.
    sink_delete = ConnectRecord("dbz.public.items", key_schema, key, value_schema, value, kafka_offset=5)
    sink_tombstone = ConnectRecord("dbz.public.items", key_schema, key, None, None, kafka_offset=6)
    chain.apply(sink_delete)
    out = chain.apply(sink_tombstone)
    assert out is not None and out.headers == [("__op", b"d")]


def test_unwrap_legacy_options_are_ignored_like_debezium_3(caplog: pytest.LogCaptureFixture) -> None:
    chain = TransformChain.from_properties(
        {
            "transforms": "unwrap",
            "transforms.unwrap.type": "ExtractNewRecordState",
            "transforms.unwrap.drop.tombstones": "false",
            "transforms.unwrap.delete.handling.mode": "rewrite",
        }
    )
    assert "drop.tombstones is ignored" in caplog.text
    key_schema, key = from_json(ITEMS_KEY, True)
    value_schema, value = from_json(DELETE, True)
    out = chain.apply(ConnectRecord("t", key_schema, key, value_schema, value))
    assert out is not None and out.value is None  # default tombstone mode, as Debezium 3.6 does


def test_chain_config_errors_are_prefixed_with_the_alias() -> None:
    with pytest.raises(ConfigError) as info:
        TransformChain.from_properties(
            {
                "transforms": "c,t",
                "transforms.c.type": "Cast$Value",
                "transforms.c.spec": "a:decimal,string",
                "transforms.t.type": "TimestampConverter$Value",
                "transforms.t.target.type": "string",
                "transforms.t.unix.precision": "hours",
            }
        )
    problems = info.value.problems
    assert "transforms.c.spec: invalid type found in casting spec: decimal" in problems
    assert any(p.startswith("transforms.t.format:") for p in problems)
    assert any(p.startswith("transforms.t.unix.precision='hours' is invalid") for p in problems)
    assert any("may only specify a single cast" in p for p in problems)


def test_chain_predicate_instances_are_per_transform() -> None:
    chain = TransformChain.from_properties(
        {
            "transforms": "a,b",
            "transforms.a.type": "InsertHeader",
            "transforms.a.header": "h",
            "transforms.a.value.literal": "1",
            "transforms.a.predicate": "p",
            "transforms.b.type": "InsertHeader",
            "transforms.b.header": "g",
            "transforms.b.value.literal": "2",
            "transforms.b.predicate": "p",
            "transforms.b.negate": "true",
            "predicates": "p",
            "predicates.p.type": "HasHeaderKey",
            "predicates.p.name": "x",
        }
    )
    a, b = chain.stages
    assert a.predicate is not None and b.predicate is not None and a.predicate is not b.predicate
    out = chain.apply(ConnectRecord("t", None, None, None, {"v": 1}, headers=[("x", b"1")]))
    assert out is not None and out.headers == [("x", b"1"), ("h", b"1")]
    out = chain.apply(ConnectRecord("t", None, None, None, {"v": 1}))
    assert out is not None and out.headers == [("g", b"2")]


def test_connect_record_replace_copies_every_field() -> None:
    import dataclasses

    record = ConnectRecord("t", None, 1, None, 2, 3, 4, [("h", b"1")], 5, "orig")
    copy = record.replace()
    assert [getattr(copy, f.name) for f in dataclasses.fields(ConnectRecord)] == [
        getattr(record, f.name) for f in dataclasses.fields(ConnectRecord)
    ]
    assert copy.headers is not record.headers
    assert record.replace(topic="u", headers=[]).topic == "u"
    with pytest.raises(TypeError, match="no field"):
        record.replace(nope=1)
