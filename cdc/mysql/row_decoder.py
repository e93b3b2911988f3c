"""Per-table generated decoders for the row images of binlog Write/Update/DeleteRows events (the hot path).

``pymysqlreplication`` parses every value of a rows event in Python with a per-column type dispatch, a
null-bitmap bit test, a ``read()`` slice per value and a column-name lookup per value; profiled on the six-column
benchmark table that was 71% of the engine's main thread. The engine keeps ``BinLogStreamReader`` for the
connection, the event framing, table maps and all other events, but decodes the row images itself: for each
table-map version (column types and metadata) and table version (kept columns, converters) a function is
generated once that walks the raw event bytes with precomputed ``struct`` readers and slices and builds the
Connect row dicts directly, fusing the decode with the Debezium value conversion where the converter is a known
one (integers, floats, text, ``DECIMAL`` → bytes, ``TIMESTAMP(n)`` → ZonedTimestamp string). For every other
converter the decoder produces exactly the Python value the library would (same type, same edge cases: zero
dates → None, empty SET → None, BIT → ``'0101'`` text, …) and calls the converter, so the result equals
``MySqlTable.row_from_dict(row["values"])``.

Correctness never depends on the fast path: :meth:`RowDecoder.decode` returns ``None`` — the caller then uses
the library's ``event.rows`` — when the event is anything but the plain case (a partial row image, a column
count that differs from the table map, bytes the library already buffered), when the decoder raises, or when it
does not end exactly at the end of the event. :func:`compile_decoder` returns ``None`` for column types it does
not handle (pre-5.6 temporal types, old DECIMAL, VAR_STRING, unnamed columns). tests/unit/test_row_decoder.py
compares both decoders on generated events of every type.

Called by ``cdc.mysql.reader.BinlogReader._rows`` through :class:`DecoderCache`.
"""

from __future__ import annotations

import codecs
import datetime as dt
import logging
import struct
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from pymysql.charset import charset_by_name
from pymysqlreplication.constants import FIELD_TYPE
from pymysqlreplication.json_binary import parse_json
from pymysqlreplication.row_event import UpdateRowsEvent

from cdc.capture.columns import inline_form
from cdc.mysql import types as mytypes
from cdc.mysql.tables import MySqlTable

log = logging.getLogger("cdc.mysql.row_decoder")

RowsFunction = Callable[[bytes, int, int], tuple[list[dict[str, Any]], int]]

_EPOCH = dt.datetime(1970, 1, 1)
_COMPRESSED_BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)  # bytes of a DECIMAL group of 0-9 leftover digits
_FSP_BYTES = (0, 1, 1, 2, 2, 3, 3)
_TIMESTAMP2, _DATETIME2, _TIME2 = 17, 18, 19
_LENGTH_READS = {1: "d[p]", 2: "H(d, p)[0]", 3: "(d[p] | d[p + 1] << 8 | d[p + 2] << 16)", 4: "I(d, p)[0]"}
_FIXED_INTS = {
    # type: (signed struct format, unsigned struct format, size)
    FIELD_TYPE.SHORT: ("<h", "<H", 2),
    FIELD_TYPE.LONG: ("<i", "<I", 4),
    FIELD_TYPE.LONGLONG: ("<q", "<Q", 8),
}
# Errors a decoder may raise on bytes it cannot read; the library then reads the event (and raises, if it must).
_DECODE_ERRORS = (ValueError, IndexError, KeyError, TypeError, OverflowError, struct.error, UnicodeDecodeError)


# ---------------------------------------------------------------------------------------------------------------
# Readers for the rarer types: each gives (the library's Python value, the position after the value).


def _fsp_reader(fsp: int) -> Callable[[bytes, int], int]:
    """The fractional seconds of a TIME2/DATETIME2/TIMESTAMP2 value, as the library computes them (µs)."""
    size = _FSP_BYTES[fsp] if 0 <= fsp < len(_FSP_BYTES) else 0
    scale = 10 ** (6 - fsp) if size else 0

    def read(d: bytes, p: int) -> int:
        if not size:
            return 0
        value = int.from_bytes(d[p : p + size], "big", signed=True)
        if fsp % 2:
            value = int(value / 10)
        return value * scale

    return read


