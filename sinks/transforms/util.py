"""Helpers shared by the SMTs: key/value selection, Connect's ``Requirements`` checks, struct access, schema copies.

Values follow ``schemas.record``: a struct is a ``dict`` in schema field order, a schemaless map is a ``dict``
with a ``None`` schema. Error messages reproduce Connect's (``Only Struct objects supported for [purpose], found:
…``) with the Java class name the value would have in a Connect worker, so logs and dead-letter headers read the same.
"""

from __future__ import annotations

import datetime
import decimal
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from schemas.connect import Field, Schema
from schemas.record import ConnectRecord
from sinks.transforms.base import TransformError

K = TypeVar("K")
V = TypeVar("V")

TIMESTAMP_NAME = "org.apache.kafka.connect.data.Timestamp"
DATE_NAME = "org.apache.kafka.connect.data.Date"
TIME_NAME = "org.apache.kafka.connect.data.Time"
DECIMAL_NAME = "org.apache.kafka.connect.data.Decimal"


def java_class_name(value: Any, schema: Schema | None = None) -> str:
    """The Java class a Connect worker would hold for ``value`` (for error messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, dict):
        return (
            "org.apache.kafka.connect.data.Struct"
            if schema is not None and schema.type == "struct"
            else "java.util.HashMap"
        )
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, int):
        names = {"int8": "java.lang.Byte", "int16": "java.lang.Short", "int32": "java.lang.Integer"}
        return names.get(schema.type, "java.lang.Long") if schema is not None else "java.lang.Long"
    if isinstance(value, float):
        return "java.lang.Float" if schema is not None and schema.type == "float32" else "java.lang.Double"
    if isinstance(value, (bytes, bytearray)):
        return "[B"
    if isinstance(value, list):
        return "java.util.ArrayList"
    if isinstance(value, decimal.Decimal):
        return "java.math.BigDecimal"
    if isinstance(value, (datetime.date, datetime.time)):
        return "java.util.Date"
    return type(value).__name__


def require_map(value: Any, purpose: str) -> dict[str, Any]:
    """Connect's ``Requirements.requireMap``: a schemaless value must be a map."""
    if not isinstance(value, dict):
        raise TransformError(
            f"Only Map objects supported in absence of schema for [{purpose}], found: {java_class_name(value)}"
        )
    return value


def require_struct(value: Any, schema: Schema | None, purpose: str) -> dict[str, Any]:
    """Connect's ``Requirements.requireStruct``: a value with a schema must be a struct."""
    if not isinstance(value, dict) or schema is None or schema.type != "struct":
        raise TransformError(f"Only Struct objects supported for [{purpose}], found: {java_class_name(value, schema)}")
    return value


def require_schema(schema: Schema | None, purpose: str) -> Schema:
    """Connect's ``Requirements.requireSchema``."""
    if schema is None:
        raise TransformError(f"Schema required for [{purpose}]")
    return schema


def field_value(struct_value: dict[str, Any], field: Field, with_default: bool = True) -> Any:
    """Connect's ``Struct.get(field)`` (the field's default for a null) or ``getWithoutDefault``."""
    value = struct_value.get(field.name)
    if value is None and with_default:
        return field.schema.default
    return value


def copy_basics(source: Schema, type_: str, **changes: Any) -> Schema:
    """``SchemaUtil.copySchemaBasics``: name, version, doc and parameters of ``source``, not optional nor default."""
    return Schema(
        type_, name=source.name, version=source.version, doc=source.doc, parameters=source.parameters, **changes
    )


def with_changes(schema: Schema, **changes: Any) -> Schema:
    """A copy of ``schema`` with some attributes replaced."""
    values = {
        "type": schema.type,
        "optional": schema.optional,
        "name": schema.name,
        "version": schema.version,
        "parameters": schema.parameters,
        "default": schema.default,
        "fields": schema.fields,
        "items": schema.items,
        "doc": schema.doc,
        "keys": schema.keys,
    }
    values.update(changes)
    return Schema(**values)


class SchemaCache(Generic[K, V]):
    """A small LRU keyed by object identity (schemas hold dicts, so they are not hashable).

    Connectors and converters reuse one schema object per table version, so identity hits; the entry keeps the key
    alive so its ``id`` cannot be reused while cached.
    """

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[K, V]] = OrderedDict()

    def get(self, key: K, build: Callable[[K], V]) -> V:
        """The cached value for ``key``, building and storing it on a miss."""
        entry = self._entries.get(id(key))
        if entry is not None and entry[0] is key:
            self._entries.move_to_end(id(key))
            return entry[1]
        value = build(key)
        self._entries[id(key)] = (key, value)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return value


class KeyOrValue:
    """Mixin for SMTs with ``$Key`` / ``$Value`` variants: which half of the record they operate on."""

    is_key: bool = False

    def operating_schema(self, record: ConnectRecord) -> Schema | None:
        """The key or value schema."""
        return record.key_schema if self.is_key else record.value_schema

    def operating_value(self, record: ConnectRecord) -> Any:
        """The key or the value."""
        return record.key if self.is_key else record.value

    def new_record(self, record: ConnectRecord, schema: Schema | None, value: Any) -> ConnectRecord:
        """The record with its key or value (and that schema) replaced."""
        if self.is_key:
            return record.replace(key_schema=schema, key=value)
        return record.replace(value_schema=schema, value=value)
