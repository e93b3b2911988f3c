"""Failure handling against real servers: a PostgreSQL restart under a running engine, fatal misconfiguration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
from engine_helpers import EngineProcess, EngineThread, connector_document, read_topic, wait_for

from servers import PostgresServer


def _ids(bootstrap: str, topic: str) -> set[int]:
    return {json.loads(k)["payload"]["id"] for k, v in read_topic(bootstrap, topic) if k and v}


def test_postgres_restart_is_retried_and_nothing_is_lost(kafka_broker: Any) -> None:
    with PostgresServer().start() as pg:
        pg.create_database("shop")
        dsn = pg.dsn("shop")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        doc = connector_document(pg, kafka_broker.bootstrap_servers, "shop")
        topic = f"{doc['name']}.public.t"
        with EngineThread(doc):
            with psycopg.connect(dsn, autocommit=True) as conn:
                for i in range(1, 51):
                    conn.execute("INSERT INTO t VALUES (%s, 'before restart')", (i,))
            wait_for(lambda: len(_ids(kafka_broker.bootstrap_servers, topic)) >= 50, 30, what="first 50 rows")
            pg.restart("fast")  # terminates the replication connection under the engine
            with psycopg.connect(dsn, autocommit=True) as conn:
                for i in range(51, 101):
                    conn.execute("INSERT INTO t VALUES (%s, 'after restart')", (i,))
            wait_for(
                lambda: _ids(kafka_broker.bootstrap_servers, topic) >= set(range(1, 101)),
                60,
                what="all 100 rows after the PostgreSQL restart",
            )


def test_wal_level_replica_is_fatal_with_actionable_message(kafka_broker: Any, tmp_path: Path) -> None:
    with PostgresServer().start(wal_level="replica") as pg:
        doc = connector_document(pg, kafka_broker.bootstrap_servers, "postgres")
        engine = EngineProcess(doc, tmp_path).start()
        assert engine.proc is not None
        code = engine.proc.wait(60)
        log = engine.log()
        assert code == 1
        assert "wal_level" in log and "logical" in log
        assert "Traceback" not in log
