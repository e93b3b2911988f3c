"""The source side of the SMT chain: a Debezium source connector configured with ``transforms=…`` (typically
``transforms=unwrap``) runs the chain on every record it emits, then the worker's key/value converter, as Kafka
Connect's ``WorkerSourceTask`` does.

Who calls it: ``cdc.runtime`` builds one :class:`SourceTransform` per connector run when the connector's
``transforms`` is not empty (:func:`source_transform`) and hands it to the connector inside its
``SourceConverters``; captured tables and heartbeats then give it structured records (``schemas.record
.ConnectRecord``, built only on this path) instead of serializing wire-form payloads, so a connector without
transforms keeps its pre-serialized fast path untouched.

Errors: a record the chain or a converter cannot process stops the connector (``FatalError`` naming the transform),
as Connect's default ``errors.tolerance=none`` does for a source task; nothing is skipped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdc.errors import FatalError
from cdc.events import DROPPED, SourceRecord, TransformedRecord
from schemas.converters.base import ConversionError, Converter
from schemas.record import ConnectRecord
from sinks.transforms.base import TransformError
from sinks.transforms.chain import TransformChain


class SourceTransform:
    """The chain plus the worker's converters; called once per emitted record (off the fast path)."""

    def __init__(self, chain: TransformChain, key_converter: Converter, value_converter: Converter) -> None:
        self.chain = chain
        self.key_converter = key_converter
        self.value_converter = value_converter

    def __call__(self, record: ConnectRecord) -> SourceRecord:
        """The transformed, serialized record (with headers), or ``DROPPED``; ``FatalError`` if it cannot be."""
        try:
            out = self.chain.apply(record)
            if out is None:
                return DROPPED
            headers = list(out.headers)
            key = self.key_converter.from_connect(out.topic, out.key_schema, out.key, headers)
            value = self.value_converter.from_connect(out.topic, out.value_schema, out.value, headers)
        except (TransformError, ConversionError) as exc:
            raise FatalError(
                f"a record of topic {record.topic} could not be transformed or converted: {exc} "
                "(source connectors stop on such records, as Kafka Connect does with errors.tolerance=none)"
            ) from None
        return TransformedRecord(
            out.topic, key, value, tuple(headers) if headers else None, out.partition, out.timestamp
        )


def transform_properties(connector_extra: Mapping[str, Any]) -> dict[str, str]:
    """The ``transforms*`` / ``predicates*`` properties of a connector's raw configuration, as strings."""
    return {
        k: str(v)
        for k, v in connector_extra.items()
        if k in ("transforms", "predicates") or k.startswith(("transforms.", "predicates."))
    }
