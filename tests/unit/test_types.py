"""PostgreSQL text values → Connect values and schemas (cdc.postgres.types), without a server.

Expected values are derived independently (calendar arithmetic, two's complement by hand, Debezium's documented
rules in docs/debezium-postgres-format-notes.md), not by re-running the engine's own helpers.
"""

from __future__ import annotations

from typing import Any

import pytest

from cdc.postgres import types as t
from cdc.postgres.types import PgType, TypeMapper, parse_array
from schemas.connect import Schema

MOOD = PgType(16400, "mood", "e", "E", 0, 0, -1, ("sad", "ok", "happy"))
TYPES = {
    1007: PgType(1007, "_int4", "b", "A", t.INT4, 0, -1),
    1009: PgType(1009, "_text", "b", "A", t.TEXT, 0, -1),
    1231: PgType(1231, "_numeric", "b", "A", t.NUMERIC, 0, -1),
    1182: PgType(1182, "_date", "b", "A", t.DATE, 0, -1),
    16400: MOOD,
    16401: PgType(16401, "_mood", "b", "A", 16400, 0, -1),
    16500: PgType(16500, "posint", "d", "N", 0, t.INT4, -1),
    16501: PgType(16501, "price", "d", "N", 0, t.NUMERIC, (8 << 16 | 3) + 4),
    16600: PgType(16600, "ltree", "b", "U", 0, 0, -1),
}


def mapper(decimal: str = "precise", time: str = "adaptive") -> TypeMapper:
    return TypeMapper(decimal, time, TYPES.get)


def numeric_typmod(precision: int, scale: int) -> int:
    return (precision << 16 | scale) + 4


def convert(oid: int, text: str, typmod: int = -1, **modes: str) -> Any:
    return mapper(**modes).map(oid, typmod).convert(text)


def schema_json(oid: int, typmod: int = -1, **modes: str) -> dict[str, Any]:
    return mapper(**modes).map(oid, typmod).schema.to_json()


# ---------------------------------------------------------------------------------------------------------------
# arrays


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}", []),
        ("{1,2,3}", ["1", "2", "3"]),
        ("{-1,NULL,0}", ["-1", None, "0"]),
        ('{"NULL",NULL}', ["NULL", None]),  # quoted NULL is the string, bare NULL is SQL NULL
        ('{"a b","",x}', ["a b", "", "x"]),
        ('{"q\\"uote","back\\\\slash"}', ['q"uote', "back\\slash"]),
        ('{"a,b","{x}","}"}', ["a,b", "{x}", "}"]),
        ("{{1,2},{3,NULL}}", [["1", "2"], ["3", None]]),
        ('{{"a"},{"b"}}', [["a"], ["b"]]),
        ("{{{1}}}", [[["1"]]]),
        ("{2024-01-02,infinity}", ["2024-01-02", "infinity"]),
        ("[0:1]={5,6}", ["5", "6"]),  # explicit lower bounds are dropped
        ("[1:1][1:2]={{7,8}}", [["7", "8"]]),
        ("{ 1 , 2 }", ["1", "2"]),
    ],
)
def test_parse_array(text: str, expected: list[Any]) -> None:
    assert parse_array(text) == expected


@pytest.mark.parametrize("text", ["1,2", "{1,2}x", "{1,2"])
def test_parse_array_rejects_malformed(text: str) -> None:
    with pytest.raises((ValueError, IndexError)):
        parse_array(text)


def test_array_converters_and_schemas() -> None:
    assert convert(1007, "{1,NULL,-3}") == [1, None, -3]
    assert convert(1009, '{"a b",NULL,"NULL"}') == ["a b", None, "NULL"]
    assert convert(1182, "{1970-01-02,NULL}") == [1, None]
    assert schema_json(1007) == {"type": "array", "items": {"type": "int32", "optional": True}, "optional": False}
    # element typmod is the column's: numeric(5,2)[] elements are Decimal(5,2)
    assert convert(1231, "{1.50,-0.01}", numeric_typmod(5, 2)) == [b"\x00\x96", b"\xff"]
    assert schema_json(1231, numeric_typmod(5, 2))["items"] == {
        "type": "bytes",
        "optional": True,
        "name": "org.apache.kafka.connect.data.Decimal",
        "version": 1,
        "parameters": {"scale": "2", "connect.decimal.precision": "5"},
    }


