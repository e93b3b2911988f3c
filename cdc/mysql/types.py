"""MySQL / MariaDB column types → Kafka Connect schemas and value converters (Debezium 3.6's MySQL defaults).

Values reach the converters in the Python form of ``pymysqlreplication`` (binlog rows) or PyMySQL (snapshot
rows, read with the session time zone at UTC): ``int``, ``float``, ``Decimal``, ``str``, ``bytes``,
``datetime.date``/``datetime``/``timedelta``. The two libraries differ for a few types, and those converters
accept both forms: BIT (binlog: ``'0101'`` text; snapshot: big-endian bytes), SET (binlog: a Python ``set``;
snapshot: ``'a,b'``), JSON (binlog: the decoded document; snapshot: the server's text), zero dates (binlog:
``None``; snapshot: the text ``'0000-00-00'``).

:class:`MySqlTypeMapper` is called by ``cdc.mysql.tables`` once per table version; the converters run per value.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
import struct
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from cdc.capture.columns import ColumnType, identity
from cdc.mysql.catalog import Column
from schemas.connect import Field, Schema
from schemas.converters.logical import EXACT, float32_value

Converter = Callable[[Any], Any]

_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

INTEGER_TYPES = ("tinyint", "smallint", "mediumint", "int", "integer", "bigint")
TEXT_TYPES = ("char", "varchar", "tinytext", "text", "mediumtext", "longtext")
BINARY_TYPES = ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob")
GEOMETRY_TYPES = (
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
    "geomcollection",
)


def _logical(type_: str, name: str, version: int | None = 1, parameters: dict[str, str] | None = None) -> Schema:
    return Schema(type_, name=name, version=version, parameters=parameters)


# ---------------------------------------------------------------------------------------------------------------
# Converters


_identity = identity  # the core inlines it in generated row functions


def _to_int(value: Any) -> int:
    return int(value)


def _to_float(value: Any) -> float:
    return float(value)


def _to_float32(value: Any) -> float:
    return float32_value(float(value))


def _to_str(value: Any) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _unscaled_bytes(unscaled: int) -> bytes:
    """Big-endian two's complement of minimal length, as java.math.BigInteger.toByteArray() produces."""
    magnitude = unscaled if unscaled >= 0 else ~unscaled
    return unscaled.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)


@functools.cache  # one converter per scale: cdc.mysql.row_decoder recognizes it by identity to fuse it
def _decimal_bytes(scale: int) -> Converter:
    quantum = Decimal(1).scaleb(-scale)

    def convert(value: Any) -> bytes:
        d = value if value.__class__ is Decimal else Decimal(str(value))
        # In an exact context: the default one rounds to 28 digits (DECIMAL(65,30) has 65).
        if d.as_tuple().exponent != -scale:
            d = d.quantize(quantum, context=EXACT)
        unscaled = int(d.scaleb(scale, context=EXACT))
        magnitude = unscaled if unscaled >= 0 else ~unscaled
        return unscaled.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)

    return convert


def _decimal_string(value: Any) -> str:
    return str(value)


def _decimal_double(value: Any) -> float:
    return float(value)


def _bits_from(value: Any) -> int:
    """A BIT value as an int: binlog text '0101…' or the snapshot's big-endian bytes."""
    if isinstance(value, str):
        return int(value, 2) if value else 0
    if isinstance(value, bytes | bytearray):
        return int.from_bytes(value, "big")
    return int(value)


def _bit_bool(value: Any) -> bool:
    return _bits_from(value) != 0


def _bits(length: int) -> Converter:
    size = (length + 7) // 8

    def convert(value: Any) -> bytes:
        # io.debezium.data.Bits: java.util.BitSet.toByteArray(), i.e. little-endian, without trailing zero bytes.
        raw = _bits_from(value).to_bytes(size, "little")
        return raw.rstrip(b"\x00")

    return convert


