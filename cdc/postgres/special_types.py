"""PostgreSQL types whose Debezium 3.6 form is more than a parse: bit strings, point, hstore, unknown types, float
specials, intervals as strings, and the binary handling modes.

Every mapping here was checked against the real Debezium 3.6.3 by ``tests/conformance`` (see
docs/debezium-conformance.md). Converters take PostgreSQL's text output, like those of ``cdc.postgres.types``, and
run per value in the hot path.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Callable
from typing import Any

import orjson

from schemas.connect import Field, Schema
from schemas.javacompat import java_hashmap_order
from schemas.logical import java_double_string

Converter = Callable[[str], Any]

# ---------------------------------------------------------------------------------------------------------------
# bit(n) / varbit(n)


def bit_to_bool(s: str) -> bool:
    """bit(1) → boolean, as Debezium maps a one-bit column."""
    return s == "1"


def bits_to_bytes(s: str) -> bytes:
    """bit(n)/varbit text → io.debezium.data.Bits: the bits read as a binary number, little-endian, minimal length.

    That is java.util.BitSet.toByteArray() of Debezium's BitSet: '10100101' → 0xA5, '101' → 0x05, all zeros → b''.
    """
    value = int(s, 2) if s else 0
    return value.to_bytes((value.bit_length() + 7) // 8, "little")


def bits_schema(length: int) -> Schema:
    return Schema("bytes", name="io.debezium.data.Bits", version=1, parameters={"length": str(length)})


# ---------------------------------------------------------------------------------------------------------------
# point → io.debezium.data.geometry.Point

POINT_SCHEMA = Schema(
    "struct",
    name="io.debezium.data.geometry.Point",
    version=1,
    doc="Geometry (POINT)",
    fields=(
        Field("x", Schema("float64")),
        Field("y", Schema("float64")),
        Field("wkb", Schema("bytes", optional=True)),
        Field("srid", Schema("int32", optional=True)),
    ),
)
_WKB_POINT = struct.Struct("<bIdd")  # little-endian WKB: byte order 1, geometry type 1 (point), x, y


def point(s: str) -> dict[str, Any]:
    """'(x,y)' → {x, y, wkb, srid}; the WKB is little-endian, srid null, as Debezium writes a PostgreSQL point."""
    x_text, y_text = s[1:-1].split(",")
    x, y = float(x_text), float(y_text)
    return {"x": x, "y": y, "wkb": _WKB_POINT.pack(1, 1, x, y), "srid": None}


# ---------------------------------------------------------------------------------------------------------------
# Types Debezium does not know (box, circle, line, lseg, path, polygon, …): dropped unless
# include.unknown.datatypes=true, then bytes of the value's text as the JDBC driver renders it.

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|-?Infinity|NaN")


def unknown_geometric_text(s: str) -> bytes:
    """The text of a geometric value with every number as Java prints a double: '(1,1),(0,0)' → '(1.0,1.0),(0.0,0.0)'.

    Debezium (include.unknown.datatypes=true) emits the pgjdbc object's getValue(), whose numbers are doubles.
    """
    return _NUMBER.sub(lambda m: java_double_string(float(m.group(0))), s).encode()


def unknown_text(s: str) -> bytes:
    """Any other unknown type: the text value's bytes."""
    return s.encode()


# ---------------------------------------------------------------------------------------------------------------
# Float specials: JsonConverter (Jackson) writes NaN and the infinities as JSON strings.


def float_or_special(s: str) -> float | str:
    """real/double: the number, or "NaN"/"Infinity"/"-Infinity" as Debezium's JSON has them (not null).

    PostgreSQL's text for those three is exactly what Jackson writes, so the text itself is the value; ``f - f`` is
    0 only for finite numbers (one float operation instead of a lookup per value).
    """
    f = float(s)
    return f if f - f == 0.0 else s


# numeric under decimal.handling.mode=double: the same rule (PostgreSQL's numeric NaN/±Infinity text).
numeric_double = float_or_special


# numeric specials under decimal.handling.mode=string: Debezium's SpecialValueDecimal names.
_NUMERIC_STRING_SPECIALS = {"NaN": "NAN", "Infinity": "POSITIVE_INFINITY", "-Infinity": "NEGATIVE_INFINITY"}


def numeric_string(s: str) -> str:
    """numeric under decimal.handling.mode=string: the text, except NaN → "NAN" (SpecialValueDecimal's name)."""
    return _NUMERIC_STRING_SPECIALS.get(s, s)


# ---------------------------------------------------------------------------------------------------------------
# hstore → io.debezium.data.Json (default) or a map (hstore.handling.mode=map)

_HSTORE_ITEM = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*=>\s*(?:"((?:[^"\\]|\\.)*)"|(NULL))\s*(?:,|$)')
_UNESCAPE = re.compile(r"\\(.)")

HSTORE_MAP_SCHEMA = Schema("map", keys=Schema("string"), items=Schema("string", optional=True))
HSTORE_JSON_SCHEMA = Schema("string", name="io.debezium.data.Json", version=1)


