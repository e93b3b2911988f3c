"""PostgreSQL source → broker → JDBC sink into another PostgreSQL database, all real servers.

The target table must equal the source table after inserts, updates and deletes, after a replay from offset 0 (a
new consumer group reading everything again), and after the sink worker is killed with SIGKILL mid-batch and
restarted. The JSON records the source wrote also go through JsonConverter to_connect → from_connect and must come
back byte-identical.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from engine_helpers import EngineThread, connector_document, execute, read_topic, wait_streaming
from jdbc_helpers import SOURCE_DDL, insert_rows, table_rows
from sink_helpers import SinkThread, wait_until

from schemas.converters.connect_json import JsonConverter
from servers.engine import EngineProcess


def sink_config(kafka: str, target_dsn_parts: dict[str, Any], name: str, prefix: str, **extra: Any) -> dict[str, Any]:
    config = {
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "connection.url": (
            f"jdbc:postgresql://{target_dsn_parts['host']}:{target_dsn_parts['port']}/{target_dsn_parts['db']}"
        ),
        "connection.username": target_dsn_parts["user"],
        "connection.password": target_dsn_parts["password"],
        "topics.regex": f"{prefix}\\.public\\..*",
        "insert.mode": "upsert",
        "delete.enabled": "true",
        "primary.key.mode": "record_key",
        "schema.evolution": "basic",
        "table.name.format": "${source.table}",
        "consumer.override.session.timeout.ms": "6000",
        **extra,
    }
    return {
        "name": name,
        "config": config,
        "worker": {"bootstrap.servers": kafka, "offset.flush.interval.ms": 500},
    }


@pytest.fixture
def target_db(postgres_server: Any) -> Any:
    name = f"cdc_target_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(name)
    try:
        yield {
            "host": postgres_server.host,
            "port": postgres_server.port,
            "user": postgres_server.user,
            "password": postgres_server.password,
            "db": name,
            "dsn": postgres_server.dsn(name),
        }
    finally:
        postgres_server.drop_database(name)


def wait_equal(source_dsn: str, target_dsn: str, timeout: float = 90) -> None:
    expected: list[Any] = []

    def same() -> bool:
        expected[:] = table_rows(source_dsn, "items")
        try:
            return table_rows(target_dsn, "items") == expected
        except psycopg.errors.UndefinedTable:
            return False

    try:
        wait_until(same, timeout, what="target table equal to the source table")
    except AssertionError:
        try:
            target = table_rows(target_dsn, "items")
        except psycopg.errors.UndefinedTable:
            target = []
        diff = [(a, b) for a, b in zip(expected, target, strict=False) if a != b][:3]
        raise AssertionError(
            f"{len(expected)} source rows, {len(target)} target rows; first differences {diff}"
        ) from None


def test_postgres_to_postgres_inserts_updates_deletes_and_replay(
    postgres_server: Any, kafka_broker: Any, pg_database: str, target_db: dict[str, Any]
) -> None:
    kafka = kafka_broker.bootstrap_servers
    source_dsn = postgres_server.dsn(pg_database)
    execute(source_dsn, SOURCE_DDL)
    insert_rows(source_dsn, 1, 200)
    prefix = f"src{uuid.uuid4().hex[:6]}"
    source_doc = connector_document(postgres_server, kafka, pg_database, name=prefix)
    with EngineThread(source_doc):
        sink = SinkThread(sink_config(kafka, target_db, f"jdbc_{prefix}", prefix)).start()
        try:
            wait_equal(source_dsn, target_db["dsn"])  # snapshot
            insert_rows(source_dsn, 201, 100)
            execute(
                source_dsn,
                "UPDATE items SET name = name || ' v2', price = price + 1, doc = doc || '{\"u\": true}' "
                "WHERE id % 3 = 0",
                "UPDATE items SET ratio = NULL, day = NULL, raw = NULL WHERE id % 5 = 0",
                "UPDATE items SET id = id + 10000 WHERE id = 7",  # key change: delete + tombstone + create
                "DELETE FROM items WHERE id % 4 = 0",
                "BEGIN; UPDATE items SET qty = qty + 100 WHERE id < 50; DELETE FROM items WHERE id = 1; COMMIT",
            )
            wait_equal(source_dsn, target_db["dsn"])
        finally:
            sink.stop()
        assert sink.error is None

        # Replay from offset 0: a new group reads every record again into the same table; the rows must not change.
        before = table_rows(target_db["dsn"], "items")
        replay = SinkThread(sink_config(kafka, target_db, f"jdbc_replay_{prefix}", prefix)).start()
        try:
            wait_until(lambda: replay.runtime.records_put >= 300 + 200, 90, "the replay to read the topic")
            time.sleep(1.0)
        finally:
            replay.stop()
        assert table_rows(target_db["dsn"], "items") == before == table_rows(source_dsn, "items")

    # The target's column types come from the record schemas (schema.evolution=basic).
    with psycopg.connect(target_db["dsn"]) as conn:
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'items'"
            ).fetchall()
        )
    assert types["price"] == "numeric" and types["created"] == "timestamp with time zone"
    assert types["doc"] == "jsonb" and types["ident"] == "uuid" and types["raw"] == "bytea"
    assert types["local_ts"] == "timestamp without time zone" and types["at"] == "time without time zone"

    # What the source wrote survives JsonConverter to_connect → from_connect byte for byte.
    topic = f"{prefix}.public.items"
    records = read_topic(kafka, topic)
    assert records
    converter = JsonConverter()
    converter.configure({}, False)
    for key, value in records:
        for data in (key, value):
            schema, connect_value = converter.to_connect(topic, data, [])
            assert converter.from_connect(topic, schema, connect_value, []) == data


def test_sink_killed_mid_batch_resumes_without_loss(
    postgres_server: Any, kafka_broker: Any, pg_database: str, target_db: dict[str, Any], tmp_path: Path
) -> None:
    kafka = kafka_broker.bootstrap_servers
    source_dsn = postgres_server.dsn(pg_database)
    execute(source_dsn, SOURCE_DDL)
    insert_rows(source_dsn, 1, 3000)
    prefix = f"src{uuid.uuid4().hex[:6]}"
    source_doc = connector_document(postgres_server, kafka, pg_database, name=prefix)
    with EngineThread(source_doc):
        wait_streaming(postgres_server, source_doc)
        for i in range(5):
            execute(source_dsn, f"UPDATE items SET qty = qty + 1, name = 'round {i} ' || id WHERE id % 2 = {i % 2}")
        doc = sink_config(kafka, target_db, f"jdbc_{prefix}", prefix, **{"batch.size": "200"})
        first = EngineProcess(doc, tmp_path).start()
        try:
            # Kill as soon as rows arrive: the worker is in the middle of writing and committing batches.
            wait_until(lambda: _count(target_db["dsn"]) > 300, 90, "the first rows in the target")
            first.kill()
        finally:
            first.kill_if_running()
        assert table_rows(target_db["dsn"], "items") != table_rows(source_dsn, "items")  # really mid-way
        second = EngineProcess(doc, tmp_path).start()
        try:
            wait_equal(source_dsn, target_db["dsn"], timeout=120)
            assert second.terminate() == 0
        finally:
            second.kill_if_running()
    assert "stopped cleanly" in second.log()


def _count(dsn: str) -> int:
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT count(*) FROM items").fetchone()
            return int(row[0]) if row else 0
    except psycopg.errors.UndefinedTable:
        return 0


def test_two_workers_share_partitions_and_one_dies(
    postgres_server: Any, kafka_broker: Any, pg_database: str, target_db: dict[str, Any], tmp_path: Path
) -> None:
    kafka = kafka_broker.bootstrap_servers
    source_dsn = postgres_server.dsn(pg_database)
    execute(source_dsn, SOURCE_DDL)
    insert_rows(source_dsn, 1, 500)
    prefix = f"src{uuid.uuid4().hex[:6]}"
    source_doc = connector_document(postgres_server, kafka, pg_database, name=prefix)
    with EngineThread(source_doc):
        wait_streaming(postgres_server, source_doc)
        doc = sink_config(kafka, target_db, f"jdbc_{prefix}", prefix, **{"batch.size": "100"})
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        a = EngineProcess(doc, tmp_path / "a").start()
        b = EngineProcess(doc, tmp_path / "b").start()
        try:
            wait_equal(source_dsn, target_db["dsn"])
            # Both members own partitions of the topic (cooperative-sticky spreads them).
            assert "partitions assigned: src" in a.log() and "partitions assigned: src" in b.log(), (a.log(), b.log())
            for i in range(3):
                insert_rows(source_dsn, 1000 + i * 200, 200)
                execute(
                    source_dsn,
                    f"UPDATE items SET qty = qty + 1 WHERE id % 3 = {i}",
                    "DELETE FROM items WHERE id % 11 = 0",
                )
                if i == 0:
                    b.kill()  # dies without leaving the group: its partitions move after the session timeout
            wait_equal(source_dsn, target_db["dsn"], timeout=120)
            assert a.terminate() == 0
        finally:
            a.kill_if_running()
            b.kill_if_running()


def test_postgres_to_postgres_through_unwrap(
    postgres_server: Any, kafka_broker: Any, pg_database: str, target_db: dict[str, Any]
) -> None:
    """The flat-record path: ExtractNewRecordState on the sink, tombstones as deletes."""
    pytest.importorskip("sinks.transforms.chain")
    kafka = kafka_broker.bootstrap_servers
    source_dsn = postgres_server.dsn(pg_database)
    execute(source_dsn, SOURCE_DDL)
    insert_rows(source_dsn, 1, 100)
    prefix = f"src{uuid.uuid4().hex[:6]}"
    source_doc = connector_document(postgres_server, kafka, pg_database, name=prefix)
    unwrap = {
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "table.name.format": "items",
    }
    with EngineThread(source_doc):
        wait_streaming(postgres_server, source_doc)
        sink = SinkThread(sink_config(kafka, target_db, f"jdbc_{prefix}", prefix, **unwrap)).start()
        try:
            wait_equal(source_dsn, target_db["dsn"])
            execute(
                source_dsn,
                "UPDATE items SET name = 'flat ' || id WHERE id % 2 = 0",
                "DELETE FROM items WHERE id % 5 = 0",
            )
            wait_equal(source_dsn, target_db["dsn"])
        finally:
            sink.stop()


def test_validate_checks_the_target_database(postgres_server: Any, kafka_broker: Any, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from engine_helpers import REPO

    good = sink_config(
        kafka_broker.bootstrap_servers,
        {
            "host": postgres_server.host,
            "port": postgres_server.port,
            "user": postgres_server.user,
            "password": postgres_server.password,
            "db": "postgres",
        },
        "validate_me",
        "x",
    )
    bad = json.loads(json.dumps(good))
    bad["config"]["connection.password"] = "wrong-password"
    bad["config"]["connection.url"] = bad["config"]["connection.url"].replace("/postgres", "/no_such_db")
    results = []
    for name, doc in (("good", good), ("bad", bad)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc))
        results.append(
            subprocess.run(
                [sys.executable, "-m", "cdc.cli", "validate", "--config", str(path)],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
            )
        )
    assert results[0].returncode == 0, results[0].stdout + results[0].stderr
    assert "OK   connection" in results[0].stdout and "OK   kafka" in results[0].stdout
    assert results[1].returncode == 1 and "FAIL connection" in results[1].stdout
    assert "wrong-password" not in results[1].stdout + results[1].stderr
