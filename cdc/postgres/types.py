"""PostgreSQL column types → neutral column types (Connect schema + text converter), Debezium's defaults.

Both the snapshot and the stream see column values in PostgreSQL's *text* output format (pgoutput protocol
version 1 sends text; the snapshot reads each type's text output), with the session settings the connector forces
(``DateStyle=ISO``, ``TimeZone=UTC``, ``IntervalStyle=iso_8601``, ``bytea_output=hex``). So one converter per
column type turns a text value into the Connect wire value, for both paths. The schemas and the
``decimal.handling.mode`` / ``time.precision.mode`` choices are the shared ones of ``schemas.logical``; what stays
here is the parsing of PostgreSQL's text forms.

:class:`TypeMapper` is called by ``cdc.postgres.tables`` whenever a table (version) is first seen; the returned
converters run per value in the hot path, so they are plain functions with no per-call configuration lookups.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cdc.capture.columns import ColumnType, identity, inline_expression
from cdc.postgres import special_types as special
from schemas import logical as lt
from schemas.connect import Schema
from schemas.logical import days_from_civil as _days_from_civil
from schemas.logical import java_double_string as _java_double_string
from schemas.logical import unscaled_bytes as _unscaled_bytes

Converter = Callable[[str], Any]

__all__ = ["ColumnType", "PgType", "TypeMapper", "parse_array"]

# Built-in type OIDs (pg_type.h); stable across PostgreSQL versions.
BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID, JSON, XML = 16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 142
FLOAT4, FLOAT8, MONEY, BPCHAR, VARCHAR, DATE, TIME, TIMESTAMP = 700, 701, 790, 1042, 1043, 1082, 1083, 1114
TIMESTAMPTZ, INTERVAL, TIMETZ, NUMERIC, UUID, JSONB = 1184, 1186, 1266, 1700, 2950, 3802
BIT, VARBIT, POINT, TSVECTOR = 1560, 1562, 600, 3614
# Geometric types Debezium's PostgreSQL connector has no mapping for (handled as unknown types).
UNKNOWN_GEOMETRIC = frozenset({601, 602, 603, 604, 628, 718})  # lseg, path, box, polygon, line, circle

_EPOCH_ORDINAL = lt.EPOCH_ORDINAL
_MICROS_PER_DAY = lt.MICROS_PER_DAY


@dataclass(frozen=True)
class PgType:
    """What the catalog says about a type OID: enough to map it (see ``cdc.postgres.catalog``)."""

    oid: int
    name: str
    typtype: str  # b=base, e=enum, d=domain, c=composite, r=range
    category: str  # A=array, ...
    element_oid: int  # for arrays
    base_oid: int  # for domains
    base_typmod: int
    enum_labels: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------------------------
# Value converters. Each takes PostgreSQL's text output and returns the Connect value.


@inline_expression("v == 't'")
def _to_bool(s: str) -> bool:
    return s == "t"


def _to_float(s: str) -> float:
    return float(s)


_to_str = identity  # text columns: the text is the Connect value


def _to_bytes(s: str) -> bytes:
    # bytea_output=hex: "\x0a0b..."
    return bytes.fromhex(s[2:])


# numeric values with no Connect Decimal form (PostgreSQL 14+ also has numeric infinities).
_SPECIAL_NUMERICS = frozenset({"NaN", "Infinity", "-Infinity"})


def _decimal_parts(s: str) -> tuple[int, int]:
    """(unscaled, scale) of a numeric's text form, e.g. "-12.340" → (-12340, 3)."""
    point = s.find(".")
    if point < 0:
        return int(s), 0
    return int(s[:point] + s[point + 1 :]), len(s) - point - 1


def _fixed_decimal(scale: int) -> Converter:
    """numeric(p,s) in precise mode: the text always carries exactly ``scale`` fraction digits."""

    def convert(s: str) -> bytes | None:
        # _decimal_parts and _unscaled_bytes inlined: this runs for every numeric value of the stream.
        unscaled: int
        point = s.find(".")
        if point < 0:
            if s in _SPECIAL_NUMERICS:  # not representable as a Connect Decimal; Debezium emits null as well
                return None
            unscaled = int(s) * 10**scale
        else:
            unscaled = int(s[:point] + s[point + 1 :])
            text_scale = len(s) - point - 1
            if text_scale != scale:
                unscaled *= 10 ** (scale - text_scale)
        magnitude = unscaled if unscaled >= 0 else ~unscaled
        return unscaled.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)

    return convert