def test_enum_domain_and_unknown_types() -> None:
    assert schema_json(16400) == {
        "type": "string",
        "optional": False,
        "name": "io.debezium.data.Enum",
        "version": 1,
        "parameters": {"allowed": "sad,ok,happy"},
    }
    assert convert(16400, "ok") == "ok"
    assert convert(16401, "{sad,happy}") == ["sad", "happy"]
    assert schema_json(16401)["items"]["name"] == "io.debezium.data.Enum"
    # domains map like their base type, including the base typmod
    assert schema_json(16500) == {"type": "int32", "optional": False}
    assert convert(16500, "42") == 42
    assert convert(16501, "1.500") == b"\x05\xdc"  # numeric(8,3): unscaled 1500
    # ltree is io.debezium.data.Ltree (text), as Debezium 3.6 writes it
    assert schema_json(16600) == {"type": "string", "optional": False, "name": "io.debezium.data.Ltree", "version": 1}
    assert convert(16600, "a.b.c") == "a.b.c"
    # types nobody knows travel as their text form
    assert schema_json(999_999) == {"type": "string", "optional": False}


# ---------------------------------------------------------------------------------------------------------------
# decimals


@pytest.mark.parametrize(
    ("unscaled", "expected"),
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x00\x80"),  # the high bit would read as negative: one more byte
        (255, b"\x00\xff"),
        (256, b"\x01\x00"),
        (-1, b"\xff"),
        (-128, b"\x80"),
        (-129, b"\xff\x7f"),
        (-32768, b"\x80\x00"),
        (-32769, b"\xff\x7f\xff"),
        (10**20, bytes.fromhex("056bc75e2d63100000")),
        (-(10**20), bytes.fromhex("fa9438a1d29cf00000")),
    ],
)
def test_unscaled_bytes_are_minimal_twos_complement(unscaled: int, expected: bytes) -> None:
    assert t._unscaled_bytes(unscaled) == expected


def test_fixed_scale_numeric() -> None:
    typmod = numeric_typmod(10, 2)
    assert schema_json(typmod=typmod, oid=t.NUMERIC) == {
        "type": "bytes",
        "optional": False,
        "name": "org.apache.kafka.connect.data.Decimal",
        "version": 1,
        "parameters": {"scale": "2", "connect.decimal.precision": "10"},
    }
    assert convert(t.NUMERIC, "1200.00", typmod) == b"\x01\xd4\xc0"  # "AdTA" in the notes
    assert convert(t.NUMERIC, "0.00", typmod) == b"\x00"  # "AA=="
    assert convert(t.NUMERIC, "-1234.50", typmod) == b"\xfe\x1d\xc6"
    assert convert(t.NUMERIC, "NaN", typmod) is None


@pytest.mark.parametrize(
    ("text", "scale", "value"),
    [
        ("12.3400", 2, b"\x04\xd2"),  # trailing zeros stripped: 12.34
        ("100", 0, b"\x64"),  # no negative scale: stays 100 at scale 0
        ("100.000", 0, b"\x64"),
        ("0.000", 0, b"\x00"),
        ("-0.50", 1, b"\xfb"),  # -5 at scale 1
        ("0.001", 3, b"\x01"),
        ("-98765432109876543210.123", 3, (-98765432109876543210123).to_bytes(10, "big", signed=True)),
    ],
)
def test_variable_scale_numeric(text: str, scale: int, value: bytes) -> None:
    assert convert(t.NUMERIC, text) == {"scale": scale, "value": value}


