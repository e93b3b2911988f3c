"""Logical decoding messages (``pg_logical_emit_message``) as Debezium's op ``m`` records on ``<prefix>.message``.

PostgreSQL 14+ sends them in the pgoutput stream when ``messages 'true'`` is requested (see
``cdc.postgres.replication``). Debezium 3.6 writes each one with key ``{prefix}``
(``io.debezium.connector.postgresql.MessageKey``) and value ``{op, ts_ms, source, transaction, message}``
(``io.debezium.connector.postgresql.MessageValue``), without headers; the source block has empty ``schema`` and
``table``, and ``txId`` null for a non-transactional message. Checked against Debezium 3.6.3 by tests/conformance.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from cdc.capture.converters import SourceConverters
from cdc.events import SourceRecord
from cdc.postgres.source_info import SOURCE_SCHEMA
from schemas.connect import OPTIONAL_INT64, OPTIONAL_STRING, STRING, Field, Schema, struct
from schemas.envelope import TRANSACTION_BLOCK
from schemas.record import ConnectRecord

KEY_SCHEMA = struct("io.debezium.connector.postgresql.MessageKey", [Field("prefix", OPTIONAL_STRING)], version=1)


def value_schema(binary_handling_mode: str) -> Schema:
    """MessageValue; ``content`` follows binary.handling.mode (bytes, or base64/base64-url-safe/hex text)."""
    content = Schema("bytes" if binary_handling_mode == "bytes" else "string", optional=True)
    message = struct(
        "io.debezium.connector.postgresql.Message",
        [Field("prefix", OPTIONAL_STRING), Field("content", content)],
        version=1,
    )
    return struct(
        "io.debezium.connector.postgresql.MessageValue",
        [
            Field("op", STRING),
            Field("ts_ms", OPTIONAL_INT64),
            Field("source", SOURCE_SCHEMA),
            Field("transaction", TRANSACTION_BLOCK),
            Field("message", message),
        ],
        version=1,
    )


def _content_encoder(binary_handling_mode: str) -> Callable[[bytes], bytes | str]:
    if binary_handling_mode == "base64":
        return lambda b: base64.b64encode(b).decode("ascii")
    if binary_handling_mode == "base64-url-safe":
        return lambda b: base64.urlsafe_b64encode(b).decode("ascii")
    if binary_handling_mode == "hex":
        return bytes.hex
    return lambda b: b


class MessageEmitter:
    """Builds ``<prefix>.message`` records; one per connector, created by the PostgreSQL source."""

    def __init__(self, topic_prefix: str, converters: SourceConverters, binary_handling_mode: str = "bytes") -> None:
        self.topic = f"{topic_prefix}.message"
        self._value_schema = value_schema(binary_handling_mode)
        self._key = converters.key.serializer(KEY_SCHEMA, self.topic)
        self._value = converters.value.serializer(self._value_schema, self.topic)
        self._transform = converters.transform
        self._content = _content_encoder(binary_handling_mode)

    def record(
        self, prefix: str, content: bytes, source: dict[str, Any], transaction: dict[str, Any] | None, now_ns: int
    ) -> SourceRecord:
        """The record for one message; ``source`` is the block the reader built for it."""
        payload = {
            "op": "m",
            "ts_ms": now_ns // 1_000_000,
            "source": source,
            "transaction": transaction,
            "message": {"prefix": prefix, "content": self._content(content)},
        }
        if self._transform is not None:  # through the connector's transforms, as any source record in Connect
            return self._transform(
                ConnectRecord(self.topic, KEY_SCHEMA, {"prefix": prefix}, self._value_schema, payload)
            )
        return SourceRecord(self.topic, self._key({"prefix": prefix}), self._value(payload))