def _time2_reader(fsp: int) -> Callable[[bytes, int], tuple[Any, int]]:
    fraction = _fsp_reader(fsp)
    size = 3 + (_FSP_BYTES[fsp] if 0 <= fsp < len(_FSP_BYTES) else 0)

    def read(d: bytes, p: int) -> tuple[Any, int]:
        data = int.from_bytes(d[p : p + 3], "big", signed=True)
        sign = 1 if (data >> 23) & 1 else -1
        if sign == -1:
            data = ~data + 1  # the library's two's complement step, kept for identical results
        value = (
            dt.timedelta(
                hours=(data >> 12) & 1023,
                minutes=(data >> 6) & 63,
                seconds=data & 63,
                microseconds=fraction(d, p + 3),
            )
            * sign
        )
        return value, p + size

    return read


def _datetime2_reader(fsp: int) -> Callable[[bytes, int], tuple[Any, int]]:
    fraction = _fsp_reader(fsp)
    size = 5 + (_FSP_BYTES[fsp] if 0 <= fsp < len(_FSP_BYTES) else 0)
    new = dt.datetime

    def read(d: bytes, p: int) -> tuple[Any, int]:
        data = int.from_bytes(d[p : p + 5], "big")
        year_month = (data >> 22) & 0x1FFFF
        try:
            value = new(
                year_month // 13, year_month % 13, (data >> 17) & 31, (data >> 12) & 31, (data >> 6) & 63, data & 63
            )
        except ValueError:  # zero or invalid datetime: None, as the library
            return None, p + size
        micros = fraction(d, p + 5)
        if micros > 0:
            value = value.replace(microsecond=micros)
        return value, p + size

    return read


def _timestamp2_reader(fsp: int) -> Callable[[bytes, int], tuple[Any, int]]:
    fraction = _fsp_reader(fsp)
    size = 4 + (_FSP_BYTES[fsp] if 0 <= fsp < len(_FSP_BYTES) else 0)
    utc = dt.datetime.utcfromtimestamp

    def read(d: bytes, p: int) -> tuple[Any, int]:
        value = utc(int.from_bytes(d[p : p + 4], "big", signed=True))
        micros = fraction(d, p + 4)
        if micros > 0:
            value = value.replace(microsecond=micros)
        return value, p + size

    return read


def _read_date(d: bytes, p: int) -> tuple[Any, int]:
    value = d[p] | d[p + 1] << 8 | d[p + 2] << 16
    year, month, day = (value >> 9) & 0x7FFF, (value >> 5) & 15, value & 31
    if not (year and month and day):
        return None, p + 3  # zero date ('0000-00-00') or a zero part
    return dt.date(year, month, day), p + 3


def _bit_reader(bits: int, size: int) -> Callable[[bytes, int], tuple[Any, int]]:
    mask = (1 << bits) - 1
    spec = f"0{bits}b"

    def read(d: bytes, p: int) -> tuple[Any, int]:
        return format(int.from_bytes(d[p : p + size], "big") & mask, spec), p + size

    return read


def _enum_reader(values: Sequence[str] | None, size: int) -> Callable[[bytes, int], tuple[Any, int]]:
    def read(d: bytes, p: int) -> tuple[Any, int]:
        index = int.from_bytes(d[p : p + size], "little")
        return (values[index] if values else None), p + size

    return read


def _set_reader(values: Sequence[str] | None, size: int) -> Callable[[bytes, int], tuple[Any, int]]:
    def read(d: bytes, p: int) -> tuple[Any, int]:
        mask = int.from_bytes(d[p : p + size], "little")
        if not values:
            return None, p + size
        chosen = {v for i, v in enumerate(values) if mask & (1 << i)}
        return (chosen or None), p + size

    return read


def _json_reader(length_size: int) -> Callable[[bytes, int], tuple[Any, int]]:
    def read(d: bytes, p: int) -> tuple[Any, int]:
        start = p + length_size
        end = start + int.from_bytes(d[p:start], "little")
        if end == start:
            return None, end
        data = d[start:end]
        return parse_json(data[0], data[1:]), end

    return read


_minute_prefixes: dict[int, str] = {}


def _minute_prefix(minute: int) -> str:
    """``YYYY-MM-DDTHH:MM:`` of a minute since the epoch, cached (bounded) for the TIMESTAMP fast path."""
    if len(_minute_prefixes) >= 4096:
        _minute_prefixes.clear()
    text = _minute_prefixes[minute] = (_EPOCH + dt.timedelta(minutes=minute)).isoformat()[:17]
    return text


