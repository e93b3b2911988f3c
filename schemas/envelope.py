"""Debezium envelope schemas: the value schema wrapping before/after/source/op, and the key schema.

Built once per table version by a connector (see ``cdc.postgres.tables``) and serialized once by a converter;
the per-row work is only the payload.
"""

from __future__ import annotations

from schemas.connect import INT64, OPTIONAL_INT64, OPTIONAL_STRING, STRING, Field, Schema, struct

# Debezium's transaction metadata block (present as an optional field; null unless
# provide.transaction.metadata is enabled).
TRANSACTION_BLOCK = struct(
    "event.block",
    [
        Field("id", STRING),
        Field("total_order", INT64),
        Field("data_collection_order", INT64),
    ],
    optional=True,
    version=1,
)

# Debezium's `snapshot` enum in the source block.
SNAPSHOT_ENUM = Schema(
    "string",
    optional=True,
    name="io.debezium.data.Enum",
    version=1,
    # As Debezium 3.x writes it (checked against 3.6.3 by tests/conformance).
    parameters={"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},
    default="false",
)


def common_source_fields() -> list[Field]:
    """The fields every Debezium connector's ``source`` block starts with, in Debezium's order (debezium-core's
    common source info); each connector's ``source_info`` appends its own (schema/table/txId/lsn, or
    table/server_id/gtid/file/pos …)."""
    return [
        Field("version", STRING),
        Field("connector", STRING),
        Field("name", STRING),
        Field("ts_ms", INT64),
        Field("snapshot", SNAPSHOT_ENUM),
        Field("db", STRING),
        Field("sequence", OPTIONAL_STRING),
        Field("ts_us", OPTIONAL_INT64),
        Field("ts_ns", OPTIONAL_INT64),
    ]


def envelope_schema(topic: str, row_schema: Schema, source_schema: Schema) -> Schema:
    """The value schema ``<topic>.Envelope`` for a table whose row struct is ``row_schema``.

    ``row_schema`` must be the non-optional ``<topic>.Value`` struct; before/after carry an optional copy.
    """
    row = row_schema.with_optional(True)
    return struct(
        f"{topic}.Envelope",
        [
            Field("before", row),
            Field("after", row),
            Field("source", source_schema),
            Field("transaction", TRANSACTION_BLOCK),
            Field("op", STRING),
            Field("ts_ms", OPTIONAL_INT64),
            Field("ts_us", OPTIONAL_INT64),
            Field("ts_ns", OPTIONAL_INT64),
        ],
        version=2,
    )


def key_schema(topic: str, key_fields: list[Field]) -> Schema | None:
    """The key schema ``<topic>.Key``, or ``None`` for tables without a primary key (their records get a null key)."""
    if not key_fields:
        return None
    return struct(f"{topic}.Key", key_fields)