def test_variable_scale_numeric_schema_and_special_values() -> None:
    assert schema_json(t.NUMERIC) == {
        "type": "struct",
        "fields": [
            {"type": "int32", "optional": False, "field": "scale"},
            {"type": "bytes", "optional": False, "field": "value"},
        ],
        "optional": False,
        "name": "io.debezium.data.VariableScaleDecimal",
        "version": 1,
        "doc": "Variable scaled decimal",
    }
    for special in ("NaN", "Infinity", "-Infinity"):  # PostgreSQL 14+ numeric infinities must not crash
        assert convert(t.NUMERIC, special) is None
        assert convert(t.NUMERIC, special, numeric_typmod(10, 2)) is None


def test_numeric_in_double_and_string_modes() -> None:
    typmod = numeric_typmod(10, 2)
    assert schema_json(t.NUMERIC, typmod, decimal="double") == {"type": "double", "optional": False}
    assert schema_json(t.NUMERIC, decimal="double") == {"type": "double", "optional": False}
    assert convert(t.NUMERIC, "-1234.50", typmod, decimal="double") == -1234.5
    # Debezium 3.6 (tests/conformance): NaN as the JSON string "NaN" in double mode, "NAN" in string mode
    assert convert(t.NUMERIC, "NaN", decimal="double") == "NaN"
    assert convert(t.NUMERIC, "NaN", decimal="string") == "NAN"
    assert schema_json(t.NUMERIC, typmod, decimal="string") == {"type": "string", "optional": False}
    assert convert(t.NUMERIC, "-1234.50", typmod, decimal="string") == "-1234.50"
    assert convert(t.NUMERIC, "12.3400", decimal="string") == "12.3400"


def test_money_in_every_decimal_mode() -> None:
    assert schema_json(t.MONEY) == {
        "type": "bytes",
        "optional": False,
        "name": "org.apache.kafka.connect.data.Decimal",
        "version": 1,
        "parameters": {"scale": "2"},
    }
    assert convert(t.MONEY, "-$1,234.56") == b"\xfe\x1d\xc0"
    assert convert(t.MONEY, "$0.00") == b"\x00"
    assert convert(t.MONEY, "($5.00)") == (-500).to_bytes(2, "big", signed=True)
    assert schema_json(t.MONEY, decimal="double") == {"type": "double", "optional": False}
    assert convert(t.MONEY, "-$1,234.56", decimal="double") == -1234.56
    assert schema_json(t.MONEY, decimal="string") == {"type": "string", "optional": False}
    # Debezium reads money as a Java double and prints it with Double.toString.
    assert convert(t.MONEY, "-$1,234.56", decimal="string") == "-1234.56"
    assert convert(t.MONEY, "$5.00", decimal="string") == "5.0"
    assert convert(t.MONEY, "$12,345,678.90", decimal="string") == "1.23456789E7"


def test_debezium_3_6_special_types() -> None:
    """Values as the real Debezium 3.6.3 wrote them in the differential run (tests/conformance)."""
    assert convert(t.FLOAT8, "Infinity") == "Infinity"
    assert convert(t.FLOAT4, "NaN") == "NaN"
    assert convert(t.FLOAT8, "2.25") == 2.25
    assert schema_json(t.BIT, 1) == {"type": "boolean", "optional": False}
    assert convert(t.BIT, "1", 1) is True
    assert convert(t.BIT, "10100101", 8) == b"\xa5"  # "pQ==" in Debezium's record
    assert convert(t.VARBIT, "101", 16) == b"\x05"
    assert convert(t.BIT, "00000000", 8) == b""
    assert schema_json(t.VARBIT, 16)["parameters"] == {"length": "16"}
    point = convert(t.POINT, "(1.5,2.5)")
    assert point["x"] == 1.5 and point["srid"] is None
    assert point["wkb"] == bytes.fromhex("0101000000000000000000f83f0000000000000440")
    assert t.TypeMapper("precise", "adaptive", lambda oid: None).map(603, -1) is None  # box: unknown, dropped


def test_float_schemas_use_connect_json_type_names() -> None:
    # JsonConverter spells FLOAT32/FLOAT64 as "float"/"double".
    assert schema_json(t.FLOAT4) == {"type": "float", "optional": False}
    assert schema_json(t.FLOAT8) == {"type": "double", "optional": False}
    assert Schema("float64", optional=True).to_json() == {"type": "double", "optional": True}
    assert convert(t.FLOAT4, "-1.5") == -1.5
    assert convert(t.FLOAT8, "3.141592653589793") == 3.141592653589793


