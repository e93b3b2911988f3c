"""Debezium's outbox ``io.debezium.transforms.outbox.EventRouter`` (Debezium 3.6): turn inserts into an outbox table
into events on a topic per aggregate type.

For each insert (``c``/``r``) into the outbox table: the topic is ``route.by.field`` (default ``aggregatetype``)
renamed by ``route.topic.regex`` / ``route.topic.replacement`` (default ``outbox.event.${routedByValue}``); the key
is ``table.field.event.key`` (default ``aggregateid``); the value is the ``table.field.event.payload`` column (default
``payload``) as is when no additional field is placed in the envelope, else a struct ``{payload, <extra fields>}``;
header ``id`` carries ``table.field.event.id``;
``table.fields.additional.placement=col:header|envelope|partition[:alias]`` adds columns; the record timestamp is
``table.field.event.timestamp`` or the event's ``ts_ms``. Deletes and tombstones
are dropped; updates are dropped with a warning (``table.op.invalid.behavior=warn``), an error log (``error``) or a
failure (``fatal``). ``table.expand.json.payload`` turns a JSON text payload into a struct with an inferred schema.
``route.tombstone.on.empty.payload`` turns an empty payload into a tombstone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cdc.errors import ConfigError
from schemas.connect import Field, Schema
from schemas.record import ConnectRecord
from sinks.transforms.base import Transformation, TransformError
from sinks.transforms.config import Properties, parse_list
from sinks.transforms.headers import header_text
from sinks.transforms.routing import RegexRouter
from sinks.transforms.util import require_struct

log = logging.getLogger(__name__)

_STRING = Schema("string")
_INT32_MAX = 2**31
_TIMESTAMP_DIVISORS = {
    "io.debezium.time.Timestamp": 1,
    "io.debezium.time.MicroTimestamp": 1_000,
    "io.debezium.time.NanoTimestamp": 1_000_000,
}


@dataclass(frozen=True)
class AdditionalField:
    """One ``table.fields.additional.placement`` entry."""

    placement: str
    field: str
    alias: str


def infer_schema(key: str | None, node: Any, null_as_bytes: bool) -> Schema | None:
    """Debezium's ``JsonSchemaData.toConnectSchema``: an optional schema inferred from a parsed JSON value."""
    if isinstance(node, bool):
        return Schema("boolean", optional=True)
    if isinstance(node, str):
        return Schema("string", optional=True)
    if isinstance(node, int):
        return Schema("int32" if -_INT32_MAX <= node < _INT32_MAX else "int64", optional=True)
    if isinstance(node, float):
        return Schema("float64", optional=True)
    if isinstance(node, list):
        items = [n for n in node if n is not None]
        if not items:
            return None
        if isinstance(items[0], dict):
            # Debezium collects the distinct element schemas (a HashSet) and merges them; a merged schema is a
            # copySchemaBasics copy, so it loses the optional flag, while a single distinct schema keeps it.
            distinct: list[Schema] = []
            for element in items:
                if isinstance(element, dict):
                    inferred = infer_schema(key, element, null_as_bytes)
                    if inferred is not None and inferred not in distinct:
                        distinct.append(inferred)
            merged: Schema | None = None
            for element_schema in distinct:
                merged = _merge(merged, element_schema)
            return Schema("array", optional=True, items=merged)
        kinds = {type(n) for n in items}
        if len(kinds) > 1:
            raise TransformError(f"Field is not a homogenous array ({node!r})")
        member = infer_schema(None, items[0], null_as_bytes)
        if member is None:
            raise TransformError(f"Array '{node!r}' has unrecognized member schema.")
        return Schema("array", optional=True, items=member)
    if isinstance(node, dict):
        fields: list[Field] = []
        for name, child in node.items():
            child_key = name if not key else f"{key}.{name}"
            child_schema = infer_schema(child_key, child, null_as_bytes)
            if child_schema is not None and all(f.name != name for f in fields):
                fields.append(Field(name, child_schema))
        return Schema("struct", optional=True, name=key, fields=tuple(fields))
    if node is None and null_as_bytes:
        return Schema("bytes", optional=True)
    return None


def _merge(left: Schema | None, right: Schema | None) -> Schema | None:
    if left is None:
        return right
    if right is None:
        return left
    fields = {f.name: f for f in left.fields}
    for f in right.fields:
        old = fields.get(f.name)
        if old is None or (old.schema != f.schema and old.schema.type == "bytes" and f.schema.type != "bytes"):
            fields[f.name] = f
    return Schema(left.type, optional=False, name=left.name, fields=tuple(fields.values()))