def _binary(mode: str, pad_to: int | None) -> Converter:
    def raw(value: Any) -> bytes:
        data = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
        if pad_to is not None and len(data) < pad_to:
            data = data + b"\x00" * (pad_to - len(data))  # BINARY(n) is right-padded with 0x00 by the server
        return data

    if mode == "base64":
        return lambda v: base64.b64encode(raw(v)).decode()
    if mode == "base64-url-safe":
        return lambda v: base64.urlsafe_b64encode(raw(v)).decode()
    if mode == "hex":
        return lambda v: raw(v).hex()
    return raw


def _date_days(value: Any) -> int | None:
    if isinstance(value, dt.date):
        return value.toordinal() - _EPOCH_ORDINAL
    return None  # zero or invalid date ('0000-00-00'): Debezium emits null


def _timedelta_micros(value: Any) -> int:
    if isinstance(value, dt.timedelta):
        return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return _parse_time_text(str(value))


def _parse_time_text(text: str) -> int:
    negative = text.startswith("-")
    hours, minutes, rest = text.lstrip("-").split(":")
    seconds, _, frac = rest.partition(".")
    micros = ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1_000_000 + int(frac.ljust(6, "0")[:6] or 0)
    return -micros if negative else micros


def _time_millis(value: Any) -> int:
    return _timedelta_micros(value) // 1000


def _datetime_micros(value: Any) -> int | None:
    if isinstance(value, dt.datetime):
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, dt.date):
        return (value.toordinal() - _EPOCH_ORDINAL) * 86_400_000_000
    return None  # zero datetime


def _datetime_millis(value: Any) -> int | None:
    micros = _datetime_micros(value)
    return None if micros is None else micros // 1000


@functools.cache  # one converter per precision: cdc.mysql.row_decoder recognizes it by identity
def _zoned_timestamp(fsp: int) -> Converter:
    # datetime.isoformat is implemented in C: ~4x faster than strftime plus formatting (hot path).
    timespec = "seconds" if fsp == 0 else "milliseconds" if fsp == 3 else "microseconds"
    cut = None if fsp in (0, 3, 6) else 20 + fsp

    def convert(value: Any) -> str | None:
        if value.__class__ is not dt.datetime:
            return None if not isinstance(value, dt.datetime) else convert(value.replace(tzinfo=None))
        text = value.isoformat(timespec=timespec)
        return (text if cut is None else text[:cut]) + "Z"

    return convert


def _zoned_timestamp_trimmed(value: Any) -> str | None:
    """Snapshot TIMESTAMP(n): Debezium's snapshot drops trailing fraction zeros (streaming pads to n digits)."""
    if not isinstance(value, dt.datetime):
        return None
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return (text.rstrip("0") if value.microsecond else text) + "Z"


def _year(value: Any) -> int:
    return int(value)


def _enum_set(value: Any) -> str:
    if isinstance(value, set | frozenset):
        return ",".join(sorted(value))  # caller re-orders by definition (see _set_converter)
    return _to_str(value)


def _set_converter(allowed: tuple[str, ...]) -> Converter:
    order = {v: i for i, v in enumerate(allowed)}

    def convert(value: Any) -> str:
        if isinstance(value, set | frozenset):
            return ",".join(sorted(value, key=lambda v: order.get(v, len(order))))
        return _to_str(value)

    return convert


def _json_text(value: Any) -> str:
    """JSON: the snapshot's text as the server prints it; a binlog document serialized compactly."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return orjson.dumps(_json_keys(value)).decode()


def _json_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {(k.decode() if isinstance(k, bytes) else k): _json_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_keys(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Decimal):
        return float(value)
    return value


_GEOMETRY_FIELDS = (
    Field("wkb", Schema("bytes")),
    Field("srid", Schema("int32", optional=True)),
)
_POINT_FIELDS = (
    Field("x", Schema("float64")),
    Field("y", Schema("float64")),
    Field("wkb", Schema("bytes", optional=True)),
    Field("srid", Schema("int32", optional=True)),
)


def _geometry(value: Any) -> dict[str, Any]:
    """MySQL's internal geometry (4-byte little-endian SRID + WKB) → io.debezium.data.geometry.Geometry."""
    data = bytes(value)
    srid = struct.unpack_from("<I", data)[0]
    return {"wkb": data[4:], "srid": srid or None}


