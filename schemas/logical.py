"""Connect / Debezium logical types: their schemas, the mode-dependent schema choices, and value encoders.

Shared by every source connector (Debezium's ``JdbcValueConverters`` half that does not depend on the database).
A connector maps its own column types to one of these schemas and supplies the per-column converter that turns
its raw value (PostgreSQL text, a Python value from PyMySQL or mysql-replication) into the *wire form* the fast
path serializes: ``bytes`` of the unscaled value for ``Decimal``, ``int`` days / millis / micros / nanos for the
temporal types, ``str`` for ``ZonedTimestamp``, ``Json`` … The encoders here do the database-independent part of
that conversion. The structured (``schemas.record``) form of a wire value is given by :func:`to_structured`.

Schemas are built once per table version (``cdc.capture.table.TableBuilder``); encoders run per value, so they are
plain functions without configuration lookups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from schemas.connect import Field, Schema

DecimalMode = Literal["precise", "double", "string"]
# adaptive: precision decides milli/micro/nano; adaptive_time_microseconds: TIME always micro; connect: Connect's
# own millisecond types.
TimeMode = Literal["adaptive", "adaptive_time_microseconds", "connect"]

DECIMAL = "org.apache.kafka.connect.data.Decimal"
CONNECT_DATE = "org.apache.kafka.connect.data.Date"
CONNECT_TIME = "org.apache.kafka.connect.data.Time"
CONNECT_TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
VARIABLE_SCALE_DECIMAL = "io.debezium.data.VariableScaleDecimal"

EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
MICROS_PER_DAY = 86_400_000_000


def logical(type_: str, name: str, version: int | None = 1, parameters: dict[str, str] | None = None) -> Schema:
    """A named (logical) schema; version 1 unless told, as Debezium declares its own types."""
    return Schema(type_, name=name, version=version, parameters=parameters)


# ---------------------------------------------------------------------------------------------------------------
# String-based logical types

JSON = logical("string", "io.debezium.data.Json")
UUID = logical("string", "io.debezium.data.Uuid")
XML = logical("string", "io.debezium.data.Xml")
ZONED_TIMESTAMP = logical("string", "io.debezium.time.ZonedTimestamp")
ZONED_TIME = logical("string", "io.debezium.time.ZonedTime")
MICRO_DURATION = logical("int64", "io.debezium.time.MicroDuration")
YEAR = logical("int32", "io.debezium.time.Year")


def enum_schema(allowed: list[str] | tuple[str, ...]) -> Schema:
    """io.debezium.data.Enum with its ``allowed`` values (PostgreSQL enums, MySQL ENUM)."""
    return logical("string", "io.debezium.data.Enum", 1, {"allowed": ",".join(allowed)})


def enum_set_schema(allowed: list[str] | tuple[str, ...]) -> Schema:
    """io.debezium.data.EnumSet (MySQL SET)."""
    return logical("string", "io.debezium.data.EnumSet", 1, {"allowed": ",".join(allowed)})


def bits_schema(length: int) -> Schema:
    """io.debezium.data.Bits: little-endian bytes of a BIT(n) value (n > 1)."""
    return logical("bytes", "io.debezium.data.Bits", 1, {"length": str(length)})


# ---------------------------------------------------------------------------------------------------------------
# Decimals

VARIABLE_SCALE_DECIMAL_SCHEMA = Schema(
    "struct",
    name=VARIABLE_SCALE_DECIMAL,
    version=1,
    doc="Variable scaled decimal",
    fields=(Field("scale", Schema("int32")), Field("value", Schema("bytes"))),
)


def decimal_schema(mode: DecimalMode | str, scale: int | None, precision: int | None = None) -> Schema:
    """The schema ``decimal.handling.mode`` gives a decimal column.

    ``precise``: Connect ``Decimal`` with its scale (and ``connect.decimal.precision`` when the column declares
    one), or ``VariableScaleDecimal`` when the column has no fixed scale (``scale=None``); ``double``: float64;
    ``string``: string.
    """
    if mode == "double":
        return Schema("float64")
    if mode == "string":
        return Schema("string")
    if scale is None:
        return VARIABLE_SCALE_DECIMAL_SCHEMA
    params = {"scale": str(scale)}
    if precision is not None:
        params["connect.decimal.precision"] = str(precision)
    return logical("bytes", DECIMAL, 1, params)


def unscaled_bytes(unscaled: int) -> bytes:
    """Big-endian two's complement of minimal length, as java.math.BigInteger.toByteArray() produces."""
    magnitude = unscaled if unscaled >= 0 else ~unscaled
    return unscaled.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)


def decimal_bytes(value: Decimal, scale: int) -> bytes | None:
    """A Python Decimal as the unscaled bytes of a Connect Decimal of ``scale``; None for NaN/infinities."""
    if not value.is_finite():
        return None
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    unscaled = int("".join(map(str, digits)) or "0")
    shift = scale + exponent
    unscaled = unscaled * 10**shift if shift >= 0 else unscaled // 10**-shift
    return unscaled_bytes(-unscaled if sign else unscaled)


def variable_scale_decimal(unscaled: int, scale: int) -> dict[str, Any]:
    """io.debezium.data.VariableScaleDecimal ``{scale, value}``, trailing zeros stripped as Debezium does
    (BigDecimal.stripTrailingZeros, a negative scale reset to 0: 12.3400 → 12.34)."""
    while scale > 0 and unscaled % 10 == 0:
        unscaled //= 10
        scale -= 1
    return {"scale": scale, "value": unscaled_bytes(unscaled)}


def java_double_string(value: float) -> str:
    """Java's Double.toString: shortest digits; scientific ("1.23456789E7") outside [1e-3, 1e7)."""
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{len(text) - 1 + exponent}"


