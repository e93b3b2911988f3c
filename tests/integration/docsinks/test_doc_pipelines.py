"""PostgreSQL → cdc-engine → broker → sink runtime → MongoDB and Elasticsearch, end to end.

Real PostgreSQL and broker (tansu); MongoDB and Elasticsearch from MONGODB_URI / ELASTICSEARCH_URL or the
stand-ins (see the session summary line). Covers inserts, updates and deletes, a replay from offset 0, out-of-order
delivery of one key, poison records in the dead-letter topic, a sink killed mid-batch, and the two Kafka Connect
configs of issue 9 with only their server address changed.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest

pytest.importorskip("sinks.runtime", reason="the sink runtime (issue 7) is not on this branch yet")

import orjson
from confluent_kafka import Producer
from docsink_records import Cluster
from engine_helpers import EngineThread, connector_document, execute, wait_streaming
from sink_helpers import SinkThread, wait_until

from cdc.kafka.reading import end_reading_consumer, messages_to_end
from servers.engine import EngineProcess

DDL = """
CREATE TABLE items (
    id int PRIMARY KEY, name text, price numeric(10,2), qty bigint, born date, seen timestamp(3),
    tags text[], blob bytea
);
INSERT INTO items VALUES
    (1, 'one', 1.10, 10, '2022-01-08', '2023-11-14 22:13:20.123', '{a,b}', '\\x0001fe'),
    (2, 'two', 2.20, 20, '2000-02-29', '1999-12-31 23:59:59.999', '{}', ''),
    (3, 'three', 3.30, 30, NULL, NULL, NULL, NULL);
