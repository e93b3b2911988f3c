"""Counting what reached a topic without trusting the broker's high watermark.

tansu's high watermark (and therefore ``enable.partition.eof``) is not a reliable "you have read everything"
signal, so these helpers keep one consumer open, tally every record they consume, and treat "nothing new for
``idle_s`` seconds" as the end. Records are reduced on arrival (only the key's ``id`` and, optionally, a small
summary of the value are kept), so half a million fat Debezium envelopes do not pile up in the test process.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from cdc.kafka.reading import end_reading_consumer, messages_to_end

Summary = Callable[[bytes | None, bytes | None], Hashable | None]


def key_id(key: bytes | None, _value: bytes | None) -> Hashable | None:
    """The ``id`` field of a JSON-converter key (with or without an embedded schema)."""
    if key is None:
        return None
    data = orjson.loads(key)
    payload = data.get("payload", data) if isinstance(data, dict) else data
    ident: Hashable = payload["id"]
    return ident


class TopicTally:
    """One consumer reading ``topic`` from offset 0 of every partition; ``counts[summary(record)]``."""

    def __init__(self, bootstrap: str, topic: str, summary: Summary = key_id, wait_s: float = 60.0) -> None:
        self.topic = topic
        self.summary = summary
        self.counts: Counter[Hashable] = Counter()
        self.skipped = 0  # records whose summary was None (tombstones, heartbeats)
        self.bytes = 0  # keys and values consumed
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"tally-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.max.bytes": 64 * 1024 * 1024,
                "session.timeout.ms": 6000,
            }
        )
        deadline = time.monotonic() + wait_s
        while True:
            metadata = self._consumer.list_topics(topic, timeout=10)
            meta = metadata.topics.get(topic)
            if meta is not None and meta.error is None and meta.partitions:
                break
            if time.monotonic() > deadline:
                self._consumer.close()
                raise AssertionError(f"topic {topic} did not appear within {wait_s}s")
            time.sleep(0.3)
        self.bootstrap = bootstrap
        self._next = dict.fromkeys(meta.partitions, 0)  # partition → offset of the next record to read
        self._consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])

    def drain(self, idle_s: float = 1.0, max_s: float = 600.0) -> int:
        """Consume until nothing new arrived for ``idle_s`` seconds (or ``max_s`` passed); records consumed."""
        consumed = 0
        last_new = start = time.monotonic()
        while True:
            now = time.monotonic()
            if now - last_new >= idle_s or now - start >= max_s:
                return consumed
            msgs = self._consumer.consume(10000, 0.2)
            for msg in msgs:
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise RuntimeError(err.str())
                self._take(msg)
                consumed += 1
            if msgs:
                last_new = time.monotonic()

    def _take(self, msg: Message) -> None:
        key, value = msg.key(), msg.value()
        self.bytes += len(key or b"") + len(value or b"")
        self._next[msg.partition()] = msg.offset() + 1
        item = self.summary(key, value)
        if item is None:
            self.skipped += 1
        else:
            self.counts[item] += 1

    def drain_to_end(self, timeout: float = 120.0) -> int:
        """Consume every record written so far, to the end of each partition; records consumed.

        For when nothing writes to the topic any more (the producer was killed or stopped). ``drain`` stops after an
        idle gap, which can come while the consumer still lags on a loaded machine; this reads from where the tally
        is to each partition's end with a fresh end-of-partition reader (``cdc.kafka.reading``), then moves the
        tally's consumer past what it read.
        """
        reader = end_reading_consumer(self.bootstrap, "tally-end", **{"session.timeout.ms": 6000})
        consumed = 0
        try:
            for msg in messages_to_end(reader, self.topic, dict(self._next), timeout):
                self._take(msg)
                consumed += 1
        finally:
            reader.close()
        # Re-assigning drops whatever the tally's consumer had prefetched before these offsets.
        self._consumer.assign([TopicPartition(self.topic, p, offset) for p, offset in self._next.items()])
        return consumed

    def wait_until(
        self, done: Callable[[TopicTally], bool], timeout: float, what: str, idle_s: float = 0.5, step_s: float = 5.0
    ) -> None:
        """Drain repeatedly (``step_s`` at most per check) until ``done(self)``; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not done(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what} ({self.records_summary()})")
            self.drain(idle_s=idle_s, max_s=step_s)

    @property
    def distinct(self) -> int:
        return len(self.counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def duplicates(self) -> int:
        return sum(c - 1 for c in self.counts.values() if c > 1)

    def records_summary(self) -> str:
        return f"{self.total} records, {self.distinct} distinct, {self.duplicates} duplicates"

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> TopicTally:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def value_summary(key: bytes | None, value: bytes | None) -> tuple[Any, ...] | None:
    """(id, op, version-or-None) of a Debezium change value; None for tombstones."""
    if value is None:
        return None
    payload = orjson.loads(value)["payload"]
    op = payload["op"]
    row = payload["before"] if op == "d" else payload["after"]
    return (row["id"], op, row.get("version") if op != "d" else None)
