"""Kafka Connect's header SMTs: HeaderFrom (``$Key``/``$Value``), InsertHeader and DropHeaders.

Headers travel as bytes (``schemas.record``), in the text form Connect's default ``SimpleHeaderConverter`` writes:
:func:`header_text` renders a Connect value as ``Values.convertToString`` does (strings as is, numbers and booleans
in Java's spelling, bytes in base64, structs/maps/arrays in Connect's compact ``{"a":1}`` / ``[1,2]`` form, dates
in ISO 8601), so a header we write reads the same as one a Connect worker writes.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
import re
import struct
from collections.abc import Mapping
from typing import Any

import orjson

from schemas.connect import Field, Schema
from schemas.record import ConnectRecord, Header
from sinks.transforms.base import Transformation, TransformError
from sinks.transforms.config import Properties
from sinks.transforms.util import KeyOrValue, SchemaCache, copy_basics, field_value, require_map, require_struct

_DAY_MS = 86_400_000
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def java_double(value: float) -> str:
    """``Double.toString``: ``1.0``, ``0.001``, ``1.0E7``, ``1.2E-4``, ``NaN``, ``Infinity`` (shortest digits)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    sign, digit_tuple, exp = decimal.Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exp, int)
    # value = 0.d1d2d3... * 10**point
    point = len(digit_tuple) + exp
    prefix = "-" if sign else ""
    if 1e-3 <= abs(value) < 1e7:
        if point <= 0:
            return f"{prefix}0.{'0' * -point}{digits}"
        whole = digits[:point].ljust(point, "0")
        frac = digits[point:] or "0"
        return f"{prefix}{whole}.{frac}"
    return f"{prefix}{digits[0]}.{digits[1:] or '0'}E{point - 1}"


