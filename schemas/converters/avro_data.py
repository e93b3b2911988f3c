"""Connect schemas and values ↔ Avro, following Confluent's ``AvroData`` (io.confluent.connect.avro).

Schema mapping (``connect.meta.data=true``, Confluent's default):

- int8/int16 → Avro ``int`` with ``"connect.type": "int8"|"int16"``; int32 → ``int``; int64 → ``long``; float32 →
  ``float``; float64 → ``double``; boolean, string, bytes → the same names;
- struct → ``record`` named after the Connect name (``a.b.Value`` → namespace ``a.b``, name ``Value``; unnamed:
  ``io.confluent.connect.avro.ConnectDefault``), with ``connect.name``/``connect.version``/``connect.doc``; a
  record name met a second time is written as a reference, as Avro requires;
- array → ``array``; map with string keys → ``map``; other maps → array of ``MapEntry`` records (key, value);
- optional → union ``["null", T]`` with default null, or ``[T, "null"]`` when the schema has a default;
- named primitives (Debezium's logical types) keep their type and get ``connect.name``, ``connect.version``,
  ``connect.parameters`` (and ``connect.default``); Connect's Decimal/Date/Time/Timestamp also get the Avro logical
  types ``decimal`` (scale, precision from ``connect.decimal.precision``, else 64), ``date``, ``time-millis`` and
  ``timestamp-millis``.

Reading maps these annotations back, so a Connect schema survives the round trip.
"""

from __future__ import annotations

from typing import Any

from schemas.connect import Field, Schema
from schemas.converters import logical
from schemas.converters.base import ConversionError

DEFAULT_NAMESPACE = "io.confluent.connect.avro"
DEFAULT_RECORD = "ConnectDefault"
MAP_ENTRY = "MapEntry"

_PRIMITIVE_TO_AVRO = {
    "int8": "int",
    "int16": "int",
    "int32": "int",
    "int64": "long",
    "float32": "float",
    "float64": "double",
    "boolean": "boolean",
    "string": "string",
    "bytes": "bytes",
}
_AVRO_TO_PRIMITIVE = {
    "int": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "boolean": "boolean",
    "string": "string",
    "bytes": "bytes",
}


class _ToAvro:
    def __init__(self) -> None:
        self.defined: set[str] = set()
        self.default_records = 0

    def schema(self, schema: Schema) -> Any:
        base = self._base(schema)
        if not schema.optional:
            return base
        if schema.default is not None:
            return [base, "null"]
        return ["null", base]

    def _base(self, schema: Schema) -> Any:
        typ = schema.type
        if typ == "struct":
            return self._record(schema)
        if typ == "array":
            assert schema.items is not None
            out: dict[str, Any] = {"type": "array", "items": self.schema(schema.items)}
            return self._annotate(out, schema)
        if typ == "map":
            assert schema.keys is not None and schema.items is not None
            if schema.keys.type == "string" and not schema.keys.optional:
                return self._annotate({"type": "map", "values": self.schema(schema.items)}, schema)
            entry_name = f"{DEFAULT_NAMESPACE}.{MAP_ENTRY}"
            if entry_name in self.defined:
                items: Any = entry_name
            else:
                self.defined.add(entry_name)
                items = {
                    "type": "record",
                    "name": MAP_ENTRY,
                    "namespace": DEFAULT_NAMESPACE,
                    "fields": [
                        {"name": "key", "type": self.schema(schema.keys)},
                        {"name": "value", "type": self.schema(schema.items)},
                    ],
                }
            return self._annotate({"type": "array", "items": items}, schema)
        avro_type = _PRIMITIVE_TO_AVRO.get(typ)
        if avro_type is None:
            raise ConversionError(f"no Avro type for Connect type {typ}")
        out = {"type": avro_type}
        if typ in ("int8", "int16"):
            out["connect.type"] = typ
        name = schema.name
        if name == logical.DECIMAL:
            params = schema.parameters or {}
            out["scale"] = int(params.get("scale", "0"))
            out["precision"] = int(params.get("connect.decimal.precision", "64"))
        out = self._annotate(out, schema)
        if name == logical.DECIMAL:
            out["logicalType"] = "decimal"
        elif name == logical.DATE:
            out["logicalType"] = "date"
        elif name == logical.TIME:
            out["logicalType"] = "time-millis"
        elif name == logical.TIMESTAMP:
            out["logicalType"] = "timestamp-millis"
        if len(out) == 1:
            return avro_type
        return out

    def _annotate(self, out: dict[str, Any], schema: Schema) -> dict[str, Any]:
        if schema.doc is not None:
            out["connect.doc"] = schema.doc
        if schema.version is not None:
            out["connect.version"] = schema.version
        if schema.parameters:
            out["connect.parameters"] = dict(schema.parameters)
        if schema.default is not None and schema.type not in ("struct",):
            out["connect.default"] = schema.default
        if schema.name is not None:
            out["connect.name"] = schema.name
        return out

    def _record(self, schema: Schema) -> Any:
        full = schema.name or f"{DEFAULT_NAMESPACE}.{DEFAULT_RECORD}"
        if schema.name is None and self.default_records:
            full = f"{DEFAULT_NAMESPACE}.{DEFAULT_RECORD}{self.default_records}"
        if schema.name is None:
            self.default_records += 1
        if full in self.defined:
            return full
        self.defined.add(full)
        namespace, _, name = full.rpartition(".")
        fields = []
        for f in schema.fields:
            field: dict[str, Any] = {"name": f.name, "type": self.schema(f.schema)}
            if f.schema.default is not None:
                field["default"] = _default_json(f.schema)
            elif f.schema.optional:
                field["default"] = None
            fields.append(field)
        out: dict[str, Any] = {"type": "record", "name": name}
        if namespace:
            out["namespace"] = namespace
        out["fields"] = fields
        if schema.doc is not None:
            out["doc"] = schema.doc
        if schema.version is not None:
            out["connect.version"] = schema.version
        if schema.parameters:
            out["connect.parameters"] = dict(schema.parameters)
        if schema.name is not None:
            out["connect.name"] = schema.name
        return out


