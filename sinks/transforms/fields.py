"""Kafka Connect's field-level SMTs: InsertField, ReplaceField, MaskField, ValueToKey, ExtractField, HoistField,
Flatten and SetSchemaMetadata (``org.apache.kafka.connect.transforms.*``), each with its ``$Key``/``$Value`` variant
where Connect has one.

Semantics follow the Kafka 4.x sources: which values pass through untouched (``null`` keys/values for InsertField,
ReplaceField, ExtractField, Flatten), which fail (MaskField and ValueToKey on a tombstone), how schemas are derived
(``SchemaUtil.copySchemaBasics``: name, version, doc and parameters kept, optional flag not), and
``replace.null.with.default`` (a null field reads as its schema default unless false).
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping
from typing import Any

from schemas.connect import Field, Schema
from schemas.record import ConnectRecord
from sinks.transforms.base import Transformation, TransformError
from sinks.transforms.config import Properties
from sinks.transforms.util import (
    TIMESTAMP_NAME,
    KeyOrValue,
    SchemaCache,
    copy_basics,
    field_value,
    java_class_name,
    require_map,
    require_schema,
    require_struct,
    with_changes,
)

_STRING = Schema("string")
_OPT_STRING = Schema("string", optional=True)
_INT32 = Schema("int32")
_OPT_INT32 = Schema("int32", optional=True)
_INT64 = Schema("int64")
_OPT_INT64 = Schema("int64", optional=True)
_TIMESTAMP = Schema("int64", name=TIMESTAMP_NAME, version=1)
_OPT_TIMESTAMP = Schema("int64", optional=True, name=TIMESTAMP_NAME, version=1)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

_REPLACE_NULL = "replace.null.with.default"


def _build_struct(source: Schema, fields: list[Field]) -> Schema:
    """A struct schema with ``source``'s basics and ``fields``; duplicate names fail as SchemaBuilder does."""
    seen: set[str] = set()
    for f in fields:
        if f.name in seen:
            raise TransformError(f"Cannot create field because of field name duplication {f.name}")
        seen.add(f.name)
    return copy_basics(source, "struct", fields=tuple(fields))


# ---------------------------------------------------------------- InsertField


class _InsertionSpec:
    """``name``, ``name?`` (optional, the default) or ``name!`` (required)."""

    def __init__(self, spec: str) -> None:
        self.optional = not spec.endswith("!")
        self.name = spec[:-1] if spec.endswith(("?", "!")) else spec


