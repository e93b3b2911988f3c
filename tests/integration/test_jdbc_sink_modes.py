"""JDBC sink modes on a real PostgreSQL, fed directly through a real broker: primary.key.mode kafka and
record_value, insert.mode update, truncate.enabled, and a constraint violation isolated to its record and sent to
the dead-letter topic (errors.tolerance=all) while the rest of the batch is written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from sink_helpers import SinkThread, create_topic, produce, unique, wait_until
from test_sink_runtime import read_messages

ROW_SCHEMA = {
    "type": "struct",
    "fields": [
        {"type": "int32", "optional": False, "field": "id"},
        {"type": "string", "optional": True, "field": "name"},
        {"type": "int32", "optional": True, "field": "qty"},
    ],
    "optional": False,
    "name": "t.Value",
}
KEY_SCHEMA = {"type": "struct", "fields": [{"type": "int32", "optional": False, "field": "id"}], "optional": False}


def flat(i: int, name: str, qty: int = 1) -> tuple[bytes, bytes]:
    return (
        orjson.dumps({"schema": KEY_SCHEMA, "payload": {"id": i}}),
        orjson.dumps({"schema": ROW_SCHEMA, "payload": {"id": i, "name": name, "qty": qty}}),
    )


ENVELOPE_SCHEMA = {
    "type": "struct",
    "fields": [
        {**ROW_SCHEMA, "optional": True, "field": "before"},
        {**ROW_SCHEMA, "optional": True, "field": "after"},
        {"type": "string", "optional": False, "field": "op"},
    ],
    "optional": False,
    "name": "t.Envelope",
}


def truncate_event(i: int) -> tuple[bytes, bytes]:
    return orjson.dumps({"schema": KEY_SCHEMA, "payload": {"id": i}}), orjson.dumps(
        {"schema": ENVELOPE_SCHEMA, "payload": {"before": None, "after": None, "op": "t"}}
    )


@pytest.fixture
def target(postgres_server: Any) -> Iterator[dict[str, Any]]:
    name = f"cdc_modes_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(name)
    try:
        yield {
            "url": f"jdbc:postgresql://{postgres_server.host}:{postgres_server.port}/{name}",
            "user": postgres_server.user,
            "password": postgres_server.password,
            "dsn": postgres_server.dsn(name),
        }
    finally:
        postgres_server.drop_database(name)


def run_sink(kafka: str, target: dict[str, Any], topic: str, until: Any, **props: str) -> None:
    doc = {
        "name": unique("jdbc"),
        "config": {
            "connector.class": "jdbc",
            "connection.url": target["url"],
            "connection.username": target["user"],
            "connection.password": target["password"],
            "topics": topic,
            "schema.evolution": "basic",
            "table.name.format": "t",
            "consumer.override.session.timeout.ms": "6000",
            **props,
        },
        "worker": {"bootstrap.servers": kafka, "offset.flush.interval.ms": 500},
    }
    sink = SinkThread(doc).start()
    try:
        wait_until(until, 60, "the sink to write")
    finally:
        sink.stop()


def rows(dsn: str, sql: str = "SELECT * FROM t ORDER BY 1, 2, 3") -> list[tuple[Any, ...]]:
    try:
        with psycopg.connect(dsn) as conn:
            return conn.execute(sql).fetchall()
    except psycopg.errors.UndefinedTable:
        return []


def test_kafka_primary_key_and_replay(kafka_broker: Any, target: dict[str, Any]) -> None:
    kafka, topic = kafka_broker.bootstrap_servers, unique("modes")
    create_topic(kafka, topic)
    produce(kafka, topic, [flat(1, "a"), flat(1, "b"), flat(2, "c")])
    props = {"insert.mode": "upsert", "primary.key.mode": "kafka"}
    for _ in range(2):  # the second run is a new group: a replay from offset 0
        run_sink(kafka, target, topic, lambda: len(rows(target["dsn"])) == 3, **props)
    got = rows(
        target["dsn"], "SELECT __connect_topic, __connect_partition, __connect_offset, id, name FROM t ORDER BY 3"
    )
    assert got == [(topic, 0, 0, 1, "a"), (topic, 0, 1, 1, "b"), (topic, 0, 2, 2, "c")]


def test_record_value_key_update_mode_and_truncate(kafka_broker: Any, target: dict[str, Any]) -> None:
    kafka = kafka_broker.bootstrap_servers
    topic = unique("modes")
    create_topic(kafka, topic)
    produce(kafka, topic, [flat(1, "a"), flat(2, "b"), flat(1, "a2")])
    props = {"insert.mode": "upsert", "primary.key.mode": "record_value", "primary.key.fields": "id"}
    run_sink(
        kafka,
        target,
        topic,
        lambda: rows(target["dsn"], "SELECT id, name FROM t ORDER BY 1") == [(1, "a2"), (2, "b")],
        **props,
    )

    updates = unique("modes")
    create_topic(kafka, updates)
    produce(kafka, updates, [flat(2, "b2"), flat(3, "never inserted")])
    run_sink(
        kafka,
        target,
        updates,
        lambda: rows(target["dsn"], "SELECT id, name FROM t ORDER BY 1") == [(1, "a2"), (2, "b2")],
        **{"insert.mode": "update", "primary.key.mode": "record_key"},
    )

    truncates = unique("modes")
    create_topic(kafka, truncates)
    produce(kafka, truncates, [truncate_event(0), flat(9, "after truncate")])
    run_sink(
        kafka,
        target,
        truncates,
        lambda: rows(target["dsn"], "SELECT id, name FROM t ORDER BY 1") == [(9, "after truncate")],
        **{"insert.mode": "upsert", "primary.key.mode": "record_key", "truncate.enabled": "true"},
    )


def run_until_one_dead_letter(kafka: str, target: dict[str, Any], topic: str, dlq: str, mode: str) -> None:
    """Run the sink (errors.tolerance=all, dead-letter topic with context headers) until 99 of the 100 records
    are in the table and one is in the dead-letter topic."""
    run_sink(
        kafka,
        target,
        topic,
        lambda: len(rows(target["dsn"])) == 99 and len(read_messages(kafka, dlq)) == 1,
        **{
            "insert.mode": mode,
            "primary.key.mode": "record_key",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )


def test_constraint_violation_goes_to_the_dead_letter_topic(kafka_broker: Any, target: dict[str, Any]) -> None:
    kafka, topic, dlq = kafka_broker.bootstrap_servers, unique("modes"), unique("dlq")
    create_topic(kafka, topic)
    with psycopg.connect(target["dsn"], autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id integer PRIMARY KEY, name text, qty integer CHECK (qty >= 0))")
    records = [flat(i, f"n{i}", qty=-5 if i == 3 else i) for i in range(100)]  # one COPY-sized batch
    produce(kafka, topic, records)
    run_until_one_dead_letter(kafka, target, topic, dlq, "upsert")
    assert [r[0] for r in rows(target["dsn"])] == [i for i in range(100) if i != 3]
    (dead,) = read_messages(kafka, dlq)
    headers = dict(dead.headers())
    assert dead.value() == records[3][1]
    assert headers["__connect.errors.stage"] == b"TASK_PUT"
    assert headers["__connect.errors.exception.class.name"] == b"psycopg.errors.CheckViolation"
    assert headers["__connect.errors.class.name"] == b"jdbc"


def test_target_crash_is_retried_without_loss(kafka_broker: Any) -> None:
    """The target PostgreSQL crashes (immediate shutdown) and comes back while the sink writes: the failed batch
    is retried after reconnecting, nothing is lost, the sink keeps running."""
    from servers import PostgresServer

    kafka, topic = kafka_broker.bootstrap_servers, unique("crash")
    create_topic(kafka, topic, partitions=2)
    produce(kafka, topic, [flat(i, f"n{i}") for i in range(1000)])
    # Durable commits: the test servers run with fsync/synchronous_commit off, and a crash would then lose
    # transactions the server had acknowledged, which no client can detect.
    durable = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    with PostgresServer().start(extra_conf=durable) as pg:
        pg.create_database("crash")
        target = {
            "url": f"jdbc:postgresql://{pg.host}:{pg.port}/crash",
            "user": pg.user,
            "password": pg.password,
            "dsn": pg.dsn("crash"),
        }
        doc = {
            "name": unique("jdbc"),
            "config": {
                "connector.class": "jdbc",
                "connection.url": target["url"],
                "connection.username": target["user"],
                "connection.password": target["password"],
                "topics": topic,
                "schema.evolution": "basic",
                "table.name.format": "t",
                "insert.mode": "upsert",
                "primary.key.mode": "record_key",
                "batch.size": "50",
                "consumer.override.session.timeout.ms": "6000",
            },
            "worker": {"bootstrap.servers": kafka, "offset.flush.interval.ms": 500},
        }
        sink = SinkThread(doc).start()
        try:
            wait_until(lambda: len(rows(target["dsn"])) > 0, 60, "the first rows")
            pg.restart(mode="immediate")
            produce(kafka, topic, [flat(i, f"n{i}") for i in range(1000, 1500)])
            wait_until(lambda: len(rows(target["dsn"])) == 1500, 120, "all 1500 rows after the crash")
            assert sink.error is None and sink.runtime._task is not None  # still running, not restarted from scratch
            assert rows(target["dsn"], "SELECT count(*) FROM t WHERE name = 'n' || id") == [(1500,)]
        finally:
            sink.stop()


def created(i: int, qty: Any) -> tuple[bytes, bytes]:
    """A Debezium create event (the sink's wire fast path) whose ``qty`` may not match its int32 schema."""
    after = {"id": i, "name": f"n{i}", "qty": qty}
    return orjson.dumps({"schema": KEY_SCHEMA, "payload": {"id": i}}), orjson.dumps(
        {"schema": ENVELOPE_SCHEMA, "payload": {"before": None, "after": after, "op": "c"}}
    )


def test_a_value_that_does_not_match_its_schema_is_a_converter_error(kafka_broker: Any, target: dict[str, Any]) -> None:
    """The wire fast path decodes only what the table needs; a value its schema rejects is still reported with the
    converter's stage and class (as Connect's JsonConverter would have failed before put), the rest written."""
    kafka, topic, dlq = kafka_broker.bootstrap_servers, unique("modes"), unique("dlq")
    create_topic(kafka, topic)
    records = [created(i, "seven" if i == 5 else i) for i in range(100)]
    produce(kafka, topic, records)
    run_until_one_dead_letter(kafka, target, topic, dlq, "insert")
    assert rows(target["dsn"], "SELECT id, name, qty FROM t ORDER BY id") == [
        (i, f"n{i}", i) for i in range(100) if i != 5
    ]
    (dead,) = read_messages(kafka, dlq)
    headers = dict(dead.headers())
    assert dead.value() == records[5][1]
    assert headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert headers["__connect.errors.class.name"] == b"org.apache.kafka.connect.json.JsonConverter"
    assert headers["__connect.errors.exception.class.name"] == b"org.apache.kafka.connect.errors.DataException"
