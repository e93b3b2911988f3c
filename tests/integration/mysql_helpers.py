"""Helpers for the MySQL / MariaDB connector tests: connector documents and SQL on the server under test."""

from __future__ import annotations

import random
import uuid
from typing import Any

from servers import MySQLFamilyServer


def mysql_document(
    server: MySQLFamilyServer, kafka_bootstrap: str, database: str, name: str | None = None, **props: Any
) -> dict[str, Any]:
    """A full engine config for a connector capturing ``database`` as the ``cdc`` user (Debezium's privileges).

    ``props`` override connector properties (dotted names via ``**{"snapshot.mode": "never"}``); worker
    properties go in ``props["worker"]``.
    """
    name = name or f"my_{uuid.uuid4().hex[:8]}"
    worker = {"bootstrap.servers": kafka_bootstrap, "offset.flush.interval.ms": 200, "offset.storage.partitions": 1}
    worker.update(props.pop("worker", {}))
    config: dict[str, Any] = {
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector"
        if server.flavor == "mariadb"
        else "io.debezium.connector.mysql.MySqlConnector",
        "database.hostname": server.host,
        "database.port": server.port,
        "database.user": server.user,
        "database.password": server.password,
        "database.server.id": random.randint(1000, 2**31),
        "topic.prefix": name,
        "database.include.list": database,
        "schema.history.internal.kafka.topic": f"{name}.history",
    }
    config.update(props)
    return {"name": name, "config": config, "worker": worker}


def run_sql(server: MySQLFamilyServer, database: str, *statements: str) -> None:
    """Run statements as admin in ``database`` (autocommit each)."""
    server.execute(*statements, database=database)
