"""Converters in both directions: JsonConverter (schemas on/off, replace.null.with.default, logical types, errors),
StringConverter, ByteArrayConverter and the factory's class names."""

from __future__ import annotations

import datetime as dt
import decimal

import orjson
import pytest

from cdc.errors import ConfigError
from schemas.connect import Field, Schema, struct
from schemas.converters.base import ConversionError
from schemas.converters.connect_json import JsonConverter
from schemas.converters.factory import build_converter, canonical_converter_class
from schemas.converters.simple import ByteArrayConverter, StringConverter
from schemas.json_converter import JsonConverter as FastJson

DECIMAL = Schema("bytes", name="org.apache.kafka.connect.data.Decimal", version=1, parameters={"scale": "2"})
DATE = Schema("int32", optional=True, name="org.apache.kafka.connect.data.Date", version=1)
TIME = Schema("int32", optional=True, name="org.apache.kafka.connect.data.Time", version=1)
TIMESTAMP = Schema("int64", optional=True, name="org.apache.kafka.connect.data.Timestamp", version=1)
ROW = struct(
    "db.public.t.Value",
    [
        Field("id", Schema("int32")),
        Field("price", DECIMAL),
        Field("day", DATE),
        Field("at", TIME),
        Field("ts", TIMESTAMP),
        Field("blob", Schema("bytes", optional=True)),
        Field("ratio", Schema("float64", optional=True)),
        Field("tags", Schema("array", optional=True, items=Schema("string"))),
        Field("attrs", Schema("map", optional=True, keys=Schema("string"), items=Schema("int64"))),
        Field("codes", Schema("map", optional=True, keys=Schema("int32"), items=Schema("string"))),
        Field("status", Schema("string", optional=True, default="new")),
        Field("zoned", Schema("string", optional=True, name="io.debezium.time.ZonedTimestamp", version=1)),
    ],
)
VALUE = {
    "id": 7,
    "price": decimal.Decimal("-12.34"),
    "day": dt.date(2024, 2, 29),
    "at": dt.time(13, 14, 15, 123000),
    "ts": dt.datetime(2024, 2, 29, 13, 14, 15, 123000, tzinfo=dt.UTC),
    "blob": b"\x00\xffab",
    "ratio": 0.5,
    "tags": ["a", "b"],
    "attrs": {"x": 1},
    "codes": {1: "one"},
    "status": "paid",
    "zoned": "2024-02-29T13:14:15.123Z",
}


def converter(**props: str) -> JsonConverter:
    conv = JsonConverter()
    conv.configure(props, False)
    return conv


def test_json_round_trip_with_schema() -> None:
    conv = converter()
    data = conv.from_connect("t", ROW, VALUE, [])
    assert data is not None
    doc = orjson.loads(data)
    assert list(doc) == ["schema", "payload"]
    payload = doc["payload"]
    # Connect's wire forms: Decimal = base64 unscaled bytes, Date = days, Time = ms, Timestamp = ms, bytes = base64.
    assert payload["price"] == "+y4="  # -1234 as two's complement 0xFB2E
    assert payload["day"] == 19782
    assert payload["at"] == 47655123
    assert payload["ts"] == 1709212455123
    assert payload["blob"] == "AP9hYg=="
    assert payload["codes"] == [[1, "one"]]  # non-string map keys: array of pairs
    assert doc["schema"]["fields"][8] == {
        "type": "map",
        "keys": {"type": "string", "optional": False},
        "values": {"type": "int64", "optional": False},
        "optional": True,
        "field": "attrs",
    }
    schema, value = conv.to_connect("t", data, [])
    assert schema == ROW
    assert value == VALUE
    # Connect → bytes → Connect → bytes is stable.
    assert conv.from_connect("t", schema, value, []) == data


def test_json_bytes_identical_to_the_sources_fast_path() -> None:
    conv = converter()
    data = conv.from_connect("t", ROW, VALUE, [])
    payload = orjson.loads(data or b"")["payload"]
    fast = FastJson(True)
    assert FastJson.serialize(fast.prepare(ROW), payload) == data
    # and exactly the byte layout Connect writes: {"schema":…,"payload":…} without spaces
    assert data is not None and data.startswith(
        b'{"schema":{"type":"struct","fields":[{"type":"int32","optional":false'
    )


