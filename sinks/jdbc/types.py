"""Connect and Debezium types → SQL column types (PostgreSQL, MySQL/MariaDB) and Python values for the drivers.

Column types matter when ``schema.evolution=basic`` creates tables or adds columns; value conversion runs for
every column of every row, so :func:`value_converter` compiles one function per column schema.
Debezium's logical types keep their wire primitive in Connect (an ``io.debezium.time.MicroTimestamp`` is an
int64 of microseconds), so they are turned into ``datetime`` & co. here, as Debezium's JDBC sink binds them.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

import orjson

from schemas.connect import Schema
from schemas.converters.base import ConversionError
from schemas.converters.logical import EXACT

_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

DBZ = "io.debezium."
CONNECT = "org.apache.kafka.connect.data."

Convert = Callable[[Any], Any]


def _days(v: int) -> dt.date:
    return dt.date.fromordinal(_EPOCH_ORDINAL + v)


def _time_of(micros: int) -> dt.time:
    micros %= 86_400_000_000
    seconds, us = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return dt.time(hour, minute, second, us)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _zoned(text: str) -> dt.datetime:
    # Debezium writes ISO-8601 with a Z or an offset; fromisoformat reads both on Python 3.11.
    return dt.datetime.fromisoformat(text)


def _variable_scale_decimal(v: dict[str, Any]) -> decimal.Decimal:
    raw = v["value"]
    data = raw if isinstance(raw, bytes) else base64.b64decode(raw)
    return decimal.Decimal(int.from_bytes(data, "big", signed=True)).scaleb(-int(v["scale"]), EXACT)


def value_converter(schema: Schema, family: str) -> Convert | None:
    """A function turning one Connect value of ``schema`` into what the driver binds; None when it is the
    identity (the common case, so the row loop can skip it)."""
    name = schema.name or ""
    mysql = family == "mysql"
    if name == DBZ + "time.Date":
        return _days
    if name == DBZ + "time.Time":
        return lambda v: _time_of(v * 1000)
    if name == DBZ + "time.MicroTime":
        return _time_of
    if name == DBZ + "time.NanoTime":
        return lambda v: _time_of(v // 1000)
    if name == DBZ + "time.Timestamp":
        return lambda v: _EPOCH + dt.timedelta(milliseconds=v)
    if name == DBZ + "time.MicroTimestamp":
        return lambda v: _EPOCH + dt.timedelta(microseconds=v)
    if name == DBZ + "time.NanoTimestamp":
        return lambda v: _EPOCH + dt.timedelta(microseconds=v // 1000)
    if name == DBZ + "time.ZonedTimestamp":
        # PostgreSQL parses the ISO-8601 text itself (COPY and parameters alike); MySQL needs naive UTC.
        return (lambda v: _naive_utc(_zoned(v))) if mysql else None
    if name == DBZ + "time.ZonedTime":
        return (lambda v: dt.time.fromisoformat(v.rstrip("Z")[:15])) if mysql else None
    if name == DBZ + "time.MicroDuration":
        return None if mysql else (lambda v: dt.timedelta(microseconds=v))
    if name == DBZ + "data.VariableScaleDecimal":
        return _variable_scale_decimal
    if name == CONNECT + "Timestamp" and mysql:
        return _naive_utc
    if schema.type == "struct":
        raise ConversionError(f"column type {name or 'struct'} is not supported by the JDBC sink")
    if schema.type == "array":
        if mysql:
            return lambda v: orjson.dumps(v, default=str).decode()
        item = value_converter(schema.items, family) if schema.items is not None else None
        if item is not None:
            return lambda v: [None if x is None else item(x) for x in v]
        return None
    if schema.type == "map":
        return lambda v: orjson.dumps(v, default=str).decode()
    return None


def column_type(schema: Schema, family: str, is_key: bool = False) -> str:
    """The SQL type of a column for ``schema`` (``schema.evolution=basic``)."""
    return _pg_type(schema) if family == "postgresql" else _mysql_type(schema, is_key)


def _decimal_params(schema: Schema) -> tuple[int | None, int]:
    params = schema.parameters or {}
    scale = int(params.get("scale", "0"))
    precision = params.get("connect.decimal.precision")
    return (int(precision) if precision else None), scale


_PG_TYPES = {
    "int8": "smallint",
    "int16": "smallint",
    "int32": "integer",
    "int64": "bigint",
    "float32": "real",
    "float64": "double precision",
    "boolean": "boolean",
    "string": "text",
    "bytes": "bytea",
}
_PG_LOGICAL = {
    DBZ + "time.Date": "date",
    CONNECT + "Date": "date",
    DBZ + "time.Time": "time(3)",
    DBZ + "time.MicroTime": "time(6)",
    DBZ + "time.NanoTime": "time(6)",
    CONNECT + "Time": "time(3)",
    DBZ + "time.Timestamp": "timestamp(3)",
    DBZ + "time.MicroTimestamp": "timestamp(6)",
    DBZ + "time.NanoTimestamp": "timestamp(6)",
    CONNECT + "Timestamp": "timestamp(3)",
    DBZ + "time.ZonedTimestamp": "timestamptz",
    DBZ + "time.ZonedTime": "timetz",
    DBZ + "time.MicroDuration": "interval",
    DBZ + "time.Interval": "interval",
    DBZ + "data.VariableScaleDecimal": "numeric",
    DBZ + "data.Json": "jsonb",
    DBZ + "data.Uuid": "uuid",
    DBZ + "data.Xml": "xml",
    DBZ + "data.Enum": "text",
    DBZ + "data.EnumSet": "text",
    DBZ + "data.Bits": "bytea",
}


def _pg_type(schema: Schema) -> str:
    name = schema.name or ""
    if name == CONNECT + "Decimal":
        precision, scale = _decimal_params(schema)
        return f"numeric({precision},{scale})" if precision else "numeric"
    if name in _PG_LOGICAL:
        return _PG_LOGICAL[name]
    if schema.type == "array" and schema.items is not None:
        return _pg_type(schema.items) + "[]"
    if schema.type == "map":
        return "jsonb"
    if schema.type in _PG_TYPES:
        return _PG_TYPES[schema.type]
    raise ConversionError(f"no PostgreSQL column type for {name or schema.type}")


_MYSQL_TYPES = {
    "int8": "tinyint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "float32": "float",
    "float64": "double",
    "boolean": "boolean",
    "string": "longtext",
    "bytes": "longblob",
}
_MYSQL_LOGICAL = {
    DBZ + "time.Date": "date",
    CONNECT + "Date": "date",
    DBZ + "time.Time": "time(3)",
    DBZ + "time.MicroTime": "time(6)",
    DBZ + "time.NanoTime": "time(6)",
    CONNECT + "Time": "time(3)",
    DBZ + "time.Timestamp": "datetime(3)",
    DBZ + "time.MicroTimestamp": "datetime(6)",
    DBZ + "time.NanoTimestamp": "datetime(6)",
    CONNECT + "Timestamp": "datetime(3)",
    DBZ + "time.ZonedTimestamp": "datetime(6)",
    DBZ + "time.ZonedTime": "time(6)",
    DBZ + "time.MicroDuration": "bigint",
    DBZ + "data.VariableScaleDecimal": "decimal(65,30)",
    DBZ + "data.Json": "json",
    DBZ + "data.Uuid": "char(36)",
    DBZ + "data.Enum": "varchar(255)",
    DBZ + "data.Bits": "varbinary(255)",
}


def _mysql_type(schema: Schema, is_key: bool) -> str:
    name = schema.name or ""
    if name == CONNECT + "Decimal":
        precision, scale = _decimal_params(schema)
        return f"decimal({min(precision or 65, 65)},{min(scale, 30)})"
    if name in _MYSQL_LOGICAL:
        return _MYSQL_LOGICAL[name]
    if schema.type in ("array", "map"):
        return "json"
    if schema.type == "string" and is_key:
        return "varchar(255)"  # MySQL cannot index a TEXT column without a prefix length
    if schema.type == "bytes" and is_key:
        return "varbinary(255)"
    if schema.type in _MYSQL_TYPES:
        return _MYSQL_TYPES[schema.type]
    raise ConversionError(f"no MySQL column type for {name or schema.type}")
