"""Throwaway real servers for the demo, the benchmarks and the tests, one module per server kind.

- :mod:`servers.postgres`: a private PostgreSQL cluster with ``wal_level=logical`` (or ``$CDC_TEST_POSTGRES_DSN``);
- :mod:`servers.mariadb`: a private MariaDB server (``mariadb-install-db``), binlog ROW/FULL/FULL, GTIDs;
- :mod:`servers.mysql`: a private Oracle MySQL 9.x server (fetched by ``scripts/bootstrap.sh``), GTIDs on;
- :mod:`servers.kafka`: the memory-only, Kafka-compatible tansu broker (or ``$CDC_TEST_KAFKA_BOOTSTRAP``);
- :mod:`servers.proxy`: a TCP proxy that stalls, resets and cuts connections (network faults);
- :mod:`servers.kafka_proxy`: a Kafka-protocol-aware proxy that refuses or holds Produce requests per topic;
- :mod:`servers.common`: free ports, temp dirs and the stop-at-exit safety net they share.

Product code (``cdc/demo.py``) and ``bench/`` import this package; it never imports ``tests/``.

Typical use::

    with PostgresServer().start() as pg, TansuBroker().start() as kafka:
        conn = psycopg.connect(pg.dsn())
"""

from servers.common import ENV_KEEP_DIRS, ServerStartError, free_port
from servers.kafka import (
    ENV_KAFKA_BOOTSTRAP,
    ExternalKafka,
    KafkaEndpoint,
    TansuBroker,
    TansuNotFoundError,
    find_tansu_binary,
    kafka_bootstrap,
    open_kafka,
)
from servers.mariadb import MariaDBNotFoundError, MariaDBServer
from servers.mysql import MySQLNotFoundError, MySQLServer, mysql_unavailable_reason
from servers.mysqlbase import MySQLFamilyServer
from servers.postgres import (
    ENV_PG_BINDIR,
    ENV_POSTGRES_DSN,
    ExternalPostgres,
    PostgresEndpoint,
    PostgresNotFoundError,
    PostgresServer,
    find_postgres_bindir,
    open_postgres,
)

__all__ = [
    "ENV_KAFKA_BOOTSTRAP",
    "ENV_KEEP_DIRS",
    "ENV_PG_BINDIR",
    "ENV_POSTGRES_DSN",
    "ExternalKafka",
    "ExternalPostgres",
    "KafkaEndpoint",
    "MariaDBNotFoundError",
    "MariaDBServer",
    "MySQLFamilyServer",
    "MySQLNotFoundError",
    "MySQLServer",
    "PostgresEndpoint",
    "PostgresNotFoundError",
    "PostgresServer",
    "ServerStartError",
    "TansuBroker",
    "TansuNotFoundError",
    "find_postgres_bindir",
    "find_tansu_binary",
    "free_port",
    "kafka_bootstrap",
    "mysql_unavailable_reason",
    "open_kafka",
    "open_postgres",
]
