"""Sink records → row changes: what to do to which table, with which columns and key.

Accepts what Debezium's JDBC sink accepts:

- Debezium change events as they are (value schema with ``before``/``after``/``op``): ``c``/``r``/``u`` write the
  ``after`` row, ``d`` deletes by key (when ``delete.enabled``), ``t`` truncates (when ``truncate.enabled``);
- flat records (``ExtractNewRecordState`` output or any struct value): the value is the row;
- tombstones (null value): delete by key when ``delete.enabled``, else skipped.

A :class:`RowPlan` is compiled once per (key schema, row schema) pair: column names, their schemas, the value
conversions they need and where the primary key comes from, so per record only a tuple is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from schemas.connect import Field, Schema
from schemas.converters.base import ConversionError
from schemas.record import ConnectRecord, WireRecord
from sinks.jdbc.config import JdbcSinkConfig
from sinks.jdbc.types import Convert, value_converter

Op = Literal["upsert", "delete", "truncate"]

KAFKA_PK = (
    Field("__connect_topic", Schema("string")),
    Field("__connect_partition", Schema("int32")),
    Field("__connect_offset", Schema("int64")),
)


@dataclass(frozen=True, slots=True)
class RowPlan:
    """How one row shape maps to columns. ``sources[i]`` says where column i comes from: ``("v", field)`` the
    row, ``("k", field)`` the key struct, ``("K", None)`` a primitive key, ``("t"|"p"|"o", None)`` Kafka coords."""

    columns: tuple[str, ...]
    schemas: tuple[Schema, ...]
    converters: tuple[Convert | None, ...]
    sources: tuple[tuple[str, str | None], ...]
    pk: tuple[str, ...]
    pk_index: tuple[int, ...]
    # (row, key, record) → the column values; generated per plan (see _generate_extract).
    extract: Any = None


def _extract_head(sources: tuple[tuple[str, str | None], ...]) -> list[str]:
    """The first lines of a generated ``extract(row, key, record)``: the getters its column lines use."""
    lines = ["def extract(row, key, record):", "    g = row.get"]
    if any(kind == "k" for kind, _ in sources):
        lines += ["    if type(key) is not dict:", "        raise TypeError('primary.key.mode=record_key needs a key')"]
        lines.append("    kg = key.get")
    return lines


def _source_expr(kind: str, name: str | None) -> str:
    """The expression reading one column from where ``RowPlan.sources`` says it comes from."""
    return {
        "v": f"g({name!r})",
        "k": f"kg({name!r})",
        "K": "key",
        "t": "record.original_topic or record.topic",
        "p": "record.partition",
        "o": "record.kafka_offset",
    }[kind]


def _generate_extract(sources: tuple[tuple[str, str | None], ...], converters: tuple[Convert | None, ...]) -> Any:
    """Straight-line code building one row's value tuple: one local per column, converters only where needed."""
    namespace: dict[str, Any] = {}
    lines = _extract_head(sources)
    for i, ((kind, name), convert) in enumerate(zip(sources, converters, strict=True)):
        lines.append(f"    x{i} = {_source_expr(kind, name)}")
        if convert is not None:
            namespace[f"c{i}"] = convert
            lines.append(f"    if x{i} is not None: x{i} = c{i}(x{i})")
    lines.append(f"    return ({''.join(f'x{i}, ' for i in range(len(sources)))})")
    exec("\n".join(lines), namespace)
    return namespace["extract"]


class WireFields(Protocol):
    """What the wire fast path needs of a converter (``JsonConverter.wire_field``)."""

    def wire_field(self, schema: Schema) -> tuple[type | None, bool, Callable[[Any], Any]]: ...


