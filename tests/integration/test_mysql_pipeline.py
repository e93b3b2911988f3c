"""Snapshot then streaming against real MariaDB 10.11 and MySQL 9.x: ops, before/after, source, tombstones."""

from __future__ import annotations

import json
from typing import Any

from engine_helpers import EngineThread, payloads, wait_for_records
from mysql_helpers import mysql_document, run_sql

from servers import MySQLFamilyServer


def test_snapshot_then_stream(binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str) -> None:
    db = binlog_database
    run_sql(
        binlog_server,
        db,
        "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, email VARCHAR(80))",
        "INSERT INTO customers VALUES (1, 'ann', 'a@x'), (2, 'bob', NULL)",
    )
    doc = mysql_document(binlog_server, kafka_broker.bootstrap_servers, db)
    topic = f"{doc['name']}.{db}.customers"
    with EngineThread(doc):
        records = wait_for_records(kafka_broker.bootstrap_servers, topic, 2)
        snap = payloads(records)
        assert [p["op"] for p in snap if p] == ["r", "r"]
        assert sorted(p["source"]["snapshot"] for p in snap if p) == ["first", "last"]
        run_sql(
            binlog_server,
            db,
            "INSERT INTO customers VALUES (3, 'cy', 'c@x')",
            "UPDATE customers SET name = 'bobby' WHERE id = 2",
            "DELETE FROM customers WHERE id = 1",
        )
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
    assert (src["connector"], src["name"], src["db"], src["table"]) == (
        binlog_server.flavor,
        doc["name"],
        db,
        "customers",
    )
    assert src["snapshot"] == "false" and src["file"].startswith("binlog.") and src["pos"] > 4
    assert src["server_id"] == binlog_server.server_id and src["row"] == 0
    assert src["gtid"] is not None
    if binlog_server.flavor == "mysql":
        assert isinstance(src["thread"], int)  # MariaDB logs no BEGIN query event with the thread id
    updated = by_key[2][1]
    assert updated is not None
    assert updated["before"] == {"id": 2, "name": "bob", "email": None}
    assert updated["after"] == {"id": 2, "name": "bobby", "email": None}
    deleted = by_key[1][1]
    assert deleted is not None and deleted["before"] == {"id": 1, "name": "ann", "email": "a@x"}
    assert deleted["after"] is None
