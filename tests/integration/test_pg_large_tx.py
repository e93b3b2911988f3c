"""One 500,000-row transaction through the real engine process: every row arrives and memory stays bounded.

pgoutput (protocol 1) sends a transaction only once it commits, all of it at once; the engine must stream it
through librdkafka's bounded queue instead of holding it. The engine runs as the real CLI in a subprocess whose
RSS is sampled every 0.2 s with psutil.

Killing the engine inside a large transaction is a fault of the fault-injection suite
(``tests/faults/test_engine_kills.py``).

Second test: a 2M-row transaction on a table that is not captured keeps the replication connection alive (the
engine answers the server's status requests while it reads through changes that yield no records).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
from engine_helpers import EngineProcess, RssSampler, connector_document, streaming_only_connector
from topic_tally import TopicTally

ROWS = 500_000
# Peak RSS bound for the engine process. What it is made of: the interpreter with confluent-kafka, psycopg and
# the engine imported (~45 MB), librdkafka's producer queue, capped by the engine at 64 MiB of payload
# (queue.buffering.max.kbytes) plus per-message overhead and the batch being built in Python (max 2000 records).
# Measured: ~60 MB idle, ~90-135 MB peak. Holding the transaction instead (500k envelopes of ~3.5 KB with their
# schemas, 1.7 GB) would blow far past it, and so would an unbounded queue.
RSS_BOUND_MB = 300
FILTERED_ROWS = 2_000_000

DDL = """
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    amount numeric(12, 2) NOT NULL,
    status text NOT NULL,
    note text,
    created_at timestamptz NOT NULL
)
"""

BIG_INSERT = f"""
INSERT INTO orders (id, customer_id, amount, status, note, created_at)
SELECT g,
       (g::bigint * 7919 % 100000)::int,
       (g::bigint * 31 % 1000000) / 100.0,
       (ARRAY['new', 'paid', 'shipped', 'delivered', 'cancelled'])[1 + g % 5],
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'order note ' || md5(g::text) END,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, {ROWS}) AS g
"""


def test_500k_row_transaction_bounded_memory(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    dsn, doc = streaming_only_connector(
        postgres_server, kafka_broker, pg_database, DDL, worker={"offset.flush.interval.ms": 500}
    )
    topic = f"{doc['name']}.public.orders"
    engine = EngineProcess(doc, tmp_path).start()
    sampler = RssSampler()
    sampler.watch(engine.pid)
    try:
        engine.wait_logged_streaming()
        idle_rss_mb = psutil.Process(engine.pid).memory_info().rss / 1e6
        with psycopg.connect(dsn) as conn:
            conn.execute(BIG_INSERT)
        committed = time.monotonic()
        with TopicTally(kafka_broker.bootstrap_servers, topic) as tally:
            tally.wait_until(lambda t: t.distinct >= ROWS, 300, f"{ROWS} rows in {topic}")
            delivered = time.monotonic()
            counts = engine.stop_and_drain(tally)
            missing = sum(1 for i in range(1, ROWS + 1) if i not in counts)
            duplicates = tally.duplicates
            total = tally.total
            megabytes = tally.bytes / 1e6
    finally:
        engine.kill_if_running()
        sampler.stop()
    print(
        f"\n[large-tx] {ROWS} rows in one transaction: {total} records ({megabytes:.0f} MB), {missing} missing, "
        f"{duplicates} duplicates; "
        f"delivered {delivered - committed:.1f}s after COMMIT ({ROWS / (delivered - committed):.0f} rec/s); "
        f"engine RSS idle {idle_rss_mb:.0f} MB, peak {sampler.peak_mb:.0f} MB ({sampler.samples} samples, "
        f"bound {RSS_BOUND_MB} MB); test {time.monotonic() - started:.1f}s"
    )
    assert missing == 0
    assert duplicates == 0, "no restart happened, so there must be no duplicates"
    assert sampler.peak_mb < RSS_BOUND_MB, f"engine peak RSS {sampler.peak_mb:.0f} MB >= {RSS_BOUND_MB} MB"


def test_long_filtered_transaction_keeps_replication_alive(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    """A big transaction on a table outside ``table.include.list`` yields no records at all, so one ``poll`` reads
    through all of it. The server asks for a standby status when half of ``wal_sender_timeout`` passes without
    one; if that request is only answered when ``poll`` returns, the walsender kills the connection, the engine
    restarts from the stored offset and meets the same transaction again: it never gets past it. The timeout is
    lowered to 3 s for this database (60 s by default) so that the ~7 s it takes to read 2M changes shows it;
    before the fix this test times out, the engine reconnecting again and again."""
    started = time.monotonic()
    dsn = postgres_server.dsn(pg_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {pg_database} SET wal_sender_timeout = '3s'")
        conn.execute(DDL)
        conn.execute("CREATE TABLE audit_bulk (id bigint PRIMARY KEY, payload text NOT NULL)")
    doc = connector_document(
        postgres_server,
        kafka_broker.bootstrap_servers,
        pg_database,
        **{"snapshot.mode": "never", "table.include.list": "public.orders"},
    )
    topic = f"{doc['name']}.public.orders"
    engine = EngineProcess(doc, tmp_path).start()
    try:
        engine.wait_logged_streaming()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO audit_bulk SELECT g, md5(g::text) FROM generate_series(1, %s) AS g", (FILTERED_ROWS,)
            )
            conn.execute(BIG_INSERT.replace(str(ROWS), "1"))
        committed = time.monotonic()
        with TopicTally(kafka_broker.bootstrap_servers, topic) as tally:
            tally.wait_until(lambda t: t.distinct >= 1, 60, "the row committed after the filtered transaction")
        arrived = time.monotonic() - committed
        assert engine.terminate() == 0
    finally:
        engine.kill_if_running()
    log = engine.log()
    print(
        f"\n[filtered-tx] {FILTERED_ROWS} filtered changes read through with wal_sender_timeout=3s; next captured "
        f"row arrived {arrived:.1f}s after COMMIT; test {time.monotonic() - started:.1f}s"
    )
    assert "restarting from the last stored offset" not in log, log[-2000:]
