"""The SMT chain in the sink runtime, against a real broker: Debezium's unwrap plus a RegexRouter on the way to
the task, and a transform failure routed to the dead-letter topic with stage TRANSFORMATION. Skipped while the
SMTs (``sinks.transforms.chain``) are not in this build."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sink_helpers import RecordingTask, SinkThread, create_topic, produce, sink_document, unique, wait_until
from test_sink_runtime import read_messages

pytest.importorskip("sinks.transforms.chain")

KEY_SCHEMA = {"type": "struct", "fields": [{"type": "int32", "optional": False, "field": "id"}], "optional": False}
ROW = {
    "type": "struct",
    "fields": [
        {"type": "int32", "optional": False, "field": "id"},
        {"type": "string", "optional": True, "field": "name"},
    ],
    "optional": True,
    "name": "db.public.items.Value",
}
ENVELOPE = {
    "type": "struct",
    "fields": [
        {**ROW, "field": "before"},
        {**ROW, "field": "after"},
        {
            "type": "struct",
            "fields": [{"type": "string", "optional": False, "field": "table"}],
            "optional": False,
            "name": "io.debezium.connector.postgresql.Source",
            "field": "source",
        },
        {"type": "string", "optional": False, "field": "op"},
        {"type": "int64", "optional": True, "field": "ts_ms"},
    ],
    "optional": False,
    "name": "db.public.items.Envelope",
    "version": 2,
}


def key(i: int) -> bytes:
    return orjson.dumps({"schema": KEY_SCHEMA, "payload": {"id": i}})


def event(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> bytes:
    payload = {"before": before, "after": after, "source": {"table": "items"}, "op": op, "ts_ms": 1}
    return orjson.dumps({"schema": ENVELOPE, "payload": payload})


def test_unwrap_and_route_before_the_task(kafka_broker: Any) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, name = f"{unique('db')}.public.items", unique("sink")
    create_topic(bootstrap, topic)
    produce(
        bootstrap,
        topic,
        [
            (key(1), event("c", None, {"id": 1, "name": "a"})),
            (key(1), event("u", {"id": 1, "name": "a"}, {"id": 1, "name": "b"})),
            (key(1), event("d", {"id": 1, "name": "b"}, None)),
            (key(1), None),
        ],
    )
    task = RecordingTask()
    doc = sink_document(
        bootstrap,
        name,
        topics=topic,
        **{
            "transforms": "unwrap,route",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
            "transforms.route.regex": r"(.*)\.public\.(.*)",
            "transforms.route.replacement": "replica_$2",
        },
    )
    sink = SinkThread(doc, task).start()
    try:
        wait_until(lambda: len(task.records) >= 3, what="3 transformed records")
    finally:
        sink.stop()
    # unwrap's default (delete.tombstone.handling.mode=tombstone) drops the delete event and keeps the tombstone.
    assert [r.value for r in task.records] == [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}, None]
    assert {r.topic for r in task.records} == {"replica_items"}
    assert all(r.original_topic == topic for r in task.records)
    assert task.records[0].value_schema is not None and task.records[0].value_schema.name == "db.public.items.Value"


def test_transform_failure_goes_to_the_dead_letter_topic(kafka_broker: Any) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, dlq, name = unique("src"), unique("dlq"), unique("sink")
    create_topic(bootstrap, topic)
    row_schema = {**ROW, "optional": False}
    produce(
        bootstrap,
        topic,
        [
            (key(1), orjson.dumps({"schema": row_schema, "payload": {"id": 1, "name": "42"}})),
            (key(2), orjson.dumps({"schema": row_schema, "payload": {"id": 2, "name": "forty-two"}})),
            (key(3), orjson.dumps({"schema": row_schema, "payload": {"id": 3, "name": "7"}})),
        ],
    )
    task = RecordingTask()
    doc = sink_document(
        bootstrap,
        name,
        topics=topic,
        **{
            "transforms": "cast",
            "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
            "transforms.cast.spec": "name:int32",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    sink = SinkThread(doc, task).start()
    try:
        wait_until(lambda: len(task.records) >= 2, what="the two castable records")
        wait_until(lambda: len(read_messages(bootstrap, dlq)) >= 1, what="the dead letter")
    finally:
        sink.stop()
    assert [r.value for r in task.records] == [{"id": 1, "name": 42}, {"id": 3, "name": 7}]
    (dead,) = read_messages(bootstrap, dlq)
    headers = dict(dead.headers())
    assert headers["__connect.errors.stage"] == b"TRANSFORMATION"
    assert headers["__connect.errors.class.name"] == b"org.apache.kafka.connect.transforms.Cast$Value"
    assert headers["__connect.errors.offset"] == b"1"
    assert dead.key() == key(2)
