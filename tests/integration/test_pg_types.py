"""PostgreSQL column types and stream semantics against real PostgreSQL + a real broker.

Expected values follow docs/debezium-postgres-format-notes.md (Debezium 2.x defaults) and are written out
literally here (computed independently of the engine: see the comments next to each value). Every value check
runs on BOTH paths: rows inserted before the engine starts arrive through the snapshot (op "r"), rows inserted
afterwards through pgoutput (op "c"), and both must produce identical field schemas and payloads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from engine_helpers import (
    EngineThread,
    connector_document,
    execute,
    payloads,
    read_topic,
    wait_for,
    wait_for_records,
    wait_streaming,
)

Record = tuple[bytes | None, bytes | None]


# ---------------------------------------------------------------------------------------------------------------
# helpers


def _value(record: Record) -> dict[str, Any]:
    assert record[1] is not None, "expected a value, got a tombstone"
    decoded: dict[str, Any] = json.loads(record[1])
    return decoded


def _key(record: Record) -> Any:
    return None if record[0] is None else json.loads(record[0])


def _row_fields(record: Record, which: str = "after") -> list[dict[str, Any]]:
    """The field schemas of the envelope's ``before``/``after`` struct."""
    envelope = _value(record)["schema"]
    (row,) = [f for f in envelope["fields"] if f["field"] == which]
    fields: list[dict[str, Any]] = row["fields"]
    return fields


