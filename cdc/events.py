"""What a source reader hands to the runtime.

Readers do the source-specific work (decoding, type conversion, envelope assembly) and yield
:class:`SourceRecord` objects whose key and value are already serialized bytes: serialization happens once, in
the reader's hot loop, so the runtime only routes bytes to the producer. Positions travel separately (see
``cdc.runtime``): the runtime asks the reader for its current position when it commits offsets, which is correct
because the reader's position always describes "everything yielded so far".
"""

from __future__ import annotations

from typing import NamedTuple


class SourceRecord(NamedTuple):
    """One Kafka record to produce: ``value`` is ``None`` for tombstones, ``key`` is ``None`` for keyless tables."""

    topic: str
    key: bytes | None
    value: bytes | None


Header = tuple[str, bytes | None]


class TransformedRecord(SourceRecord):
    """A record that went through the connector's SMT chain (``cdc.capture.transform``): a ``SourceRecord`` that
    may also carry Kafka headers (``add.headers``, InsertHeader …), a partition and a timestamp (the outbox router
    sets them). Only the transformed send path (``RecordProducer.send_transformed``) reads them."""

    headers: tuple[Header, ...] | None
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
        record = tuple.__new__(cls, (topic, key, value))
        record.headers = headers
        record.partition = partition
        record.timestamp = timestamp
        return record


# What the transform chain returns for a record it dropped (Filter, unwrap on a tombstone …); skipped when sending.
DROPPED = SourceRecord("", None, None)