"""
CHANGES = (
    "INSERT INTO items VALUES (4, 'four', 4.40, 40, '1970-01-01', '1970-01-01 00:00:00', '{x}', '\\xff')",
    "INSERT INTO items VALUES (5, 'five', 5.50, 50, NULL, NULL, NULL, NULL)",
    "UPDATE items SET name = 'ONE', price = 99999999.99, qty = 1099511627776 WHERE id = 1",
    "UPDATE items SET name = 'one again' WHERE id = 1",
    "UPDATE items SET tags = '{q}' WHERE id = 4",
    "DELETE FROM items WHERE id = 2",
    "DELETE FROM items WHERE id = 5",
)


def pg_rows(dsn: str) -> dict[int, dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return {r["id"]: r for r in conn.execute("SELECT * FROM items ORDER BY id")}


def expected_mongo(row: dict[str, Any]) -> dict[str, Any]:
    """What a reader of the MongoDB document gets back for a PostgreSQL row."""
    return {
        "_id": {"id": row["id"]},
        "id": row["id"],
        "name": row["name"],
        "price": row["price"],
        "qty": row["qty"],
        "born": None if row["born"] is None else dt.datetime.combine(row["born"], dt.time(), dt.UTC),
        "seen": None if row["seen"] is None else row["seen"].replace(tzinfo=dt.UTC),
        "tags": row["tags"],
        "blob": None if row["blob"] is None else bytes(row["blob"]),
        "_cdc_version": "any",
    }


def normalise_mongo(doc: dict[str, Any]) -> dict[str, Any]:
    from bson import Decimal128

    out = dict(doc)
    out["price"] = out["price"].to_decimal() if isinstance(out.get("price"), Decimal128) else out.get("price")
    out["blob"] = bytes(out["blob"]) if out.get("blob") is not None else None
    out["_cdc_version"] = "any" if isinstance(out.get("_cdc_version"), int) else out.get("_cdc_version")
    return out


def expected_es(row: dict[str, Any]) -> dict[str, Any]:
    import base64

    return {
        "id": row["id"],
        "name": row["name"],
        "price": float(row["price"]),
        "qty": row["qty"],
        "born": None if row["born"] is None else row["born"].isoformat(),
        # timestamp(3) is an io.debezium.time.Timestamp (milliseconds): ISO-8601 with 3 fraction digits.
        "seen": None if row["seen"] is None else row["seen"].isoformat(timespec="milliseconds") + "Z",
        "tags": row["tags"],
        "blob": None if row["blob"] is None else base64.b64encode(bytes(row["blob"])).decode(),
    }


def all_messages(bootstrap: str, topic: str) -> list[Any]:
    consumer = end_reading_consumer(bootstrap, f"read-{uuid.uuid4().hex[:6]}")
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions if topic in metadata.topics else {}
        return list(messages_to_end(consumer, topic, dict.fromkeys(partitions, 0), 30))
    finally:
        consumer.close()


def partition_count(bootstrap: str, topic: str) -> int:
    consumer = end_reading_consumer(bootstrap, f"meta-{uuid.uuid4().hex[:6]}")
    try:
        return len(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    finally:
        consumer.close()


def produce_raw(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes | None]], partition: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value in messages:
        producer.produce(topic, value, key, partition=partition)
    assert producer.flush(30) == 0


def worker(bootstrap: str) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap, "offset.flush.interval.ms": 300}


def mongo_sink(name: str, bootstrap: str, uri: str, db: str, topic: str, dlq: str) -> dict[str, Any]:
    return {
        "name": name,
        "config": {
            "connector.class": "com.mongodb.kafka.connect.MongoSinkConnector",
            "connection.uri": uri,
            "database": db,
            "collection": "items",
            "topics": topic,
            "change.data.capture.handler": "com.mongodb.kafka.connect.sink.cdc.debezium.rdbms.postgres.PostgresHandler",
            "change.data.capture.version.field": "_cdc_version",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.context.headers.enable": "true",
            "consumer.override.session.timeout.ms": "6000",
        },
        "worker": worker(bootstrap),
    }


def es_sink(name: str, bootstrap: str, url: str, topic: str, dlq: str) -> dict[str, Any]:
    return {
        "name": name,
        "config": {
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "connection.url": url,
            "topics": topic,
            "behavior.on.null.values": "ignore",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.context.headers.enable": "true",
            "consumer.override.session.timeout.ms": "6000",
        },
        "worker": worker(bootstrap),
    }


@pytest.fixture
def source(postgres_server: Any, kafka_broker: Any, pg_database: str) -> Iterator[dict[str, Any]]:
    """The items table captured into Kafka (snapshot of 3 rows, then the CHANGES streamed)."""
    dsn = postgres_server.dsn(pg_database)
    execute(dsn, DDL)
    doc = connector_document(postgres_server, kafka_broker.bootstrap_servers, pg_database)
    engine = EngineThread(doc).start()
    try:
        wait_streaming(postgres_server, doc)
        for statement in CHANGES:
            execute(dsn, statement)
        topic = f"{doc['config']['topic.prefix']}.public.items"
        # 3 snapshot reads + 7 changes + 2 tombstones.
        wait_until(lambda: len(all_messages(kafka_broker.bootstrap_servers, topic)) >= 12, 60, "change events")
        yield {"dsn": dsn, "topic": topic, "bootstrap": kafka_broker.bootstrap_servers}
    finally:
        engine.stop()


def run_until(document: dict[str, Any], done: Any, what: str, timeout: float = 90, show: Any = None) -> SinkThread:
    sink = SinkThread(document).start()
    try:
        try:
            wait_until(lambda: done(sink) or sink.error is not None, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; now: {show() if show else ''}") from None
        assert sink.error is None, sink.error
    finally:
        sink.stop()
    return sink


def test_pg_to_mongodb(source: dict[str, Any], mongodb_server: Any) -> None:
    bootstrap, topic = source["bootstrap"], source["topic"]
    db, dlq = f"pipe{uuid.uuid4().hex[:8]}", f"dlq-{uuid.uuid4().hex[:8]}"
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_server.uri, tz_aware=True)
    expected = {i: expected_mongo(r) for i, r in pg_rows(source["dsn"]).items()}

    def state() -> dict[int, dict[str, Any]]:
        return {d["_id"]["id"]: normalise_mongo(d) for d in client[db].items.find()}

    total = len(all_messages(bootstrap, topic))
    run_until(
        mongo_sink("mongo-a", bootstrap, mongodb_server.uri, db, topic, dlq),
        lambda s: state() == expected,
        "MongoDB documents equal to the PostgreSQL rows",
        show=lambda: (state(), expected),
    )
    assert sorted(state()) == [1, 3, 4]
    # Replay from offset 0 (a new consumer group): the same final documents.
    run_until(
        mongo_sink("mongo-b", bootstrap, mongodb_server.uri, db, topic, dlq),
        lambda s: s.runtime.records_consumed >= total,
        "replay from offset 0",
    )
    assert state() == expected
    # Out of order: the older events of key 1 arrive again, newest first, on another partition.
    key1 = [(m.key(), m.value()) for m in all_messages(bootstrap, topic) if m.key() and b'"id":1}' in m.key()]
    assert len(key1) == 3
    other = (all_messages(bootstrap, topic)[0].partition() + 1) % max(2, partition_count(bootstrap, topic))
    produce_raw(bootstrap, topic, list(reversed(key1)), other)
    run_until(
        mongo_sink("mongo-c", bootstrap, mongodb_server.uri, db, topic, dlq),
        lambda s: s.runtime.records_consumed >= total + 3,
        "out-of-order events",
    )
    assert state() == expected
    assert all_messages(bootstrap, dlq) == []
    client.close()


def test_pg_to_elasticsearch(source: dict[str, Any], elasticsearch_server: Any) -> None:
    bootstrap, topic = source["bootstrap"], source["topic"]
    dlq = f"dlq-{uuid.uuid4().hex[:8]}"
    cluster = Cluster(elasticsearch_server.url)
    index = topic.lower()
    expected = {str(i): expected_es(r) for i, r in pg_rows(source["dsn"]).items()}

    def state() -> dict[str, Any]:
        status, _ = cluster.get(f"{index}/_count")
        return cluster.all_docs(index) if status == 200 else {}

    total = len(all_messages(bootstrap, topic))
    run_until(
        es_sink("es-a", bootstrap, elasticsearch_server.url, topic, dlq),
        lambda s: state() == expected,
        "Elasticsearch documents equal to the PostgreSQL rows",
        show=lambda: (state(), expected),
    )
    versions = {i: cluster.doc(index, i)["_version"] for i in expected}  # type: ignore[index]
    assert all(v > 1000 for v in versions.values())  # LSNs, not Kafka offsets
    run_until(
        es_sink("es-b", bootstrap, elasticsearch_server.url, topic, dlq),
        lambda s: s.runtime.records_consumed >= total,
        "replay from offset 0",
    )
    assert state() == expected
    key1 = [(m.key(), m.value()) for m in all_messages(bootstrap, topic) if m.key() and b'"id":1}' in m.key()]
    other = (all_messages(bootstrap, topic)[0].partition() + 1) % max(2, partition_count(bootstrap, topic))
    produce_raw(bootstrap, topic, list(reversed(key1)), other)
    run_until(
        es_sink("es-c", bootstrap, elasticsearch_server.url, topic, dlq),
        lambda s: s.runtime.records_consumed >= total + 3,
        "out-of-order events",
    )
    assert state() == expected
    assert {i: cluster.doc(index, i)["_version"] for i in expected} == versions  # type: ignore[index]
    assert all_messages(bootstrap, dlq) == []


def test_pg_to_elasticsearch_after_unwrap(source: dict[str, Any], elasticsearch_server: Any) -> None:
    """The unwrap SMT (ExtractNewRecordState, deletes as tombstones) with add.fields=lsn: the LSN still versions
    the documents; behavior.on.null.values=delete removes deleted rows. RegexRouter names the index."""
    bootstrap, topic = source["bootstrap"], source["topic"]
    index = f"unwrapped-{uuid.uuid4().hex[:8]}"
    document = es_sink(f"es-u-{index}", bootstrap, elasticsearch_server.url, topic, f"dlq-{index}")
    document["config"].update(
        {
            "behavior.on.null.values": "delete",
            "transforms": "unwrap,route",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.unwrap.add.fields": "lsn",
            "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
            "transforms.route.regex": ".*",
            "transforms.route.replacement": index,
        }
    )
    cluster = Cluster(elasticsearch_server.url)
    expected = {str(i): expected_es(r) for i, r in pg_rows(source["dsn"]).items()}

    def state() -> dict[str, Any]:
        status, _ = cluster.get(f"{index}/_count")
        docs = cluster.all_docs(index) if status == 200 else {}
        return {i: {k: v for k, v in d.items() if k != "__lsn"} for i, d in docs.items()}

    run_until(
        document,
        lambda s: state() == expected,
        "unwrapped documents equal to the PostgreSQL rows",
        show=lambda: (state(), expected),
    )
    for doc_id in expected:
        stored = cluster.doc(index, doc_id)
        assert stored is not None and stored["_version"] == stored["_source"]["__lsn"]


def test_poison_records_go_to_the_dead_letter_topic(
    kafka_broker: Any, mongodb_server: Any, elasticsearch_server: Any
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, suffix = f"poison-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]
    key_schema = {"type": "struct", "fields": [{"type": "int32", "optional": False, "field": "id"}], "optional": False}
    row_schema = {
        "type": "struct",
        "optional": True,
        "name": "t.Value",
        "fields": [
            {"type": "int32", "optional": False, "field": "id"},
            {"type": "int64", "optional": True, "field": "n"},
            {
                "type": "bytes",
                "optional": True,
                "field": "d",
                "name": "org.apache.kafka.connect.data.Decimal",
                "version": 1,
                "parameters": {"scale": "0"},
            },
        ],
    }
    envelope_schema = {
        "type": "struct",
        "optional": False,
        "name": "t.Envelope",
        "fields": [
            {**row_schema, "field": "before"},
            {**row_schema, "field": "after"},
            {
                "type": "struct",
                "optional": False,
                "field": "source",
                "name": "io.debezium.connector.postgresql.Source",
                "fields": [{"type": "int64", "optional": True, "field": "lsn"}],
            },
            {"type": "string", "optional": False, "field": "op"},
        ],
    }
    import base64

    def event(i: int, n: Any, op: str = "c") -> tuple[bytes, bytes]:
        unscaled = 999
        d = base64.b64encode(unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)).decode()
        payload = {"before": None, "after": {"id": i, "n": n, "d": d}, "source": {"lsn": 1000 + i}, "op": op}
        return (
            orjson.dumps({"schema": key_schema, "payload": {"id": i}}),
            orjson.dumps({"schema": envelope_schema, "payload": payload}),
        )

    messages = [
        event(1, 1),
        (orjson.dumps({"schema": key_schema, "payload": {"id": 2}}), b"{not json"),
        event(3, 3, op="x"),
        event(4, 4),
    ]
    produce_raw(bootstrap, topic, messages, 0)
    dlq_m, dlq_e = f"dlq-m-{suffix}", f"dlq-e-{suffix}"
    db = f"poison{suffix}"
    run_until(
        mongo_sink(f"pm-{suffix}", bootstrap, mongodb_server.uri, db, topic, dlq_m),
        lambda s: s.runtime.records_consumed >= 4,
        "MongoDB sink",
    )
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_server.uri)
    assert sorted(d["id"] for d in client[db].items.find()) == [1, 4]
    dead = all_messages(bootstrap, dlq_m)
    assert len(dead) == 2
    headers = [dict(m.headers() or []) for m in dead]
    assert any(b"unknown Debezium operation" in h.get("__connect.errors.exception.message", b"") for h in headers)
    # Elasticsearch: a document the cluster rejects (n as text where the index maps a long).
    es_topic = f"{topic}-es"
    es_messages = [event(1, 1), (messages[1][0], b"{not json")]
    bad_key, bad_value = event(5, 5)
    bad = orjson.loads(bad_value)
    bad["schema"]["fields"][1]["fields"][1] = {"type": "string", "optional": True, "field": "n"}
    bad["payload"]["after"]["n"] = "not a number"
    es_messages += [(bad_key, orjson.dumps(bad)), event(6, 6)]
    produce_raw(bootstrap, es_topic, es_messages, 0)
    run_until(
        es_sink(f"pe-{suffix}", bootstrap, elasticsearch_server.url, es_topic, dlq_e),
        lambda s: s.runtime.records_consumed >= 4,
        "Elasticsearch sink",
    )
    assert sorted(Cluster(elasticsearch_server.url).all_docs(es_topic)) == ["1", "6"]
    dead = all_messages(bootstrap, dlq_e)
    assert len(dead) == 2
    messages_text = [dict(m.headers() or []).get("__connect.errors.exception.message", b"") for m in dead]
    assert any(b"parsing" in t and b"not a number" in t for t in messages_text), messages_text


# Enough rows that the kill after the first 200 documents lands mid-stream (3000 were sometimes all written first
# once the sinks wrote in the background); under Elasticsearch's default max_result_window (10000) for one search.
ROWS = 8000


@pytest.mark.parametrize("target", ["mongodb", "elasticsearch"])
def test_sink_killed_mid_batch_resumes_to_the_same_documents(
    target: str,
    postgres_server: Any,
    kafka_broker: Any,
    pg_database: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """SIGKILL the sink process while it writes 3000 rows, restart it: every row, each exactly once."""
    bootstrap = kafka_broker.bootstrap_servers
    dsn = postgres_server.dsn(pg_database)
    execute(dsn, "CREATE TABLE bulk (id int PRIMARY KEY, v text)")
    doc = connector_document(postgres_server, bootstrap, pg_database)
    topic = f"{doc['config']['topic.prefix']}.public.bulk"
    with EngineThread(doc):
        wait_streaming(postgres_server, doc)
        execute(dsn, f"INSERT INTO bulk SELECT g, 'v' || g FROM generate_series(1, {ROWS}) g")
        wait_until(lambda: len(all_messages(bootstrap, topic)) >= ROWS, 90, f"{ROWS} change events")
    name = f"kill{uuid.uuid4().hex[:8]}"
    if target == "mongodb":
        server = request.getfixturevalue("mongodb_server")
        sink_doc = mongo_sink(name, bootstrap, server.uri, name, topic, f"dlq-{name}")
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(server.uri)

        def count() -> int:
            return client[name].items.count_documents({})

        def documents() -> dict[int, str]:
            return {d["_id"]["id"]: d["v"] for d in client[name].items.find()}
    else:
        server = request.getfixturevalue("elasticsearch_server")
        sink_doc = es_sink(name, bootstrap, server.url, topic, f"dlq-{name}")
        sink_doc["config"]["batch.size"] = "100"
        cluster = Cluster(server.url)

        def count() -> int:
            status, body = cluster.get(f"{topic.lower()}/_count")
            return int(body["count"]) if status == 200 else 0

        def documents() -> dict[int, str]:
            _, body = cluster.get(f"{topic.lower()}/_search?size={ROWS + 1000}")
            return {int(h["_id"]): h["_source"]["v"] for h in body["hits"]["hits"]}

    sink_doc["config"]["consumer.override.max.poll.records"] = "200"
    first = EngineProcess(sink_doc, tmp_path).start()
    try:
        wait_until(lambda: count() >= 200, 90, "the first writes")
        first.kill()
    finally:
        first.kill_if_running()
    written_at_kill = count()
    second = EngineProcess(sink_doc, tmp_path).start()
    try:
        wait_until(lambda: count() >= ROWS, 120, f"all {ROWS} documents")
    finally:
        second.terminate()
    assert documents() == {i: f"v{i}" for i in range(1, ROWS + 1)}
    assert count() == ROWS
    if written_at_kill >= ROWS:
        pytest.skip("the sink finished before it was killed")


def test_issue_configs_run_unchanged(kafka_broker: Any, mongodb_server: Any, elasticsearch_server: Any) -> None:
    """Issue 9's two configs; only the server addresses differ (no host 'mongodb' / 'localhost:9200' here, and the
    MongoDB stand-in has no authentication)."""
    bootstrap = kafka_broker.bootstrap_servers
    mongo_doc = {
        "name": "mongo-sink",
        "config": {
            "connector.class": "com.mongodb.kafka.connect.MongoSinkConnector",
            "connection.uri": "mongodb://root:root@mongodb:27017",
            "database": "quickstart",
            "collection": "topicData",
            "topics": "taxi",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
        },
    }
    es_doc = {
        "name": "elasticsearch-sink-connector",
        "config": {
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "connection.url": "http://localhost:9200",
            "topics": "mysql-users",
            "key.ignore": "true",
            "schema.ignore": "true",
            "tasks.max": "1",
        },
    }
    mongo_doc["config"]["connection.uri"] = mongodb_server.uri
    es_doc["config"]["connection.url"] = elasticsearch_server.url
    rides = [{"ride_id": i, "fare": 10.5 + i, "zone": {"pickup": "JFK"}} for i in range(5)]
    produce_raw(bootstrap, "taxi", [(json.dumps(i).encode(), orjson.dumps(r)) for i, r in enumerate(rides)], 0)
    users_schema = {
        "type": "struct",
        "optional": False,
        "name": "mysql.users.Value",
        "fields": [
            {"type": "int32", "optional": False, "field": "id"},
            {"type": "string", "optional": True, "field": "email"},
        ],
    }
    users = [(None, orjson.dumps({"schema": users_schema, "payload": {"id": i, "email": f"u{i}@x"}})) for i in range(4)]
    produce_raw(bootstrap, "mysql-users", users, 0)
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_server.uri)
    client.quickstart.topicData.delete_many({})
    run_until(
        {**mongo_doc, "worker": worker(bootstrap)},
        lambda s: client.quickstart.topicData.count_documents({}) >= 5,
        "taxi rides in MongoDB",
    )
    docs = sorted(client.quickstart.topicData.find(), key=lambda d: d["ride_id"])
    assert [(d["ride_id"], d["fare"], d["zone"]) for d in docs] == [(r["ride_id"], r["fare"], r["zone"]) for r in rides]
    cluster = Cluster(elasticsearch_server.url)
    cluster.delete_index("mysql-users")

    def users_indexed() -> int:
        status, body = cluster.get("mysql-users/_count")
        return int(body["count"]) if status == 200 else 0

    run_until({**es_doc, "worker": worker(bootstrap)}, lambda s: users_indexed() >= 4, "users in Elasticsearch")
    assert cluster.all_docs("mysql-users") == {f"mysql-users+0+{i}": {"id": i, "email": f"u{i}@x"} for i in range(4)}
