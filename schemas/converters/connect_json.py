"""Kafka Connect's ``org.apache.kafka.connect.json.JsonConverter``, both directions.

Properties (``key.converter.*`` / ``value.converter.*`` with the prefix removed):

- ``schemas.enable`` (default true): messages are ``{"schema": …, "payload": …}``; false: the payload alone;
- ``replace.null.with.default`` (default true): a null value of a field whose schema has a default is written (and
  read) as the default, as Connect 3.x does;
- ``decimal.format`` (``BASE64`` default, or ``NUMERIC``): how ``Decimal`` values are written.

Writing shares the schema prefix/suffix splicing of ``schemas.json_converter`` (the sources' fast path), so a record
that goes through the structured path serializes to the same bytes as one that does not. Both directions compile
one function per schema (cached), so the per-record cost is a walk over the fields that need work.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from typing import Any

import orjson

from schemas.connect import Field, Schema
from schemas.converters import logical
from schemas.converters.base import ConversionError
from schemas.json_converter import JsonConverter as FastJsonConverter
from schemas.json_converter import PreparedSchema
from schemas.record import Header

JAVA_CLASS = "org.apache.kafka.connect.json.JsonConverter"

_JSON_TO_TYPE = {"float": "float32", "double": "float64"}
_PRIMITIVES = {"boolean", "int8", "int16", "int32", "int64", "float32", "float64", "string", "bytes"}
_CACHE_LIMIT = 4096

Encoder = Callable[[Any], Any]


def parse_bool(value: str | bool, prop: str) -> bool:
    """A Connect boolean property value (``true``/``false``, any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    from cdc.errors import ConfigError

    raise ConfigError([f"{prop}: expected true or false (got {value!r})"])


# ---------------------------------------------------------------------------------------------------------------
# Schema JSON → Schema


def schema_from_json(node: Any) -> Schema | None:
    """The Connect schema a ``schema`` JSON node describes (JsonConverter.asConnectSchema); None for ``null``."""
    if node is None:
        return None
    if not isinstance(node, dict):
        raise ConversionError(f"schema must be a JSON object, got {type(node).__name__}")
    raw_type = node.get("type")
    if not isinstance(raw_type, str):
        raise ConversionError("schema must contain a 'type' field")
    typ = _JSON_TO_TYPE.get(raw_type, raw_type)
    optional = node.get("optional") is True
    fields: tuple[Field, ...] = ()
    items = keys = None
    if typ == "struct":
        raw_fields = node.get("fields")
        if not isinstance(raw_fields, list):
            raise ConversionError("struct schema's 'fields' must be an array")
        out = []
        for raw_field in raw_fields:
            if not isinstance(raw_field, dict) or not isinstance(raw_field.get("field"), str):
                raise ConversionError("struct schema's fields must be objects with a 'field' name")
            field_schema = schema_from_json(raw_field)
            assert field_schema is not None
            out.append(Field(raw_field["field"], field_schema))
        fields = tuple(out)
    elif typ == "array":
        items = schema_from_json(node.get("items"))
        if items is None:
            raise ConversionError("array schema must contain 'items'")
    elif typ == "map":
        keys, items = schema_from_json(node.get("keys")), schema_from_json(node.get("values"))
        if keys is None or items is None:
            raise ConversionError("map schema must contain 'keys' and 'values'")
    elif typ not in _PRIMITIVES:
        raise ConversionError(f"unknown schema type {raw_type!r}")
    params = node.get("parameters")
    version = node.get("version")
    doc = node.get("doc")
    name = node.get("name")
    return Schema(
        typ,
        optional,
        name if isinstance(name, str) else None,
        version if isinstance(version, int) else None,
        {str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else None,
        node.get("default"),  # kept in its JSON form, as sources put it there (see schemas.connect)
        fields,
        items,
        doc if isinstance(doc, str) else None,
        keys,
    )


# ---------------------------------------------------------------------------------------------------------------
# Connect value → JSON-native payload


def _describe(schema: Schema) -> str:
    return schema.name or schema.type


def _null_handler(schema: Schema, replace_null: bool, default_json: Any) -> Callable[[], Any]:
    if default_json is not None and replace_null:
        return lambda: default_json
    if schema.optional:
        return lambda: None

    def fail() -> Any:
        raise ConversionError(
            f"Conversion error: null value for field that is required and has no default value ({_describe(schema)})"
        )

    return fail


def compile_encoder(schema: Schema, replace_null: bool, numeric_decimals: bool = False) -> Encoder:
    """A function turning a Connect value of ``schema`` into its JSON-native payload (JsonConverter.convertToJson)."""
    encode_nonnull = _nonnull_encoder(schema, replace_null, numeric_decimals)
    default_json = None
    if schema.default is not None:
        default_json = schema.default if _is_json_form(schema, schema.default) else encode_nonnull(schema.default)
    on_null = _null_handler(schema, replace_null, default_json)

    def encode(value: Any) -> Any:
        if value is None:
            return on_null()
        return encode_nonnull(value)

    return encode


def _is_json_form(schema: Schema, value: Any) -> bool:
    """Whether a default is already in JSON form (sources store defaults the way JsonConverter renders them)."""
    if schema.name in logical.LOGICAL_NAMES or schema.type == "bytes":
        return isinstance(value, (str, int, float))
    return True


def _nonnull_encoder(schema: Schema, replace_null: bool, numeric_decimals: bool) -> Encoder:
    name = schema.name
    if name == logical.DECIMAL:
        scale = logical.decimal_scale(schema.parameters)
        if numeric_decimals:
            return partial(_numeric_decimal, scale)
        return lambda v: (
            base64.b64encode(logical.decimal_to_bytes(v, scale)).decode()
            if not isinstance(v, bytes)
            else base64.b64encode(v).decode()
        )
    if name in (logical.DATE, logical.TIME, logical.TIMESTAMP):
        params = schema.parameters
        return lambda v: logical.to_wire(name, params, v)
    typ = schema.type
    if typ == "bytes":

        def enc_bytes(v: Any) -> Any:
            if not isinstance(v, (bytes, bytearray, memoryview)):
                raise ConversionError(f"Invalid type for bytes: {type(v).__name__}")
            return binascii.b2a_base64(bytes(v), newline=False).decode("ascii")

        return enc_bytes
    if typ == "struct":
        fields = [(f.name, compile_encoder(f.schema, replace_null, numeric_decimals)) for f in schema.fields]

        def enc_struct(v: Any) -> Any:
            if not isinstance(v, dict):
                raise ConversionError(f"Invalid value for struct {_describe(schema)}: {type(v).__name__}")
            get = v.get
            return {fname: enc(get(fname)) for fname, enc in fields}

        return enc_struct
    if typ == "array":
        assert schema.items is not None
        item = compile_encoder(schema.items, replace_null, numeric_decimals)
        return lambda v: [item(x) for x in v]
    if typ == "map":
        assert schema.keys is not None and schema.items is not None
        key_enc = compile_encoder(schema.keys, replace_null, numeric_decimals)
        val_enc = compile_encoder(schema.items, replace_null, numeric_decimals)
        if schema.keys.type == "string":
            return lambda v: {key_enc(k): val_enc(x) for k, x in v.items()}
        return lambda v: [[key_enc(k), val_enc(x)] for k, x in v.items()]
    return _primitive_checker(typ)


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "int8": (int,),
    "int16": (int,),
    "int32": (int,),
    "int64": (int,),
    "float32": (float, int),
    "float64": (float, int),
    "string": (str,),
}


def _numeric_decimal(scale: int, v: Any) -> Any:
    """A Decimal as Connect's ``decimal.format=NUMERIC`` writes it: the exact number, digits as
    ``BigDecimal.toString`` gives them (Python's ``str(Decimal)`` follows the same rules), never through a float.
    Accepts the in-memory Decimal, the wire bytes, or a base64 string (a default kept in its JSON form)."""
    if type(v) is not Decimal:
        if isinstance(v, (bytes, bytearray)):
            v = logical.bytes_to_decimal(bytes(v), scale)
        elif isinstance(v, str):
            try:
                v = logical.bytes_to_decimal(binascii.a2b_base64(v, strict_mode=True), scale)
            except (binascii.Error, ValueError) as exc:
                raise ConversionError(f"Invalid bytes for Decimal field: {exc}") from None
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            v = Decimal(str(v))
        elif not isinstance(v, Decimal):
            raise ConversionError(f"Invalid type for Decimal, expected Decimal but was {type(v).__name__}")
    if not v.is_finite():
        raise ConversionError(f"Decimal {v} has no JSON number form")
    return orjson.Fragment(str(v))


def numeric_rewriter(schema: Schema) -> Encoder | None:
    """For the sources' fast path with ``decimal.format=NUMERIC``: a function turning a wire-form payload of
    ``schema`` (Decimal fields as unscaled bytes) into one whose Decimal fields are exact JSON numbers, everything
    else untouched; None when ``schema`` holds no Decimal (then nothing changes)."""
    if schema.name == logical.DECIMAL:
        scale = logical.decimal_scale(schema.parameters)
        return lambda v: v if v is None else _numeric_decimal(scale, v)
    if schema.type == "struct":
        subs = [(f.name, sub) for f in schema.fields if (sub := numeric_rewriter(f.schema)) is not None]
        if not subs:
            return None

        def rewrite_struct(v: Any) -> Any:
            if type(v) is not dict:
                return v
            out = dict(v)
            for fname, sub in subs:
                if fname in out:
                    out[fname] = sub(out[fname])
            return out

        return rewrite_struct
    if schema.type == "array" and schema.items is not None:
        item = numeric_rewriter(schema.items)
        if item is None:
            return None
        return lambda v: v if type(v) is not list else [item(x) for x in v]
    if schema.type == "map" and schema.keys is not None and schema.items is not None:
        key_sub, val_sub = numeric_rewriter(schema.keys), numeric_rewriter(schema.items)
        if key_sub is None and val_sub is None:
            return None
        keys, values = key_sub or (lambda k: k), val_sub or (lambda x: x)
        return lambda v: (
            {k: values(x) for k, x in v.items()}
            if type(v) is dict
            else [[keys(k), values(x)] for k, x in v]
            if type(v) is list
            else v
        )
    return None


def _primitive_checker(typ: str) -> Encoder:
    expected = _PY_TYPES[typ]
    if typ == "float32":
        float32_value = logical.float32_value

        def check_float32(v: Any) -> Any:
            if not isinstance(v, (float, int)) or isinstance(v, bool):
                raise ConversionError(f"Invalid type for FLOAT32: {type(v).__name__}")
            return float32_value(float(v))  # a Java Float: float32 digits, not the double's

        return check_float32

    def check(v: Any) -> Any:
        if not isinstance(v, expected):
            raise ConversionError(f"Invalid type for {typ.upper()}: {type(v).__name__}")
        return v

    return check


def schemaless_to_json(value: Any) -> Any:
    """A schemaless Connect value as JSON (bytes as base64; anything else must be JSON-native)."""
    if isinstance(value, dict):
        return {str(k): schemaless_to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [schemaless_to_json(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ConversionError(f"{type(value).__name__} does not have a corresponding schemaless JSON type")


# ---------------------------------------------------------------------------------------------------------------
# JSON payload → Connect value


class _InexactNumber(Exception):
    """A Decimal field holds a JSON number with a fraction, which orjson read as a float: ``to_connect`` parses the
    payload again with exact decimals (as Connect's USE_BIG_DECIMAL_FOR_FLOATS reader does) and decodes that."""


def _exact_json(data: bytes | memoryview) -> Any:
    """JSON with every non-integer number as an exact Decimal (the slow path of ``decimal.format=NUMERIC``)."""
    try:
        return json.loads(bytes(data), parse_float=Decimal)
    except ValueError as exc:
        raise ConversionError(
            f"Converting byte[] to Kafka Connect data failed due to serialization error: {exc}"
        ) from None


def compile_decoder(schema: Schema, replace_null: bool) -> Encoder:
    """A function turning a JSON payload of ``schema`` into the Connect value (JsonConverter.convertToConnect)."""
    decode_nonnull = _nonnull_decoder(schema, replace_null)
    default_value = None
    if schema.default is not None:
        try:
            default_value = decode_nonnull(schema.default)
        except _InexactNumber:  # a NUMERIC Decimal default, parsed with the schema as a float
            default_value = decode_nonnull(Decimal(repr(schema.default)))
    on_null = _null_handler(schema, replace_null, default_value)

    def decode(value: Any) -> Any:
        if value is None:
            return on_null()
        return decode_nonnull(value)

    return decode


def _nonnull_decoder(schema: Schema, replace_null: bool) -> Encoder:
    name = schema.name
    if name == logical.DECIMAL:
        scale = logical.decimal_scale(schema.parameters)
        a2b_base64, int_from_bytes, exact = binascii.a2b_base64, int.from_bytes, logical.EXACT

        def dec_decimal(v: Any) -> Any:
            if type(v) is str:
                try:
                    raw = a2b_base64(v, strict_mode=True)
                except (binascii.Error, ValueError) as exc:
                    raise ConversionError(f"Invalid bytes for Decimal field: {exc}") from None
                return Decimal(int_from_bytes(raw, "big", signed=True)).scaleb(-scale, exact)
            if type(v) is float:
                raise _InexactNumber  # decimal.format=NUMERIC: read the exact digits, never through a float
            if isinstance(v, (int, Decimal)) and not isinstance(v, bool):
                return logical.from_wire(logical.DECIMAL, None, v)
            raise ConversionError(f"Invalid type for Decimal: {type(v).__name__}")

        return dec_decimal
    if name in (logical.DATE, logical.TIME, logical.TIMESTAMP):
        params = schema.parameters

        def dec_time(v: Any) -> Any:
            if not isinstance(v, int) or isinstance(v, bool):
                raise ConversionError(f"Invalid type for {name}: {type(v).__name__}")
            return logical.from_wire(name, params, v)

        return dec_time
    typ = schema.type
    if typ == "bytes":

        def dec_bytes(v: Any) -> Any:
            if not isinstance(v, str):
                raise ConversionError(f"Invalid type for bytes: {type(v).__name__}")
            try:
                return base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ConversionError(f"Invalid base64 bytes value: {exc}") from None

        return dec_bytes
    if typ == "struct":
        return _generate_struct_decoder(schema, replace_null)
    if typ == "array":
        assert schema.items is not None
        item = compile_decoder(schema.items, replace_null)

        def dec_array(v: Any) -> Any:
            if not isinstance(v, list):
                raise ConversionError(f"Invalid value for array: {type(v).__name__}")
            return [item(x) for x in v]

        return dec_array
    if typ == "map":
        assert schema.keys is not None and schema.items is not None
        key_dec = compile_decoder(schema.keys, replace_null)
        val_dec = compile_decoder(schema.items, replace_null)

        def dec_map(v: Any) -> Any:
            if isinstance(v, dict):
                return {key_dec(k): val_dec(x) for k, x in v.items()}
            if isinstance(v, list):
                return {key_dec(pair[0]): val_dec(pair[1]) for pair in v}
            raise ConversionError(f"Invalid value for map: {type(v).__name__}")

        return dec_map
    expected = _PY_TYPES[typ]

    def dec_primitive(v: Any) -> Any:
        if type(v) is Decimal and typ in ("float32", "float64"):
            return float(v)  # the payload was parsed again exactly for a NUMERIC Decimal elsewhere in it
        if not isinstance(v, expected) or (typ != "boolean" and isinstance(v, bool)):
            raise ConversionError(f"Invalid type for {typ.upper()}: {type(v).__name__}")
        return float(v) if typ in ("float32", "float64") else v  # type: ignore[arg-type]

    return dec_primitive


_EXACT_TYPES: dict[str, type] = {
    "boolean": bool,
    "int8": int,
    "int16": int,
    "int32": int,
    "int64": int,
    "float32": float,
    "float64": float,
    "string": str,
}


def _plain_field_types(schema: Schema, replace_null: bool) -> tuple[frozenset[type], ...] | None:
    """Per field, the exact Python types its JSON value may have without any conversion (a bool is not an int
    here, an int is not a float); None if some field always needs a conversion."""
    out = []
    for f in schema.fields:
        fs = f.schema
        exact = _EXACT_TYPES.get(fs.type)
        if exact is None or fs.name in logical.LOGICAL_NAMES:
            return None
        nullable = fs.optional and (fs.default is None or not replace_null)
        out.append(frozenset({exact, type(None)}) if nullable else frozenset({exact}))
    return tuple(out)


def _generate_struct_decoder(schema: Schema, replace_null: bool) -> Encoder:
    """A struct decoder as straight-line generated code: one local per field, an exact-type check on the common
    path and the full per-field decoder only for nulls, logical types and unexpected types (about 3x faster than a
    loop over per-field closures, which matters at the sink's per-record cost)."""
    namespace: dict[str, Any] = {"ConversionError": ConversionError, "describe": _describe(schema)}
    lines = ["def dec_struct(v):"]
    plain_types = _plain_field_types(schema, replace_null)
    if plain_types is not None:
        # Every field is a JSON-native primitive: when the object has exactly the schema's keys, in order, with
        # values of exactly the right types (checked in C: map over type()), it already is the Connect value.
        namespace["NAMES"] = tuple(f.name for f in schema.fields)
        namespace["TYPES"] = plain_types
        namespace["member"] = frozenset.__contains__
        lines.append("    if type(v) is dict and tuple(v) == NAMES and all(map(member, TYPES, map(type, v.values()))):")
        lines.append("        return v")
    lines.append("    if type(v) is not dict:")
    lines.append("        raise ConversionError(f'Invalid value for struct {describe}: {type(v).__name__}')")
    lines.append("    g = v.get")
    for i, f in enumerate(schema.fields):
        fs = f.schema
        full = compile_decoder(fs, replace_null)
        namespace[f"full{i}"] = full
        exact = _EXACT_TYPES.get(fs.type)
        plain = exact is not None and fs.name not in logical.LOGICAL_NAMES
        if plain:
            namespace[f"T{i}"] = exact
            lines.append(f"    x{i} = g({f.name!r})")
            if fs.optional and (fs.default is None or not replace_null):
                lines.append(f"    if x{i} is not None and type(x{i}) is not T{i}: x{i} = full{i}(x{i})")
            else:
                lines.append(f"    if x{i} is None or type(x{i}) is not T{i}: x{i} = full{i}(x{i})")
        elif fs.optional and (fs.default is None or not replace_null):
            namespace[f"nn{i}"] = _nonnull_decoder(fs, replace_null)
            lines.append(f"    x{i} = g({f.name!r})")
            lines.append(f"    if x{i} is not None: x{i} = nn{i}(x{i})")
        else:
            lines.append(f"    x{i} = full{i}(g({f.name!r}))")
    items = ", ".join(f"{f.name!r}: x{i}" for i, f in enumerate(schema.fields))
    lines.append(f"    return {{{items}}}")
    exec("\n".join(lines), namespace)
    decoder: Encoder = namespace["dec_struct"]
    return decoder


# ---------------------------------------------------------------------------------------------------------------


class JsonConverter:
    """The ``Converter`` for Connect JSON (see the module docstring for its properties)."""

    java_class = JAVA_CLASS

    def __init__(self) -> None:
        self.schemas_enable = True
        self.replace_null_with_default = True
        self.numeric_decimals = False
        self._fast = FastJsonConverter(True)
        # Caches keyed by the schema object's identity (schemas are built once per table version by sources,
        # once per distinct schema JSON by to_connect), holding the schema itself so the id stays valid.
        self._encoders: dict[int, tuple[Schema, Encoder, PreparedSchema]] = {}
        # Keyed by the exact schema bytes of incoming messages: the compiled schema and payload decoder.
        self._decoders: dict[bytes, tuple[Schema | None, Encoder | None]] = {}
        # The last schema prefix seen: (b'{"schema":<S>,"payload":', its length, schema, payload decoder).
        self._last: tuple[bytes, int, Schema | None, Encoder | None] | None = None

    def configure(self, properties: Mapping[str, str], is_key: bool) -> None:
        """Read ``schemas.enable``, ``replace.null.with.default`` and ``decimal.format``; called once."""
        self.schemas_enable = parse_bool(properties.get("schemas.enable", "true"), "schemas.enable")
        self.replace_null_with_default = parse_bool(
            properties.get("replace.null.with.default", "true"), "replace.null.with.default"
        )
        fmt = str(properties.get("decimal.format", "BASE64")).upper()
        if fmt not in ("BASE64", "NUMERIC"):
            from cdc.errors import ConfigError

            raise ConfigError([f"decimal.format: expected BASE64 or NUMERIC (got {fmt!r})"])
        self.numeric_decimals = fmt == "NUMERIC"
        self._fast = FastJsonConverter(self.schemas_enable)

    # -- Connect → bytes ----------------------------------------------------------------------------------------

    def from_connect(self, topic: str, schema: Schema | None, value: Any, headers: list[Header]) -> bytes | None:
        """Serialize; a null value without a schema stays ``None`` (a tombstone), as Connect's JsonConverter does."""
        if value is None and schema is None:
            return None
        if schema is None:
            payload = schemaless_to_json(value)
            prepared = self._fast.prepare(None)
        else:
            entry = self._encoders.get(id(schema))
            if entry is None or entry[0] is not schema:
                if len(self._encoders) > _CACHE_LIMIT:
                    self._encoders.clear()
                entry = (
                    schema,
                    compile_encoder(schema, self.replace_null_with_default, self.numeric_decimals),
                    self._fast.prepare(schema),
                )
                self._encoders[id(schema)] = entry
            payload = entry[1](value)
            prepared = entry[2]
        try:
            return FastJsonConverter.serialize(prepared, payload)
        except TypeError as exc:
            raise ConversionError(f"cannot serialize value as JSON: {exc}") from None

    # -- bytes → Connect ----------------------------------------------------------------------------------------

    def to_connect(self, topic: str, data: bytes | None, headers: list[Header]) -> tuple[Schema | None, Any]:
        """Deserialize; ``ConversionError`` for bytes that are not JSON or do not match their schema."""
        last = self._last
        if last is not None and data is not None and data.startswith(last[0]) and data[-1] == 0x7D:
            # The common case inline (this runs once per key and once per value): see _parse.
            payload_bytes = data[last[1] : -1]
            try:
                payload = orjson.loads(payload_bytes)
            except orjson.JSONDecodeError:
                pass  # the general path below reports it
            else:
                decode = last[3]
                if decode is None:
                    return last[2], payload
                try:
                    return last[2], decode(payload)
                except _InexactNumber:
                    return last[2], decode(_exact_json(payload_bytes))
        if data is None:
            return None, None
        schema, decode, payload, payload_bytes = self._parse(data)
        if decode is None:
            return schema, payload
        try:
            return schema, decode(payload)
        except _InexactNumber:
            exact = _exact_json(payload_bytes)
            return schema, decode(exact["payload"] if payload_bytes is data else exact)

    def to_wire(self, topic: str, data: bytes | None, headers: list[Header]) -> tuple[Schema | None, Any]:
        """``to_connect`` without the decoding step: (schema, the payload as parsed). Called by the sink runtime for
        tasks that take ``WireRecord``s; ``ConversionError`` for bytes that are not a JSON message of this
        converter (a payload that does not match its schema is found later, by ``WireRecord.decoded``)."""
        last = self._last
        if last is not None and data is not None and data.startswith(last[0]) and data[-1] == 0x7D:
            # The common case inline (this runs once per key and once per value): see _parse.
            try:
                return last[2], orjson.loads(data[last[1] : -1])
            except orjson.JSONDecodeError:
                pass  # the general path below reports it
        if data is None:
            return None, None
        schema, _, payload, _ = self._parse(data)
        return schema, payload

    def wire_field(self, schema: Schema) -> tuple[type | None, bool, Encoder]:
        """How a sink's fast path turns one struct field's wire value into its Connect value, as ``to_connect``'s
        struct decoder does: (the exact Python type a value already is its Connect value in, or None; whether a
        null stays null; the full decoder, for nulls that do not and every other value). Called once per field
        when a task compiles its plan for a schema."""
        exact = _EXACT_TYPES.get(schema.type)
        plain = exact if exact is not None and schema.name not in logical.LOGICAL_NAMES else None
        keeps_null = schema.optional and (schema.default is None or not self.replace_null_with_default)
        return plain, keeps_null, compile_decoder(schema, self.replace_null_with_default)

    def _parse(self, data: bytes) -> tuple[Schema | None, Encoder | None, Any, bytes]:
        """(schema, its payload decoder or None, the payload as parsed, the bytes the payload was parsed from: the
        payload alone, or the whole message)."""
        if self.schemas_enable and data.startswith(b'{"schema":'):
            # Known schema bytes: parse only the payload (the schema is most of a Debezium message). The callers
            # have already tried the last prefix seen (``_last``); remember this one for the messages after it.
            end = data.find(b',"payload":', 10)
            cached = self._decoders.get(data[10:end]) if end > 0 else None
            if cached is not None:
                self._last = (data[: end + 11], end + 11, cached[0], cached[1])
            if cached is not None and data[-1] == 0x7D:  # ends with "}" (no trailing whitespace)
                # A copy of the payload's bytes: orjson reads bytes faster than a memoryview slice of them.
                payload_bytes = data[end + 11 : -1]
                try:
                    payload = orjson.loads(payload_bytes)
                except orjson.JSONDecodeError:
                    pass  # not exactly {"schema":…,"payload":…}: the full parse below reports it
                else:
                    return cached[0], cached[1], payload, payload_bytes
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ConversionError(
                f"Converting byte[] to Kafka Connect data failed due to serialization error: {exc}"
            ) from None
        if not self.schemas_enable:
            return None, None, doc, data
        if not isinstance(doc, dict) or len(doc) != 2 or "schema" not in doc or "payload" not in doc:
            raise ConversionError(
                'JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain '
                "additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in "
                "your converter configuration."
            )
        schema, decode = self._decoder_for(data, doc["schema"])
        return schema, decode, doc["payload"], data

    def _decoder_for(self, data: bytes, schema_node: Any) -> tuple[Schema | None, Encoder | None]:
        # The cache key is the schema's own bytes. A message written as {"schema":<S>,"payload":…} has <S> between
        # the first 10 bytes and the first ',"payload":'; that split is trusted only when <S> parses on its own
        # to the very schema we just read: a complete JSON value cannot be the prefix of a different one.
        key: bytes | None = None
        if data.startswith(b'{"schema":'):
            end = data.find(b',"payload":', 10)
            if end > 0:
                key = data[10:end]
                cached = self._decoders.get(key)
                if cached is not None:
                    return cached
        schema = schema_from_json(schema_node)
        entry = (schema, None if schema is None else compile_decoder(schema, self.replace_null_with_default))
        if key is not None:
            try:
                trusted = orjson.loads(key) == schema_node
            except orjson.JSONDecodeError:
                trusted = False
            if trusted:
                if len(self._decoders) > _CACHE_LIMIT:
                    self._decoders.clear()
                self._decoders[key] = entry
        return entry
