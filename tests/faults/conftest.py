"""Fixtures of the fault-injection suite: private servers a test may restart, pause or put behind a proxy.

The session-wide ``postgres_server`` and ``kafka_broker`` (``tests/conftest.py``) are shared by every test, so faults
that restart or freeze a server get their own here. The harness (``fault_harness.py``) and the integration helpers
it reuses (``engine_helpers``, ``topic_tally``) are made importable.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers import PostgresServer, TansuBroker, free_port
from servers.kafka_proxy import KafkaProxy
from servers.proxy import TcpProxy

for _path in (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1] / "integration"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of this test module only (restarted by its tests).

    ``synchronous_commit=on``: the shared test server turns it off for speed, but then an immediate shutdown (a
    crash) loses transactions whose COMMIT had returned, and the writer's ledger would count them as lost.
    """
    with PostgresServer().start(extra_conf={"synchronous_commit": "on"}) as server:
        yield server


@pytest.fixture
def private_database(private_postgres: PostgresServer) -> Iterator[str]:
    """A fresh database on ``private_postgres``."""
    name = f"fault_{uuid.uuid4().hex[:10]}"
    private_postgres.create_database(name)
    try:
        yield name
    finally:
        private_postgres.drop_database(name)


@pytest.fixture
def pg_proxy(private_postgres: PostgresServer) -> Iterator[TcpProxy]:
    """A TCP proxy in front of ``private_postgres`` (the engine connects through it)."""
    with TcpProxy(private_postgres.host, private_postgres.port).start() as proxy:
        yield proxy


@pytest.fixture
def private_broker() -> Iterator[TansuBroker]:
    """A tansu broker of this test only (paused by it)."""
    with TansuBroker().start() as broker:
        yield broker


@pytest.fixture
def proxied_broker() -> Iterator[KafkaProxy]:
    """A tansu broker reachable only through a :class:`KafkaProxy` (it advertises the proxy's port)."""
    port = free_port()
    with TansuBroker(advertised_port=port).start() as broker, KafkaProxy(broker.host, broker.port, port) as proxy:
        yield proxy
