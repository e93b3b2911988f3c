"""The generated binlog row decoder (cdc.mysql.row_decoder) gives exactly what the library's parser followed by the
table's row function gives (the path it replaces), for every column type and value-handling mode.

Rows events are built byte for byte as the server writes them (v2 rows events, full row images, random NULLs)
from fixed-seed random values, parsed once by ``pymysqlreplication`` (``event.rows`` → ``row_from_dict``) and once
by the decoder, and compared with ``repr`` (so NaN floats, Decimal exponents and key order count too).
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from pymysql.protocol import MysqlPacket
from pymysqlreplication.column import Column
from pymysqlreplication.constants import FIELD_TYPE
from pymysqlreplication.packet import BinLogPacketWrapper
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent
from pymysqlreplication.table import Table

from cdc.capture.converters import SourceConverters
from cdc.filters import TableFilter
from cdc.mysql.row_decoder import DecoderCache, RowDecoder, compile_decoder
from cdc.mysql.tables import MySqlTable, MySqlTableRegistry
from cdc.mysql.types import MySqlTypeMapper
from schemas.json_converter import JsonConverter

TABLE_ID = 42
_EVENT_TYPES = {WriteRowsEvent: 30, UpdateRowsEvent: 31, DeleteRowsEvent: 32}


class _Control:
    """The library's control connection, as far as rows-event parsing uses it."""

    charset = "utf8mb4"

    def _get_dbms(self) -> str:
        return "mysql"


# ---------------------------------------------------------------------------------------------------------------
# Value encoders: (column metadata, random value bytes) per type, as the server writes them.


def _decimal_bytes(rnd: random.Random, precision: int, scale: int) -> bytes:
    """A random DECIMAL(precision, scale) value (sometimes zero, half of them negative), encoded."""
    digits = [rnd.randint(0, 9) for _ in range(precision)]
    if rnd.random() < 0.2:
        digits = [0] * precision
    return _encode_decimal(digits, scale, rnd.random() < 0.5 and any(digits))


def _encode_decimal(digits: list[int], scale: int, negative: bool) -> bytes:
    """MySQL's decimal2bin: 9-digit groups in 4 big-endian bytes, leftover digits in 1-4 bytes, on each side of
    the point; a negative value has every bit inverted; then the top bit is flipped."""
    whole, frac = digits[: len(digits) - scale], digits[len(digits) - scale :]
    sizes = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)
    out = b""
    head = len(whole) % 9
    if head:
        out += int("".join(map(str, whole[:head]))).to_bytes(sizes[head], "big")
    for k in range(head, len(whole), 9):
        out += int("".join(map(str, whole[k : k + 9]))).to_bytes(4, "big")
    full = len(frac) // 9 * 9
    for k in range(0, full, 9):
        out += int("".join(map(str, frac[k : k + 9]))).to_bytes(4, "big")
    if len(frac) % 9:
        out += int("".join(map(str, frac[full:]))).to_bytes(sizes[len(frac) % 9], "big")
    raw = bytearray(b ^ 0xFF for b in out) if negative else bytearray(out)
    raw[0] ^= 0x80
    return bytes(raw)


def _fraction(rnd: random.Random, fsp: int) -> bytes:
    size = (0, 1, 1, 2, 2, 3, 3)[fsp]
    if not size:
        return b""
    value: int = rnd.choice([0, rnd.randint(0, 10**fsp - 1)]) * (10 ** ((size * 2) - fsp))
    return value.to_bytes(size, "big")


def _datetime2(rnd: random.Random, fsp: int) -> bytes:
    if rnd.random() < 0.1:
        return b"\x80\x00\x00\x00\x00" + b"\x00" * (0, 1, 1, 2, 2, 3, 3)[fsp]  # zero datetime
    year, month = rnd.randint(1000, 9999), rnd.randint(1, 12)
    day = rnd.randint(1, 31)  # sometimes invalid (Feb 30): the library gives None
    packed = ((year * 13 + month) << 22) | (day << 17) | (rnd.randint(0, 23) << 12)
    packed |= (rnd.randint(0, 59) << 6) | rnd.randint(0, 59)
    return (packed | 1 << 39).to_bytes(5, "big") + _fraction(rnd, fsp)


