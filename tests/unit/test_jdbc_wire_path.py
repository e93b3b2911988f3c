"""The JDBC sink's wire fast path (``ChangeMapper._wire_change``: a ``WireRecord``'s JSON payload straight to the
row tuple) against the general path (the same bytes through ``JsonConverter.to_connect`` into a ``ConnectRecord``):
the same change (table, op, column values, key) or the same error, for every column kind the sink maps, random
values with NULLs, both database families, every ``primary.key.mode`` and ``replace.null.with.default`` setting,
and hand-made payloads the fast path must hand back to the general path (wrong types, inexact NUMERIC decimals,
nulls in required fields, deletes, truncates, tombstones)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import orjson
import pytest

from cdc.config import load_engine_config
from schemas.connect import Field, Schema, struct
from schemas.converters.base import ConversionError, WireDecodeError
from schemas.converters.connect_json import JsonConverter
from schemas.envelope import envelope_schema
from schemas.record import ConnectRecord, WireRecord
from sinks.jdbc.records import Change, ChangeMapper

TOPIC = "srv.public.things"
DBZ = "io.debezium."
CONNECT = "org.apache.kafka.connect.data."


def _s(typ: str, name: str | None = None, **kw: Any) -> Schema:
    return Schema(typ, optional=kw.pop("optional", True), name=name, **kw)


COLUMNS = [
    Field("id", Schema("int64")),
    Field("code", Schema("string")),
    Field("i8", _s("int8")),
    Field("i16", _s("int16")),
    Field("i32", _s("int32")),
    Field("f32", _s("float32")),
    Field("f64", _s("float64")),
    Field("flag", _s("boolean")),
    Field("note", _s("string")),
    Field("note_def", _s("string", default="n/a")),
    Field("count_def", _s("int32", default=7)),
    Field("raw", _s("bytes")),
    Field("price", _s("bytes", CONNECT + "Decimal", version=1, parameters={"scale": "2"})),
    Field(
        "vsd",
        struct(
            DBZ + "data.VariableScaleDecimal",
            [Field("scale", Schema("int32")), Field("value", Schema("bytes"))],
            optional=True,
        ),
    ),
    Field("day", _s("int32", DBZ + "time.Date")),
    Field("t_ms", _s("int32", DBZ + "time.Time")),
    Field("t_us", _s("int64", DBZ + "time.MicroTime")),
    Field("ts_ms", _s("int64", DBZ + "time.Timestamp")),
    Field("ts_us", _s("int64", DBZ + "time.MicroTimestamp")),
    Field("ts_ns", _s("int64", DBZ + "time.NanoTimestamp")),
    Field("zts", _s("string", DBZ + "time.ZonedTimestamp")),
    Field("ztime", _s("string", DBZ + "time.ZonedTime")),
    Field("dur", _s("int64", DBZ + "time.MicroDuration")),
    Field("c_date", _s("int32", CONNECT + "Date", version=1)),
    Field("c_time", _s("int32", CONNECT + "Time", version=1)),
    Field("c_ts", _s("int64", CONNECT + "Timestamp", version=1)),
    Field("doc", _s("string", DBZ + "data.Json")),
    Field("tags", Schema("array", optional=True, items=Schema("int32"))),
    Field("attrs", Schema("map", optional=True, keys=Schema("string"), items=_s("string"))),
]
ROW = struct(f"{TOPIC}.Value", COLUMNS)
SOURCE = struct("io.debezium.connector.postgresql.Source", [Field("table", Schema("string"))])
ENVELOPE = envelope_schema(TOPIC, ROW, SOURCE)
KEYS = {
    "in_row": struct(f"{TOPIC}.Key", [Field("id", Schema("int64")), Field("code", Schema("string"))]),
    "extra": struct(f"{TOPIC}.Key", [Field("id", Schema("int64")), Field("tenant", Schema("string"))]),
}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _value(name: str, rnd: random.Random) -> Any:
    """A random Connect value for column ``name`` (None for about one in five optional columns)."""
    field = next(f for f in COLUMNS if f.name == name)
    if field.schema.optional and rnd.random() < 0.2:
        return None
    match name:
        case "id":
            return rnd.randrange(1, 10**12)
        case "code" | "note" | "note_def":
            return rnd.choice(["a", "tab\there", "line\nbreak", "back\\slash", "ünïcödé", ""])
        case "i8":
            return rnd.randrange(-128, 128)
        case "i16":
            return rnd.randrange(-(2**15), 2**15)
        case "i32" | "count_def":
            return rnd.randrange(-(2**31), 2**31)
        case "f32" | "f64":
            return rnd.choice([0.1, -2.5, 1e300 if name == "f64" else 3.5, float("inf")])
        case "flag":
            return rnd.random() < 0.5
        case "raw":
            return bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 9)))
        case "price":
            return Decimal(rnd.randrange(-(10**12), 10**12)).scaleb(-2)
        case "vsd":
            return {
                "scale": rnd.randrange(0, 6),
                "value": rnd.randrange(-(10**9), 10**9).to_bytes(8, "big", signed=True),
            }
        case "day" | "c_date_days":
            return rnd.randrange(-1000, 30000)
        case "t_ms":
            return rnd.randrange(0, 86_400_000)
        case "t_us":
            return rnd.randrange(0, 86_400_000_000)
        case "ts_ms":
            return rnd.randrange(0, 2**41)
        case "ts_us":
            return rnd.randrange(0, 2**51)
        case "ts_ns":
            return rnd.randrange(0, 2**61)
        case "zts":
            return rnd.choice(["2024-02-29T12:34:56.123456Z", "1999-12-31T23:59:59+02:00"])
        case "ztime":
            return "12:34:56.789Z"
        case "dur":
            return rnd.randrange(-(10**12), 10**12)
        case "c_date":
            return dt.date(2024, 1, 1) + dt.timedelta(days=rnd.randrange(-5000, 5000))
        case "c_time":
            return dt.time(rnd.randrange(24), rnd.randrange(60), rnd.randrange(60), rnd.randrange(1000) * 1000)
        case "c_ts":
            return EPOCH + dt.timedelta(milliseconds=rnd.randrange(0, 2**41))
        case "doc":
            return '{"a": [1, 2]}'
        case "tags":
            return [rnd.randrange(100) for _ in range(rnd.randrange(4))]
        case "attrs":
            return {"k": "v", "n": None}
    raise AssertionError(name)


def _mapper(family: str, pk_mode: str, extra: dict[str, str] | None = None) -> ChangeMapper:
    config = {
        "connector.class": "jdbc",
        "topics": TOPIC,
        "connection.url": "jdbc:postgresql://localhost:5432/db",
        "connection.username": "u",
        "connection.password": "p",
        "primary.key.mode": pk_mode,
        "delete.enabled": "true" if pk_mode == "record_key" else "false",
        "truncate.enabled": "true",
        **({"primary.key.fields": "id"} if pk_mode == "record_value" else {}),
        **(extra or {}),
    }
    engine = load_engine_config(None, document={"name": "w", "config": config, "worker": {"bootstrap.servers": "x:1"}})
    return ChangeMapper(engine.connector, family)  # type: ignore[arg-type]


def _converters(replace_null: str) -> tuple[JsonConverter, JsonConverter]:
    key, value = JsonConverter(), JsonConverter()
    key.configure({"replace.null.with.default": replace_null}, True)
    value.configure({"replace.null.with.default": replace_null}, False)
    return key, value


def _outcome(mapper: ChangeMapper, record: ConnectRecord) -> Any:
    try:
        change = mapper.change(record)
    except ConversionError as exc:
        return ("error", str(exc))
    if change is None:
        return None
    assert isinstance(change, Change)
    return (change.table, change.op, change.values, change.key, change.plan.columns if change.plan else None)


def _both(
    mapper_pair: tuple[ChangeMapper, ChangeMapper],
    converters: tuple[JsonConverter, JsonConverter],
    key: bytes | None,
    value: bytes | None,
    offset: int,
) -> tuple[Any, Any]:
    kc, vc = converters
    try:
        ks, k = kc.to_connect(TOPIC, key, [])
        vs, v = vc.to_connect(TOPIC, value, [])
    except ConversionError as exc:
        general: Any = ("error", str(exc))
    except (OverflowError, ValueError) as exc:  # the runtime dead-letters whatever a converter raises
        general = ("error", f"{type(exc).__name__}: {exc}")
    else:
        general = _outcome(mapper_pair[0], ConnectRecord(TOPIC, ks, k, vs, v, 3, 1, [], offset, TOPIC))
    try:
        wks, wk = kc.to_wire(TOPIC, key, [])
        wvs, wv = vc.to_wire(TOPIC, value, [])
    except ConversionError as exc:
        return general, ("error", str(exc))
    wire = WireRecord(TOPIC, wks, wk, wvs, wv, 3, 1, [], offset, TOPIC, key, value, kc, vc)
    return general, _outcome(mapper_pair[1], wire)


@pytest.mark.parametrize("family", ["postgresql", "mysql"])
@pytest.mark.parametrize("pk_mode", ["record_key", "kafka", "record_value", "none"])
@pytest.mark.parametrize("key_kind", ["in_row", "extra"])
@pytest.mark.parametrize("replace_null", ["true", "false"])
def test_random_rows_give_the_same_change(
    family: str, pk_mode: str, key_kind: str, replace_null: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow: list[int] = []
    decoded = WireRecord.decoded

    def counting(self: WireRecord) -> ConnectRecord:
        slow.append(1)
        return decoded(self)

    monkeypatch.setattr(WireRecord, "decoded", counting)
    rnd = random.Random(f"{family}{pk_mode}{key_kind}{replace_null}")
    converters = _converters(replace_null)
    mappers = (_mapper(family, pk_mode), _mapper(family, pk_mode))
    key_schema = KEYS[key_kind]
    fast = 0
    for i in range(300):
        row = {f.name: _value(f.name, rnd) for f in COLUMNS}
        op = rnd.choice(["c", "r", "u"])
        payload = {
            "before": None,
            "after": row,
            "source": {"table": "things"},
            "op": op,
            "ts_ms": 1,
            "transaction": None,
        }
        key = {"id": row["id"], "code": row["code"]} if key_kind == "in_row" else {"id": row["id"], "tenant": "t1"}
        key_bytes = converters[0].from_connect(TOPIC, key_schema, key, [])
        value_bytes = converters[1].from_connect(TOPIC, ENVELOPE, payload, [])
        general, wire = _both(mappers, converters, key_bytes, value_bytes, i)
        assert wire == general, (i, row)
        fast += general is not None and general[0] != "error"
    assert fast > 250  # the comparison is about rows that are written, not only errors
    assert len(slow) == 300 - fast  # and those rows took the fast path: only the rejected ones were decoded


def _message(
    converters: tuple[JsonConverter, JsonConverter],
    after_json: Any,
    op: str = "c",
    envelope: dict[str, Any] | None = None,
    key_payload: Any = None,
) -> tuple[bytes, bytes]:
    """Hand-made wire bytes: the real schemas with a payload written directly as JSON (values a producer other than
    ours might send); ``envelope`` overrides fields of the value payload, ``key_payload`` the key's payload."""
    key = converters[0].from_connect(TOPIC, KEYS["in_row"], {"id": 1, "code": "a"}, [])
    assert key is not None
    if key_payload is not None:
        key = orjson.dumps({"schema": orjson.loads(key)["schema"], "payload": key_payload})
    schema_json = orjson.loads(
        converters[1].from_connect(TOPIC, ENVELOPE, {"op": "c", "ts_ms": 1, "source": {"table": "t"}}, []) or b""
    )["schema"]
    payload = {"before": None, "after": after_json, "source": {"table": "things"}, "op": op, "ts_ms": 1}
    return key, orjson.dumps({"schema": schema_json, "payload": {**payload, **(envelope or {})}})


