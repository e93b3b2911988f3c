"""AvroConverter both directions against confluent-kafka's in-process mock Schema Registry: Confluent wire format,
AvroData's schema mapping (record names, connect.* annotations, logical types, optional unions, named-type reuse),
interoperability with confluent-kafka's AvroSerializer/AvroDeserializer, and errors."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import struct
import uuid
from typing import Any

import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from cdc.errors import ConfigError
from schemas.connect import Field, Schema
from schemas.connect import struct as connect_struct
from schemas.converters.avro import AvroConverter, registry_client
from schemas.converters.avro_data import avro_to_connect, connect_to_avro
from schemas.converters.base import ConversionError
from schemas.converters.factory import build_converter

DECIMAL = Schema(
    "bytes",
    name="org.apache.kafka.connect.data.Decimal",
    version=1,
    parameters={"scale": "2", "connect.decimal.precision": "10"},
)
ROW = connect_struct(
    "db.public.items.Value",
    [
        Field("id", Schema("int32")),
        Field("small", Schema("int16", optional=True)),
        Field("name", Schema("string")),
        Field("price", DECIMAL.with_optional(True)),
        Field("day", Schema("int32", optional=True, name="io.debezium.time.Date", version=1)),
        Field("ts", Schema("int64", optional=True, name="org.apache.kafka.connect.data.Timestamp", version=1)),
        Field("created", Schema("string", optional=True, name="io.debezium.time.ZonedTimestamp", version=1)),
        Field("raw", Schema("bytes", optional=True)),
        Field("tags", Schema("array", optional=True, items=Schema("string"))),
        Field("attrs", Schema("map", optional=True, keys=Schema("string"), items=Schema("int64"))),
        Field("status", Schema("string", optional=True, default="new")),
    ],
)
SOURCE = connect_struct("io.debezium.connector.postgresql.Source", [Field("table", Schema("string"))])
ENVELOPE = connect_struct(
    "db.public.items.Envelope",
    [
        Field("before", ROW.with_optional(True)),
        Field("after", ROW.with_optional(True)),
        Field("source", SOURCE),
        Field("op", Schema("string")),
        Field("ts_ms", Schema("int64", optional=True)),
    ],
    version=2,
)
ROW_VALUE = {
    "id": 1,
    "small": 7,
    "name": "a",
    "price": decimal.Decimal("12.34"),
    "day": 19782,
    "ts": dt.datetime(2024, 2, 29, 1, 2, 3, 456000, tzinfo=dt.UTC),
    "created": "2024-02-29T01:02:03.456789Z",
    "raw": b"\x00\x01",
    "tags": ["x"],
    "attrs": {"k": 2},
    "status": "paid",
}
ENVELOPE_VALUE = {"before": None, "after": ROW_VALUE, "source": {"table": "items"}, "op": "c", "ts_ms": 5}


def converter(url: str, is_key: bool = False, **props: str) -> AvroConverter:
    conv = AvroConverter()
    conv.configure({"schema.registry.url": url, **props}, is_key)
    return conv


def mock_url() -> str:
    return f"mock://test-{uuid.uuid4().hex[:8]}"


def test_round_trip_and_wire_format() -> None:
    url = mock_url()
    conv = converter(url)
    data = conv.from_connect("db.public.items", ENVELOPE, ENVELOPE_VALUE, [])
    assert data is not None
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert magic == 0
    registered = registry_client({"url": url}).get_latest_version("db.public.items-value")
    assert registered.schema_id == schema_id
    schema, value = converter(url).to_connect("db.public.items", data, [])
    assert schema == ENVELOPE
    assert value == ENVELOPE_VALUE
    assert conv.from_connect("db.public.items", None, None, []) is None
    assert conv.to_connect("t", None, []) == (None, None)


def test_avro_schema_follows_avrodata_conventions() -> None:
    avro: Any = connect_to_avro(ENVELOPE)
    assert avro["type"] == "record" and avro["name"] == "Envelope" and avro["namespace"] == "db.public.items"
    assert avro["connect.name"] == "db.public.items.Envelope" and avro["connect.version"] == 2
    before, after = avro["fields"][0], avro["fields"][1]
    assert before["type"][0] == "null" and before["default"] is None
    assert before["type"][1]["name"] == "Value" and after["type"] == ["null", "db.public.items.Value"]  # reference
    fields = {f["name"]: f for f in before["type"][1]["fields"]}
    assert fields["small"]["type"] == ["null", {"type": "int", "connect.type": "int16"}]
    assert fields["price"]["type"][1] == {
        "type": "bytes",
        "scale": 2,
        "precision": 10,
        "connect.version": 1,
        "connect.parameters": {"scale": "2", "connect.decimal.precision": "10"},
        "connect.name": "org.apache.kafka.connect.data.Decimal",
        "logicalType": "decimal",
    }
    assert fields["day"]["type"][1] == {"type": "int", "connect.version": 1, "connect.name": "io.debezium.time.Date"}
    assert fields["ts"]["type"][1]["logicalType"] == "timestamp-millis"
    assert fields["status"]["type"][0]["type"] == "string" and fields["status"]["default"] == "new"  # [T, null]
    assert avro_to_connect(avro) == ENVELOPE


def test_interoperates_with_confluent_serializers() -> None:
    url = mock_url()
    client = registry_client({"url": url})
    conv = converter(url)
    data = conv.from_connect("db.public.items", ENVELOPE, ENVELOPE_VALUE, [])
    # Read by confluent-kafka's own AvroDeserializer, as a downstream consumer would.
    ctx = SerializationContext("db.public.items", MessageField.VALUE)
    decoded = AvroDeserializer(client)(data, ctx)
    assert decoded["after"]["price"] == decimal.Decimal("12.34")
    assert decoded["after"]["ts"] == ROW_VALUE["ts"]
    assert decoded["after"]["small"] == 7 and decoded["op"] == "c"
    # And what a plain Avro producer writes is read back by the converter.
    plain = json.dumps(
        {
            "type": "record",
            "name": "Order",
            "namespace": "shop",
            "fields": [
                {"name": "id", "type": "long"},
                {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 8, "scale": 2}},
                {"name": "note", "type": ["null", "string"], "default": None},
            ],
        }
    )
    serializer = AvroSerializer(client, plain)
    payload = serializer(
        {"id": 3, "amount": decimal.Decimal("1.50"), "note": None}, SerializationContext("o", MessageField.VALUE)
    )
    schema, value = conv.to_connect("o", payload, [])
    assert schema is not None and schema.name == "shop.Order"
    assert value == {"id": 3, "amount": decimal.Decimal("1.50"), "note": None}


def test_key_subject_and_strategies() -> None:
    url = mock_url()
    key_schema = connect_struct("db.public.items.Key", [Field("id", Schema("int32"))])
    converter(url, is_key=True).from_connect("db.public.items", key_schema, {"id": 1}, [])
    client = registry_client({"url": url})
    assert client.get_latest_version("db.public.items-key").schema_id > 0
    record = converter(
        url, **{"value.subject.name.strategy": "io.confluent.kafka.serializers.subject.RecordNameStrategy"}
    )
    record.from_connect("t", ROW, ROW_VALUE, [])
    assert client.get_latest_version("db.public.items.Value").schema_id > 0


def test_auto_register_off_and_use_latest() -> None:
    url = mock_url()
    with pytest.raises(ConversionError):
        converter(url, **{"auto.register.schemas": "false"}).from_connect("t", ROW, ROW_VALUE, [])
    first = converter(url).from_connect("t", ROW, ROW_VALUE, [])
    looked_up = converter(url, **{"auto.register.schemas": "false"}).from_connect("t", ROW, ROW_VALUE, [])
    assert looked_up == first
    latest = converter(url, **{"use.latest.version": "true", "auto.register.schemas": "false"})
    assert latest.from_connect("t", ROW, ROW_VALUE, []) == first


def test_errors() -> None:
    url = mock_url()
    conv = converter(url)
    with pytest.raises(ConversionError):
        conv.to_connect("t", b"{json}", [])
    with pytest.raises(ConversionError):
        conv.to_connect("t", b"\x00\x00\x00\x03\xe7abc", [])  # unknown schema id 999
    good = conv.from_connect("t", ROW, ROW_VALUE, [])
    assert good is not None
    with pytest.raises(ConversionError):
        conv.to_connect("t", good[:8], [])  # truncated
    with pytest.raises(ConversionError):
        conv.from_connect("t", ROW, dict(ROW_VALUE, id="x"), [])
    with pytest.raises(ConfigError):
        build_converter("avro", {}, False)  # schema.registry.url is required
    assert isinstance(
        build_converter("io.confluent.connect.avro.AvroConverter", {"schema.registry.url": url}, False), AvroConverter
    )
