"""Source offsets in a compacted Kafka topic, in Kafka Connect's own format.

Key: ``["<connector name>",{"server":"<topic.prefix>"}]`` (Connect's schemaless JSON, no spaces); value: the
offset map as JSON; a null value deletes the offset. On start-up the topic is read from the beginning to the end
of every partition and the last value per key wins, exactly as a Connect worker does, so offsets written by one
can be read by the other.

Called by the runtime: :meth:`OffsetStore.read` once per pipeline start, :meth:`write` at each offset commit
(synchronous: it returns only when the broker acknowledged the record).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from cdc.errors import FatalError, RetriableError
from cdc.kafka.producer import LIBRDKAFKA_LOG
from cdc.kafka.reading import end_reading_consumer, messages_to_end

log = logging.getLogger("cdc.offsets")


def offset_key(connector: str, server: str) -> bytes:
    return orjson.dumps([connector, {"server": server}])


class OffsetStore:
    """Reads and writes one connector's offsets in ``offset.storage.topic``."""

    def __init__(self, bootstrap_servers: str, topic: str, partitions: int = 25, replication_factor: int = -1):
        self.bootstrap = bootstrap_servers
        self.topic = topic
        self.partitions = partitions
        self.replication_factor = replication_factor
        self._producer: Producer | None = None

    def ensure_topic(self, timeout_s: float = 15.0, should_stop: Callable[[], bool] | None = None) -> None:
        """Create the compacted offsets topic if it does not exist (RetriableError if the broker is down).

        ``should_stop`` (the runtime's stop flag) is checked every second while the broker does not answer, so a
        SIGTERM during start-up against an unreachable broker stops within a second instead of after
        ``timeout_s``; the method then returns without creating anything.
        """
        admin_config: dict[str, Any] = {"bootstrap.servers": self.bootstrap, "logger": LIBRDKAFKA_LOG}
        admin = AdminClient(admin_config)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                metadata = admin.list_topics(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
                break
            except KafkaException as exc:
                if should_stop is not None and should_stop():
                    return
                if time.monotonic() >= deadline:
                    raise RetriableError(f"cannot reach Kafka at {self.bootstrap}: {exc}") from None
        if self.topic in metadata.topics and not metadata.topics[self.topic].error:
            return
        new = NewTopic(self.topic, self.partitions, self.replication_factor, config={"cleanup.policy": "compact"})
        for future in admin.create_topics([new], operation_timeout=timeout_s).values():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise RetriableError(f"cannot create offsets topic {self.topic}: {exc}") from None
        log.info("created offsets topic %s (compacted)", self.topic)

    def read_all(self, timeout_s: float = 30.0) -> dict[bytes, dict[str, Any] | None]:
        """Every key's latest value in the topic (None = deleted)."""
        consumer = end_reading_consumer(
            self.bootstrap, "offsets-reader", **{"auto.offset.reset": "earliest", "logger": LIBRDKAFKA_LOG}
        )
        latest: dict[bytes, dict[str, Any] | None] = {}
        try:
            metadata = consumer.list_topics(self.topic, timeout=timeout_s)
            starts = dict.fromkeys(metadata.topics[self.topic].partitions, OFFSET_BEGINNING)
            for msg in messages_to_end(consumer, self.topic, starts, timeout_s, batch=1000):
                key = msg.key()
                if key is not None:
                    value = msg.value()
                    latest[key] = None if value is None else orjson.loads(value)
        except KafkaException as exc:
            raise RetriableError(f"cannot read offsets topic {self.topic}: {exc}") from None
        finally:
            consumer.close()
        return latest

    def read(self, connector: str, server: str) -> dict[str, Any] | None:
        """This connector's stored offset, or None. FatalError if the stored value is not a JSON object."""
        value = self.read_all().get(offset_key(connector, server))
        if value is not None and not isinstance(value, dict):
            raise FatalError(f"stored offset for {connector} is not a JSON object: {value!r}")
        return value

    def write(self, connector: str, server: str, offset: dict[str, Any] | None, timeout_s: float = 10.0) -> None:
        """Store (or, with None, delete) the offset; returns only once the broker acknowledged it."""
        if self._producer is None:
            self._producer = Producer(
                {
                    "bootstrap.servers": self.bootstrap,
                    "enable.idempotence": "true",
                    "acks": "all",
                    "partitioner": "murmur2_random",
                    "linger.ms": "0",
                    "logger": LIBRDKAFKA_LOG,
                }
            )
        errors: list[str] = []

        def on_delivery(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                errors.append(err.str())

        value = None if offset is None else orjson.dumps(offset)
        self._producer.produce(self.topic, value, offset_key(connector, server), on_delivery=on_delivery)
        if self._producer.flush(timeout_s) > 0:
            raise RetriableError(f"offset write to {self.topic} not acknowledged within {timeout_s}s")
        if errors:
            raise RetriableError(f"offset write to {self.topic} failed: {errors[0]}")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None
