"""Slot safety: an idle or filtered source does not hold WAL; a slot PostgreSQL invalidated stops the engine
with an actionable message (or re-snapshots with snapshot.mode=when_needed), never a retry loop.

``CDC_TEST_UNRELATED_WAL_MB`` sets how much unrelated WAL the retention test writes (``make test``: 128). The
full 1 GB of the requirement runs with ``make test-slot-wal`` (``CDC_TEST_SLOW=1``; about a minute of writes).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from engine_helpers import (
    EngineProcess,
    connector_document,
    execute,
    read_topic,
    wait_for,
    wait_for_records,
    wait_streaming,
)

from cdc.postgres.catalog import Catalog
from cdc.postgres.slot_health import SlotLostError, SlotWatch
from servers import PostgresServer

DEFAULT_FLUSH = {"offset.flush.interval.ms": 60000, "offset.storage.partitions": 1}
MB = 1024 * 1024


def _wal_lsn(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    assert row is not None
    return int(row[0])


def _slot_row(dsn: str, slot: str) -> tuple[Any, ...] | None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT wal_status, (pg_current_wal_lsn() - restart_lsn)::bigint, active FROM pg_replication_slots"
            " WHERE slot_name = %s",
            (slot,),
        ).fetchone()


def _write_unrelated(dsn: str, total_bytes: int) -> float:
    """Commit ~10 MB transactions into an uncaptured table until ``total_bytes`` of WAL were written; seconds."""
    started = time.monotonic()
    begin = _wal_lsn(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS noise (id bigserial PRIMARY KEY, pad text)")
        while _wal_lsn(dsn) - begin < total_bytes:
            conn.execute("INSERT INTO noise (pad) SELECT repeat(md5(g::text), 30) FROM generate_series(1, 8000) g")
            conn.execute("DELETE FROM noise")  # keep the table small; the WAL is what matters
    return time.monotonic() - started


def _retained_wal_stays_small(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path, mb: int
) -> None:
    dsn = postgres_server.dsn(pg_database)
    bootstrap = kafka_broker.bootstrap_servers
    execute(dsn, "CREATE TABLE captured (id int PRIMARY KEY)")
    doc = connector_document(
        postgres_server,
        bootstrap,
        pg_database,
        **{"snapshot.mode": "never", "table.include.list": "public.captured", "worker": DEFAULT_FLUSH},
    )
    slot = doc["config"]["slot.name"]
    engine = EngineProcess(doc, tmp_path).start()
    try:
        wait_streaming(postgres_server, doc)
        write_s = _write_unrelated(dsn, mb * MB)
        written_at = time.monotonic()
        peak = _slot_row(dsn, slot)
        retained: list[int] = []

        def small() -> bool:
            row = _slot_row(dsn, slot)
            assert row is not None
            retained.append(int(row[1]))
            return retained[-1] < 64 * MB

        wait_for(small, timeout=60, interval=1, what=f"slot {slot} to retain < 64 MB after {mb} MB of unrelated WAL")
        settle_s = time.monotonic() - written_at
        engine.wait_logged("retained WAL", timeout=10)
        code = engine.terminate(30)
    finally:
        engine.kill_if_running()
    assert code == 0, engine.log()
    assert read_topic(bootstrap, f"{doc['name']}.public.captured") == []
    assert peak is not None
    print(
        f"{mb} MB unrelated WAL written in {write_s:.1f}s; retained right after: {int(peak[1]) / MB:.1f} MB; "
        f"{retained[-1] / MB:.1f} MB after {settle_s:.1f}s"
    )


def test_filtered_writes_do_not_hold_wal(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    mb = int(os.environ.get("CDC_TEST_UNRELATED_WAL_MB", "128"))
    _retained_wal_stays_small(postgres_server, kafka_broker, pg_database, tmp_path, mb)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("CDC_TEST_SLOW"), reason="1 GB of WAL: make test-slot-wal (CDC_TEST_SLOW=1)")
def test_one_gigabyte_of_filtered_writes_does_not_hold_wal(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    _retained_wal_stays_small(postgres_server, kafka_broker, pg_database, tmp_path, 1024)


def _invalidate(pg: PostgresServer, dsn: str, slot: str) -> None:
    """Write past max_slot_wal_keep_size and checkpoint until PostgreSQL marks ``slot`` lost."""

    def lost() -> bool:
        _write_unrelated(dsn, 48 * MB)
        execute(dsn, "CHECKPOINT")
        row = _slot_row(dsn, slot)
        return row is not None and row[0] == "lost"

    wait_for(lost, timeout=90, interval=0, what=f"slot {slot} to be invalidated")


def test_lost_slot_stops_the_engine_or_resnapshots(kafka_broker: Any, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    with PostgresServer().start(extra_conf={"max_slot_wal_keep_size": "32MB"}) as pg:
        pg.create_database("shop")
        dsn = pg.dsn("shop")
        execute(dsn, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
        # A filtered publication: the unrelated WAL is not sent to the stopped engine, so the walsender can still
        # be terminated when its slot is invalidated (with a full socket it would wait for the client).
        props = {"table.include.list": "public.t", "publication.autocreate.mode": "filtered"}
        doc = connector_document(pg, bootstrap, "shop", **props)
        slot = doc["config"]["slot.name"]
        topic = f"{doc['name']}.public.t"

        # While running: the engine is stuck (SIGSTOP, as if blocked on a dead broker) and falls behind.
        engine = EngineProcess(doc, tmp_path).start()
        try:
            wait_for_records(bootstrap, topic, 2)
            wait_streaming(pg, doc)
            os.kill(engine.pid, signal.SIGSTOP)
            _invalidate(pg, dsn, slot)
            lost_at = time.monotonic()
            os.kill(engine.pid, signal.SIGCONT)
            assert engine.proc is not None
            code = engine.proc.wait(30)
            detect_s = time.monotonic() - lost_at
        finally:
            engine.kill_if_running()
        log = engine.log()
        assert code == 1, log
        assert "was invalidated by PostgreSQL (wal_status=lost)" in log and "max_slot_wal_keep_size" in log
        assert "snapshot.mode=when_needed" in log
        assert "Traceback" not in log
        assert detect_s < 10, f"lost slot noticed after {detect_s:.1f}s"

        # At start-up: fatal at once, no retry loop, the slot is left alone.
        (tmp_path / "second").mkdir()
        engine = EngineProcess(doc, tmp_path / "second").start()
        assert engine.proc is not None
        started = time.monotonic()
        try:
            code = engine.proc.wait(30)
        finally:
            engine.kill_if_running()
        log = engine.log()
        assert code == 1, log
        assert log.count("was invalidated by PostgreSQL") == 1 and "restarting" not in log
        print(
            f"lost slot: noticed {detect_s:.1f}s after invalidation while running; start-up refusal in "
            f"{time.monotonic() - started:.1f}s"
        )
        assert _slot_row(dsn, slot) is not None

        # The running check on its own (it also covers servers that do not end the stream of a lost slot).
        catalog = Catalog(dsn)
        try:
            with pytest.raises(SlotLostError, match="wal_status=lost"):
                SlotWatch(catalog, slot, "initial").check()
        finally:
            catalog.close()

        # snapshot.mode=when_needed: drop the lost slot, re-snapshot, stream again.
        doc["config"]["snapshot.mode"] = "when_needed"
        (tmp_path / "third").mkdir()
        engine = EngineProcess(doc, tmp_path / "third").start()
        try:
            wait_for(
                lambda: (
                    sum(1 for _, v in read_topic(bootstrap, topic) if v and json.loads(v)["payload"]["op"] == "r") >= 4
                ),
                60,
                what="a second snapshot",
            )
            wait_streaming(pg, doc)
            execute(dsn, "INSERT INTO t VALUES (3)")
            wait_for(
                lambda: any(v and json.loads(v)["payload"]["op"] == "c" for _, v in read_topic(bootstrap, topic)),
                30,
                what="streaming after the re-snapshot",
            )
            code = engine.terminate(30)
        finally:
            engine.kill_if_running()
        assert code == 0, engine.log()
        assert "dropping it and taking a new snapshot" in engine.log()
        row = _slot_row(dsn, slot)
        assert row is not None and row[0] != "lost"
