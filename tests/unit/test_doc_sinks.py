"""Document sinks without servers: config parsing, topic overrides, write models, versions, mappings, values."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import orjson
import pytest
from bson import Decimal128
from pymongo import DeleteOne, ReplaceOne

from schemas.connect import Field, Schema, struct
from schemas.record import ConnectRecord
from sinks.elasticsearch.config import ElasticsearchSinkConfig
from sinks.elasticsearch.documents import document_id, index_name, mapping, to_json, unwrapped_version
from sinks.mongodb.config import MongoSinkConfig
from sinks.mongodb.documents import SinkDocument
from sinks.mongodb.write_models import GuardedReplaceOne, WriteModelError, rdbms_change
from sinks.source_position import source_version


def mongo(**props: Any) -> MongoSinkConfig:
    return MongoSinkConfig.model_validate({"connector.class": "mongodb", "database": "d", "topics": "t", **props})


def test_mongo_class_names_and_defaults() -> None:
    config = mongo(
        **{
            "document.id.strategy": "com.mongodb.kafka.connect.sink.processor.id.strategy.ProvidedInKeyStrategy",
            "writemodel.strategy": "ReplaceOneBusinessKey",
            "post.processor.chain": "com.mongodb.kafka.connect.sink.processor.BlacklistValueProjector,DocumentIdAdder",
            "change.data.capture.handler": "com.mongodb.kafka.connect.sink.cdc.debezium.rdbms.mysql.MysqlHandler",
            "bulk.write.ordered": "false",
        }
    )
    assert config.document_id_strategy == "ProvidedInKeyStrategy"
    assert config.writemodel_strategy == "ReplaceOneBusinessKeyStrategy"
    assert config.post_processors == ["DocumentIdAdder", "BlockListValueProjector"]
    assert config.change_data_capture_handler == "MysqlHandler"
    assert config.bulk_write_ordered is False and config.max_num_retries == 1 and config.max_batch_size == 0
    assert "mongodb://localhost:27017" not in repr(config)  # the URI is a secret


def test_mongo_topic_override_with_dotted_topic_names() -> None:
    config = mongo(
        **{
            "topics": "dbserver1.public.items",
            "topic.override.dbserver1.public.items.collection": "things",
            "topic.override.dbserver1.public.items.document.id.strategy.partial.value.projection.list": "a,b",
        }
    )
    assert config.topic_overrides == {
        "dbserver1.public.items": {
            "collection": "things",
            "document.id.strategy.partial.value.projection.list": "a,b",
        }
    }
    per_topic = config.for_topic("dbserver1.public.items")
    assert per_topic.collection == "things" and per_topic.partial_value_projection_list == "a,b"
    assert config.for_topic("other").collection is None
    assert config.unused_property_warnings() == []


def test_mongo_cross_field_problems() -> None:
    problems = MongoSinkConfig.cross_field_problems(
        {
            "topics": "t",
            "topic.override.t.no.such.property": "x",
            "topic.override.t.writemodel.strategy": "Nope",
            "namespace.mapper": "FieldPathNamespaceMapper",
        }
    )
    assert len(problems) == 3


def _envelope(op: str, key: dict[str, Any] | None, after: Any = None, before: Any = None) -> SinkDocument:
    return SinkDocument(key, {"op": op, "after": after, "before": before, "source": {"lsn": 42}})


def test_rdbms_handler_semantics() -> None:
    replace = rdbms_change(_envelope("c", {"id": 1}, after={"id": 1, "v": "x"}))
    assert isinstance(replace, ReplaceOne)
    assert replace._filter == {"_id": {"id": 1}}
    assert replace._doc == {"_id": {"id": 1}, "id": 1, "v": "x"}
    assert replace._upsert is True
    delete = rdbms_change(_envelope("d", {"id": 1}, before={"id": 1}))
    assert isinstance(delete, DeleteOne) and delete._filter == {"_id": {"id": 1}}
    assert rdbms_change(SinkDocument({"id": 1}, None)) is None  # tombstone
    # No key columns: a delete finds the document by its 'before' values.
    assert rdbms_change(_envelope("d", {}, before={"a": 1}))._filter == {"a": 1}  # type: ignore[union-attr]
    with pytest.raises(WriteModelError):
        rdbms_change(_envelope("u", {"id": 1}))
    with pytest.raises(WriteModelError):
        rdbms_change(_envelope("z", {"id": 1}, after={"id": 1}))
    guarded = rdbms_change(_envelope("u", {"id": 1}, after={"id": 1}), "_v")
    assert isinstance(guarded, GuardedReplaceOne) and guarded._doc["_v"] == 42
    assert guarded._filter["$or"] == [{"_v": {"$lt": 42}}, {"_v": {"$exists": False}}]


def test_source_versions_grow_with_the_position() -> None:
    assert source_version({"lsn": 26431600}) == 26431600
    a = source_version({"file": "mysql-bin.000003", "pos": 1200, "row": 0})
    b = source_version({"file": "mysql-bin.000003", "pos": 1200, "row": 1})
    c = source_version({"file": "mysql-bin.000003", "pos": 5000, "row": 0})
    d = source_version({"file": "mysql-bin.000004", "pos": 4, "row": 0})
    assert a is not None and b is not None and c is not None and d is not None
    assert a < b < c < d < 2**63
    assert source_version({"gtid": "3e11fa47-71ca-11e1-9e33-c80aa9429562:23", "row": 2}) == (23 << 20) | 2
    assert source_version({"connector": "postgresql"}) is None
    record = ConnectRecord("t", None, 1, None, {"id": 1, "__source_lsn": 99}, 0, kafka_offset=5)
    assert unwrapped_version(record) == 99
    record = ConnectRecord("t", None, 1, None, {"id": 1}, 0, headers=[("__lsn", b"77")], kafka_offset=5)
    assert unwrapped_version(record) == 77


def test_es_ids_index_names_and_config() -> None:
    key = struct("k", [Field("id", Schema("int32"))])
    assert document_id(ConnectRecord("T", key, {"id": 7}, None, {}, 0, kafka_offset=3), False) == "7"
    assert document_id(ConnectRecord("T", key, {"id": 7}, None, {}, 2, kafka_offset=3), True) == "T+2+3"
    assert document_id(ConnectRecord("T", None, {"b": 2, "a": 1}, None, {}, 0), False) == '{"a":1,"b":2}'
    assert index_name("_My.Topic") == "my.topic"
    config = ElasticsearchSinkConfig.model_validate(
        {
            "connector.class": "elasticsearch",
            "connection.url": "http://a:9200, http://b:9200",
            "topics": "x",
            "behavior.on.null.values": "DELETE",
            "write.method": "UPSERT",
            "type.name": "_doc",
        }
    )
    assert config.urls == ["http://a:9200", "http://b:9200"]
    assert config.behavior_on_null_values == "delete" and config.write_method == "upsert"
    assert config.unused_property_warnings() == []
    with pytest.raises(ValueError):
        ElasticsearchSinkConfig.model_validate(
            {
                "connector.class": "elasticsearch",
                "connection.url": "a:9200",
                "topics": "x",
                "elastic.https.ssl.truststore.type": "JKS",
            }
        )


def test_es_mapping_and_values() -> None:
    schema = struct(
        "v",
        [
            Field("i", Schema("int32")),
            Field("s", Schema("string")),
            Field("d", Schema("bytes", name="org.apache.kafka.connect.data.Decimal", parameters={"scale": "2"})),
            Field("day", Schema("int32", name="io.debezium.time.Date")),
            Field("ts", Schema("int64", name="io.debezium.time.MicroTimestamp")),
            Field("nested", struct("n", [Field("b", Schema("boolean"))])),
            Field("arr", Schema("array", items=Schema("int64"))),
        ],
    )
    props = mapping(schema)["properties"]  # type: ignore[index]
    assert props["i"] == {"type": "integer"} and props["s"]["type"] == "text"
    assert props["d"] == {"type": "double"} and props["day"] == {"type": "date"}
    assert props["ts"] == {"type": "date_nanos"} and props["arr"] == {"type": "long"}
    assert props["nested"] == {"properties": {"b": {"type": "boolean"}}}
    value = {
        "i": 1,
        "s": "x",
        "d": decimal.Decimal("12.30"),
        "day": 1,
        "ts": 1_500_000,
        "nested": {"b": True},
        "arr": [1],
    }
    assert to_json(schema, value) == {
        "i": 1,
        "s": "x",
        "d": 12.3,
        "day": "1970-01-02",
        "ts": "1970-01-01T00:00:01.500000Z",
        "nested": {"b": True},
        "arr": [1],
    }
    # Digits a double cannot hold stay exact (as a string the cluster coerces).
    assert to_json(None, decimal.Decimal("12345678901234567890.12")) == "12345678901234567890.12"
    assert to_json(None, dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)) == "2024-01-02T03:04:05.000Z"


def test_bson_values() -> None:
    from bson import Int64

    from sinks.mongodb.bson_values import BsonConversionError, to_bson

    decimal_schema = Schema("bytes", name="org.apache.kafka.connect.data.Decimal", parameters={"scale": "2"})
    assert to_bson(decimal_schema, decimal.Decimal("1.10")) == Decimal128("1.10")
    assert type(to_bson(Schema("int64"), 5)) is Int64
    assert to_bson(Schema("int32", name="org.apache.kafka.connect.data.Date"), dt.date(2024, 2, 29)) == dt.datetime(
        2024, 2, 29, tzinfo=dt.UTC
    )
    with pytest.raises(BsonConversionError):
        to_bson(decimal_schema, decimal.Decimal("1" * 35))
    micro = Schema("int64", name="io.debezium.time.MicroTimestamp")
    assert to_bson(micro, 1_000_999) == dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    assert to_bson(micro, 1_000_999, temporal_dates=False) == 1_000_999


@pytest.mark.parametrize(
    "text",
    ["1.10", "-0.01", "0", "0.00", "-0", "99999999.99", "1E+5", "-5E-300", "1" * 34, "-" + "9" * 34 + "E-6176"],
)
def test_decimal128_fast_path_matches_bson(text: str) -> None:
    from sinks.mongodb.bson_values import to_decimal128

    value = decimal.Decimal(text)
    assert to_decimal128(value).bid == Decimal128(value).bid
    assert str(to_decimal128(value).to_decimal()) == str(value)


class _FlakyBackend:
    """Fails the first ``failures`` bulk requests with a transient error, then acknowledges every item."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.written: list[str] = []

    def bulk(self, body: bytes) -> dict[str, Any]:
        from sinks.elasticsearch.backend import TransientError

        if self.failures:
            self.failures -= 1
            raise TransientError("connection refused (test)")
        lines = [orjson.loads(line) for line in body.splitlines()]
        metas = [line["index"] for line in lines if "index" in line]
        self.written += [m["_id"] for m in metas]
        return {"errors": False, "items": [{"index": {"status": 201}} for _ in metas]}

    def index_exists(self, name: str) -> bool:
        return True

    def close(self) -> None:
        """Nothing to close."""


