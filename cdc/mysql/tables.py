"""Captured MySQL tables: one :class:`~cdc.postgres.tables.CapturedTable` per table version, plus the binlog row
function.

The column list of a binlog row event comes from its table-map event (``binlog_row_metadata=FULL`` names every
column), so events written before an ``ALTER TABLE`` are read with the old columns and events after it with the
new ones, also when they are replayed after a restart. Everything the table map does not carry (defaults,
``tinyint(1)`` vs ``tinyint``, the primary key when the server omits it) comes from the :class:`TableDef` the
schema history holds for that table; a column the definition does not know (the history is behind the binlog)
is described from the table map alone.

The envelope machinery (CapturedTable: key/value schemas, record, tombstone, column filters, topic naming) is
the capture core's (``cdc.capture.table.TableBuilder``); this module only describes MySQL columns to it and adds
the function that reads a binlog row dict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymysql.constants import FIELD_TYPE

from cdc.capture.columns import ColumnDescriptor, inline_form
from cdc.capture.converters import SourceConverters
from cdc.capture.table import CapturedTable, TableBuilder
from cdc.filters import TableFilter
from cdc.mysql.catalog import Column, TableDef
from cdc.mysql.source_info import source_schema
from cdc.mysql.types import MySqlTypeMapper, _to_str

_BLOB_SIZES = {1: "tinyblob", 2: "blob", 3: "mediumblob", 4: "longblob"}
_TEXT_SIZES = {1: "tinytext", 2: "text", 3: "mediumtext", 4: "longtext"}
_GEOMETRY_KINDS = {
    0: "geometry",
    1: "point",
    2: "linestring",
    3: "polygon",
    4: "multipoint",
    5: "multilinestring",
    6: "multipolygon",
    7: "geometrycollection",
}


@dataclass
class MySqlTable:
    """A captured table version: the neutral CapturedTable and the function reading a binlog row dict."""

    captured: CapturedTable
    definition: TableDef
    row_from_dict: Callable[[dict[str, Any]], dict[str, Any]]


def column_from_binlog(col: Any) -> Column:
    """A :class:`Column` from a pymysqlreplication table-map column (when the schema history lacks it)."""
    t = col.type
    charset = getattr(col, "character_set_name", None)
    binary = charset in (None, "binary") and t not in (FIELD_TYPE.ENUM, FIELD_TYPE.SET)
    simple = {
        FIELD_TYPE.TINY: "tinyint",
        FIELD_TYPE.SHORT: "smallint",
        FIELD_TYPE.INT24: "mediumint",
        FIELD_TYPE.LONG: "int",
        FIELD_TYPE.LONGLONG: "bigint",
        FIELD_TYPE.FLOAT: "float",
        FIELD_TYPE.DOUBLE: "double",
        FIELD_TYPE.DATE: "date",
        FIELD_TYPE.YEAR: "year",
        FIELD_TYPE.JSON: "json",
        FIELD_TYPE.ENUM: "enum",
        FIELD_TYPE.SET: "set",
    }
    scale = None
    precision = None
    if t in simple:
        data_type = simple[t]
    elif t in (FIELD_TYPE.NEWDECIMAL, FIELD_TYPE.DECIMAL):
        data_type, precision, scale = "decimal", getattr(col, "precision", 10), getattr(col, "decimals", 0)
    elif t in (FIELD_TYPE.TIME, 19):  # TIME2
        data_type, scale = "time", getattr(col, "fsp", 0)
    elif t in (FIELD_TYPE.DATETIME, 18):  # DATETIME2
        data_type, scale = "datetime", getattr(col, "fsp", 0)
    elif t in (FIELD_TYPE.TIMESTAMP, 17):  # TIMESTAMP2
        data_type, scale = "timestamp", getattr(col, "fsp", 0)
    elif t == FIELD_TYPE.BIT:
        data_type, precision = "bit", getattr(col, "bits", 1)
    elif t == FIELD_TYPE.VARCHAR or t == FIELD_TYPE.VAR_STRING:
        data_type = "varbinary" if binary else "varchar"
    elif t == FIELD_TYPE.STRING:
        data_type = "binary" if binary else "char"
        if binary:
            precision = getattr(col, "max_length", None)
    elif t == FIELD_TYPE.BLOB:
        sizes = _BLOB_SIZES if binary else _TEXT_SIZES
        data_type = sizes.get(getattr(col, "length_size", 2), "blob")
    elif t == FIELD_TYPE.GEOMETRY:
        data_type = "geometry"
    else:
        data_type = "varchar"
    values = tuple(getattr(col, "enum_values", None) or getattr(col, "set_values", None) or ())
    return Column(
        name=str(col.name),
        data_type=data_type,
        unsigned=bool(getattr(col, "unsigned", False)),
        nullable=True,
        precision=precision,
        scale=scale,
        values=values,
        charset=charset,
    )


class MySqlTableRegistry:
    """Builds and caches table versions for one connector (snapshot and stream)."""

    def __init__(
        self,
        flavor: str,
        table_filter: TableFilter,
        topic_prefix: str,
        mapper: MySqlTypeMapper,
        converters: SourceConverters,
        placeholder: str,
    ) -> None:
        self.flavor = flavor
        self.filter = table_filter
        self.mapper = mapper
        self.builder = TableBuilder(topic_prefix, table_filter, converters, source_schema(flavor), placeholder)
        #: The schema history's view: table definitions by (database, table).
        self.definitions: dict[tuple[str, str], TableDef] = {}
        self._versions: dict[tuple[str, str, tuple[str, ...]], MySqlTable] = {}

    def includes(self, database: str, table: str) -> bool:
        return self.filter.includes_table(database, table)

    def set_definition(self, definition: TableDef) -> None:
        """The schema history learned a table's (new) definition."""
        self.definitions[(definition.database, definition.name)] = definition

    def drop_definition(self, database: str, table: str) -> None:
        self.definitions.pop((database, table), None)

    def for_definition(self, definition: TableDef, snapshot: bool = False) -> MySqlTable:
        """The table version for a full definition (``snapshot``: with the snapshot's value converters)."""
        names = tuple(c.name for c in definition.columns)
        key = (definition.database, definition.name, (*names, "\x00snapshot") if snapshot else names)
        table = self._versions.get(key)
        if table is None or table.definition != definition:
            table = self._versions[key] = self._build(definition, snapshot)
        return table

    def for_binlog(self, database: str, table_name: str, binlog_columns: list[Any], binlog_pk: Any) -> MySqlTable:
        """The table version matching a table-map event's columns."""
        names = tuple(str(c.name) for c in binlog_columns)
        key = (database, table_name, names)
        cached = self._versions.get(key)
        known = self.definitions.get((database, table_name))
        if cached is not None and (known is None or cached.definition.columns == _matching(known, names)):
            return cached
        by_name = {c.name: c for c in known.columns} if known is not None else {}
        columns = tuple(by_name.get(str(c.name)) or column_from_binlog(c) for c in binlog_columns)
        if known is not None and known.primary_key and all(k in names for k in known.primary_key):
            pk = known.primary_key
        elif isinstance(binlog_pk, str):
            pk = (binlog_pk,) if binlog_pk else ()
        else:
            pk = tuple(binlog_pk or ())
        table = self._versions[key] = self._build(TableDef(database, table_name, columns, pk))
        return table

    def _build(self, definition: TableDef, snapshot: bool = False) -> MySqlTable:
        columns = []
        for c in definition.columns:
            mapped = self.mapper.map(c, snapshot)
            columns.append(ColumnDescriptor(c.name, mapped, c.nullable, default=self.mapper.default(c, mapped)))
        captured = self.builder.build(
            f"{definition.database}.{definition.name}",
            definition.database,
            definition.name,
            columns,
            definition.primary_key,
        )
        return MySqlTable(
            captured,
            definition,
            _compile_dict_row(captured.columns, captured.converters, captured.null_defaults),
        )


