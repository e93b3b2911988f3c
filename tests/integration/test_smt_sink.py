"""The SMT chain in a sink worker, against a real broker: Debezium change events consumed from a topic go through
``transforms=unwrap,route,meta`` (ExtractNewRecordState, RegexRouter, InsertField with the Kafka topic, partition and
offset) before the task sees them; offsets are still committed for the consumed topic after the router renamed it;
a record the chain cannot process goes to the dead-letter topic naming the failing transform."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sink_helpers import RecordingTask, SinkThread, create_topic, produce, sink_document, unique, wait_until
from test_sink_runtime import committed, read_messages

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "transforms"))
from smt_reference_cases import CREATE, DELETE, ITEMS_KEY, UPDATE

CHAIN = {
    "transforms": "unwrap,route,meta",
    "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
    "transforms.unwrap.delete.tombstone.handling.mode": "rewrite",
    "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
    "transforms.route.regex": "(.*)\\.public\\.(.*)",
    "transforms.route.replacement": "$2",
    "transforms.meta.type": "org.apache.kafka.connect.transforms.InsertField$Value",
    "transforms.meta.topic.field": "kafka_topic",
    "transforms.meta.partition.field": "kafka_partition",
    "transforms.meta.offset.field": "kafka_offset",
}


def _bytes(message: Any) -> bytes:
    return json.dumps(message).encode()


def test_sink_chain_on_debezium_events(kafka_broker: Any) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = unique("dbz") + ".public.items"
    dlq = unique("dlq")
    create_topic(bootstrap, topic)
    bad = {"schema": {"type": "string", "optional": False, "name": "x.Envelope"}, "payload": "not a struct"}
    produce(
        bootstrap,
        topic,
        [
            (_bytes(ITEMS_KEY), _bytes(CREATE)),
            (_bytes(ITEMS_KEY), _bytes(UPDATE)),
            (_bytes(ITEMS_KEY), _bytes(DELETE)),
            (_bytes(ITEMS_KEY), None),  # Debezium's tombstone: dropped by unwrap in rewrite mode
            (_bytes(ITEMS_KEY), _bytes(bad)),  # unwrap cannot read it: dead-letter topic
        ],
    )
    name = unique("smt_sink")
    task = RecordingTask()
    doc = sink_document(
        bootstrap,
        name,
        topics=topic,
        **CHAIN,
        **{
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    runner = SinkThread(doc, task).start()
    try:
        wait_until(lambda: len(task.records) >= 3, 60, "3 transformed records")
        wait_until(lambda: committed(bootstrap, f"connect-{name}", topic) == [5], 60, "offsets committed")
    finally:
        runner.stop()
    assert [r.topic for r in task.records] == ["items"] * 3
    values = [r.value for r in task.records]
    assert [(v["qty"], v["__deleted"], v["kafka_offset"]) for v in values] == [
        (3, "false", 0),
        (4, "false", 1),
        (3, "true", 2),
    ]
    assert all(v["kafka_topic"] == "items" and v["kafka_partition"] == 0 for v in values)
    assert task.records[0].value_schema is not None and task.records[0].value_schema.name == "dbz.public.items.Value"
    dead = read_messages(bootstrap, dlq)
    assert len(dead) == 1
    headers = {k: v for k, v in dead[0].headers()}
    assert headers["__connect.errors.stage"] == b"TRANSFORMATION"
    assert headers["__connect.errors.class.name"] == b"io.debezium.transforms.ExtractNewRecordState"
    assert headers["__connect.errors.offset"] == b"4"
