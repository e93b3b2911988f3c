"""Fault: the engine process dies (SIGKILL) or is stopped (SIGTERM) at random and at chosen awkward moments.

After every kill the engine restarts at once from its stored offset; the topic must end up holding every committed
change in per-key order (duplicates allowed after a SIGKILL, none after a SIGTERM), and each restart may re-send only
what lay past its stored offset. Moments: while a writer commits mixed transactions continuously, during the
initial snapshot, inside a large transaction, while an offset record is being written, and right after a schema
change. Set ``CDC_TEST_SEED`` to replay a run's schedule (each test prints its seed).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from engine_helpers import RssSampler, wait_for
from fault_harness import TABLE, Change, FaultRun

from servers.kafka_proxy import KafkaProxy

KILLS = 5
OFFSETS_TOPIC = "connect-offsets"


def _seed() -> int | None:
    value = os.environ.get("CDC_TEST_SEED")
    return int(value) if value else None


def test_kill9_while_writing_loses_nothing(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    """SIGKILL at random moments (mostly a few seconds of running, sometimes during the restarted engine's start-up)
    while small and large transactions commit: nothing committed is lost, order per key holds."""
    with FaultRun(
        "kill -9 x5", postgres_server, kafka_broker.bootstrap_servers, pg_database, tmp_path, seed=_seed()
    ) as run:
        run.create_table()
        run.start_engine()
        run.wait_streaming()
        run.writer.start()
        for _ in range(KILLS):
            run.drain(run.rng.uniform(0.2, 1.0) if run.rng.random() < 0.3 else run.rng.uniform(1.0, 3.0))
            run.restart_cycle("kill")
        run.drain(2.0)
        report = run.finish()
    print(report.line())
    log = run.engine.log()
    print(f"[fault kill -9 x5] {log.count('resuming inside transaction')} restarts resumed inside a transaction")
    report.assert_clean()


def test_sigterm_at_random_moments_leaves_nothing_to_replay(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    """SIGTERM at random moments, including during start-up: each stop is clean (exit 0, final offset stored), so
    nothing lies past the stored offset and no restart re-sends anything."""
    with FaultRun(
        "SIGTERM x3", postgres_server, kafka_broker.bootstrap_servers, pg_database, tmp_path, seed=_seed()
    ) as run:
        run.create_table()
        run.start_engine()
        run.wait_streaming()
        run.writer.start()
        for _ in range(3):
            run.drain(run.rng.uniform(0.3, 3.0))
            run.restart_cycle("term")
        run.drain(1.0)
        report = run.finish()
    print(report.line())
    assert all(c.window == 0 for c in report.cycles), [c.offset for c in report.cycles]
    report.assert_clean(allow_duplicates=False)


def test_kill_during_snapshot(postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path) -> None:
    """SIGKILL twice and SIGTERM once while the initial snapshot is being read: the unfinished snapshot is redone
    (its rows are sent again) and every row, and every change made after it, arrives."""
    rows = 100_000
    initial = list(range(1, rows + 1))
    with FaultRun(
        "snapshot kills",
        postgres_server,
        kafka_broker.bootstrap_servers,
        pg_database,
        tmp_path,
        seed=_seed(),
        snapshot=True,
        props={"snapshot.fetch.size": 500},
        worker={"producer.compression.type": "none"},  # slower snapshot: room to kill inside it
        writer={"first_id": rows + 1, "live": initial},
    ) as run:
        run.create_table(rows)
        run.start_engine()
        run.open_tally()
        for how in ("kill", "term", "kill"):
            wait_for(lambda: f"snapshot of public.{TABLE} started" in run.run_log(), 60, 0.02, "the snapshot")
            time.sleep(run.rng.uniform(0.05, 0.5))
            assert "snapshot completed" not in run.run_log(), "the snapshot finished before the kill"
            run.restart_cycle(how)
        run.engine.wait_logged("snapshot completed", 120)
        run.wait_streaming()
        run.writer.start()
        run.drain(3.0)
        report = run.finish(base={i: [(i, "r", 0)] for i in initial})
    print(report.line())
    assert all(c.offset is None or c.offset.get("snapshot") for c in report.cycles)
    report.assert_clean()


def test_kill_and_sigterm_inside_large_transaction(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    """One 200,000-row transaction: SIGKILL once a third of it reached Kafka (offsets stored inside it), SIGTERM
    right after the restart (before the transaction is read up to the stored offset again), SIGTERM once two thirds
    reached Kafka. Restarts skip exactly the ``events`` stored and re-send exactly what was past them; the SIGTERM
    stops store their position inside the transaction, so nothing more is re-sent. Memory stays bounded."""
    rows = 200_000
    with FaultRun(
        "large transaction",
        postgres_server,
        kafka_broker.bootstrap_servers,
        pg_database,
        tmp_path,
        seed=_seed(),
        # Uncompressed records cap the engine at tansu's ingest rate (~40k rows/s): with lz4 (the default) it
        # streams the whole transaction before the tally has seen a third of it.
        worker={"offset.flush.interval.ms": 300, "producer.compression.type": "none"},
    ) as run:
        run.create_table()
        run.start_engine()
        sampler = RssSampler()
        sampler.watch(run.engine.pid)
        run.wait_streaming()
        with psycopg.connect(run.dsn) as conn:
            conn.execute(
                f"INSERT INTO {TABLE} (id, account_id, amount, status, version) "
                f"SELECT g, g % 5000, (g % 100000) / 100.0, 'pending', 0 FROM generate_series(1, {rows}) g"
            )
        tally = run.open_tally()
        # 1. SIGKILL once a third of the transaction is in Kafka.
        target = rows // 3 + run.rng.randint(0, rows // 10)
        tally.wait_until(lambda _t: len(run.log.seen) >= target, 180, f"{target} rows", step_s=0.1)
        kill = run.restart_cycle("kill")
        sampler.watch(run.engine.pid)
        events = int((kill.offset or {}).get("events") or 0)
        assert events > 0, f"no offset inside the transaction was stored before the kill: {kill.offset}"
        assert all((i, "c", 0) in run.log.seen for i in range(1, events + 1)), "offset covers rows not in Kafka"
        # 2. SIGTERM as soon as the restarted engine streams, before it has read the transaction up to the stored
        # offset again: the offset it stores on the way out must still point inside the transaction.
        run.wait_streaming()
        early = run.restart_cycle("term")
        sampler.watch(run.engine.pid)
        assert early.offset is not None and int(early.offset.get("events") or 0) >= events, (
            f"a stop before the resumed transaction was reached again lost the position inside it: {early.offset}"
        )
        events = int(early.offset["events"])
        run.wait_streaming()
        run.engine.wait_logged(f"skipping {events} delivered changes", 60)
        # 3. SIGTERM once two thirds are in Kafka: the stop stores its position inside the transaction.
        # (If the tally saw most of the transaction by now, the SIGTERM lands after it: it must still be clean.)
        target = min(rows, max(2 * rows // 3, len(run.log.seen) + rows // 10) + run.rng.randint(0, rows // 10))
        tally.wait_until(lambda _t: len(run.log.seen) >= target, 180, f"{target} rows", step_s=0.1)
        run.restart_cycle("term")
        sampler.watch(run.engine.pid)
        tally.wait_until(lambda t: len(run.log.seen) >= rows, 300, f"all {rows} rows")
        expected: dict[int, list[Change]] = {i: [(i, "c", 0)] for i in range(1, rows + 1)}
        report = run.finish(base=expected)
    sampler.stop()
    print(report.line() + f"; engine peak RSS {sampler.peak_mb:.0f} MB")
    kill, early, term = report.cycles
    # The kill may land right after a commit (window 0); whatever lay past the stored offset is re-sent exactly once.
    assert kill.resent + early.window == kill.window
    assert early.resent == early.window, "the restart re-sends exactly what lay past the stored offset"
    assert term.window == term.resent == 0, "the SIGTERM stop left something to replay"
    assert max(len(v) for v in run.log.sequences.values()) <= 2
    assert sampler.peak_mb < 300, f"engine peak RSS {sampler.peak_mb:.0f} MB"
    report.assert_clean()


def test_kill_during_offset_commit(
    postgres_server: Any, proxied_broker: KafkaProxy, pg_database: str, tmp_path: Path
) -> None:
    """The broker holds the engine's offset record (a slow commit) and the engine is SIGKILLed, then SIGTERMed,
    while it waits for the acknowledgement. The held record is then written anyway (a broker finishes a request
    whose client has gone). Either way the restart resumes without a gap, and the SIGTERM stop is clean."""
    proxy = proxied_broker
    with FaultRun(
        "kill during offset commit", postgres_server, proxy.bootstrap_servers, pg_database, tmp_path, seed=_seed()
    ) as run:
        run.create_table()
        run.start_engine()
        run.wait_streaming()
        run.writer.start()
        for how in ("kill", "term"):
            run.wait_streaming()
            run.drain(run.rng.uniform(0.5, 2.0))
            proxy.hold_produce(OFFSETS_TOPIC)
            assert proxy.holding.wait(30), "the engine wrote no offset record"
            threading.Timer(0.5, proxy.release).start()
            run.restart_cycle(how)
        run.drain(1.0)
        report = run.finish()
    print(report.line() + f"; {proxy.held} offset writes held")
    assert report.cycles[1].resent == 0, "the SIGTERM during a commit left something to replay"
    report.assert_clean()


def test_kill_right_after_schema_change(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    """ALTER TABLE ADD COLUMN while data flows, then SIGKILL (twice) or SIGTERM within 0.3 s: the restarted engine
    rebuilds the table's schema from the stream and the new columns appear in the records that follow."""
    with FaultRun(
        "schema change kills", postgres_server, kafka_broker.bootstrap_servers, pg_database, tmp_path, seed=_seed()
    ) as run:
        run.create_table()
        run.start_engine()
        run.wait_streaming()
        run.writer.start()
        added = []
        for n, how in enumerate(("kill", "term", "kill")):
            run.wait_streaming()
            run.drain(run.rng.uniform(0.5, 1.5))
            column = f"extra_{n}"
            run.writer.run_ddl(f"ALTER TABLE {TABLE} ADD COLUMN {column} integer NOT NULL DEFAULT {n}")
            added.append(column)
            time.sleep(run.rng.uniform(0, 0.3))
            run.restart_cycle(how)
        run.drain(1.0)
        report = run.finish()
    print(report.line())
    assert set(added) <= run.log.columns, f"columns added by ALTER TABLE missing from the records: {added}"
    report.assert_clean()
