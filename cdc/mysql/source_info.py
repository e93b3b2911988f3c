"""The ``source`` block of MySQL / MariaDB change events (``io.debezium.connector.mysql.Source``).

Field order and optionality as Debezium 3.6 writes them. The MariaDB flavour is named ``mariadb`` with the
schema ``io.debezium.connector.mariadb.Source``, as Debezium's MariaDB connector does.
"""

from __future__ import annotations

from typing import Any

from cdc import __version__
from schemas.connect import (
    INT64,
    OPTIONAL_INT64,
    OPTIONAL_STRING,
    STRING,
    Field,
    Schema,
    struct,
)
from schemas.envelope import common_source_fields


def source_schema(flavor: str) -> Schema:
    """The source block schema of ``flavor`` (``mysql`` or ``mariadb``)."""
    return struct(
        f"io.debezium.connector.{flavor}.Source",
        [
            *common_source_fields(),
            Field("table", OPTIONAL_STRING),
            Field("server_id", INT64),
            Field("gtid", OPTIONAL_STRING),
            Field("file", STRING),
            Field("pos", INT64),
            Field("row", Schema("int32")),
            Field("thread", OPTIONAL_INT64),
            Field("query", OPTIONAL_STRING),
        ],
        version=1,
    )


def source_block(
    flavor: str,
    server: str,
    db: str,
    table: str | None,
    ts_us: int,
    snapshot: str,
    server_id: int,
    gtid: str | None,
    file: str,
    pos: int,
    row: int,
    thread: int | None,
    query: str | None,
) -> dict[str, Any]:
    """One event's source block; ``ts_us``: the commit time (MySQL 8+: the GTID event's microseconds; else the
    event header's whole seconds), or the snapshot's read time."""
    return {
        "version": __version__,
        "connector": flavor,
        "name": server,
        "ts_ms": ts_us // 1000,
        "snapshot": snapshot,
        "db": db,
        "sequence": None,
        "ts_us": ts_us,
        "ts_ns": ts_us * 1000,
        "table": table,
        "server_id": server_id,
        "gtid": gtid,
        "file": file,
        "pos": pos,
        "row": row,
        "thread": thread,
        "query": query,
    }