def test_scalar_basics() -> None:
    assert convert(t.BOOL, "t") is True and convert(t.BOOL, "f") is False
    assert convert(t.INT2, "-32768") == -32768
    assert convert(t.INT8, "-9223372036854775808") == -9223372036854775808
    assert convert(t.BYTEA, "\\x00ff10") == b"\x00\xff\x10"
    assert convert(t.BYTEA, "\\x") == b""
    assert convert(t.BPCHAR, "ab ") == "ab "
    assert schema_json(t.UUID) == {"type": "string", "optional": False, "name": "io.debezium.data.Uuid", "version": 1}
    assert schema_json(t.JSONB)["name"] == "io.debezium.data.Json"


# ---------------------------------------------------------------------------------------------------------------
# dates and times


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("1970-01-01", 0),
        ("1970-01-02", 1),
        ("1969-12-31", -1),
        ("1969-07-20", -165),
        ("2000-02-29", 11016),  # 30 years incl. 7 leap days + Jan (31) + 28 days
        ("0001-01-01", -719162),
        ("0001-01-01 BC", -719528),  # 1 BC is astronomical year 0, a leap year: 366 days earlier
        ("10000-01-01", 2932897),  # five-digit years
    ],
)
def test_date_days(text: str, days: int) -> None:
    assert convert(t.DATE, text) == days
    assert convert(t.DATE, text, time="connect") == days


def test_date_schemas() -> None:
    assert schema_json(t.DATE) == {"type": "int32", "optional": False, "name": "io.debezium.time.Date", "version": 1}
    assert schema_json(t.DATE, time="connect")["name"] == "org.apache.kafka.connect.data.Date"


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("00:00:00", 0),
        ("00:00:00.000001", 1),
        ("13:14:15.123456", 47655123456),
        ("13:14:15.5", 47655500000),
        ("23:59:59.999999", 86399999999),
        ("24:00:00", 86400000000),
    ],
)
def test_time_micros(text: str, micros: int) -> None:
    assert convert(t.TIME, text) == micros  # time / time(6): MicroTime
    assert convert(t.TIME, text, 3) == micros // 1000  # time(3): Time in ms
    assert convert(t.TIME, text, time="connect") == micros // 1000


def test_time_schemas_per_precision_and_mode() -> None:
    def name(typmod: int, mode: str = "adaptive") -> tuple[str, str]:
        s = schema_json(t.TIME, typmod, time=mode)
        return s["type"], s["name"]

    assert name(-1) == ("int64", "io.debezium.time.MicroTime")
    assert name(6) == ("int64", "io.debezium.time.MicroTime")
    assert name(4) == ("int64", "io.debezium.time.MicroTime")
    assert name(3) == ("int32", "io.debezium.time.Time")
    assert name(0) == ("int32", "io.debezium.time.Time")
    assert name(-1, "connect") == ("int32", "org.apache.kafka.connect.data.Time")
    # adaptive_time_microseconds: time is always MicroTime; dates and timestamps stay adaptive
    assert name(3, "adaptive_time_microseconds") == ("int64", "io.debezium.time.MicroTime")
    assert convert(t.TIME, "13:14:15.123", 3, time="adaptive_time_microseconds") == 47655123000
    assert schema_json(t.TIMESTAMP, 3, time="adaptive_time_microseconds")["name"] == "io.debezium.time.Timestamp"
    # and the connector hands that mode to the mapper unchanged
    from cdc.postgres.source import _time_mode

    assert [_time_mode(m) for m in ("adaptive", "adaptive_time_microseconds", "connect")] == [
        "adaptive",
        "adaptive_time_microseconds",
        "connect",
    ]


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("1970-01-01 00:00:00", 0),
        ("1969-12-31 23:59:59.999999", -1),
        ("1969-12-31 23:59:58.5", -1500000),
        ("2024-02-29 12:00:00.789", 1709208000789000),
        ("2038-01-19 03:14:08", 2147483648000000),
        ("0001-01-01 00:00:00", -62135596800000000),
        ("0001-12-31 23:00:00 BC", (-719528 + 365) * 86400000000 + 23 * 3600000000),  # Dec 31 of year 0
    ],
)
def test_timestamp_micros_and_millis(text: str, micros: int) -> None:
    assert convert(t.TIMESTAMP, text) == micros
    assert convert(t.TIMESTAMP, text, 3) == micros // 1000  # timestamp(3): Timestamp in ms (floor)
    assert convert(t.TIMESTAMP, text, time="connect") == micros // 1000