def _generate_wire_extract(
    plan: RowPlan, key_fields: WireFields | None, value_fields: WireFields
) -> Callable[[Any, Any, ConnectRecord], tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """Like ``_generate_extract``, for a ``WireRecord``: each column's wire value is first turned into its Connect
    value exactly as the converter's struct decoder would (an exact-type check for plain values, the converter's
    field decoder otherwise), then into what the driver binds. Returns (row tuple, primary-key tuple). Any failure
    (a value the decoder rejects, a Decimal that needs the exact re-parse …) raises; the caller then takes the
    general path with the record's ``decoded()`` form, which reports it as the converter would."""
    namespace: dict[str, Any] = {}
    lines = _extract_head(plan.sources)
    for i, ((kind, name), schema, convert) in enumerate(zip(plan.sources, plan.schemas, plan.converters, strict=True)):
        lines.append(f"    x{i} = {_source_expr(kind, name)}")
        if convert is not None:
            namespace[f"c{i}"] = convert
        if kind in ("v", "k", "K"):
            fields = value_fields if kind == "v" else key_fields
            if fields is None:
                raise ConversionError("no wire decoder for the record key")
            plain, keeps_null, full = fields.wire_field(schema)
            namespace[f"f{i}"] = full
            if plain is not None:
                namespace[f"T{i}"] = plain
            if plain is None:
                decode = f"x{i} = f{i}(x{i})"  # the converter's decoder handles nulls (default or error) too
            elif keeps_null:
                decode = f"if type(x{i}) is not T{i}: x{i} = f{i}(x{i})"
            else:
                decode = f"if x{i} is None or type(x{i}) is not T{i}: x{i} = f{i}(x{i})"
            if keeps_null:  # a null stays null: nothing to decode or convert
                lines += [f"    if x{i} is not None:", f"        {decode}"]
                if convert is not None:
                    lines.append(f"        x{i} = c{i}(x{i})")
                continue
            lines.append(f"    {decode}")
        if convert is not None:
            lines.append(f"    if x{i} is not None: x{i} = c{i}(x{i})")
    columns = "".join(f"x{i}, " for i in range(len(plan.sources)))
    pk = "".join(f"x{i}, " for i in plan.pk_index)
    lines.append(f"    return ({columns}), ({pk})")
    exec("\n".join(lines), namespace)
    return cast(Callable[[Any, Any, ConnectRecord], tuple[tuple[Any, ...], tuple[Any, ...]]], namespace["extract"])


def _generate_wire_check(
    key_schema: Schema | None, value_schema: Schema, key_fields: WireFields | None, value_fields: WireFields
) -> Callable[[dict[str, Any], Any], None]:
    """``check(value, key)``: decodes, and drops, what the row tuple does not use (the whole key and every envelope
    field but ``after``), so a record whose key or envelope does not match its schema raises and takes the general
    path, which reports it as the converter would have (the runtime's own path decodes everything)."""
    namespace: dict[str, Any] = {}
    lines = ["def check(value, key):", "    g = value.get"]
    if key_schema is not None:
        if key_fields is None:
            raise ConversionError("no wire decoder for the record key")
        namespace["k"] = key_fields.wire_field(key_schema)[2]
        lines.append("    k(key)")
    for i, field in enumerate(value_schema.fields):
        if field.name != "after":
            namespace[f"d{i}"] = value_fields.wire_field(field.schema)[2]
            lines.append(f"    d{i}(g({field.name!r}))")
    exec("\n".join(lines), namespace)
    return cast(Callable[[dict[str, Any], Any], None], namespace["check"])


@dataclass(slots=True)
class Change:
    """One thing to do to a table; ``key`` holds the primary-key values (empty without a key)."""

    table: str
    op: Op
    record: ConnectRecord
    plan: RowPlan | None = None
    values: tuple[Any, ...] = ()
    key: tuple[Any, ...] = ()


# A route's fast path: (table, row plan, primary-key values of a row tuple); see ChangeMapper._routes.
_Route = tuple[str, RowPlan, Callable[[tuple[Any, ...]], tuple[Any, ...]]]

# A WireRecord route's fast path: (table, row plan, generated (row, key, record) → (row tuple, key tuple),
# generated check of the rest of the key and value).
_WireRoute = tuple[
    str,
    RowPlan,
    Callable[[Any, Any, ConnectRecord], tuple[tuple[Any, ...], tuple[Any, ...]]],
    Callable[[dict[str, Any], Any], None],
]

_ENVELOPE_SCHEMAS: dict[int, tuple[Schema, bool]] = {}


def is_envelope(schema: Schema | None, value: Any) -> bool:
    """A Debezium change event: a struct with before/after/op (the ``…Envelope`` schema)."""
    if schema is not None:
        cached = _ENVELOPE_SCHEMAS.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        answer = schema.type == "struct" and {"before", "after", "op"} <= {f.name for f in schema.fields}
        if len(_ENVELOPE_SCHEMAS) > 1024:
            _ENVELOPE_SCHEMAS.clear()
        _ENVELOPE_SCHEMAS[id(schema)] = (schema, answer)
        return answer
    return isinstance(value, dict) and {"before", "after", "op"} <= value.keys()


class ChangeMapper:
    """Turns records into changes for one connector's configuration (``family``: postgresql or mysql)."""

    def __init__(self, config: JdbcSinkConfig, family: str) -> None:
        self.config = config
        self.family = family
        self.pk_mode = config.primary_key_mode
        self.pk_fields = config.pk_fields()
        self._plans: dict[tuple[int, int], tuple[Schema | None, Schema, RowPlan]] = {}
        self._tables: dict[tuple[str, str, str, str], str] = {}
        self._last_table: dict[str, str] = {}
        self._tables_by_topic: dict[str, str] = {}
        # The common case resolved once per (topic, key schema, value schema): a Debezium envelope whose table name
        # does not depend on the source block. Value: (key schema, value schema, fast path or None), the fast path
        # being (table, plan of the 'after' row, function giving the primary-key values of a row tuple).
        self._routes: dict[tuple[str, int, int], tuple[Schema | None, Schema | None, _Route | None]] = {}
        # The same for WireRecords (key and value still in the converter's wire form, see schemas.record).
        self._wire_routes: dict[tuple[str, int, int], tuple[Schema | None, Schema | None, _WireRoute | None]] = {}

    # -- table names ----------------------------------------------------------------------------------------------

    def table_name(self, record: ConnectRecord, source: dict[str, Any] | None) -> str:
        """``table.name.format`` with ``${topic}`` and ``${source.*}`` replaced, dots turned into underscores."""
        fmt = self.config.table_name_format
        if "${source." not in fmt:
            simple = self._tables_by_topic.get(record.topic)
            if simple is None:
                simple = self._tables_by_topic[record.topic] = fmt.replace("${topic}", record.topic).replace(".", "_")
            return simple
        src = source or {}
        cache_key = (record.topic, str(src.get("db")), str(src.get("schema")), str(src.get("table")))
        name = self._tables.get(cache_key)
        if name is None:
            name = fmt.replace("${topic}", record.topic)
            for part in ("db", "schema", "table"):
                placeholder = "${source." + part + "}"
                if placeholder in name:
                    if src.get(part) is None:
                        raise ConversionError(
                            f"table.name.format uses {placeholder} but the record has no source.{part}"
                        )
                    name = name.replace(placeholder, str(src[part]))
            name = name.replace(".", "_")
            self._tables[cache_key] = name
        return name

    # -- records --------------------------------------------------------------------------------------------------

    def change(self, record: ConnectRecord) -> Change | None:
        """The change ``record`` asks for, or None when it is to be skipped (e.g. a delete with
        ``delete.enabled=false``). ``ConversionError`` for a record this sink cannot write."""
        if type(record) is WireRecord:
            return self._wire_change(record)
        value = record.value
        # Fast path: a create/read/update event of a (topic, schemas) route seen before. Same result as _change.
        key_schema, value_schema = record.key_schema, record.value_schema
        entry = self._routes.get((record.topic, id(key_schema), id(value_schema)))
        if entry is None or entry[0] is not key_schema or entry[1] is not value_schema:
            entry = self._learn_route(record)
        route = entry[2]
        row = _row_to_write(value) if route is not None else None
        if row is not None:
            assert route is not None
            table, plan, pk_of = route
            try:
                out = plan.extract(row, record.key, record)
            except (ValueError, TypeError, KeyError, OverflowError, AttributeError) as exc:
                raise ConversionError(
                    f"cannot convert the row for table {table}: {type(exc).__name__}: {exc}"
                ) from None
            pk = pk_of(out)
            if None in pk:
                raise ConversionError(f"primary key column(s) {', '.join(plan.pk)} must not be null")
            return Change(table, "upsert", record, plan, out, pk)
        return self._change(record)

    def _wire_change(self, record: WireRecord) -> Change | None:
        """``change`` for a ``WireRecord``: a create/read/update event of a known route straight from the wire
        form to the row tuple (the rest of the key and value is only checked against its schema, never built);
        anything else, or any failure, through the general path with the decoded record (``WireDecodeError`` if its
        bytes do not decode)."""
        key_schema, value_schema = record.key_schema, record.value_schema
        entry = self._wire_routes.get((record.topic, id(key_schema), id(value_schema)))
        if entry is None or entry[0] is not key_schema or entry[1] is not value_schema:
            entry = self._learn_wire_route(record)
        route = entry[2]
        row = _row_to_write(record.value) if route is not None else None
        if row is not None:
            assert route is not None
            table, plan, extract, check = route
            try:
                check(record.value, record.key)
                out, pk = extract(row, record.key, record)
            except Exception:  # noqa: BLE001 - the general path below decodes the record and reports precisely
                pass
            else:
                if None not in pk:
                    return Change(table, "upsert", record, plan, out, pk)
        return self.change(record.decoded())

    def _learn_wire_route(self, record: WireRecord) -> tuple[Schema | None, Schema | None, _WireRoute | None]:
        """The fast path of a WireRecord's route, from the same plan as ``_learn_route`` (see ``_wire_routes``)."""
        key_schema, value_schema = record.key_schema, record.value_schema
        route: _WireRoute | None = None
        plain = self._learn_route(record)[2]
        key_fields, value_fields = _wire_fields(record.key_decoder), _wire_fields(record.value_decoder)
        if plain is not None and value_fields is not None:
            table, plan, _ = plain
            assert value_schema is not None  # a route exists only for envelopes with a schema
            try:
                route = (
                    table,
                    plan,
                    _generate_wire_extract(plan, key_fields, value_fields),
                    _generate_wire_check(key_schema, value_schema, key_fields, value_fields),
                )
            except ConversionError:
                route = None  # e.g. a key column without a wire decoder: the general path, record by record
        if len(self._wire_routes) > 1024:
            self._wire_routes.clear()
        entry = (key_schema, value_schema, route)
        self._wire_routes[(record.topic, id(key_schema), id(value_schema))] = entry
        return entry

    def _learn_route(self, record: ConnectRecord) -> tuple[Schema | None, Schema | None, _Route | None]:
        """Find and remember the fast path of ``record``'s route, if it has one (see ``_routes``)."""
        key_schema, value_schema = record.key_schema, record.value_schema
        route: _Route | None = None
        if (
            "${source." not in self.config.table_name_format
            and value_schema is not None
            and is_envelope(value_schema, record.value)
        ):
            row_schema = _field_schema(value_schema, "after")
            if row_schema is not None and row_schema.type == "struct":
                try:
                    plan = self._plan(key_schema, row_schema)
                except ConversionError:
                    plan = None  # reported by the general path, record by record
                if plan is not None:
                    pk_index = plan.pk_index
                    route = (self.table_name(record, None), plan, lambda out: tuple([out[i] for i in pk_index]))
        if len(self._routes) > 1024:
            self._routes.clear()
        entry = (key_schema, value_schema, route)
        self._routes[(record.topic, id(key_schema), id(value_schema))] = entry
        return entry

    def _change(self, record: ConnectRecord) -> Change | None:
        """``change`` for any record (the general path)."""
        value = record.value
        if value is None:  # tombstone
            if not self.config.delete_enabled:
                return None
            if "${source." in self.config.table_name_format:
                # A tombstone has no source block; it follows the delete event of the same key, which named the
                # table, so the table of that topic's last event is the one.
                table = self._last_table.get(record.topic)
                return None if table is None else self._delete(record, table)
            return self._delete(record, self.table_name(record, None))
        if is_envelope(record.value_schema, value):
            op = value.get("op")
            source = value.get("source") if isinstance(value.get("source"), dict) else None
            table = self.table_name(record, source)
            self._last_table[record.topic] = table
            if op in ("c", "r", "u"):
                row_schema = _field_schema(record.value_schema, "after")
                return self._upsert(record, table, row_schema, value.get("after"))
            if op == "d":
                return self._delete(record, table) if self.config.delete_enabled else None
            if op == "t":
                return Change(table, "truncate", record) if self.config.truncate_enabled else None
            if op == "m":  # logical decoding messages carry no row
                return None
            raise ConversionError(f"unknown op {op!r} in change event")
        return self._upsert(record, self.table_name(record, None), record.value_schema, value)

    def _upsert(self, record: ConnectRecord, table: str, row_schema: Schema | None, row: Any) -> Change:
        if row_schema is None or row_schema.type != "struct":
            raise ConversionError(
                "the JDBC sink needs struct values with a schema (JsonConverter with schemas.enable=true, or Avro)"
            )
        if not isinstance(row, dict):
            raise ConversionError("change event without a row to write (null 'after')")
        plan = self._plan(record.key_schema, row_schema)
        try:
            out = plan.extract(row, record.key, record)
        except (ValueError, TypeError, KeyError, OverflowError, AttributeError) as exc:
            raise ConversionError(f"cannot convert the row for table {table}: {type(exc).__name__}: {exc}") from None
        pk = tuple(out[i] for i in plan.pk_index)
        if any(v is None for v in pk):
            raise ConversionError(f"primary key column(s) {', '.join(plan.pk)} must not be null")
        return Change(table, "upsert", record, plan, out, pk)

    def _delete(self, record: ConnectRecord, table: str) -> Change:
        key_schema, key = record.key_schema, record.key
        if key is None:
            raise ConversionError("a delete needs the record key (primary.key.mode=record_key)")
        fields = self._key_fields(key_schema)
        if key_schema is not None and key_schema.type == "struct":
            assert isinstance(key, dict)
            values = []
            for f in fields:
                convert = value_converter(f.schema, self.family)
                v = key.get(f.name)
                values.append(convert(v) if v is not None and convert is not None else v)
            pk_values = tuple(values)
        else:
            pk_values = (key,)
        plan = RowPlan(
            tuple(f.name for f in fields),
            tuple(f.schema for f in fields),
            tuple(None for _ in fields),
            tuple(("k", f.name) for f in fields),
            tuple(f.name for f in fields),
            tuple(range(len(fields))),
        )
        return Change(table, "delete", record, plan, pk_values, pk_values)

    # -- plans ------------------------------------------------------------------------------------------------------

    def _key_fields(self, key_schema: Schema | None) -> list[Field]:
        if key_schema is None:
            raise ConversionError("primary.key.mode=record_key needs records with a key schema")
        if key_schema.type == "struct":
            fields = list(key_schema.fields)
            if self.pk_fields:
                wanted = set(self.pk_fields)
                fields = [f for f in fields if f.name in wanted]
                if len(fields) != len(wanted):
                    raise ConversionError(f"primary.key.fields {self.pk_fields} are not all in the record key")
            return fields
        if len(self.pk_fields) != 1:
            raise ConversionError("a primitive record key needs exactly one column name in primary.key.fields")
        return [Field(self.pk_fields[0], key_schema.with_optional(False))]

    def _plan(self, key_schema: Schema | None, row_schema: Schema) -> RowPlan:
        cache_key = (id(key_schema), id(row_schema))
        cached = self._plans.get(cache_key)
        if cached is not None and cached[0] is key_schema and cached[1] is row_schema:
            return cached[2]
        fields: list[tuple[str, Schema, tuple[str, str | None]]] = [
            (f.name, f.schema, ("v", f.name)) for f in row_schema.fields
        ]
        pk: list[str] = []
        if self.pk_mode == "kafka":
            for f, kind in zip(KAFKA_PK, ("t", "p", "o"), strict=True):
                fields.append((f.name, f.schema, (kind, None)))
            pk = [f.name for f in KAFKA_PK]
        elif self.pk_mode == "record_key":
            key_fields = self._key_fields(key_schema)
            present = {name for name, _, _ in fields}
            primitive = key_schema is not None and key_schema.type != "struct"
            for f in key_fields:
                if f.name not in present:
                    fields.append((f.name, f.schema, ("K", None) if primitive else ("k", f.name)))
            pk = [f.name for f in key_fields]
        elif self.pk_mode == "record_value":
            names = [name for name, _, _ in fields]
            pk = self.pk_fields or names
            missing = [p for p in pk if p not in names]
            if missing:
                raise ConversionError(f"primary.key.fields {missing} are not fields of the record value")
        columns = tuple(name for name, _, _ in fields)
        converters = tuple(value_converter(schema, self.family) for _, schema, _ in fields)
        sources = tuple(source for _, _, source in fields)
        plan = RowPlan(
            columns,
            tuple(schema for _, schema, _ in fields),
            converters,
            sources,
            tuple(pk),
            tuple(columns.index(p) for p in pk),
            _generate_extract(sources, converters),
        )
        if len(self._plans) > 1024:
            self._plans.clear()
        self._plans[cache_key] = (key_schema, row_schema, plan)
        return plan


def _wire_fields(decoder: object) -> WireFields | None:
    """``decoder`` (a WireRecord's converter) if it can say how to decode its wire values field by field."""
    return cast(WireFields, decoder) if hasattr(decoder, "wire_field") else None


def _row_to_write(value: Any) -> dict[str, Any] | None:
    """The ``after`` row of a create/read/update event (a dict value), else None: what the fast paths take."""
    if type(value) is dict:
        op = value.get("op")
        if op == "c" or op == "r" or op == "u":
            row = value.get("after")
            if type(row) is dict:
                return row
    return None


_FIELD_SCHEMAS: dict[tuple[int, str], tuple[Schema, Schema | None]] = {}


def _field_schema(schema: Schema | None, name: str) -> Schema | None:
    if schema is None:
        return None
    cached = _FIELD_SCHEMAS.get((id(schema), name))
    if cached is not None and cached[0] is schema:
        return cached[1]
    found = next((f.schema for f in schema.fields if f.name == name), None)
    if len(_FIELD_SCHEMAS) > 1024:
        _FIELD_SCHEMAS.clear()
    _FIELD_SCHEMAS[(id(schema), name)] = (schema, found)
    return found
