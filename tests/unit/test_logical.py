"""Shared logical types (schemas.logical): schema choices per mode and the Python-value encoders.

Expected values are worked out by hand (two's complement, calendar arithmetic), not by the helpers themselves.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from schemas import logical as lt


def test_decimal_schema_per_mode() -> None:
    assert lt.decimal_schema("precise", 2, 10).to_json() == {
        "type": "bytes",
        "optional": False,
        "name": "org.apache.kafka.connect.data.Decimal",
        "version": 1,
        "parameters": {"scale": "2", "connect.decimal.precision": "10"},
    }
    assert lt.decimal_schema("precise", 2).parameters == {"scale": "2"}
    assert lt.decimal_schema("precise", None).name == "io.debezium.data.VariableScaleDecimal"
    assert lt.decimal_schema("double", 2, 10).type == "float64"
    assert lt.decimal_schema("string", None).type == "string"


def test_decimal_encoders() -> None:
    assert lt.decimal_bytes(Decimal("1.50"), 2) == b"\x00\x96"  # 150
    assert lt.decimal_bytes(Decimal("1.5"), 2) == b"\x00\x96"  # rescaled to the column's scale
    assert lt.decimal_bytes(Decimal("-0.05"), 2) == b"\xfb"  # -5
    assert lt.decimal_bytes(Decimal("-128"), 0) == b"\x80"
    assert lt.decimal_bytes(Decimal("128"), 0) == b"\x00\x80"
    assert lt.decimal_bytes(Decimal("NaN"), 2) is None
    assert lt.variable_scale_decimal(123400, 4) == {"scale": 2, "value": b"\x04\xd2"}  # 12.34 = 1234
    assert lt.java_double_string(12345678.9) == "1.23456789E7" and lt.java_double_string(0.5) == "0.5"


def test_temporal_choices() -> None:
    def pick(encoding: lt.TemporalEncoding) -> tuple[str | None, str]:
        return encoding.schema.name, encoding.unit

    assert pick(lt.time_encoding(3, "adaptive")) == ("io.debezium.time.Time", "milli")
    assert pick(lt.time_encoding(6, "adaptive")) == ("io.debezium.time.MicroTime", "micro")
    assert pick(lt.time_encoding(9, "adaptive")) == ("io.debezium.time.NanoTime", "nano")
    assert pick(lt.time_encoding(0, "adaptive_time_microseconds")) == ("io.debezium.time.MicroTime", "micro")
    assert pick(lt.time_encoding(6, "connect")) == ("org.apache.kafka.connect.data.Time", "milli")
    assert pick(lt.timestamp_encoding(0, "adaptive_time_microseconds")) == ("io.debezium.time.Timestamp", "milli")
    assert pick(lt.timestamp_encoding(5, "adaptive")) == ("io.debezium.time.MicroTimestamp", "micro")
    assert pick(lt.timestamp_encoding(6, "connect")) == ("org.apache.kafka.connect.data.Timestamp", "milli")
    assert lt.date_schema("adaptive").name == "io.debezium.time.Date"
    milli = lt.time_encoding(3, "adaptive").from_micros()
    assert milli is not None and milli(-1) == -1 and milli(1999) == 1  # floor division
    assert lt.time_encoding(6, "adaptive").from_micros() is None


def test_python_value_encoders() -> None:
    assert lt.epoch_days(dt.date(1970, 1, 1)) == 0 and lt.epoch_days(dt.date(1969, 12, 31)) == -1
    assert lt.days_from_civil(2024, 3, 1) == 19783 and lt.days_from_civil(0, 1, 1) == -719528
    assert lt.duration_micros(dt.timedelta(hours=-1, microseconds=5)) == -3_599_999_995
    assert lt.time_micros(dt.time(13, 14, 15, 123)) == 47_655_000_123
    assert lt.timestamp_micros(dt.datetime(1970, 1, 2, 0, 0, 0, 7)) == 86_400_000_007
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert lt.timestamp_micros(dt.datetime(1970, 1, 1, 2, 0, tzinfo=plus2)) == 0
    assert (
        lt.zoned_timestamp(dt.datetime(2024, 1, 2, 5, 4, 5, 500000, tzinfo=plus2), 6) == "2024-01-02T03:04:05.500000Z"
    )
    assert lt.zoned_timestamp(dt.datetime(2024, 1, 2, 3, 4, 5, 500000), 0) == "2024-01-02T03:04:05.5Z"
    assert lt.zoned_timestamp(dt.datetime(2024, 1, 2, 3, 4, 5), 0) == "2024-01-02T03:04:05Z"


def test_structured_form() -> None:
    decimal = lt.decimal_schema("precise", 2)
    assert lt.to_structured(decimal, b"\xfb") == Decimal("-0.05")
    assert lt.to_structured(lt.date_schema("connect"), -1) == dt.date(1969, 12, 31)
    assert lt.to_structured(lt.time_encoding(0, "connect").schema, 3_600_001) == dt.time(1, 0, 0, 1000)
    assert lt.to_structured(lt.timestamp_encoding(0, "connect").schema, 1500) == dt.datetime(
        1970, 1, 1, 0, 0, 1, 500000, tzinfo=dt.UTC
    )
    assert lt.to_structured(lt.date_schema("adaptive"), 5) == 5  # Debezium's own types stay primitive
