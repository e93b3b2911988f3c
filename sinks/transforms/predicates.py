"""Kafka Connect's predicates (``org.apache.kafka.connect.transforms.predicates.*``): TopicNameMatches,
HasHeaderKey and RecordIsTombstone. ``negate`` is handled by the chain, not here.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas.record import ConnectRecord
from sinks.transforms.base import Predicate
from sinks.transforms.config import Properties


class TopicNameMatches(Predicate):
    """True when the whole topic name matches ``pattern`` (a Java regular expression)."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``pattern`` (required, non-empty, a valid regular expression)."""
        p = Properties(properties)
        if p.has("pattern") and not (p.string("pattern") or "").strip():
            p.problem("pattern must be a non-empty string")
        self.pattern = p.regex("pattern", required=True)
        p.check()

    def test(self, record: ConnectRecord) -> bool:
        """Full match of the topic name."""
        assert self.pattern is not None
        return record.topic is not None and self.pattern.fullmatch(record.topic) is not None


class HasHeaderKey(Predicate):
    """True when the record has at least one header called ``name``."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``name`` (required, non-empty)."""
        p = Properties(properties)
        self.name = p.required_string("name", non_empty=True)
        p.check()

    def test(self, record: ConnectRecord) -> bool:
        """Any header with that name, whatever its value (a null header counts)."""
        return any(key == self.name for key, _ in record.headers)


class RecordIsTombstone(Predicate):
    """True when the record's value is null."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """No properties."""

    def test(self, record: ConnectRecord) -> bool:
        """``value is None``."""
        return record.value is None
