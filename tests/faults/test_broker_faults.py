"""Faults on the Kafka side: the broker frozen for 30 s, and the offsets topic refusing writes while data flows.

Broker choice: tansu is memory-only and has no per-topic fault switch, so "the offsets topic's disk is unavailable"
is made by a Kafka-protocol-aware proxy in front of a private broker (:mod:`servers.kafka_proxy`): it answers the
Produce requests for ``connect-offsets`` with ``KAFKA_STORAGE_ERROR`` itself, as a broker with a failed log
directory does, and passes everything else through. The freeze is SIGSTOP/SIGCONT of the broker process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from fault_harness import FaultRun

from servers import TansuBroker
from servers.kafka_proxy import KafkaProxy

OFFSETS_TOPIC = "connect-offsets"


def _seed() -> int | None:
    value = os.environ.get("CDC_TEST_SEED")
    return int(value) if value else None


def test_broker_paused_30s(postgres_server: Any, private_broker: TansuBroker, pg_database: str, tmp_path: Path) -> None:
    """The broker is frozen (SIGSTOP) for 30 s while the writer keeps committing, then resumed (SIGCONT): the
    engine waits or restarts its pipeline, and catches up without losing anything."""
    with FaultRun(
        "broker paused 30s", postgres_server, private_broker.bootstrap_servers, pg_database, tmp_path, seed=_seed()
    ) as run:
        run.create_table()
        run.start_engine()
        run.wait_streaming()
        run.writer.start()
        run.drain(2.0)
        private_broker.pause()
        try:
            time.sleep(30)
        finally:
            private_broker.resume()
        run.drain(3.0)
        report = run.finish(catch_up_s=180)
    print(report.line())
    assert "Traceback" not in run.engine.log()
    report.assert_clean()


def test_offsets_topic_refuses_writes(
    postgres_server: Any, proxied_broker: KafkaProxy, pg_database: str, tmp_path: Path
) -> None:
    """For 12 s the broker refuses every write to the offsets topic (KAFKA_STORAGE_ERROR) while change records
    still flow: the engine cannot store its position, so it never confirms it to the slot; it restarts from the last
    stored offset (duplicates) and resumes normally once the topic takes writes again. Nothing is lost."""
    proxy = proxied_broker
    with FaultRun(
        "offsets topic refused 12s", postgres_server, proxy.bootstrap_servers, pg_database, tmp_path, seed=_seed()
    ) as run:
        run.create_table()
        run.start_engine()
        run.wait_streaming()
        run.writer.start()
        run.drain(2.0)
        proxy.refuse_produce(OFFSETS_TOPIC)
        stored_before = proxy.forwarded[OFFSETS_TOPIC]
        run.drain(12.0)
        stored_during = proxy.forwarded[OFFSETS_TOPIC] - stored_before
        proxy.allow(OFFSETS_TOPIC)
        run.drain(3.0)
        report = run.finish(catch_up_s=180)
    log = run.engine.log()
    restarts = log.count("restarting from the last stored offset")
    report.notes.append(f"{proxy.refused} offset writes refused, {restarts} pipeline restarts")
    print(report.line())
    assert proxy.refused > 0 and proxy.unparsed == 0
    assert stored_during == 0, "an offset record reached the broker while the offsets topic refused writes"
    assert stored_before > 0 and proxy.forwarded[OFFSETS_TOPIC] > stored_before, "offsets stored before and after"
    assert "Traceback" not in log
    report.assert_clean()
