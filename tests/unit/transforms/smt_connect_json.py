"""Test helper: Connect data ↔ the JSON Kafka Connect's JsonConverter reads and writes.

The SMT reference tests describe records as JsonConverter JSON (what a user sees on the topic) so the same case can
be fed to the real Kafka Connect (``reference/SmtHarness.java``) and to our SMTs; this module turns that JSON into
``ConnectRecord`` values and our results back into JSON for the comparison. It is deliberately independent of the
product converters, so it checks the SMTs alone.
"""

from __future__ import annotations

import base64
import datetime
import decimal
from typing import Any

from schemas.connect import Field, Schema
from sinks.transforms.cast import java_float, to_float32

_TYPES = {"float": "float32", "double": "float64"}
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
DECIMAL = "org.apache.kafka.connect.data.Decimal"
DATE = "org.apache.kafka.connect.data.Date"
TIME = "org.apache.kafka.connect.data.Time"
TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"


def schema_from_json(node: dict[str, Any] | None) -> Schema | None:
    """JsonConverter's ``asConnectSchema``."""
    if node is None:
        return None
    type_ = _TYPES.get(node["type"], node["type"])
    fields = tuple(Field(f["field"], schema_from_json(f)) for f in node.get("fields", ()))  # type: ignore[arg-type]
    items = schema_from_json(node.get("items") or node.get("values"))
    keys = schema_from_json(node.get("keys"))
    schema = Schema(
        type_,
        optional=node.get("optional", False),
        name=node.get("name"),
        version=node.get("version"),
        parameters=node.get("parameters"),
        fields=fields,
        items=items,
        doc=node.get("doc"),
        keys=keys,
    )
    if node.get("default") is not None:
        schema = Schema(**{**schema.__dict__, "default": decode(schema, node["default"])})
    return schema


def decode(schema: Schema | None, value: Any) -> Any:
    """A JSON payload as a Connect value (schema None: schemaless, kept as parsed)."""
    if schema is None or value is None:
        return value
    if schema.name == DECIMAL:
        unscaled = int.from_bytes(base64.b64decode(value), "big", signed=True)
        return decimal.Decimal(unscaled).scaleb(-int((schema.parameters or {}).get("scale", "0")))
    if schema.name == DATE:
        return datetime.date(1970, 1, 1) + datetime.timedelta(days=value)
    if schema.name == TIME:
        return (_EPOCH + datetime.timedelta(milliseconds=value)).time()
    if schema.name == TIMESTAMP:
        return _EPOCH + datetime.timedelta(milliseconds=value)
    if schema.type == "bytes":
        return base64.b64decode(value)
    if schema.type == "float32":
        return to_float32(float(value))  # JsonConverter reads a java.lang.Float
    if schema.type == "float64":
        return float(value)
    if schema.type == "struct":
        return {f.name: decode(f.schema, value.get(f.name)) for f in schema.fields}
    if schema.type == "array":
        return [decode(schema.items, v) for v in value]
    if schema.type == "map":
        assert schema.keys is not None and schema.items is not None
        if isinstance(value, list):
            return {decode(schema.keys, k): decode(schema.items, v) for k, v in value}
        return {decode(schema.keys, k): decode(schema.items, v) for k, v in value.items()}
    return value


def encode(schema: Schema | None, value: Any) -> Any:
    """A Connect value as a JSON payload (JsonConverter's ``convertToJson``)."""
    if value is None:
        if schema is not None and schema.default is not None:
            return encode(schema, schema.default)
        return None
    if schema is None:
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode()
        if isinstance(value, dict):
            return {k: encode(None, v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(None, v) for v in value]
        if isinstance(value, datetime.datetime):
            raise TypeError("java.util.Date is not supported by the schemaless JsonConverter")
        return value
    if schema.name == DECIMAL:
        scale = int((schema.parameters or {}).get("scale", "0"))
        exponent = decimal.Decimal(value).as_tuple().exponent
        if exponent != -scale:  # Connect's Decimal.fromLogical
            raise ValueError(f"Decimal value has mismatching scale for given Decimal schema: {value}")
        unscaled = int(decimal.Decimal(value).scaleb(scale))
        length = max(1, (unscaled.bit_length() + 8) // 8)
        return base64.b64encode(unscaled.to_bytes(length, "big", signed=True)).decode()
    if schema.name == DATE:
        if not isinstance(value, datetime.date):
            raise TypeError(f"Invalid type for Date: {type(value).__name__}")
        return (value - datetime.date(1970, 1, 1)).days
    if schema.name == TIME:
        return (value.hour * 3600 + value.minute * 60 + value.second) * 1000 + value.microsecond // 1000
    if schema.name == TIMESTAMP:
        return (value - _EPOCH) // datetime.timedelta(milliseconds=1)
    if schema.type == "bytes":
        return base64.b64encode(value).decode()
    if schema.type == "float32":  # Jackson writes a Float with Float.toString's shortest digits
        return float(java_float(value))
    if schema.type == "struct":
        return {f.name: encode(f.schema, value.get(f.name)) for f in schema.fields}
    if schema.type == "array":
        return [encode(schema.items, v) for v in value]
    if schema.type == "map":
        assert schema.keys is not None
        if schema.keys.type == "string":
            return {k: encode(schema.items, v) for k, v in value.items()}
        return [[encode(schema.keys, k), encode(schema.items, v)] for k, v in value.items()]
    return value


def schema_to_json(schema: Schema) -> dict[str, Any]:
    """The ``schema`` part of a message; defaults rendered in their JSON form."""
    out = schema.to_json()
    if schema.default is not None:
        out["default"] = encode(schema, schema.default)
    if schema.type == "struct":
        out["fields"] = [{**schema_to_json(f.schema), "field": f.name} for f in schema.fields]
    if schema.type == "array" and schema.items is not None:
        out["items"] = schema_to_json(schema.items)
    return out


def to_json(schema: Schema | None, value: Any, schemas_enable: bool) -> Any:
    """The message JsonConverter writes for (schema, value); None for a tombstone."""
    if schema is None and value is None:
        return None
    payload = encode(schema, value)
    if not schemas_enable:
        return payload
    return {"schema": schema_to_json(schema) if schema is not None else None, "payload": payload}


def from_json(message: Any, schemas_enable: bool) -> tuple[Schema | None, Any]:
    """(schema, value) JsonConverter reads from a message."""
    if message is None:
        return None, None
    if not schemas_enable:
        return None, message
    schema = schema_from_json(message.get("schema"))
    return schema, decode(schema, message.get("payload"))
