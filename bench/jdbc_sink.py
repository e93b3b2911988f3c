#!/usr/bin/env python
"""JDBC sink throughput against a raw COPY of the same rows (``make bench-sink``).

Starts a throwaway PostgreSQL and a memory-only tansu broker (``servers`` package), writes N Debezium change
events (``op=c``, JsonConverter with schemas, as the PostgreSQL source writes them: an 8-column table with bigint,
text, numeric(10,2), integer, timestamptz, timestamp(6), boolean and text) into a 4-partition topic, then measures
in one run:

1. **raw COPY**: the same N rows, already as Python tuples, streamed into an empty table with psycopg's
   ``COPY … FROM STDIN`` (``write_row``) and committed: the client-side floor for loading these rows.
2. **JDBC sink, insert.mode=insert** and 3. **insert.mode=upsert** (``primary.key.mode=record_key``,
   ``schema.evolution=basic``): the sink runtime (consumer group, JsonConverter, ``SinkTask.put``) reading the
   topic from offset 0 into an empty table. Timed from the first ``put`` to the moment the N-th row is committed,
   so the consumer group join (~3 s on tansu) is excluded; the wall time including the join is printed too.
4. **the runtime alone**: the same topic into the ``discard`` sink (consume + convert + put, no target), in
   records/s: the framework's own cost.

The process runs with the GC settings of ``cdc-engine start`` (``cdc.gc_tuning``), for the raw COPY too.
Prints rows/s for each and the sink/COPY ratios (target: insert >= 0.5 x raw COPY), and the CPU time this process
used over the same interval (all its threads: consumer, converters, the sink's write; not the PostgreSQL server's):
on a shared machine the wall-clock figures move with the other load, CPU µs per row much less. ``cores`` is that CPU
time over the elapsed time: how many cores the sink actually got.

``--tasks N`` runs the two JDBC sinks as ``cdc-engine start`` with ``tasks.max=N`` instead (N worker processes,
docs/sink-workers.md): timed from the first row visible in the target table to the N-th (the table's count is
polled every 0.1 s), the CPU column summing the parent's and its child tasks' CPU over that interval. Compare
``--tasks 1`` with ``--tasks 2`` in the same session; the load average (printed) says how busy the machine was.
Run: ``.venv/bin/python bench/jdbc_sink.py [--events 200000] [--batch-size 2000] [--tasks N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import psutil  # noqa: E402
import psycopg  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # noqa: E402

from cdc.config import load_engine_config  # noqa: E402
from cdc.gc_tuning import tune_for_streaming  # noqa: E402
from schemas.connect import Field, Schema, struct  # noqa: E402
from schemas.converters.logical import decimal_to_bytes  # noqa: E402
from schemas.envelope import envelope_schema, key_schema  # noqa: E402
from schemas.json_converter import JsonConverter  # noqa: E402
from schemas.record import ConnectRecord  # noqa: E402
from servers import PostgresServer, TansuBroker  # noqa: E402
from servers.engine import EngineProcess  # noqa: E402
from sinks.discard import DiscardSinkTask  # noqa: E402
from sinks.jdbc.task import JdbcSinkTask  # noqa: E402
from sinks.runtime import SinkRuntime  # noqa: E402
from sinks.task import SinkContext, SinkTask  # noqa: E402

TOPIC = "bench.public.orders"
PARTITIONS = 4
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

COLUMNS = [
    Field("id", Schema("int64")),
    Field("customer", Schema("string")),
    Field(
        "amount",
        Schema(
            "bytes",
            optional=True,
            name="org.apache.kafka.connect.data.Decimal",
            version=1,
            parameters={"scale": "2", "connect.decimal.precision": "10"},
        ),
    ),
    Field("quantity", Schema("int32", optional=True)),
    Field("created", Schema("string", optional=True, name="io.debezium.time.ZonedTimestamp", version=1)),
    Field("updated", Schema("int64", optional=True, name="io.debezium.time.MicroTimestamp", version=1)),
    Field("paid", Schema("boolean", optional=True)),
    Field("note", Schema("string", optional=True)),
]
SOURCE = struct(
    "io.debezium.connector.postgresql.Source",
    [Field(n, Schema("string")) for n in ("connector", "name", "db", "schema", "table")],
)
ROW_DDL = (
    "id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(10,2), quantity integer, created timestamptz, "
    "updated timestamp(6), paid boolean, note text"
)


def row(i: int) -> tuple[Any, ...]:
    """Row ``i`` as Python values (what COPY gets)."""
    created = EPOCH + dt.timedelta(seconds=1_700_000_000 + i)
    return (
        i,
        f"customer {i % 1000}",
        decimal.Decimal(i % 100000).scaleb(-2),
        i % 17,
        created,
        (created + dt.timedelta(microseconds=i % 999_999)).replace(tzinfo=None),
        i % 2 == 0,
        "lorem ipsum dolor sit amet" if i % 3 else None,
    )


def produce_events(bootstrap: str, count: int) -> None:
    """N op=c change events, serialized as the source's JSON fast path does."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)]).values():
        future.result(15)
    row_schema = struct("bench.public.orders.Value", COLUMNS)
    converter = JsonConverter(True)
    key_ser = converter.serializer(key_schema(TOPIC, [Field("id", Schema("int64"))]))
    value_ser = converter.serializer(envelope_schema(TOPIC, row_schema, SOURCE))
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4", "partitioner": "murmur2_random"}
    )
    source = {"connector": "postgresql", "name": "bench", "db": "bench", "schema": "public", "table": "orders"}
    for i in range(1, count + 1):
        r = row(i)
        after = {
            "id": r[0],
            "customer": r[1],
            "amount": decimal_to_bytes(r[2], 2),
            "quantity": r[3],
            "created": r[4].isoformat().replace("+00:00", "Z"),
            "updated": (r[5] - EPOCH.replace(tzinfo=None)) // dt.timedelta(microseconds=1),
            "paid": r[6],
            "note": r[7],
        }
        payload = {
            "before": None,
            "after": after,
            "source": source,
            "transaction": None,
            "op": "c",
            "ts_ms": 1,
            "ts_us": 1,
            "ts_ns": 1,
        }
        while True:
            try:
                producer.produce(TOPIC, value_ser(payload), key_ser({"id": i}))
                break
            except BufferError:
                producer.poll(0.1)
        if i % 10000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0


