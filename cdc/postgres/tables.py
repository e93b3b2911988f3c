"""The PostgreSQL table registry: pgoutput Relation messages and catalog rows → captured tables.

:class:`TableRegistry` turns a table's columns (name, type OID, typmod, NOT NULL) into neutral
``cdc.capture.columns.ColumnDescriptor`` objects with :class:`~cdc.postgres.types.TypeMapper` and has the shared
``cdc.capture.table.TableBuilder`` build the :class:`~cdc.capture.table.CapturedTable`. A Relation message arrives
before the first change of a table and again after any DDL that changes it, so a column added mid-stream appears
in the events that follow.
"""

from __future__ import annotations

from cdc.capture.columns import ColumnDescriptor
from cdc.capture.table import CapturedTable, TableBuilder
from cdc.filters import TableFilter
from cdc.postgres.catalog import Catalog, CatalogTable
from cdc.postgres.defaults import default_text
from cdc.postgres.pgoutput import Relation
from cdc.postgres.special_types import source_type_parameters
from cdc.postgres.types import TypeMapper


class TableRegistry:
    """Builds and caches CapturedTables per relid; owned by one PostgreSQL connector instance."""

    def __init__(self, catalog: Catalog, table_filter: TableFilter, mapper: TypeMapper, builder: TableBuilder) -> None:
        self.catalog = catalog
        self.filter = table_filter
        self.mapper = mapper
        self.builder = builder
        self._by_relid: dict[int, CapturedTable | None] = {}

    def get(self, relid: int) -> CapturedTable | None:
        """The current version for ``relid``; None if not captured (filtered out)."""
        return self._by_relid.get(relid)

    def on_relation(self, rel: Relation) -> CapturedTable | None:
        """A Relation message arrived: (re)build that table from the message plus the catalog."""
        if not self.filter.includes_table(rel.namespace, rel.name):
            self._by_relid[rel.relid] = None
            return None
        info = self.catalog.table(rel.relid)
        # Nullability and defaults are not in the Relation message: the catalog is read now, as Debezium does.
        known = {c.name: c for c in info.columns} if info else {}
        primary_key = info.primary_key if info else tuple(c.name for c in rel.columns if c.is_key)
        columns = [
            (c.name, c.type_oid, c.typmod, known[c.name].not_null, known[c.name].default)
            if c.name in known
            else (c.name, c.type_oid, c.typmod, False, None)
            for c in rel.columns
        ]
        table = self._build(rel.relid, rel.namespace, rel.name, columns, primary_key, from_stream=True)
        self._by_relid[rel.relid] = table
        return table

    def from_catalog(self, info: CatalogTable) -> CapturedTable:
        """Build a table for the snapshot, where no Relation message exists yet."""
        columns = [(c.name, c.type_oid, c.typmod, c.not_null, c.default) for c in info.columns]
        return self._build(info.relid, info.schema, info.name, columns, info.primary_key)

    def _build(
        self,
        relid: int,
        schema_name: str,
        table_name: str,
        columns: list[tuple[str, int, int, bool, str | None]],
        primary_key: tuple[str, ...],
        from_stream: bool = False,
    ) -> CapturedTable:
        descriptors = [
            self._descriptor(name, type_oid, typmod, not_null, default, from_stream)
            for name, type_oid, typmod, not_null, default in columns
        ]
        return self.builder.build(relid, schema_name, table_name, descriptors, primary_key)

    def _descriptor(
        self, name: str, type_oid: int, typmod: int, not_null: bool, expression: str | None, from_stream: bool
    ) -> ColumnDescriptor:
        """One column: its mapped type (None: left out, as Debezium does with unknown types), its default as
        Debezium computes it, and what the column mappers need (type name, declared length, source type)."""
        mapped = self.mapper.map(type_oid, typmod)
        pg_type = self.catalog.resolve_type(type_oid)
        type_name = pg_type.name if pg_type is not None else str(type_oid)
        default = None
        if mapped is not None and expression is not None:
            text = default_text(type_oid, pg_type is not None and pg_type.typtype == "e", expression)
            if text is not None:
                try:
                    default = mapped.convert(text)
                except (ValueError, IndexError, OverflowError):
                    default = None  # an expression Debezium cannot evaluate either
                if isinstance(default, (dict, list)):
                    default = None  # Connect has no struct defaults (KAFKA-12694), Debezium drops them
        return ColumnDescriptor(
            name,
            mapped,
            not not_null,
            default=default,
            type_name=type_name,
            length=typmod - 4 if type_name in ("varchar", "bpchar") and typmod >= 4 else None,
            source_type=lambda: source_type_parameters(type_name, typmod, name, from_stream),
        )
