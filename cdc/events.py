"""What a source reader hands to the runtime.

Readers do the source-specific work (decoding, type conversion, envelope assembly) and yield
:class:`SourceRecord` objects whose key and value are already serialized bytes: serialization happens once, in
the reader's hot loop, so the runtime only routes bytes to the producer. Positions travel separately (see
``cdc.runtime``): the runtime asks the reader for its current position when it commits offsets, which is correct
because the reader's position always describes "everything yielded so far".
"""

from __future__ import annotations

import os
import time
import uuid
from typing import NamedTuple

Header = tuple[str, bytes | None]
# Kafka record headers as confluent-kafka takes them: (name, value) pairs, in order.
Headers = list[Header]


class SourceRecord(NamedTuple):
    """One Kafka record to produce: ``value`` is ``None`` for tombstones, ``key`` is ``None`` for keyless tables.

    ``headers`` are the record's Kafka headers (Debezium's ``__debezium.*``); ``None`` or empty for none. A list
    shared by every record of a connector is fine: the producer copies it into each message and never changes it.
    """

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers | None = None


def context_headers(logical_name: str, connector_name: str, run_id: str, task_id: int = 0) -> Headers:
    """The ``__debezium.context.*`` headers Debezium 3.x puts on every change record of a connector task.

    ``logical_name`` is ``topic.prefix``, ``connector_name`` the connector type (``postgresql``), ``run_id`` a
    UUID chosen when the task starts. Built once per run by the connector; order as Debezium writes them.
    """
    return [
        ("__debezium.context.connectorLogicalName", logical_name.encode()),
        ("__debezium.context.taskId", str(task_id).encode()),
        ("__debezium.context.connectorName", connector_name.encode()),
        ("__debezium.context.runId", run_id.encode()),
    ]


def new_run_id() -> str:
    """A time-ordered UUID (version 7, as Debezium's ``runId``): 48 bits of Unix milliseconds, then random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


class TransformedRecord(SourceRecord):
    """A record that went through the connector's SMT chain (``cdc.capture.transform``): a ``SourceRecord`` that
    may also carry Kafka headers (``add.headers``, InsertHeader …), a partition and a timestamp (the outbox router
    sets them). Only the transformed send path (``RecordProducer.send_transformed``) reads them."""

    partition: int | None
    timestamp: int | None

    def __new__(
        cls,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: tuple[Header, ...] | None = None,
        partition: int | None = None,
        timestamp: int | None = None,
    ) -> TransformedRecord:
        record = tuple.__new__(cls, (topic, key, value, list(headers) if headers else None))
        record.partition = partition
        record.timestamp = timestamp
        return record


# What the transform chain returns for a record it dropped (Filter, unwrap on a tombstone …); skipped when sending.
DROPPED = SourceRecord("", None, None)
