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
from typing import TYPE_CHECKING, Any, Protocol

from cdc.config import WorkerConfig
from schemas.connect import Schema
from schemas.converters.base import ConversionError, Converter
from schemas.converters.connect_json import JsonConverter as ConnectJsonConverter
from schemas.converters.factory import JSON, build_converter, canonical_converter_class
from schemas.json_converter import JsonConverter
from schemas.logical import to_structured

if TYPE_CHECKING:
    from cdc.capture.transform import SourceTransform

PayloadSerializer = Callable[[Any], bytes]


class FastPathConverter(Protocol):
    """A converter that can serialize wire-form payloads of one schema without building Connect data."""

    def serializer(self, schema: Schema | None, topic: str | None = None) -> PayloadSerializer:
        """A function serializing payloads of ``schema`` for ``topic``; called once per table version, not per
        record."""
        ...


@dataclass(frozen=True)
class SourceConverters:
    """The key and value converters of the worker, handed to a source connector."""

    key: FastPathConverter
    value: FastPathConverter
    # The connector's SMT chain with the worker's converters, when ``transforms`` is configured: then tables and
    # heartbeats emit through it (structured records) instead of the fast-path serializers above.
    transform: SourceTransform | None = None


class StructuredConverter:
    """A worker converter other than JSON (Avro, String, ByteArray) behind the fast-path interface.

    Each payload is turned into its structured form (``schemas.logical.to_structured``) and serialized with the
    converter's ``from_connect``: slower than the JSON splice, which is why JSON keeps its own path.
    """

    def __init__(self, converter: Converter) -> None:
        self.converter = converter

    def serializer(self, schema: Schema | None, topic: str | None = None) -> PayloadSerializer:
        """A function serializing wire-form payloads of ``schema`` to ``topic`` with the wrapped converter."""
        from_connect, where = self.converter.from_connect, topic or (schema.name if schema is not None else "") or ""

        def serialize(payload: Any) -> bytes:
            data = from_connect(where, schema, to_structured(schema, payload), [])
            if data is None:
                raise ConversionError(f"{type(self.converter).__name__} wrote no bytes for a non-null value")
            return data

        return serialize


def _converter(worker: WorkerConfig, is_key: bool) -> FastPathConverter:
    cls = worker.key_converter if is_key else worker.value_converter
    if canonical_converter_class(cls) == JSON:
        # The fast path: the properties read exactly as the structured JsonConverter reads them (configure), so
        # both paths write the same bytes; replace.null.with.default is applied when rows are built.
        structured = build_converter(cls, worker.converter_properties(is_key), is_key)
        assert isinstance(structured, ConnectJsonConverter)
        return JsonConverter(
            structured.schemas_enable, structured.replace_null_with_default, structured.numeric_decimals
        )
    return StructuredConverter(build_converter(cls, worker.converter_properties(is_key), is_key))


def worker_converters(worker: WorkerConfig, transforms: dict[str, str] | None = None) -> SourceConverters:
    """The converters ``worker`` configures: Connect's JsonConverter on the fast path, any other (Avro, String,
    ByteArray) through its structured ``from_connect``. ``ConfigError`` for bad converter properties.

    ``transforms`` (the connector's ``transforms*``/``predicates*`` properties) adds the SMT chain, run before the
    worker's converters' ``from_connect`` on every record (``cdc.capture.transform``), as Kafka Connect does.
    """
    transform = None
    if transforms and str(transforms.get("transforms", "")).strip():
        from cdc.capture.transform import SourceTransform
        from sinks.transforms.chain import TransformChain

        chain = TransformChain.from_properties(transforms)
        if not chain.empty:
            transform = SourceTransform(
                chain,
                build_converter(worker.key_converter, worker.converter_properties(True), True),
                build_converter(worker.value_converter, worker.converter_properties(False), False),
                tolerate_all=transforms.get("errors.tolerance", "none").strip().lower() == "all",
                log_messages=transforms.get("errors.log.include.messages", "false").strip().lower() == "true",
            )
    return SourceConverters(_converter(worker, True), _converter(worker, False), transform)
