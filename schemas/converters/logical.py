"""Kafka Connect's own logical types, between their in-memory form and their wire primitive.

Connect defines four logical types that change the in-memory value (``schemas.record``): ``Decimal`` (wire: the
unscaled value as big-endian two's complement bytes, scale in the ``scale`` parameter), ``Date`` (int32 days since
the epoch), ``Time`` (int32 milliseconds since midnight) and ``Timestamp`` (int64 milliseconds since the epoch).
Every converter (JSON, Avro) goes through these functions; Debezium's logical types (``io.debezium.time.*`` …)
keep their primitive and need nothing here.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import struct
from typing import Any

DECIMAL = "org.apache.kafka.connect.data.Decimal"
DATE = "org.apache.kafka.connect.data.Date"
TIME = "org.apache.kafka.connect.data.Time"
TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
LOGICAL_NAMES = frozenset({DECIMAL, DATE, TIME, TIMESTAMP})

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DATE = dt.date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH_DATE.toordinal()
_MS = dt.timedelta(milliseconds=1)
# Decimal arithmetic in the default context rounds to 28 digits; Connect decimals can be longer (numeric(38,10),
# unconstrained numeric), so scaling uses a context wide enough to be exact.
EXACT = decimal.Context(prec=10_000)
_F32 = struct.Struct("<f")


def float32_value(value: float) -> float:
    """``value`` as Connect's JsonConverter writes a FLOAT32 (a ``java.lang.Float`` through Jackson): rounded to
    float32, then the shortest decimal digits that read back as that float32 (``0.1f`` → ``0.1``, not the
    ``0.10000000149011612`` its double widening prints). Returned as the Python float of those digits, which
    orjson writes with exactly those digits."""
    try:
        single: float = _F32.unpack(_F32.pack(value))[0]
    except OverflowError:  # beyond float32: left as given
        return value
    if single == 0 or not math.isfinite(single):
        return single if single == 0 else value  # inf/nan: left as they were given
    # Java (JDK 19+ Float.toString) never prints fewer than two digits: among two-digit decimals it takes the
    # closest (1.4E-45, not 1E-45); one digit that is exact (0.1, 2.0) is the same number either way.
    for digits in range(2, 10):  # 9 significant digits always identify a float32
        shortest = float(f"{single:.{digits}g}")
        try:
            if _F32.unpack(_F32.pack(shortest))[0] == single:
                return shortest
        except OverflowError:  # rounded up past the largest float32
            continue
    return single


def decimal_scale(parameters: dict[str, str] | None) -> int:
    """The ``scale`` parameter of a Decimal schema (0 when absent, as Connect assumes)."""
    if not parameters:
        return 0
    return int(parameters.get("scale", "0"))


def decimal_to_bytes(value: decimal.Decimal | int | float, scale: int) -> bytes:
    """The unscaled value of ``value`` at ``scale`` as BigInteger.toByteArray() writes it (minimal length)."""
    if not isinstance(value, decimal.Decimal):
        value = decimal.Decimal(str(value))
    unscaled = int(value.scaleb(scale, EXACT).to_integral_value(rounding=decimal.ROUND_HALF_UP, context=EXACT))
    magnitude = unscaled if unscaled >= 0 else ~unscaled
    return unscaled.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)


def bytes_to_decimal(data: bytes, scale: int) -> decimal.Decimal:
    """The Decimal whose unscaled two's complement bytes are ``data``."""
    unscaled = int.from_bytes(data, "big", signed=True)
    return decimal.Decimal(unscaled).scaleb(-scale, EXACT)


def date_to_days(value: dt.date) -> int:
    """Days since 1970-01-01."""
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.toordinal() - _EPOCH_ORDINAL


def days_to_date(days: int) -> dt.date:
    """The date ``days`` after 1970-01-01."""
    return dt.date.fromordinal(days + _EPOCH_ORDINAL)


def time_to_millis(value: dt.time) -> int:
    """Milliseconds since midnight (sub-millisecond digits dropped, as Connect's java.util.Date holds ms)."""
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000


def millis_to_time(millis: int) -> dt.time:
    """The time of day ``millis`` after midnight (Connect's Time is UTC-based)."""
    seconds, ms = divmod(int(millis), 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return dt.time(hour % 24, minute, second, ms * 1000)


def timestamp_to_millis(value: dt.datetime) -> int:
    """Milliseconds since the epoch; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH) // _MS


def millis_to_timestamp(millis: int) -> dt.datetime:
    """The UTC datetime ``millis`` after the epoch."""
    return _EPOCH + dt.timedelta(milliseconds=int(millis))


def to_wire(name: str, parameters: dict[str, str] | None, value: Any) -> Any:
    """The wire primitive of a Connect logical value (``value`` already primitive is returned unchanged)."""
    if name == DECIMAL:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        return decimal_to_bytes(value, decimal_scale(parameters))
    if name == DATE:
        return date_to_days(value) if isinstance(value, dt.date) else value
    if name == TIME:
        return time_to_millis(value) if isinstance(value, dt.time) else value
    if name == TIMESTAMP:
        return timestamp_to_millis(value) if isinstance(value, dt.datetime) else value
    return value


def from_wire(name: str, parameters: dict[str, str] | None, value: Any) -> Any:
    """The in-memory value of a Connect logical type from its wire primitive."""
    if name == DECIMAL:
        if isinstance(value, decimal.Decimal):
            return value
        if isinstance(value, (int, float)):
            return decimal.Decimal(str(value))
        return bytes_to_decimal(value, decimal_scale(parameters))
    if name == DATE:
        return days_to_date(value)
    if name == TIME:
        return millis_to_time(value)
    if name == TIMESTAMP:
        return millis_to_timestamp(value)
    return value