def test_timestamp_schemas() -> None:
    assert schema_json(t.TIMESTAMP)["name"] == "io.debezium.time.MicroTimestamp"
    assert schema_json(t.TIMESTAMP, 6)["name"] == "io.debezium.time.MicroTimestamp"
    assert schema_json(t.TIMESTAMP, 3)["name"] == "io.debezium.time.Timestamp"
    assert schema_json(t.TIMESTAMP, time="connect") == {
        "type": "int64",
        "optional": False,
        "name": "org.apache.kafka.connect.data.Timestamp",
        "version": 1,
    }


@pytest.mark.parametrize(
    ("text", "typmod", "expected"),
    [
        ("2024-02-29 10:00:00.5+00", -1, "2024-02-29T10:00:00.500000Z"),
        ("2024-02-29 10:00:00+00", -1, "2024-02-29T10:00:00.000000Z"),
        ("2024-02-29 10:00:00.123456+00", -1, "2024-02-29T10:00:00.123456Z"),
        ("2024-02-29 10:00:00.5+00", 3, "2024-02-29T10:00:00.500Z"),
        ("2024-02-29 10:00:00+00", 0, "2024-02-29T10:00:00Z"),
        ("1969-12-31 23:59:59.999999+00", -1, "1969-12-31T23:59:59.999999Z"),
        # not UTC (session time zone changed): normalized to UTC
        ("2024-01-02 03:04:05.123+05:30", -1, "2024-01-01T21:34:05.123000Z"),
        ("infinity", -1, "infinity"),
        ("-infinity", -1, "-infinity"),
    ],
)
def test_zoned_timestamp(text: str, typmod: int, expected: str) -> None:
    assert convert(t.TIMESTAMPTZ, text, typmod) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13:14:15.5+02", "11:14:15.5Z"),
        ("12:00:00+00", "12:00:00Z"),
        ("12:00:00.123456+00", "12:00:00.123456Z"),
        ("12:00:00.12+00", "12:00:00.12Z"),
        ("00:30:00-01:30", "02:00:00Z"),
        ("23:00:00-02", "01:00:00Z"),  # wraps past midnight
        ("01:00:00+02", "23:00:00Z"),  # wraps backwards
        ("10:00:00+05:30:15", "04:29:45Z"),
    ],
)
def test_zoned_time(text: str, expected: str) -> None:
    assert convert(t.TIMETZ, text) == expected


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("PT0S", 0),
        ("PT1S", 1_000_000),
        ("PT0.000001S", 1),
        ("PT-0.5S", -500_000),
        ("P1D", 86_400_000_000),
        ("P-1DT-1.5S", -86_401_500_000),
        ("P1Y", 31_557_600_000_000),  # 365.25 days
        ("P1M", 2_629_800_000_000),  # 30.4375 days
        ("P1Y2M-3DT4H5M6.5S", 36_572_706_500_000),
        ("PT-4H-5M", -14_700_000_000),
    ],
)
def test_interval_micro_duration(text: str, micros: int) -> None:
    assert convert(t.INTERVAL, text) == micros


def test_interval_rejects_non_iso_text() -> None:
    assert schema_json(t.INTERVAL)["name"] == "io.debezium.time.MicroDuration"
    with pytest.raises(ValueError, match="unparseable interval"):
        convert(t.INTERVAL, "1 day 02:00:00")