# ---------------------------------------------------------------------------------------------------------------
# Dates and times


@dataclass(frozen=True)
class TemporalEncoding:
    """A temporal column's schema and the unit of its integer value, as ``time.precision.mode`` chose them."""

    schema: Schema
    unit: Literal["milli", "micro", "nano"]

    def from_micros(self) -> Callable[[int], int] | None:
        """The function turning microseconds into this unit; None when the unit is micro (no conversion)."""
        if self.unit == "milli":
            return _micros_to_millis
        if self.unit == "nano":
            return _micros_to_nanos
        return None


def _micros_to_millis(micros: int) -> int:
    return micros // 1000  # floor, like Debezium's Math.floorDiv for values before the epoch


def _micros_to_nanos(micros: int) -> int:
    return micros * 1000


def date_schema(time_mode: TimeMode | str) -> Schema:
    """DATE: io.debezium.time.Date, or Connect's Date in ``connect`` mode (both int32 days since the epoch)."""
    return logical("int32", CONNECT_DATE if time_mode == "connect" else "io.debezium.time.Date")


def time_encoding(precision: int, time_mode: TimeMode | str) -> TemporalEncoding:
    """TIME(p): Connect Time (millis) in ``connect`` mode; else Time (p ≤ 3, millis), MicroTime (p ≤ 6) or
    NanoTime; ``adaptive_time_microseconds`` always gives MicroTime."""
    if time_mode == "connect":
        return TemporalEncoding(logical("int32", CONNECT_TIME), "milli")
    if time_mode == "adaptive_time_microseconds":
        return TemporalEncoding(logical("int64", "io.debezium.time.MicroTime"), "micro")
    if precision <= 3:
        return TemporalEncoding(logical("int32", "io.debezium.time.Time"), "milli")
    if precision <= 6:
        return TemporalEncoding(logical("int64", "io.debezium.time.MicroTime"), "micro")
    return TemporalEncoding(logical("int64", "io.debezium.time.NanoTime"), "nano")


def timestamp_encoding(precision: int, time_mode: TimeMode | str) -> TemporalEncoding:
    """TIMESTAMP(p) without time zone: Connect Timestamp (millis) in ``connect`` mode; else Timestamp (p ≤ 3),
    MicroTimestamp (p ≤ 6) or NanoTimestamp."""
    if time_mode == "connect":
        return TemporalEncoding(logical("int64", CONNECT_TIMESTAMP), "milli")
    if precision <= 3:
        return TemporalEncoding(logical("int64", "io.debezium.time.Timestamp"), "milli")
    if precision <= 6:
        return TemporalEncoding(logical("int64", "io.debezium.time.MicroTimestamp"), "micro")
    return TemporalEncoding(logical("int64", "io.debezium.time.NanoTimestamp"), "nano")


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 for any proleptic Gregorian date, year 0 and BC included (Howard Hinnant)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def epoch_days(value: dt.date) -> int:
    """A Python date as days since the epoch (Date / io.debezium.time.Date)."""
    return value.toordinal() - EPOCH_ORDINAL


def duration_micros(value: dt.timedelta) -> int:
    """A Python timedelta (a TIME value as drivers return it) as microseconds."""
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


def time_micros(value: dt.time) -> int:
    """A Python time as microseconds since midnight."""
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def timestamp_micros(value: dt.datetime) -> int:
    """A datetime as microseconds since the epoch; a naive one is read as UTC (zone-less columns)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return epoch_days(value.date()) * MICROS_PER_DAY + time_micros(value.time())


def zoned_timestamp(value: dt.datetime, precision: int) -> str:
    """io.debezium.time.ZonedTimestamp text: UTC, 'Z', the fraction padded to ``precision`` digits (trimmed of
    trailing zeros when ``precision`` is 0, as Debezium's formatter does)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    base = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    frac = f"{value.microsecond:06d}"
    if precision > 0:
        return f"{base}.{frac[:precision].ljust(precision, '0')}Z"
    frac = frac.rstrip("0")
    return f"{base}.{frac}Z" if frac else base + "Z"


# ---------------------------------------------------------------------------------------------------------------
# Wire form → structured form (schemas.record)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_structured(schema: Schema | None, value: Any) -> Any:
    """The ``schemas.record`` representation of a fast-path (wire form) value of ``schema``.

    Connect's own logical types get their Python types (Decimal → ``decimal.Decimal``, Date → ``date``, Time →
    ``time``, Timestamp → tz-aware ``datetime``); structs and arrays are converted member by member; everything
    else (Debezium's ``io.debezium.*`` types included) is already its primitive. Called off the hot path, only
    when a structured record is asked for.
    """
    if value is None or schema is None:
        return value
    name = schema.name
    if name == DECIMAL and isinstance(value, bytes):
        scale = int((schema.parameters or {}).get("scale", "0"))
        return Decimal(f"{int.from_bytes(value, 'big', signed=True)}E{-scale}")  # exact, whatever the context
    if name == CONNECT_DATE:
        return dt.date.fromordinal(EPOCH_ORDINAL + value)
    if name == CONNECT_TIME:
        millis = value % 86_400_000
        return (dt.datetime.min + dt.timedelta(milliseconds=millis)).time()
    if name == CONNECT_TIMESTAMP:
        return _EPOCH + dt.timedelta(milliseconds=value)
    if schema.type == "struct" and isinstance(value, dict):
        return {f.name: to_structured(f.schema, value.get(f.name)) for f in schema.fields}
    if schema.type == "array" and isinstance(value, list):
        return [to_structured(schema.items, v) for v in value]
    return value