def parse_hstore(s: str) -> dict[str, str | None]:
    """hstore text ('"a"=>"1", "b"=>NULL') → dict in Java HashMap order (see :func:`java_hashmap_order`)."""
    items: dict[str, str | None] = {}
    pos = 0
    while pos < len(s):
        m = _HSTORE_ITEM.match(s, pos)
        if m is None:
            raise ValueError(f"unparseable hstore value {s!r}")
        key = _UNESCAPE.sub(r"\1", m.group(1))
        items[key] = None if m.group(3) else _UNESCAPE.sub(r"\1", m.group(2))
        pos = m.end()
    return {k: items[k] for k in java_hashmap_order(list(items))}


def hstore_json(s: str) -> str:
    """hstore → compact JSON text (Jackson's output for the map)."""
    return orjson.dumps(parse_hstore(s)).decode()


# ---------------------------------------------------------------------------------------------------------------
# interval.handling.mode=string → io.debezium.time.Interval ("PnYnMnDTnHnMnS", every component written)

INTERVAL_STRING_SCHEMA = Schema("string", name="io.debezium.time.Interval", version=1)
_ISO_PARTS = re.compile(
    r"^P(?:(?P<y>-?\d+)Y)?(?:(?P<mo>-?\d+)M)?(?:(?P<d>-?\d+)D)?"
    r"(?:T(?:(?P<h>-?\d+)H)?(?:(?P<mi>-?\d+)M)?(?:(?P<s>-?\d+(?:\.\d+)?)S)?)?$"
)


def interval_string(s: str) -> str:
    """IntervalStyle=iso_8601 text → Debezium's Interval.toIsoString (seconds without trailing zeros)."""
    m = _ISO_PARTS.match(s)
    if m is None:
        raise ValueError(f"unparseable interval {s!r}")
    g = {k: (v or "0") for k, v in m.groupdict().items()}
    seconds = g["s"]
    if "." in seconds:
        seconds = seconds.rstrip("0").rstrip(".")
    if seconds in ("-0", ""):
        seconds = "0"
    return f"P{int(g['y'])}Y{int(g['mo'])}M{int(g['d'])}DT{int(g['h'])}H{int(g['mi'])}M{seconds}S"


# ---------------------------------------------------------------------------------------------------------------
# binary.handling.mode


def binary_mode(mode: str) -> tuple[Schema, Converter] | None:
    """(schema, converter) for bytea under ``mode``; None for ``bytes`` (the default, in cdc.postgres.types)."""
    if mode == "base64":
        return Schema("string"), lambda s: base64.b64encode(bytes.fromhex(s[2:])).decode("ascii")
    if mode == "base64-url-safe":
        return Schema("string"), lambda s: base64.urlsafe_b64encode(bytes.fromhex(s[2:])).decode("ascii")
    if mode == "hex":
        return Schema("string"), lambda s: s[2:]
    return None


# ---------------------------------------------------------------------------------------------------------------
# column.propagate.source.type / datatype.propagate.source.type

# (length, scale) Debezium reports for types without a typmod (pgjdbc's column size and decimal digits).
# float8 and types pgjdbc has no size for (2147483647, 0; seen for numrange) are checked against Debezium 3.6.3;
# the others follow pgjdbc's TypeInfoCache.
_SOURCE_SIZES: dict[str, tuple[int, int | None]] = {
    "int2": (5, 0),
    "int4": (10, 0),
    "int8": (19, 0),
    "float4": (8, 8),
    "float8": (17, 17),
    "bool": (1, 0),
    "date": (13, 0),
    "time": (15, 6),
    "timetz": (21, 6),
    "timestamp": (29, 6),
    "timestamptz": (35, 6),
}
_UNSIZED = (2147483647, 0)


def source_type_parameters(type_name: str, typmod: int, column: str, from_stream: bool) -> dict[str, str]:
    """The ``__debezium.source.column.*`` schema parameters of a column.

    ``type_name`` is pg_type.typname (arrays start with ``_``); the element's typmod is the column's. Debezium
    itself differs between snapshot and stream for numeric without precision: length 0 and no scale in the
    snapshot, 131089 and 0 while streaming; ``from_stream`` says which table version this is.
    """
    base = type_name.removeprefix("_")
    length: int | None = None
    scale: int | None = None
    if base == "numeric":
        if typmod >= 4:
            length, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        elif from_stream:
            length, scale = 131089, 0
        else:
            length = 0
    elif base in ("varchar", "bpchar") and typmod >= 4:
        length, scale = typmod - 4, 0
    else:
        length, scale = _SOURCE_SIZES.get(base, _UNSIZED)
    params = {"__debezium.source.column.type": type_name.upper()}
    if length is not None:
        params["__debezium.source.column.length"] = str(length)
    if scale is not None:
        params["__debezium.source.column.scale"] = str(scale)
    params["__debezium.source.column.name"] = column
    return params
