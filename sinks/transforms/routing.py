"""Kafka Connect's routing SMTs: RegexRouter, TimestampRouter, and Filter (which drops every record it is applied
to, so it is used with a predicate).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping

from schemas.record import ConnectRecord
from sinks.transforms.base import Transformation, TransformError
from sinks.transforms.config import Properties, java_replacement
from sinks.transforms.dateformat import PatternError, SimpleDateFormat

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class RegexRouter(Transformation):
    """Rename the topic when ``regex`` matches all of it, with ``replacement`` (``$1`` group references)."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``regex`` and ``replacement`` (both required)."""
        p = Properties(properties)
        self.regex = p.regex("regex", required=True)
        self.replacement = java_replacement(p.required_string("replacement"))
        p.check()

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """The record under its new topic; unchanged when the topic does not match."""
        assert self.regex is not None
        if self.regex.fullmatch(record.topic) is None:
            return record
        try:
            topic = self.regex.sub(self.replacement, record.topic, count=1)
        except (re.error, IndexError) as exc:
            raise TransformError(f"RegexRouter replacement failed on topic {record.topic!r}: {exc}") from exc
        return record.replace(topic=topic)


class TimestampRouter(Transformation):
    """Rename the topic with ``topic.format`` (``${topic}``, ``${timestamp}``) and the record's timestamp."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``topic.format`` (default ``${topic}-${timestamp}``) and ``timestamp.format`` (default ``yyyyMMdd``)."""
        p = Properties(properties)
        self.topic_format = p.string("topic.format", "${topic}-${timestamp}") or ""
        pattern = p.string("timestamp.format", "yyyyMMdd") or ""
        try:
            self.timestamp_format = SimpleDateFormat(pattern)
        except PatternError as exc:
            p.problem(f"timestamp.format={pattern!r}: {exc}")
        p.check()

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Route by timestamp; a record without a timestamp is an error."""
        if record.timestamp is None:
            raise TransformError(f"Timestamp missing on record: topic={record.topic}")
        when = _EPOCH + datetime.timedelta(milliseconds=record.timestamp)
        topic = self.topic_format.replace("${topic}", record.topic)
        topic = topic.replace("${timestamp}", self.timestamp_format.format(when))
        return record.replace(topic=topic)


class Filter(Transformation):
    """Drop every record it is applied to (use ``transforms.<alias>.predicate`` to choose which)."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """No properties."""

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Always None: the record is dropped."""
        return None