def _point(value: Any) -> dict[str, Any]:
    data = bytes(value)
    srid = struct.unpack_from("<I", data)[0]
    wkb = data[4:]
    order = "<" if wkb[0] == 1 else ">"
    x, y = struct.unpack_from(order + "dd", wkb, 5)
    return {"x": x, "y": y, "wkb": wkb, "srid": srid or None}


# ---------------------------------------------------------------------------------------------------------------


class MySqlTypeMapper:
    """Maps a :class:`~cdc.mysql.catalog.Column` to its Connect schema and converter, honouring the modes."""

    def __init__(self, decimal_mode: str, time_mode: str, bigint_unsigned_mode: str, binary_mode: str) -> None:
        self.decimal_mode = decimal_mode
        self.time_mode = "connect" if time_mode == "connect" else "adaptive_time_microseconds"
        self.bigint_unsigned_mode = bigint_unsigned_mode
        self.binary_mode = binary_mode

    def map(self, column: Column, snapshot: bool = False) -> ColumnType:
        """The ColumnType for a column (its default comes from :meth:`default`).

        ``snapshot``: the converter for snapshot rows, where Debezium formats a few values differently.
        """
        mapped = self._map(column)
        if snapshot and column.data_type == "timestamp":
            mapped = ColumnType(mapped.schema, _zoned_timestamp_trimmed)
        return mapped

    def default(self, column: Column, mapped: ColumnType) -> Any:
        """The column default as a Connect value (bytes for Decimal/Bits/binary), as Debezium puts it in the
        field schema; None when there is none, or it is an expression or not convertible.

        Called by ``cdc.mysql.tables`` for the column descriptor: the capture core puts it in the field schema
        (bytes written base64 by JsonConverter) and, under ``replace.null.with.default``, in place of a null.
        """
        text = column.default
        if text is None:
            return None
        kind = column.data_type
        try:
            if kind in INTEGER_TYPES or kind == "year":
                return mapped.convert(int(text))
            if kind in ("decimal", "numeric"):
                return mapped.convert(Decimal(text))
            if kind in ("float", "double", "real"):
                return float(text)
            if kind in TEXT_TYPES or kind in ("enum", "set"):
                return mapped.convert(text)
            if kind == "bit":
                return mapped.convert(text.removeprefix("b'").removesuffix("'"))
        except (ValueError, InvalidOperation):
            return None
        return None

    def _map(self, c: Column) -> ColumnType:
        kind = c.data_type
        if kind in INTEGER_TYPES:
            return self._integer(kind, c.unsigned)
        if kind in ("decimal", "numeric"):
            return self._decimal(c.precision or 10, c.scale or 0)
        if kind == "float":
            # The binlog holds a 4-byte float: written with its float32 digits (0.1), as Connect writes a Float.
            return ColumnType(Schema("float32"), _to_float32)
        if kind in ("double", "real", "double precision"):
            return ColumnType(Schema("float64"), _to_float)
        if kind == "bit":
            length = c.precision or 1
            if length == 1:
                return ColumnType(Schema("boolean"), _bit_bool)
            return ColumnType(_logical("bytes", "io.debezium.data.Bits", 1, {"length": str(length)}), _bits(length))
        if kind in ("bool", "boolean"):
            return ColumnType(Schema("boolean"), bool)
        if kind in TEXT_TYPES:
            return ColumnType(Schema("string"), _to_str)
        if kind in BINARY_TYPES:
            pad = c.precision if kind == "binary" else None
            schema = Schema("bytes") if self.binary_mode == "bytes" else Schema("string")
            return ColumnType(schema, _binary(self.binary_mode, pad))
        if kind == "enum":
            return ColumnType(_logical("string", "io.debezium.data.Enum", 1, {"allowed": ",".join(c.values)}), _to_str)
        if kind == "set":
            return ColumnType(
                _logical("string", "io.debezium.data.EnumSet", 1, {"allowed": ",".join(c.values)}),
                _set_converter(c.values),
            )
        if kind == "json":
            return ColumnType(_logical("string", "io.debezium.data.Json"), _json_text)
        if kind == "date":
            name = "org.apache.kafka.connect.data.Date" if self.time_mode == "connect" else "io.debezium.time.Date"
            return ColumnType(_logical("int32", name), _date_days)
        if kind == "time":
            if self.time_mode == "connect":
                return ColumnType(_logical("int32", "org.apache.kafka.connect.data.Time"), _time_millis)
            return ColumnType(_logical("int64", "io.debezium.time.MicroTime"), _timedelta_micros)
        if kind == "datetime":
            if self.time_mode == "connect":
                return ColumnType(_logical("int64", "org.apache.kafka.connect.data.Timestamp"), _datetime_millis)
            if (c.scale or 0) <= 3:
                return ColumnType(_logical("int64", "io.debezium.time.Timestamp"), _datetime_millis)
            return ColumnType(_logical("int64", "io.debezium.time.MicroTimestamp"), _datetime_micros)
        if kind == "timestamp":
            return ColumnType(_logical("string", "io.debezium.time.ZonedTimestamp"), _zoned_timestamp(c.scale or 0))
        if kind == "year":
            return ColumnType(_logical("int32", "io.debezium.time.Year"), _year)
        if kind == "point":
            schema = Schema(
                "struct",
                name="io.debezium.data.geometry.Point",
                version=1,
                doc="Geometry (POINT)",
                fields=_POINT_FIELDS,
            )
            return ColumnType(schema, _point)
        if kind in GEOMETRY_TYPES:
            schema = Schema(
                "struct", name="io.debezium.data.geometry.Geometry", version=1, doc="Geometry", fields=_GEOMETRY_FIELDS
            )
            return ColumnType(schema, _geometry)
        return ColumnType(Schema("string"), _to_str)

    def _integer(self, kind: str, unsigned: bool) -> ColumnType:
        if kind == "tinyint":
            return ColumnType(Schema("int16"), _identity)
        if kind == "smallint":
            return ColumnType(Schema("int32" if unsigned else "int16"), _identity)
        if kind == "mediumint":
            return ColumnType(Schema("int32"), _identity)
        if kind in ("int", "integer"):
            return ColumnType(Schema("int64" if unsigned else "int32"), _identity)
        if unsigned and self.bigint_unsigned_mode == "precise":
            params = {"scale": "0", "connect.decimal.precision": "20"}
            return ColumnType(_logical("bytes", "org.apache.kafka.connect.data.Decimal", 1, params), _decimal_bytes(0))
        if unsigned:
            # bigint.unsigned.handling.mode=long: values above 2^63-1 wrap, as in Debezium.
            return ColumnType(Schema("int64"), _wrap_int64)
        return ColumnType(Schema("int64"), _identity)

    def _decimal(self, precision: int, scale: int) -> ColumnType:
        if self.decimal_mode == "double":
            return ColumnType(Schema("float64"), _decimal_double)
        if self.decimal_mode == "string":
            return ColumnType(Schema("string"), _decimal_string)
        params = {"scale": str(scale), "connect.decimal.precision": str(precision)}
        return ColumnType(_logical("bytes", "org.apache.kafka.connect.data.Decimal", 1, params), _decimal_bytes(scale))


def _wrap_int64(value: Any) -> int:
    v = int(value)
    return v - (1 << 64) if v >= 1 << 63 else v


_ENUM_VALUES = re.compile(r"'((?:[^']|'')*)'")


def parse_enum_values(column_type: str) -> tuple[str, ...]:
    """``enum('a','b''c')`` → ``('a', "b'c")`` (information_schema.COLUMNS.COLUMN_TYPE)."""
    return tuple(m.group(1).replace("''", "'") for m in _ENUM_VALUES.finditer(column_type))
