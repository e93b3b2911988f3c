"""Avro end to end, as users consume it: the PostgreSQL source writes Confluent Avro (AvroConverter, in-process mock
Schema Registry), confluent-kafka's AvroDeserializer reads the topic, and the JDBC sink reads it back into another
PostgreSQL database, which then equals the source table.

The registry is confluent-kafka's ``mock://`` client, shared in-process by source, consumer and sink (no Schema
Registry server can be installed here). ``SCHEMA_REGISTRY_URL`` runs the same test against a real registry.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import psycopg
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from engine_helpers import EngineThread, connector_document, execute, read_topic, wait_streaming
from jdbc_helpers import SOURCE_DDL, insert_rows, table_rows
from sink_helpers import SinkThread, wait_until

from schemas.converters.avro import registry_client


def test_source_writes_avro_consumers_and_the_sink_read_it(
    postgres_server: Any, kafka_broker: Any, pg_database: str
) -> None:
    kafka = kafka_broker.bootstrap_servers
    registry = os.environ.get("SCHEMA_REGISTRY_URL") or f"mock://avro-{uuid.uuid4().hex[:8]}"
    avro = {
        "key.converter": "io.confluent.connect.avro.AvroConverter",
        "key.converter.schema.registry.url": registry,
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": registry,
    }
    source_dsn = postgres_server.dsn(pg_database)
    execute(source_dsn, SOURCE_DDL)
    insert_rows(source_dsn, 1, 50)
    prefix = f"avro{uuid.uuid4().hex[:6]}"
    source_doc = connector_document(postgres_server, kafka, pg_database, name=prefix, worker=dict(avro))
    target = f"cdc_target_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(target)
    target_dsn = postgres_server.dsn(target)
    try:
        with EngineThread(source_doc):
            wait_streaming(postgres_server, source_doc)
            execute(source_dsn, "UPDATE items SET price = price * 2 WHERE id % 2 = 0", "DELETE FROM items WHERE id = 3")
            topic = f"{prefix}.public.items"

            # A plain confluent-kafka consumer with AvroDeserializer reads what the source wrote.
            deserializer = AvroDeserializer(registry_client({"url": registry}))
            records: list[Any] = []

            def all_there() -> bool:
                records[:] = read_topic(kafka, topic)
                return len(records) >= 50 + 25 + 2  # snapshot, updates, delete + tombstone

            wait_until(all_there, 60, "the source's Avro records")
            values = [
                deserializer(v, SerializationContext(topic, MessageField.VALUE)) for _, v in records if v is not None
            ]
            keys = [deserializer(k, SerializationContext(topic, MessageField.KEY)) for k, _ in records]
            assert all(k is not None and set(k) == {"id"} for k in keys)
            creates = {v["after"]["id"]: v["after"] for v in values if v["op"] == "r"}
            assert creates[4]["name"] == "item 4" and str(creates[4]["price"]) == "5.00"
            assert {v["op"] for v in values} == {"r", "u", "d"}
            assert records[0][1] is not None and records[0][1][0] == 0  # Confluent wire format: magic byte 0

            sink_doc = {
                "name": f"jdbc_{prefix}",
                "config": {
                    "connector.class": "jdbc",
                    "connection.url": f"jdbc:postgresql://{postgres_server.host}:{postgres_server.port}/{target}",
                    "connection.username": postgres_server.user,
                    "connection.password": postgres_server.password,
                    "topics": topic,
                    "insert.mode": "upsert",
                    "delete.enabled": "true",
                    "primary.key.mode": "record_key",
                    "schema.evolution": "basic",
                    "table.name.format": "${source.table}",
                    "consumer.override.session.timeout.ms": "6000",
                    **avro,
                },
                "worker": {"bootstrap.servers": kafka, "offset.flush.interval.ms": 500},
            }
            sink = SinkThread(sink_doc).start()
            try:

                def equal() -> bool:
                    try:
                        return table_rows(target_dsn, "items") == table_rows(source_dsn, "items")
                    except psycopg.errors.UndefinedTable:
                        return False

                wait_until(equal, 90, "the target table to equal the source")
            finally:
                sink.stop()
    finally:
        postgres_server.drop_database(target)


def test_source_unwrap_and_avro_into_the_jdbc_sink(postgres_server: Any, kafka_broker: Any, pg_database: str) -> None:
    """The usual set-up: transforms=unwrap on the source, Avro on the wire, the JDBC sink writing flat rows
    (tombstones from unwrap delete)."""
    kafka = kafka_broker.bootstrap_servers
    registry = os.environ.get("SCHEMA_REGISTRY_URL") or f"mock://unwrap-{uuid.uuid4().hex[:8]}"
    avro = {
        "key.converter": "avro",
        "key.converter.schema.registry.url": registry,
        "value.converter": "avro",
        "value.converter.schema.registry.url": registry,
    }
    source_dsn = postgres_server.dsn(pg_database)
    execute(source_dsn, SOURCE_DDL)
    insert_rows(source_dsn, 1, 40)
    prefix = f"flat{uuid.uuid4().hex[:6]}"
    source_doc = connector_document(
        postgres_server,
        kafka,
        pg_database,
        name=prefix,
        worker=dict(avro),
        **{"transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState"},
    )
    target = f"cdc_target_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(target)
    target_dsn = postgres_server.dsn(target)
    try:
        with EngineThread(source_doc):
            wait_streaming(postgres_server, source_doc)
            execute(source_dsn, "UPDATE items SET name = 'renamed' WHERE id < 10", "DELETE FROM items WHERE id % 7 = 0")
            topic = f"{prefix}.public.items"
            records: list[Any] = []

            def some() -> bool:
                records[:] = read_topic(kafka, topic)
                return len(records) >= 40

            wait_until(some, 60, "the source's records")
            deserializer = AvroDeserializer(registry_client({"url": registry}))
            first = deserializer(records[0][1], SerializationContext(topic, MessageField.VALUE))
            assert set(first) >= {"id", "name", "price"} and "after" not in first  # flat rows, not envelopes
            sink_doc = {
                "name": f"jdbc_{prefix}",
                "config": {
                    "connector.class": "jdbc",
                    "connection.url": f"jdbc:postgresql://{postgres_server.host}:{postgres_server.port}/{target}",
                    "connection.username": postgres_server.user,
                    "connection.password": postgres_server.password,
                    "topics": topic,
                    "insert.mode": "upsert",
                    "delete.enabled": "true",
                    "primary.key.mode": "record_key",
                    "schema.evolution": "basic",
                    "table.name.format": "items",
                    "consumer.override.session.timeout.ms": "6000",
                    **avro,
                },
                "worker": {"bootstrap.servers": kafka, "offset.flush.interval.ms": 500},
            }
            sink = SinkThread(sink_doc).start()
            try:

                def equal() -> bool:
                    try:
                        return table_rows(target_dsn, "items") == table_rows(source_dsn, "items")
                    except psycopg.errors.UndefinedTable:
                        return False

                wait_until(equal, 90, "the target table to equal the source")
            finally:
                sink.stop()
    finally:
        postgres_server.drop_database(target)