BASE = {"id": 1, "code": "a"}


@pytest.mark.parametrize(
    "after",
    [
        pytest.param({**BASE, "f64": 3}, id="int-for-float64"),
        pytest.param({**BASE, "i32": "12"}, id="string-for-int32"),
        pytest.param({**BASE, "i32": True}, id="bool-for-int32"),
        pytest.param({**BASE, "flag": 1}, id="int-for-boolean"),
        pytest.param({**BASE, "price": 12.345}, id="inexact-numeric-decimal"),
        pytest.param({**BASE, "price": 12}, id="integer-numeric-decimal"),
        pytest.param({**BASE, "price": "!!notbase64"}, id="bad-base64-decimal"),
        pytest.param({"id": None, "code": "a"}, id="null-required-key-column"),
        pytest.param({"id": 1, "code": None}, id="null-required-column"),
        pytest.param({**BASE, "note_def": None, "count_def": None}, id="nulls-with-defaults"),
        pytest.param({**BASE, "tags": "notalist"}, id="bad-array"),
        pytest.param({**BASE, "day": 1.5}, id="float-for-date"),
        pytest.param({**BASE, "unknown": 5}, id="extra-field"),
        pytest.param({"code": "a"}, id="missing-key-field"),
        pytest.param({**BASE, "c_date": 10**12}, id="date-out-of-range"),
        pytest.param({**BASE, "c_ts": 10**18}, id="timestamp-out-of-range"),
    ],
)
@pytest.mark.parametrize("replace_null", ["true", "false"])
def test_unusual_payloads_give_the_same_outcome(after: dict[str, Any], replace_null: str) -> None:
    converters = _converters(replace_null)
    for family in ("postgresql", "mysql"):
        mappers = (_mapper(family, "record_key"), _mapper(family, "record_key"))
        key, value = _message(converters, after)
        general, wire = _both(mappers, converters, key, value, 1)
        assert wire == general


