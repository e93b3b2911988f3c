"""Snapshot then streaming, against real PostgreSQL and a real broker: ops, before/after, source, tombstones."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from engine_helpers import EngineThread, connector_document, payloads, wait_for_records


def test_snapshot_then_stream(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    dsn = postgres_server.dsn(pg_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text)")
        conn.execute("INSERT INTO customers VALUES (1, 'ann', 'a@x'), (2, 'bob', NULL)")
    doc = connector_document(postgres_server, kafka_broker.bootstrap_servers, pg_database)
    topic = f"{doc['name']}.public.customers"
    with EngineThread(doc):
        records = wait_for_records(kafka_broker.bootstrap_servers, topic, 2)
        snap = payloads(records)
        assert [p["op"] for p in snap if p] == ["r", "r"]
        assert sorted(p["source"]["snapshot"] for p in snap if p) == ["first", "last"]
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO customers VALUES (3, 'cy', 'c@x')")
            conn.execute("UPDATE customers SET name = 'bobby' WHERE id = 2")
            conn.execute("DELETE FROM customers WHERE id = 1")
        records = wait_for_records(kafka_broker.bootstrap_servers, topic, 6)

    by_key: dict[int, list[dict[str, Any] | None]] = {}
    for key, value in records:
        assert key is not None
        k = json.loads(key)
        assert k["schema"]["name"] == f"{topic}.Key"
        by_key.setdefault(k["payload"]["id"], []).append(None if value is None else json.loads(value)["payload"])
    ops = {k: [p["op"] if p else None for p in v] for k, v in by_key.items()}
    assert ops == {1: ["r", "d", None], 2: ["r", "u"], 3: ["c"]}
    created = by_key[3][0]
    assert created is not None
    assert created["before"] is None and created["after"] == {"id": 3, "name": "cy", "email": "c@x"}
    src = created["source"]
    assert (src["connector"], src["name"], src["db"], src["schema"], src["table"]) == (
        "postgresql",
        doc["name"],
        pg_database,
        "public",
        "customers",
    )
    assert src["snapshot"] == "false" and isinstance(src["txId"], int) and isinstance(src["lsn"], int)
    updated = by_key[2][1]
    assert updated is not None and updated["before"] is None  # REPLICA IDENTITY DEFAULT
    assert updated["after"]["name"] == "bobby"
    deleted = by_key[1][1]
    assert deleted is not None
    # REPLICA IDENTITY DEFAULT: only the key is sent; NOT NULL `name` gets its zero value as in Debezium.
    assert deleted["before"] == {"id": 1, "name": "", "email": None} and deleted["after"] is None
