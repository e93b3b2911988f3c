"""One 500,000-row transaction through the real engine process: every row arrives and memory stays bounded.

pgoutput (protocol 1) sends a transaction only once it commits, all of it at once; the engine must stream it
through librdkafka's bounded queue instead of holding it. The engine runs as the real CLI in a subprocess whose
RSS is sampled every 0.2 s with psutil.

Second test: the engine is SIGKILLed in the middle of that transaction (after at least one offset commit that
lies *inside* it) and restarted. The restart replays the transaction and skips the ``events`` already stored, so
the duplicates must be exactly the records that reached Kafka after the last stored offset, and nothing may be
missing.

Third test: a 2M-row transaction on a table that is not captured keeps the replication connection alive (the
engine answers the server's status requests while it reads through changes that yield no records).
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
from engine_helpers import EngineProcess, connector_document, streaming_only_connector
from topic_tally import TopicTally

from cdc.kafka.offset_store import OffsetStore

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


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds in a thread; ``peak_mb`` is the maximum seen."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._proc: psutil.Process | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def watch(self, pid: int) -> None:
        self._proc = psutil.Process(pid)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            proc = self._proc
            if proc is None:
                continue
            try:
                rss = proc.memory_info().rss
            except psutil.Error:  # the process just exited (killed or stopped)
                continue
            self.peak = max(self.peak, rss)
            self.samples += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def peak_mb(self) -> float:
        return self.peak / 1e6


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


def test_500k_row_transaction_kill_mid_transaction(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    # Uncompressed records cap the engine at tansu's ingest rate (~40k rows/s): with lz4 (the default) it streams
    # the whole transaction before the tally below has consumed kill_at rows, and the kill lands after the commit.
    worker = {"offset.flush.interval.ms": 300, "producer.compression.type": "none"}
    dsn, doc = streaming_only_connector(postgres_server, kafka_broker, pg_database, DDL, worker=worker)
    topic = f"{doc['name']}.public.orders"
    store = OffsetStore(kafka_broker.bootstrap_servers, "connect-offsets", 1)
    engine = EngineProcess(doc, tmp_path).start()
    sampler = RssSampler()
    sampler.watch(engine.pid)
    kill_at = random.randint(ROWS // 5, ROWS * 3 // 5)
    tally: TopicTally | None = None
    try:
        engine.wait_logged_streaming()
        with psycopg.connect(dsn) as conn:
            conn.execute(BIG_INSERT)
        tally = TopicTally(kafka_broker.bootstrap_servers, topic)
        # Kill once ``kill_at`` rows reached Kafka: with offset commits every 300 ms, several offsets inside the
        # transaction have been stored by then.
        tally.wait_until(lambda t: t.distinct >= kill_at, 120, f"{kill_at} rows in {topic}", step_s=0.1)
        engine.kill()
        killed = time.monotonic()
        tally.drain(idle_s=2.0)
        at_kill = set(tally.counts)
        offset = store.read(doc["name"], doc["config"]["topic.prefix"])
        assert offset is not None
        events = int(offset.get("events") or 0)
        assert events > 0, f"no offset inside the transaction was stored before the kill: {offset}"
        engine = EngineProcess(doc, tmp_path).start()
        sampler.watch(engine.pid)
        tally.wait_until(lambda t: t.distinct >= ROWS, 300, f"{ROWS} rows in {topic}")
        delivered = time.monotonic()
        counts = engine.stop_and_drain(tally)
    finally:
        engine.kill_if_running()
        if tally is not None:
            tally.close()
        sampler.stop()
        store.close()
    duplicates = {i for i, c in counts.items() if c > 1}
    missing = sum(1 for i in range(1, ROWS + 1) if i not in counts)
    print(
        f"\n[large-tx kill] killed at {kill_at}+ rows: {len(at_kill)} rows in Kafka, stored offset events={events}; "
        f"after restart: {sum(counts.values())} records, {missing} missing, {len(duplicates)} duplicates "
        f"(in flight at the kill: {len(at_kill) - events}); caught up {delivered - killed:.1f}s after the kill; "
        f"engine peak RSS {sampler.peak_mb:.0f} MB; test {time.monotonic() - started:.1f}s"
    )
    assert f"skipping {events} delivered changes" in engine.log()
    assert missing == 0
    assert set(range(1, events + 1)) <= at_kill, "a stored offset covered records that were not in Kafka"
    # The restart skipped exactly the stored ``events``: what was re-sent is what Kafka got beyond them.
    assert duplicates == at_kill - set(range(1, events + 1))
    assert max(counts.values()) <= 2
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