def _date(rnd: random.Random) -> bytes:
    if rnd.random() < 0.1:
        return b"\x00\x00\x00"
    value = rnd.randint(1, 9999) << 9 | rnd.randint(1, 12) << 5 | rnd.randint(1, 28)
    return value.to_bytes(3, "little")


def _length_prefixed(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "little") + data


def _text(rnd: random.Random) -> str:
    return "".join(rnd.choice("ab 'é✓\"\\\x00z") for _ in range(rnd.randint(0, 12)))


def _json(rnd: random.Random) -> bytes:
    kind = rnd.randint(0, 3)
    if kind == 0:
        return b"\x04" + rnd.choice([b"\x00", b"\x01", b"\x02"])  # null / true / false
    if kind == 1:
        return b"\x05" + struct.pack("<h", rnd.randint(-999, 999))
    if kind == 2:
        return b"\x0b" + struct.pack("<d", rnd.random() * 100)
    text = _text(rnd).encode()
    return b"\x0c" + bytes([len(text)]) + text


def _col(type_: int, name: str, **meta: Any) -> Column:
    defaults: dict[str, Any] = {
        "type": type_,
        "name": name,
        "unsigned": False,
        "is_primary": False,
        "character_set_name": None,
        "charset_id": None,
        "collation_name": None,
        "enum_values": None,
        "set_values": None,
        "visibility": False,
    }
    return Column(**{**defaults, **meta})


Spec = tuple[Column, Any]  # a table-map column and a function rnd -> the value's bytes


