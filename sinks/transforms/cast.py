"""Kafka Connect's ``Cast$Key`` / ``Cast$Value``: cast fields (``spec=a:int32,b:string``) or the whole key/value
(``spec=string``) to a primitive type.

Java's conversions are reproduced: narrowing integers wrap (``byteValue``), doubles truncate toward zero and
saturate, strings parse with ``Integer.parseInt`` rules (no decimals, no spaces), booleans parse with
``Boolean.parseBoolean`` (anything but ``true`` is false), numbers cast to boolean are ``!= 0``, bytes cast to string
are base64, Date/Time/Timestamp cast to a number are their epoch value and to a string their ISO 8601 text.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
import re
from collections.abc import Mapping
from typing import Any

from schemas.connect import Field, Schema
from schemas.record import ConnectRecord
from sinks.transforms.base import Transformation, TransformError
from sinks.transforms.config import Properties
from sinks.transforms.headers import header_text, java_float, to_float32
from sinks.transforms.util import (
    DATE_NAME,
    TIME_NAME,
    TIMESTAMP_NAME,
    KeyOrValue,
    SchemaCache,
    copy_basics,
    field_value,
    java_class_name,
    require_map,
    require_struct,
)

_INPUT = ("int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string", "bytes")
_OUTPUT = _INPUT[:-1]
_INPUT_TEXT = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]"
_OUTPUT_TEXT = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]"
_ALL_TYPES = (
    "int8",
    "int16",
    "int32",
    "int64",
    "float32",
    "float64",
    "boolean",
    "string",
    "bytes",
    "array",
    "map",
    "struct",
)
_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
_JAVA_INT = re.compile(r"[+-]?\d+")
_JAVA_FLOAT = re.compile(r"\s*[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?\s*")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _wrap(number: int, bits: int) -> int:
    """Two's-complement narrowing, as Java's ``(byte)``/``(short)``/``(int)`` casts of an integer."""
    mask = (1 << bits) - 1
    number &= mask
    return number - (1 << bits) if number >> (bits - 1) else number


def _float_to_int(number: float, bits: int) -> int:
    """Java's ``Double.xxxValue()``: NaN → 0, truncate, saturate to int (or long), then narrow."""
    if math.isnan(number):
        return 0
    limit = 64 if bits == 64 else 32
    low, high = -(1 << (limit - 1)), (1 << (limit - 1)) - 1
    whole = low if number <= low else high if number >= high else int(number)
    return _wrap(whole, bits)


