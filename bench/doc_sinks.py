#!/usr/bin/env python
"""Document sinks benchmark (``make bench-doc-sinks``): N change events → each sink, against a raw bulk write.

For each target (MongoDB, Elasticsearch, OpenSearch; real servers from ``MONGODB_URI`` / ``ELASTICSEARCH_URL`` /
``OPENSEARCH_URL``, else the stand-ins started by the ``servers`` package), in one run:

1. **Raw bulk write.** The final documents of the N events written with the server's own client the way a
   hand-written loader would: pymongo ``bulk_write`` of ``ReplaceOne(upsert)`` by ``_id`` (batches of
   ``--batch``), or elasticsearch-py / opensearch-py ``bulk`` of ``index`` actions with an external version
   (sequential requests of ``--batch`` documents).
2. **End to end (the headline).** The N events were produced once, before any measurement, into a topic of a
   tansu broker (``servers/kafka.py``) as Debezium's PostgreSQL connector writes them with the JsonConverter
   (``{"schema", "payload"}``; Decimal, MicroTimestamp, Date, bytes, arrays). Each measurement starts the real CLI,
   ``cdc-engine start --config <sink config>`` (a subprocess, a new consumer group, a new collection/index), and
   is timed from the start of the process until the server holds all N documents (polled every 0.2 s with a
   cheap count). This includes the process start, the consumer group join, the runtime's consumer and
   converters, the sink and the server. The time until the first document shows up is reported too: it is the
   fixed start-up part (Python imports, group join), the rest is the steady rate.
3. **The sink task alone (a breakdown).** The same N events as ConnectRecords through ``put`` in batches of
   ``--batch`` and one ``flush``: the MongoDB sink with the RdbmsHandler (BSON conversion, write models) and the
   Elasticsearch sink (envelope unwrapping, JSON conversion, versions from the LSN, index mapping from the schema).

Each is timed ``--repeat`` times, rotating which goes first, into a fresh collection/index that is dropped
afterwards (the stand-ins keep everything in memory and slow down as they fill); the summary shows the best and the
median documents/s of each and the ratios to the raw write (target ≥ 0.7 end to end).

Run: ``.venv/bin/python bench/doc_sinks.py [--events 100000] [--batch 1000] [--repeat 3] [--only mongodb,…]
[--no-e2e] [--no-task]``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import decimal
import statistics
import subprocess
import sys
import tempfile
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


# -- End to end: a topic, the CLI, the server ------------------------------------------------------------------


def produce_events(bootstrap: str, topic: str, records: list[ConnectRecord]) -> None:
    """Write the records into ``topic`` (one partition, as Debezium's default) as the JsonConverter does."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from schemas.converters.factory import build_converter

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(30)
    keys = build_converter("org.apache.kafka.connect.json.JsonConverter", {}, True)
    values = build_converter("org.apache.kafka.connect.json.JsonConverter", {}, False)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4"})
    for r in records:
        key = keys.from_connect(topic, r.key_schema, r.key, [])
        value = values.from_connect(topic, r.value_schema, r.value, [])
        while True:
            try:
                producer.produce(topic, value, key, partition=0)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("the broker did not take every event")


class E2E:
    """Runs ``cdc-engine start --config`` on the produced topic and times it until the server holds N documents."""

    def __init__(self, bootstrap: str, topic: str, n: int, workdir: Path, profile: Path | None = None) -> None:
        self.bootstrap = bootstrap
        self.profile = profile
        self.topic = topic
        self.n = n
        self.workdir = workdir
        self.first_doc_s: list[float] = []

    def run(self, config: dict[str, Any], present: Any, count: Any) -> float:
        """Start the CLI with ``config`` (the connector's ``config`` block); return once the server holds all N.

        Polled by ``present(id)``, a lookup by ``_id``: the events are in one partition and the sinks write in
        order, so the last event's document appearing means all are there. A count would scan the stand-ins'
        in-memory stores (and refresh the index) five times a second, slowing the server down under
        measurement; ``count()`` checks the total once, after the clock stopped."""
        from servers.engine import EngineProcess

        name = f"bench-{uuid.uuid4().hex[:8]}"  # a new consumer group (connect-<name>): reads from offset 0
        document = {
            "name": name,
            "config": {**config, "topics": self.topic},
            "worker": {"bootstrap.servers": self.bootstrap, "offset.flush.interval.ms": 10000},
        }
        start = time.perf_counter()
        engine = EngineProcess(document, self.workdir).start()
        spy = None
        if self.profile is not None:
            # py-spy samples the CLI process from outside (collapsed stacks: one "frame;frame;… count" a line).
            self.profile.mkdir(parents=True, exist_ok=True)
            output = self.profile / f"{config['connector.class'].rsplit('.', 1)[-1]}-{name}.txt"
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(engine.pid), *PY_SPY, str(output)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        first = None
        try:
            while True:
                if first is None and present(0):
                    first = time.perf_counter() - start
                if first is not None and present(self.n - 1):
                    elapsed = time.perf_counter() - start
                    break
                if engine.proc is not None and engine.proc.poll() is not None:
                    raise RuntimeError(f"cdc-engine exited ({engine.proc.returncode}):\n{engine.log()[-3000:]}")
                if time.perf_counter() - start > 600:
                    raise TimeoutError(f"not all {self.n} documents after 600 s:\n{engine.log()[-3000:]}")
                time.sleep(0.1)
            found = count()
            if found != self.n:
                raise RuntimeError(f"the last document is there but {found} of {self.n}:\n{engine.log()[-3000:]}")
        finally:
            if engine.proc is not None and engine.proc.poll() is None:
                try:
                    engine.terminate(60)
                except Exception:  # noqa: BLE001 - a benchmark: never leave the process behind
                    engine.kill_if_running()
            if spy is not None:
                spy.wait(30)  # py-spy writes its output when the sampled process has exited
        self.first_doc_s.append(first or 0.0)
        return elapsed


def _timed(fn: Any) -> float:
    """The seconds ``fn`` reports (the time until its writes were all there, without its checks), else its wall."""
    start = time.perf_counter()
    reported = fn()
    return reported if isinstance(reported, float) else time.perf_counter() - start


# -- MongoDB --------------------------------------------------------------------------------------------------


def bench_mongodb(uri: str, records: list[ConnectRecord], batch: int, e2e: E2E | None) -> dict[str, Any]:
    """The measurements of one MongoDB target: ``raw``, ``task`` and (with a broker) ``e2e``."""
    import pymongo
    from bson import Decimal128
    from pymongo import ReplaceOne

    from sinks.mongodb import SPEC

    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    handler = "com.mongodb.kafka.connect.sink.cdc.debezium.rdbms.RdbmsHandler"

    def raw() -> float:
        coll = client.bench[f"raw_{uuid.uuid4().hex[:8]}"]
        start = time.perf_counter()
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
        seconds = time.perf_counter() - start
        assert coll.count_documents({}) == len(records)
        coll.drop()  # keep the (in-memory) server the same size for every measurement
        return seconds

    def task() -> float:
        collection = f"sink_{uuid.uuid4().hex[:8]}"
        config = SPEC.config_model.model_validate(
            {
                "connector.class": "mongodb",
                "connection.uri": uri,
                "database": "bench",
                "collection": collection,
                "topics": records[0].topic,
                "change.data.capture.handler": handler,
            }
        )
        sink = SPEC.factory("bench", config)
        start = time.perf_counter()
        sink.start(_Context())
        for i in range(0, len(records), batch):
            sink.put(records[i : i + batch])
        sink.flush()
        sink.stop()
        seconds = time.perf_counter() - start
        assert client.bench[collection].count_documents({}) == len(records)
        client.bench[collection].drop()
        return seconds

    runs: dict[str, Any] = {"raw": raw, "task": task}
    if e2e is not None:
        runner = e2e

        def end_to_end() -> float:
            collection = f"e2e_{uuid.uuid4().hex[:8]}"
            config = {
                "connector.class": "com.mongodb.kafka.connect.MongoSinkConnector",
                "connection.uri": uri,
                "database": "bench",
                "collection": collection,
                "change.data.capture.handler": handler,
                "consumer.override.max.poll.records": str(batch),  # the raw loader's batch size
            }
            coll = client.bench[collection]
            seconds = runner.run(
                config,
                lambda i: coll.find_one({"_id": {"id": i}}, {"_id": 1}) is not None,
                lambda: coll.count_documents({}),
            )
            client.bench[collection].drop()
            return seconds

        runs["e2e"] = end_to_end
    return runs


# -- Elasticsearch / OpenSearch -------------------------------------------------------------------------------


def bench_search(flavour: str, url: str, records: list[ConnectRecord], batch: int, e2e: E2E | None) -> dict[str, Any]:
    """The measurements of one Elasticsearch or OpenSearch target: ``raw``, ``task`` and ``e2e``."""
    from sinks.elasticsearch import SPEC as ES
    from sinks.elasticsearch.opensearch import SPEC as OS

    if flavour == "elasticsearch":
        from elasticsearch import Elasticsearch

        es = Elasticsearch(url, request_timeout=TIMEOUT_S)

        def bulk(lines: list[Any]) -> Any:
            return es.bulk(operations=lines)

        def exists(index: str, doc_id: str) -> bool:
            return bool(es.exists(index=index, id=doc_id))  # a realtime GET: no refresh

        def count(index: str) -> int:
            if not es.indices.exists(index=index):
                return 0
            es.indices.refresh(index=index)
            return int(es.count(index=index)["count"])

        def drop(index: str) -> None:
            es.indices.delete(index=index)
    else:
        from opensearchpy import OpenSearch

        os_client = OpenSearch([url], timeout=TIMEOUT_S)

        def bulk(lines: list[Any]) -> Any:
            return os_client.bulk(body=lines)

        def exists(index: str, doc_id: str) -> bool:
            return bool(os_client.exists(index=index, id=doc_id))

        def count(index: str) -> int:
            if not os_client.indices.exists(index=index):
                return 0
            os_client.indices.refresh(index=index)
            return int(os_client.count(index=index)["count"])

        def drop(index: str) -> None:
            os_client.indices.delete(index=index)

    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

    def raw() -> float:
        index = f"raw-{uuid.uuid4().hex[:8]}"
        start = time.perf_counter()
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
        seconds = time.perf_counter() - start
        assert count(index) == len(records)
        drop(index)
        return seconds

    spec = ES if flavour == "elasticsearch" else OS
    common = {
        "batch.size": str(batch),
        "read.timeout.ms": str(TIMEOUT_S * 1000),
        "max.retries": "10",
    }

    def task() -> float:
        topic = f"sink-{uuid.uuid4().hex[:8]}"
        config = spec.config_model.model_validate(
            {"connector.class": flavour, "connection.url": url, "topics": topic, **common}
        )
        sink = spec.factory("bench", config)
        batch_records = [r.replace(topic=topic) for r in records]
        start = time.perf_counter()
        sink.start(_Context())
        for i in range(0, len(batch_records), batch):
            sink.put(batch_records[i : i + batch])
        sink.flush()
        sink.stop()
        seconds = time.perf_counter() - start
        assert count(topic) == len(records)
        drop(topic)
        return seconds

    runs: dict[str, Any] = {"raw": raw, "task": task}
    if e2e is not None:
        runner = e2e

        def end_to_end() -> float:
            index = runner.topic.lower()  # the index is named from the topic
            if count(index):
                drop(index)
            connector = (
                "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"
                if flavour == "elasticsearch"
                else "opensearch"
            )
            seconds = runner.run(
                {"connector.class": connector, "connection.url": url, **common},
                lambda i: exists(index, str(i)),
                lambda: count(index),
            )
            drop(index)
            return seconds

        runs["e2e"] = end_to_end
    return runs


REPEAT = 3
PY_SPY = ("--format", "raw", "--rate", "200", "-o")  # collapsed stacks, 200 samples/s
# The stand-ins can take several seconds per bulk request on a loaded machine: give raw and sink the same, long
# request timeout (the sink's default read.timeout.ms is Confluent's 3000) so that neither measures retries.
TIMEOUT_S = 60


def _measure(runs: dict[str, Any]) -> dict[str, list[float]]:
    """Each run ``REPEAT`` times, rotating the order so that none always meets a warmer (or busier) server."""
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(REPEAT):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            times[name].append(_timed(runs[name]))
    return times


def main() -> int:
    global REPEAT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="mongodb,elasticsearch,opensearch", help="comma-separated targets")
    parser.add_argument("--no-e2e", action="store_true", help="skip the end-to-end measurement (no broker)")
    parser.add_argument("--no-task", action="store_true", help="skip the task-only breakdown")
    parser.add_argument("--profile", type=Path, help="sample each end-to-end run with py-spy into this directory")
    args = parser.parse_args()
    REPEAT = args.repeat
    from servers.elasticsearch import open_elasticsearch
    from servers.kafka import open_kafka
    from servers.mongodb import open_mongodb
    from servers.opensearch import open_opensearch

    topic = "bench.public.items"
    records = events(args.events, topic)
    rows = []
    with contextlib.ExitStack() as stack:
        e2e = None
        if not args.no_e2e:
            broker = stack.enter_context(open_kafka())
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-doc-sinks-")))
            started = time.perf_counter()
            produce_events(broker.bootstrap_servers, topic, records)
            print(f"produced {args.events} events in {time.perf_counter() - started:.1f} s", flush=True)
            e2e = E2E(broker.bootstrap_servers, topic, args.events, workdir, args.profile)
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
            if e2e is not None:
                e2e.first_doc_s = []
            try:
                if name == "MongoDB":
                    runs = bench_mongodb(server.uri, records, args.batch, e2e)
                else:
                    runs = bench_search(name.lower(), server.url, records, args.batch, e2e)
                if args.no_task:
                    del runs["task"]
                times = _measure(runs)
            finally:
                server.stop()
            first = None
            if e2e is not None:
                first = statistics.median(e2e.first_doc_s)
                # After the first document: the steady rate, without the process start and the group join.
                times["steady"] = [t - f for t, f in zip(times["e2e"], e2e.first_doc_s, strict=True)]
            rows.append((name, server.description, times, first))
            print(f"{name}: " + ", ".join(f"{k} {_rates(args.events, v)}" for k, v in times.items()), flush=True)
    print(f"\n{args.events} change events, batches of {args.batch}, best (median) of {args.repeat}, documents/s")
    print(
        f"{'target':<14} {'raw bulk':>16} {'end to end':>16} {'ratio':>11} {'1st doc s':>9}"
        f" {'after 1st doc':>16} {'ratio':>11} {'task only':>16} {'ratio':>11}  server"
    )
    for name, description, times, first in rows:
        raw_best, raw_median = _rate_pair(args.events, times["raw"])
        line = f"{name:<14} {raw_best:>7,.0f} ({raw_median:>6,.0f})"
        for kind in ("e2e", "steady", "task"):
            if kind not in times:
                line += f" {'-':>16} {'-':>11}" + (f" {'-':>9}" if kind == "e2e" else "")
                continue
            best, median = _rate_pair(args.events, times[kind])
            line += f" {best:>7,.0f} ({median:>6,.0f}) {best / raw_best:>4.2f} ({median / raw_median:.2f})"
            if kind == "e2e":
                line += f" {first:>9.1f}"
        print(f"{line}  {description}")
    return 0


def _rate_pair(n: int, seconds: list[float]) -> tuple[float, float]:
    """(best, median) documents/s."""
    return n / min(seconds), n / statistics.median(seconds)


def _rates(n: int, seconds: list[float]) -> str:
    best, median = _rate_pair(n, seconds)
    return f"{best:,.0f} ({median:,.0f}) docs/s"


if __name__ == "__main__":
    sys.exit(main())
