"""Shared pytest fixtures: real PostgreSQL and Kafka-compatible servers.

Fixtures
--------
``postgres_server`` (session)
    A :class:`servers.PostgresEndpoint`: a throwaway
    :class:`servers.PostgresServer` started with ``wal_level=logical``, or an
    :class:`servers.ExternalPostgres` when ``$CDC_TEST_POSTGRES_DSN`` is set.
    Provides ``host``, ``port``, ``user``, ``password``, ``dsn(dbname)``,
    ``create_database(name)`` and ``drop_database(name)``.
``kafka_broker`` (session)
    A :class:`servers.KafkaEndpoint` with ``.bootstrap_servers``: a throwaway
    tansu broker, or ``$CDC_TEST_KAFKA_BOOTSTRAP`` when set.
``pg_database`` (function)
    The name (``str``) of a fresh, uniquely named database on
    ``postgres_server``; dropped afterwards together with any replication
    slots created in it.  Connect with ``postgres_server.dsn(pg_database)``.

``mariadb_server`` / ``mysql_server`` (session)
    A :class:`servers.MySQLFamilyServer`: a throwaway MariaDB 10.11 or Oracle MySQL 9.x server with the binlog
    in ROW format, full row images and metadata, and GTIDs. ``mysql_server`` is skipped, with the reason,
    when ``scripts/bootstrap.sh`` could not fetch MySQL 9.x from Debian's archive.
``private_mysql_server`` (function)
    The same as ``mysql_server``, for one test alone.
``binlog_server`` (session, parametrized ``mariadb`` / ``mysql``)
    Runs a test once against each flavour.
``binlog_database`` (function)
    The name of a fresh database on ``binlog_server``, dropped afterwards.

Markers
-------
``slow``
    Long-running tests; deselect with ``-m "not slow"``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from servers import (
    KafkaEndpoint,
    MariaDBServer,
    MySQLFamilyServer,
    MySQLServer,
    PostgresEndpoint,
    mysql_unavailable_reason,
    open_kafka,
    open_postgres,
)


def pytest_configure(config: pytest.Config) -> None:
    """Register custom markers."""
    config.addinivalue_line("markers", "slow: long-running test (deselect with '-m \"not slow\"')")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresEndpoint]:
    """Session-wide PostgreSQL server with ``wal_level=logical``."""
    with open_postgres(wal_level="logical") as server:
        yield server


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaEndpoint]:
    """Session-wide Kafka-compatible broker (object with ``.bootstrap_servers``)."""
    with open_kafka() as broker:
        yield broker


@pytest.fixture
def pg_database(postgres_server: PostgresEndpoint) -> Iterator[str]:
    """Create a fresh uniquely named database, yield its name, then drop it."""
    name = f"cdc_test_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(name)
    try:
        yield name
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MySQLFamilyServer]:
    """Session-wide MariaDB server (binlog ROW, full row image and metadata)."""
    server = MariaDBServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def running_mysql() -> Iterator[MySQLFamilyServer]:
    """A throwaway Oracle MySQL 9.x server for a fixture; skips the test with the reason when it is unavailable."""
    reason = mysql_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    server = MySQLServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[MySQLFamilyServer]:
    """Session-wide Oracle MySQL 9.x server with GTIDs; skipped with the reason when it is not available."""
    yield from running_mysql()


@pytest.fixture
def private_mysql_server() -> Iterator[MySQLFamilyServer]:
    """A MySQL 9.x server for one test alone (when what other tests leave on a shared one would matter)."""
    yield from running_mysql()


@pytest.fixture(scope="session", params=["mariadb", "mysql"])
def binlog_server(request: pytest.FixtureRequest) -> MySQLFamilyServer:
    """Each flavour in turn: the test runs against MariaDB and against MySQL."""
    server: MySQLFamilyServer = request.getfixturevalue(f"{request.param}_server")
    return server


@pytest.fixture
def binlog_database(binlog_server: MySQLFamilyServer) -> Iterator[str]:
    """A fresh uniquely named database on ``binlog_server``, dropped afterwards."""
    name = f"cdc_test_{uuid.uuid4().hex[:12]}"
    binlog_server.create_database(name)
    try:
        yield name
    finally:
        binlog_server.drop_database(name)
