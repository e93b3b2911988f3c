"""The converter contract: Connect data ↔ the bytes of a Kafka key or value.

Kafka Connect's ``Converter``. The worker builds one converter for keys and one for values from
``key.converter`` / ``value.converter`` and their ``key.converter.*`` / ``value.converter.*`` properties, calls
``configure`` once, then uses it for every record. Sources call ``from_connect``; sinks call ``to_connect``.
Values use the in-memory representation described in ``schemas.record``.

Errors: ``to_connect`` raises ``ConversionError`` for bytes it cannot read (bad JSON, unknown schema id): the sink
runtime routes such a record to the dead-letter topic under ``errors.tolerance=all``, with stage
``KEY_CONVERTER`` / ``VALUE_CONVERTER``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from cdc.errors import SkippableRecordError
from schemas.connect import Schema
from schemas.record import Header


class ConversionError(SkippableRecordError):
    """Bytes that a converter cannot turn into Connect data, or data it cannot serialize."""


class WireDecodeError(ConversionError):
    """``WireRecord.decoded`` could not convert the record's bytes: the error a converter raised, and whether it was
    the key's. The sink runtime reports it with the converter's stage (``KEY_CONVERTER``/``VALUE_CONVERTER``), as if
    it had been raised before ``put``."""

    def __init__(self, message: str, is_key: bool) -> None:
        super().__init__(message)
        self.is_key = is_key

    @classmethod
    def of(cls, error: Exception, is_key: bool) -> WireDecodeError:
        """Wrap whatever a converter raised (a ConversionError's message as is, any other with its class name)."""
        message = str(error) if isinstance(error, ConversionError) else f"{type(error).__name__}: {error}"
        return cls(message, is_key)


class Converter(Protocol):
    """One configured converter (for keys or for values)."""

    def configure(self, properties: Mapping[str, str], is_key: bool) -> None:
        """Apply ``properties`` (the ``*.converter.`` prefix removed, e.g. ``schemas.enable``); called once."""
        ...

    def from_connect(self, topic: str, schema: Schema | None, value: Any, headers: list[Header]) -> bytes | None:
        """Serialize one key or value; ``None`` in, ``None`` out (tombstones). May add headers."""
        ...

    def to_connect(self, topic: str, data: bytes | None, headers: list[Header]) -> tuple[Schema | None, Any]:
        """Deserialize one key or value into (schema, value); ``None`` data gives ``(None, None)``."""
        ...