def _specs() -> list[Spec]:
    utf8 = {"character_set_name": "utf8mb4"}
    specs: list[Spec] = [
        (_col(FIELD_TYPE.LONGLONG, "id"), lambda r: struct.pack("<q", r.randint(-(2**63), 2**63 - 1))),
        (_col(FIELD_TYPE.TINY, "tiny"), lambda r: bytes([r.randint(0, 255)])),
        (_col(FIELD_TYPE.TINY, "utiny", unsigned=True), lambda r: bytes([r.randint(0, 255)])),
        (_col(FIELD_TYPE.SHORT, "short"), lambda r: r.randbytes(2)),
        (_col(FIELD_TYPE.SHORT, "ushort", unsigned=True), lambda r: r.randbytes(2)),
        (_col(FIELD_TYPE.INT24, "medium"), lambda r: r.randbytes(3)),
        (_col(FIELD_TYPE.INT24, "umedium", unsigned=True), lambda r: r.randbytes(3)),
        (_col(FIELD_TYPE.LONG, "int"), lambda r: r.randbytes(4)),
        (_col(FIELD_TYPE.LONG, "uint", unsigned=True), lambda r: r.randbytes(4)),
        (_col(FIELD_TYPE.LONGLONG, "ubig", unsigned=True), lambda r: r.randbytes(8)),
        (_col(FIELD_TYPE.FLOAT, "float", size=4), lambda r: r.randbytes(4)),
        (_col(FIELD_TYPE.DOUBLE, "double", size=8), lambda r: r.randbytes(8)),
        (_col(FIELD_TYPE.YEAR, "year"), lambda r: bytes([r.randint(0, 255)])),
        (_col(FIELD_TYPE.NEWDECIMAL, "dec", precision=12, decimals=2), lambda r: _decimal_bytes(r, 12, 2)),
        (_col(FIELD_TYPE.NEWDECIMAL, "dec0", precision=10, decimals=0), lambda r: _decimal_bytes(r, 10, 0)),
        (_col(FIELD_TYPE.NEWDECIMAL, "dec65", precision=65, decimals=30), lambda r: _decimal_bytes(r, 65, 30)),
        (_col(FIELD_TYPE.NEWDECIMAL, "dec3", precision=5, decimals=5), lambda r: _decimal_bytes(r, 5, 5)),
        (
            _col(FIELD_TYPE.VARCHAR, "vc", max_length=80, **utf8),
            lambda r: _length_prefixed(_text(r).encode(), 1),
        ),
        (
            _col(FIELD_TYPE.VARCHAR, "vc_long", max_length=1200, **utf8),
            lambda r: _length_prefixed(_text(r).encode() * 30, 2),
        ),
        (
            _col(FIELD_TYPE.VARCHAR, "latin", max_length=20, character_set_name="latin1"),
            lambda r: _length_prefixed(bytes(r.randint(0x20, 0x7E) for _ in range(5)) + b"\xe9", 1),
        ),
        (
            _col(FIELD_TYPE.VARCHAR, "vbin", max_length=10, character_set_name="binary"),
            lambda r: _length_prefixed(r.randbytes(r.randint(0, 10)), 1),
        ),
        (
            _col(FIELD_TYPE.STRING, "ch", max_length=20, **utf8),
            lambda r: _length_prefixed(_text(r).encode(), 1),
        ),
        (
            _col(FIELD_TYPE.STRING, "bin4", max_length=4, character_set_name="binary"),
            lambda r: _length_prefixed(r.randbytes(r.randint(0, 4)), 1),
        ),
        (_col(FIELD_TYPE.BLOB, "text", length_size=2, **utf8), lambda r: _length_prefixed(_text(r).encode(), 2)),
        (
            _col(FIELD_TYPE.BLOB, "ltext", length_size=4, **utf8),
            lambda r: _length_prefixed(_text(r).encode(), 4),
        ),
        (
            _col(FIELD_TYPE.BLOB, "mblob", length_size=3, character_set_name="binary"),
            lambda r: _length_prefixed(r.randbytes(r.randint(0, 40)), 3),
        ),
        (
            _col(FIELD_TYPE.BLOB, "tblob", length_size=1, character_set_name="binary"),
            lambda r: _length_prefixed(r.randbytes(r.randint(0, 40)), 1),
        ),
        (_col(FIELD_TYPE.DATE, "date"), _date),
        (_col(17, "ts0", fsp=0), lambda r: r.randbytes(4)),
        (_col(17, "ts3", fsp=3), lambda r: r.randint(0, 2**31 - 1).to_bytes(4, "big") + _fraction(r, 3)),
        (_col(17, "ts5", fsp=5), lambda r: r.randint(0, 2**31 - 1).to_bytes(4, "big") + _fraction(r, 5)),
        (_col(17, "ts6", fsp=6), lambda r: r.randint(0, 2**31 - 1).to_bytes(4, "big") + _fraction(r, 6)),
        (_col(18, "dt0", fsp=0), lambda r: _datetime2(r, 0)),
        (_col(18, "dt2", fsp=2), lambda r: _datetime2(r, 2)),
        (_col(18, "dt6", fsp=6), lambda r: _datetime2(r, 6)),
        (_col(19, "t0", fsp=0), lambda r: r.randbytes(3)),
        (_col(19, "t1", fsp=1), lambda r: r.randbytes(3) + _fraction(r, 1)),
        (_col(19, "t4", fsp=4), lambda r: r.randbytes(3) + _fraction(r, 4)),
        (_col(19, "t6", fsp=6), lambda r: r.randbytes(3) + _fraction(r, 6)),
        (_col(FIELD_TYPE.BIT, "bit1", bits=1, bytes=1), lambda r: bytes([r.randint(0, 1)])),
        (_col(FIELD_TYPE.BIT, "bit12", bits=12, bytes=2), lambda r: r.randint(0, 4095).to_bytes(2, "big")),
        (_col(FIELD_TYPE.BIT, "bit64", bits=64, bytes=8), lambda r: r.randbytes(8)),
        (
            _col(FIELD_TYPE.ENUM, "enum", size=1, enum_values=["", "a", "b", "c"], **utf8),
            lambda r: bytes([r.randint(0, 3)]),
        ),
        (
            _col(FIELD_TYPE.SET, "set", size=1, set_values=["x", "y", "z"], **utf8),
            lambda r: bytes([r.randint(0, 7)]),
        ),
        (_col(FIELD_TYPE.JSON, "json", length_size=4), lambda r: _length_prefixed(_json(r), 4)),
        (
            _col(FIELD_TYPE.GEOMETRY, "geo", length_size=4),
            lambda r: _length_prefixed(r.randbytes(4) + r.randbytes(r.randint(0, 30)), 4),
        ),
    ]
    return specs