def test_json_schemas_disabled_both_directions() -> None:
    conv = converter(**{"schemas.enable": "false"})
    data = conv.from_connect("t", ROW, VALUE, [])
    assert data is not None
    doc = orjson.loads(data)
    assert "schema" not in doc and doc["id"] == 7 and doc["price"] == "+y4="
    schema, value = conv.to_connect("t", b'{"a":1,"b":[1,2],"c":{"d":null}}', [])
    assert schema is None
    assert value == {"a": 1, "b": [1, 2], "c": {"d": None}}


def test_json_replace_null_with_default() -> None:
    row = dict(VALUE, status=None)
    on = converter()
    off = converter(**{"replace.null.with.default": "false"})
    assert orjson.loads(on.from_connect("t", ROW, row, []) or b"")["payload"]["status"] == "new"
    assert orjson.loads(off.from_connect("t", ROW, row, []) or b"")["payload"]["status"] is None
    data = off.from_connect("t", ROW, row, [])
    assert on.to_connect("t", data, [])[1]["status"] == "new"
    assert off.to_connect("t", data, [])[1]["status"] is None


def test_json_tombstones_and_null_keys() -> None:
    conv = converter()
    assert conv.from_connect("t", None, None, []) is None
    assert conv.to_connect("t", None, []) == (None, None)
    # an optional schema with a null value keeps the envelope, as Connect does
    assert conv.from_connect("t", Schema("string", optional=True), None, []) == (
        b'{"schema":{"type":"string","optional":true},"payload":null}'
    )


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b'{"payload": 1}',
        b'{"schema": {"type": "int32"}, "payload": 1, "extra": 2}',
        b'{"schema": {"type": "int32"}, "payload": "x"}',
        b'{"schema": {"type": "int32"}, "payload": null}',  # required, no default
        b'{"schema": {"type": "struct", "fields": [{"type": "string", "field": "a"}]}, "payload": {"a": 5}}',
        b'{"schema": {"type": "nonsense"}, "payload": 1}',
        b'{"schema": {"type": "bytes"}, "payload": "***"}',
    ],
)
def test_json_rejects_bad_input(data: bytes) -> None:
    with pytest.raises(ConversionError):
        converter().to_connect("t", data, [])


def test_json_rejects_values_not_matching_the_schema() -> None:
    with pytest.raises(ConversionError):
        converter().from_connect("t", ROW, dict(VALUE, id="seven"), [])
    with pytest.raises(ConversionError):
        converter().from_connect("t", ROW, dict(VALUE, id=None), [])


def test_json_schema_cache_is_keyed_safely() -> None:
    conv = converter()
    a = b'{"schema":{"type":"string","optional":false,"doc":"x,\\"payload\\":"},"payload":"v"}'
    assert conv.to_connect("t", a, []) == (Schema("string", doc='x,"payload":'), "v")
    b = b'{"schema":{"type":"int32","optional":false},"payload":3}'
    assert conv.to_connect("t", b, []) == (Schema("int32"), 3)
    assert conv.to_connect("t", b, []) == (Schema("int32"), 3)


def test_json_decimal_numeric_format() -> None:
    conv = converter(**{"decimal.format": "NUMERIC"})
    schema = struct("s", [Field("p", DECIMAL)])
    data = conv.from_connect("t", schema, {"p": decimal.Decimal("1.50")}, [])
    assert orjson.loads(data or b"")["payload"] == {"p": 1.5}
    assert conv.to_connect("t", data, [])[1] == {"p": decimal.Decimal("1.5")}


def test_string_converter_both_directions() -> None:
    conv = StringConverter()
    conv.configure({}, False)
    assert conv.from_connect("t", None, "héllo", []) == "héllo".encode()
    assert conv.from_connect("t", None, 42, []) == b"42"
    assert conv.from_connect("t", None, None, []) is None
    assert conv.to_connect("t", "héllo".encode(), []) == (Schema("string", optional=True), "héllo")
    assert conv.to_connect("t", None, []) == (Schema("string", optional=True), None)
    latin = StringConverter()
    latin.configure({"converter.encoding": "latin-1"}, False)
    assert latin.from_connect("t", None, "é", []) == b"\xe9"
    assert latin.to_connect("t", b"\xe9", [])[1] == "é"
    with pytest.raises(ConversionError):
        conv.to_connect("t", b"\xff\xfe\xfa", [])


