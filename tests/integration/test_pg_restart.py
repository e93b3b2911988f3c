"""Stop/restart, stored offsets, slot progress, heartbeats and a lost slot, against real PostgreSQL and Kafka."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
from engine_helpers import (
    REPO,
    EngineProcess,
    EngineThread,
    connector_document,
    execute,
    read_topic,
    wait_for,
    wait_for_records,
    wait_streaming,
)

from cdc.kafka.offset_store import OffsetStore
from cdc.postgres.replication import str_to_lsn

Record = tuple[bytes | None, bytes | None]


def _slot(postgres_server: Any, slot: str) -> tuple[bool, int] | None:
    """(active, confirmed_flush_lsn) of a replication slot (LSN 0 while it is being created), or None if absent."""
    with psycopg.connect(postgres_server.dsn("postgres"), autocommit=True) as conn:
        row = conn.execute(
            "SELECT active, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", (slot,)
        ).fetchone()
    return None if row is None else (bool(row[0]), 0 if row[1] is None else str_to_lsn(row[1]))


def _wait_inactive(postgres_server: Any, doc: dict[str, Any]) -> None:
    slot = doc["config"]["slot.name"]
    wait_for(
        lambda: _slot(postgres_server, slot) is not None and not _slot(postgres_server, slot)[0],  # type: ignore[index]
        timeout=30,
        interval=0.1,
        what=f"slot {slot} to be released",
    )


def _payloads(records: list[Record]) -> list[dict[str, Any]]:
    return [json.loads(v)["payload"] for _, v in records if v is not None]


def _stored_offset(kafka_broker: Any, doc: dict[str, Any]) -> dict[str, Any] | None:
    store = OffsetStore(kafka_broker.bootstrap_servers, doc["worker"].get("offset.storage.topic", "connect-offsets"))
    try:
        return store.read(doc["name"], doc["config"]["topic.prefix"])
    finally:
        store.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cdc.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def test_sigterm_then_restart_resumes_without_gaps_or_resnapshot(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    dsn = postgres_server.dsn(pg_database)
    bootstrap = kafka_broker.bootstrap_servers
    execute(
        dsn,
        "CREATE TABLE orders (id int PRIMARY KEY, status text)",
        "INSERT INTO orders SELECT i, 'new' FROM generate_series(1, 3) i",
    )
    doc = connector_document(postgres_server, bootstrap, pg_database)
    topic = f"{doc['name']}.public.orders"

    engine = EngineProcess(doc, tmp_path).start()
    try:
        wait_for_records(bootstrap, topic, 3)
        wait_streaming(postgres_server, doc)
        execute(dsn, "INSERT INTO orders VALUES (4, 'new'), (5, 'new')")
        wait_for_records(bootstrap, topic, 5)
    finally:
        code = engine.terminate()
    assert code == 0, engine.log()
    assert "stopped cleanly" in engine.log()
    _wait_inactive(postgres_server, doc)

    # `cdc-engine offsets` prints what the engine stored; the slot was confirmed up to the same position.
    shown = _cli("offsets", "--config", str(engine.config_path))
    assert shown.returncode == 0, shown.stderr
    printed = json.loads(shown.stdout)
    assert printed["key"] == [doc["name"], {"server": doc["config"]["topic.prefix"]}]
    stored = _stored_offset(kafka_broker, doc)
    assert stored is not None and printed["offset"] == stored
    assert "snapshot" not in stored  # streaming offset: the snapshot is done
    slot = _slot(postgres_server, doc["config"]["slot.name"])
    assert slot is not None
    assert slot[1] == stored["lsn"]
    last_stream_lsn = max(p["source"]["lsn"] for p in _payloads(read_topic(bootstrap, topic)) if p["op"] == "c")
    assert stored["lsn"] > last_stream_lsn

    # Changes made while the engine is down.
    execute(
        dsn,
        "INSERT INTO orders VALUES (6, 'new')",
        "UPDATE orders SET status = 'paid' WHERE id = 1",
        "DELETE FROM orders WHERE id = 2",
    )

    engine = EngineProcess(doc, tmp_path).start()
    try:
        wait_streaming(postgres_server, doc)
        execute(dsn, "INSERT INTO orders VALUES (7, 'after')")  # the last change: once it is there, all are
        wait_for(
            lambda: any(p["after"] and p["after"]["id"] == 7 for p in _payloads(read_topic(bootstrap, topic))),
            what="row 7",
        )
    finally:
        code = engine.terminate()
    assert code == 0, engine.log()

    records = read_topic(bootstrap, topic)
    events = sorted(
        (json.loads(k or b"null")["payload"]["id"], p["op"] if p else "tombstone")
        for k, p in ((k, None if v is None else json.loads(v)["payload"]) for k, v in records)
    )
    assert events == sorted(
        [
            (1, "r"),
            (2, "r"),
            (3, "r"),  # snapshot, exactly once
            (4, "c"),
            (5, "c"),  # streamed before the stop
            (6, "c"),
            (1, "u"),
            (2, "d"),
            (2, "tombstone"),  # made while stopped, delivered after the restart
            (7, "c"),
        ]
    )


def test_thread_stop_and_restart_then_slot_confirms_commits(
    postgres_server: Any, kafka_broker: Any, pg_database: str
) -> None:
    dsn = postgres_server.dsn(pg_database)
    bootstrap = kafka_broker.bootstrap_servers
    execute(dsn, "CREATE TABLE ledger (id int PRIMARY KEY, amount int)", "INSERT INTO ledger VALUES (1, 10)")
    doc = connector_document(postgres_server, bootstrap, pg_database)
    topic = f"{doc['name']}.public.ledger"
    slot_name = doc["config"]["slot.name"]

    engine = EngineThread(doc).start()
    wait_for_records(bootstrap, topic, 1)
    wait_streaming(postgres_server, doc)
    engine.stop()
    _wait_inactive(postgres_server, doc)

    execute(dsn, "INSERT INTO ledger VALUES (2, 20)")  # while stopped
    with EngineThread(doc):
        wait_streaming(postgres_server, doc)
        records = wait_for_records(bootstrap, topic, 2)
        slot = _slot(postgres_server, slot_name)
        assert slot is not None
        before = slot[1]
        execute(dsn, "INSERT INTO ledger VALUES (3, 30)")
        records = wait_for_records(bootstrap, topic, 3)
        change_lsn = max(p["source"]["lsn"] for p in _payloads(records))
        # The offset is stored (offset.flush.interval.ms=200), then confirmed to the slot.
        wait_for(
            lambda: (_slot(postgres_server, slot_name) or (False, 0))[1] > max(before, change_lsn),
            timeout=20,
            what="confirmed_flush_lsn to pass the last change",
        )
    payloads = _payloads(read_topic(bootstrap, topic))
    assert sorted((p["after"]["id"], p["op"]) for p in payloads) == [(1, "r"), (2, "c"), (3, "c")]


def test_heartbeats_and_idle_slot_advances(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    dsn = postgres_server.dsn(pg_database)
    bootstrap = kafka_broker.bootstrap_servers
    execute(dsn, "CREATE TABLE quiet (id int PRIMARY KEY)")
    props: dict[str, Any] = {"heartbeat.interval.ms": 500, "status.update.interval.ms": 500}
    doc = connector_document(postgres_server, bootstrap, pg_database, **props)
    prefix = doc["config"]["topic.prefix"]
    slot_name = doc["config"]["slot.name"]
    other_db = f"cdc_other_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(other_db)
    try:
        with EngineThread(doc):
            wait_streaming(postgres_server, doc)
            heartbeats = wait_for_records(bootstrap, f"__debezium-heartbeat.{prefix}", 2, timeout=20)
            slot = _slot(postgres_server, slot_name)
            assert slot is not None
            start_lsn = slot[1]
            # WAL the captured database never sees: it must not pin the slot.
            other = postgres_server.dsn(other_db)
            execute(other, "CREATE TABLE busy (id int)", "INSERT INTO busy SELECT generate_series(1, 1000)")
            with psycopg.connect(other, autocommit=True) as conn:
                row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
                assert row is not None
                target = str_to_lsn(row[0])
                conn.execute("INSERT INTO busy VALUES (0)")  # WAL beyond the target
            wait_for(
                lambda: (_slot(postgres_server, slot_name) or (False, 0))[1] >= target,
                timeout=20,
                what="confirmed_flush_lsn to advance past other-database WAL",
            )
        assert target > start_lsn
    finally:
        postgres_server.drop_database(other_db)

    assert read_topic(bootstrap, f"{prefix}.public.quiet") == []
    for key, value in heartbeats:
        assert key is not None and value is not None
        assert json.loads(key) == {
            "schema": {
                "type": "struct",
                "fields": [{"type": "string", "optional": False, "field": "serverName"}],
                "optional": False,
                "name": "io.debezium.connector.common.ServerNameKey",
                "version": 1,
            },
            "payload": {"serverName": prefix},
        }
        heartbeat = json.loads(value)
        assert heartbeat["schema"]["name"] == "io.debezium.connector.common.Heartbeat"
        assert list(heartbeat["payload"]) == ["ts_ms"] and heartbeat["payload"]["ts_ms"] > 1_600_000_000_000
    stamps = sorted(json.loads(v)["payload"]["ts_ms"] for _, v in heartbeats if v is not None)
    assert stamps[-1] - stamps[0] >= 400  # about one per heartbeat.interval.ms, not a burst


def test_missing_slot_after_stored_offset_is_fatal(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    dsn = postgres_server.dsn(pg_database)
    bootstrap = kafka_broker.bootstrap_servers
    execute(dsn, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    doc = connector_document(postgres_server, bootstrap, pg_database)  # default snapshot.mode=initial
    slot_name = doc["config"]["slot.name"]

    with EngineThread(doc):
        wait_for_records(bootstrap, f"{doc['name']}.public.t", 1)
        wait_streaming(postgres_server, doc)
    assert _stored_offset(kafka_broker, doc) is not None
    _wait_inactive(postgres_server, doc)
    execute(postgres_server.dsn("postgres"), f"SELECT pg_drop_replication_slot('{slot_name}')")

    engine = EngineProcess(doc, tmp_path).start()
    assert engine.proc is not None
    try:
        code = engine.proc.wait(60)
    except subprocess.TimeoutExpired:
        engine.kill()
        raise AssertionError(f"engine kept running without its slot:\n{engine.log()}") from None
    log = engine.log()
    assert code == 1, log
    assert f"replication slot '{slot_name}' does not exist" in log
    assert "snapshot.mode=when_needed" in log
    assert "Traceback" not in log
    assert _slot(postgres_server, slot_name) is None  # it did not silently recreate the slot
