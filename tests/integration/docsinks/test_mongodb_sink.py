"""MongoDB sink task against MongoDB (MONGODB_URI) or the wire-protocol stand-in, with the real pymongo client.

Records are built as the JsonConverter builds them from Debezium PostgreSQL events (``docsink_records``); the task
is driven as the sink runtime drives it (start, put, flush, stop).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest
from bson import Decimal128, ObjectId
from bson.raw_bson import RawBSONDocument
from docsink_records import ENVELOPE, KEY, change, row, tombstone

from cdc.config import load_engine_config
from schemas.connect import Field, Schema, struct
from schemas.record import ConnectRecord
from sinks.mongodb import SPEC
from sinks.mongodb.task import MongoSinkTask

HANDLER = "com.mongodb.kafka.connect.sink.cdc.debezium.rdbms.RdbmsHandler"


@pytest.fixture
def mongo(mongodb_server: Any) -> Iterator[pymongo.MongoClient[dict[str, Any]]]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_server.uri, tz_aware=True)
    yield client
    client.close()


def make_task(server: Any, context: Any, **props: Any) -> MongoSinkTask:
    raw = {"connector.class": "com.mongodb.kafka.connect.MongoSinkConnector", "connection.uri": server.uri}
    raw.update({k.replace("_", "."): v for k, v in props.items()})
    config = SPEC.config_model.model_validate(raw)
    task = SPEC.factory("mongo-sink", config)
    task.start(context)
    return task


def test_rdbms_handler_insert_update_delete_and_types(mongodb_server: Any, mongo: Any, sink_context: Any, unique: str):
    topic = f"dbserver1.public.items_{unique}"
    task = make_task(
        mongodb_server, sink_context, database=f"db{unique}", topics=topic, **{"change.data.capture.handler": HANDLER}
    )
    records = [
        change(topic, "r", 1, 100, 0, after=row(1)),
        change(topic, "c", 2, 110, 1, after=row(2, name="gadget", price="0.05")),
        change(topic, "u", 1, 120, 2, before=row(1), after=row(1, price="99999999.99", qty=2**40)),
        change(topic, "d", 2, 130, 3, before=row(2)),
        tombstone(topic, 2, 4),
        change(topic, "c", 3, 140, 5, after=row(3, tags=[], blob=b"")),
    ]
    task.put(records)
    task.flush()
    docs = {d["_id"]["id"]: d for d in mongo[f"db{unique}"][topic].find()}
    assert sorted(docs) == [1, 3]
    one = docs[1]
    # _id is the key document; the row's columns follow (mongo-kafka's RdbmsHandler).
    assert one["_id"] == {"id": 1}
    assert one["price"] == Decimal128("99999999.99")
    assert one["price"].to_decimal() == decimal.Decimal("99999999.99")
    assert isinstance(one["qty"], int) and one["qty"] == 2**40
    assert one["born"] == dt.datetime(2022, 1, 8, tzinfo=dt.UTC)
    assert one["seen"] == dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.UTC)
    assert bytes(one["blob"]) == b"\x00\x01\xfe"
    assert one["tags"] == ["a", "b"]
    assert docs[3]["tags"] == [] and bytes(docs[3]["blob"]) == b""
    assert sink_context.reported == []
    # A replay of everything from offset 0 leaves the same documents.
    before = sorted(mongo[f"db{unique}"][topic].find(), key=lambda d: d["_id"]["id"])
    task.put(records)
    task.flush()
    after = sorted(mongo[f"db{unique}"][topic].find(), key=lambda d: d["_id"]["id"])
    assert after == before
    task.stop()


def test_int64_stays_bson_long(mongodb_server: Any, mongo: Any, sink_context: Any, unique: str):
    topic = f"items_{unique}"
    task = make_task(
        mongodb_server, sink_context, database=f"db{unique}", topics=topic, **{"change.data.capture.handler": HANDLER}
    )
    task.put([change(topic, "c", 1, 100, 0, after=row(1, qty=5))])
    task.flush()  # the writes run on the writer thread until flush (or the next put)
    raw_options = mongo.codec_options.with_options(document_class=RawBSONDocument)
    raw = mongo.get_database(f"db{unique}", codec_options=raw_options)[topic].find_one({"_id": {"id": 1}})
    assert raw is not None
    # Element type 0x12 is int64, 0x10 int32: a Connect int64 stays a BSON long even when small.
    assert b"\x12qty\x00" in raw.raw and b"\x10id\x00" in raw.raw
    task.stop()


def test_poison_records_are_reported_and_the_rest_written(
    mongodb_server: Any, mongo: Any, sink_context: Any, unique: str
):
    topic = f"items_{unique}"
    task = make_task(
        mongodb_server, sink_context, database=f"db{unique}", topics=topic, **{"change.data.capture.handler": HANDLER}
    )
    too_precise = row(2, price="1234567890123456789012345678901234567.89")  # 39 digits: not a Decimal128
    bad_op = change(topic, "x", 3, 120, 2, after=row(3))
    no_after = change(topic, "c", 4, 130, 3)
    task.put(
        [
            change(topic, "c", 1, 100, 0, after=row(1)),
            change(topic, "c", 2, 110, 1, after=too_precise),
            bad_op,
            no_after,
            change(topic, "c", 5, 140, 4, after=row(5)),
        ]
    )
    task.flush()  # the writes run on the writer thread until flush (or the next put)
    assert sorted(d["_id"]["id"] for d in mongo[f"db{unique}"][topic].find()) == [1, 5]
    reported = {r.kafka_offset: str(e) for r, e in sink_context.reported}
    assert set(reported) == {1, 2, 3}
    assert "34 significant digits" in reported[1]
    assert "unknown Debezium operation" in reported[2]
    assert "after" in reported[3]
    task.stop()


def test_server_rejections_are_reported_and_ordered_batch_continues(
    mongodb_server: Any, mongo: Any, sink_context: Any, unique: str
):
    topic = f"plain_{unique}"
    task = make_task(
        mongodb_server,
        sink_context,
        database=f"db{unique}",
        topics=topic,
        **{
            "document.id.strategy": "ProvidedInValueStrategy",
            "writemodel.strategy": "com.mongodb.kafka.connect.sink.writemodel.strategy.InsertOneDefaultStrategy",
        },
    )
    records = [ConnectRecord(topic, None, None, None, {"_id": i % 3, "n": i}, 0, kafka_offset=i) for i in range(5)]
    task.put(records)
    task.flush()  # the writes run on the writer thread until flush (or the next put)
    docs = sorted(mongo[f"db{unique}"][topic].find(), key=lambda d: d["_id"])
    assert [(d["_id"], d["n"]) for d in docs] == [(0, 0), (1, 1), (2, 2)]
    reported = [(r.kafka_offset, str(e)) for r, e in sink_context.reported]
    assert [o for o, _ in reported] == [3, 4]
    assert all("11000" in message for _, message in reported)
    task.stop()


def test_quickstart_config_runs_unchanged(mongodb_server: Any, mongo: Any, sink_context: Any):
    """The issue's mongo-sink config, schemaless JSON values, BsonOid ids, ReplaceOneDefault."""
    document = {
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
        "worker": {"bootstrap.servers": "127.0.0.1:9"},
    }
    engine = load_engine_config(None, document=document)
    assert engine.connector_class == "mongodb"
    assert engine.warnings == []
    # Only the address changes: the stand-in has no authentication and no host called "mongodb".
    config = engine.connector.model_copy(
        update={"connection_uri": type(engine.connector.connection_uri)(mongodb_server.uri)}
    )
    task = SPEC.factory("mongo-sink", config)
    task.start(sink_context)
    mongo.quickstart.topicData.delete_many({})
    rides = [{"ride_id": i, "fare": 10.5 + i, "zone": {"pickup": "JFK"}} for i in range(3)]
    task.put([ConnectRecord("taxi", None, None, None, r, 0, kafka_offset=i) for i, r in enumerate(rides)])
    task.flush()  # the writes run on the writer thread until flush (or the next put)
    docs = list(mongo.quickstart.topicData.find().sort("ride_id"))
    assert [d["ride_id"] for d in docs] == [0, 1, 2]
    assert all(isinstance(d["_id"], ObjectId) for d in docs)
    assert docs[0]["zone"] == {"pickup": "JFK"}
    task.stop()