# ---------------------------------------------------------------------------------------------------------------


def _packet(kind: type, columns: list[Column], images: list[bytes]) -> bytes:
    n = len(columns)
    # MySQL sets the unused high bits of the columns-present bitmaps, MariaDB does not: one style each.
    bitmap = ((1 << n) - 1).to_bytes((n + 7) // 8, "little") if kind is WriteRowsEvent else b"\xff" * ((n + 7) // 8)
    body = TABLE_ID.to_bytes(6, "little") + struct.pack("<HH", 1, 2) + bytes([n]) + bitmap
    if kind is UpdateRowsEvent:
        body += bitmap
    body += b"".join(images)
    header = struct.pack("<IBIIIH", 1_700_000_000, _EVENT_TYPES[kind], 1, 19 + len(body), 4, 0)
    return b"\x00" + header + body


def _event(data: bytes, table_map: dict[int, Table]) -> Any:
    wrapper = BinLogPacketWrapper(
        MysqlPacket(data, "utf8"),
        table_map,
        _Control(),
        (8, 0, 0),
        False,
        frozenset({WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent}),
        None,
        None,
        None,
        None,
        False,
        False,
        False,
        False,
        False,
    )
    return wrapper.event


def _image(rnd: random.Random, specs: list[Spec], null_share: float) -> bytes:
    nulls = 0
    values = b""
    for i, (_column, make) in enumerate(specs):
        if i and rnd.random() < null_share:
            nulls |= 1 << i
        else:
            values += make(rnd)
    return nulls.to_bytes((len(specs) + 7) // 8, "little") + values


def _registry(mapper: MySqlTypeMapper, column_exclude: str | None) -> MySqlTableRegistry:
    converters = SourceConverters(key=JsonConverter(False), value=JsonConverter(False))
    return MySqlTableRegistry(
        "mysql", TableFilter(column_exclude=column_exclude), "p", mapper, converters, "__debezium_unavailable_value"
    )


def _library_rows(event: Any, table: MySqlTable) -> list[dict[str, Any]]:
    if type(event) is UpdateRowsEvent:
        out = []
        for row in event.rows:
            out += [table.row_from_dict(row["before_values"]), table.row_from_dict(row["after_values"])]
        return out
    return [table.row_from_dict(row["values"]) for row in event.rows]


MODES = [
    ("precise", "adaptive_time_microseconds", "long", "bytes", None),
    ("string", "connect", "precise", "base64", "db.t.text,db.t.dec,db.t.ts6"),
    ("double", "adaptive_time_microseconds", "long", "hex", "db.t.vc"),
]


@pytest.mark.parametrize("modes", MODES)
def test_generated_decoder_matches_the_library(modes: tuple[str, str, str, str, str | None]) -> None:
    decimal_mode, time_mode, bigint_mode, binary_mode, exclude = modes
    rnd = random.Random(11)
    mapper = MySqlTypeMapper(decimal_mode, time_mode, bigint_mode, binary_mode)
    registry = _registry(mapper, exclude)
    all_specs = _specs()
    for trial in range(60):
        specs = [all_specs[0], *rnd.sample(all_specs[1:], rnd.randint(1, len(all_specs) - 1))]
        if trial % 3 == 0:
            specs = all_specs  # every type in one table, more than 8 columns of null bitmap
        columns = [c for c, _ in specs]
        table_map = {TABLE_ID: Table(TABLE_ID, "db", "t", columns, "id")}
        table = registry.for_binlog("db", "t", columns, "id")
        decoder = compile_decoder(columns, table)
        assert decoder is not None
        for kind in (WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent):
            count = rnd.randint(1, 6) * (2 if kind is UpdateRowsEvent else 1)
            images = [_image(rnd, specs, rnd.choice([0.0, 0.3, 0.9])) for _ in range(count)]
            data = _packet(kind, columns, images)
            fast = decoder.decode(_event(data, table_map))
            assert fast is not None, f"fell back on {[c.name for c in columns]}"
            expected = _library_rows(_event(data, table_map), table)
            assert repr(fast) == repr(expected)


def test_large_decimals_are_exact() -> None:
    """DECIMAL(65,30): 65 significant digits survive (the default Decimal context would round to 28)."""
    mapper = MySqlTypeMapper("precise", "adaptive_time_microseconds", "long", "bytes")
    columns = [_col(FIELD_TYPE.LONGLONG, "id"), _col(FIELD_TYPE.NEWDECIMAL, "d", precision=65, decimals=30)]
    table = _registry(mapper, None).for_binlog("db", "t", columns, "id")
    decoder = compile_decoder(columns, table)
    assert decoder is not None
    digits = "12345678901234567890123456789012345" + "123456789012345678901234567891"
    encoded = _encode_decimal([int(c) for c in digits], 30, negative=True)
    data = _packet(WriteRowsEvent, columns, [b"\x00" + struct.pack("<q", 1) + encoded])
    table_map = {TABLE_ID: Table(TABLE_ID, "db", "t", columns, "id")}
    fast = decoder.decode(_event(data, table_map))
    assert fast is not None
    assert int.from_bytes(fast[0]["d"], "big", signed=True) == -int(digits)
    assert _library_rows(_event(data, table_map), table) == fast


def _simple_table() -> tuple[list[Column], MySqlTable, RowDecoder, dict[int, Table]]:
    mapper = MySqlTypeMapper("precise", "adaptive_time_microseconds", "long", "bytes")
    columns = [_col(FIELD_TYPE.LONGLONG, "id"), _col(FIELD_TYPE.LONG, "n")]
    table = _registry(mapper, None).for_binlog("db", "t", columns, "id")
    decoder = compile_decoder(columns, table)
    assert decoder is not None
    return columns, table, decoder, {TABLE_ID: Table(TABLE_ID, "db", "t", columns, "id")}


def test_unusual_events_fall_back_to_the_library() -> None:
    columns, _table, decoder, table_map = _simple_table()
    row = b"\x00" + struct.pack("<qi", 1, 2)
    good = _packet(WriteRowsEvent, columns, [row, row])
    assert decoder.decode(_event(good, table_map)) == [{"id": 1, "n": 2}, {"id": 1, "n": 2}]
    # A partial row image (binlog_row_image=MINIMAL): columns-present bitmap without every column.
    partial = bytearray(good)
    partial[1 + 19 + 6 + 4 + 1] = 0b01
    assert decoder.decode(_event(bytes(partial), table_map)) is None
    # Bytes the decoder does not account for: it must not guess.
    truncated = _packet(WriteRowsEvent, columns, [row, row[:-1]])
    assert decoder.decode(_event(truncated, table_map)) is None
    assert decoder.fallbacks == 2 and decoder.decoded_events == 1


def test_unsupported_types_have_no_decoder() -> None:
    mapper = MySqlTypeMapper("precise", "adaptive_time_microseconds", "long", "bytes")
    columns = [_col(FIELD_TYPE.LONGLONG, "id"), _col(FIELD_TYPE.DATETIME, "old_datetime")]
    table = _registry(mapper, None).for_binlog("db", "t", columns, "id")
    assert compile_decoder(columns, table) is None
    assert DecoderCache().get(columns, table) is None


def test_decoders_are_cached_per_layout_and_table_version() -> None:
    columns, table, _, _ = _simple_table()
    cache = DecoderCache()
    first = cache.get(columns, table)
    assert first is not None
    same_layout = [_col(FIELD_TYPE.LONGLONG, "id"), _col(FIELD_TYPE.LONG, "n")]  # a new table map, same columns
    assert cache.get(same_layout, table) is first
    wider = [*same_layout[:1], _col(FIELD_TYPE.LONGLONG, "n")]
    assert cache.get(wider, table) is not first