class InsertField(KeyOrValue, Transformation):
    """Insert the topic, partition, offset, timestamp or a static string as fields."""

    purpose = "field insertion"

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``topic.field``, ``partition.field``, ``offset.field``, ``timestamp.field``, "
        "``static.field``/``static.value``."""
        p = Properties(properties)

        def spec(name: str) -> _InsertionSpec | None:
            text = p.string(name)
            return None if text is None else _InsertionSpec(text)

        self.topic_field = spec("topic.field")
        self.partition_field = spec("partition.field")
        self.offset_field = spec("offset.field")
        self.timestamp_field = spec("timestamp.field")
        self.static_field = spec("static.field")
        self.static_value = p.string("static.value")
        self.replace_null = p.boolean(_REPLACE_NULL, True)
        specs = (self.topic_field, self.partition_field, self.offset_field, self.timestamp_field, self.static_field)
        if all(s is None for s in specs):
            p.problem(
                "No field insertion configured: set at least one of topic.field, partition.field, offset.field, "
                "timestamp.field, static.field"
            )
        if self.static_field is not None and self.static_value is None:
            p.problem(f"static.value: no value specified for static field: {self.static_field.name}")
        p.check()
        self._cache: SchemaCache[Schema, Schema] = SchemaCache()

    def _offset(self, record: ConnectRecord) -> int:
        if record.kafka_offset is None:
            raise TransformError(
                f"Only SinkRecord supported for [{self.purpose}], found: org.apache.kafka.connect.source.SourceRecord"
            )
        return record.kafka_offset

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Add the configured fields; a null key/value passes through unchanged."""
        value = self.operating_value(record)
        if value is None:
            return record
        schema = self.operating_schema(record)
        if schema is None:
            updated = dict(require_map(value, self.purpose))
            if self.topic_field:
                updated[self.topic_field.name] = record.topic
            if self.partition_field and record.partition is not None:
                updated[self.partition_field.name] = record.partition
            if self.offset_field:
                updated[self.offset_field.name] = self._offset(record)
            if self.timestamp_field and record.timestamp is not None:
                updated[self.timestamp_field.name] = record.timestamp
            if self.static_field and self.static_value is not None:
                updated[self.static_field.name] = self.static_value
            return self.new_record(record, None, updated)
        struct = require_struct(value, schema, self.purpose)
        new_schema = self._cache.get(schema, self._updated_schema)
        out = {f.name: field_value(struct, f, self.replace_null) for f in schema.fields}
        added: dict[str, Any] = {}
        if self.topic_field:
            added[self.topic_field.name] = record.topic
        if self.partition_field and record.partition is not None:
            added[self.partition_field.name] = record.partition
        if self.offset_field:
            added[self.offset_field.name] = self._offset(record)
        if self.timestamp_field and record.timestamp is not None:
            added[self.timestamp_field.name] = _EPOCH + datetime.timedelta(milliseconds=record.timestamp)
        if self.static_field and self.static_value is not None:
            added[self.static_field.name] = self.static_value
        out.update(added)
        for f in new_schema.fields:
            if out.get(f.name) is None and not f.schema.optional:
                raise TransformError(
                    f'Invalid value: null used for required field: "{f.name}", schema type: {f.schema.type.upper()}'
                )
        return self.new_record(record, new_schema, {f.name: out.get(f.name) for f in new_schema.fields})

    def _updated_schema(self, schema: Schema) -> Schema:
        fields = list(schema.fields)

        def add(spec: _InsertionSpec | None, required: Schema, optional: Schema) -> None:
            if spec is not None:
                fields.append(Field(spec.name, optional if spec.optional else required))

        add(self.topic_field, _STRING, _OPT_STRING)
        add(self.partition_field, _INT32, _OPT_INT32)
        add(self.offset_field, _INT64, _OPT_INT64)
        add(self.timestamp_field, _TIMESTAMP, _OPT_TIMESTAMP)
        add(self.static_field, _STRING, _OPT_STRING)
        return _build_struct(schema, fields)


class InsertFieldKey(InsertField):
    """``InsertField$Key``."""

    is_key = True


class InsertFieldValue(InsertField):
    """``InsertField$Value``."""


# ---------------------------------------------------------------- ReplaceField


class ReplaceField(KeyOrValue, Transformation):
    """Keep (``include``), drop (``exclude``) and rename (``renames=old:new,…``) top-level fields."""

    purpose = "field replacement"

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``include``/``exclude``/``renames``; the pre-3.0 names ``whitelist``/``blacklist`` are accepted too."""
        p = Properties(properties)
        include_name = "include" if p.has("include") or not p.has("whitelist") else "whitelist"
        exclude_name = "exclude" if p.has("exclude") or not p.has("blacklist") else "blacklist"
        self.include = set(p.string_list(include_name))
        self.exclude = set(p.string_list(exclude_name))
        self.renames: dict[str, str] = {}
        for mapping in p.string_list("renames"):
            parts = mapping.split(":")
            # Java's String.split drops trailing empty strings: "a:" is one part, so invalid too.
            while len(parts) > 1 and parts[-1] == "":
                parts.pop()
            if len(parts) != 2:
                p.problem(f"renames: invalid rename mapping: {mapping}")
                continue
            self.renames[parts[0]] = parts[1]
        self.reverse = {new: old for old, new in self.renames.items()}
        self.replace_null = p.boolean(_REPLACE_NULL, True)
        p.check()
        self._cache: SchemaCache[Schema, Schema] = SchemaCache()

    def _keep(self, name: str) -> bool:
        return name not in self.exclude and (not self.include or name in self.include)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Filter and rename; a null key/value passes through unchanged."""
        value = self.operating_value(record)
        if value is None:
            return record
        schema = self.operating_schema(record)
        if schema is None:
            updated = {self.renames.get(k, k): v for k, v in require_map(value, self.purpose).items() if self._keep(k)}
            return self.new_record(record, None, updated)
        struct = require_struct(value, schema, self.purpose)
        new_schema = self._cache.get(schema, self._updated_schema)
        out: dict[str, Any] = {}
        for f in new_schema.fields:
            original = schema.field(self.reverse.get(f.name, f.name))
            assert original is not None
            out[f.name] = field_value(struct, original, self.replace_null)
        return self.new_record(record, new_schema, out)

    def _updated_schema(self, schema: Schema) -> Schema:
        fields = [Field(self.renames.get(f.name, f.name), f.schema) for f in schema.fields if self._keep(f.name)]
        return _build_struct(schema, fields)


class ReplaceFieldKey(ReplaceField):
    """``ReplaceField$Key``."""

    is_key = True


class ReplaceFieldValue(ReplaceField):
    """``ReplaceField$Value``."""


# ---------------------------------------------------------------- MaskField


class MaskField(KeyOrValue, Transformation):
    """Replace ``fields`` with the type's empty value (0, false, "", empty list/map, epoch) or ``replacement``."""

    purpose = "mask fields"

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``fields`` (required, non-empty), ``replacement`` (non-empty when given)."""
        p = Properties(properties)
        self.fields = p.string_list("fields", required=True, non_empty=p.has("fields"))
        self.replacement = p.string("replacement")
        if self.replacement is not None and not self.replacement.strip():
            p.problem("replacement must be a non-empty string")
        self.replace_null = p.boolean(_REPLACE_NULL, True)
        p.check()
        self.masked_set = set(self.fields)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Mask the fields. Like Connect, a null key/value is an error here (requireMap/requireStruct)."""
        schema = self.operating_schema(record)
        value = self.operating_value(record)
        if schema is None:
            updated = dict(require_map(value, self.purpose))
            for name in self.fields:
                updated[name] = self._masked(value.get(name), None)
            return self.new_record(record, None, updated)
        struct = require_struct(value, schema, self.purpose)
        out: dict[str, Any] = {}
        for f in schema.fields:
            original = field_value(struct, f, self.replace_null)
            out[f.name] = self._masked(original, f.schema) if f.name in self.masked_set else original
        return self.new_record(record, schema, out)

    def _masked(self, value: Any, schema: Schema | None) -> Any:
        if value is None:
            return None
        java = java_class_name(value, schema)
        if self.replacement is not None:
            return _custom_mask(value, java, self.replacement)
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return 0
        if isinstance(value, float):
            return 0.0
        if isinstance(value, decimal.Decimal):
            return decimal.Decimal(0)
        if isinstance(value, str):
            return ""
        if isinstance(value, datetime.datetime):
            return _EPOCH
        if isinstance(value, datetime.date):
            return datetime.date(1970, 1, 1)
        if isinstance(value, datetime.time):
            return datetime.time(0, 0)
        if isinstance(value, list):
            return []
        if isinstance(value, dict) and (schema is None or schema.type == "map"):
            return {}
        raise TransformError(f"Cannot mask value of type: class {java}")


