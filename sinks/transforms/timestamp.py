"""Kafka Connect's ``TimestampConverter$Key`` / ``$Value``: convert a timestamp field (or the whole key/value)
between Unix epoch numbers, formatted strings and Connect's Date/Time/Timestamp logical types.

``target.type`` is ``string``, ``unix``, ``Date``, ``Time`` or ``Timestamp``; ``format`` is a ``SimpleDateFormat``
pattern (required for strings, applied in UTC); ``unix.precision`` is ``seconds``/``milliseconds``/``microseconds``/
``nanoseconds``. The input kind comes from the schema (logical name, else string → formatted, int64 → unix) or,
schemaless, from the value (datetime → Timestamp, int → unix, str → formatted).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from schemas.connect import Field, Schema
from schemas.record import ConnectRecord
from sinks.transforms.base import Transformation, TransformError
from sinks.transforms.config import Properties
from sinks.transforms.dateformat import PatternError, SimpleDateFormat
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

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MS = datetime.timedelta(milliseconds=1)
_TYPES = ("string", "unix", "Date", "Time", "Timestamp")
_PRECISIONS = ("nanoseconds", "microseconds", "milliseconds", "seconds")


def _schema_for(target: str, optional: bool) -> Schema:
    if target == "string":
        return Schema("string", optional=optional)
    if target == "unix":
        return Schema("int64", optional=optional)
    name = {"Date": DATE_NAME, "Time": TIME_NAME, "Timestamp": TIMESTAMP_NAME}[target]
    return Schema("int32" if target != "Timestamp" else "int64", optional=optional, name=name, version=1)


def _trunc_div(number: int, divisor: int) -> int:
    """Java's integer division (toward zero)."""
    quotient = abs(number) // divisor
    return quotient if number >= 0 else -quotient