def test_id_strategies_write_models_and_overrides(mongodb_server: Any, mongo: Any, sink_context: Any, unique: str):
    db = f"db{unique}"
    value_schema = struct("v", [Field("a", Schema("int32")), Field("b", Schema("string")), Field("c", Schema("int32"))])
    key_schema = struct("k", [Field("_id", Schema("string"))])
    task = make_task(
        mongodb_server,
        sink_context,
        database=db,
        topics="t1,t2,t3,t4,t5",
        **{
            # t1: key-provided ids, delete on null values
            "topic.override.t1.document.id.strategy": "ProvidedInKeyStrategy",
            "topic.override.t1.delete.on.null.values": "true",
            # t2: business key (PartialValue allow list a) + ReplaceOneBusinessKey
            "topic.override.t2.document.id.strategy": "PartialValueStrategy",
            "topic.override.t2.document.id.strategy.partial.value.projection.type": "AllowList",
            "topic.override.t2.document.id.strategy.partial.value.projection.list": "a",
            "topic.override.t2.writemodel.strategy": "ReplaceOneBusinessKeyStrategy",
            # t3: Kafka coordinates as ids, UpdateOneTimestamps, a block-listed field and a renamed one
            "topic.override.t3.document.id.strategy": "KafkaMetaDataStrategy",
            "topic.override.t3.writemodel.strategy": "UpdateOneTimestampsStrategy",
            "topic.override.t3.post.processor.chain": "BlockListValueProjector,RenameByMapping",
            "topic.override.t3.value.projection.type": "BlockList",
            "topic.override.t3.value.projection.list": "c",
            "topic.override.t3.field.renamer.mapping": '[{"oldName": "value.b", "newName": "bee"}]',
            # t4: UUID ids into another collection
            "topic.override.t4.document.id.strategy": "UuidStrategy",
            "topic.override.t4.collection": "uuids",
            # t5: namespace from the value
            "topic.override.t5.namespace.mapper": "FieldPathNamespaceMapper",
            "topic.override.t5.namespace.mapper.value.collection.field": "b",
            "topic.override.t5.document.id.strategy": "PartialValueStrategy",
            "topic.override.t5.document.id.strategy.partial.value.projection.type": "AllowList",
            "topic.override.t5.document.id.strategy.partial.value.projection.list": "a",
            "max.batch.size": "2",
        },
    )

    def rec(topic: str, key: Any, value: Any, offset: int) -> ConnectRecord:
        return ConnectRecord(
            topic, key_schema if key else None, key, value_schema if value else None, value, 0, kafka_offset=offset
        )

    task.put(
        [
            rec("t1", {"_id": "k1"}, {"a": 1, "b": "x", "c": 1}, 0),
            rec("t1", {"_id": "k2"}, {"a": 2, "b": "y", "c": 2}, 1),
            rec("t1", {"_id": "k1"}, None, 2),
            rec("t2", None, {"a": 1, "b": "first", "c": 0}, 0),
            rec("t2", None, {"a": 1, "b": "second", "c": 0}, 1),
            rec("t3", None, {"a": 1, "b": "x", "c": 3}, 7),
            rec("t4", None, {"a": 4, "b": "u", "c": 4}, 0),
            rec("t5", None, {"a": 5, "b": "routed", "c": 5}, 0),
        ]
    )
    task.flush()  # the writes run on the writer thread until flush (or the next put)
    assert sink_context.reported == []
    assert [d["_id"] for d in mongo[db].t1.find()] == ["k2"]
    t2 = list(mongo[db].t2.find())
    assert len(t2) == 1 and t2[0]["a"] == 1 and t2[0]["b"] == "second"
    t3 = mongo[db].t3.find_one()
    assert t3 is not None and t3["_id"] == "t3-0-7" and t3["bee"] == "x" and "c" not in t3 and "b" not in t3
    assert isinstance(t3["_modifiedTS"], dt.datetime) and isinstance(t3["_insertedTS"], dt.datetime)
    u = mongo[db].uuids.find_one()
    assert u is not None and len(u["_id"]) == 36
    routed = mongo[db].routed.find_one()
    assert routed is not None and routed["_id"] == {"a": 5}
    task.stop()


