"""MongoDB sink connector: mongo-kafka's properties and semantics (``com.mongodb.kafka.connect.MongoSinkConnector``)."""

from __future__ import annotations

from typing import Any

from cdc.connectors import ConnectorSpec
from sinks.mongodb.config import MongoSinkConfig


def _task(name: str, config: MongoSinkConfig) -> Any:
    from sinks.mongodb.task import MongoSinkTask

    return MongoSinkTask(name, config)


SPEC = ConnectorSpec(kind="sink", config_model=MongoSinkConfig, factory=_task)
