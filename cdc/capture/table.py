"""Captured tables: per table version, everything the hot path needs, computed once (connector-neutral).

A :class:`CapturedTable` holds the topic, kept column names, one converter per column, the primary-key names, the
key/value Connect schemas and their serializers from the worker's converters, and two functions generated for the
table version: ``row`` (connector values → Connect row struct) and ``key`` (row → key struct). Connectors build
them with :class:`TableBuilder` from neutral :class:`~cdc.capture.columns.ColumnDescriptor` lists whenever they
learn a table's shape (PostgreSQL: a Relation message or the catalog; MySQL: a table-map event or the schema
history) and keep them in their own registry, keyed the way their stream names tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from cdc.capture.columns import UNAVAILABLE, ColumnDescriptor, ValueConverter, inline_form
from cdc.capture.converters import PayloadSerializer, SourceConverters
from cdc.column_mappers import ColumnMappers, ColumnMapping
from cdc.events import Headers, SourceRecord
from cdc.filters import TableFilter
from schemas.connect import Field, Schema, struct
from schemas.envelope import envelope_schema, key_schema
from schemas.json_converter import _json_default
from schemas.logical import DECIMAL, to_structured
from schemas.record import ConnectRecord

_new_record = tuple.__new__  # SourceRecord(...) without the NamedTuple's Python-level __new__ (hot path)


def envelope_payload(
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    source: dict[str, Any],
    op: str,
    now_ns: int,
    transaction: dict[str, Any] | None,
) -> dict[str, Any]:
    """A Debezium envelope's value payload, fields in Debezium's order (the JSON output depends on it).

    Called by :meth:`CapturedTable.record` (serialized, hot path) and :meth:`CapturedTable.structured`.
    """
    return {
        "before": before,
        "after": after,
        "source": source,
        "transaction": transaction,
        "op": op,
        "ts_ms": now_ns // 1_000_000,
        "ts_us": now_ns // 1000,
        "ts_ns": now_ns,
    }


@dataclass
class CapturedTable:
    """One version of a captured table's shape, ready for the hot path."""

    table_id: Any  # the connector's own handle (PostgreSQL relid, MySQL "db.table"); only compared
    namespace: str  # PostgreSQL schema, MySQL database
    name: str
    topic: str
    columns: tuple[str, ...]  # kept columns, in table order
    kept: tuple[int, ...] | None  # positions of kept columns in the full tuple; None = all kept
    converters: tuple[ValueConverter, ...]
    key_names: tuple[str, ...]
    placeholders: tuple[Any, ...]  # per column: the value used for an UNAVAILABLE value
    zero_fill: dict[str, Any]  # NOT NULL non-key columns → their type's zero value (key-only old rows)
    serialize_key: PayloadSerializer
    serialize_value: PayloadSerializer
    has_key: bool
    key_schema: Schema | None = None  # Connect schemas, for the structured form (connect_record)
    value_schema: Schema | None = None
    headers: Headers | None = None  # the connector's __debezium.context.* headers, on every change record
    # Per kept column: the value written instead of a null (the column default under JsonConverter's
    # replace.null.with.default, or a mask); None when no column has one.
    null_defaults: tuple[Any, ...] | None = None
    # The connector's SMT chain + converters (cdc.capture.transform) when ``transforms`` is set; see TransformedTable.
    transform: Callable[[ConnectRecord], SourceRecord] | None = field(default=None, repr=False, compare=False)
    # The hot path's two per-row functions, generated for this table version (see _compile_row/_compile_key):
    # row(values) converts one tuple of connector values aligned to the table's columns into the Connect row
    # struct, exactly as generic_row does; key(row) picks the primary-key columns out of a row.
    row: Callable[[Sequence[Any]], dict[str, Any]] = field(init=False, repr=False, compare=False)
    key: Callable[[dict[str, Any]], dict[str, Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.row = _compile_row(self)
        self.key = _compile_key(self.key_names)

    def generic_row(self, values: Sequence[Any]) -> dict[str, Any]:
        """Convert one tuple into the Connect row struct: the reference for (and fallback of) ``row``."""
        if self.kept is not None:
            values = [values[i] for i in self.kept]
        if UNAVAILABLE in values:
            row = self._row_with_unavailable(values)
        else:
            row = dict(
                zip(
                    self.columns,
                    [None if v is None else c(v) for c, v in zip(self.converters, values, strict=True)],
                    strict=True,
                )
            )
        if self.null_defaults is not None:
            for name, default in zip(self.columns, self.null_defaults, strict=True):
                if default is not None and row[name] is None:
                    row[name] = default
        return row

    def _row_with_unavailable(self, values: Sequence[Any]) -> dict[str, Any]:
        out = {}
        for name, convert, placeholder, value in zip(
            self.columns, self.converters, self.placeholders, values, strict=True
        ):
            if value is UNAVAILABLE:
                out[name] = placeholder
            else:
                out[name] = None if value is None else convert(value)
        return out

    def old_row(self, key_only: bool, values: Sequence[Any]) -> dict[str, Any]:
        """The ``before`` row from an old tuple: full, or key only (``key_only``; PostgreSQL's 'K' tuple).

        A key-only tuple has nulls for every other column; NOT NULL columns then get their type's zero value,
        as Debezium does, so the record still satisfies its schema (Kafka's JsonConverter rejects a null in a
        required field).
        """
        row = self.row(values)
        if key_only and self.zero_fill:
            for name, zero in self.zero_fill.items():
                if row[name] is None:
                    row[name] = zero
        return row

    def record(
        self,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        source: dict[str, Any],
        op: str,
        now_ns: int,
        key_row: dict[str, Any] | None,
        headers: Headers | None = None,
        transaction: dict[str, Any] | None = None,
    ) -> SourceRecord:
        """The serialized change record (Debezium envelope) for one event of this table.

        The single place an envelope payload is assembled: called per event by ``cdc.capture.emit`` (c/u/d/t)
        and the snapshot (r). ``key_row`` is the row the key is taken from; None (truncate) or a keyless table
        gives a null key. ``headers`` replaces the table's context headers (primary-key changes add the other
        key); ``transaction`` is the event's transaction block (provide.transaction.metadata).
        """
        payload = envelope_payload(before, after, source, op, now_ns, transaction)
        key = None if key_row is None or not self.has_key else self.serialize_key(self.key(key_row))
        return _new_record(
            SourceRecord,
            (self.topic, key, self.serialize_value(payload), self.headers if headers is None else headers),
        )

    def tombstone(self, key_row: dict[str, Any], headers: Headers | None = None) -> SourceRecord:
        """The null-value record that follows a delete; a keyless table's has a null key, as in Debezium 3.6."""
        key = self.serialize_key(self.key(key_row)) if self.has_key else None
        return SourceRecord(self.topic, key, None, self.headers if headers is None else headers)

    def key_header(self, name: str, key_row: dict[str, Any]) -> Headers:
        """``name`` (``__debezium.oldkey``/``newkey``) with the other record's key, then the context headers.

        Debezium writes the key's payload as compact JSON (Connect's SimpleHeaderConverter), ahead of the context
        headers.
        """
        return [(name, orjson.dumps(self.key(key_row), default=_json_default)), *(self.headers or ())]

    # -- structured form (source-side SMTs, Avro); off the hot path ---------------------------------------------

    def structured(
        self,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        source: dict[str, Any],
        op: str,
        now_ns: int,
        key_row: dict[str, Any] | None,
        headers: Headers | None = None,
        transaction: dict[str, Any] | None = None,
    ) -> ConnectRecord:
        """The same event as :meth:`record`, as a ``schemas.record.ConnectRecord`` (key/value Connect schemas and
        values in the ``schemas.record`` representation: ``decimal.Decimal`` for Connect Decimal etc.).

        For the source-side transform chain and schema-aware converters (Avro); the fast path never calls it.
        """
        value = envelope_payload(
            self._structured_row(before), self._structured_row(after), dict(source), op, now_ns, transaction
        )
        has_key = key_row is not None and self.has_key
        return ConnectRecord(
            topic=self.topic,
            key_schema=self.key_schema if has_key else None,
            key=self._structured_key(key_row) if has_key else None,
            value_schema=self.value_schema,
            value=value,
            headers=list((self.headers if headers is None else headers) or ()),
        )

    def structured_tombstone(self, key_row: dict[str, Any], headers: Headers | None = None) -> ConnectRecord:
        """:meth:`tombstone` as a ConnectRecord (null value schema and value)."""
        key_schema, key = (self.key_schema, self._structured_key(key_row)) if self.has_key else (None, None)
        return ConnectRecord(
            self.topic, key_schema, key, None, None, headers=list((self.headers if headers is None else headers) or ())
        )

    def _structured_row(self, row: dict[str, Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        special = self._structured_fields()
        return {name: to_structured(special[name], v) if name in special else v for name, v in row.items()}

    def _structured_key(self, key_row: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if key_row is None else self._structured_row(self.key(key_row))

    def _structured_fields(self) -> dict[str, Schema]:
        """Fields whose wire form differs from their structured form (Connect logical types), computed once."""
        special: dict[str, Schema] | None = self.__dict__.get("_structured")
        if special is None:
            special = {}
            if self.value_schema is not None:
                row_schema = self.value_schema.fields[0].schema  # "before": the optional <topic>.Value struct
                special = {f.name: f.schema for f in row_schema.fields if _needs_structuring(f.schema)}
            self.__dict__["_structured"] = special
        return special


class TransformedTable(CapturedTable):
    """A CapturedTable of a connector with ``transforms``: every record is built structured, run through the
    chain and serialized by the worker's converters (``cdc.capture.transform.SourceTransform``); a dropped record
    comes back as ``cdc.capture.transform.DROPPED``. A separate class so the fast path pays nothing for it."""

    def record(
        self,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        source: dict[str, Any],
        op: str,
        now_ns: int,
        key_row: dict[str, Any] | None,
        headers: Headers | None = None,
        transaction: dict[str, Any] | None = None,
    ) -> SourceRecord:
        """:meth:`CapturedTable.record` through the transform chain."""
        assert self.transform is not None
        return self.transform(self.structured(before, after, source, op, now_ns, key_row, headers, transaction))

    def tombstone(self, key_row: dict[str, Any], headers: Headers | None = None) -> SourceRecord:
        """:meth:`CapturedTable.tombstone` through the transform chain."""
        assert self.transform is not None
        return self.transform(self.structured_tombstone(key_row, headers))


def _needs_structuring(schema: Schema) -> bool:
    if schema.name is not None and schema.name.startswith("org.apache.kafka.connect.data."):
        return True
    if schema.type == "struct":
        return any(_needs_structuring(f.schema) for f in schema.fields)
    return schema.type == "array" and schema.items is not None and _needs_structuring(schema.items)


def _compile_row(table: CapturedTable) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """``table.generic_row`` unrolled for one table version: same results, same exceptions.

    The generic version pays per column for two zips, a list and a converter call even for identity and other
    trivial converters; this one unpacks the tuple into locals and builds the dict in one expression, inlining
    converters that registered an inline form (``cdc.capture.columns.inline_expression``). Tuples carrying an
    UNAVAILABLE value go to the generic version. Profiled on a six-column PostgreSQL table: 2.4 µs → 1.25 µs per
    row (see docs/performance.md).
    """
    if not table.columns:
        return table.generic_row
    namespace: dict[str, Any] = {"UNAVAILABLE": UNAVAILABLE, "generic": table.generic_row}
    items = []
    defaults = table.null_defaults or (None,) * len(table.columns)
    for j, (name, convert, default) in enumerate(zip(table.columns, table.converters, defaults, strict=True)):
        # A null becomes the column's null default (replace.null.with.default, masks); columns without one pay
        # nothing for it.
        null = "None"
        if default is not None:
            namespace[f"d{j}"] = default
            null = f"d{j}"
        inline = inline_form(convert)
        if inline == "v" and default is None:
            expr = f"v{j}"  # None stays None
        elif inline is not None:
            expr = f"{null} if v{j} is None else " + _rename(inline, f"v{j}")
        else:
            namespace[f"c{j}"] = convert
            expr = f"{null} if v{j} is None else c{j}(v{j})"
        items.append(f"{name!r}: {expr}")
    targets = ", ".join(f"v{j}" for j in range(len(table.columns)))
    if table.kept is None:
        unpack = f"{targets}, = values"  # ValueError on a length mismatch, like the generic strict zip
    else:
        unpack = f"{targets}, = " + "".join(f"values[{i}], " for i in table.kept)
    source = (
        "def row(values):\n"
        "    if UNAVAILABLE in values:\n"
        "        return generic(values)\n"
        f"    {unpack}\n"
        f"    return {{{', '.join(items)}}}\n"
    )
    exec(compile(source, f"<row {table.topic}>", "exec"), namespace)
    row: Callable[[Sequence[Any]], dict[str, Any]] = namespace["row"]
    return row


def _rename(expression: str, variable: str) -> str:
    """``expression`` with its value name ``v`` (a whole word) replaced by ``variable``."""
    return re.sub(r"\bv\b", variable, expression)


def _compile_key(names: tuple[str, ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``lambda row: {name: row[name] for name in names}`` without the comprehension's per-call overhead."""
    body = ", ".join(f"{name!r}: row[{name!r}]" for name in names)
    key: Callable[[dict[str, Any]], dict[str, Any]] = eval(f"lambda row: {{{body}}}")
    return key


def zero_value(schema: Schema) -> Any:
    """The zero of a Connect schema: what Debezium puts in required fields whose value the source did not send."""
    if schema.type in ("int8", "int16", "int32", "int64"):
        return 0
    if schema.type in ("float32", "float64"):
        return 0.0
    if schema.type == "boolean":
        return False
    if schema.type == "string":
        return ""
    if schema.type == "bytes":
        return b"\x00" if schema.name == DECIMAL else b""
    if schema.type == "array":
        return []
    if schema.type == "struct":
        return {f.name: zero_value(f.schema) for f in schema.fields}
    return None


def placeholder_for(schema: Schema, placeholder: str) -> Any:
    """Debezium's unavailable-value placeholder in the column's own type (string, bytes, or list of those)."""
    if schema.type == "string":
        return placeholder
    if schema.type == "bytes":
        return placeholder.encode()
    if schema.type == "array" and schema.items is not None:
        item = placeholder_for(schema.items, placeholder)
        return None if item is None else [item]
    return None


class TableBuilder:
    """Builds CapturedTables from neutral column descriptors; one per connector instance.

    Applies ``topic.prefix`` (topic ``<prefix>.<namespace>.<table>``), the column include/exclude lists (key
    columns are always kept), ``unavailable.value.placeholder``, and renders the key and envelope schemas with
    the worker's converters. Whether a table is captured at all (``filter.includes_table``) is the connector's
    call, made before it asks for a build.
    """

    def __init__(
        self,
        topic_prefix: str,
        table_filter: TableFilter,
        converters: SourceConverters,
        source_schema: Schema,
        placeholder: str,
        headers: Headers | None = None,
        mappers: ColumnMappers | None = None,
    ) -> None:
        self.prefix = topic_prefix
        self.filter = table_filter
        self.converters = converters
        self.source_schema = source_schema
        self.placeholder = placeholder
        self.headers = headers
        self.mappers = mappers if mappers is not None and not mappers.empty_for_tables else None
        # JsonConverter's replace.null.with.default (Connect's default: true) is applied when rows are built.
        self.replace_null_with_default = getattr(converters.value, "replace_null_with_default", True)

    def build(
        self,
        table_id: Any,
        namespace: str,
        name: str,
        columns: Sequence[ColumnDescriptor],
        primary_key: Sequence[str],
    ) -> CapturedTable:
        """A CapturedTable for ``columns`` (all of the table's columns, in the order its rows deliver values)."""
        topic = f"{self.prefix}.{namespace}.{name}"
        kept_positions = [
            i
            for i, column in enumerate(columns)
            if column.type is not None
            and (column.name in primary_key or self.filter.includes_column(namespace, name, column.name))
        ]
        fields: list[Field] = []
        converters: list[ValueConverter] = []
        placeholders: list[Any] = []
        null_defaults: dict[int, Any] = {}
        for i in kept_positions:
            column = columns[i]
            assert column.type is not None
            col_schema = column.type.schema.with_optional(column.optional)
            convert = column.type.convert
            if column.default is not None:
                col_schema = replace(col_schema, default=column.default)
                if self.replace_null_with_default:
                    null_defaults[len(fields)] = column.default
            mapping = self._mapping(namespace, name, column)
            if mapping is not None:
                col_schema = replace(col_schema, parameters={**(col_schema.parameters or {}), **mapping.parameters})
                if mapping.convert is not None:
                    convert = _compose(convert, mapping.convert)
                if mapping.null_value is not None:
                    null_defaults[len(fields)] = mapping.null_value
            fields.append(Field(column.name, col_schema))
            converters.append(convert)
            placeholders.append(placeholder_for(col_schema, self.placeholder))
        names = tuple(f.name for f in fields)
        message_key = self.mappers.key_columns_for(namespace, name) if self.mappers else None
        key_names = tuple(k for k in (message_key or primary_key) if k in names)
        key_fields = [f for f in fields if f.name in key_names]
        key_fields.sort(key=lambda f: key_names.index(f.name))
        row_schema = struct(f"{topic}.Value", fields)
        # message.key.columns keep the columns' nullability in the key schema, as Debezium does.
        k_schema = key_schema(
            topic, [f if message_key else Field(f.name, f.schema.with_optional(False)) for f in key_fields]
        )
        v_schema = envelope_schema(topic, row_schema, self.source_schema)
        transform = self.converters.transform
        return (CapturedTable if transform is None else TransformedTable)(
            table_id=table_id,
            namespace=namespace,
            name=name,
            topic=topic,
            columns=names,
            kept=None if len(kept_positions) == len(columns) else tuple(kept_positions),
            converters=tuple(converters),
            key_names=key_names,
            placeholders=tuple(placeholders),
            zero_fill={
                f.name: zero_value(f.schema) for f in fields if not f.schema.optional and f.name not in key_names
            },
            serialize_key=self.converters.key.serializer(k_schema, topic),
            serialize_value=self.converters.value.serializer(v_schema, topic),
            has_key=bool(key_names),
            key_schema=k_schema,
            value_schema=v_schema,
            transform=transform,
            headers=self.headers,
            null_defaults=tuple(null_defaults.get(j) for j in range(len(fields))) if null_defaults else None,
        )

    def _mapping(self, namespace: str, table: str, column: ColumnDescriptor) -> ColumnMapping | None:
        """The column mapper (truncate, mask, hash, propagate source type) of one column, if one is configured."""
        if self.mappers is None:
            return None
        return self.mappers.mapping(
            namespace, table, column.name, column.type_name, column.length, column.source_type or dict
        )


def _compose(first: ValueConverter, then: Callable[[Any], Any]) -> ValueConverter:
    def convert(value: Any) -> Any:
        return then(first(value))

    return convert
