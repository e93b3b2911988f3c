"""Debezium heartbeats (``HeartbeatImpl``): ``<topic.heartbeat.prefix>.<topic.prefix>`` with key ``{serverName}``.

Stream readers call :meth:`Heartbeat.poll` at the end of each poll, outside transactions, so that consumers see the
connector is alive and an idle source's offset (PostgreSQL's slot, MySQL's binlog position) keeps advancing.
"""

from __future__ import annotations

import time

from cdc.capture.converters import SourceConverters
from cdc.events import SourceRecord
from schemas.connect import INT64, STRING, Field, struct
from schemas.record import ConnectRecord

KEY_SCHEMA = struct("io.debezium.connector.common.ServerNameKey", [Field("serverName", STRING)], version=1)
VALUE_SCHEMA = struct("io.debezium.connector.common.Heartbeat", [Field("ts_ms", INT64)], version=1)


class Heartbeat:
    """Builds heartbeat records for one logical server, at most one per ``interval_s``; schemas rendered once."""

    def __init__(self, heartbeat_prefix: str, server: str, converters: SourceConverters, interval_s: float) -> None:
        self.topic = f"{heartbeat_prefix}.{server}"
        self.server = server
        self.interval_s = interval_s
        self._key = converters.key.serializer(KEY_SCHEMA, self.topic)({"serverName": server})
        self._serialize_value = converters.value.serializer(VALUE_SCHEMA, self.topic)
        self._transform = converters.transform
        self._last = time.monotonic()

    def record(self, ts_ms: int) -> SourceRecord:
        """One heartbeat record stamped ``ts_ms`` (through the connector's transforms when it has some, as in
        Connect, where heartbeats are source records like any other)."""
        if self._transform is not None:
            return self._transform(
                ConnectRecord(self.topic, KEY_SCHEMA, {"serverName": self.server}, VALUE_SCHEMA, {"ts_ms": ts_ms})
            )
        return SourceRecord(self.topic, self._key, self._serialize_value({"ts_ms": ts_ms}))

    def poll(self, now_ns: int, out: list[SourceRecord]) -> bool:
        """Append a heartbeat to ``out`` if ``interval_s`` has passed since the last one (or since start); True
        when it did."""
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return False
        self._last = now
        out.append(self.record(now_ns // 1_000_000))
        return True
