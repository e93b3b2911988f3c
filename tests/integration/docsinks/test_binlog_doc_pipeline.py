"""MariaDB 10.11 / MySQL 9 → cdc-engine → broker → Elasticsearch and MongoDB sinks, versioned by binlog position.

The PostgreSQL pipelines (``test_doc_pipelines.py``) show that an LSN versions the documents; this file does the
same with the MySQL-family source, whose position is the binlog file, event position and row
(``sinks/source_position.py``): documents equal the source rows, their versions are binlog positions (not Kafka
offsets) and grow with later changes of a key, and older events of a key delivered again on another partition
never replace a newer document (Elasticsearch: external version conflicts; MongoDB: the version field filter).
Servers: as in ``conftest.py`` (stand-ins here, real ones from the environment).
"""

from __future__ import annotations

import uuid
from typing import Any

import pymongo
from docsink_records import Cluster
from engine_helpers import EngineThread, wait_for_records
from mysql_helpers import mysql_document, run_sql
from test_doc_pipelines import all_messages, partition_count, produce_raw, run_until, worker

from servers import MySQLFamilyServer

DDL = (
    "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2), qty BIGINT)",
    "INSERT INTO items VALUES (1, 'one', 1.10, 10), (2, 'two', 2.20, 20)",
)
CHANGES = (
    "INSERT INTO items VALUES (3, 'three', 3.30, 30)",
    "UPDATE items SET name = 'ONE', qty = 11 WHERE id = 1",
    "UPDATE items SET name = 'one again' WHERE id = 1",
    "DELETE FROM items WHERE id = 2",
)
EXPECTED = {
    1: {"id": 1, "name": "one again", "price": 1.1, "qty": 11},
    3: {"id": 3, "name": "three", "price": 3.3, "qty": 30},
}


def _capture(server: MySQLFamilyServer, bootstrap: str, database: str) -> str:
    """Snapshot + stream the items table; returns its topic once all 2 reads + 4 changes + 1 tombstone are in."""
    run_sql(server, database, *DDL)
    doc = mysql_document(server, bootstrap, database)
    topic = f"{doc['name']}.{database}.items"
    with EngineThread(doc):
        wait_for_records(bootstrap, topic, 2)
        run_sql(server, database, *CHANGES)
        wait_for_records(bootstrap, topic, 7, timeout=60)
    return topic


def _key1_again_on_another_partition(bootstrap: str, topic: str) -> None:
    messages = all_messages(bootstrap, topic)
    key1 = [(m.key(), m.value()) for m in messages if m.key() and b'"id":1}' in m.key()]
    assert len(key1) == 3  # snapshot read + two updates
    other = (messages[0].partition() + 1) % max(2, partition_count(bootstrap, topic))
    produce_raw(bootstrap, topic, list(reversed(key1)), other)


def test_binlog_source_to_elasticsearch_versioned_by_position(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str, elasticsearch_server: Any
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = _capture(binlog_server, bootstrap, binlog_database)
    cluster, index, dlq = Cluster(elasticsearch_server.url), topic.lower(), f"dlq-{uuid.uuid4().hex[:8]}"
    expected = {str(i): row for i, row in EXPECTED.items()}

    def state() -> dict[str, Any]:
        status, _ = cluster.get(f"{index}/_count")
        return cluster.all_docs(index) if status == 200 else {}

    def sink(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "config": {
                "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
                "connection.url": elasticsearch_server.url,
                "topics": topic,
                "behavior.on.null.values": "ignore",
                "errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": dlq,
                "consumer.override.session.timeout.ms": "6000",
            },
            "worker": worker(bootstrap),
        }

    total = len(all_messages(bootstrap, topic))
    run_until(sink(f"es-a-{index}"), lambda s: state() == expected, "documents equal the rows", show=state)
    versions = {i: cluster.doc(index, i)["_version"] for i in expected}  # type: ignore[index]
    # file << 43 | pos << 12 | row: far above any Kafka offset of this small topic.
    assert all(v > 1 << 43 for v in versions.values()), versions
    _key1_again_on_another_partition(bootstrap, topic)
    run_until(sink(f"es-b-{index}"), lambda s: s.runtime.records_consumed >= total + 3, "replay + out-of-order")
    assert state() == expected
    assert {i: cluster.doc(index, i)["_version"] for i in expected} == versions  # type: ignore[index]
    assert all_messages(bootstrap, dlq) == []


def test_binlog_source_to_mongodb_never_goes_back(
    binlog_server: MySQLFamilyServer, kafka_broker: Any, binlog_database: str, mongodb_server: Any
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = _capture(binlog_server, bootstrap, binlog_database)
    db, dlq = f"bin{uuid.uuid4().hex[:8]}", f"dlq-{uuid.uuid4().hex[:8]}"
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_server.uri)

    def state() -> dict[int, dict[str, Any]]:
        out = {}
        for d in client[db].items.find():
            row = {k: v for k, v in d.items() if k not in ("_id", "_cdc_version")}
            row["price"] = float(row["price"].to_decimal())
            out[d["_id"]["id"]] = row
        return out

    def sink(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "config": {
                "connector.class": "com.mongodb.kafka.connect.MongoSinkConnector",
                "connection.uri": mongodb_server.uri,
                "database": db,
                "collection": "items",
                "topics": topic,
                "change.data.capture.handler": "com.mongodb.kafka.connect.sink.cdc.debezium.rdbms.mysql.MysqlHandler",
                "change.data.capture.version.field": "_cdc_version",
                "errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": dlq,
                "consumer.override.session.timeout.ms": "6000",
            },
            "worker": worker(bootstrap),
        }

    try:
        total = len(all_messages(bootstrap, topic))
        run_until(sink(f"mongo-a-{db}"), lambda s: state() == EXPECTED, "documents equal the rows", show=state)
        versions = {d["_id"]["id"]: d["_cdc_version"] for d in client[db].items.find()}
        assert all(isinstance(v, int) and v > 1 << 43 for v in versions.values()), versions
        _key1_again_on_another_partition(bootstrap, topic)
        run_until(sink(f"mongo-b-{db}"), lambda s: s.runtime.records_consumed >= total + 3, "replay + out-of-order")
        assert state() == EXPECTED
        assert {d["_id"]["id"]: d["_cdc_version"] for d in client[db].items.find()} == versions
        assert all_messages(bootstrap, dlq) == []
    finally:
        client.close()