def _decimal_value(negative: bool, unscaled: int, scale: int) -> Decimal:
    """The Decimal the library builds for a DECIMAL value (its text form: sign, digits, '.', ``scale`` digits)."""
    digits = str(unscaled)
    if scale:
        digits = digits.rjust(scale + 1, "0")
        digits = f"{digits[:-scale]}.{digits[-scale:]}"
    return Decimal("-" + digits if negative else digits)


# ---------------------------------------------------------------------------------------------------------------
# Code generation


class _Column:
    """Code for one binlog column: lines that set ``v{i}`` (None for SQL NULL) and advance ``p``."""

    def __init__(self, index: int, column: Any, convert: Callable[[Any], Any] | None, errors: str) -> None:
        self.i = index
        self.column = column
        self.convert = convert  # None: the column is not kept (read past, not converted)
        self.errors = errors
        self.namespace: dict[str, Any] = {}

    def lines(self) -> list[str] | None:
        """The statements for a non-null value, or None when the type is not handled here."""
        c = self.column
        t = c.type
        i = self.i
        identity = self.convert is None or inline_form(self.convert) == "v"
        if t == FIELD_TYPE.TINY:
            expr = "d[p]" if c.unsigned else "(d[p] ^ 128) - 128"
            return self._converted([f"v{i} = {expr}", "p += 1"], identity, False)
        if t == FIELD_TYPE.INT24:
            raw = "(d[p] | d[p + 1] << 8 | d[p + 2] << 16)"
            expr = raw if c.unsigned else f"({raw} ^ 0x800000) - 0x800000"
            return self._converted([f"v{i} = {expr}", "p += 3"], identity, False)
        if t in _FIXED_INTS:
            signed, unsigned, size = _FIXED_INTS[t]
            fmt = unsigned if c.unsigned else signed
            if t == FIELD_TYPE.LONGLONG and c.unsigned and self.convert is mytypes._wrap_int64:
                fmt, identity = signed, True  # bigint.unsigned.handling.mode=long: the wrap is a signed read
            self.namespace[f"u{i}"] = struct.Struct(fmt).unpack_from
            return self._converted([f"v{i} = u{i}(d, p)[0]", f"p += {size}"], identity, False)
        if t in (FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE):
            self.namespace[f"u{i}"] = struct.Struct("<f" if t == FIELD_TYPE.FLOAT else "<d").unpack_from
            size = 4 if t == FIELD_TYPE.FLOAT else 8
            # float(v) of a float is the same float: _to_float is an identity here.
            return self._converted(
                [f"v{i} = u{i}(d, p)[0]", f"p += {size}"], identity or self.convert is mytypes._to_float, False
            )
        if t == FIELD_TYPE.YEAR:
            return self._converted([f"v{i} = d[p] + 1900", "p += 1"], identity, False)
        if t in (FIELD_TYPE.VARCHAR, FIELD_TYPE.STRING):
            return self._string(2 if c.max_length > 255 else 1, decode=True)
        if t == FIELD_TYPE.BLOB:
            return self._string(c.length_size, decode=True)
        if t == FIELD_TYPE.GEOMETRY:
            return self._string(c.length_size, decode=False)
        if t == FIELD_TYPE.NEWDECIMAL:
            return self._decimal()
        if t == _TIMESTAMP2:
            return self._timestamp2()
        if t == _DATETIME2:
            return self._call(_datetime2_reader(c.fsp), True)
        if t == _TIME2:
            return self._call(_time2_reader(c.fsp), False)
        if t == FIELD_TYPE.DATE:
            return self._call(_read_date, True)
        if t == FIELD_TYPE.BIT:
            return self._call(_bit_reader(c.bits, c.bytes), False)
        if t == FIELD_TYPE.ENUM:
            return self._call(_enum_reader(c.enum_values, c.size), True)
        if t == FIELD_TYPE.SET:
            return self._call(_set_reader(c.set_values, c.size), True)
        if t == FIELD_TYPE.JSON:
            return self._call(_json_reader(c.length_size), True)
        return None

    def _converted(self, lines: list[str], identity: bool, may_be_none: bool) -> list[str]:
        """``lines`` (which set the library's value) followed by the column's converter call, unless inlined."""
        if identity or self.convert is None:
            return lines
        i = self.i
        self.namespace[f"c{i}"] = self.convert
        if may_be_none:
            return [*lines, f"if v{i} is not None:", f"    v{i} = c{i}(v{i})"]
        return [*lines, f"v{i} = c{i}(v{i})"]

    def _call(self, reader: Callable[[bytes, int], tuple[Any, int]], may_be_none: bool) -> list[str]:
        i = self.i
        self.namespace[f"r{i}"] = reader
        return self._converted([f"v{i}, p = r{i}(d, p)"], self.convert is None, may_be_none)

    def _string(self, length_size: int, decode: bool) -> list[str] | None:
        """VARCHAR/CHAR/TEXT/BLOB (decoded with the column's charset, as the library) and GEOMETRY (bytes)."""
        i = self.i
        if length_size not in _LENGTH_READS:
            return None
        self.namespace["H"] = struct.Struct("<H").unpack_from
        self.namespace["I"] = struct.Struct("<I").unpack_from
        lines = [f"e = p + {length_size} + {_LENGTH_READS[length_size]}"]
        encoding = self._encoding() if decode else None
        if encoding is None:
            lines.append(f"v{i} = d[p + {length_size}:e]")
        else:
            utf8 = codecs.lookup(encoding).name == "utf-8" and self.errors == "strict"
            call = "decode()" if utf8 else f"decode({encoding!r}, {self.errors!r})"  # no-argument decode(): fastest
            lines.append(f"v{i} = d[p + {length_size}:e].{call}")
        lines.append("p = e")
        identity = self.convert is None or inline_form(self.convert) == "v"
        if encoding is not None and self.convert is mytypes._to_str:
            identity = True  # _to_str of a str is the str
        return self._converted(lines, identity, False)

    def _encoding(self) -> str | None:
        """The Python codec the library decodes this column with; None: it keeps the bytes (e.g. ``binary``)."""
        name = self.column.character_set_name
        if name is None:
            return "utf-8"
        encoding = _charset_encoding(name)
        try:
            codecs.lookup(encoding)
        except LookupError:
            return None
        return encoding

    def _decimal(self) -> list[str]:
        """DECIMAL: sign bit, then groups of 9 digits in 4 big-endian bytes (the leftover digits in 1-4 bytes)
        on each side of the point; a negative value has all bits inverted. Read as one integer, split by shifts."""
        c = self.column
        i = self.i
        precision, scale = c.precision, c.decimals
        whole, whole_rest = divmod(precision - scale, 9)
        frac, frac_rest = divmod(scale, 9)
        groups: list[tuple[int, int]] = []  # (bytes, digits), most significant first
        if _COMPRESSED_BYTES[whole_rest]:
            groups.append((_COMPRESSED_BYTES[whole_rest], whole_rest))
        groups += [(4, 9)] * (whole + frac)
        if _COMPRESSED_BYTES[frac_rest]:
            groups.append((_COMPRESSED_BYTES[frac_rest], frac_rest))
        size = sum(b for b, _ in groups)
        sign_bit = 1 << (8 * size - 1)
        expr = "0"
        shift = 8 * size
        for nbytes, digits in groups:
            shift -= 8 * nbytes
            part = f"(x >> {shift}) & {(1 << 8 * nbytes) - 1:#x}" if shift else f"x & {(1 << 8 * nbytes) - 1:#x}"
            expr = part if expr == "0" else f"({expr}) * {10**digits} + ({part})"
        lines = [
            f"x = from_bytes(d[p:p + {size}], 'big')",
            f"p += {size}",
            f"if x & {sign_bit:#x}:",
            f"    x ^= {sign_bit:#x}",
            "    n = False",
            "else:",
            f"    x ^= {sign_bit - 1:#x}",
            "    n = True",
            f"x = {expr}",
        ]
        self.namespace["from_bytes"] = int.from_bytes
        if self.convert is mytypes._decimal_bytes(scale):
            # decimal.handling.mode=precise at the table map's scale: the unscaled integer's two's complement.
            return [
                *lines,
                "if n:",
                "    x = -x",
                f"v{i} = x.to_bytes(((x if x >= 0 else ~x).bit_length() >> 3) + 1, 'big', signed=True)",
            ]
        self.namespace["decimal_value"] = _decimal_value
        return self._converted([*lines, f"v{i} = decimal_value(n, x, {scale})"], self.convert is None, False)

    def _timestamp2(self) -> list[str]:
        c = self.column
        i = self.i
        fsp = c.fsp
        if not 0 <= fsp <= 6:
            return self._call(_timestamp2_reader(fsp), False)
        lines = ["x = from_bytes(d[p:p + 4], 'big', signed=True)"]
        self.namespace["from_bytes"] = int.from_bytes
        if fsp:
            nbytes = _FSP_BYTES[fsp]
            fraction = f"from_bytes(d[p + 4:p + {4 + nbytes}], 'big', signed=True)"
            if fsp % 2:
                fraction = f"int({fraction} / 10)"
            lines.append(f"f = {fraction} * {10 ** (6 - fsp)}" if fsp < 6 else f"f = {fraction}")
        size = 4 + _FSP_BYTES[fsp]
        lines.append(f"p += {size}")
        if self.convert is mytypes._zoned_timestamp(fsp):
            # ZonedTimestamp: ISO-8601 UTC with exactly fsp fraction digits (truncated). The text up to the minute
            # comes from a small cache (rows of a transaction mostly share their minutes); seconds and fraction
            # are formatted: 2.7x faster than building a datetime and calling isoformat().
            self.namespace["minutes"] = _minute_prefixes
            self.namespace["minute_prefix"] = _minute_prefix
            lines += [
                "m = x // 60",
                "q = minutes.get(m)",
                "if q is None:",
                "    q = minute_prefix(m)",
            ]
            if not fsp:
                return [*lines, f'v{i} = f"{{q}}{{x - m * 60:02d}}Z"']
            digits = f"f // {10 ** (6 - fsp)}" if fsp < 6 else "f"
            return [
                *lines,
                "if f < 0:",
                "    f = 0",  # the library keeps microsecond 0 then
                f'v{i} = f"{{q}}{{x - m * 60:02d}}.{{{digits}:0{fsp}d}}Z"',
            ]
        self.namespace["utc"] = dt.datetime.utcfromtimestamp
        lines.append(f"v{i} = utc(x)")
        if fsp:
            lines += ["if f > 0:", f"    v{i} = v{i}.replace(microsecond=f)"]
        return self._converted(lines, self.convert is None, False)


