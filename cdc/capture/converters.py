"""The worker's key/value converters as a source connector uses them.

Converters belong to the worker (Kafka Connect's ``key.converter`` / ``value.converter``): ``cdc.runtime`` builds
them from the worker configuration with :func:`worker_converters` and hands them to the connector factory
(``ConnectorSpec.factory(name, config, worker, progress, converters)``). Connectors never construct one.

The source fast path asks a converter once per schema for a :class:`PayloadSerializer` function and calls it per
record with the wire-form payload (``schemas.logical``); the structured path (SMTs, Avro) uses
``schemas.converters.base.Converter.from_connect`` on a ``schemas.record.ConnectRecord`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cdc.config import WorkerConfig
from schemas.connect import Schema
from schemas.json_converter import JsonConverter

PayloadSerializer = Callable[[Any], bytes]


class FastPathConverter(Protocol):
    """A converter that can serialize wire-form payloads of one schema without building Connect data."""

    def serializer(self, schema: Schema | None) -> PayloadSerializer:
        """A function serializing payloads of ``schema``; called once per table version, not per record."""
        ...


@dataclass(frozen=True)
class SourceConverters:
    """The key and value converters of the worker, handed to a source connector."""

    key: FastPathConverter
    value: FastPathConverter


def worker_converters(worker: WorkerConfig) -> SourceConverters:
    """The converters ``worker`` configures (config validation admits only Connect's JsonConverter so far)."""
    return SourceConverters(
        JsonConverter(worker.key_converter_schemas_enable), JsonConverter(worker.value_converter_schemas_enable)
    )
