"""Debezium's ``io.debezium.transforms.ExtractNewRecordState`` ("unwrap"): a change event envelope becomes the
flat row state (``after``; ``before`` for rewritten deletes).

Properties (Debezium 3.6):

- ``delete.tombstone.handling.mode``: ``tombstone`` (default: a delete becomes a record with a null value, its
  schema the row schema, and Debezium's own tombstone is dropped), ``drop`` (deletes and tombstones dropped),
  ``rewrite`` (deletes become the ``before`` row plus ``__deleted=true``; other rows get ``__deleted=false``;
  tombstones dropped), ``rewrite-with-tombstone`` (as rewrite, tombstones kept), ``delete-to-tombstone`` (a delete
  becomes a real tombstone: null value and schema; Debezium's tombstone dropped);
- ``add.fields`` / ``add.fields.prefix`` (default ``__``): envelope fields copied into the row, ``op``, ``ts_ms``,
  ``source.<f>`` or a bare source field name (``db``, ``lsn`` …), ``transaction.<f>``; ``name:NEW`` renames;
- ``add.headers`` / ``add.headers.prefix``: the same, as headers (text as Connect's SimpleHeaderConverter writes);
- ``route.by.field``: a row column whose value becomes the topic;
- ``drop.fields.header.name``, ``drop.fields.from.key``, ``drop.fields.keep.schema.compatible``: drop the fields
  listed in a header;
- ``replace.null.with.default`` (default true).

Records that are not change events (no ``*.Envelope`` value schema: heartbeats, schema changes, logical decoding
messages) pass through unchanged. Truncate events (no ``before`` nor ``after``) are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from schemas.connect import Field, Schema
from schemas.record import ConnectRecord, Header
from sinks.transforms.base import Transformation, TransformError
from sinks.transforms.config import Properties
from sinks.transforms.fields import ExtractFieldValue, InsertFieldValue, ReplaceFieldKey, ReplaceFieldValue
from sinks.transforms.headers import header_text
from sinks.transforms.util import SchemaCache, copy_basics, require_struct

log = logging.getLogger(__name__)

MODES = ("drop", "tombstone", "rewrite", "rewrite-with-tombstone", "delete-to-tombstone")
_TRANSACTION_FIELDS = ("id", "data_collection_order", "total_order")
_ROOT_FIELDS = ("op", "ts_ms", "ts_us", "ts_ns")
# Debezium 1.x/2.x names removed in 3.0: Debezium ignores them, so we warn instead of silently ignoring.
_REMOVED = {
    "drop.tombstones": "delete.tombstone.handling.mode",
    "delete.handling.mode": "delete.tombstone.handling.mode",
}


class FieldReference:
    """One ``add.fields``/``add.headers`` entry: ``[struct.]field[:newName]``."""

    def __init__(self, prefix: str, spec: str) -> None:
        parts = spec.split(":")
        if len(parts) > 2:
            raise ValueError(f"Unexpected field name: {spec}")
        splits = parts[0].split(".")
        self.field = splits[0] if len(splits) == 1 else splits[1]
        if len(splits) > 1:
            self.struct: str | None = splits[0]
        elif self.field in _TRANSACTION_FIELDS:
            self.struct = "transaction"
        elif self.field in _ROOT_FIELDS:
            self.struct = None
        elif self.field == "updateDescription":
            self.struct = "updateDescription"
        else:
            self.struct = "source"
        if len(parts) == 2:
            self.new_field = prefix + parts[1]
        else:
            self.new_field = prefix + (self.field if len(splits) == 1 else f"{self.struct}_{self.field}")

    def schema(self, envelope: Schema) -> Schema | None:
        """The optional copy of the referenced field's schema, or None when the envelope has no such field."""
        parent = envelope
        if self.struct is not None:
            holder = envelope.field(self.struct)
            if holder is None:  # Debezium fails with a NullPointerException here
                raise TransformError(f"The envelope has no {self.struct!r} field to read {self.field!r} from")
            parent = holder.schema
        found = parent.field(self.field) or envelope.field(self.field)
        if found is None:
            return None
        s = found.schema
        return copy_basics(s, s.type, optional=True, fields=s.fields, items=s.items, keys=s.keys)

    def value(self, envelope: Schema, value: dict[str, Any]) -> Any:
        """The referenced value (no default substitution)."""
        parent_schema: Schema = envelope
        parent: Any = value
        if self.struct is not None:
            holder = envelope.field(self.struct)
            parent = value.get(self.struct) if holder is not None else None
            if not isinstance(parent, dict) or holder is None:
                return None
            parent_schema = holder.schema
        if parent_schema.field(self.field) is not None:
            return parent.get(self.field)
        return value.get(self.field)


