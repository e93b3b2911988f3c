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
from cdc.postgres.pgoutput import Relation
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
        not_null = {c.name: c.not_null for c in info.columns} if info else {}
        primary_key = info.primary_key if info else tuple(c.name for c in rel.columns if c.is_key)
        columns = [(c.name, c.type_oid, c.typmod, not_null.get(c.name, False)) for c in rel.columns]
        table = self._build(rel.relid, rel.namespace, rel.name, columns, primary_key)
        self._by_relid[rel.relid] = table
        return table

    def from_catalog(self, info: CatalogTable) -> CapturedTable:
        """Build a table for the snapshot, where no Relation message exists yet."""
        columns = [(c.name, c.type_oid, c.typmod, c.not_null) for c in info.columns]
        return self._build(info.relid, info.schema, info.name, columns, info.primary_key)

    def _build(
        self,
        relid: int,
        schema_name: str,
        table_name: str,
        columns: list[tuple[str, int, int, bool]],
        primary_key: tuple[str, ...],
    ) -> CapturedTable:
        descriptors = [
            ColumnDescriptor(name, self.mapper.map(type_oid, typmod), not not_null)
            for name, type_oid, typmod, not_null in columns
        ]
        return self.builder.build(relid, schema_name, table_name, descriptors, primary_key)
