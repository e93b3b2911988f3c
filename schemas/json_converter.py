"""Kafka Connect's JsonConverter, producing side.

With ``schemas.enable=true`` (Connect's default) each message is ``{"schema": <schema>, "payload": <payload>}``.
The schema part is identical for every row of a table version, so :meth:`JsonConverter.prepare` serializes it
once into a byte prefix and :meth:`JsonConverter.serialize` only splices the per-row payload into it.

Payload values are Connect values: ``bytes`` (bytea, Decimal) become base64 strings as Connect does; every other
value is already JSON-native. With ``decimal.format=NUMERIC`` the serializer of a schema holding Decimal fields
first rewrites those fields' bytes into exact JSON numbers (``schemas.converters.connect_json.numeric_rewriter``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import orjson

from schemas.connect import Schema

_b2a_base64 = binascii.b2a_base64


def _json_default(value: object) -> object:
    """orjson calls this only for types it does not know; Connect renders bytes as base64."""
    if type(value) is bytes:  # Decimal and bytea values: the common case, without base64.b64encode's wrapper
        return _b2a_base64(value, newline=False).decode("ascii")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot serialize {type(value).__name__} as a Connect JSON value")


class PreparedSchema:
    """A schema already rendered to the bytes that surround every payload of that schema."""

    __slots__ = ("prefix", "suffix")

    def __init__(self, prefix: bytes, suffix: bytes) -> None:
        self.prefix = prefix
        self.suffix = suffix


class JsonConverter:
    """Serializes Connect payloads to JSON, with or without the schema envelope."""

    def __init__(
        self, schemas_enable: bool = True, replace_null_with_default: bool = True, numeric_decimals: bool = False
    ) -> None:
        self.schemas_enable = schemas_enable
        # decimal.format=NUMERIC: Decimal fields are written as JSON numbers, not base64 (see serializer).
        self.numeric_decimals = numeric_decimals
        # Connect's replace.null.with.default (default true): a null in a field whose schema has a default is
        # written as that default. Connectors apply it when they build rows (cdc.postgres.tables), so the
        # serializer itself stays a single orjson call.
        self.replace_null_with_default = replace_null_with_default

    def prepare(self, schema: Schema | None) -> PreparedSchema:
        """Render ``schema`` once; called by connectors when a table (version) is first seen."""
        if not self.schemas_enable:
            return PreparedSchema(b"", b"")
        schema_json = b"null" if schema is None else orjson.dumps(schema.to_json())
        return PreparedSchema(b'{"schema":' + schema_json + b',"payload":', b"}")

    def serializer(self, schema: Schema | None, topic: str | None = None) -> Callable[[Any], bytes]:
        """The fast path's per-schema function: wire-form payload → message bytes, the schema JSON spliced in.
        (``topic`` is not needed by JSON; schema-registry converters use it for the subject.)

        Called once per table version (``cdc.capture.table.TableBuilder``) and for heartbeats; the returned
        function runs once per key and once per value.
        """
        prepared = self.prepare(schema)
        prefix, suffix = prepared.prefix, prepared.suffix
        dumps, join, default = orjson.dumps, b"".join, _json_default
        if self.numeric_decimals and schema is not None:
            from schemas.converters.connect_json import numeric_rewriter

            rewrite = numeric_rewriter(schema)
            if rewrite is not None:

                def serialize_numeric(payload: Any) -> bytes:
                    return join((prefix, dumps(rewrite(payload), default=default), suffix))

                return serialize_numeric

        def serialize(payload: Any) -> bytes:
            return join((prefix, dumps(payload, default=default), suffix))

        return serialize

    @staticmethod
    def serialize(prepared: PreparedSchema, payload: Any) -> bytes:
        """Serialize one payload; the hot path, called once per key and once per value."""
        return b"".join((prepared.prefix, orjson.dumps(payload, default=_json_default), prepared.suffix))
