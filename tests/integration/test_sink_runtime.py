"""The sink runtime against a real broker: delivery order, retries, errors.tolerance, the dead-letter topic and its
``__connect.errors.*`` headers, committed offsets, and ``cdc-engine start`` / ``offsets`` on a sink config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition
from engine_helpers import REPO
from sink_helpers import (
    BackgroundRecordingTask,
    RecordingTask,
    SinkThread,
    create_topic,
    produce,
    sink_document,
    unique,
    wait_until,
)

from cdc.kafka.reading import end_reading_consumer, messages_to_end
from servers.engine import EngineProcess
from sinks.error_handling import ToleranceExceededError

KEY_SCHEMA = {"type": "struct", "fields": [{"type": "int32", "optional": False, "field": "id"}], "optional": False}
VALUE_SCHEMA = {
    "type": "struct",
    "fields": [
        {"type": "int32", "optional": False, "field": "id"},
        {"type": "string", "optional": True, "field": "name"},
    ],
    "optional": False,
    "name": "test.Value",
}


def key(i: int) -> bytes:
    return orjson.dumps({"schema": KEY_SCHEMA, "payload": {"id": i}})


def value(i: int, name: str = "x") -> bytes:
    return orjson.dumps({"schema": VALUE_SCHEMA, "payload": {"id": i, "name": f"{name}{i}"}})


def read_messages(bootstrap: str, topic: str) -> list[Any]:
    consumer = end_reading_consumer(bootstrap, "test-dlq")
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions if topic in metadata.topics else {}
        return list(messages_to_end(consumer, topic, dict.fromkeys(partitions, 0), 30))
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, topic: str, partitions: int = 1) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return [tp.offset for tp in tps]
    finally:
        consumer.close()


def test_tolerance_all_sends_poison_records_to_the_dead_letter_topic(kafka_broker: Any) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, dlq, name = unique("src"), unique("dlq"), unique("sink")
    create_topic(bootstrap, topic)
    records = [(key(i), value(i)) for i in range(10)]
    records[3] = (key(3), b"{not json")  # bad JSON
    records[6] = (key(6), orjson.dumps({"schema": VALUE_SCHEMA, "payload": {"id": "six"}}))  # wrong schema
    produce(bootstrap, topic, records, headers=[("trace", b"abc")])
    task = RecordingTask(reject=lambda r: r.value["id"] == 8)  # the target rejects id 8 (e.g. a constraint)
    doc = sink_document(
        bootstrap,
        name,
        topics=topic,
        **{
            "errors.tolerance": "all",
            "errors.log.enable": "true",
            "errors.log.include.messages": "true",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    sink = SinkThread(doc, task).start()
    try:
        wait_until(lambda: len(task.records) >= 7, what="7 good records")
        wait_until(lambda: committed(bootstrap, f"connect-{name}", topic) == [10], what="offset 10 committed")
    finally:
        sink.stop()
    assert [r.key["id"] for r in task.records] == [0, 1, 2, 4, 5, 7, 9]  # offset order, poison skipped
    assert all(r.kafka_offset == r.key["id"] for r in task.records)
    assert task.records[0].headers == [("trace", b"abc")]

    dead = read_messages(bootstrap, dlq)
    assert [m.key() for m in dead] == [key(3), key(6), key(8)]
    assert [m.value() for m in dead] == [records[3][1], records[6][1], records[8][1]]  # original bytes
    by_offset = {}
    for m in dead:
        headers = dict(m.headers())
        assert headers["trace"] == b"abc"  # original headers kept
        by_offset[int(headers["__connect.errors.offset"])] = headers
        assert headers["__connect.errors.topic"] == topic.encode()
        assert headers["__connect.errors.partition"] == b"0"
        assert headers["__connect.errors.connector.name"] == name.encode()
        assert headers["__connect.errors.task.id"] == b"0"
        assert b"Error: " in headers["__connect.errors.exception.stacktrace"]
    assert by_offset[3]["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert by_offset[3]["__connect.errors.class.name"] == b"org.apache.kafka.connect.json.JsonConverter"
    assert by_offset[3]["__connect.errors.exception.class.name"] == b"org.apache.kafka.connect.errors.DataException"
    assert b"Traceback" in by_offset[3]["__connect.errors.exception.stacktrace"]
    assert by_offset[6]["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert b"INT32" in by_offset[6]["__connect.errors.exception.message"]
    assert by_offset[8]["__connect.errors.stage"] == b"TASK_PUT"
    assert by_offset[8]["__connect.errors.exception.class.name"] == b"builtins.ValueError"
    assert by_offset[8]["__connect.errors.exception.message"] == b"rejected {'id': 8}"


def test_tolerance_none_stops_at_the_poison_record(kafka_broker: Any) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, name = unique("src"), unique("sink")
    create_topic(bootstrap, topic)
    produce(bootstrap, topic, [(key(0), value(0)), (key(1), b"\x00garbage"), (key(2), value(2))])
    task = RecordingTask()
    sink = SinkThread(sink_document(bootstrap, name, topics=topic), task).start()
    assert sink.join(60), "the runtime did not stop on the poison record"
    assert isinstance(sink.error, ToleranceExceededError)
    assert "VALUE_CONVERTER" in str(sink.error)
    # As in Connect, the batch holding the poison record is not put at all; nothing after it ever is.
    assert [r.key["id"] for r in task.records] in ([], [0])
    # Nothing past the poison record is committed: a restart reads it again.
    assert committed(bootstrap, f"connect-{name}", topic)[0] in (-1001, 0, 1)


def test_retriable_write_failures_are_retried_in_order(kafka_broker: Any) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, name = unique("src"), unique("sink")
    create_topic(bootstrap, topic, partitions=3)
    produce(bootstrap, topic, [(key(i % 5), value(i)) for i in range(60)])
    task = RecordingTask(fail_times=3)
    sink = SinkThread(sink_document(bootstrap, name, topics=topic), task).start()
    try:
        wait_until(lambda: len(task.records) >= 60, what="60 records")
    finally:
        sink.stop()
    assert len(task.records) == 60
    for k in range(5):  # per-key order kept through the retries
        ids = [r.value["id"] for r in task.records if r.key["id"] == k]
        assert ids == sorted(ids) and len(ids) == 12


def test_cli_runs_a_sink_config_and_reports_its_offsets(kafka_broker: Any, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, name = unique("src"), unique("sink")
    create_topic(bootstrap, topic)
    produce(bootstrap, topic, [(key(i), value(i)) for i in range(25)])
    doc = sink_document(bootstrap, name, topics=topic)
    engine = EngineProcess(doc, tmp_path).start()
    try:
        engine.wait_logged("partitions assigned", timeout=60)
        wait_until(lambda: committed(bootstrap, f"connect-{name}", topic) == [25], what="offset 25 committed")
        assert engine.terminate() == 0
    finally:
        engine.kill_if_running()
    assert "stopped cleanly" in engine.log()
    result = subprocess.run(
        [sys.executable, "-m", "cdc.cli", "offsets", "--config", str(engine.config_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"group": f"connect-{name}", "offsets": {topic: {"0": 25}}}
    described = subprocess.run(
        [sys.executable, "-m", "cdc.cli", "describe", "discard"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert "errors.deadletterqueue.topic.name" in described.stdout


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "config.topics: required"),
        ({"topics": "a", "topics.regex": "b.*"}, "mutually exclusive"),
        ({"topics.regex": "("}, "invalid regular expression"),
        ({"topics": "a", "errors.tolerance": "some"}, "config.errors.tolerance"),
        ({"topics": "a", "errors.deadletterqueue.topic.name": "a"}, "also a topic this sink consumes"),
        ({"topics": "a", "value.converter": "com.example.Nope"}, "unknown converter"),
    ],
)
def test_sink_config_errors(config: dict[str, str], expected: str) -> None:
    from cdc.config import load_engine_config
    from cdc.errors import ConfigError

    doc = {"name": "s", "config": {"connector.class": "discard", **config}, "worker": {"bootstrap.servers": "x:1"}}
    with pytest.raises(ConfigError) as info:
        load_engine_config(None, document=doc)
    assert any(expected in p for p in info.value.problems), info.value.problems


class BatchRecorder(RecordingTask):
    """Records batch sizes; pauses partition 0 on its first batch and resumes it after ``pause_s``."""

    def __init__(self, pause_s: float = 0.0) -> None:
        super().__init__()
        self.batch_sizes: list[int] = []
        self.pause_s = pause_s
        self.paused_at: float | None = None
        self.resumed = False
        self.during_pause: list[int] = []
        self.topic = ""

    def put(self, records: Any) -> None:
        import time

        if records:
            self.batch_sizes.append(len(records))
            self.topic = records[0].topic
        now = time.monotonic()
        if self.paused_at is not None and not self.resumed:
            self.during_pause += [r.partition for r in records]
            if now - self.paused_at >= self.pause_s:  # an empty put comes at least every poll timeout
                assert self.context is not None
                self.context.resume(self.topic, 0)
                self.resumed = True
        super().put(records)
        if self.pause_s and self.paused_at is None and records:
            assert self.context is not None
            self.context.pause(self.topic, 0)
            self.paused_at = now


def test_batches_are_bounded_and_paused_partitions_wait(kafka_broker: Any) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, name = unique("src"), unique("sink")
    create_topic(bootstrap, topic, partitions=2)
    produce(bootstrap, topic, [(key(i), value(i)) for i in range(200)], partition=0)
    produce(bootstrap, topic, [(key(i), value(i)) for i in range(200, 400)], partition=1)
    task = BatchRecorder(pause_s=2.0)
    doc = sink_document(bootstrap, name, topics=topic, **{"consumer.override.max.poll.records": "7"})
    sink = SinkThread(doc, task).start()
    try:
        wait_until(lambda: len(task.records) >= 400, what="all 400 records")
    finally:
        sink.stop()
    assert max(task.batch_sizes) <= 7
    assert task.resumed
    # While partition 0 was paused only partition 1 was delivered (one batch in flight may straddle the pause).
    assert task.during_pause and set(task.during_pause[7:]) <= {1}
    for p, ids in ((0, range(200)), (1, range(200, 400))):
        assert [r.key["id"] for r in task.records if r.partition == p] == list(ids)


@pytest.mark.parametrize("task_class", [RecordingTask, BackgroundRecordingTask])
def test_a_rebalance_flushes_and_commits_the_revoked_partitions(kafka_broker: Any, task_class: type) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, name = unique("src"), unique("sink")
    create_topic(bootstrap, topic, partitions=4)
    for p in range(4):
        produce(bootstrap, topic, [(key(i), value(i)) for i in range(10)], partition=p)
    first = task_class()
    # No periodic commit during the test: only the rebalance (and the final stop) commit.
    doc = sink_document(bootstrap, name, topics=topic, worker={"offset.flush.interval.ms": 600000})
    a = SinkThread(doc, first).start()
    b = None
    try:
        wait_until(lambda: len(first.records) >= 40, what="worker A to read everything")
        assert committed(bootstrap, f"connect-{name}", topic, 4) == [-1001] * 4
        flushes_before = first.flushes
        second = RecordingTask()
        b = SinkThread(doc, second).start()
        wait_until(lambda: len(second.opened) > 0, what="worker B to get partitions")
        moved = {p for _, p in second.opened}
        assert first.flushes > flushes_before  # A flushed before giving partitions away
        offsets = committed(bootstrap, f"connect-{name}", topic, 4)
        assert all(offsets[p] == 10 for p in moved), (moved, offsets)
        assert second.records == []  # nothing is read twice: B starts at the committed offsets
    finally:
        a.stop()
        if b is not None:
            b.stop()
    assert getattr(first, "overlaps", []) == []


def test_background_puts_keep_order_retries_dead_letters_and_commit_after_the_write(kafka_broker: Any) -> None:
    """put_in_background: the next batch converts while one is written; hooks never overlap, per-partition order,
    a retriable failure of a background put is retried, a rejected record reaches the dead-letter topic, and the
    offsets committed at the stop are those of what was written."""
    bootstrap = kafka_broker.bootstrap_servers
    topic, dlq, name = unique("src"), unique("dlq"), unique("sink")
    create_topic(bootstrap, topic, partitions=3)
    for p in range(3):
        produce(bootstrap, topic, [(key(i), value(i)) for i in range(p * 100, p * 100 + 100)], partition=p)
    task = BackgroundRecordingTask(reject=lambda r: r.key["id"] == 150, fail_times=2, put_delay_s=0.01)
    doc = sink_document(
        bootstrap,
        name,
        topics=topic,
        **{
            "consumer.override.max.poll.records": "9",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
        },
    )
    sink = SinkThread(doc, task).start()
    try:
        wait_until(lambda: len(task.records) >= 299, what="299 records")
    finally:
        sink.stop()
    assert sink.error is None
    assert task.overlaps == []
    assert task.background_puts > 10
    for p in range(3):
        expected = [i for i in range(p * 100, p * 100 + 100) if i != 150]
        assert [r.key["id"] for r in task.records if r.partition == p] == expected
    assert committed(bootstrap, f"connect-{name}", topic, 3) == [100, 100, 100]
    (dead,) = read_messages(bootstrap, dlq)
    assert dead.key() == key(150)


class RejectsInFlush(RecordingTask):
    """Buffers in put and rejects id 2 only when flushing (as bulk-writing sinks do)."""

    def put(self, records: Any) -> None:
        self.records += list(records)

    def flush(self) -> None:
        assert self.context is not None
        for record in [r for r in self.records if r.key["id"] == 2]:
            self.context.report(record, ValueError("rejected at flush"))
        self.records = [r for r in self.records if r.key["id"] != 2]
        super().flush()


def test_a_record_rejected_after_put_is_dead_lettered_with_its_original_bytes(kafka_broker: Any) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, dlq, name = unique("src"), unique("dlq"), unique("sink")
    create_topic(bootstrap, topic)
    produce(bootstrap, topic, [(key(i), value(i)) for i in range(4)])
    task = RejectsInFlush()
    doc = sink_document(
        bootstrap,
        name,
        topics=topic,
        **{"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq},
    )
    sink = SinkThread(doc, task).start()
    try:
        wait_until(lambda: committed(bootstrap, f"connect-{name}", topic) == [4], what="offset 4 committed")
    finally:
        sink.stop()
    (dead,) = read_messages(bootstrap, dlq)
    # Re-serialized with the worker's converters: JsonConverter gives back the very bytes that were consumed.
    assert (dead.key(), dead.value()) == (key(2), value(2))
