"""SIGKILL the real engine process 5 times while a writer commits continuously: nothing committed is lost.

MariaDB 10.11 and MySQL 9.x. A writer thread commits small transactions (1-20 inserted rows, sometimes an update
and a delete of earlier rows, now and then a transaction of several hundred rows so that offsets are also stored
*inside* a transaction) and records every change only once its COMMIT returned. The engine (``cdc-engine start``
in a subprocess, offsets committed every 200 ms) is SIGKILLed at random moments and restarted at once. At the end
every committed change -- (id, op, version) -- must be in the topic. Duplicates are allowed (at-least-once).

Set ``CDC_TEST_SEED`` to replay a run's kill schedule and transaction mix (the seed is printed).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from engine_helpers import EngineProcess
from mysql_helpers import mysql_document, run_sql
from topic_tally import TopicTally, value_summary

from servers import MySQLFamilyServer

KILLS = 5

DDL = """
CREATE TABLE payments (
    id BIGINT PRIMARY KEY,
    account_id INT NOT NULL,
    amount DECIMAL(12, 2) NOT NULL,
    currency CHAR(3) NOT NULL,
    status VARCHAR(16) NOT NULL,
    version INT NOT NULL,
    created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
)
"""
INSERT = "INSERT INTO payments (id, account_id, amount, currency, status, version) VALUES (%s, %s, %s, %s, %s, 0)"
STATUSES = ("pending", "authorized", "captured", "refunded", "failed")


class Writer(threading.Thread):
    """Commits transactions until stopped; ``committed`` holds (id, op, version) of every committed change."""

    def __init__(self, server: MySQLFamilyServer, database: str, seed: int) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.database = database
        self.rng = random.Random(seed)
        self.committed: set[Hashable] = set()
        self.versions: dict[int, int] = {}
        self.transactions = 0
        self.large_transactions = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._live: list[int] = []
        self._next_id = 1

    def halt(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(30)

    def stop(self) -> None:
        self.halt()
        assert not self.is_alive(), "writer did not stop"
        if self.error is not None:
            raise self.error

    def run(self) -> None:
        try:
            conn = self.server.connect(self.database, autocommit=False)
            try:
                while not self._halt.is_set():
                    self._one_transaction(conn)
                    time.sleep(self.rng.uniform(0.01, 0.04))
            finally:
                conn.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread by stop()
            self.error = exc

    def _one_transaction(self, conn: Any) -> None:
        rng = self.rng
        large = rng.random() < 0.03
        n = rng.randint(300, 1500) if large else rng.randint(1, 20)
        ids = list(range(self._next_id, self._next_id + n))
        changes: list[tuple[int, str, int | None]] = []
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            cur.executemany(
                INSERT, [(i, rng.randint(1, 5000), rng.randint(100, 1_000_000) / 100, "EUR", "pending") for i in ids]
            )
            changes += [(i, "c", 0) for i in ids]
            if self._live and rng.random() < 0.3:
                target = rng.choice(self._live)
                cur.execute(
                    "UPDATE payments SET status = %s, amount = amount + 1, version = version + 1 WHERE id = %s",
                    (rng.choice(STATUSES), target),
                )
                version = self.versions.get(target, 0) + 1
                self.versions[target] = version
                changes.append((target, "u", version))
            if self._live and rng.random() < 0.15:
                deleted = self._live.pop(rng.randrange(len(self._live)))
                cur.execute("DELETE FROM payments WHERE id = %s", (deleted,))
                changes.append((deleted, "d", None))
            cur.execute("COMMIT")
        self.committed.update(changes)  # COMMIT returned: these changes must reach Kafka
        self._next_id += n
        self._live.extend(ids)
        self.transactions += 1
        self.large_transactions += large


def test_kill9_while_writing_loses_nothing(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    seed = int(os.environ.get("CDC_TEST_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    print(f"\n[{binlog_server.flavor} crash] seed {seed} (CDC_TEST_SEED={seed} replays the schedule)")
    run_sql(binlog_server, binlog_database, DDL)
    doc = mysql_document(binlog_server, kafka_broker.bootstrap_servers, binlog_database, **{"snapshot.mode": "no_data"})
    topic = f"{doc['name']}.{binlog_database}.payments"
    engine = EngineProcess(doc, tmp_path).start()
    writer = Writer(binlog_server, binlog_database, seed)
    tally: TopicTally | None = None
    kill_times: list[float] = []
    try:
        engine.wait_logged("streaming the binlog")
        writer.start()
        time.sleep(0.5)
        tally = TopicTally(kafka_broker.bootstrap_servers, topic, summary=value_summary)
        for k in range(KILLS):
            # Each kill lands while the engine streams: wait until this run logged that it streams, then a bit.
            deadline = time.monotonic() + 60
            while engine.log().count("streaming the binlog") < k + 1 and time.monotonic() < deadline:
                tally.drain(idle_s=0.1, max_s=0.1)
            delay = rng.uniform(0.2, 1.5)
            tally.drain(idle_s=delay, max_s=delay)
            engine.kill()
            kill_times.append(round(time.monotonic() - started, 1))
            engine.start()
        tally.drain(idle_s=2.0, max_s=2.0)
        writer.stop()
        expected = writer.committed
        tally.wait_until(lambda t: expected <= t.counts.keys(), 120, "every committed change in the topic")
        counts = engine.stop_and_drain(tally)
    finally:
        engine.kill_if_running()
        writer.halt()
        if tally is not None:
            tally.close()
    log = engine.log()
    missing = expected - counts.keys()
    unexpected = counts.keys() - expected
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    print(
        f"[{binlog_server.flavor} crash] {writer.transactions} transactions ({writer.large_transactions} large), "
        f"{len(expected)} committed changes; {KILLS} SIGKILLs at t={kill_times} s; "
        f"{log.count('resuming inside a transaction')} resumed inside a transaction; {sum(counts.values())} change "
        f"records: {len(missing)} missing, {len(unexpected)} unexpected, {duplicates} duplicates; "
        f"test {time.monotonic() - started:.1f}s"
    )
    assert not missing, f"{len(missing)} committed changes missing, e.g. {sorted(missing, key=str)[:10]}"
    assert not unexpected, f"records for changes never committed: {sorted(unexpected, key=str)[:10]}"
