"""Smoke tests for the throwaway servers in ``tests/servers.py``."""

from __future__ import annotations

import time
import uuid

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from servers import KafkaEndpoint, MySQLFamilyServer, PostgresEndpoint, free_port


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535


def test_postgres_roundtrip(postgres_server: PostgresEndpoint, pg_database: str) -> None:
    with psycopg.connect(postgres_server.dsn(pg_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO items VALUES (1, 'one'), (2, 'two')")
        rows = conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()
        assert rows == [(1, "one"), (2, "two")]
        wal_level = conn.execute("SHOW wal_level").fetchone()
        assert wal_level == ("logical",)


def test_postgres_logical_replication_ready(postgres_server: PostgresEndpoint, pg_database: str) -> None:
    """A logical slot can be created and decoded; replication connections are allowed."""
    dsn = postgres_server.dsn(pg_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        conn.execute("SELECT pg_create_logical_replication_slot('smoke_slot', 'test_decoding')")
        conn.execute("INSERT INTO t VALUES (42)")
        # synchronous_commit=off: the commit becomes decodable once flushed.
        seen: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            seen += [
                row[0] for row in conn.execute("SELECT data FROM pg_logical_slot_get_changes('smoke_slot', NULL, NULL)")
            ]
            if any("INSERT" in data and "42" in data for data in seen):
                break
            time.sleep(0.05)
        assert any("INSERT" in data and "42" in data for data in seen), seen
        # The slot is deliberately left behind: pg_database's teardown must drop it.

    # pg_hba must allow walsender (replication=database) connections.
    with psycopg.connect(dsn, replication="database", autocommit=True) as repl:
        result = repl.pgconn.exec_(b"IDENTIFY_SYSTEM")
        assert result.status == psycopg.pq.ExecStatus.TUPLES_OK
        assert result.ntuples == 1


def test_kafka_produce_consume(kafka_broker: KafkaEndpoint) -> None:
    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    bootstrap = kafka_broker.bootstrap_servers

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    # tansu auto-creates topics with several partitions: pin the partition.
    producer.produce(topic, key=b"k1", value=b"hello", partition=0)
    assert producer.flush(15) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            # librdkafka requires a group.id, but assign() never joins the group.
            "group.id": f"smoke-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + 20
        msg = None
        while time.monotonic() < deadline:
            candidate = consumer.poll(1.0)
            if candidate is None:
                continue
            assert candidate.error() is None, candidate.error()
            msg = candidate
            break
        assert msg is not None, "no message consumed within 20s"
        assert msg.key() == b"k1"
        assert msg.value() == b"hello"
    finally:
        consumer.close()


def test_binlog_server_ready_for_cdc(binlog_server: MySQLFamilyServer, binlog_database: str) -> None:
    """Each flavour runs with the binlog settings the connector needs, GTIDs, and the connector's account."""
    assert binlog_server.variable("log_bin") == "ON"
    assert binlog_server.variable("binlog_format") == "ROW"
    assert binlog_server.variable("binlog_row_image") == "FULL"
    assert binlog_server.variable("binlog_row_metadata") == "FULL"
    if binlog_server.flavor == "mysql":
        assert binlog_server.variable("gtid_mode") == "ON"
        assert binlog_server.version().startswith("9.")
    else:
        assert "MariaDB" in binlog_server.version()
        assert binlog_server.variable("gtid_domain_id") == "0"
    binlog_server.execute("CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)", database=binlog_database)
    file, pos = binlog_server.binlog_position()
    assert file.startswith("binlog.") and pos > 4
    conn = binlog_server.connect(binlog_database, admin=False)  # the connector's account can read
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM t")
            assert cur.fetchall() == ((1,),)
    finally:
        conn.close()