def _assert_fields(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Same fields, same attributes and the same attribute order (JsonConverter output is order-sensitive)."""
    assert [f["field"] for f in actual] == [f["field"] for f in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got == want, f"field {want['field']}"
        assert list(got) == list(want), f"attribute order of field {want['field']}"


def _by_key(records: list[Record]) -> dict[str, list[dict[str, Any] | None]]:
    """Payloads (None for tombstones) grouped by key payload, each list in Kafka (= per-key) order.

    Topics may have several partitions, so only records with the same key have a defined relative order.
    """
    out: dict[str, list[dict[str, Any] | None]] = {}
    for key, value in records:
        k = json.dumps(None if key is None else json.loads(key)["payload"], sort_keys=True)
        out.setdefault(k, []).append(None if value is None else json.loads(value)["payload"])
    return out


def _k(**payload: Any) -> str:
    return json.dumps(payload, sort_keys=True)


@contextmanager
def _engine(postgres_server: Any, kafka_broker: Any, dbname: str, **props: Any) -> Iterator[dict[str, Any]]:
    """A running engine that is already streaming (its snapshot, if any, is done or at least exported)."""
    doc = connector_document(postgres_server, kafka_broker.bootstrap_servers, dbname, **props)
    with EngineThread(doc):
        wait_streaming(postgres_server, doc)
        yield doc


def _topic(doc: dict[str, Any], table: str) -> str:
    return f"{doc['name']}.public.{table}"


def _snapshot_then_stream(
    postgres_server: Any,
    kafka_broker: Any,
    pg_database: str,
    table: str,
    setup: tuple[str, ...],
    changes: tuple[str, ...],
    total: int,
    *,
    snapshot: int = 1,
    **props: Any,
) -> tuple[str, list[Record]]:
    """Run ``setup``, start an engine (``props``), wait for ``snapshot`` records of ``table``, run ``changes`` and
    wait for ``total`` records; (the topic of ``table``, its records). The engine is stopped on return."""
    dsn = postgres_server.dsn(pg_database)
    execute(dsn, *setup)
    bootstrap = kafka_broker.bootstrap_servers
    with _engine(postgres_server, kafka_broker, pg_database, **props) as doc:
        topic = _topic(doc, table)
        wait_for_records(bootstrap, topic, snapshot)
        execute(dsn, *changes)
        records = wait_for_records(bootstrap, topic, total)
    assert len(records) == total
    return topic, records


# ---------------------------------------------------------------------------------------------------------------
# every type, default modes

ALL_TYPES_DDL = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE all_types (
    id integer PRIMARY KEY,
    c_smallint smallint NOT NULL,
    c_integer integer,
    c_bigint bigint,
    c_real real,
    c_double double precision,
    c_numeric numeric(10,2) NOT NULL,
    c_varnumeric numeric,
    c_boolean boolean,
    c_text text NOT NULL,
    c_varchar varchar(20),
    c_char char(3),
    c_bytea bytea,
    c_date date,
    c_time time,
    c_time3 time(3),
    c_timestamp timestamp,
    c_timestamp3 timestamp(3),
    c_timestamptz timestamptz,
    c_timetz timetz,
    c_json json,
    c_jsonb jsonb,
    c_uuid uuid,
    c_enum mood,
    c_int_array integer[],
    c_text_array text[],
    c_interval interval,
    c_money money
)
"""

FULL_ROW_VALUES = """(
    {id}, -32768, 2147483647, -9223372036854775808, -1.5, 3.141592653589793,
    -1234.5, 12.3400, true, E'h\\u00e9llo "w\\u00f6rld"\\n', 'varchar', 'ab', '\\x00ff10'::bytea,
    '1969-07-20', '13:14:15.123456', '13:14:15.123', '1969-12-31 23:59:58.5', '2024-02-29 12:00:00.789',
    '2024-02-29 12:00:00.5+02', '13:14:15.5+02', '{{"b": 1,  "a": [true, null]}}', '{{"b": 1, "a": [true, null]}}',
    'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'happy', '{{1,NULL,-3}}',
    ARRAY['a b', 'NULL', NULL, 'q"uote', 'back\\slash', '', '{{x}}'],
    '1 year 2 mons -3 days 04:05:06.5', -1234.56
)"""

NULL_ROW_VALUES = "({id}, 7, NULL, NULL, NULL, NULL, 0, NULL, NULL, '', " + ", ".join(["NULL"] * 18) + ")"


# time.precision.mode=adaptive (the default): field schemas and values of the same time columns in each table
ADAPTIVE_TIME_VALUES = {
    "c_date": -165,  # 1969-07-20 is 165 days before the epoch
    "c_time": 47655123456,  # (13*3600 + 14*60 + 15) s + 123456 us
    "c_time3": 47655123,  # time(3) -> io.debezium.time.Time in ms
    "c_timestamp": -1500000,  # 1.5 s before the epoch, in us
    "c_timestamp3": 1709208000789,  # 2024-02-29T12:00:00.789 in ms
    "c_timestamptz": "2024-02-29T10:00:00.500000Z",  # UTC, 6 fraction digits
}


def _full_row(id_: int) -> dict[str, Any]:
    return {
        "id": id_,
        "c_smallint": -32768,
        "c_integer": 2147483647,
        "c_bigint": -9223372036854775808,
        "c_real": -1.5,
        "c_double": 3.141592653589793,
        "c_numeric": "/h3G",  # -1234.50 at scale 2 -> unscaled -123450 = 0xFE1DC6
        "c_varnumeric": {"scale": 2, "value": "BNI="},  # 12.3400 -> trailing zeros stripped -> 1234 = 0x04D2
        "c_boolean": True,
        "c_text": 'héllo "wörld"\n',
        "c_varchar": "varchar",
        "c_char": "ab ",  # char(n) keeps its blank padding (output function), in the snapshot too
        "c_bytea": "AP8Q",  # base64 of 00 ff 10
        **ADAPTIVE_TIME_VALUES,
        "c_timetz": "11:14:15.5Z",  # moved to UTC, minimal fraction
        "c_json": '{"b": 1,  "a": [true, null]}',  # json keeps the input text
        "c_jsonb": '{"a": [true, null], "b": 1}',  # jsonb is normalized by the server
        "c_uuid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "c_enum": "happy",
        "c_int_array": [1, None, -3],
        "c_text_array": ["a b", "NULL", None, 'q"uote', "back\\slash", "", "{x}"],
        # 1 year 2 mons = 14 * 30.4375 days; minus 3 days -> 423.125 days, + 4:05:06.5
        "c_interval": 36572706500000,
        "c_money": "/h3A",  # -1234.56 at scale 2 -> unscaled -123456 = 0xFE1DC0
    }


def _null_row(id_: int) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(_full_row(0))
    row.update({"id": id_, "c_smallint": 7, "c_numeric": "AA==", "c_text": ""})  # 0.00 -> unscaled 0 -> 00
    return row


def _opt(optional: bool) -> dict[str, Any]:
    return {"optional": optional}


def _logical(type_: str, name: str, field: str, optional: bool = True, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_, "optional": optional, "name": name, "version": 1}
    out.update(extra)
    out["field"] = field
    return out


def _plain(type_: str, field: str, optional: bool = True) -> dict[str, Any]:
    return {"type": type_, "optional": optional, "field": field}


ADAPTIVE_TIME_FIELDS = [
    _logical("int32", "io.debezium.time.Date", "c_date"),
    _logical("int64", "io.debezium.time.MicroTime", "c_time"),
    _logical("int32", "io.debezium.time.Time", "c_time3"),
    _logical("int64", "io.debezium.time.MicroTimestamp", "c_timestamp"),
    _logical("int64", "io.debezium.time.Timestamp", "c_timestamp3"),
    _logical("string", "io.debezium.time.ZonedTimestamp", "c_timestamptz"),
]

EXPECTED_ALL_TYPES_FIELDS = [
    _plain("int32", "id", optional=False),
    _plain("int16", "c_smallint", optional=False),
    _plain("int32", "c_integer"),
    _plain("int64", "c_bigint"),
    _plain("float", "c_real"),
    _plain("double", "c_double"),
    _logical(
        "bytes",
        "org.apache.kafka.connect.data.Decimal",
        "c_numeric",
        optional=False,
        parameters={"scale": "2", "connect.decimal.precision": "10"},
    ),
    {
        "type": "struct",
        "fields": [
            {"type": "int32", "optional": False, "field": "scale"},
            {"type": "bytes", "optional": False, "field": "value"},
        ],
        "optional": True,
        "name": "io.debezium.data.VariableScaleDecimal",
        "version": 1,
        "doc": "Variable scaled decimal",
        "field": "c_varnumeric",
    },
    _plain("boolean", "c_boolean"),
    _plain("string", "c_text", optional=False),
    _plain("string", "c_varchar"),
    _plain("string", "c_char"),
    _plain("bytes", "c_bytea"),
    *ADAPTIVE_TIME_FIELDS,
    _logical("string", "io.debezium.time.ZonedTime", "c_timetz"),
    _logical("string", "io.debezium.data.Json", "c_json"),
    _logical("string", "io.debezium.data.Json", "c_jsonb"),
    _logical("string", "io.debezium.data.Uuid", "c_uuid"),
    _logical("string", "io.debezium.data.Enum", "c_enum", parameters={"allowed": "sad,ok,happy"}),
    {"type": "array", "items": {"type": "int32", "optional": True}, "optional": True, "field": "c_int_array"},
    {"type": "array", "items": {"type": "string", "optional": True}, "optional": True, "field": "c_text_array"},
    _logical("int64", "io.debezium.time.MicroDuration", "c_interval"),
    _logical("bytes", "org.apache.kafka.connect.data.Decimal", "c_money", parameters={"scale": "2"}),
]


def test_every_type_snapshot_and_stream(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    snapshot_rows = "INSERT INTO all_types VALUES " + FULL_ROW_VALUES.format(id=1) + ", " + NULL_ROW_VALUES.format(id=2)
    setup = (ALL_TYPES_DDL, snapshot_rows)
    changes = (
        "INSERT INTO all_types VALUES " + FULL_ROW_VALUES.format(id=3),
        "INSERT INTO all_types VALUES " + NULL_ROW_VALUES.format(id=4),
    )
    topic, records = _snapshot_then_stream(
        postgres_server, kafka_broker, pg_database, "all_types", setup, changes, 4, snapshot=2
    )
    by_id = {_value(r)["payload"]["after"]["id"]: r for r in records}
    assert [_value(by_id[i])["payload"]["op"] for i in (1, 2, 3, 4)] == ["r", "r", "c", "c"]
    for id_ in (1, 2, 3, 4):
        record = by_id[id_]
        _assert_fields(_row_fields(record, "after"), EXPECTED_ALL_TYPES_FIELDS)
        _assert_fields(_row_fields(record, "before"), EXPECTED_ALL_TYPES_FIELDS)
        payload = _value(record)["payload"]
        expected = _full_row(id_) if id_ in (1, 3) else _null_row(id_)
        assert payload["before"] is None
        assert isinstance(payload["source"]["txId"], int) and isinstance(payload["source"]["lsn"], int)
        assert payload["source"]["snapshot"] in (("first", "last") if id_ in (1, 2) else ("false",))
        for column, value in expected.items():
            assert payload["after"][column] == value, f"row {id_} column {column}"
        assert payload["after"] == expected
        assert list(payload["after"]) == list(expected)  # payload keys follow the schema's field order
        key = _key(record)
        assert key == {
            "schema": {
                "type": "struct",
                "fields": [{"type": "int32", "optional": False, "field": "id"}],
                "optional": False,
                "name": f"{topic}.Key",
            },
            "payload": {"id": id_},
        }


# ---------------------------------------------------------------------------------------------------------------
# time.precision.mode=connect, decimal.handling.mode=string / double

MODES_DDL = """
CREATE TABLE modes (
    id integer PRIMARY KEY,
    c_numeric numeric(10,2) NOT NULL,
    c_varnumeric numeric,
    c_money money,
    c_date date,
    c_time time,
    c_time3 time(3),
    c_timestamp timestamp,
    c_timestamp3 timestamp(3),
    c_timestamptz timestamptz
)
"""
MODES_ROW = (
    "({id}, -1234.5, 12.3400, -1234.56, '1969-07-20', '13:14:15.123456', '13:14:15.123', "
    "'1969-12-31 23:59:58.5', '2024-02-29 12:00:00.789', '2024-02-29 12:00:00.5+02')"
)


def _modes_fields(decimal_type: str, time_fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The field schemas of the ``modes`` table: the decimal columns as ``decimal_type``, then ``time_fields``."""
    return [
        _plain("int32", "id", optional=False),
        _plain(decimal_type, "c_numeric", optional=False),
        _plain(decimal_type, "c_varnumeric"),
        _plain(decimal_type, "c_money"),
        *time_fields,
    ]


def test_connect_time_mode_and_decimal_modes(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    dsn = postgres_server.dsn(pg_database)
    execute(dsn, MODES_DDL, "INSERT INTO modes VALUES " + MODES_ROW.format(id=1))
    string_props = {"time.precision.mode": "connect", "decimal.handling.mode": "string"}
    double_props = {"decimal.handling.mode": "double"}
    bootstrap = kafka_broker.bootstrap_servers
    # Two connectors (own slot and publication each) on the same database, running side by side.
    with (
        _engine(postgres_server, kafka_broker, pg_database, **string_props) as doc_s,
        _engine(postgres_server, kafka_broker, pg_database, **double_props) as doc_d,
    ):
        wait_for_records(bootstrap, _topic(doc_s, "modes"), 1)
        wait_for_records(bootstrap, _topic(doc_d, "modes"), 1)
        execute(dsn, "INSERT INTO modes VALUES " + MODES_ROW.format(id=2))
        string_records = wait_for_records(bootstrap, _topic(doc_s, "modes"), 2)
        double_records = wait_for_records(bootstrap, _topic(doc_d, "modes"), 2)

    # time.precision.mode=connect: Kafka Connect's logical types, except for timestamptz (still a ZonedTimestamp)
    connect_time_fields = [
        _logical(type_, f"org.apache.kafka.connect.data.{name}", column)
        for type_, name, column in (
            ("int32", "Date", "c_date"),
            ("int32", "Time", "c_time"),
            ("int32", "Time", "c_time3"),
            ("int64", "Timestamp", "c_timestamp"),
            ("int64", "Timestamp", "c_timestamp3"),
        )
    ] + [_logical("string", "io.debezium.time.ZonedTimestamp", "c_timestamptz")]
    expected_string_fields = _modes_fields("string", connect_time_fields)
    expected_double_fields = _modes_fields("double", ADAPTIVE_TIME_FIELDS)
    time_connect_values = {
        "c_date": -165,
        "c_time": 47655123,  # micros truncated to ms
        "c_time3": 47655123,
        "c_timestamp": -1500,
        "c_timestamp3": 1709208000789,
        "c_timestamptz": "2024-02-29T10:00:00.500000Z",
    }
    for records, fields, decimals, times in (
        (
            string_records,
            expected_string_fields,
            {"c_numeric": "-1234.50", "c_varnumeric": "12.3400", "c_money": "-1234.56"},
            time_connect_values,
        ),
        (
            double_records,
            expected_double_fields,
            {"c_numeric": -1234.5, "c_varnumeric": 12.34, "c_money": -1234.56},
            ADAPTIVE_TIME_VALUES,
        ),
    ):
        assert len(records) == 2
        ops = sorted(_value(r)["payload"]["op"] for r in records)
        assert ops == ["c", "r"]
        for record in records:
            _assert_fields(_row_fields(record), fields)
            after = _value(record)["payload"]["after"]
            assert after == {"id": after["id"], **decimals, **times}


# ---------------------------------------------------------------------------------------------------------------
# converter settings


def test_value_schemas_disabled_gives_bare_payload(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    setup = ("CREATE TABLE items (id int PRIMARY KEY, name text)", "INSERT INTO items VALUES (1, 'one')")
    changes = ("INSERT INTO items VALUES (2, 'two')", "DELETE FROM items WHERE id = 1")
    worker = {"value.converter.schemas.enable": False}
    topic, records = _snapshot_then_stream(
        postgres_server, kafka_broker, pg_database, "items", setup, changes, 4, worker=worker
    )
    by_key: dict[int, list[Any]] = {}
    for key, value in records:
        by_key.setdefault(json.loads(key or b"null")["payload"]["id"], []).append(
            None if value is None else json.loads(value)
        )
    assert sorted(by_key) == [1, 2]
    snapshot, deleted, tombstone = by_key[1]
    (created,) = by_key[2]
    for value in (snapshot, created, deleted):
        assert value is not None
        assert "schema" not in value and "payload" not in value
        assert list(value) == ["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"]
    assert snapshot is not None and snapshot["op"] == "r" and snapshot["after"] == {"id": 1, "name": "one"}
    assert created is not None and created["op"] == "c" and created["after"] == {"id": 2, "name": "two"}
    assert deleted is not None and deleted["op"] == "d" and deleted["before"]["id"] == 1
    assert tombstone is None
    # The key converter still has schemas enabled (only the value converter was changed).
    for key, _ in records:
        assert json.loads(key or b"null")["schema"] == {
            "type": "struct",
            "fields": [{"type": "int32", "optional": False, "field": "id"}],
            "optional": False,
            "name": f"{topic}.Key",
        }


# ---------------------------------------------------------------------------------------------------------------
# stream semantics

PLACEHOLDER = "__debezium_unavailable_value"


def test_unchanged_toast_value_becomes_placeholder(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    dsn = postgres_server.dsn(pg_database)
    execute(dsn, "CREATE TABLE docs (id int PRIMARY KEY, body text, n int)")  # REPLICA IDENTITY DEFAULT
    with _engine(postgres_server, kafka_broker, pg_database) as doc:
        topic = _topic(doc, "docs")
        # ~16 kB of md5 hex: random enough that pglz cannot compress it below the TOAST threshold.
        execute(
            dsn,
            "INSERT INTO docs SELECT 1, string_agg(md5(i::text), '' ORDER BY i), 0 FROM generate_series(1, 500) i",
        )
        execute(dsn, "UPDATE docs SET n = 1 WHERE id = 1")
        changes = payloads(wait_for_records(kafka_broker.bootstrap_servers, topic, 2))
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT body, pg_column_size(body) FROM docs").fetchone()
    assert row is not None
    body, stored_size = row
    assert len(body) == 16000 and stored_size > 8000  # stored out of line, uncompressed
    created, updated = changes
    assert created is not None and created["op"] == "c"
    assert created["after"] == {"id": 1, "body": body, "n": 0}
    assert updated is not None and updated["op"] == "u"
    assert updated["before"] is None
    assert updated["after"] == {"id": 1, "body": PLACEHOLDER, "n": 1}


def _full_identity_table(table: str, columns: str, row: str) -> tuple[str, ...]:
    """Statements creating ``table`` with REPLICA IDENTITY FULL (old rows sent in full) and one row in it."""
    return (
        f"CREATE TABLE {table} ({columns})",
        f"ALTER TABLE {table} REPLICA IDENTITY FULL",
        f"INSERT INTO {table} VALUES ({row})",
    )


def test_replica_identity_full_sends_whole_old_row(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    setup = _full_identity_table(
        "people", "id int PRIMARY KEY, name text NOT NULL, age int, note text", "1, 'ann', 30, NULL"
    )
    changes = ("UPDATE people SET age = 31, note = 'bday' WHERE id = 1", "DELETE FROM people WHERE id = 1")
    _, records = _snapshot_then_stream(postgres_server, kafka_broker, pg_database, "people", setup, changes, 4)
    events = payloads(records)
    assert [p["op"] if p else None for p in events] == ["r", "u", "d", None]
    _, updated, deleted, _ = events
    assert updated is not None and deleted is not None
    assert updated["before"] == {"id": 1, "name": "ann", "age": 30, "note": None}
    assert updated["after"] == {"id": 1, "name": "ann", "age": 31, "note": "bday"}
    assert deleted["before"] == {"id": 1, "name": "ann", "age": 31, "note": "bday"}
    assert deleted["after"] is None


def test_column_added_while_streaming(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    dsn = postgres_server.dsn(pg_database)
    execute(dsn, "CREATE TABLE evolving (id int PRIMARY KEY, a text)")
    with _engine(postgres_server, kafka_broker, pg_database) as doc:
        topic = _topic(doc, "evolving")
        execute(dsn, "INSERT INTO evolving VALUES (1, 'x')")
        wait_for_records(kafka_broker.bootstrap_servers, topic, 1)
        execute(
            dsn,
            "ALTER TABLE evolving ADD COLUMN b integer NOT NULL DEFAULT 5, ADD COLUMN c text",
            "INSERT INTO evolving VALUES (2, 'y', 6, 'z')",
            "UPDATE evolving SET a = 'x2' WHERE id = 1",
        )
        records = wait_for_records(kafka_broker.bootstrap_servers, topic, 3)
    assert len(records) == 3
    key_1 = [r for r in records if _key(r)["payload"] == {"id": 1}]
    key_2 = [r for r in records if _key(r)["payload"] == {"id": 2}]
    assert len(key_1) == 2 and len(key_2) == 1
    (first, third), (second,) = key_1, key_2
    assert [f["field"] for f in _row_fields(first)] == ["id", "a"]
    assert _value(first)["payload"]["after"] == {"id": 1, "a": "x"}
    expected_fields = [
        _plain("int32", "id", optional=False),
        _plain("string", "a"),
        {"type": "int32", "optional": False, "default": 5, "field": "b"},  # the column default, as Debezium
        _plain("string", "c"),
    ]
    for record in (second, third):
        _assert_fields(_row_fields(record), expected_fields)
    assert _value(second)["payload"]["after"] == {"id": 2, "a": "y", "b": 6, "c": "z"}
    assert _value(third)["payload"]["op"] == "u"
    assert _value(third)["payload"]["after"] == {"id": 1, "a": "x2", "b": 5, "c": None}


def test_table_created_while_running_is_captured(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    dsn = postgres_server.dsn(pg_database)
    execute(dsn, "CREATE TABLE existing (id int PRIMARY KEY)", "INSERT INTO existing VALUES (1)")
    with _engine(postgres_server, kafka_broker, pg_database) as doc:
        wait_for_records(kafka_broker.bootstrap_servers, _topic(doc, "existing"), 1)
        execute(
            dsn,
            "CREATE TABLE newcomer (id int PRIMARY KEY, label text)",
            "INSERT INTO newcomer VALUES (7, 'late')",
        )
        records = wait_for_records(kafka_broker.bootstrap_servers, _topic(doc, "newcomer"), 1)
    assert len(records) == 1
    payload = _value(records[0])["payload"]
    assert payload["op"] == "c"
    assert payload["after"] == {"id": 7, "label": "late"}
    assert payload["source"]["table"] == "newcomer"
    assert _key(records[0])["payload"] == {"id": 7}


def test_primary_key_update_is_delete_tombstone_create(
    postgres_server: Any, kafka_broker: Any, pg_database: str
) -> None:
    dsn = postgres_server.dsn(pg_database)
    execute(dsn, "CREATE TABLE keyed (id int PRIMARY KEY, v text)")
    with _engine(postgres_server, kafka_broker, pg_database) as doc:
        topic = _topic(doc, "keyed")
        execute(dsn, "INSERT INTO keyed VALUES (1, 'a')", "UPDATE keyed SET id = 10, v = 'b' WHERE id = 1")
        records = wait_for_records(kafka_broker.bootstrap_servers, topic, 4)
    assert len(records) == 4
    by_key = _by_key(records)
    assert sorted(by_key) == sorted([_k(id=1), _k(id=10)])
    created, deleted, tombstone = by_key[_k(id=1)]
    (recreated,) = by_key[_k(id=10)]
    assert created is not None and created["op"] == "c"
    assert deleted is not None and deleted["op"] == "d"
    assert deleted["before"]["id"] == 1 and deleted["after"] is None
    assert tombstone is None
    assert recreated is not None and recreated["op"] == "c"
    assert recreated["before"] is None and recreated["after"] == {"id": 10, "v": "b"}
    # delete and create come from the same pgoutput Update message
    assert deleted["source"]["lsn"] == recreated["source"]["lsn"]


def test_table_without_primary_key_has_null_keys(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    setup = _full_identity_table("loose", "a int, b text", "1, 'snap'")
    changes = ("INSERT INTO loose VALUES (2, 'new')", "UPDATE loose SET b = 'upd' WHERE a = 2")
    topic, records = _snapshot_then_stream(postgres_server, kafka_broker, pg_database, "loose", setup, changes, 3)
    assert all(key is None for key, _ in records)
    envelope_schema = _value(records[0])["schema"]
    assert envelope_schema["name"] == f"{topic}.Envelope"
    by_op = {_value(r)["payload"]["op"]: _value(r)["payload"] for r in records}  # null keys: any partition
    assert sorted(by_op) == ["c", "r", "u"]
    assert by_op["r"]["after"] == {"a": 1, "b": "snap"}
    assert by_op["c"]["after"] == {"a": 2, "b": "new"}
    assert by_op["u"]["before"] == {"a": 2, "b": "new"}
    assert by_op["u"]["after"] == {"a": 2, "b": "upd"}


def test_column_exclude_list_drops_column(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    setup = (
        "CREATE TABLE accounts (id int PRIMARY KEY, login text, secret text, plan text)",
        "INSERT INTO accounts VALUES (1, 'ann', 'hunter2', 'free')",
    )
    changes = ("INSERT INTO accounts VALUES (2, 'bob', 's3cret', 'pro')",)
    props: dict[str, Any] = {"column.exclude.list": "public.accounts.secret"}
    _, records = _snapshot_then_stream(
        postgres_server, kafka_broker, pg_database, "accounts", setup, changes, 2, **props
    )
    records.sort(key=lambda r: _key(r)["payload"]["id"])
    for record, expected in zip(
        records, ({"id": 1, "login": "ann", "plan": "free"}, {"id": 2, "login": "bob", "plan": "pro"}), strict=True
    ):
        assert [f["field"] for f in _row_fields(record)] == ["id", "login", "plan"]
        assert _value(record)["payload"]["after"] == expected
        assert b"secret" not in (record[1] or b"") and b"s3cret" not in (record[1] or b"")
        assert b"hunter2" not in (record[1] or b"")


def test_table_include_list_restricts_topics(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    dsn = postgres_server.dsn(pg_database)
    execute(
        dsn,
        "CREATE TABLE wanted (id int PRIMARY KEY)",
        "CREATE TABLE unwanted (id int PRIMARY KEY)",
        "INSERT INTO wanted VALUES (1)",
        "INSERT INTO unwanted VALUES (1)",
    )
    bootstrap = kafka_broker.bootstrap_servers
    with _engine(postgres_server, kafka_broker, pg_database, **{"table.include.list": "public.wanted"}) as doc:
        wait_for_records(bootstrap, _topic(doc, "wanted"), 1)
        # The unwanted change commits first; once the later wanted one arrived, the first was read and dropped.
        execute(dsn, "INSERT INTO unwanted VALUES (2)", "INSERT INTO wanted VALUES (2)")
        records = wait_for_records(bootstrap, _topic(doc, "wanted"), 2)
    assert sorted(_value(r)["payload"]["after"]["id"] for r in records) == [1, 2]
    assert read_topic(bootstrap, _topic(doc, "unwanted")) == []


def test_truncate_emitted_only_when_not_skipped(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    dsn = postgres_server.dsn(pg_database)
    execute(dsn, "CREATE TABLE scratch (id int PRIMARY KEY)")
    bootstrap = kafka_broker.bootstrap_servers
    with (
        _engine(postgres_server, kafka_broker, pg_database) as default_doc,
        _engine(postgres_server, kafka_broker, pg_database, **{"skipped.operations": "none"}) as all_doc,
    ):
        execute(dsn, "INSERT INTO scratch VALUES (1)", "TRUNCATE scratch", "INSERT INTO scratch VALUES (2)")
        # The second insert comes after the truncate: once it is there, the truncate was processed.
        with_truncate = wait_for_records(bootstrap, _topic(all_doc, "scratch"), 3)
        wait_for(
            lambda: any(
                v is not None and json.loads(v)["payload"]["after"] == {"id": 2}
                for _, v in read_topic(bootstrap, _topic(default_doc, "scratch"))
            ),
            what="second insert on the default connector's topic",
        )
        without_truncate = read_topic(bootstrap, _topic(default_doc, "scratch"))
    assert sorted(_value(r)["payload"]["op"] for r in without_truncate) == ["c", "c"]
    # Records of different keys may sit in different partitions: put them back in WAL order.
    with_truncate.sort(key=lambda r: _value(r)["payload"]["source"]["lsn"])
    assert [_value(r)["payload"]["op"] for r in with_truncate] == ["c", "t", "c"]
    truncate = with_truncate[1]
    assert truncate[0] is None  # truncate records have a null key
    payload = _value(truncate)["payload"]
    assert payload["before"] is None and payload["after"] is None
    assert payload["source"]["table"] == "scratch" and payload["source"]["snapshot"] == "false"
    assert _value(truncate)["schema"]["name"] == f"{_topic(all_doc, 'scratch')}.Envelope"