def test_invalid_properties_are_all_reported():
    from cdc.errors import ConfigError

    document = {
        "name": "bad",
        "config": {
            "connector.class": "mongodb",
            "topics": "a",
            "document.id.strategy": "NoSuchStrategy",
            "writemodel.strategy": "Nope",
            "max.batch.size": "-1",
            "topic.override.a.writemodel.strategy": "AlsoNope",
        },
        "worker": {"bootstrap.servers": "127.0.0.1:9"},
    }
    with pytest.raises(ConfigError) as err:
        load_engine_config(None, document=document)
    text = str(err.value)
    for fragment in ("database", "document.id.strategy", "writemodel.strategy", "max.batch.size", "AlsoNope"):
        assert fragment in text


def test_key_and_envelope_schemas_are_what_the_handler_expects():
    # Guard for the record builder the tests share with the pipeline suite.
    assert KEY.fields[0].name == "id" and ENVELOPE.name is not None and ENVELOPE.name.endswith(".Envelope")


def test_version_guard_never_replaces_a_newer_document(mongodb_server: Any, mongo: Any, sink_context: Any, unique: str):
    """change.data.capture.version.field: out-of-order delivery of one key (two partitions) keeps the newest."""
    topic = f"guard_{unique}"
    task = make_task(
        mongodb_server,
        sink_context,
        database=f"db{unique}",
        topics=topic,
        **{
            "change.data.capture.handler": HANDLER,
            "change.data.capture.version.field": "_cdc_version",
        },
    )
    coll = mongo[f"db{unique}"][topic]
    task.put([change(topic, "u", 1, 300, 9, after=row(1, name="newest"), partition=1)])
    task.flush()  # the writes run on the writer thread until flush (or the next put)
    task.put(
        [
            change(topic, "c", 1, 100, 0, after=row(1, name="oldest")),
            change(topic, "u", 1, 200, 1, after=row(1, name="middle")),
            change(topic, "d", 1, 250, 2, before=row(1)),
            change(topic, "c", 2, 260, 3, after=row(2)),
        ]
    )
    task.flush()  # the writes run on the writer thread until flush (or the next put)
    docs = {d["_id"]["id"]: d for d in coll.find()}
    assert docs[1]["name"] == "newest" and docs[1]["_cdc_version"] == 300
    assert sorted(docs) == [1, 2]
    task.put([change(topic, "d", 1, 400, 4, before=row(1))])
    task.flush()  # the writes run on the writer thread until flush (or the next put)
    assert sorted(d["_id"]["id"] for d in coll.find()) == [2]
    assert sink_context.reported == []
    task.stop()