def _charset_encoding(name: str) -> str:
    """The codec name the library uses for a MySQL character set (PyMySQL's table; the name itself if unknown)."""
    charset = charset_by_name(name)
    return str(charset.encoding) if charset else name


def _generate(columns: Sequence[Any], table: MySqlTable, update: bool, errors: str) -> RowsFunction | None:
    kept = dict(zip(table.captured.columns, table.captured.converters, strict=True))
    # A null result becomes the column default (replace.null.with.default) or a mapper's null value, as the
    # library path's row function does (cdc.mysql.tables._compile_dict_row).
    defaults = dict(zip(table.captured.columns, table.captured.null_defaults or (), strict=False))
    namespace: dict[str, Any] = {}
    body: list[str] = []
    null_bytes = (len(columns) + 7) // 8
    null_read = "d[p]" if null_bytes == 1 else f"from_bytes(d[p:p + {null_bytes}], 'little')"
    namespace["from_bytes"] = int.from_bytes
    image: list[str] = [f"b = {null_read}", f"p += {null_bytes}"]
    for i, column in enumerate(columns):
        name = column.name
        if not name:
            return None
        code = _Column(i, column, kept.get(str(name)) if str(name) in kept else None, errors)
        lines = code.lines()
        if lines is None:
            return None
        namespace.update(code.namespace)
        image.append(f"if b & {1 << i:#x}:")
        image.append(f"    v{i} = None")
        image.append("else:")
        image += [f"    {line}" for line in lines]
        if defaults.get(str(name)) is not None:
            namespace[f"n{i}"] = defaults[str(name)]
            image += [f"if v{i} is None:", f"    v{i} = n{i}"]
    by_name = {str(c.name): i for i, c in enumerate(columns)}
    if set(kept) - set(by_name):
        return None
    row = "{" + ", ".join(f"{name!r}: v{by_name[name]}" for name in table.captured.columns) + "}"
    body += ["out = []", "append = out.append", "while p < end:"]
    body += [f"    {line}" for line in image]
    body.append(f"    append({row})")
    if update:  # the after image follows the before image
        body += [f"    {line}" for line in image]
        body.append(f"    append({row})")
    body.append("return out, p")
    source = "def rows(d, p, end):\n" + "".join(f"    {line}\n" for line in body)
    exec(compile(source, f"<rows {table.captured.topic}>", "exec"), namespace)
    fn: RowsFunction = namespace["rows"]
    return fn