def _references(prefix: str, text: str, name: str, p: Properties) -> list[FieldReference]:
    refs = []
    for spec in text.split(",") if text else []:
        try:
            refs.append(FieldReference(prefix, spec.strip()))
        except ValueError as exc:
            p.problem(f"{name}: {exc}")
    return refs


def parse_header_list(raw: bytes | None) -> list[str]:
    """A header holding a list of field names, in SimpleHeaderConverter text: ``["a","b"]``.

    Connect parses the header text with ``Values.parseString``; only a list of quoted strings becomes a list (an
    unquoted ``[a,b]`` stays a string, and Debezium then fails with a ClassCastException, as we fail here).
    """
    if raw is None:
        return []
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
        raise TransformError(f"The drop-fields header is not a list of field names: {raw!r}")
    return parsed


class ExtractNewRecordState(Transformation):
    """Debezium's unwrap SMT; see the module docstring."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read the properties listed in the module docstring; an unknown mode is a configuration error."""
        p = Properties(properties)
        mode_text = (p.string("delete.tombstone.handling.mode", "tombstone") or "").strip()
        matched = [m for m in MODES if m.lower() == mode_text.lower()]
        if not matched:
            p.problem(f"delete.tombstone.handling.mode={mode_text!r} is invalid; expected one of: {', '.join(MODES)}")
        self.mode = matched[0] if matched else "tombstone"
        self.route_by_field = (p.string("route.by.field", "") or "").strip() or None
        fields_prefix = p.string("add.fields.prefix", "__") or ""
        headers_prefix = p.string("add.headers.prefix", "__") or ""
        self.add_fields = _references(fields_prefix, (p.string("add.fields", "") or "").strip(), "add.fields", p)
        self.add_headers = _references(headers_prefix, (p.string("add.headers", "") or "").strip(), "add.headers", p)
        self.drop_header = (p.string("drop.fields.header.name") or "").strip() or None
        self.drop_from_key = p.boolean("drop.fields.from.key", False)
        self.keep_compatible = p.boolean("drop.fields.keep.schema.compatible", True)
        replace_null = p.boolean("replace.null.with.default", True)
        for old, new in _REMOVED.items():
            if p.has(old):
                log.warning(
                    "ExtractNewRecordState: %s is ignored (removed in Debezium 3.0, which ignores it too); use %s",
                    old,
                    new,
                )
        p.check()
        self._after = ExtractFieldValue()
        self._after.configure({"field": "after"})
        self._before = ExtractFieldValue()
        self._before.configure({"field": "before"})
        flag = "true" if replace_null else "false"
        self._deleted = InsertFieldValue()
        self._deleted.configure(
            {"static.field": "__deleted", "static.value": "true", "replace.null.with.default": flag}
        )
        self._not_deleted = InsertFieldValue()
        self._not_deleted.configure(
            {"static.field": "__deleted", "static.value": "false", "replace.null.with.default": flag}
        )
        self._cache: SchemaCache[Schema, Schema] = SchemaCache(64)
        self._delete_of: tuple[str, Any] | None = None
        self._delete_headers: list[Header] = []

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """The flattened record, the record unchanged (not a change event), or None (dropped)."""
        tombstone = record.value is None
        schema = record.value_schema
        envelope = schema is not None and schema.name is not None and schema.name.endswith(".Envelope")
        leaked = self._delete_headers if tombstone and self._delete_of == (record.topic, record.key) else []
        self._delete_of, self._delete_headers = None, []
        if (envelope or tombstone) and self.add_headers:
            added = self._headers(record)
            record = record.replace(headers=[*record.headers, *leaked, *added])
            is_delete = envelope and isinstance(record.value, dict) and record.value.get("op") == "d"
            if is_delete and record.kafka_offset is None:
                # Source side: Debezium emits a delete and its tombstone with one shared headers object, so the
                # headers this SMT adds to the delete also appear on the tombstone that follows (before the
                # tombstone's own). Seen with the real Debezium 3.6.3; reproduced for identical output.
                self._delete_of, self._delete_headers = (record.topic, record.key), added
        if tombstone:
            return record if self.mode == "rewrite-with-tombstone" else None
        if not envelope:
            return record
        assert schema is not None
        value = require_struct(record.value, schema, "source field insertion")
        after = self._after.apply(record)
        assert after is not None
        if after.value is None and value.get("before") is None:
            return None  # truncate
        if after.value is None:
            new = self._delete(record, after)
            if new is None:
                return None
            if self.route_by_field is not None:
                before = value.get("before")
                new = self._route(new, before, "Read record to set topic routing for DELETE")
            if self.drop_header is not None:
                new = self._drop_fields(new)
            if new.value is not None:
                new = self._add_fields(record, new)
            return new
        new = after
        if self.mode in ("rewrite", "rewrite-with-tombstone") and isinstance(after.value, dict):
            updated = self._not_deleted.apply(after)
            assert updated is not None
            new = updated
        if self.route_by_field is not None:
            new = self._route(new, new.value, "Read record to set topic routing for CREATE / UPDATE")
        new = self._add_fields(record, new)
        if self.drop_header is not None:
            new = self._drop_fields(new)
        return new

    def _delete(self, record: ConnectRecord, after: ConnectRecord) -> ConnectRecord | None:
        if self.mode == "drop":
            return None
        if self.mode == "tombstone":
            return after
        if self.mode == "delete-to-tombstone":
            return record.replace(value_schema=None, value=None)
        before = self._before.apply(record)
        assert before is not None
        if isinstance(before.value, dict):
            return self._deleted.apply(before)
        return before

    def _route(self, record: ConnectRecord, row: Any, purpose: str) -> ConnectRecord:
        if not isinstance(row, dict):
            raise TransformError(f"Only Struct objects supported for [{purpose}], found: null")
        if self.route_by_field not in row:
            raise TransformError(f"{self.route_by_field} is not a valid field name")
        topic = row.get(self.route_by_field)
        if topic is not None and not isinstance(topic, str):
            raise TransformError(f"Field '{self.route_by_field}' is not of type STRING")
        return record if topic is None or not topic.strip() else record.replace(topic=topic)

    def _headers(self, record: ConnectRecord) -> list[Header]:
        out: list[Header] = []
        if record.value is None:
            out.extend((ref.new_field, b"d") for ref in self.add_headers if ref.field == "op")
            return out
        envelope = record.value_schema
        assert envelope is not None
        for ref in self.add_headers:
            field_schema = ref.schema(envelope)
            if field_schema is not None:
                out.append((ref.new_field, header_text(ref.value(envelope, record.value), field_schema)))
        return out

    def _add_fields(self, original: ConnectRecord, unwrapped: ConnectRecord) -> ConnectRecord:
        # Runs even without add.fields: like Debezium, the row schema is always rebuilt (copySchemaBasics), so the
        # unwrapped value schema is the row struct without its optional flag.
        row_schema = unwrapped.value_schema
        row = require_struct(unwrapped.value, row_schema, "source field insertion")
        assert row_schema is not None and original.value_schema is not None
        envelope = original.value_schema
        new_schema = self._cache.get(row_schema, lambda s: self._added_schema(s, envelope))
        if not self.add_fields:  # the same values under the rebuilt (non-optional) schema; the row dict is fresh
            return unwrapped.replace(value_schema=new_schema)
        out = {f.name: row.get(f.name) for f in row_schema.fields}
        for ref in self.add_fields:
            if ref.schema(envelope) is not None:
                out[ref.new_field] = ref.value(envelope, original.value)
        return unwrapped.replace(value_schema=new_schema, value={f.name: out.get(f.name) for f in new_schema.fields})

    def _added_schema(self, row_schema: Schema, envelope: Schema) -> Schema:
        fields = list(row_schema.fields)
        names = {f.name for f in fields}
        for ref in self.add_fields:
            s = ref.schema(envelope)
            if s is None:
                continue
            if ref.new_field in names:
                raise TransformError(f"Cannot create field because of field name duplication {ref.new_field}")
            names.add(ref.new_field)
            fields.append(Field(ref.new_field, s))
        return copy_basics(row_schema, "struct", fields=tuple(fields))

    def _drop_fields(self, record: ConnectRecord) -> ConnectRecord:
        assert self.drop_header is not None
        names = parse_header_list(record.header(self.drop_header))
        if not names:
            return record
        if self.drop_from_key and record.key is not None and record.key_schema is not None:
            drop = self._droppable(record.key_schema, names)
            if drop:
                key_delegate = ReplaceFieldKey()
                key_delegate.configure({"exclude": ",".join(drop)})
                dropped = key_delegate.apply(record)
                assert dropped is not None
                record = dropped
        if record.value_schema is None:
            return record
        drop = self._droppable(record.value_schema, names)
        if drop:
            value_delegate = ReplaceFieldValue()
            value_delegate.configure({"exclude": ",".join(drop)})
            dropped = value_delegate.apply(record)
            assert dropped is not None
            record = dropped
        return record

    def _droppable(self, schema: Schema, names: list[str]) -> list[str]:
        if not self.keep_compatible:
            return names
        return [f.name for f in schema.fields if f.schema.optional and f.name in names]


__all__ = ["ExtractNewRecordState", "FieldReference", "parse_header_list"]
