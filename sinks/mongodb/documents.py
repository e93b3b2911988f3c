"""A record's key and value as BSON documents (mongo-kafka's ``SinkDocument``), built once per record.

Called by the MongoDB sink task for every record. The key document exists when the key is a struct, a map or a
JSON object in a string (mongo-kafka parses string keys and values as JSON); other keys (plain strings or numbers)
give no key document, which only matters to strategies that need one. A null value gives no value document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from schemas.record import ConnectRecord
from sinks.mongodb.bson_values import BsonConversionError, compile_converter, to_bson


@dataclass(slots=True)
class SinkDocument:
    """The key and value documents of one record; post processors change them in place."""

    key_doc: dict[str, Any] | None
    value_doc: dict[str, Any] | None


def _as_document(schema: Any, value: Any, what: str, temporal_dates: bool) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes) and (schema is None or schema.type in ("string", "bytes")):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            if what == "key":
                return None
            raise BsonConversionError(f"the {what} is a string that is not a JSON document") from None
        if not isinstance(parsed, dict):
            if what == "key":
                return None
            raise BsonConversionError(f"the {what} is JSON but not a document")
        return {str(k): to_bson(None, v) for k, v in parsed.items()}
    if schema is not None:
        fn = compile_converter(schema, temporal_dates)
        converted = value if fn is None else fn(value)
    else:
        converted = to_bson(schema, value, temporal_dates)
    if isinstance(converted, dict):
        return converted
    if what == "key":
        return None
    raise BsonConversionError(f"the value must be a struct, map or JSON document, got {type(value).__name__}")


def sink_document(record: ConnectRecord, temporal_dates: bool = True) -> SinkDocument:
    """Convert ``record``'s key and value; :class:`BsonConversionError` for a value that cannot be stored."""
    return SinkDocument(
        _as_document(record.key_schema, record.key, "key", temporal_dates),
        _as_document(record.value_schema, record.value, "value", temporal_dates),
    )


def change_event_document(record: ConnectRecord, temporal_dates: bool = True) -> SinkDocument:
    """Like :func:`sink_document` for Debezium change events, converting only what the CDC handler reads: the key,
    ``op``, the ``after`` row (``before`` for deletes) and ``source`` as it is (its position only)."""
    value, schema = record.value, record.value_schema
    if not isinstance(value, dict) or schema is None or schema.type != "struct":
        return sink_document(record, temporal_dates)
    op = value.get("op")
    doc: dict[str, Any] = {"op": op, "source": value.get("source")}
    # c/r/u write 'after'; u and d may need 'before' to find a document whose key has no columns.
    for side in ("after", "before") if op == "u" else ("before",) if op == "d" else ("after",):
        row = value.get(side)
        row_schema = next((f.schema for f in schema.fields if f.name == side), None)
        if row_schema is not None and row is not None:
            fn = compile_converter(row_schema, temporal_dates)
            row = row if fn is None else fn(row)
        doc[side] = row
    return SinkDocument(_as_document(record.key_schema, record.key, "key", temporal_dates), doc)


def get_path(doc: dict[str, Any] | None, path: str) -> Any:
    """The value at dotted ``path`` in ``doc``, or None."""
    current: Any = doc
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current