def _custom_mask(value: Any, java: str, replacement: str) -> Any:
    """Connect's ``maskWithCustomReplacement``: numbers and strings only, converted to the value's type."""
    if isinstance(value, str):
        return replacement
    if isinstance(value, decimal.Decimal):
        try:
            return decimal.Decimal(replacement.strip())
        except decimal.InvalidOperation as exc:
            raise TransformError(f"Unable to convert {replacement} (class java.lang.String) to number") from exc
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TransformError(f"Cannot mask value of type class {java} with custom replacement.")
    try:
        number = float(replacement.strip())
    except ValueError as exc:
        raise TransformError(f"Unable to convert {replacement} (class java.lang.String) to number") from exc
    return number if isinstance(value, float) else int(number)


class MaskFieldKey(MaskField):
    """``MaskField$Key``."""

    is_key = True


class MaskFieldValue(MaskField):
    """``MaskField$Value``."""


# ---------------------------------------------------------------- ValueToKey


class ValueToKey(Transformation):
    """Replace the key with a struct (or map) of some value fields."""

    purpose = "copying fields from value to key"

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``fields`` (required, non-empty)."""
        p = Properties(properties)
        self.fields = p.string_list("fields", required=True, non_empty=p.has("fields"))
        self.replace_null = p.boolean(_REPLACE_NULL, True)
        p.check()
        self._cache: SchemaCache[Schema, Schema] = SchemaCache()

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Build the key. Like Connect, a tombstone (null value) is an error."""
        schema = record.value_schema
        if schema is None:
            value = require_map(record.value, self.purpose)
            return record.replace(key_schema=None, key={f: value.get(f) for f in self.fields})
        struct = require_struct(record.value, schema, self.purpose)
        key_schema = self._cache.get(schema, self._key_schema)
        key = {f.name: field_value(struct, f, self.replace_null) for f in key_schema.fields}
        return record.replace(key_schema=key_schema, key=key)

    def _key_schema(self, schema: Schema) -> Schema:
        fields = []
        for name in self.fields:
            f = schema.field(name)
            if f is None:
                raise TransformError(f"Field does not exist: {name}")
            fields.append(f)
        return Schema("struct", fields=tuple(fields))


