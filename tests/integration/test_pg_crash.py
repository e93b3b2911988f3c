"""SIGKILL the real engine process again and again while a writer commits continuously: nothing committed is lost.

A writer thread commits small transactions (1-20 inserted rows, sometimes an update and a delete of earlier rows,
now and then a transaction of several hundred rows so that offsets are also stored *inside* a transaction) and
records every change only once its COMMIT returned. Meanwhile the engine (``cdc-engine start`` in a subprocess,
offsets committed every 200 ms) is SIGKILLed at random moments and restarted at once. At the end the writer stops,
the engine catches up and is stopped with SIGTERM, and every committed change -- (id, op, version) -- must be in
the topic. Duplicates are allowed (at-least-once) and reported.

Set ``CDC_TEST_SEED`` to replay a run's kill schedule and transaction mix (the seed is printed).
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import psycopg
from engine_helpers import EngineProcess, streaming_only_connector
from topic_tally import TopicTally, value_summary

KILLS = 6

DDL = """
CREATE TABLE payments (
    id bigint PRIMARY KEY,
    account_id integer NOT NULL,
    amount numeric(12, 2) NOT NULL,
    currency char(3) NOT NULL,
    status text NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT = "INSERT INTO payments (id, account_id, amount, currency, status, version) VALUES (%s, %s, %s, %s, %s, 0)"
UPDATE = "UPDATE payments SET status = %s, amount = amount + 1, version = version + 1 WHERE id = %s RETURNING version"
DELETE = "DELETE FROM payments WHERE id = %s"
STATUSES = ("pending", "authorized", "captured", "refunded", "failed")


class Writer(threading.Thread):
    """Commits transactions until stopped; ``committed`` holds (id, op, version) of every committed change."""

    def __init__(self, dsn: str, seed: int) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.rng = random.Random(seed)
        self.committed: set[Hashable] = set()
        self.transactions = 0
        self.large_transactions = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._live: list[int] = []  # inserted, not deleted
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
            with psycopg.connect(self.dsn) as conn:
                while not self._halt.is_set():
                    self._one_transaction(conn)
                    time.sleep(self.rng.uniform(0, 0.01))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread by stop()
            self.error = exc

    def _one_transaction(self, conn: psycopg.Connection[Any]) -> None:
        rng = self.rng
        large = rng.random() < 0.03
        n = rng.randint(300, 1500) if large else rng.randint(1, 20)
        ids = list(range(self._next_id, self._next_id + n))
        changes: list[tuple[int, str, int | None]] = []
        deleted: int | None = None
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                INSERT,
                [(i, rng.randint(1, 5000), rng.randint(100, 10_000_00) / 100, "EUR", "pending") for i in ids],
            )
            changes += [(i, "c", 0) for i in ids]
            if self._live and rng.random() < 0.3:
                target = rng.choice(self._live)
                cur.execute(UPDATE, (rng.choice(STATUSES), target))
                row = cur.fetchone()
                assert row is not None
                changes.append((target, "u", row[0]))
            if self._live and rng.random() < 0.15:
                deleted = self._live.pop(rng.randrange(len(self._live)))
                cur.execute(DELETE, (deleted,))
                changes.append((deleted, "d", None))
        # COMMIT returned: these changes are durable and must reach Kafka.
        self.committed.update(changes)
        self._next_id += n
        self._live.extend(ids)
        self.transactions += 1
        self.large_transactions += large


def test_kill9_while_writing_loses_nothing(
    postgres_server: Any, kafka_broker: Any, pg_database: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    seed = int(os.environ.get("CDC_TEST_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    print(f"\n[crash] seed {seed} (CDC_TEST_SEED={seed} replays the schedule)")
    dsn, doc = streaming_only_connector(
        postgres_server, kafka_broker, pg_database, DDL, worker={"offset.flush.interval.ms": 200}
    )
    topic = f"{doc['name']}.public.payments"
    engine = EngineProcess(doc, tmp_path).start()
    writer = Writer(dsn, seed)
    tally: TopicTally | None = None
    kill_times: list[float] = []
    try:
        engine.wait_logged_streaming()
        writer.start()
        tally = TopicTally(kafka_broker.bootstrap_servers, topic, summary=value_summary)
        for _ in range(KILLS):
            # Mostly a few seconds of running, sometimes a kill while the restarted engine is still starting up.
            delay = rng.uniform(0.2, 1.0) if rng.random() < 0.3 else rng.uniform(1.0, 5.0)
            tally.drain(idle_s=delay, max_s=delay)
            engine.kill()
            kill_times.append(round(time.monotonic() - started, 1))
            engine.start()
        tally.drain(idle_s=2.0, max_s=2.0)
        writer.stop()
        stopped_writing = time.monotonic()
        expected = writer.committed
        tally.wait_until(lambda t: expected <= t.counts.keys(), 60, "every committed change in the topic")
        caught_up = time.monotonic()
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
    duplicated_changes = sum(1 for c in counts.values() if c > 1)
    starts = log.count("starting connector")  # a kill during interpreter start-up comes before this line
    resumed_inside = len(re.findall(r"resuming inside transaction", log))
    print(
        f"[crash] {writer.transactions} transactions ({writer.large_transactions} large), {len(expected)} committed "
        f"changes; {KILLS} SIGKILLs at t={kill_times} s; {starts} of {KILLS + 1} engine starts logged, "
        f"{resumed_inside} resumed inside a transaction; {sum(counts.values())} change records in Kafka: "
        f"{len(missing)} missing, {len(unexpected)} unexpected, {duplicates} duplicates ({duplicated_changes} changes "
        f"delivered more than once); caught up {caught_up - stopped_writing:.1f}s after the writer stopped; "
        f"test {time.monotonic() - started:.1f}s"
    )
    assert not missing, f"{len(missing)} committed changes missing, e.g. {sorted(missing, key=str)[:10]}"
    assert not unexpected, f"records for changes never committed: {sorted(unexpected, key=str)[:10]}"
