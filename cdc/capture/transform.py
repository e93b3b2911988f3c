"""The source side of the SMT chain: a Debezium source connector configured with ``transforms=…`` (typically
``transforms=unwrap``) runs the chain on every record it emits, then the worker's key/value converter, as Kafka
Connect's ``WorkerSourceTask`` does.

Who calls it: ``cdc.runtime`` builds one :class:`SourceTransform` per connector run when the connector's
``transforms`` is not empty (:func:`source_transform`) and hands it to the connector inside its
``SourceConverters``; captured tables and heartbeats then give it structured records (``schemas.record
.ConnectRecord``, built only on this path) instead of serializing wire-form payloads, so a connector without
transforms keeps its pre-serialized fast path untouched.

Errors: a record the chain or a converter cannot process stops the connector (``FatalError`` naming the transform),
as Connect's default ``errors.tolerance=none`` does for a source task. With ``errors.tolerance=all`` the record is
skipped, as Connect skips it, but never silently: each one is logged as a warning (with its key and value only when
``errors.log.include.messages=true``), whatever ``errors.log.enable`` says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from cdc.errors import FatalError
from cdc.events import DROPPED, SourceRecord, TransformedRecord
from schemas.converters.base import ConversionError, Converter
from schemas.record import ConnectRecord
from sinks.transforms.base import TransformError
from sinks.transforms.chain import TransformChain

log = logging.getLogger(__name__)


class SourceTransform:
    """The chain plus the worker's converters; called once per emitted record (off the fast path)."""

    def __init__(
        self,
        chain: TransformChain,
        key_converter: Converter,
        value_converter: Converter,
        tolerate_all: bool = False,
        log_messages: bool = False,
    ) -> None:
        self.chain = chain
        self.key_converter = key_converter
        self.value_converter = value_converter
        self.tolerate_all = tolerate_all
        self.log_messages = log_messages
        self.skipped = 0

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
            if self.tolerate_all:
                self.skipped += 1
                detail = f" (key {record.key!r}, value {record.value!r})" if self.log_messages else ""
                log.warning(
                    "errors.tolerance=all: skipped a record of topic %s that could not be transformed or "
                    "converted: %s%s (%d skipped so far)",
                    record.topic,
                    exc,
                    detail,
                    self.skipped,
                )
                return DROPPED
            raise FatalError(
                f"a record of topic {record.topic} could not be transformed or converted: {exc} "
                "(source connectors stop on such records, as Kafka Connect does with errors.tolerance=none)"
            ) from None
        return TransformedRecord(
            out.topic, key, value, tuple(headers) if headers else None, out.partition, out.timestamp
        )


# Connect's error-handling properties that apply to a source connector's transforms and converters.
ERROR_PROPERTIES = ("errors.tolerance", "errors.log.enable", "errors.log.include.messages")


def transform_properties(connector_extra: Mapping[str, Any]) -> dict[str, str]:
    """The ``transforms*`` / ``predicates*`` (and ``errors.*`` tolerance) properties of a connector's raw
    configuration, as strings."""
    return {
        k: str(v)
        for k, v in connector_extra.items()
        if k in ("transforms", "predicates", *ERROR_PROPERTIES) or k.startswith(("transforms.", "predicates."))
    }


def error_property_problems(props: Mapping[str, str]) -> list[str]:
    """Invalid values of the ``errors.*`` properties (``errors.tolerance`` none/all, the others booleans)."""
    problems = []
    tolerance = props.get("errors.tolerance")
    if tolerance is not None and tolerance.strip().lower() not in ("none", "all"):
        problems.append(f"errors.tolerance={tolerance!r} is invalid; expected none or all")
    for name in ERROR_PROPERTIES[1:]:
        value = props.get(name)
        if value is not None and value.strip().lower() not in ("true", "false"):
            problems.append(f"{name}={value!r} is not a boolean (expected true or false)")
    return problems