# ---------------------------------------------------------------- ExtractField


def parse_field_path(path: str, version: str) -> list[str]:
    """``SingleFieldPath``: V1 is one top-level name; V2 splits on dots, with backtick-quoted names (KIP-821)."""
    if version == "V1":
        return [path]
    steps: list[str] = []
    idx = 0
    while 0 <= idx < len(path):
        if path[idx] != "`":
            start = idx
            idx = path.find(".", idx)
            if idx >= 0:
                steps.append(path[start:idx])
                idx += 1
            else:
                steps.append(path[start:])
        else:
            backtick_at = idx
            idx += 1
            name = ""
            start = idx
            while True:
                idx = path.find("`", idx)
                if idx == -1:
                    raise ValueError(
                        f"Incomplete backtick pair in path: [{path}], consider adding a backslash before "
                        f"backtick at position {backtick_at} to escape it"
                    )
                escaped = path[idx - 1] == "\\"
                if idx >= len(path) - 1:
                    if escaped:
                        raise ValueError(
                            f"Incomplete backtick pair in path: [{path}], consider adding a backslash before "
                            f"backtick at position {backtick_at} to escape it"
                        )
                    name += path[start:idx]
                    steps.append(name)
                    idx += 1
                    break
                if path[idx + 1] != ".":
                    idx += 1
                    continue
                if escaped:
                    name += path[start : idx - 1] + "`"
                    idx += 1
                    start = idx
                    continue
                name += path[start:idx]
                steps.append(name)
                idx += 2
                break
    if path.endswith("."):
        steps.append("")
    return steps