def raw_copy(dsn: str, count: int) -> tuple[float, float]:
    """(seconds, CPU seconds of this process) to COPY the N rows (Python tuples, built beforehand) into an empty
    table and commit."""
    rows = [row(i) for i in range(1, count + 1)]
    with psycopg.connect(dsn) as conn:
        conn.execute(f"CREATE TABLE copy_baseline ({ROW_DDL})")
        conn.commit()
        start, start_cpu = time.perf_counter(), time.process_time()
        with conn.cursor() as cur, cur.copy("COPY copy_baseline FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
        conn.commit()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        check = conn.execute("SELECT count(*) FROM copy_baseline").fetchone()
        assert check is not None and check[0] == count
    return elapsed, cpu


class Timed(SinkTask):
    """Wraps a task: time of the first put, time when ``count`` records were put (and, for JDBC, committed)."""

    def __init__(self, inner: SinkTask, count: int) -> None:
        self.inner = inner
        self.count = count
        self.seen = 0
        self.first: float | None = None
        self.done = threading.Event()
        self.last = 0.0
        self.first_cpu = self.last_cpu = 0.0

    def start(self, context: SinkContext) -> None:
        self.inner.start(context)

    def open(self, partitions: Sequence[tuple[str, int]]) -> None:
        self.inner.open(partitions)

    def put(self, records: Sequence[ConnectRecord]) -> None:
        if self.first is None:
            self.first = time.perf_counter()
            self.first_cpu = time.process_time()
        self.inner.put(records)  # the JDBC task commits its transaction before returning
        self.seen += len(records)
        if self.seen >= self.count and not self.done.is_set():
            self.last = time.perf_counter()
            self.last_cpu = time.process_time()
            self.done.set()

    def flush(self) -> None:
        self.inner.flush()

    def close(self, partitions: Sequence[tuple[str, int]]) -> None:
        self.inner.close(partitions)

    def stop(self) -> None:
        self.inner.stop()


def timed(inner: SinkTask, count: int) -> Timed:
    """``Timed`` around ``inner``, declaring what ``inner`` declares (a background ``put``, wire records)."""
    cls = type(
        "Timed",
        (Timed,),
        {"put_in_background": inner.put_in_background, "accepts_wire_records": inner.accepts_wire_records},
    )
    return cls(inner, count)  # type: ignore[no-any-return]


def run_sink(bootstrap: str, config: dict[str, Any], make_task: Any, count: int) -> tuple[float, float, float]:
    """(seconds first put → N-th record written, wall seconds including the consumer group join, CPU seconds of
    this process from the first put to the N-th record)."""
    doc = {
        "name": f"bench_{uuid.uuid4().hex[:8]}",
        "config": {"topics": TOPIC, "consumer.override.session.timeout.ms": "6000", **config},
        "worker": {"bootstrap.servers": bootstrap, "offset.flush.interval.ms": 5000},
    }
    engine = load_engine_config(None, document=doc)
    inner = make_task(engine)
    task = timed(inner, count)
    runtime = SinkRuntime(engine, task=task)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            runtime.run()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    wall_start = time.perf_counter()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    finished = task.done.wait(600)
    wall = time.perf_counter() - wall_start
    runtime.request_stop()
    thread.join(60)
    if errors:
        raise errors[0]
    if not finished or task.first is None:
        raise RuntimeError(f"sink did not write {count} records within 600 s (got {task.seen})")
    return task.last - task.first, wall, task.last_cpu - task.first_cpu


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its live descendants (the child tasks)."""
    total = 0.0
    parent = psutil.Process(pid)
    for proc in [parent, *parent.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _table_count(dsn: str, table: str) -> int:
    try:
        with psycopg.connect(dsn) as conn:
            got = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            return int(got[0]) if got else 0
    except psycopg.errors.UndefinedTable:
        return 0


def run_sink_process(
    bootstrap: str, config: dict[str, Any], count: int, tasks: int, dsn: str, table: str
) -> tuple[float, float, float]:
    """``run_sink`` through ``cdc-engine start`` with ``tasks.max=tasks``: (seconds first row → N-th row in
    ``table``, wall seconds from the start of the process, CPU seconds of the process and its child tasks over the
    first interval)."""
    doc = {
        "name": f"bench_{uuid.uuid4().hex[:8]}",
        "config": {"topics": TOPIC, "consumer.override.session.timeout.ms": "6000", "tasks.max": str(tasks), **config},
        "worker": {"bootstrap.servers": bootstrap, "offset.flush.interval.ms": 5000},
    }
    with tempfile.TemporaryDirectory() as workdir:
        engine = EngineProcess(doc, Path(workdir)).start()
        try:
            wall_start = time.perf_counter()
            first: tuple[float, float] | None = None
            deadline = wall_start + 600
            while True:
                seen = _table_count(dsn, table)
                now = time.perf_counter()
                if seen and first is None:
                    first = (now, _tree_cpu(engine.pid))
                if seen >= count:
                    last_cpu = _tree_cpu(engine.pid)
                    break
                if now > deadline or (engine.proc is not None and engine.proc.poll() is not None):
                    raise RuntimeError(f"sink wrote {seen} of {count} rows:\n{engine.log()[-3000:]}")
                time.sleep(0.1)
            assert first is not None
            code = engine.terminate()
            if code != 0:
                raise RuntimeError(f"sink exited with {code}:\n{engine.log()[-3000:]}")
            for line in engine.log().splitlines():  # how the rows were shared between the tasks
                if "stopped cleanly;" in line:
                    print(f"    {table}: {line.split(' ', 3)[3].split('; offsets')[0]}")
        finally:
            engine.kill_if_running()
    return now - first[0], now - wall_start, last_cpu - first[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=2000, help="the sink's batch.size")
    parser.add_argument(
        "--tasks", type=int, default=None, help="run the JDBC sinks as cdc-engine processes with tasks.max=N"
    )
    args = parser.parse_args()
    n = args.events
    # The GC settings of a `cdc-engine start` process, for the in-process sinks and the raw COPY alike (the same
    # process conditions on both sides of the ratio).
    tune_for_streaming()
    load_before = os.getloadavg()
    with PostgresServer().start() as pg, TansuBroker().start() as kafka:
        pg.create_database("bench")
        dsn = pg.dsn("bench")
        print(f"PostgreSQL on :{pg.port}, tansu on :{kafka.port}; {n} change events, batch.size={args.batch_size}")
        t0 = time.perf_counter()
        produce_events(kafka.bootstrap_servers, n)
        print(f"  produced {n} events to {TOPIC} ({PARTITIONS} partitions) in {time.perf_counter() - t0:.1f}s")

        copy_s, copy_cpu = raw_copy(dsn, n)
        results = {"raw COPY": (copy_s, copy_s, copy_cpu)}
        url = f"jdbc:postgresql://{pg.host}:{pg.port}/bench"
        for mode in ("insert", "upsert"):
            config = {
                "connector.class": "jdbc",
                "connection.url": url,
                "connection.username": pg.user,
                "connection.password": pg.password,
                "insert.mode": mode,
                "primary.key.mode": "record_key",
                "schema.evolution": "basic",
                "table.name.format": f"orders_{mode}",
                "batch.size": str(args.batch_size),
            }
            if args.tasks is None:
                results[f"JDBC sink, insert.mode={mode}"] = run_sink(
                    kafka.bootstrap_servers, config, lambda e: JdbcSinkTask(e.name, e.connector), n
                )
            else:
                results[f"JDBC sink, {mode}, tasks.max={args.tasks}"] = run_sink_process(
                    kafka.bootstrap_servers, config, n, args.tasks, dsn, f"orders_{mode}"
                )
            with psycopg.connect(dsn) as conn:
                got = conn.execute(f"SELECT count(*) FROM orders_{mode}").fetchone()
            assert got is not None and got[0] == n, got
        results["runtime alone (discard sink)"] = run_sink(
            kafka.bootstrap_servers,
            {"connector.class": "discard", "consumer.override.max.poll.records": str(args.batch_size)},
            lambda e: DiscardSinkTask(),
            n,
        )
    print()
    print(f"{'':34} {'seconds':>8} {'rows/s':>10} {'vs COPY':>8} {'CPU µs/row':>11} {'cores':>6}   wall incl. join")
    for label, (seconds, wall, cpu) in results.items():
        rate, ratio, cpu_us = n / seconds, copy_s / seconds, cpu / n * 1e6
        print(f"{label:34} {seconds:8.2f} {rate:10.0f} {ratio:7.2f}x {cpu_us:11.1f} {cpu / seconds:6.2f}   {wall:.1f}s")
    load_after = os.getloadavg()
    print(
        f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
        f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}; {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
