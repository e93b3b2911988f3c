"""The structured record that converters, single message transforms (SMTs) and sink connectors exchange.

Kafka Connect's ``ConnectRecord`` in Python. Sources build one only when a transform chain is configured (the
fast path without transforms produces pre-serialized bytes, see ``cdc.events.SourceRecord``); sink workers build
one per consumed message with the worker's key/value converters (``Converter.to_connect``), run the SMT chain on it
and hand the survivors to ``SinkTask.put``.

Values use the Connect in-memory representation, so every component agrees on them:

- struct → ``dict`` (keys in the schema's field order); array → ``list``; map → ``dict``; bytes → ``bytes``;
- ``org.apache.kafka.connect.data.Decimal`` → ``decimal.Decimal``; ``…data.Date`` → ``datetime.date``;
  ``…data.Time`` → ``datetime.time``; ``…data.Timestamp`` → ``datetime.datetime`` (UTC, tz-aware);
- every other logical type (Debezium's ``io.debezium.time.*``, ``io.debezium.data.*``) stays its primitive
  (``int``, ``str`` …), exactly as in Java;
- schemaless values (``schemas.enable=false``) carry ``None`` as their schema and plain JSON-like values.

Headers are kept as the bytes on the wire (Connect's ``SimpleHeaderConverter`` text form); ``header_value`` and
``header_bytes`` convert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.connect import Schema

Header = tuple[str, bytes | None]


@dataclass(slots=True)
class ConnectRecord:
    """One record between converter, transforms and connector. Transforms return new records (``replace``)."""

    topic: str
    key_schema: Schema | None
    key: Any
    value_schema: Schema | None
    value: Any
    partition: int | None = None
    timestamp: int | None = None  # epoch milliseconds
    headers: list[Header] = field(default_factory=list)
    # Where a sink worker consumed it from (topic and partition above); None on the source side.
    kafka_offset: int | None = None
    # The original topic/partition/offset before any transform renamed the topic: what offsets are committed for.
    original_topic: str | None = None

    def replace(self, **changes: Any) -> ConnectRecord:
        """A copy with ``changes`` applied (Connect's ``newRecord``); headers are copied, not shared.

        Written out instead of ``dataclasses.replace``, which cost more than the transform itself on the source
        side's SMT path (bench/transforms.py).
        """
        get = changes.pop
        record = ConnectRecord(
            get("topic", self.topic),
            get("key_schema", self.key_schema),
            get("key", self.key),
            get("value_schema", self.value_schema),
            get("value", self.value),
            get("partition", self.partition),
            get("timestamp", self.timestamp),
            get("headers") if "headers" in changes else list(self.headers),
            get("kafka_offset", self.kafka_offset),
            get("original_topic", self.original_topic),
        )
        if changes:
            raise TypeError(f"ConnectRecord has no field(s) {sorted(changes)}")
        return record

    def header(self, name: str) -> bytes | None:
        """The last header called ``name`` (Connect's ``lastWithName``), or None."""
        for key, value in reversed(self.headers):
            if key == name:
                return value
        return None


class RawDecoder(Protocol):
    """What a ``WireRecord`` needs of a converter to become a ``ConnectRecord`` (``Converter.to_connect``)."""

    def to_connect(self, topic: str, data: bytes | None, headers: list[Header]) -> tuple[Schema | None, Any]: ...


@dataclass(slots=True)
class WireRecord(ConnectRecord):
    """A consumed record whose key and value are still in the converter's *wire form*: the payload as parsed (for
    JSON, what ``orjson.loads`` gives: Decimals as base64 text, ``Date`` as an int …), not yet Connect values; the
    schemas are the real ones.

    Only sink tasks that ask for them (``SinkTask.accepts_wire_records``) get these, and only when no transform is
    configured: a task with a fast path of its own (the JDBC sink's envelope → row tuple) then reads the few fields
    it needs without the whole value being decoded first. For anything else the task calls :meth:`decoded`, which
    converts the original bytes exactly as the runtime would have (same values, same ``ConversionError``).
    """

    raw_key: bytes | None = None
    raw_value: bytes | None = None
    key_decoder: RawDecoder | None = None
    value_decoder: RawDecoder | None = None

    def decoded(self) -> ConnectRecord:
        """This record with Connect values, from the original bytes; ``ConversionError`` (a ``WireDecodeError``,
        which says which converter failed) for bytes the converter cannot read. Called by the task, on its own
        thread, for records its fast path does not handle."""
        assert self.key_decoder is not None and self.value_decoder is not None
        from schemas.converters.base import WireDecodeError  # the converters module imports this one

        topic = self.original_topic or self.topic
        # Any exception: the runtime's own path dead-letters whatever a converter raises (an OverflowError from a
        # Date out of range as much as a ConversionError), so this one must become a reportable error too.
        try:
            key_schema, key = self.key_decoder.to_connect(topic, self.raw_key, self.headers)
        except Exception as exc:
            raise WireDecodeError.of(exc, is_key=True) from exc
        try:
            value_schema, value = self.value_decoder.to_connect(topic, self.raw_value, self.headers)
        except Exception as exc:
            raise WireDecodeError.of(exc, is_key=False) from exc
        return ConnectRecord(
            self.topic,
            key_schema,
            key,
            value_schema,
            value,
            self.partition,
            self.timestamp,
            self.headers,
            self.kafka_offset,
            self.original_topic,
        )
