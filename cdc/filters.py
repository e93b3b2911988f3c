"""Debezium include/exclude list semantics for schemas, tables and columns.

Each list is comma-separated regular expressions, each matched against the *whole* identifier
(``schema``, ``schema.table``, ``schema.table.column``); include and exclude lists of one kind are mutually
exclusive (checked in config validation). Used by connectors when deciding which tables to snapshot and stream
and which columns to drop from envelopes.
"""

from __future__ import annotations

import re


def compile_list(value: str | None) -> list[re.Pattern[str]] | None:
    """Compile a comma-separated regex list; ``None``/empty means "no list given". Raises re.error on bad regex."""
    if value is None or not value.strip():
        return None
    return [re.compile(part.strip(), re.IGNORECASE) for part in value.split(",") if part.strip()]


def _matches(patterns: list[re.Pattern[str]], ident: str) -> bool:
    return any(p.fullmatch(ident) for p in patterns)


class TableFilter:
    """Decides whether a ``schema.table`` is captured and which of its columns are kept."""

    def __init__(
        self,
        schema_include: str | None = None,
        schema_exclude: str | None = None,
        table_include: str | None = None,
        table_exclude: str | None = None,
        column_include: str | None = None,
        column_exclude: str | None = None,
        default_excluded_schemas: tuple[str, ...] = (),
    ) -> None:
        self.schema_include = compile_list(schema_include)
        self.schema_exclude = compile_list(schema_exclude)
        self.table_include = compile_list(table_include)
        self.table_exclude = compile_list(table_exclude)
        self.column_include = compile_list(column_include)
        self.column_exclude = compile_list(column_exclude)
        self.default_excluded_schemas = default_excluded_schemas

    def includes_table(self, schema: str, table: str) -> bool:
        """True if changes of ``schema.table`` are captured."""
        if schema in self.default_excluded_schemas:
            return False
        if self.schema_include is not None and not _matches(self.schema_include, schema):
            return False
        if self.schema_exclude is not None and _matches(self.schema_exclude, schema):
            return False
        ident = f"{schema}.{table}"
        if self.table_include is not None:
            return _matches(self.table_include, ident)
        return not (self.table_exclude is not None and _matches(self.table_exclude, ident))

    def includes_column(self, schema: str, table: str, column: str) -> bool:
        """True if ``column`` is kept in the envelopes of ``schema.table``."""
        ident = f"{schema}.{table}.{column}"
        if self.column_include is not None:
            return _matches(self.column_include, ident)
        return not (self.column_exclude is not None and _matches(self.column_exclude, ident))
