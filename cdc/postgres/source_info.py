"""The ``source`` block of PostgreSQL change events (``io.debezium.connector.postgresql.Source``).

The schema is built once; :func:`source_block` is called per event by the snapshot and stream readers.
"""

from __future__ import annotations

from typing import Any

from cdc import __version__
from schemas.connect import OPTIONAL_INT64, OPTIONAL_STRING, STRING, Field, struct
from schemas.envelope import common_source_fields

CONNECTOR_NAME = "postgresql"

SOURCE_SCHEMA = struct(
    "io.debezium.connector.postgresql.Source",
    [
        *common_source_fields(),
        Field("schema", STRING),
        Field("table", STRING),
        Field("txId", OPTIONAL_INT64),
        Field("lsn", OPTIONAL_INT64),
        Field("xmin", OPTIONAL_INT64),
        Field("origin", OPTIONAL_STRING),  # Debezium 3.x: replication origin of the change (null without one)
        Field("origin_lsn", OPTIONAL_INT64),
    ],
    version=1,  # Debezium 3.x versions its source schemas
)


def source_block(
    server: str,
    db: str,
    schema: str,
    table: str,
    ts_us: int,
    snapshot: str | None,
    tx_id: int | None,
    lsn: int | None,
    sequence: str | None,
) -> dict[str, Any]:
    """One event's source block; ``ts_us`` is the commit (or snapshot read) time in microseconds."""
    return {
        "version": __version__,
        "connector": CONNECTOR_NAME,
        "name": server,
        "ts_ms": ts_us // 1000,
        "snapshot": snapshot,
        "db": db,
        "sequence": sequence,
        "ts_us": ts_us,
        "ts_ns": ts_us * 1000,
        "schema": schema,
        "table": table,
        "txId": tx_id,
        "lsn": lsn,
        "xmin": None,
        "origin": None,
        "origin_lsn": None,
    }
