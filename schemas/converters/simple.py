"""Kafka Connect's ``StringConverter`` and ``ByteArrayConverter``.

``org.apache.kafka.connect.storage.StringConverter`` (short name ``string``): values are written as their text
(``converter.encoding``, default UTF-8) and read as optional strings. ``org.apache.kafka.connect.converters.
ByteArrayConverter`` (short names ``bytearray``, ``bytes``): bytes pass through unchanged, read as optional bytes.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import Any

from cdc.errors import ConfigError
from schemas.connect import Schema
from schemas.converters.base import ConversionError
from schemas.record import Header

STRING_CLASS = "org.apache.kafka.connect.storage.StringConverter"
BYTE_ARRAY_CLASS = "org.apache.kafka.connect.converters.ByteArrayConverter"

OPTIONAL_STRING = Schema("string", optional=True)
OPTIONAL_BYTES = Schema("bytes", optional=True)


class StringConverter:
    """Values as text: ``from_connect`` writes ``str(value)``, ``to_connect`` reads an optional string."""

    java_class = STRING_CLASS

    def __init__(self) -> None:
        self.encoding = "utf-8"

    def configure(self, properties: Mapping[str, str], is_key: bool) -> None:
        """Reads ``converter.encoding`` (and the Java-style ``serializer.encoding`` / ``deserializer.encoding``)."""
        encoding = properties.get("converter.encoding") or properties.get("serializer.encoding") or "UTF-8"
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ConfigError([f"converter.encoding: unknown encoding {encoding!r}"]) from None
        self.encoding = encoding

    def from_connect(self, topic: str, schema: Schema | None, value: Any, headers: list[Header]) -> bytes | None:
        """``None`` stays ``None``; bytes are decoded first so they are not written as ``b'…'``."""
        if value is None:
            return None
        if isinstance(value, bytes):
            return value
        text = value if isinstance(value, str) else str(value)
        return text.encode(self.encoding)

    def to_connect(self, topic: str, data: bytes | None, headers: list[Header]) -> tuple[Schema | None, Any]:
        """The text of ``data``; ``ConversionError`` when it is not valid in the configured encoding."""
        if data is None:
            return OPTIONAL_STRING, None
        try:
            return OPTIONAL_STRING, data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise ConversionError(f"Failed to deserialize string: {exc}") from None


class ByteArrayConverter:
    """Bytes unchanged in both directions."""

    java_class = BYTE_ARRAY_CLASS

    def configure(self, properties: Mapping[str, str], is_key: bool) -> None:
        """No properties."""

    def from_connect(self, topic: str, schema: Schema | None, value: Any, headers: list[Header]) -> bytes | None:
        """Bytes as they are; anything else is a ``ConversionError`` (Connect's DataException)."""
        if schema is not None and schema.type != "bytes":
            raise ConversionError(f"Invalid schema type for ByteArrayConverter: {schema.type}")
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise ConversionError(f"ByteArrayConverter is not compatible with objects of type {type(value).__name__}")

    def to_connect(self, topic: str, data: bytes | None, headers: list[Header]) -> tuple[Schema | None, Any]:
        """``(optional bytes schema, data)``."""
        return OPTIONAL_BYTES, data
