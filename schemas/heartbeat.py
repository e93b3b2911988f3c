"""Debezium heartbeat records: ``<topic.heartbeat.prefix>.<topic.prefix>`` with key ``{serverName}``.

Emitted by source readers every ``heartbeat.interval.ms`` so that consumers can see the connector is alive and
so that an idle source's offset (and the PostgreSQL slot) keeps advancing.
"""

from __future__ import annotations

from cdc.events import SourceRecord
from schemas.connect import INT64, STRING, Field, struct
from schemas.json_converter import JsonConverter

KEY_SCHEMA = struct("io.debezium.connector.common.ServerNameKey", [Field("serverName", STRING)], version=1)
VALUE_SCHEMA = struct("io.debezium.connector.common.Heartbeat", [Field("ts_ms", INT64)], version=1)


class HeartbeatEmitter:
    """Builds heartbeat records for one logical server; schemas are rendered once."""

    def __init__(
        self, heartbeat_prefix: str, server: str, key_converter: JsonConverter, value_converter: JsonConverter
    ) -> None:
        self.topic = f"{heartbeat_prefix}.{server}"
        self.server = server
        self._key = key_converter.serialize(key_converter.prepare(KEY_SCHEMA), {"serverName": server})
        self._value_schema = value_converter.prepare(VALUE_SCHEMA)

    def record(self, ts_ms: int) -> SourceRecord:
        return SourceRecord(self.topic, self._key, JsonConverter.serialize(self._value_schema, {"ts_ms": ts_ms}))
