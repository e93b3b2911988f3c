"""Test helpers of the document sinks: ConnectRecords shaped like the JsonConverter builds them from Debezium
PostgreSQL change events, and plain HTTP reads of a search cluster."""

from __future__ import annotations

import decimal
import json
from typing import Any

import urllib3

from schemas.connect import Field, Schema, struct
from schemas.record import ConnectRecord

KEY = struct("dbserver1.public.items.Key", [Field("id", Schema("int32"))])
DECIMAL = Schema("bytes", name="org.apache.kafka.connect.data.Decimal", version=1, parameters={"scale": "2"})
ROW = struct(
    "dbserver1.public.items.Value",
    [
        Field("id", Schema("int32")),
        Field("name", Schema("string", optional=True)),
        Field("price", DECIMAL.with_optional(True)),
        Field("qty", Schema("int64", optional=True)),
        Field("born", Schema("int32", optional=True, name="io.debezium.time.Date", version=1)),
        Field("seen", Schema("int64", optional=True, name="io.debezium.time.MicroTimestamp", version=1)),
        Field("blob", Schema("bytes", optional=True)),
        Field("tags", Schema("array", optional=True, items=Schema("string"))),
    ],
    optional=True,
)
SOURCE = struct(
    "io.debezium.connector.postgresql.Source",
    [
        Field("connector", Schema("string")),
        Field("name", Schema("string")),
        Field("lsn", Schema("int64", optional=True)),
        Field("txId", Schema("int64", optional=True)),
    ],
)
ENVELOPE = struct(
    "dbserver1.public.items.Envelope",
    [
        Field("before", ROW),
        Field("after", ROW),
        Field("source", SOURCE),
        Field("op", Schema("string")),
        Field("ts_ms", Schema("int64", optional=True)),
    ],
    version=2,
)


def row(id_: int, name: str = "widget", price: str = "12.30", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": id_,
        "name": name,
        "price": decimal.Decimal(price),
        "qty": 7,
        "born": 19000,  # 2022-01-08
        "seen": 1_700_000_000_123_000,  # millisecond-exact microseconds
        "blob": b"\x00\x01\xfe",
        "tags": ["a", "b"],
    }
    out.update(extra)
    return out


def change(
    topic: str,
    op: str,
    id_: int,
    lsn: int,
    offset: int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    partition: int = 0,
) -> ConnectRecord:
    value = {
        "before": before,
        "after": after,
        "source": {"connector": "postgresql", "name": "dbserver1", "lsn": lsn, "txId": 700 + offset},
        "op": op,
        "ts_ms": 1_700_000_000_000,
    }
    return ConnectRecord(topic, KEY, {"id": id_}, ENVELOPE, value, partition, kafka_offset=offset)


def tombstone(topic: str, id_: int, offset: int, partition: int = 0) -> ConnectRecord:
    return ConnectRecord(topic, KEY, {"id": id_}, None, None, partition, kafka_offset=offset)


class Cluster:
    """Plain HTTP reads of the cluster under test (independent of the sink's client)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = urllib3.PoolManager()

    def get(self, path: str) -> tuple[int, Any]:
        self.http.request("POST", f"{self.url}/_refresh")
        response = self.http.request("GET", f"{self.url}/{path}")
        return response.status, json.loads(response.data or b"null")

    def delete_index(self, index: str) -> None:
        """Drop ``index`` if it exists (tests that must use a fixed index name share the session's server)."""
        self.http.request("DELETE", f"{self.url}/{index}")

    def doc(self, index: str, doc_id: str) -> dict[str, Any] | None:
        status, body = self.get(f"{index}/_doc/{doc_id}")
        return body if status == 200 and body.get("found") else None

    def all_docs(self, index: str) -> dict[str, Any]:
        status, body = self.get(f"{index}/_search?size=1000")
        assert status == 200, body
        return {hit["_id"]: hit["_source"] for hit in body["hits"]["hits"]}