def _matching(known: TableDef, names: tuple[str, ...]) -> tuple[Column, ...] | None:
    by_name = {c.name: c for c in known.columns}
    if all(n in by_name for n in names):
        return tuple(by_name[n] for n in names)
    return None


def _compile_dict_row(
    names: tuple[str, ...],
    converters: tuple[Callable[[Any], Any], ...],
    null_defaults: tuple[Any, ...] | None = None,
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function turning a binlog row dict (column → Python value) into the Connect row struct.

    Generated per table version so that identity columns (integers, text) cost one dict lookup and no call.
    ``null_defaults`` (the captured table's, aligned with ``names``) replace a null result: the column default
    under ``replace.null.with.default`` (what Debezium's JsonConverter writes), or a column mapper's null value,
    exactly as :meth:`cdc.capture.table.CapturedTable.row` does for the other connectors.
    """
    namespace: dict[str, Any] = {}
    items = []
    defaults = null_defaults or (None,) * len(names)
    for j, (name, convert, default) in enumerate(zip(names, converters, defaults, strict=True)):
        if inline_form(convert) == "v":
            expr = f"values[{name!r}]"
        elif convert is _to_str:
            expr = f"(v{j} if (v{j} := values[{name!r}]) is None or v{j}.__class__ is str else c{j}(v{j}))"
            namespace[f"c{j}"] = convert
        else:
            namespace[f"c{j}"] = convert
            expr = f"None if (v{j} := values[{name!r}]) is None else c{j}(v{j})"
        if default is not None:
            namespace[f"n{j}"] = default
            expr = f"(n{j} if (w{j} := {expr}) is None else w{j})"
        items.append(f"{name!r}: {expr}")
    body = ", ".join(items)
    source = f"def row(values):\n    return {{{body}}}\n"
    code = compile(source, "<mysql row>", "exec")
    exec(code, namespace)
    row: Callable[[dict[str, Any]], dict[str, Any]] = namespace["row"]
    return row