class ExtractField(KeyOrValue, Transformation):
    """Replace the key or value with one of its fields (nested with ``field.syntax.version=V2``)."""

    purpose = "field extraction"

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``field`` (required) and ``field.syntax.version`` (V1 or V2)."""
        p = Properties(properties)
        self.field = p.required_string("field")
        version = p.choice("field.syntax.version", ("V1", "V2"), "V1")
        self.replace_null = p.boolean(_REPLACE_NULL, True)
        try:
            self.path = parse_field_path(self.field, version)
        except ValueError as exc:
            p.problem(f"field: {exc}")
        p.check()
        self._fields: SchemaCache[Schema, Field | None] = SchemaCache()

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Extract; a null key/value stays null (with the field's schema when there is one)."""
        schema = self.operating_schema(record)
        value = self.operating_value(record)
        if schema is None:
            current: Any = None if value is None else require_map(value, self.purpose)
            for step in self.path[:-1]:
                if current is None:
                    break
                nested = current.get(step)
                current = None if nested is None else require_map(nested, "nested field access")
            return self.new_record(record, None, None if current is None else current.get(self.path[-1]))
        struct: Any = None if value is None else require_struct(value, schema, self.purpose)
        if len(self.path) == 1:  # the common case (Debezium's unwrap extracts "after" this way): field cached
            field = self._fields.get(schema, lambda s: s.field(self.path[0]) if s.type == "struct" else None)
            if field is None:
                raise TransformError(f"Unknown field: {self.field}")
            result = None if struct is None else field_value(struct, field, self.replace_null)
            return self.new_record(record, field.schema, result)
        current_schema = schema
        field = None
        for i, step in enumerate(self.path):
            field = current_schema.field(step) if current_schema.type == "struct" else None
            if field is None:
                raise TransformError(f"Unknown field: {self.field}")
            if i < len(self.path) - 1:
                current_schema = field.schema
                if struct is not None:
                    nested = field_value(struct, field)
                    struct = None if nested is None else require_struct(nested, field.schema, "nested field access")
        assert field is not None
        result = None if struct is None else field_value(struct, field, self.replace_null)
        return self.new_record(record, field.schema, result)


class ExtractFieldKey(ExtractField):
    """``ExtractField$Key``."""

    is_key = True


class ExtractFieldValue(ExtractField):
    """``ExtractField$Value``."""


# ---------------------------------------------------------------- HoistField