def test_byte_array_converter_both_directions() -> None:
    conv = ByteArrayConverter()
    conv.configure({}, True)
    assert conv.from_connect("t", Schema("bytes"), b"\x00\x01", []) == b"\x00\x01"
    assert conv.to_connect("t", b"\x00\x01", []) == (Schema("bytes", optional=True), b"\x00\x01")
    assert conv.to_connect("t", None, []) == (Schema("bytes", optional=True), None)
    with pytest.raises(ConversionError):
        conv.from_connect("t", None, "text", [])
    with pytest.raises(ConversionError):
        conv.from_connect("t", Schema("string"), b"x", [])


def test_factory_names() -> None:
    assert canonical_converter_class("json") == "org.apache.kafka.connect.json.JsonConverter"
    assert canonical_converter_class("org.apache.kafka.connect.storage.StringConverter") is not None
    assert canonical_converter_class("bytes") == "org.apache.kafka.connect.converters.ByteArrayConverter"
    assert canonical_converter_class("io.confluent.connect.avro.AvroConverter") is not None
    assert canonical_converter_class("com.example.Nope") is None
    assert isinstance(build_converter("string", {}, False), StringConverter)
    conv = build_converter("org.apache.kafka.connect.json.JsonConverter", {"schemas.enable": "false"}, True)
    assert isinstance(conv, JsonConverter) and conv.schemas_enable is False
    with pytest.raises(ConfigError):
        build_converter("com.example.Nope", {}, False)
    with pytest.raises(ConfigError):
        build_converter("json", {"schemas.enable": "maybe"}, False)


def test_long_decimals_are_exact() -> None:
    """More digits than the default decimal context's 28: no rounding either way."""
    schema = struct(
        "s", [Field("n", Schema("bytes", name="org.apache.kafka.connect.data.Decimal", parameters={"scale": "10"}))]
    )
    value = {"n": decimal.Decimal("12345678901234567890123456789012345678.0123456789")}
    conv = converter()
    assert conv.to_connect("t", conv.from_connect("t", schema, value, []), [])[1] == value


def test_plain_struct_fast_path_keeps_connect_semantics() -> None:
    schema = struct(
        "s",
        [
            Field("i", Schema("int32")),
            Field("f", Schema("float64", optional=True)),
            Field("s", Schema("string", optional=True)),
            Field("d", Schema("string", optional=True, default="x")),
        ],
    )
    conv = converter()
    prefix = b'{"schema":' + orjson.dumps(schema.to_json()) + b',"payload":'

    def read(payload: bytes) -> object:
        return conv.to_connect("t", prefix + payload + b"}", [])[1]

    assert read(b'{"i":1,"f":0.5,"s":null,"d":"y"}') == {"i": 1, "f": 0.5, "s": None, "d": "y"}
    assert read(b'{"i":1,"f":2,"s":"a","d":null}') == {"i": 1, "f": 2.0, "s": "a", "d": "x"}  # int→float, default
    assert isinstance(read(b'{"i":1,"f":2,"s":"a","d":"z"}')["f"], float)  # type: ignore[index]
    assert read(b'{"f":1.5,"i":3,"d":"z","s":"a"}') == {"i": 3, "f": 1.5, "s": "a", "d": "z"}  # other key order
    assert list(read(b'{"f":1.5,"i":3,"d":"z","s":"a"}')) == ["i", "f", "s", "d"]  # type: ignore[arg-type]
    assert read(b'{"i":1,"extra":true}') == {"i": 1, "f": None, "s": None, "d": "x"}
    for bad in (b'{"i":true,"f":null,"s":null,"d":null}', b'{"i":null,"f":null,"s":null,"d":null}'):
        with pytest.raises(ConversionError):
            read(bad)