class RowDecoder:
    """The generated decoders of one (table-map version, table version): row images → Connect row dicts."""

    def __init__(self, columns: Sequence[Any], single: RowsFunction, double: RowsFunction) -> None:
        self.column_count = len(columns)
        self._all_columns = (1 << len(columns)) - 1
        self._single = single
        self._double = double
        self.decoded_events = 0
        self.fallbacks = 0

    def _fallback(self, event: Any, reason: str) -> None:
        """Count an event left to the library; say so once per decoder (the fast path is then not used for it)."""
        self.fallbacks += 1
        level = logging.INFO if self.fallbacks == 1 else logging.DEBUG
        log.log(level, "rows event of %s.%s parsed by the library (%s)", event.schema, event.table, reason)

    def _full(self, bitmap: bytes) -> bool:
        """A columns-present bitmap naming every column (a full row image). MySQL sets the unused high bits of
        the last byte too; MariaDB leaves them 0."""
        return int.from_bytes(bitmap, "little") & self._all_columns == self._all_columns

    def decode(self, event: Any) -> list[dict[str, Any]] | None:
        """The rows of ``event`` as Connect row dicts (an update's before and after alternate), or None when the
        library must read this event (see the module docstring). Called once per rows event, before anything
        touched ``event.rows``."""
        wrapper = event.packet
        if (
            not event.complete
            or event.number_of_columns != self.column_count
            or not self._full(event.columns_present_bitmap)
            or wrapper.__dict__.get("_BinLogPacketWrapper__data_buffer")
        ):
            self._fallback(event, "not a full row image")
            return None
        update = type(event) is UpdateRowsEvent
        if update and not self._full(event.columns_present_bitmap2):
            self._fallback(event, "not a full row image")
            return None
        packet = wrapper.packet
        data: bytes = packet._data
        start: int = packet._position
        end = start + event.event_size - wrapper.read_bytes
        try:
            rows, stop = (self._double if update else self._single)(data, start, end)
        except _DECODE_ERRORS as exc:
            self._fallback(event, f"decode error {exc!r}")
            return None
        if stop != end:
            self._fallback(event, f"decoded {stop - start} of {end - start} bytes")
            return None
        self.decoded_events += 1
        return rows


