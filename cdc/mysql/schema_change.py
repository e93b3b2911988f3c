"""Schema change events on the ``<topic.prefix>`` topic (``include.schema.changes=true``), as Debezium sends them.

Key ``io.debezium.connector.<flavor>.SchemaChangeKey {databaseName}``; value
``io.debezium.connector.<flavor>.SchemaChangeValue {source, ts_ms, databaseName, schemaName, ddl, tableChanges}``
where each table change carries the table's columns (``io.debezium.connector.schema.Change`` / ``Table`` /
``Column``). Built by ``MySqlSource._on_ddl`` for each DDL statement that touches a captured table or a database.
"""

from __future__ import annotations

import re
from typing import Any

from cdc.capture.converters import SourceConverters
from cdc.events import SourceRecord
from cdc.mysql.catalog import Column, TableDef
from cdc.mysql.source_info import source_schema
from schemas.connect import INT64, OPTIONAL_STRING, STRING, Field, Schema, struct

_OPT_INT32 = Schema("int32", optional=True)
_OPT_BOOL = Schema("boolean", optional=True)
_OPT_STRINGS = Schema("array", optional=True, items=STRING)

COLUMN_SCHEMA = struct(
    "io.debezium.connector.schema.Column",
    [
        Field("name", STRING),
        Field("jdbcType", Schema("int32")),
        Field("nativeType", _OPT_INT32),
        Field("typeName", STRING),
        Field("typeExpression", OPTIONAL_STRING),
        Field("charsetName", OPTIONAL_STRING),
        Field("length", _OPT_INT32),
        Field("scale", _OPT_INT32),
        Field("position", Schema("int32")),
        Field("optional", _OPT_BOOL),
        Field("autoIncremented", _OPT_BOOL),
        Field("generated", _OPT_BOOL),
        Field("comment", OPTIONAL_STRING),
        Field("defaultValueExpression", OPTIONAL_STRING),
        Field("enumValues", _OPT_STRINGS),
    ],
    version=1,
)
TABLE_SCHEMA = struct(
    "io.debezium.connector.schema.Table",
    [
        Field("defaultCharsetName", OPTIONAL_STRING),
        Field("primaryKeyColumnNames", _OPT_STRINGS),
        Field("columns", Schema("array", items=COLUMN_SCHEMA)),
        Field("comment", OPTIONAL_STRING),
    ],
    optional=True,
    version=1,
)
CHANGE_SCHEMA = struct(
    "io.debezium.connector.schema.Change",
    [Field("type", STRING), Field("id", STRING), Field("table", TABLE_SCHEMA)],
    version=1,
)

# java.sql.Types of MySQL type names (what Debezium's MySQL DDL parser assigns).
_JDBC = {
    "tinyint": 5,  # Debezium's MySQL parser gives TINYINT java.sql.Types.SMALLINT
    "smallint": 5,
    "mediumint": 4,
    "int": 4,
    "integer": 4,
    "bigint": -5,
    "decimal": 3,
    "numeric": 3,
    "float": 6,
    "double": 8,
    "real": 8,
    "bit": -7,
    "bool": 16,
    "boolean": 16,
    "char": 1,
    "varchar": 12,
    "tinytext": 12,
    "text": 12,
    "mediumtext": 12,
    "longtext": 12,
    "binary": -2,
    "varbinary": -3,
    "tinyblob": -4,
    "blob": 2004,
    "mediumblob": 2004,
    "longblob": 2004,
    "date": 91,
    "time": 92,
    "datetime": 93,
    "timestamp": 2014,
    "year": 4,
    "json": 1111,
    "enum": 1,
    "set": 1,
}


def _column(c: Column, position: int) -> dict[str, Any]:
    # Debezium's length and scale, as its DDL parser fills them (compared with Debezium 3.6.3 on MySQL 9.7):
    # the declared size ("varchar(40)" → 40, "tinyint(1)" → 1, "decimal(10,3)" → 10/3), the fractional
    # seconds of temporal types as the *length*, 1 for ENUM, the longest value list for SET.
    declared = re.match(r"[a-z ]+\((\d+)", c.column_type.lower())
    length = int(declared.group(1)) if declared else None
    scale = c.scale if c.data_type in ("decimal", "numeric") else None
    if c.data_type in ("time", "datetime", "timestamp"):
        length = c.scale or None
    elif c.data_type == "enum":
        length = 1
    elif c.data_type == "set":
        length = len(",".join(c.values))
    return {
        "name": c.name,
        "jdbcType": _JDBC.get(c.data_type, 1111),
        "nativeType": None,
        "typeName": c.data_type.upper() + (" UNSIGNED" if c.unsigned else ""),
        "typeExpression": c.data_type.upper() + (" UNSIGNED" if c.unsigned else ""),
        "charsetName": c.charset,
        "length": length,
        "scale": scale,
        "position": position,
        "optional": c.nullable,
        "autoIncremented": False,
        "generated": False,
        "comment": None,
        "defaultValueExpression": c.default,
        "enumValues": ["'" + v.replace("'", "''") + "'" for v in c.values] if c.values else None,
    }


def _table(t: TableDef | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "defaultCharsetName": t.charset,
        "primaryKeyColumnNames": list(t.primary_key),
        "columns": [_column(c, i + 1) for i, c in enumerate(t.columns)],
        "comment": None,
    }


class SchemaChangeEmitter:
    """Builds schema change records for one logical server; schemas are rendered once."""

    def __init__(self, flavor: str, server: str, converters: SourceConverters) -> None:
        self.topic = server
        key = struct(f"io.debezium.connector.{flavor}.SchemaChangeKey", [Field("databaseName", STRING)], version=1)
        value = struct(
            f"io.debezium.connector.{flavor}.SchemaChangeValue",
            [
                Field("source", source_schema(flavor)),
                Field("ts_ms", INT64),
                Field("databaseName", OPTIONAL_STRING),
                Field("schemaName", OPTIONAL_STRING),
                Field("ddl", OPTIONAL_STRING),
                Field("tableChanges", Schema("array", items=CHANGE_SCHEMA)),
            ],
            version=1,
        )
        self._key = converters.key.serializer(key, server)
        self._value = converters.value.serializer(value, server)

    def record(
        self,
        database: str,
        ddl: str,
        source: dict[str, Any],
        changes: list[tuple[str, tuple[str, str], TableDef | None]],
        ts_ms: int,
    ) -> SourceRecord:
        payload = {
            "source": source,
            "ts_ms": ts_ms,
            "databaseName": database,
            "schemaName": None,
            "ddl": ddl,
            "tableChanges": [
                {"type": kind, "id": f'"{db}"."{name}"', "table": _table(t)} for kind, (db, name), t in changes
            ],
        }
        return SourceRecord(self.topic, self._key({"databaseName": database}), self._value(payload))