@pytest.mark.parametrize("op", ["d", "t", "m", "x"])
def test_other_ops_take_the_general_path(op: str) -> None:
    converters = _converters("true")
    mappers = (_mapper("postgresql", "record_key"), _mapper("postgresql", "record_key"))
    key, value = _message(converters, None, op)
    general, wire = _both(mappers, converters, key, value, 1)
    assert wire == general
    assert general is None or general[0] == "error" or general[1] in ("delete", "truncate")


def test_tombstones_and_source_table_names_take_the_general_path() -> None:
    converters = _converters("true")
    mappers = (_mapper("postgresql", "record_key"), _mapper("postgresql", "record_key"))
    key, _ = _message(converters, BASE)
    assert _both(mappers, converters, key, None, 1)[1][1] == "delete"
    named = {"table.name.format": "t_${source.table}"}
    mappers = (_mapper("postgresql", "record_key", named), _mapper("postgresql", "record_key", named))
    key, value = _message(converters, {**BASE, "note": "x"})
    general, wire = _both(mappers, converters, key, value, 1)
    assert wire == general and general[0] == "t_things"


def test_bytes_that_do_not_decode_are_converter_errors() -> None:
    """A payload that parses as JSON but does not match its schema is found by ``decoded()``: the runtime reports
    it with the converter's stage (``WireDecodeError.is_key``)."""
    converters = _converters("true")
    mapper = _mapper("postgresql", "record_key")
    key, value = _message(converters, {**BASE, "vsd": {"scale": "x", "value": 5}})
    kc, vc = converters
    wks, wk = kc.to_wire(TOPIC, key, [])
    wvs, wv = vc.to_wire(TOPIC, value, [])
    wire = WireRecord(TOPIC, wks, wk, wvs, wv, 0, 1, [], 0, TOPIC, key, value, kc, vc)
    with pytest.raises(WireDecodeError) as raised:
        mapper.change(wire)
    assert raised.value.is_key is False
    with pytest.raises(ConversionError) as general:
        vc.to_connect(TOPIC, value, [])
    assert str(raised.value) == str(general.value)


