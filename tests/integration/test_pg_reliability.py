"""Being a good citizen of PostgreSQL: fast shutdown under a streaming engine, nothing to replay after a clean stop.

These run with the default ``offset.flush.interval.ms`` (60 s), as users do: everything they check must happen
without waiting for a periodic offset commit.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from engine_helpers import (
    EngineProcess,
    connector_document,
    execute,
    read_topic,
    wait_for,
    wait_for_records,
    wait_streaming,
)

from servers import PostgresServer

DEFAULT_FLUSH = {"offset.flush.interval.ms": 60000, "offset.storage.partitions": 1}


class Writer(threading.Thread):
    """Inserts rows into ``t`` at about ``rate`` per second, reconnecting through server restarts."""

    def __init__(self, dsn: str, rate: float = 20.0) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.period = 1 / rate
        self.committed: set[int] = set()
        self.next_id = 1
        self.halt = threading.Event()

    def run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while not self.halt.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=2)
                conn.execute("INSERT INTO t VALUES (%s, 'x')", (self.next_id,))
                self.committed.add(self.next_id)
                self.next_id += 1
            except psycopg.Error:
                if conn is not None:
                    conn.close()
                conn = None
                self.next_id += 1  # the row may or may not have committed: never reuse its id
            self.halt.wait(self.period)
        if conn is not None:
            conn.close()


def _ids(bootstrap: str, topic: str) -> list[int]:
    return [json.loads(k)["payload"]["id"] for k, v in read_topic(bootstrap, topic) if k and v]


def test_fast_shutdown_completes_while_the_engine_streams(kafka_broker: Any, tmp_path: Path) -> None:
    """``pg_ctl -m fast`` must not wait for the engine: it stores its offset, confirms, then reconnects."""
    bootstrap = kafka_broker.bootstrap_servers
    with PostgresServer().start() as pg:
        pg.create_database("shop")
        dsn = pg.dsn("shop")
        execute(dsn, "CREATE TABLE t (id int PRIMARY KEY, v text)")
        doc = connector_document(pg, bootstrap, "shop", **{"snapshot.mode": "never", "worker": DEFAULT_FLUSH})
        topic = f"{doc['name']}.public.t"
        engine = EngineProcess(doc, tmp_path).start()
        writer = Writer(dsn)
        try:
            wait_streaming(pg, doc)
            writer.start()
            wait_for(lambda: len(_ids(bootstrap, topic)) >= 40, 60, what="the engine to stream 40 rows")
            began = time.monotonic()
            pg.restart("fast", timeout=30)  # ServerStartError ("server does not shut down") if the engine blocks it
            restart_s = time.monotonic() - began
            wait_for(lambda: engine.log().count("streaming from slot") >= 2, 90, what="the engine to resume streaming")
            time.sleep(2)
            writer.halt.set()
            writer.join(10)
            wait_for(
                lambda: set(_ids(bootstrap, topic)) >= writer.committed,
                60,
                what="every committed row after the restart",
            )
            stop_began = time.monotonic()
            code = engine.terminate(30)
            stop_s = time.monotonic() - stop_began
        finally:
            writer.halt.set()
            engine.kill_if_running()
        log = engine.log()
        assert code == 0, log
        assert "stopped cleanly" in log
        assert "Traceback" not in log
        print(f"pg_ctl restart -m fast with the engine streaming: {restart_s:.2f}s; SIGTERM to exit: {stop_s:.2f}s")
        assert restart_s < 15, f"fast restart took {restart_s:.1f}s"
        assert stop_s < 10, f"SIGTERM took {stop_s:.1f}s"


def test_clean_stop_before_the_first_periodic_commit_leaves_nothing_to_replay(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    """SIGTERM after the snapshot and some streamed changes, long before offset.flush.interval.ms: no duplicates."""
    dsn = postgres_server.dsn(pg_database)
    bootstrap = kafka_broker.bootstrap_servers
    execute(
        dsn,
        "CREATE TABLE t (id int PRIMARY KEY, v text)",
        "INSERT INTO t SELECT i, 'snap' FROM generate_series(1, 3) i",
    )
    doc = connector_document(postgres_server, bootstrap, pg_database, worker=DEFAULT_FLUSH)
    topic = f"{doc['name']}.public.t"

    engine = EngineProcess(doc, tmp_path).start()
    try:
        wait_for_records(bootstrap, topic, 3)
        wait_streaming(postgres_server, doc)
        execute(dsn, "INSERT INTO t VALUES (4, 'stream'), (5, 'stream')")
        wait_for_records(bootstrap, topic, 5)
    finally:
        code = engine.terminate()
    assert code == 0, engine.log()
    assert "stopped cleanly" in engine.log()

    engine = EngineProcess(doc, tmp_path).start()
    try:
        wait_streaming(postgres_server, doc)
        execute(dsn, "INSERT INTO t VALUES (6, 'second run')")
        wait_for(lambda: 6 in _ids(bootstrap, topic), what="row 6")
        time.sleep(1)  # a replay would arrive before or with row 6; give stragglers a moment anyway
    finally:
        code = engine.terminate()
    assert code == 0, engine.log()
    assert sorted(_ids(bootstrap, topic)) == [1, 2, 3, 4, 5, 6]  # zero records sent again