def _epoch_number(value: Any, schema: Schema) -> Any:
    """``encodeLogicalType``: Date → days, Time → millis of day, Timestamp → epoch millis."""
    if schema.name == DATE_NAME and isinstance(value, datetime.date):
        return (value - datetime.date(1970, 1, 1)).days
    if schema.name == TIME_NAME and isinstance(value, datetime.time):
        return (value.hour * 3600 + value.minute * 60 + value.second) * 1000 + value.microsecond // 1000
    if schema.name == TIMESTAMP_NAME and isinstance(value, datetime.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return (aware - _EPOCH) // datetime.timedelta(milliseconds=1)
    return value


def _inferred_type(value: Any) -> str:
    """``ConnectSchema.schemaType`` for schemaless values (JSON numbers are Long or Double)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "map"
    raise TransformError(
        f"Cast transformation was passed a value of type class {java_class_name(value)} "
        "which is not supported by Connect's data API"
    )


def cast_value(schema: Schema | None, value: Any, target: str) -> Any:
    """``Cast.castValueToType``: ``value`` (described by ``schema``, or inferred) as ``target``."""
    if value is None:
        return None
    source = schema.type if schema is not None else _inferred_type(value)
    if source not in _INPUT:
        raise TransformError(
            f"Cast transformation does not support casting from {source.upper()}; supported types are {_INPUT_TEXT}"
        )
    if schema is not None and schema.name is not None and target != "string":
        value = _epoch_number(value, schema)
    if schema is not None and schema.type == "float32" and isinstance(value, float):
        value = to_float32(value)  # a java.lang.Float in Connect: 0.1f widens to 0.10000000149011612
    java = java_class_name(value, schema)
    if target == "string":
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode("ascii")
        if isinstance(value, float) and schema is not None and schema.type == "float32":
            return java_float(value)
        text = header_text(value, schema)
        assert text is not None
        return text.decode("utf-8")
    if target == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.lower() == "true"
        if isinstance(value, (int, decimal.Decimal)):
            return int(value) != 0
        if isinstance(value, float):
            return _float_to_int(value, 64) != 0
        raise TransformError(f"Unexpected type in Cast transformation: class {java}")
    if isinstance(value, bool):
        number: Any = 1 if value else 0
        return float(number) if target.startswith("float") else number
    if target in _BITS:
        bits = _BITS[target]
        if isinstance(value, int):
            return _wrap(value, bits)
        if isinstance(value, decimal.Decimal):
            return _wrap(int(value), bits)
        if isinstance(value, float):
            return _float_to_int(value, bits)
        if isinstance(value, str):
            if not _JAVA_INT.fullmatch(value):
                raise TransformError(f"Value ({value}) was out of range for requested data type")
            parsed = int(value)
            if _wrap(parsed, bits) != parsed:
                raise TransformError(f"Value ({value}) was out of range for requested data type")
            return parsed
        raise TransformError(f"Unexpected type in Cast transformation: class {java}")
    # float32 / float64
    if isinstance(value, (int, float, decimal.Decimal)):
        result = float(value)
    elif isinstance(value, str):
        if not _JAVA_FLOAT.fullmatch(value):
            raise TransformError(f"Value ({value}) was out of range for requested data type")
        result = float(value.strip().rstrip("fFdD"))
    else:
        raise TransformError(f"Unexpected type in Cast transformation: class {java}")
    if target == "float32":
        # The float32 as the double with its shortest decimal digits (1.1f → 1.1), so that JSON writes "1.1" as
        # Jackson does for a java.lang.Float; re-rounding it to float32 gives back the same float.
        return float(java_float(to_float32(result)))
    return result


class Cast(KeyOrValue, Transformation):
    """Cast fields, or the whole key/value, to primitive types."""

    purpose = "cast types"

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``spec`` (``field:type,…`` or one ``type`` for the whole value)."""
        p = Properties(properties)
        spec = p.string_list("spec", required=True)
        self.casts: dict[str, str] = {}
        self.whole: str | None = None
        if p.has("spec") and not spec:
            p.problem("spec: Must specify at least one field to cast.")
        for mapping in spec:
            parts = mapping.split(":")
            while len(parts) > 1 and parts[-1] == "":
                parts.pop()
            if len(parts) > 2:
                p.problem(f"spec: invalid cast mapping: {mapping}")
                continue
            type_name = parts[-1].strip().lower()
            if type_name not in _ALL_TYPES:
                p.problem(f"spec: invalid type found in casting spec: {parts[-1].strip()}")
                continue
            if type_name not in _OUTPUT:
                p.problem(
                    f"spec: Cast transformation does not support casting to {type_name.upper()}; "
                    f"supported types are {_OUTPUT_TEXT}"
                )
                continue
            if len(parts) == 1:
                self.whole = type_name
            else:
                self.casts[parts[0].strip()] = type_name
        if self.whole is not None and len(spec) > 1:
            p.problem(
                "spec: Cast transformations that specify a type to cast the entire value to "
                "may only specify a single cast in their spec"
            )
        self.replace_null = p.boolean("replace.null.with.default", True)
        p.check()
        self._cache: SchemaCache[Schema, Schema] = SchemaCache()

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Cast; a null key/value passes through unchanged."""
        value = self.operating_value(record)
        if value is None:
            return record
        schema = self.operating_schema(record)
        if schema is None:
            if self.whole is not None:
                return self.new_record(record, None, cast_value(None, value, self.whole))
            updated = dict(require_map(value, self.purpose))
            for name, target in self.casts.items():
                updated[name] = cast_value(None, updated.get(name), target)
            return self.new_record(record, None, updated)
        new_schema = self._cache.get(schema, self._updated_schema)
        if self.whole is not None:
            return self.new_record(record, new_schema, cast_value(schema, value, self.whole))
        struct = require_struct(value, schema, self.purpose)
        out: dict[str, Any] = {}
        for f in schema.fields:
            original = field_value(struct, f, self.replace_null)
            cast_to = self.casts.get(f.name)
            out[f.name] = cast_value(f.schema, original, cast_to) if cast_to is not None else original
        return self.new_record(record, new_schema, out)

    def _updated_schema(self, schema: Schema) -> Schema:
        if self.whole is not None:
            default = cast_value(schema, schema.default, self.whole) if schema.default is not None else None
            return copy_basics(schema, self.whole, optional=schema.optional, default=default)
        if schema.type != "struct":
            raise TransformError(f"Only Struct objects supported for [{self.purpose}], found: {schema.type}")
        fields = []
        for f in schema.fields:
            target = self.casts.get(f.name)
            if target is None:
                fields.append(f)
                continue
            default = cast_value(f.schema, f.schema.default, target) if f.schema.default is not None else None
            fields.append(Field(f.name, Schema(target, optional=f.schema.optional, default=default)))
        return copy_basics(schema, "struct", fields=tuple(fields), optional=schema.optional, default=schema.default)


class CastKey(Cast):
    """``Cast$Key``."""

    is_key = True


class CastValue(Cast):
    """``Cast$Value``."""
