"""Numbers written and read exactly as Kafka Connect does: Decimals of any precision (never rounded to the default
decimal context's 28 digits, never through a float with ``decimal.format=NUMERIC``) and FLOAT32 values with the
digits of a Java ``Float``, not of its double widening."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from cdc.mysql.types import _decimal_bytes, _to_float32
from schemas.connect import Field, Schema, struct
from schemas.converters.connect_json import JsonConverter
from schemas.converters.logical import bytes_to_decimal, decimal_to_bytes, float32_value

LONG = [
    (Decimal("1234567890123456789012345678.0123456789"), 10),  # NUMERIC(38,10)
    (Decimal("-99999999999999999999999999999999999999999999999999.9999999999"), 10),  # precision 60
    (Decimal("12345678901234567890123456789012345.123456789012345678901234567890"), 30),  # DECIMAL(65,30)
    (Decimal("0.000000000000000000000000000000000001"), 36),
]


def decimal_schema(scale: int) -> Schema:
    return Schema("bytes", name="org.apache.kafka.connect.data.Decimal", parameters={"scale": str(scale)})


def converter(**props: str) -> JsonConverter:
    conv = JsonConverter()
    conv.configure(props, False)
    return conv


@pytest.mark.parametrize(("value", "scale"), LONG)
def test_decimal_bytes_round_trip_beyond_28_digits(value: Decimal, scale: int) -> None:
    assert bytes_to_decimal(decimal_to_bytes(value, scale), scale) == value
    assert bytes_to_decimal(_decimal_bytes(scale)(value), scale) == value  # the MySQL source's column converter
    assert _decimal_bytes(scale)(value) == decimal_to_bytes(value, scale)


@pytest.mark.parametrize("decimal_format", ["BASE64", "NUMERIC"])
@pytest.mark.parametrize(("value", "scale"), LONG)
def test_json_decimals_round_trip_exactly(value: Decimal, scale: int, decimal_format: str) -> None:
    schema = struct("s", [Field("n", decimal_schema(scale)), Field("f", Schema("float64"))])
    conv = converter(**{"decimal.format": decimal_format})
    data = conv.from_connect("t", schema, {"n": value, "f": 0.5}, [])
    assert data is not None
    if decimal_format == "NUMERIC":
        assert f'"n":{value}'.encode() in data  # the exact digits as a JSON number (BigDecimal.toString)
    # Read twice: the second read takes the cached-schema fast path.
    for _ in range(2):
        schema_out, got = conv.to_connect("t", data, [])
        assert got == {"n": value, "f": 0.5} and type(got["f"]) is float
        assert schema_out is not None and schema_out.fields[0].schema.name == "org.apache.kafka.connect.data.Decimal"


def test_numeric_decimal_from_wire_bytes_and_json_forms() -> None:
    """A NUMERIC Decimal written from the wire bytes a source hands over (not only from a Python Decimal)."""
    schema = struct("s", [Field("n", decimal_schema(2))])
    conv = converter(**{"decimal.format": "NUMERIC"})
    assert conv.from_connect("t", schema, {"n": decimal_to_bytes(Decimal("-12.50"), 2)}, [])
    data = conv.from_connect("t", schema, {"n": decimal_to_bytes(Decimal("-12.50"), 2)}, [])
    assert data is not None and data.endswith(b'"payload":{"n":-12.50}}')
    tiny = conv.from_connect("t", struct("s", [Field("n", decimal_schema(10))]), {"n": Decimal("1E-10")}, [])
    assert tiny is not None and tiny.endswith(b'{"n":1E-10}}')  # Java's BigDecimal.toString form


@pytest.mark.parametrize(
    ("given", "written"),
    [
        (0.10000000149011612, b"0.1"),  # 0.1f as a double (Avro float, binlog FLOAT)
        (0.1, b"0.1"),
        (1 / 3, b"0.33333334"),
        (123456.789, b"123456.79"),
        (16777217.0, b"16777216.0"),  # not representable in float32
        (3.4028234663852886e38, b"3.4028235e+38"),
        (1.401298464324817e-45, b"1.4e-45"),  # Float.MIN_VALUE: Java prints two digits
        (-2.5, b"-2.5"),
        (0.0, b"0.0"),
        (7, b"7.0"),
    ],
)
def test_float32_is_written_with_float32_digits(given: Any, written: bytes) -> None:
    schema = struct("s", [Field("f", Schema("float32")), Field("d", Schema("float64"))])
    data = converter().from_connect("t", schema, {"f": given, "d": 0.10000000149011612}, [])
    assert data is not None
    assert data.endswith(b'"payload":{"f":' + written + b',"d":0.10000000149011612}}')  # float64 untouched
    assert orjson.dumps(float32_value(float(given))) == written


def test_mysql_binlog_float_is_written_as_its_float32() -> None:
    assert orjson.dumps(_to_float32(0.10000000149011612)) == b"0.1"
    assert orjson.dumps(_to_float32(0.5)) == b"0.5"