@pytest.mark.parametrize(
    ("envelope", "key_payload"),
    [
        pytest.param({"source": None}, None, id="null-required-source"),
        pytest.param({"source": {"table": 5}}, None, id="bad-source-field"),
        pytest.param({"before": "x"}, None, id="bad-before"),
        pytest.param({"before": {"id": 1, "code": "a", "i32": "x"}}, None, id="bad-before-field"),
        pytest.param({"ts_ms": "x"}, None, id="bad-ts_ms"),
        pytest.param({"op": 5}, None, id="bad-op"),
        pytest.param(None, {"id": "notanint", "code": "a"}, id="bad-key-field"),
        pytest.param(None, "notastruct", id="key-not-a-struct"),
        pytest.param(None, {"id": 1}, id="key-missing-required-field"),
    ],
)
@pytest.mark.parametrize("pk_mode", ["record_key", "kafka", "record_value", "none"])
def test_a_key_or_envelope_that_does_not_match_its_schema_is_rejected_on_both_paths(
    envelope: dict[str, Any] | None, key_payload: Any, pk_mode: str
) -> None:
    """The row tuple uses only ``after`` (and key fields not in it), but the fast path still checks the rest of the
    key and the envelope against their schemas: a record the converter rejects is never written."""
    converters = _converters("true")
    mappers = (_mapper("postgresql", pk_mode), _mapper("postgresql", pk_mode))
    key, value = _message(converters, BASE, envelope=envelope, key_payload=key_payload)
    general, wire = _both(mappers, converters, key, value, 1)
    assert general[0] == "error"
    assert wire == general


def test_an_exception_other_than_a_conversion_error_is_reported_not_raised() -> None:
    """An OverflowError from a decoder (a Date of 10**12 days) is a record error on both paths: the runtime
    dead-letters it under errors.tolerance=all instead of stopping the task."""
    converters = _converters("true")
    key, value = _message(converters, {**BASE, "c_date": 10**12})
    kc, vc = converters
    wks, wk = kc.to_wire(TOPIC, key, [])
    wvs, wv = vc.to_wire(TOPIC, value, [])
    wire = WireRecord(TOPIC, wks, wk, wvs, wv, 0, 1, [], 0, TOPIC, key, value, kc, vc)
    with pytest.raises(WireDecodeError, match="OverflowError") as raised:
        _mapper("postgresql", "record_key").change(wire)
    assert raised.value.is_key is False