class HoistField(KeyOrValue, Transformation):
    """Wrap the key or value in a struct (or map) with a single ``field``."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``field`` (required)."""
        p = Properties(properties)
        self.field = p.required_string("field")
        p.check()
        self._cache: SchemaCache[Schema, Schema] = SchemaCache()

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Wrap, including a null key/value (as Connect does)."""
        schema = self.operating_schema(record)
        value = self.operating_value(record)
        if schema is None:
            return self.new_record(record, None, {self.field: value})
        new_schema = self._cache.get(schema, lambda s: Schema("struct", fields=(Field(self.field, s),)))
        if value is None and not schema.optional:
            raise TransformError(
                f'Invalid value: null used for required field: "{self.field}", schema type: {schema.type.upper()}'
            )
        return self.new_record(record, new_schema, {self.field: value})


class HoistFieldKey(HoistField):
    """``HoistField$Key``."""

    is_key = True


class HoistFieldValue(HoistField):
    """``HoistField$Value``."""


# ---------------------------------------------------------------- Flatten

_FLAT_TYPES = frozenset(
    ("int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string", "bytes", "array")
)


class Flatten(KeyOrValue, Transformation):
    """Flatten nested structs (or maps) into one level, joining names with ``delimiter``."""

    purpose = "flattening"

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``delimiter`` (default ``.``)."""
        p = Properties(properties)
        self.delimiter = p.string("delimiter", ".") or ""
        p.check()
        self._cache: SchemaCache[Schema, Schema] = SchemaCache()

    def _name(self, prefix: str, name: str) -> str:
        return name if not prefix else f"{prefix}{self.delimiter}{name}"

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Flatten; a null key/value passes through unchanged."""
        value = self.operating_value(record)
        if value is None:
            return record
        schema = self.operating_schema(record)
        if schema is None:
            out: dict[str, Any] = {}
            self._flatten_map(require_map(value, self.purpose), "", out)
            return self.new_record(record, None, out)
        struct = require_struct(value, schema, self.purpose)
        new_schema = self._cache.get(schema, self._flat_schema)
        flat: dict[str, Any] = {}
        self._flatten_struct(struct, schema, "", flat)
        return self.new_record(record, new_schema, {f.name: flat.get(f.name) for f in new_schema.fields})

    def _flatten_map(self, original: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
        for key, value in original.items():
            name = self._name(prefix, key)
            if isinstance(value, dict):
                self._flatten_map(value, name, out)
            elif value is None or isinstance(value, (bool, int, float, str, bytes, list)):
                out[name] = value
            else:
                raise TransformError(
                    f"Flatten transformation was passed a value of type class {java_class_name(value)} which is "
                    "not supported by Connect's data API"
                )

    def _flat_schema(self, schema: Schema) -> Schema:
        fields: list[Field] = []
        self._flat_fields(schema, "", fields, schema.optional, schema.default)
        return _build_struct(schema, fields)

    def _flat_fields(self, schema: Schema, prefix: str, out: list[Field], optional: bool, parent_default: Any) -> None:
        for f in schema.fields:
            name = self._name(prefix, f.name)
            field_optional = optional or f.schema.optional
            default = f.schema.default
            if default is None and isinstance(parent_default, dict):
                default = field_value(parent_default, f)
            if f.schema.type in _FLAT_TYPES:
                base = copy_basics(
                    f.schema, f.schema.type, items=f.schema.items, optional=field_optional, default=default
                )
                out.append(Field(name, base))
            elif f.schema.type == "struct":
                self._flat_fields(f.schema, name, out, field_optional, default)
            else:
                raise TransformError(
                    f"Flatten transformation does not support {f.schema.type.upper()} for record with schemas "
                    f"(for field {name})."
                )

    def _flatten_struct(self, struct: dict[str, Any] | None, schema: Schema, prefix: str, out: dict[str, Any]) -> None:
        if struct is None:
            return
        for f in schema.fields:
            name = self._name(prefix, f.name)
            if f.schema.type in _FLAT_TYPES:
                out[name] = field_value(struct, f)
            elif f.schema.type == "struct":
                self._flatten_struct(struct.get(f.name), f.schema, name, out)
            else:
                raise TransformError(
                    f"Flatten transformation does not support {f.schema.type.upper()} for record with schemas "
                    f"(for field {name})."
                )


class FlattenKey(Flatten):
    """``Flatten$Key``."""

    is_key = True


class FlattenValue(Flatten):
    """``Flatten$Value``."""


# ---------------------------------------------------------------- SetSchemaMetadata


class SetSchemaMetadata(KeyOrValue, Transformation):
    """Set the key or value schema's name and/or version."""

    def configure(self, properties: Mapping[str, str]) -> None:
        """Read ``schema.name`` and ``schema.version``; at least one is required."""
        p = Properties(properties)
        self.name = p.string("schema.name")
        self.version = p.integer("schema.version")
        self.replace_null = p.boolean(_REPLACE_NULL, True)
        if self.name is None and self.version is None and not p.problems:
            p.problem("Neither schema name nor version configured: set schema.name and/or schema.version")
        p.check()

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Rename the schema; schemaless data is an error unless the key/value is null."""
        value = self.operating_value(record)
        schema = self.operating_schema(record)
        if value is None and schema is None:
            return record
        schema = require_schema(schema, "updating schema metadata")
        if schema.type != "struct":
            # Connect 4.3 builds the new schema with schema.fields(), which throws for every non-struct schema.
            raise TransformError("Cannot list fields on non-struct type")
        updated = with_changes(
            schema,
            name=self.name if self.name is not None else schema.name,
            version=self.version if self.version is not None else schema.version,
        )
        if isinstance(value, dict) and schema.type == "struct":
            value = {f.name: field_value(value, f, self.replace_null) for f in schema.fields}
        return self.new_record(record, updated, value)


class SetSchemaMetadataKey(SetSchemaMetadata):
    """``SetSchemaMetadata$Key``."""

    is_key = True


class SetSchemaMetadataValue(SetSchemaMetadata):
    """``SetSchemaMetadata$Value``."""