def test_es_records_of_a_failed_request_are_sent_again_not_lost() -> None:
    """A request that fails after its retries puts its records back: the next flush writes them (the runtime
    commits offsets only after a flush that returned)."""
    import concurrent.futures as cf

    from cdc.errors import RetriableError
    from sinks.elasticsearch.task import ElasticsearchSinkTask

    config = ElasticsearchSinkConfig.model_validate(
        {
            "connector.class": "elasticsearch",
            "connection.url": "http://127.0.0.1:9",
            "topics": "t",
            "batch.size": "2",
            "max.retries": "0",
            "schema.ignore": "true",
            "linger.ms": "0",
        }
    )
    task = ElasticsearchSinkTask("t", config)
    backend = _FlakyBackend(failures=1)
    task._backend = backend  # type: ignore[assignment]
    task._pool = cf.ThreadPoolExecutor(1)
    records = [ConnectRecord("t", None, str(i), None, {"i": i}, 0, kafka_offset=i) for i in range(4)]
    with pytest.raises(RetriableError):  # from whichever call sees the failed request first
        task.put(records[:2])
        task.put(records[2:])
        task.flush()
    task.put(records[2:])  # the runtime retries the batch whose put raised (a duplicate here is harmless)
    task.flush()
    assert set(backend.written) == {"0", "1", "2", "3"}
    task.stop()