def compile_decoder(columns: Sequence[Any], table: MySqlTable, errors: str = "strict") -> RowDecoder | None:
    """A decoder for rows of a table map with ``columns`` (pymysqlreplication Column objects) read as the
    table version ``table``; None when a column type is not handled (the library then reads these rows).
    ``errors``: the text decode error handler the stream uses (the library's ``ignore_decode_errors``)."""
    single = _generate(columns, table, False, errors)
    double = _generate(columns, table, True, errors)
    if single is None or double is None:
        return None
    return RowDecoder(columns, single, double)


def column_signature(column: Any) -> tuple[Any, ...]:
    """Everything about a table-map column that the generated code depends on."""
    get = column.__dict__.get
    return (
        get("type"),
        get("name"),
        get("unsigned"),
        get("character_set_name"),
        get("max_length"),
        get("length_size"),
        get("precision"),
        get("decimals"),
        get("fsp"),
        get("bits"),
        get("bytes"),
        get("size"),
        tuple(get("enum_values") or ()),
        tuple(get("set_values") or ()),
    )


class DecoderCache:
    """Decoders by (table version, table-map column signature).

    The library builds a new table-map object for every transaction; compiling is ~1 ms, so decoders are kept
    per distinct column layout and table version (a handful per table over a run: one per ALTER)."""

    def __init__(self, errors: str = "strict") -> None:
        self.errors = errors
        self._decoders: dict[tuple[int, tuple[tuple[Any, ...], ...]], tuple[MySqlTable, RowDecoder | None]] = {}

    def get(self, columns: Sequence[Any], table: MySqlTable) -> RowDecoder | None:
        """The decoder for ``table`` read through a table map with ``columns`` (None: use the library)."""
        key = (id(table), tuple(column_signature(c) for c in columns))
        cached = self._decoders.get(key)
        if cached is not None and cached[0] is table:
            return cached[1]
        try:
            decoder = compile_decoder(columns, table, self.errors)
        except (AttributeError, TypeError, ValueError, SyntaxError) as exc:  # metadata the generator did not expect
            log.warning("no fast row decoder for %s (%r); the library parses its rows", table.captured.topic, exc)
            decoder = None
        self._decoders[key] = (table, decoder)
        return decoder