def test_writes_in_flight_that_fail_are_written_by_the_next_call(
    mongodb_server: Any, mongo: Any, sink_context: Any, unique: str, monkeypatch: pytest.MonkeyPatch
):
    """put hands its bulk writes to the writer thread. When they fail transiently (after the task's own retries)
    the next put raises RetriableError without losing them or reporting anything twice; the runtime then calls
    put again with the same records, which writes the failed batch first, then its own."""
    from cdc.errors import RetriableError

    topic = f"inflight_{unique}"
    task = make_task(
        mongodb_server, sink_context, database=f"db{unique}", topics=topic, **{"change.data.capture.handler": HANDLER}
    )
    real = MongoSinkTask._bulk_write
    failures = [1]

    def flaky(self: MongoSinkTask, *args: Any) -> None:
        if failures[0]:
            failures[0] -= 1
            raise RetriableError("MongoDB write failed after 2 attempt(s): AutoReconnect (test)")
        real(self, *args)

    monkeypatch.setattr(MongoSinkTask, "_bulk_write", flaky)
    poison = change(topic, "x", 9, 190, 9, after=row(9))  # reported once, whatever the retries
    first = [change(topic, "c", 1, 100, 0, after=row(1)), change(topic, "c", 2, 110, 1, after=row(2))]
    second = [change(topic, "u", 1, 120, 2, after=row(1, name="later")), poison]
    task.put(first)  # its writes fail on the writer thread
    with pytest.raises(RetriableError):
        task.put(second)
    task.put(second)  # the runtime's retry: the first batch, then the second, in order
    task.flush()
    docs = {d["_id"]["id"]: d["name"] for d in mongo[f"db{unique}"][topic].find()}
    assert docs == {1: "later", 2: "widget"}
    assert [r.kafka_offset for r, _ in sink_context.reported] == [9]
    task.stop()
