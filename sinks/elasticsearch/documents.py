"""Records → Elasticsearch documents, ids, versions and index mappings (called by the sink task per record).

- :func:`to_json` turns Connect values into JSON-ready values (Decimal → number, exact digits as a string when a
  double cannot hold them, which Elasticsearch coerces; dates/timestamps → ISO-8601 strings; bytes → base64;
  Debezium's ``Date``/``Timestamp``/``MicroTimestamp``/``NanoTimestamp`` → ISO-8601, ``VariableScaleDecimal`` →
  number; maps → objects or ``[{key, value}]`` entries per ``compact.map.entries``).
- :func:`mapping` derives an index mapping from a Connect schema (Confluent's ``Mapping`` plus Debezium types).
- :func:`envelope_parts` recognises a Debezium change event; ``sinks.source_position.source_version`` turns its
  source position into the external version.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from typing import Any

import orjson

from cdc.errors import SkippableRecordError
from schemas.connect import Schema
from schemas.record import ConnectRecord
from sinks.source_position import source_version

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ENVELOPE_OPS = frozenset("crudtm")


class DocumentError(SkippableRecordError):
    """A record that cannot become a document (Confluent's ``DataException``)."""


# -- values ---------------------------------------------------------------------------------------------------


def _iso(moment: dt.datetime, timespec: str = "milliseconds") -> str:
    """ISO-8601 in UTC with a fixed number of fraction digits (``...T00:00:00.000Z``), so equal instants give
    equal text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def _number(value: decimal.Decimal) -> Any:
    as_float = float(value)
    if decimal.Decimal(repr(as_float)) == value:
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else as_float
    return str(value)  # exact digits; Elasticsearch coerces numeric strings into numeric fields


def _debezium(name: str, value: Any) -> tuple[bool, Any]:
    if name == "io.debezium.time.Date" and isinstance(value, int):
        return True, (_EPOCH + dt.timedelta(days=value)).date().isoformat()
    if name == "io.debezium.time.Timestamp" and isinstance(value, int):
        return True, _iso(_EPOCH + dt.timedelta(milliseconds=value))
    if name == "io.debezium.time.MicroTimestamp" and isinstance(value, int):
        return True, _iso(_EPOCH + dt.timedelta(microseconds=value), "microseconds")
    if name == "io.debezium.time.NanoTimestamp" and isinstance(value, int):
        micros, nanos = divmod(value, 1000)
        return True, _iso(_EPOCH + dt.timedelta(microseconds=micros), "microseconds")[:-1] + f"{nanos:03d}Z"
    if name == "io.debezium.data.VariableScaleDecimal" and isinstance(value, dict):
        raw = value.get("value")
        if isinstance(raw, str):
            raw = base64.b64decode(raw)
        if isinstance(raw, bytes | bytearray):
            unscaled = int.from_bytes(raw, "big", signed=True)
            return True, _number(decimal.Decimal(f"{unscaled}E{-int(value.get('scale', 0))}"))  # exact (scaleb rounds)
    return False, None


_PLAIN_SCHEMA_TYPES = frozenset({"boolean", "int8", "int16", "int32", "int64", "float32", "float64", "string"})
_PLAIN_TYPES = frozenset({bool, int, float, str})
_PLANS: dict[int, tuple[Schema, dict[str, tuple[Schema, bool]]]] = {}


def _struct_plan(schema: Schema) -> dict[str, tuple[Schema, bool]]:
    """``{field: (schema, plain)}`` of a struct schema, cached by identity (the converters hand out the same
    Schema object for every record of a table). ``plain``: an unnamed primitive, whose bool/int/float/str values
    are written as they are. Building this per record was a tenth of the sink's time."""
    cached = _PLANS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    plan = {f.name: (f.schema, f.schema.name is None and f.schema.type in _PLAIN_SCHEMA_TYPES) for f in schema.fields}
    if len(_PLANS) >= 4096:
        _PLANS.clear()
    _PLANS[id(schema)] = (schema, plan)  # the schema is kept alive with its plan, so its id is not reused
    return plan


def to_json(schema: Schema | None, value: Any, compact_maps: bool = True) -> Any:
    """The JSON form of one Connect value (see the module docstring)."""
    if value is None:
        return None
    if schema is not None and schema.name:
        handled, converted = _debezium(schema.name, value)
        if handled:
            return converted
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return _number(value)
    if isinstance(value, dt.datetime):
        return _iso(value, "microseconds" if value.microsecond % 1000 else "milliseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, list | tuple):
        items = schema.items if schema is not None else None
        return [to_json(items, v, compact_maps) for v in value]
    if isinstance(value, dict):
        if schema is not None and schema.type == "struct":
            plan = _struct_plan(schema)
            out: dict[str, Any] = {}
            for k, v in value.items():
                field = plan.get(k)
                if field is None:
                    out[k] = to_json(None, v, compact_maps)
                elif v is None or (field[1] and type(v) in _PLAIN_TYPES):
                    out[k] = v  # what to_json returns for them, without the call
                else:
                    out[k] = to_json(field[0], v, compact_maps)
            return out
        if (
            schema is not None
            and schema.type == "map"
            and not (compact_maps and all(isinstance(k, str) for k in value))
        ):
            return [{"key": to_json(None, k), "value": to_json(None, v, compact_maps)} for k, v in value.items()]
        return {str(k): to_json(None, v, compact_maps) for k, v in value.items()}
    raise DocumentError(f"cannot write a {type(value).__name__} value to Elasticsearch")


def source_document(schema: Schema | None, value: Any, compact_maps: bool) -> dict[str, Any]:
    """The ``_source`` of a record value: a struct/map, or a string holding a JSON object (schemaless)."""
    if isinstance(value, str | bytes) and (schema is None or schema.type in ("string", "bytes")):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise DocumentError("the value is a string that is not a JSON document") from None
        schema = None
    doc = to_json(schema, value, compact_maps)
    if not isinstance(doc, dict):
        raise DocumentError(f"the value must be a struct, map or JSON object, got {type(value).__name__}")
    return doc


# -- Debezium envelopes ---------------------------------------------------------------------------------------


def envelope_parts(record: ConnectRecord) -> tuple[str, Any, Schema | None, dict[str, Any] | None] | None:
    """``(op, row, row_schema, source)`` when the value is a Debezium change event, else None.

    ``row`` is ``after`` for c/r/u and ``before`` for d (None for t/m, which carry no row)."""
    value = record.value
    if not isinstance(value, dict):
        return None
    schema = record.value_schema
    if schema is not None:
        if not (schema.type == "struct" and (schema.name or "").endswith(".Envelope")):
            return None
    elif not (value.get("op") in _ENVELOPE_OPS and isinstance(value.get("source"), dict) and "after" in value):
        return None
    op = value.get("op")
    if not isinstance(op, str):
        return None
    side = "before" if op == "d" else "after"
    row_schema = None
    if schema is not None:
        row_schema = next((f.schema for f in schema.fields if f.name == side), None)
    source = value.get("source")
    return op, value.get(side) if op in "cdru" else None, row_schema, source if isinstance(source, dict) else None


# -- ids and versions -----------------------------------------------------------------------------------------


def document_id(record: ConnectRecord, ignore_key: bool) -> str:
    """``topic+partition+offset`` when keys are ignored, else the key: a primitive as text, a one-field struct
    by that field, a larger struct as compact JSON (the Confluent connector rejects struct keys)."""
    if ignore_key:
        return f"{record.original_topic or record.topic}+{record.partition}+{record.kafka_offset}"
    key = record.key
    if key is None:
        raise DocumentError("the key is null but is the document id (set key.ignore=true to ignore keys)")
    if isinstance(key, dict):
        converted = to_json(record.key_schema, key)
        if len(converted) == 1:
            (only,) = converted.values()
            if only is None or isinstance(only, dict | list):
                return orjson.dumps(converted).decode()
            return str(only).lower() if isinstance(only, bool) else str(only)
        return orjson.dumps(converted, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(key, bytes | bytearray):
        return base64.b64encode(bytes(key)).decode("ascii")
    if isinstance(key, bool):
        return str(key).lower()
    if isinstance(key, str | int | float | decimal.Decimal):
        return str(key)
    raise DocumentError(f"a {type(key).__name__} key cannot be a document id")


def unwrapped_version(record: ConnectRecord) -> int | None:
    """The source position of a record flattened by ExtractNewRecordState with ``add.fields``/``add.headers``
    (``__lsn``/``__source_lsn``, or ``__file``+``__pos``[+``__row``] and their ``__source_`` forms)."""
    found: dict[str, Any] = {}
    value = record.value if isinstance(record.value, dict) else {}
    for name in ("lsn", "file", "pos", "row", "gtid"):
        for key in (f"__{name}", f"__source_{name}"):
            if key in value:
                found[name] = value[key]
                break
            header = record.header(key)
            if header is not None:
                text = header.decode("utf-8", "replace").strip('"')
                found[name] = int(text) if text.lstrip("-").isdigit() else text
                break
    return source_version(found) if found else None


# -- mappings -------------------------------------------------------------------------------------------------

_PRIMITIVE_TYPES = {
    "boolean": "boolean",
    "int8": "byte",
    "int16": "short",
    "int32": "integer",
    "int64": "long",
    "float32": "float",
    "float64": "double",
    "bytes": "binary",
}
_LOGICAL_TYPES = {
    "org.apache.kafka.connect.data.Decimal": "double",
    "org.apache.kafka.connect.data.Date": "date",
    "org.apache.kafka.connect.data.Time": "date",
    "org.apache.kafka.connect.data.Timestamp": "date",
    "io.debezium.time.Date": "date",
    "io.debezium.time.Timestamp": "date",
    "io.debezium.time.MicroTimestamp": "date_nanos",
    "io.debezium.time.NanoTimestamp": "date_nanos",
    "io.debezium.time.ZonedTimestamp": "date_nanos",
    "io.debezium.data.VariableScaleDecimal": "double",
    "io.debezium.data.Uuid": "keyword",
}


def field_mapping(schema: Schema, compact_maps: bool = True) -> dict[str, Any]:
    """The mapping of one field's schema."""
    if schema.name in _LOGICAL_TYPES:
        return {"type": _LOGICAL_TYPES[schema.name]}
    if schema.type == "struct":
        return {"properties": {f.name: field_mapping(f.schema, compact_maps) for f in schema.fields}}
    if schema.type == "array":
        return field_mapping(schema.items, compact_maps) if schema.items is not None else {"type": "object"}
    if schema.type == "map":
        return {"type": "object"} if compact_maps else {"type": "nested"}
    if schema.type == "string":
        return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    return {"type": _PRIMITIVE_TYPES.get(schema.type, "keyword")}


def mapping(schema: Schema, compact_maps: bool = True) -> dict[str, Any] | None:
    """The index mapping of a struct value schema (None for other schemas: Elasticsearch maps dynamically)."""
    if schema.type != "struct":
        return None
    return {"properties": {f.name: field_mapping(f.schema, compact_maps) for f in schema.fields}}


def index_name(topic: str) -> str:
    """The Confluent connector's index name: the topic lower-cased, without a leading ``-``/``_``/``+``."""
    name = topic.lower()[:255]
    while name[:1] in ("-", "_", "+"):
        name = name[1:]
    if name in (".", ".."):
        name = name.replace(".", "dot")
    return name
