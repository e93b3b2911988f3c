"""Faults on the PostgreSQL side: fast and immediate restarts, and a network that stalls, resets and cuts.

The engine streams from a private cluster (``private_postgres``, restarted here) while a writer commits mixed
transactions; the writer rides through restarts (reconnecting, and looking up any COMMIT whose outcome a restart hid).
For the network faults the engine reaches PostgreSQL through a :class:`servers.proxy.TcpProxy`, the writer directly.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from fault_harness import FaultRun

from servers import PostgresServer
from servers.proxy import TcpProxy


def _seed() -> int | None:
    value = os.environ.get("CDC_TEST_SEED")
    return int(value) if value else None


def _restarts(
    mode: str, private_postgres: PostgresServer, kafka_broker: Any, private_database: str, tmp_path: Path
) -> None:
    with FaultRun(
        f"postgres {mode} restart x2",
        private_postgres,
        kafka_broker.bootstrap_servers,
        private_database,
        tmp_path,
        seed=_seed(),
    ) as run:
        run.create_table()
        run.start_engine()
        run.wait_streaming()
        run.writer.start()
        stops = []
        for _ in range(2):
            run.drain(run.rng.uniform(1.0, 3.0))
            begun = time.monotonic()
            # A fast shutdown waits for every walsender to have its client confirm what it was sent; 20 s is
            # ample for an engine that answers (pg_recvlogical: 0.1 s).
            private_postgres.restart(mode, timeout=20)
            stops.append(round(time.monotonic() - begun, 1))
            run.wait_streaming_again()
        run.drain(2.0)
        report = run.finish()
    report.notes.append(f"pg_ctl restart -m {mode} took {stops} s")
    print(report.line())
    assert "Traceback" not in run.engine.log()
    report.assert_clean()


def test_postgres_fast_restart(
    private_postgres: PostgresServer, kafka_broker: Any, private_database: str, tmp_path: Path
) -> None:
    """``pg_ctl restart -m fast`` twice while data flows: the shutdown completes (the engine confirms what it was
    sent), the engine reconnects, nothing is lost."""
    _restarts("fast", private_postgres, kafka_broker, private_database, tmp_path)


def test_postgres_immediate_restart(
    private_postgres: PostgresServer, kafka_broker: Any, private_database: str, tmp_path: Path
) -> None:
    """``pg_ctl restart -m immediate`` (a crash, WAL recovery on start) twice while data flows."""
    _restarts("immediate", private_postgres, kafka_broker, private_database, tmp_path)


def test_network_stall_reset_and_cut(
    private_postgres: PostgresServer, pg_proxy: TcpProxy, kafka_broker: Any, private_database: str, tmp_path: Path
) -> None:
    """Between the engine and PostgreSQL: a 3 s stall (no bytes either way, connections kept), a reset (RST to both
    ends of every connection), and a 5 s cut (reset, and new connections refused). After each the engine resumes
    from its stored offset; nothing is lost."""
    with FaultRun(
        "network stall/reset/cut",
        private_postgres,
        kafka_broker.bootstrap_servers,
        private_database,
        tmp_path,
        seed=_seed(),
        engine_port=pg_proxy.port,
    ) as run:
        run.create_table()
        run.start_engine()
        run.wait_streaming()
        run.writer.start()
        run.drain(1.5)
        pg_proxy.stall()
        run.drain(3.0)
        pg_proxy.resume()
        run.drain(1.5)
        reset = pg_proxy.reset()
        run.wait_streaming_again()
        run.drain(1.5)
        pg_proxy.refuse(True)
        cut = pg_proxy.reset()
        run.drain(5.0)
        pg_proxy.refuse(False)
        run.wait_streaming_again()
        run.drain(1.5)
        report = run.finish()
    report.notes.append(f"reset closed {reset} connections, the cut {cut}; {pg_proxy.accepted} accepted in all")
    print(report.line())
    assert reset >= 1 and cut >= 1
    assert "Traceback" not in run.engine.log()
    report.assert_clean()
