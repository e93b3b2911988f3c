#!/usr/bin/env python
"""Document sinks benchmark (``make bench-doc-sinks``): N change events → each sink, against a raw bulk write.

For each target (MongoDB, Elasticsearch, OpenSearch; real servers from ``MONGODB_URI`` / ``ELASTICSEARCH_URL`` /
``OPENSEARCH_URL``, else the stand-ins started by the ``servers`` package), in one run:

1. **Raw bulk write.** The final documents of the N events written with the server's own client the way a
   hand-written loader would: pymongo ``bulk_write`` of ``ReplaceOne(upsert)`` by ``_id`` (batches of
   ``--batch``), or elasticsearch-py / opensearch-py ``bulk`` of ``index`` actions with an external version
   (sequential requests of ``--batch`` documents).
2. **The sink task.** The same N events as ConnectRecords (Debezium PostgreSQL envelopes, as the JsonConverter
   builds them: Decimal, MicroTimestamp, Date, bytes, arrays) through ``put`` in batches of ``--batch`` and one
   ``flush``: the MongoDB sink with the RdbmsHandler (BSON conversion, write models) and the Elasticsearch sink
   (envelope unwrapping, JSON conversion, versions from the LSN, index mapping from the schema).

Each is timed ``--repeat`` times, alternating which goes first, into a fresh collection/index that is dropped
afterwards (the stand-ins keep everything in memory and slow down as they fill); the summary shows the best
documents/s of each and the ratio sink/raw (target ≥ 0.7). The sink runtime's consumer and converters are not
included: they are the same for every sink and measured by their own benchmark.

Run: ``.venv/bin/python bench/doc_sinks.py [--events 20000] [--batch 1000] [--repeat 3] [--only mongodb,…]``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import decimal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from schemas.connect import Field, Schema, struct
from schemas.record import ConnectRecord
from servers.common import ServerStartError

KEY = struct("bench.public.items.Key", [Field("id", Schema("int32"))])
ROW = struct(
    "bench.public.items.Value",
    [
        Field("id", Schema("int32")),
        Field("name", Schema("string", optional=True)),
        Field(
            "price",
            Schema("bytes", optional=True, name="org.apache.kafka.connect.data.Decimal", parameters={"scale": "2"}),
        ),
        Field("qty", Schema("int64", optional=True)),
        Field("born", Schema("int32", optional=True, name="io.debezium.time.Date")),
        Field("seen", Schema("int64", optional=True, name="io.debezium.time.MicroTimestamp")),
        Field("tags", Schema("array", optional=True, items=Schema("string"))),
        Field("blob", Schema("bytes", optional=True)),
    ],
    optional=True,
)
SOURCE = struct("io.debezium.connector.postgresql.Source", [Field("lsn", Schema("int64", optional=True))])
ENVELOPE = struct(
    "bench.public.items.Envelope",
    [Field("before", ROW), Field("after", ROW), Field("source", SOURCE), Field("op", Schema("string"))],
)


def events(n: int, topic: str) -> list[ConnectRecord]:
    """N insert events with distinct keys and increasing LSNs."""
    out = []
    for i in range(n):
        row = {
            "id": i,
            "name": f"item {i}",
            "price": decimal.Decimal(i) / 100,
            "qty": i * 3,
            "born": 19000 + i % 1000,
            "seen": 1_700_000_000_000_000 + i * 1000,
            "tags": ["a", "b"],
            "blob": b"\x00\x01\x02",
        }
        value = {"before": None, "after": row, "source": {"lsn": 10_000 + i}, "op": "c"}
        out.append(ConnectRecord(topic, KEY, {"id": i}, ENVELOPE, value, 0, kafka_offset=i))
    return out


class _Context:
    connector_name = "bench"

    def report(self, record: ConnectRecord, error: BaseException) -> None:
        raise RuntimeError(f"unexpected rejected record at offset {record.kafka_offset}: {error}")

    def pause(self, topic: str, partition: int) -> None:
        """Unused."""

    def resume(self, topic: str, partition: int) -> None:
        """Unused."""


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- MongoDB --------------------------------------------------------------------------------------------------


def bench_mongodb(uri: str, records: list[ConnectRecord], batch: int) -> tuple[float, float]:
    import pymongo
    from bson import Decimal128
    from pymongo import ReplaceOne

    from sinks.mongodb import SPEC

    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

    def raw() -> None:
        coll = client.bench[f"raw_{uuid.uuid4().hex[:8]}"]
        ops = []
        for r in records:
            a = r.value["after"]
            doc = {
                "_id": {"id": a["id"]},
                "id": a["id"],
                "name": a["name"],
                "price": Decimal128(a["price"]),
                "qty": a["qty"],
                "born": epoch + dt.timedelta(days=a["born"]),
                "seen": epoch + dt.timedelta(microseconds=a["seen"] // 1000 * 1000),
                "tags": a["tags"],
                "blob": a["blob"],
            }
            ops.append(ReplaceOne({"_id": doc["_id"]}, doc, upsert=True))
            if len(ops) == batch:
                coll.bulk_write(ops, ordered=True)
                ops = []
        if ops:
            coll.bulk_write(ops, ordered=True)
        assert coll.count_documents({}) == len(records)
        coll.drop()  # keep the (in-memory) server the same size for every measurement

    def sink() -> None:
        collection = f"sink_{uuid.uuid4().hex[:8]}"
        config = SPEC.config_model.model_validate(
            {
                "connector.class": "mongodb",
                "connection.uri": uri,
                "database": "bench",
                "collection": collection,
                "topics": records[0].topic,
                "change.data.capture.handler": "com.mongodb.kafka.connect.sink.cdc.debezium.rdbms.RdbmsHandler",
            }
        )
        task = SPEC.factory("bench", config)
        task.start(_Context())
        for i in range(0, len(records), batch):
            task.put(records[i : i + batch])
        task.flush()
        task.stop()
        assert client.bench[collection].count_documents({}) == len(records)
        client.bench[collection].drop()

    return _best(raw, sink)


# -- Elasticsearch / OpenSearch -------------------------------------------------------------------------------


def bench_search(flavour: str, url: str, records: list[ConnectRecord], batch: int) -> tuple[float, float]:
    from sinks.elasticsearch import SPEC as ES
    from sinks.elasticsearch.opensearch import SPEC as OS

    if flavour == "elasticsearch":
        from elasticsearch import Elasticsearch

        es = Elasticsearch(url, request_timeout=TIMEOUT_S)

        def bulk(lines: list[Any]) -> Any:
            return es.bulk(operations=lines)

        def count(index: str) -> int:
            es.indices.refresh(index=index)
            return int(es.count(index=index)["count"])

        def drop(index: str) -> None:
            es.indices.delete(index=index)
    else:
        from opensearchpy import OpenSearch

        os_client = OpenSearch([url], timeout=TIMEOUT_S)

        def bulk(lines: list[Any]) -> Any:
            return os_client.bulk(body=lines)

        def count(index: str) -> int:
            os_client.indices.refresh(index=index)
            return int(os_client.count(index=index)["count"])

        def drop(index: str) -> None:
            os_client.indices.delete(index=index)

    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

    def raw() -> None:
        index = f"raw-{uuid.uuid4().hex[:8]}"
        lines: list[Any] = []
        for r in records:
            a = r.value["after"]
            doc = {
                "id": a["id"],
                "name": a["name"],
                "price": float(a["price"]),
                "qty": a["qty"],
                "born": (epoch + dt.timedelta(days=a["born"])).date().isoformat(),
                "seen": (epoch + dt.timedelta(microseconds=a["seen"])).isoformat(timespec="microseconds"),
                "tags": a["tags"],
                "blob": base64.b64encode(a["blob"]).decode(),
            }
            meta = {
                "_index": index,
                "_id": str(a["id"]),
                "version": r.value["source"]["lsn"],
                "version_type": "external",
            }
            lines += [{"index": meta}, doc]
            if len(lines) == 2 * batch:
                assert not bulk(lines)["errors"]
                lines = []
        if lines:
            assert not bulk(lines)["errors"]
        assert count(index) == len(records)
        drop(index)

    def sink() -> None:
        topic = f"sink-{uuid.uuid4().hex[:8]}"
        spec = ES if flavour == "elasticsearch" else OS
        config = spec.config_model.model_validate(
            {
                "connector.class": flavour,
                "connection.url": url,
                "topics": topic,
                "batch.size": str(batch),
                "read.timeout.ms": str(TIMEOUT_S * 1000),
                "max.retries": "10",
            }
        )
        task = spec.factory("bench", config)
        task.start(_Context())
        batch_records = [r.replace(topic=topic) for r in records]
        for i in range(0, len(batch_records), batch):
            task.put(batch_records[i : i + batch])
        task.flush()
        task.stop()
        assert count(topic) == len(records)
        drop(topic)

    return _best(raw, sink)


REPEAT = 3
# The stand-ins can take several seconds per bulk request on a loaded machine: give raw and sink the same, long
# request timeout (the sink's default read.timeout.ms is Confluent's 3000) so that neither measures retries.
TIMEOUT_S = 60


def _best(raw: Any, sink: Any) -> tuple[float, float]:
    raw_times, sink_times = [], []
    for round_ in range(REPEAT):
        # Alternate which goes first, so that neither always meets a warmer (or busier) server.
        if round_ % 2:
            sink_times.append(_timed(sink))
            raw_times.append(_timed(raw))
        else:
            raw_times.append(_timed(raw))
            sink_times.append(_timed(sink))
    return min(raw_times), min(sink_times)


def main() -> int:
    global REPEAT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="mongodb,elasticsearch,opensearch", help="comma-separated targets")
    args = parser.parse_args()
    REPEAT = args.repeat
    from servers.elasticsearch import open_elasticsearch
    from servers.mongodb import open_mongodb
    from servers.opensearch import open_opensearch

    records = events(args.events, "bench.public.items")
    rows = []
    for name, opener in (
        ("MongoDB", open_mongodb),
        ("Elasticsearch", open_elasticsearch),
        ("OpenSearch", open_opensearch),
    ):
        if name.lower() not in args.only.lower().split(","):
            continue
        try:
            server = opener()
        except ServerStartError as exc:
            print(f"{name}: skipped ({exc})")
            continue
        try:
            if name == "MongoDB":
                raw_s, sink_s = bench_mongodb(server.uri, records, args.batch)
            else:
                raw_s, sink_s = bench_search(name.lower(), server.url, records, args.batch)
        finally:
            server.stop()
        rows.append((name, server.description, args.events / raw_s, args.events / sink_s))
        print(f"{name}: raw {args.events / raw_s:,.0f} docs/s, sink {args.events / sink_s:,.0f} docs/s", flush=True)
    print(f"\n{args.events} change events, batches of {args.batch}, best of {args.repeat}")
    print(f"{'target':<14} {'raw bulk docs/s':>16} {'sink docs/s':>12} {'ratio':>6}  server")
    for name, description, raw_rate, sink_rate in rows:
        print(f"{name:<14} {raw_rate:>16,.0f} {sink_rate:>12,.0f} {sink_rate / raw_rate:>6.2f}  {description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