def to_connect(node: Any, schema: Schema) -> Any:
    """Debezium's ``JsonSchemaData.toConnectData`` for an inferred schema."""
    if node is None:
        return None
    if schema.type == "struct":
        if not isinstance(node, dict):
            raise TransformError(f"Expected a JSON object for {schema.name}")
        return {f.name: to_connect(node.get(f.name), f.schema) for f in schema.fields}
    if schema.type == "array":
        assert schema.items is not None
        return [to_connect(n, schema.items) for n in node]
    if schema.type == "float64" and isinstance(node, int):
        return float(node)
    return node


class EventRouter(Transformation):
    """See the module docstring."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read the ``table.*`` and ``route.*`` properties; invalid enums and placements are config errors."""
        p = Properties(properties)
        self.field_id = p.string("table.field.event.id", "id") or "id"
        self.field_key = p.string("table.field.event.key", "aggregateid")
        self.field_payload = p.string("table.field.event.payload", "payload") or "payload"
        self.field_timestamp = p.string("table.field.event.timestamp")
        self.field_version = p.string("table.field.event.schema.version")
        self.route_by = p.string("route.by.field", "aggregatetype") or "aggregatetype"
        self.invalid_op = p.choice("table.op.invalid.behavior", ("warn", "error", "fatal"), "warn")
        self.missing = p.choice("table.field.additional.missing", ("error", "ignore"), "error")
        self.tombstone_on_empty = p.boolean("route.tombstone.on.empty.payload", False)
        self.expand_json = p.boolean("table.expand.json.payload", False)
        null_behavior = p.choice("table.json.payload.null.behavior", ("ignore", "optional_bytes"), "ignore")
        self.null_as_bytes = null_behavior == "optional_bytes"
        self.additional: list[AdditionalField] = []
        for entry in parse_list(p.string("table.fields.additional.placement", "") or ""):
            parts = [part.strip() for part in entry.split(":")]
            if len(parts) not in (2, 3) or parts[1] not in ("header", "envelope", "partition"):
                p.problem(
                    f"table.fields.additional.placement: invalid entry {entry!r}; "
                    "expected column:header|envelope|partition[:alias]"
                )
                continue
            self.additional.append(AdditionalField(parts[1], parts[0], parts[2] if len(parts) == 3 else parts[0]))
        self.router = RegexRouter()
        try:
            self.router.configure(
                {
                    "regex": p.string("route.topic.regex", "(?<routedByValue>.*)") or "",
                    "replacement": p.string("route.topic.replacement", "outbox.event.${routedByValue}") or "",
                }
            )
        except ConfigError as exc:  # re-labelled as this transform's properties
            p.problems.extend(f"route.topic.{problem}" for problem in exc.problems)
        p.check()
        self.headers_only = not any(a.placement == "envelope" for a in self.additional)
        self._versioned: dict[int, Schema] = {}

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """The routed event, None for deletes/updates/tombstones, the record unchanged if not a change event."""
        if record.value is None:
            return None
        schema = record.value_schema
        if schema is None or schema.name is None or not schema.name.endswith(".Envelope"):
            return record
        envelope = require_struct(record.value, schema, "Detect Debezium Operation")
        op = envelope.get("op")
        if op == "d":
            return None
        if op == "u":
            message = f"Unexpected update message received {record.key!r}"
            if self.invalid_op == "fatal":
                raise TransformError(f"{message}, fail.")
            (log.error if self.invalid_op == "error" else log.warning)("%s and ignored", message)
            return None
        after_field = schema.field("after")
        event = envelope.get("after")
        if after_field is None or not isinstance(event, dict):
            raise TransformError("Only Struct objects supported for [Read Outbox Event], found: null")
        event_schema = after_field.schema
        payload_field = event_schema.field(self.field_payload)
        if payload_field is None:
            raise TransformError(f"Unable to find payload field {self.field_payload} in event")
        id_field = event_schema.field(self.field_id)
        if id_field is None:
            raise TransformError(f"Unable to find event-id field {self.field_id} in event")
        payload_schema = payload_field.schema
        payload = event.get(self.field_payload)
        timestamp = self._timestamp(envelope, event, event_schema)
        headers = [*record.headers, ("id", header_text(event.get(self.field_id), id_field.schema))]
        if self.expand_json and isinstance(payload, str):
            try:
                if not payload.startswith(("{", "[")):
                    raise ValueError(f"Unable to parse payload starting with '{payload[:1]}'")
                parsed = orjson.loads(payload)
                inferred = infer_schema(self.field_payload, parsed, self.null_as_bytes)
                if inferred is None:
                    raise ValueError("empty payload schema")
                payload, payload_schema = to_connect(parsed, inferred), inferred
            except (ValueError, TransformError) as exc:  # Debezium logs and keeps the text payload
                log.warning("JSON expansion failed: %s", exc)
        elif self.expand_json and payload is not None:
            log.warning("Expand JSON payload is turned on but payload is not a string in %r", record.key)
        topic_value = event.get(self.route_by)
        if not isinstance(topic_value, str):
            raise TransformError(f"Field '{self.route_by}' of the outbox event is missing or not a string")
        value_schema: Schema | None = None
        value: Any = None
        if not self.headers_only:
            value_schema = self._value_schema(payload_schema, event_schema, topic_value, event)
            value = {"payload": payload}
        partition: int | None = None
        for extra in self.additional:
            extra_field = event_schema.field(extra.field)
            if extra_field is None:
                if self.missing == "ignore":
                    continue
                raise TransformError(f"{extra.field} is not a valid field name")
            if extra.placement == "envelope":
                value[extra.alias] = event.get(extra.field)
            elif extra.placement == "header":
                headers.append((extra.alias, header_text(event.get(extra.field), extra_field.schema)))
            else:
                number = event.get(extra.field)
                if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
                    raise TransformError(f"Field '{extra.field}' is not of type INT32")
                partition = number
        if (payload is None or not str(payload).strip()) and self.tombstone_on_empty:
            value_schema, value = None, None
        elif self.headers_only:
            value_schema, value = payload_schema, payload
        elif value_schema is not None:
            value = {f.name: value.get(f.name) for f in value_schema.fields}
        key_field = event_schema.field(self.field_key) if self.field_key else None
        new = ConnectRecord(
            topic=topic_value,
            key_schema=key_field.schema if key_field is not None else _STRING,
            key=event.get(self.field_key) if self.field_key else None,
            value_schema=value_schema,
            value=value,
            partition=partition,
            timestamp=timestamp,
            headers=headers,
            kafka_offset=record.kafka_offset,
            original_topic=record.original_topic,
        )
        return self.router.apply(new)

    def _timestamp(self, envelope: dict[str, Any], event: dict[str, Any], event_schema: Schema) -> int | None:
        fallback = envelope.get("ts_ms")
        if self.field_timestamp is None:
            return fallback if isinstance(fallback, int) else None
        ts_field = event_schema.field(self.field_timestamp)
        if ts_field is None:
            raise TransformError(f"Unable to find timestamp field {self.field_timestamp} in event")
        value = event.get(self.field_timestamp)
        if value is None:
            return fallback if isinstance(fallback, int) else None
        name = ts_field.schema.name
        if name is None:
            raise TransformError(
                f"Unsupported field type {ts_field.schema.type.upper()} (without logical schema name) for event "
                "timestamp"
            )
        divisor = _TIMESTAMP_DIVISORS.get(name)
        if divisor is None:
            raise TransformError(f"Unsupported field type {name} for event timestamp")
        if isinstance(value, bool) or not isinstance(value, int):
            raise TransformError(f"Field '{self.field_timestamp}' is not of type INT64")
        return value // divisor if value >= 0 else -(-value // divisor)  # Java's division truncates toward zero

    def _value_schema(self, payload_schema: Schema, event_schema: Schema, topic: str, event: dict[str, Any]) -> Schema:
        # Debezium's getSchemaName: the row schema's name with the routed topic spliced in before its last part.
        original = event_schema.name
        if original is None:
            name = topic
        else:
            dot = original.rfind(".")
            name = f"{original[: dot + 1]}{topic}.{original[dot + 1 :]}" if dot != -1 else f"{topic}.{original}"
        fields = [Field("payload", payload_schema)]
        for extra in self.additional:
            if extra.placement != "envelope":
                continue
            f = event_schema.field(extra.field)
            if f is None:
                if self.missing == "error":
                    raise TransformError(f"Unable to find field {extra.field} in event")
                continue
            fields.append(Field(extra.alias, f.schema))
        version: int | None = None
        if self.field_version is not None:
            raw = event.get(self.field_version)
            version = raw if isinstance(raw, int) else None
            if version is not None and version in self._versioned:
                return self._versioned[version]
        built = Schema("struct", name=name, version=version, fields=tuple(fields))
        if version is not None:
            self._versioned[version] = built
        return built