def _variable_decimal(s: str) -> dict[str, Any] | None:
    """numeric without typmod in precise mode: io.debezium.data.VariableScaleDecimal {scale, value}."""
    if s in _SPECIAL_NUMERICS:
        return None
    unscaled, scale = _decimal_parts(s)
    return lt.variable_scale_decimal(unscaled, scale)


def _money_unscaled(s: str) -> int:
    """money text ("-$1,234.56" in the C/en_US monetary locales) → the amount in cents."""
    negative = s.startswith("-") or s.startswith("(")
    unscaled = int("".join(ch for ch in s if ch.isdigit()) or "0")
    return -unscaled if negative else unscaled


def _money(s: str) -> bytes:
    """money → Decimal with scale 2 (decimal.handling.mode=precise)."""
    return _unscaled_bytes(_money_unscaled(s))


def _money_scaled(digits: int) -> Converter:
    """money → Decimal with ``digits`` fraction digits (money.fraction.digits; the text has the locale's 2)."""
    if digits == 2:
        return _money

    def convert(s: str) -> bytes:
        unscaled = _money_unscaled(s)
        return _unscaled_bytes(unscaled * 10 ** (digits - 2) if digits >= 2 else unscaled // 10 ** (2 - digits))

    return convert


def _money_double(s: str) -> float:
    return _money_unscaled(s) / 100


def _money_string(s: str) -> str:
    """decimal.handling.mode=string: Debezium reads money as a Java double and renders it with Double.toString."""
    return _java_double_string(_money_unscaled(s) / 100)


def _to_float_or_none(s: str) -> float | None:
    return None if s == "NaN" else float(s)


# date ±infinity has no day count; they map to the int32 extremes so that they stay ordered and recognizable.
_DATE_INFINITY = {"infinity": 2**31 - 1, "-infinity": -(2**31)}


def _parse_date_days(s: str) -> int:
    """Days since the epoch of an ISO date ("2024-01-31"); BC dates and infinities take the slow path."""
    if len(s) == 10:
        return dt.date(int(s[0:4]), int(s[5:7]), int(s[8:10])).toordinal() - _EPOCH_ORDINAL
    if s in _DATE_INFINITY:
        return _DATE_INFINITY[s]
    return _parse_unusual_date_days(s)


def _parse_unusual_date_days(s: str) -> int:
    if s.endswith(" BC"):
        # Proleptic Gregorian year 1 BC is year 0 astronomically; Python's date cannot hold it, so compute.
        year = 1 - int(s[:-3].split("-")[0])
        month, day = int(s[-8:-6]), int(s[-5:-3])
        return _days_from_civil(year, month, day)
    year, month, day = (int(p) for p in s.split("-"))
    return _days_from_civil(year, month, day)


def _parse_time_micros(s: str) -> int:
    """Microseconds since midnight of "HH:MM:SS[.ffffff]" (24:00:00 is valid in PostgreSQL)."""
    micros = (int(s[0:2]) * 3600 + int(s[3:5]) * 60 + int(s[6:8])) * 1_000_000
    if len(s) > 9:
        frac = s[9:]
        micros += int(frac) * 10 ** (6 - len(frac))
    return micros


def _parse_timestamp_micros(s: str) -> int:
    """Microseconds since the epoch of "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC or zone-less)."""
    return _parse_date_days(s[:10]) * _MICROS_PER_DAY + _parse_time_micros(s[11:])


def _timestamp_micros_converter(s: str) -> int:
    if s[4] == "-" and not s.endswith(" BC"):
        return _parse_timestamp_micros(s)
    return _special_timestamp(s)


def _special_timestamp(s: str) -> int:
    # Debezium maps +/-infinity to the extreme long values; BC timestamps go through the civil algorithm.
    if s == "infinity":
        return 9223372036825200000
    if s == "-infinity":
        return -9223372036832400000
    date_part, time_part = s[:-3].split(" ")
    return _parse_unusual_date_days(date_part + " BC") * _MICROS_PER_DAY + _parse_time_micros(time_part)


def _micros_to_millis(converter: Converter) -> Converter:
    def convert(s: str) -> int:
        return int(converter(s)) // 1000

    return convert


def _zoned_timestamp_converter(precision: int) -> Converter:
    """timestamptz → io.debezium.time.ZonedTimestamp: UTC, 'Z', fraction padded to the column precision."""

    full_length = 23 + precision  # "2024-01-02 03:04:05.123456+00" for precision 6

    def convert(s: str) -> str:
        # Text in a UTC session: "2024-01-02 03:04:05.5+00"; PostgreSQL trims trailing fraction zeros.
        if len(s) == full_length and s[19] == "." and s[4] == "-" and s.endswith("+00"):
            return f"{s[:10]}T{s[11:-3]}Z"  # the common case: the fraction already has ``precision`` digits
        if s.endswith("+00") and s[4] == "-" and len(s) >= 22:
            base, frac = s[:10] + "T" + s[11:19], s[20:-3]
        elif s in ("infinity", "-infinity"):
            return s
        elif s.endswith("+00 BC"):
            # Year N BC is astronomical year 1-N, which ISO-8601 (and Java's formatter) writes as -00NN.
            year = 1 - int(s[:4])
            base, frac = f"{year:05d}" + s[4:10] + "T" + s[11:19], s[20:-6]
        else:
            # Only reachable if the session time zone was changed under us, or for BC dates: normalize to UTC.
            parsed = dt.datetime.fromisoformat(s.replace(" BC", "")).astimezone(dt.UTC)
            base, frac = parsed.strftime("%Y-%m-%dT%H:%M:%S"), f"{parsed.microsecond:06d}".rstrip("0")
        if precision > 0:
            return f"{base}.{frac.ljust(precision, '0')}Z"
        return f"{base}.{frac}Z" if frac else base + "Z"

    return convert


def _zoned_time(s: str) -> str:
    """timetz text ("03:04:05.5+02") → UTC "01:04:05.5Z" (io.debezium.time.ZonedTime)."""
    sign_at = max(s.rfind("+"), s.rfind("-"))
    local, offset = s[:sign_at], s[sign_at:]
    parts = offset[1:].split(":")
    offset_seconds = int(parts[0]) * 3600 + (int(parts[1]) * 60 if len(parts) > 1 else 0)
    offset_seconds += int(parts[2]) if len(parts) > 2 else 0
    if offset[0] == "-":
        offset_seconds = -offset_seconds
    micros = (_parse_time_micros(local) - offset_seconds * 1_000_000) % _MICROS_PER_DAY
    seconds, frac = divmod(micros, 1_000_000)
    text = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    if frac:
        text += ("." + f"{frac:06d}").rstrip("0")
    return text + "Z"


_ISO_INTERVAL = re.compile(
    r"^P(?:(?P<y>-?\d+)Y)?(?:(?P<mo>-?\d+)M)?(?:(?P<w>-?\d+)W)?(?:(?P<d>-?\d+)D)?"
    r"(?:T(?:(?P<h>-?\d+)H)?(?:(?P<mi>-?\d+)M)?(?:(?P<s>-?\d+(?:\.\d+)?)S)?)?$"
)


def _interval_micros(s: str) -> int:
    """IntervalStyle=iso_8601 text → io.debezium.time.MicroDuration (Debezium's 30.4375-day month)."""
    m = _ISO_INTERVAL.match(s)
    if m is None:
        raise ValueError(f"unparseable interval {s!r}")
    g = {k: (v or "0") for k, v in m.groupdict().items()}
    days = int(g["y"]) * 365.25 + int(g["mo"]) * 30.4375 + int(g["w"]) * 7 + int(g["d"])
    seconds = int(g["h"]) * 3600 + int(g["mi"]) * 60
    micros = round(days * _MICROS_PER_DAY) + seconds * 1_000_000
    sec_text = g["s"]
    whole, _, frac = sec_text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    micros += int(whole) * 1_000_000 + sign * (int(frac.ljust(6, "0")[:6]) if frac else 0)
    return micros


def parse_array(s: str) -> list[Any]:
    """Parse PostgreSQL's array text output ("{1,2}", '{"a b",NULL}', "{{1},{2}}") into nested lists of str/None."""
    if s.startswith("["):  # explicit bounds "[0:1]={...}": bounds are not representable in Connect, drop them
        s = s[s.index("=") + 1 :]
    value, end = _parse_array_at(s, 0)
    if end != len(s):
        raise ValueError(f"trailing characters in array literal {s!r}")
    return value


def _parse_array_at(s: str, pos: int) -> tuple[list[Any], int]:
    if s[pos] != "{":
        raise ValueError(f"array literal must start with '{{': {s!r}")
    pos += 1
    items: list[Any] = []
    if s[pos] == "}":
        return items, pos + 1
    while True:
        ch = s[pos]
        if ch == "{":
            sub, pos = _parse_array_at(s, pos)
            items.append(sub)
        elif ch == '"':
            pos += 1
            buf: list[str] = []
            while s[pos] != '"':
                if s[pos] == "\\":
                    pos += 1
                buf.append(s[pos])
                pos += 1
            items.append("".join(buf))
            pos += 1
        else:
            end = pos
            while s[end] not in ",}":
                end += 1
            token = s[pos:end].strip()
            items.append(None if token == "NULL" else token)
            pos = end
        if s[pos] == ",":
            pos += 1
            continue
        if s[pos] == "}":
            return items, pos + 1
        raise ValueError(f"malformed array literal {s!r}")


def _array_converter(element: Converter) -> Converter:
    def convert(s: str) -> list[Any]:
        return _convert_elements(parse_array(s), element)

    return convert


def _convert_elements(items: list[Any], element: Converter) -> list[Any]:
    return [
        None if v is None else (_convert_elements(v, element) if isinstance(v, list) else element(v)) for v in items
    ]


# ---------------------------------------------------------------------------------------------------------------


class TypeMapper:
    """Maps a column's type (OID + typmod) to its Connect schema and converter, honouring the connector's modes.

    Created once per connector by the PostgreSQL connector; ``resolve_type`` is the catalog lookup for OIDs that
    are not built in (enums, domains, arrays of those).
    """

    def __init__(
        self,
        decimal_handling_mode: str,
        time_precision_mode: str,
        resolve_type: Callable[[int], PgType | None],
        *,
        hstore_handling_mode: str = "json",
        interval_handling_mode: str = "numeric",
        binary_handling_mode: str = "bytes",
        money_fraction_digits: int = 2,
        include_unknown_datatypes: bool = False,
    ) -> None:
        self.decimal_mode = decimal_handling_mode
        self.time_mode = time_precision_mode
        self.resolve_type = resolve_type
        self.hstore_mode = hstore_handling_mode
        self.interval_mode = interval_handling_mode
        self.binary_mode = binary_handling_mode
        self.money_digits = money_fraction_digits
        self.include_unknown = include_unknown_datatypes

    def map(self, type_oid: int, typmod: int) -> ColumnType | None:
        """The ColumnType for a column, or None when Debezium leaves the column out (a type it does not know,
        with include.unknown.datatypes=false). Types it knows only by their text stay strings (see README)."""
        builtin = self._builtin(type_oid, typmod)
        if builtin is not None:
            return builtin
        if type_oid in UNKNOWN_GEOMETRIC:
            return ColumnType(Schema("bytes"), special.unknown_geometric_text) if self.include_unknown else None
        pg_type = self.resolve_type(type_oid)
        if pg_type is None:
            return ColumnType(Schema("string"), _to_str)
        if pg_type.typtype == "e":
            return ColumnType(lt.enum_schema(pg_type.enum_labels), _to_str)
        if pg_type.typtype == "d":
            return self.map(pg_type.base_oid, pg_type.base_typmod)
        if pg_type.category == "A" and pg_type.element_oid:
            element = self.map(pg_type.element_oid, typmod)
            if element is None:
                return None
            element_type = self.resolve_type(pg_type.element_oid) if pg_type.element_oid > 10000 else None
            # Debezium declares enum array elements required, every other element type optional.
            items = element.schema.with_optional(element_type is None or element_type.typtype != "e")
            return ColumnType(Schema("array", items=items), _array_converter(element.convert))
        if pg_type.name == "hstore":
            if self.hstore_mode == "map":
                return ColumnType(special.HSTORE_MAP_SCHEMA, special.parse_hstore)
            return ColumnType(special.HSTORE_JSON_SCHEMA, special.hstore_json)
        if pg_type.name == "ltree":
            return ColumnType(Schema("string", name="io.debezium.data.Ltree", version=1), _to_str)
        return ColumnType(Schema("string"), _to_str)

    def _builtin(self, oid: int, typmod: int) -> ColumnType | None:
        if oid == INT2:
            return ColumnType(Schema("int16"), int)
        if oid == INT4:
            return ColumnType(Schema("int32"), int)
        if oid in (INT8, OID):
            return ColumnType(Schema("int64"), int)
        if oid == FLOAT4:
            return ColumnType(Schema("float32"), special.float_or_special)
        if oid == FLOAT8:
            return ColumnType(Schema("float64"), special.float_or_special)
        if oid == BOOL:
            return ColumnType(Schema("boolean"), _to_bool)
        if oid in (TEXT, VARCHAR, BPCHAR, NAME, CHAR):
            return ColumnType(Schema("string"), _to_str)
        if oid == BYTEA:
            binary = special.binary_mode(self.binary_mode)
            if binary is not None:
                return ColumnType(*binary)
            return ColumnType(Schema("bytes"), _to_bytes)
        if oid == BIT and typmod == 1:
            return ColumnType(Schema("boolean"), special.bit_to_bool)
        if oid in (BIT, VARBIT):
            return ColumnType(special.bits_schema(typmod if typmod > 0 else 2147483647), special.bits_to_bytes)
        if oid == POINT:
            return ColumnType(special.POINT_SCHEMA, special.point)
        if oid == TSVECTOR:
            return ColumnType(Schema("string", name="io.debezium.data.Tsvector", version=1), _to_str)
        if oid == NUMERIC:
            return self._numeric(typmod)
        if oid in (JSON, JSONB):
            return ColumnType(lt.JSON, _to_str)
        if oid == UUID:
            return ColumnType(lt.UUID, _to_str)
        if oid == XML:
            return ColumnType(lt.XML, _to_str)
        if oid == DATE:
            return ColumnType(lt.date_schema(self.time_mode), _parse_date_days)
        if oid == TIME:
            return self._time(typmod)
        if oid == TIMESTAMP:
            return self._timestamp(typmod)
        if oid == TIMESTAMPTZ:
            precision = 6 if typmod < 0 else typmod
            return ColumnType(lt.ZONED_TIMESTAMP, _zoned_timestamp_converter(precision))
        if oid == TIMETZ:
            return ColumnType(lt.ZONED_TIME, _zoned_time)
        if oid == MONEY:  # follows decimal.handling.mode like numeric (PostgresValueConverter.moneySchema)
            if self.decimal_mode == "double":
                return ColumnType(lt.decimal_schema(self.decimal_mode, 2), _money_double)
            if self.decimal_mode == "string":
                return ColumnType(lt.decimal_schema(self.decimal_mode, 2), _money_string)
            digits = self.money_digits  # money.fraction.digits: the Decimal's scale
            return ColumnType(lt.decimal_schema(self.decimal_mode, digits), _money_scaled(digits))
        if oid == INTERVAL:
            if self.interval_mode == "string":
                return ColumnType(special.INTERVAL_STRING_SCHEMA, special.interval_string)
            return ColumnType(lt.MICRO_DURATION, _interval_micros)
        return None

    def _numeric(self, typmod: int) -> ColumnType:
        if typmod < 4:  # numeric without precision/scale: scale varies per value
            precision, scale = None, None
        else:
            precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        schema = lt.decimal_schema(self.decimal_mode, scale, precision)
        if self.decimal_mode == "double":
            return ColumnType(schema, special.numeric_double)
        if self.decimal_mode == "string":
            return ColumnType(schema, special.numeric_string)
        if scale is None:
            return ColumnType(schema, _variable_decimal)
        return ColumnType(schema, _fixed_decimal(scale))

    def _time(self, typmod: int) -> ColumnType:
        encoding = lt.time_encoding(6 if typmod < 0 else typmod, self.time_mode)
        return ColumnType(encoding.schema, _in_unit(_parse_time_micros, encoding))

    def _timestamp(self, typmod: int) -> ColumnType:
        encoding = lt.timestamp_encoding(6 if typmod < 0 else typmod, self.time_mode)
        return ColumnType(encoding.schema, _in_unit(_timestamp_micros_converter, encoding))


def _in_unit(micros: Converter, encoding: lt.TemporalEncoding) -> Converter:
    """A text → microseconds converter adapted to the encoding's unit (millis: floor division)."""
    if encoding.unit == "milli":
        return _micros_to_millis(micros)
    if encoding.unit == "nano":  # PostgreSQL's precision never exceeds 6; kept for completeness
        return lambda s: int(micros(s)) * 1000
    return micros
