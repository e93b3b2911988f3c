"""Debezium's ``io.debezium.transforms.ByLogicalTableRouter`` (Debezium 3.6): route the change events of several
physical tables (shards, partitions) to one logical topic.

When ``topic.regex`` matches the whole topic, the topic becomes ``topic.replacement`` (``$1`` references), the key
and envelope schemas are renamed ``<new topic>.Key`` / ``.Value`` / ``.Envelope``, and (``key.enforce.uniqueness``,
default true) the key gains a string field ``key.field.name`` (default ``__dbz__physicalTableIdentifier``) holding the
old topic, or ``key.field.regex``/``key.field.replacement`` applied to it. Records of other topics pass unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from schemas.connect import Field, Schema
from schemas.record import ConnectRecord
from sinks.transforms.base import Transformation, TransformError
from sinks.transforms.config import Properties, java_replacement
from sinks.transforms.util import SchemaCache, require_struct

_STRING = Schema("string")
_AVRO_INVALID = re.compile(r"[^A-Za-z0-9_.]")


def _avro_adjust(name: str) -> str:
    """Debezium's ``avro`` schema name adjustment (``SchemaNameAdjuster.validFullname``): characters other than
    letters, digits, ``_`` and ``.`` become ``_``; a name starting with a digit gets a leading ``_``."""
    if not name:
        return name
    first = name[0]
    head = first if (first.isascii() and first.isalpha()) or first == "_" else ("_" + first if first.isdigit() else "_")
    return head + _AVRO_INVALID.sub("_", name[1:])


def _copy_without_name(source: Schema, fields: tuple[Field, ...], name: str) -> Schema:
    """``copySchemaExcludingName`` with a new name: version, doc, parameters and optional flag kept."""
    return Schema(
        "struct",
        optional=source.optional,
        name=name,
        version=source.version,
        doc=source.doc,
        parameters=source.parameters,
        fields=fields,
    )


class ByLogicalTableRouter(Transformation):
    """See the module docstring."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``topic.regex``, ``topic.replacement`` (required) and the key options."""
        p = Properties(properties)
        self.topic_regex = p.regex("topic.regex", required=True)
        self.topic_replacement = java_replacement(p.required_string("topic.replacement"))
        self.enforce_unique = p.boolean("key.enforce.uniqueness", True)
        key_regex_text = (p.string("key.field.regex") or "").strip()
        key_replacement = (p.string("key.field.replacement") or "").strip()
        self.key_regex = p.regex("key.field.regex") if key_regex_text else None
        if key_regex_text and not key_replacement:
            p.problem("key.field.replacement must be non-empty if key.field.regex is set.")
        self.key_replacement = java_replacement(p.string("key.field.replacement") or "")
        self.key_field = p.string("key.field.name", "__dbz__physicalTableIdentifier") or ""
        mode = p.choice("schema.name.adjustment.mode", ("none", "avro", "avro_unicode"), "none")
        self.adjust = _avro_adjust if mode != "none" else (lambda name: name)
        size = p.integer("logical.table.cache.size", 16, minimum=1) or 16
        p.check()
        self._key_cache: SchemaCache[Schema, Schema] = SchemaCache(size)
        self._envelope_cache: SchemaCache[Schema, Schema] = SchemaCache(size)
        self._topics: dict[str, str | None] = {}

    def _new_topic(self, topic: str) -> str | None:
        if topic not in self._topics:
            assert self.topic_regex is not None
            matched = self.topic_regex.fullmatch(topic)
            self._topics[topic] = None if matched is None else self.topic_regex.sub(self.topic_replacement, topic, 1)
        return self._topics[topic]

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """The record under its logical topic, with renamed schemas and the physical table in the key."""
        new_topic = self._new_topic(record.topic)
        if not new_topic:  # no match, or an empty name (Debezium logs a warning and keeps the record)
            return record
        key_schema: Schema | None = None
        key: dict[str, Any] | None = None
        if record.key is not None:
            old_key = require_struct(record.key, record.key_schema, "Updating schema")
            assert record.key_schema is not None
            key_schema = self._key_cache.get(record.key_schema, lambda s: self._key_schema(s, new_topic))
            key = {f.name: old_key.get(f.name) for f in record.key_schema.fields}
            if self.enforce_unique:
                key[self.key_field] = self._physical_id(record.topic)
        schema = record.value_schema
        is_envelope = schema is not None and schema.name is not None and schema.name.endswith(".Envelope")
        if record.value is None or not is_envelope:
            return record.replace(topic=new_topic, key_schema=key_schema, key=key)
        assert schema is not None
        envelope = require_struct(record.value, schema, "Updating schema")
        new_schema = self._envelope_cache.get(schema, lambda s: self._envelope_schema(s, new_topic))
        value = {f.name: envelope.get(f.name) for f in schema.fields}
        for side in ("before", "after"):
            row = value.get(side)
            if isinstance(row, dict):
                value[side] = dict(row)
        return record.replace(topic=new_topic, key_schema=key_schema, key=key, value_schema=new_schema, value=value)

    def _physical_id(self, topic: str) -> str:
        if self.key_regex is None:
            return topic
        if self.key_regex.fullmatch(topic) is None:
            return topic
        return self.key_regex.sub(self.key_replacement, topic, 1)

    def _key_schema(self, old: Schema, new_topic: str) -> Schema:
        fields = list(old.fields)
        if self.enforce_unique:
            if old.field(self.key_field) is not None:
                raise TransformError(f"Cannot create field because of field name duplication {self.key_field}")
            fields.append(Field(self.key_field, _STRING))
        return _copy_without_name(old, tuple(fields), self.adjust(f"{new_topic}.Key"))

    def _envelope_schema(self, old: Schema, new_topic: str) -> Schema:
        before = old.field("before")
        if before is None:
            raise TransformError("The envelope schema has no 'before' field")
        row = _copy_without_name(before.schema, before.schema.fields, self.adjust(f"{new_topic}.Value"))
        fields = tuple(Field(f.name, row) if f.name in ("before", "after") else f for f in old.fields)
        return _copy_without_name(old, fields, self.adjust(f"{new_topic}.Envelope"))