def _default_json(schema: Schema) -> Any:
    """A field default in Avro's JSON form (bytes defaults as ISO-8859-1 text, as Avro specifies)."""
    value = schema.default
    if schema.type == "bytes" and isinstance(value, str):
        import base64

        try:
            return base64.b64decode(value).decode("latin-1")
        except ValueError:
            return value
    return value


def connect_to_avro(schema: Schema) -> Any:
    """The Avro schema (JSON-like structure) for a Connect schema."""
    return _ToAvro().schema(schema)


# ---------------------------------------------------------------------------------------------------------------


def avro_to_connect(avro: Any) -> Schema:
    """The Connect schema an Avro schema (parsed JSON, as written by :func:`connect_to_avro` or by Confluent's
    AvroData) describes."""
    return _ToConnect().schema(avro, None)


class _ToConnect:
    def __init__(self) -> None:
        self.named: dict[str, Any] = {}

    def schema(self, avro: Any, namespace: str | None) -> Schema:
        if isinstance(avro, list):
            members = [m for m in avro if m != "null"]
            if len(members) != 1:
                raise ConversionError("Avro unions other than [null, T] are not supported")
            return self.schema(members[0], namespace).with_optional(True)
        if isinstance(avro, str):
            if avro in _AVRO_TO_PRIMITIVE:
                return Schema(_AVRO_TO_PRIMITIVE[avro])
            full = avro if "." in avro or namespace is None else f"{namespace}.{avro}"
            if full in self.named:
                return self._record(self.named[full], namespace)
            raise ConversionError(f"unknown Avro type {avro!r}")
        if not isinstance(avro, dict):
            raise ConversionError(f"invalid Avro schema node {avro!r}")
        typ = avro.get("type")
        params = avro.get("connect.parameters")
        parameters = {str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else None
        version = avro.get("connect.version")
        name = avro.get("connect.name")
        doc = avro.get("connect.doc")
        if typ == "record":
            ns = avro.get("namespace") or namespace
            full = avro["name"] if "." in avro["name"] or not ns else f"{ns}.{avro['name']}"
            self.named[full] = avro
            return self._record(avro, namespace)
        if typ == "array":
            items = avro["items"]
            item_node = self.named.get(items) if isinstance(items, str) else items
            if isinstance(item_node, dict) and item_node.get("type") == "record" and item_node.get("name") == MAP_ENTRY:
                entry = self.schema(items, namespace)
                key = next(f.schema for f in entry.fields if f.name == "key")
                value = next(f.schema for f in entry.fields if f.name == "value")
                return Schema("map", False, name, version, parameters, avro.get("connect.default"), (), value, doc, key)
            return Schema("array", False, name, version, parameters, None, (), self.schema(items, namespace), doc)
        if typ == "map":
            return Schema(
                "map",
                False,
                name,
                version,
                parameters,
                None,
                (),
                self.schema(avro["values"], namespace),
                doc,
                Schema("string"),
            )
        if isinstance(typ, (dict, list)):
            return self.schema(typ, namespace)
        if typ not in _AVRO_TO_PRIMITIVE:
            if typ in ("enum", "fixed"):
                base = "string" if typ == "enum" else "bytes"
                return Schema(base, name=name, version=version, parameters=parameters, doc=doc)
            return self.schema(typ, namespace)
        connect_type = avro.get("connect.type") or _AVRO_TO_PRIMITIVE[typ]
        logical_type = avro.get("logicalType")
        if name is None and logical_type is not None:
            # Avro logical types written by producers other than Connect.
            if logical_type == "decimal":
                name = logical.DECIMAL
                parameters = {"scale": str(avro.get("scale", 0)), **(parameters or {})}
            elif logical_type == "date":
                name = logical.DATE
            elif logical_type == "time-millis":
                name = logical.TIME
            elif logical_type == "timestamp-millis":
                name = logical.TIMESTAMP
            if name is not None:
                version = version or 1
        return Schema(connect_type, False, name, version, parameters, avro.get("connect.default"), doc=doc)

    def _record(self, avro: dict[str, Any], namespace: str | None) -> Schema:
        ns = avro.get("namespace") or namespace
        fields = []
        for f in avro["fields"]:
            field_schema = self.schema(f["type"], ns)
            if "default" in f and f["default"] is not None and field_schema.default is None:
                field_schema = Schema(
                    field_schema.type,
                    field_schema.optional,
                    field_schema.name,
                    field_schema.version,
                    field_schema.parameters,
                    f["default"],
                    field_schema.fields,
                    field_schema.items,
                    field_schema.doc,
                    field_schema.keys,
                )
            fields.append(Field(f["name"], field_schema))
        connect_name = avro.get("connect.name")
        if connect_name is None:
            full = avro["name"] if "." in avro["name"] or not ns else f"{ns}.{avro['name']}"
            connect_name = None if full.startswith(f"{DEFAULT_NAMESPACE}.{DEFAULT_RECORD}") else full
        return Schema(
            "struct",
            False,
            connect_name,
            avro.get("connect.version"),
            None,
            None,
            tuple(fields),
            None,
            avro.get("doc"),
        )


# ---------------------------------------------------------------------------------------------------------------
# Values: Connect in-memory ↔ what fastavro reads and writes for the schemas above.


def to_avro_value(schema: Schema | None, value: Any) -> Any:
    """The fastavro datum for a Connect value (maps with non-string keys become MapEntry lists)."""
    if value is None or schema is None:
        return value
    typ = schema.type
    if typ == "struct":
        return {f.name: to_avro_value(f.schema, value.get(f.name)) for f in schema.fields}
    if typ == "array":
        return [to_avro_value(schema.items, v) for v in value]
    if typ == "map":
        assert schema.keys is not None
        if schema.keys.type == "string" and not schema.keys.optional:
            return {k: to_avro_value(schema.items, v) for k, v in value.items()}
        return [
            {"key": to_avro_value(schema.keys, k), "value": to_avro_value(schema.items, v)} for k, v in value.items()
        ]
    if schema.name == logical.DECIMAL and not isinstance(value, (bytes, bytearray)):
        import decimal

        scale = logical.decimal_scale(schema.parameters)
        return decimal.Decimal(value).quantize(decimal.Decimal(1).scaleb(-scale), context=logical.EXACT)
    return value


def from_avro_value(schema: Schema | None, value: Any) -> Any:
    """The Connect value of a fastavro datum read with the schema :func:`connect_to_avro` wrote."""
    if value is None or schema is None:
        return value
    typ = schema.type
    if typ == "struct":
        return {f.name: from_avro_value(f.schema, value.get(f.name)) for f in schema.fields}
    if typ == "array":
        return [from_avro_value(schema.items, v) for v in value]
    if typ == "map":
        if isinstance(value, list):
            return {from_avro_value(schema.keys, e["key"]): from_avro_value(schema.items, e["value"]) for e in value}
        return {k: from_avro_value(schema.items, v) for k, v in value.items()}
    name = schema.name
    if name == logical.DECIMAL and isinstance(value, (bytes, bytearray)):
        return logical.bytes_to_decimal(bytes(value), logical.decimal_scale(schema.parameters))
    if name == logical.TIMESTAMP and isinstance(value, int):
        return logical.millis_to_timestamp(value)
    if name == logical.DATE and isinstance(value, int):
        return logical.days_to_date(value)
    if name == logical.TIME and isinstance(value, int):
        return logical.millis_to_time(value)
    return value