class TimestampConverter(KeyOrValue, Transformation):
    """Convert timestamps between representations."""

    purpose = "converting timestamp formats"

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``field`` (empty: the whole value), ``target.type``, ``format``, ``unix.precision``."""
        p = Properties(properties)
        self.field = p.string("field", "") or ""
        if p.has("target.type"):
            self.target = p.choice("target.type", _TYPES, "string", case_insensitive=False)
        else:
            p.problem("target.type is required (string, unix, Date, Time or Timestamp)")
            self.target = "string"
        pattern = p.string("format", "") or ""
        self.precision = p.choice("unix.precision", _PRECISIONS, "milliseconds", case_insensitive=False)
        self.replace_null = p.boolean("replace.null.with.default", True)
        self.format: SimpleDateFormat | None = None
        if self.target == "string" and not pattern.strip():
            p.problem("format: TimestampConverter requires format option to be specified when using string timestamps")
        if pattern.strip():
            try:
                self.format = SimpleDateFormat(pattern)
            except PatternError as exc:
                p.problem(
                    f"format: TimestampConverter requires a SimpleDateFormat-compatible pattern: {pattern} ({exc})"
                )
        p.check()
        self._cache: SchemaCache[Schema, Schema] = SchemaCache()

    # -- the universal representation is an aware UTC datetime with millisecond precision

    def _to_raw(self, kind: str, value: Any) -> datetime.datetime:
        if kind == "string":
            if not isinstance(value, str):
                raise TransformError(
                    f"Expected string timestamp to be a String, but found class {java_class_name(value)}"
                )
            if self.format is None:
                raise TransformError("TimestampConverter requires format option to parse string timestamps")
            try:
                return self.format.parse(value)
            except ValueError as exc:
                raise TransformError(
                    f"Could not parse timestamp: value ({value}) does not match pattern ({self.format.pattern})"
                ) from exc
        if kind == "unix":
            if isinstance(value, bool) or not isinstance(value, int):
                raise TransformError(f"Expected Unix timestamp to be a Long, but found class {java_class_name(value)}")
            millis = {
                "seconds": value * 1000,
                "microseconds": _trunc_div(value, 1000),
                "nanoseconds": _trunc_div(value, 1_000_000),
            }.get(self.precision, value)
            try:
                return _EPOCH + millis * _MS
            except OverflowError as exc:
                raise TransformError(f"Unix timestamp {value} is out of the supported range") from exc
        if isinstance(value, datetime.datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
            return aware.replace(microsecond=aware.microsecond // 1000 * 1000)
        if isinstance(value, datetime.date):
            return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC)
        if isinstance(value, datetime.time):
            return datetime.datetime.combine(datetime.date(1970, 1, 1), value.replace(tzinfo=None), datetime.UTC)
        raise TransformError(f"Expected {kind} to be a java.util.Date, but found class {java_class_name(value)}")

    def _to_type(self, raw: datetime.datetime) -> Any:
        if self.target == "string":
            assert self.format is not None
            return self.format.format(raw)
        if self.target == "unix":
            millis = (raw - _EPOCH) // _MS
            if self.precision == "seconds":
                return _trunc_div(millis, 1000)
            if self.precision == "microseconds":
                return millis * 1000
            if self.precision == "nanoseconds":
                return millis * 1_000_000
            return millis
        if self.target == "Date":
            return raw.date()
        if self.target == "Time":
            return raw.time()
        return raw

    def _convert(self, value: Any, kind: str | None) -> Any:
        if value is None:
            return None
        if kind is None:  # schemaless: infer from the value
            if isinstance(value, datetime.datetime):
                kind = "Timestamp"
            elif isinstance(value, int) and not isinstance(value, bool):
                kind = "unix"
            elif isinstance(value, str):
                kind = "string"
            else:
                raise TransformError(
                    f"TimestampConverter does not support class {java_class_name(value)} objects as timestamps"
                )
        return self._to_type(self._to_raw(kind, value))

    @staticmethod
    def _kind(schema: Schema) -> str:
        """``timestampTypeFromSchema``."""
        if schema.name == TIMESTAMP_NAME:
            return "Timestamp"
        if schema.name == DATE_NAME:
            return "Date"
        if schema.name == TIME_NAME:
            return "Time"
        if schema.type == "string":
            return "string"
        if schema.type == "int64":
            return "unix"
        raise TransformError(f"Schema {schema.to_json()} does not correspond to a known timestamp type format")

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Convert the field (or the whole key/value)."""
        schema = self.operating_schema(record)
        value = self.operating_value(record)
        if schema is None:
            if value is None or not self.field:
                return self.new_record(record, None, self._convert(value, None))
            updated = dict(require_map(value, self.purpose))
            updated[self.field] = self._convert(updated.get(self.field), None)
            return self.new_record(record, None, updated)
        if not self.field:
            return self.new_record(
                record, _schema_for(self.target, schema.optional), self._convert(value, self._kind(schema))
            )
        struct = None if value is None else require_struct(value, schema, self.purpose)
        new_schema = self._cache.get(schema, self._updated_schema)
        return self.new_record(record, new_schema, self._convert_struct(struct, schema))

    def _convert_struct(self, struct: dict[str, Any] | None, schema: Schema) -> dict[str, Any] | None:
        if struct is None:
            return None
        out: dict[str, Any] = {}
        for f in schema.fields:
            original = field_value(struct, f, self.replace_null)
            out[f.name] = self._convert(original, self._kind(f.schema)) if f.name == self.field else original
        return out

    def _updated_schema(self, schema: Schema) -> Schema:
        fields = tuple(
            Field(f.name, _schema_for(self.target, f.schema.optional)) if f.name == self.field else f
            for f in schema.fields
        )
        default = schema.default
        if isinstance(default, dict):
            default = self._convert_struct(default, schema)
        return copy_basics(schema, "struct", fields=fields, optional=schema.optional, default=default)


class TimestampConverterKey(TimestampConverter):
    """``TimestampConverter$Key``."""

    is_key = True


class TimestampConverterValue(TimestampConverter):
    """``TimestampConverter$Value``."""
