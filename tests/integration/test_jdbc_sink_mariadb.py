"""PostgreSQL source → broker → JDBC sink into MariaDB (``jdbc:mariadb://``) and Oracle MySQL 9 (``jdbc:mysql://``;
skipped with the reason when MySQL is not available), all real servers: the target equals the source after inserts,
updates, deletes and a replay from offset 0, with the column types schema evolution chose."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from engine_helpers import EngineThread, connector_document, execute, wait_streaming
from jdbc_helpers import COLUMNS, SOURCE_DDL, insert_rows, table_rows
from sink_helpers import SinkThread, wait_until

from servers.mysqlbase import MySQLFamilyServer


@pytest.fixture(params=["mariadb", "mysql"])
def maria_target(request: pytest.FixtureRequest) -> Iterator[tuple[MySQLFamilyServer, str]]:
    server: MySQLFamilyServer = request.getfixturevalue(f"{request.param}_server")
    name = f"cdc_target_{uuid.uuid4().hex[:10]}"
    server.create_database(name)
    try:
        yield server, name
    finally:
        server.drop_database(name)


def normalized_source(dsn: str) -> list[tuple[Any, ...]]:
    """Source rows as MariaDB gives them back: booleans as 0/1, times as timedelta, UTC naive datetimes, JSON and
    UUIDs as text."""
    out = []
    for row in table_rows(dsn, "items"):
        (id_, name, price, qty, big, ratio, active, day, at, created, local_ts, doc, ident, raw) = row
        out.append(
            (
                id_,
                name,
                price,
                qty,
                big,
                ratio,
                None if active is None else int(active),
                day,
                None
                if at is None
                else dt.timedelta(hours=at.hour, minutes=at.minute, seconds=at.second, microseconds=at.microsecond),
                None if created is None else created.astimezone(dt.UTC).replace(tzinfo=None),
                local_ts,
                doc,
                None if ident is None else str(ident),
                raw,
            )
        )
    return out


def target_rows(server: MySQLFamilyServer, database: str) -> list[tuple[Any, ...]]:
    rows = server.execute(f"SELECT {COLUMNS} FROM items ORDER BY id", database=database)
    out = []
    for row in rows:
        values = list(row)
        values[11] = None if values[11] is None else json.loads(values[11])
        out.append(tuple(values))
    return out


def test_postgres_to_mariadb(
    postgres_server: Any, kafka_broker: Any, pg_database: str, maria_target: tuple[MySQLFamilyServer, str]
) -> None:
    server, database = maria_target
    flavor = "mariadb" if "maria" in type(server).__name__.lower() else "mysql"
    kafka = kafka_broker.bootstrap_servers
    source_dsn = postgres_server.dsn(pg_database)
    execute(source_dsn, SOURCE_DDL)
    insert_rows(source_dsn, 1, 150)
    prefix = f"src{uuid.uuid4().hex[:6]}"
    source_doc = connector_document(postgres_server, kafka, pg_database, name=prefix)

    def sink_doc(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "config": {
                "connector.class": "jdbc",
                "connection.url": f"jdbc:{flavor}://{server.host}:{server.port}/{database}",
                "connection.username": server.admin_user,
                "connection.password": server.admin_password,
                "topics": f"{prefix}.public.items",
                "insert.mode": "upsert",
                "delete.enabled": "true",
                "primary.key.mode": "record_key",
                "schema.evolution": "basic",
                "table.name.format": "${source.table}",
                "consumer.override.session.timeout.ms": "6000",
            },
            "worker": {"bootstrap.servers": kafka, "offset.flush.interval.ms": 500},
        }

    def equal() -> bool:
        try:
            return target_rows(server, database) == normalized_source(source_dsn)
        except Exception:  # noqa: BLE001 - the table may not exist yet
            return False

    with EngineThread(source_doc):
        wait_streaming(postgres_server, source_doc)
        sink = SinkThread(sink_doc(f"jdbc_{prefix}")).start()
        try:
            wait_until(equal, 90, "MariaDB table equal to the source (snapshot)")
            insert_rows(source_dsn, 151, 50)
            execute(
                source_dsn,
                "UPDATE items SET name = name || ' v2', price = price + 1 WHERE id % 3 = 0",
                "UPDATE items SET ratio = NULL, doc = NULL WHERE id % 5 = 0",
                "UPDATE items SET id = id + 10000 WHERE id = 7",
                "DELETE FROM items WHERE id % 4 = 0",
            )
            wait_until(equal, 90, "MariaDB table equal to the source (changes)")
        finally:
            sink.stop()
        before = target_rows(server, database)
        replay = SinkThread(sink_doc(f"jdbc_replay_{prefix}")).start()
        try:
            wait_until(lambda: replay.runtime.records_put >= 200, 90, "the replay to read the topic")
            time.sleep(1.0)
        finally:
            replay.stop()
        assert target_rows(server, database) == before
        assert equal()
    types = dict(
        server.execute(
            "SELECT column_name, column_type FROM information_schema.columns "
            f"WHERE table_schema = '{database}' AND table_name = 'items'"
        )
    )
    assert types["price"] == "decimal(10,2)" and types["created"] == "datetime(6)"
    assert types["id"] in ("int(11)", "int")  # MySQL 8.0.19+ no longer shows display widths
