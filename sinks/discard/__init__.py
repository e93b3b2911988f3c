"""``discard`` sink: consumes, converts and transforms records, then drops them.

For measuring the sink runtime alone (``bench/jdbc_sink.py``) and for smoke-testing converters, transforms and the
dead-letter set-up of a pipeline without a target system. Offsets are committed as for any sink.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdc.connectors import ConnectorSpec
from schemas.record import ConnectRecord
from sinks.config import SinkConnectorConfig
from sinks.task import SinkTask


class DiscardSinkConfig(SinkConnectorConfig):
    """Only the properties every sink has."""


class DiscardSinkTask(SinkTask):
    """Counts what it is given and keeps nothing."""

    def __init__(self, name: str = "discard", config: DiscardSinkConfig | None = None) -> None:
        self.records = 0

    def put(self, records: Sequence[ConnectRecord]) -> None:
        """Count the batch."""
        self.records += len(records)


SPEC = ConnectorSpec(kind="sink", config_model=DiscardSinkConfig, factory=DiscardSinkTask)