def _java_string_hash(text: str) -> int:
    """``String.hashCode`` (over UTF-16 code units, 32-bit wrap)."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h


def java_hashmap_order(keys: list[Any]) -> list[Any]:
    """The iteration order of a ``java.util.HashMap`` filled with ``keys`` in this order.

    Connect's JsonConverter reads a schemaless JSON object into a HashMap, so text rendered from it (header values)
    lists the entries in bucket order, not document order. Buckets: ``(h ^ h >>> 16) & (capacity - 1)``, capacity 16
    doubled while the size exceeds 3/4 of it; entries of one bucket stay in insertion order.
    """
    if not all(isinstance(k, str) for k in keys):
        return keys
    capacity = 16
    while len(keys) > capacity * 3 // 4:
        capacity *= 2

    def bucket(key: str) -> int:
        h = _java_string_hash(key)
        return (h ^ (h >> 16)) & (capacity - 1)

    return [k for _, _, k in sorted((bucket(k), i, k) for i, k in enumerate(keys))]


def to_float32(number: float) -> float:
    """Round to the nearest float32 (Java's ``floatValue``)."""
    try:
        result: float = struct.unpack("f", struct.pack("f", number))[0]
    except OverflowError:
        return math.copysign(math.inf, number)
    return result


def java_float(number: float) -> str:
    """``Float.toString``: the shortest digits that read back as the same float32."""
    if math.isnan(number) or math.isinf(number) or number == 0:
        return java_double(number)
    for digits in range(1, 10):
        text = f"{number:.{digits}g}"
        if to_float32(float(text)) == number:
            return java_double(float(text))
    return java_double(number)


def _epoch_ms(value: datetime.date | datetime.time) -> int:
    if isinstance(value, datetime.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return (aware - _EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(value, datetime.date):
        return (value - datetime.date(1970, 1, 1)).days * _DAY_MS
    return (value.hour * 3600 + value.minute * 60 + value.second) * 1000 + value.microsecond // 1000


def _append(out: list[str], value: Any, schema: Schema | None, embedded: bool) -> None:
    """``Values.append``."""
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, float):
        out.append(java_double(value))
    elif isinstance(value, (int, decimal.Decimal)):
        out.append(str(value))
    elif isinstance(value, str):
        out.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' if embedded else value)
    elif isinstance(value, (bytes, bytearray)):
        encoded = base64.b64encode(value).decode("ascii")
        out.append(f'"{encoded}"' if embedded else encoded)
    elif isinstance(value, list):
        items = schema.items if schema is not None else None
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _append(out, item, items, True)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        if schema is not None and schema.type == "struct":
            for i, f in enumerate(schema.fields):
                if i:
                    out.append(",")
                _append(out, f.name, None, True)
                out.append(":")
                _append(out, field_value(value, f), f.schema, True)
        else:
            for i, k in enumerate(java_hashmap_order(list(value))):
                v = value[k]
                if i:
                    out.append(",")
                _append(out, k, schema.keys if schema is not None else None, True)
                out.append(":")
                _append(out, v, schema.items if schema is not None else None, True)
        out.append("}")
    elif isinstance(value, (datetime.date, datetime.time)):
        ms = _epoch_ms(value)
        when = _EPOCH + datetime.timedelta(milliseconds=ms)
        if ms < _DAY_MS:  # Values.dateFormatFor: the JVM's zone, UTC here
            out.append(when.strftime("%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z")
        elif ms % _DAY_MS == 0:
            out.append(when.strftime("%Y-%m-%d"))
        else:
            out.append(when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z")
    else:
        raise TransformError(f"Failed to serialize unexpected value type {type(value).__name__}: {value!r}")


def header_text(value: Any, schema: Schema | None = None) -> bytes | None:
    """A Connect value as ``SimpleHeaderConverter.fromConnectHeader`` writes it (None stays None)."""
    if value is None:
        return None
    out: list[str] = []
    _append(out, value, schema, False)
    return "".join(out).encode("utf-8")


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def _literal_number(text: str) -> str | None:
    """A number as ``Values.parseString`` types it and ``SimpleHeaderConverter`` writes it back, or None.

    ``parseAsNumber``: an integral value that fits a long is an integer (``007`` → ``7``, ``1e3`` → ``1000``,
    ``2.0`` → ``2``); otherwise a float32 when finite and the text has a scale (``1.50`` → ``1.5``), else a double,
    else the BigDecimal itself (``99999999999999999999``).
    """
    if not _NUMBER.fullmatch(text):
        return None
    number = decimal.Decimal(text)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    if number == number.to_integral_value() and _LONG_MIN <= int(number) <= _LONG_MAX:
        return str(int(number))
    scale = -exponent
    if scale != 0:
        single = to_float32(float(number))
        if not math.isinf(single):
            return java_float(single)
        double = float(number)
        if not math.isinf(double):
            return java_double(double)
    return str(number)


def _literal_json(value: Any) -> Any:
    """Members of a literal list/map, typed as Values.parseString types them (floats become float32)."""
    if isinstance(value, list):
        return [_literal_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _literal_json(v) for k, v in value.items()}
    if isinstance(value, float):
        return float(java_float(to_float32(value)))
    return value


def literal_header(text: str) -> bytes | None:
    """``InsertHeader``'s ``value.literal`` as Connect writes it: ``Values.parseString`` then
    ``SimpleHeaderConverter`` (checked against Kafka Connect 4.3 on the recorded reference cases).

    ``null`` is a null header; ``true``/``false`` and text stay; numbers are normalised (``007`` → ``7``,
    ``1.50`` → ``1.5``); JSON lists and maps lose their whitespace; surrounding whitespace is trimmed.
    """
    if text == "":
        return b""
    stripped = text.strip()
    if stripped == "null":
        return None
    number = _literal_number(stripped)
    if number is not None:
        return number.encode("utf-8")
    if stripped.startswith(("[", "{")):
        try:
            parsed = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, (list, dict)):
            return header_text(_literal_json(parsed))
    return stripped.encode("utf-8")


# ---------------------------------------------------------------- HeaderFrom


class HeaderFrom(KeyOrValue, Transformation):
    """Copy or move fields of the key or value into headers (``fields``, ``headers``, ``operation``)."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``fields`` and ``headers`` (same length, non-empty) and ``operation`` (move or copy)."""
        p = Properties(properties)
        self.fields = p.string_list("fields", required=True, non_empty=p.has("fields"))
        self.headers = p.string_list("headers", required=True, non_empty=p.has("headers"))
        if p.has("operation"):
            self.operation = p.choice("operation", ("move", "copy"), "copy", case_insensitive=False)
        else:
            p.problem("operation is required (move or copy)")
            self.operation = "copy"
        self.replace_null = p.boolean("replace.null.with.default", True)
        if p.has("fields") and p.has("headers") and len(self.fields) != len(self.headers):
            p.problem("'fields' config must have the same number of elements as 'headers' config.")
        p.check()
        self._cache: SchemaCache[Schema, Schema] = SchemaCache()

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Add one header per field (values rendered by :func:`header_text`); ``move`` removes the fields."""
        value = self.operating_value(record)
        schema = self.operating_schema(record)
        purpose = f"header {self.operation}"
        headers: list[Header] = list(record.headers)
        if schema is None:
            original = require_map(value, purpose)
            updated = dict(original)
            for name, header in zip(self.fields, self.headers, strict=True):
                if self.operation == "move":
                    updated.pop(name, None)
                headers.append((header, header_text(original.get(name))))
            return self.new_record(record, None, updated).replace(headers=headers)
        struct = require_struct(value, schema, purpose)
        if self.operation == "move":
            new_schema = self._cache.get(schema, self._move_schema)
            new_value = {f.name: field_value(struct, f, self.replace_null) for f in new_schema.fields}
        else:
            new_schema, new_value = schema, struct
        for name, header in zip(self.fields, self.headers, strict=True):
            f = schema.field(name)
            if f is None:  # Connect fails with a NullPointerException here
                raise TransformError(f"Field {name!r} does not exist in the {'key' if self.is_key else 'value'} schema")
            headers.append((header, header_text(field_value(struct, f, self.replace_null), f.schema)))
        return self.new_record(record, new_schema, new_value).replace(headers=headers)

    def _move_schema(self, schema: Schema) -> Schema:
        kept = tuple(Field(f.name, f.schema) for f in schema.fields if f.name not in self.fields)
        return copy_basics(schema, "struct", fields=kept)


class HeaderFromKey(HeaderFrom):
    """``HeaderFrom$Key``."""

    is_key = True


class HeaderFromValue(HeaderFrom):
    """``HeaderFrom$Value``."""


# ---------------------------------------------------------------- InsertHeader / DropHeaders


class InsertHeader(Transformation):
    """Add a header ``header`` with the literal ``value.literal`` to every record."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``header`` and ``value.literal`` (both required)."""
        p = Properties(properties)
        self.header = p.required_string("header")
        self.value = literal_header(p.required_string("value.literal"))
        p.check()

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """The record with one more header (existing headers of that name are kept)."""
        return record.replace(headers=[*record.headers, (self.header, self.value)])


class DropHeaders(Transformation):
    """Remove every header whose name is in ``headers``."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``headers`` (required, non-empty)."""
        p = Properties(properties)
        self.names = set(p.string_list("headers", required=True, non_empty=p.has("headers")))
        p.check()

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """The record without those headers."""
        return record.replace(headers=[h for h in record.headers if h[0] not in self.names])
