"""The record producer: librdkafka through confluent-kafka, tuned for at-least-once without gaps.

* Idempotent (``enable.idempotence``): retries never reorder or duplicate within a partition, so per-key order holds.
* Java-compatible partitioning (``murmur2_random``): the same key lands on the same partition as with Kafka Connect.
* Bounded: librdkafka's queue is capped by count and bytes; :meth:`RecordProducer.send` blocks (serving the
  source's keepalives) while it is full, which is the engine's backpressure: the reader stops reading.
* Delivery reports only for failures (``delivery.report.only.error``): success needs no Python call per record;
  :meth:`flush` tells when everything sent so far is acknowledged, which is all offset commits need.
* lz4-compressed batches (``compression.type``; override with ``producer.compression.type=none``): every JSON
  value repeats its table's schema, so batches shrink ~10x and the broker handles a tenth of the bytes
  (docs/performance.md: 7x more records/s into tansu, and less librdkafka CPU than sending them uncompressed).

Any delivery failure makes the pipeline restart from the last stored offset (RetriableError).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from cdc.errors import FatalError, RetriableError
from cdc.events import DROPPED, SourceRecord, TransformedRecord

log = logging.getLogger("cdc.kafka")
LIBRDKAFKA_LOG = logging.getLogger("cdc.kafka.librdkafka")

DEFAULTS: dict[str, Any] = {
    "enable.idempotence": "true",
    "acks": "all",
    "partitioner": "murmur2_random",
    "linger.ms": "10",
    "compression.type": "lz4",
    "batch.num.messages": "10000",
    "queue.buffering.max.messages": "100000",
    "queue.buffering.max.kbytes": "65536",
    "delivery.report.only.error": True,
    "message.timeout.ms": "300000",
}


def producer_property_problem(overrides: dict[str, str]) -> str | None:
    """librdkafka's complaint about the worker's ``producer.*`` properties, or None if it accepts them all.

    Called while the config is loaded, so ``validate`` reports an unknown or malformed property and ``start``
    never gets as far as creating the producer. Builds a producer without ``bootstrap.servers``: librdkafka
    checks every property then and opens no connection.
    """
    try:
        probe = Producer({**DEFAULTS, **overrides, "log_level": 0})
    except KafkaException as exc:
        return f"{exc.args[0].str()} (producer.<name> properties are librdkafka settings; see its CONFIGURATION.md)"
    del probe
    return None


class RecordProducer:
    """Wraps one confluent_kafka.Producer; owned by the runtime, single-threaded."""

    def __init__(self, bootstrap_servers: str, overrides: dict[str, str], client_id: str) -> None:
        config: dict[str, Any] = {**DEFAULTS, **overrides}
        config["bootstrap.servers"] = bootstrap_servers
        config["client.id"] = client_id
        config["on_delivery"] = self._on_delivery
        config["error_cb"] = self._on_error
        config["logger"] = LIBRDKAFKA_LOG  # librdkafka's own lines go through structured logging too
        self._producer = Producer(config)
        self.failure: str | None = None

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None and self.failure is None:
            self.failure = f"delivery to {msg.topic()} failed: {err.str()}"

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.failure = f"fatal producer error: {err.str()}"
        else:
            log.warning("kafka: %s", err.str())

    def send_all(self, records: Sequence[SourceRecord], while_blocked: Callable[[], None]) -> None:
        """Queue ``records`` in order; blocks while the queue is full, calling ``while_blocked`` meanwhile.

        The hot path: one Python call per batch, not per record.
        """
        produce = self._producer.produce
        for topic, key, value, headers in records:
            try:
                if headers:
                    produce(topic, value, key, headers=headers)  # type: ignore[arg-type]  # list invariance
                else:
                    produce(topic, value, key)
            except (BufferError, KafkaException) as exc:
                self._send_slow(topic, key, value, while_blocked, exc, {"headers": headers} if headers else None)

    def send_transformed(self, records: Sequence[SourceRecord], while_blocked: Callable[[], None]) -> None:
        """``send_all`` for a connector with SMTs: skips records the chain dropped (``DROPPED``) and sends the
        headers, partition and timestamp a ``TransformedRecord`` carries."""
        produce = self._producer.produce
        for record in records:
            if record is DROPPED:
                continue
            options: dict[str, Any] = {}
            if record.headers:
                options["headers"] = record.headers
            if isinstance(record, TransformedRecord):
                if record.partition is not None:
                    options["partition"] = record.partition
                if record.timestamp is not None:
                    options["timestamp"] = record.timestamp
            topic, key, value = record[0], record[1], record[2]
            try:
                produce(topic, value, key, **options)
            except (BufferError, KafkaException) as exc:
                self._send_slow(topic, key, value, while_blocked, exc, options)

    def _send_slow(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        while_blocked: Callable[[], None],
        exc: BufferError | KafkaException,
        options: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(exc, KafkaException):
            # Raised synchronously only for records the client can never send (e.g. larger than
            # message.max.bytes): dropping the record would be a gap, so stop with the setting to change.
            raise FatalError(
                f"cannot produce a record to {topic}: {exc.args[0].str()}; raise producer.message.max.bytes "
                "(and the topic's max.message.bytes) or exclude the column"
            ) from None
        # The queue is full. Retry every few milliseconds: with delivery reports only for errors, poll() has
        # nothing to return early for, and a long wait would let librdkafka drain the queue and then idle.
        while True:
            self._producer.poll(0.005)
            self.raise_if_failed()
            while_blocked()
            try:
                self._producer.produce(topic, value, key, **(options or {}))
                return
            except BufferError:
                continue

    def poll(self) -> None:
        """Serve callbacks; called once per batch by the runtime."""
        self._producer.poll(0)
        self.raise_if_failed()

    def flush(self, timeout_s: float, while_waiting: Callable[[], None]) -> bool:
        """Wait until every queued record is acknowledged; False if ``timeout_s`` passed first."""
        remaining = self._producer.flush(0)
        waited = 0.0
        while remaining > 0 and waited < timeout_s:
            remaining = self._producer.flush(0.1)
            waited += 0.1
            while_waiting()
        self.raise_if_failed()
        return remaining == 0

    def raise_if_failed(self) -> None:
        if self.failure is not None:
            raise RetriableError(self.failure)

    def in_flight(self) -> int:
        return len(self._producer)

    def close(self, timeout_s: float) -> None:
        """Flush what can be flushed and release the client (it holds a reference cycle through the callbacks)."""
        self._producer.flush(timeout_s)
        del self._producer
