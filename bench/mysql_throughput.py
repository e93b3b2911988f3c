#!/usr/bin/env python
"""MySQL / MariaDB → Kafka throughput and latency benchmark (``make bench-mysql``).

Starts a throwaway MariaDB (default) or MySQL 9.x and a memory-only tansu broker through the ``servers`` package,
creates a table with the same six mixed columns as ``bench/pg_throughput.py`` and measures, in one run:

1. **Bare BinLogStreamReader baseline.** ``pymysqlreplication.BinLogStreamReader`` with the engine's settings
   (same events, ``binlog_row_metadata=FULL`` names), started at the binlog position just before an N-row
   transaction, reads until it has seen all N rows, touching every row's values (``event.rows``). This is the
   library's own cost of receiving and parsing the rows: what the engine does before building envelopes.
2. **The engine, end to end.** ``cdc-engine start`` runs as a subprocess (``snapshot.mode=no_data``, already
   streaming) so that its RSS can be sampled with psutil. Another N-row transaction is committed; timed from
   COMMIT returning until a consumer has received all N records from the topic (acknowledged by the broker).
3. **Latency.** A writer commits 10-row transactions at 1000 rows/s for ``--latency-seconds``; per row, the time
   a consumer received its record minus the time its COMMIT returned (binlog timestamps have whole seconds only).

Prints rows/s of both, the ratio engine/baseline, the engine's peak RSS and p50/p99 latency.
``--profile DIR`` attaches ``py-spy record`` to the engine during one extra throughput run and prints the top
functions (where the time goes: library row parsing vs. envelope building vs. producing); it needs py-spy
(``.venv/bin/pip install py-spy``; not a project dependency).

Run: ``.venv/bin/python bench/mysql_throughput.py [--rows 200000] [--flavor mariadb|mysql] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import psutil  # noqa: E402
from confluent_kafka import Consumer, KafkaError, TopicPartition  # noqa: E402
from pymysqlreplication import BinLogStreamReader  # noqa: E402
from pymysqlreplication.row_event import WriteRowsEvent  # noqa: E402

from cdc.mysql.binlog import EVENTS  # noqa: E402
from servers import MariaDBServer, MySQLServer, TansuBroker  # noqa: E402
from servers.engine import EngineProcess  # noqa: E402
from servers.mysqlbase import MySQLFamilyServer  # noqa: E402

DB = "bench"
TABLE = "bench_rows"
# The baseline's rows go to a table of the same shape that the engine does not capture, so that the running
# engine skips them (a rows event of a filtered table is not even parsed) instead of competing for the CPU.
BASE_TABLE = "bench_base"
CREATE_TABLE = f"""
CREATE TABLE {TABLE} (
    id      BIGINT PRIMARY KEY,
    qty     INT NOT NULL,
    note    TEXT,
    price   DECIMAL(12,2),
    created TIMESTAMP(6) NOT NULL,
    active  BOOLEAN
)
"""
DIGITS = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL " + (
    "SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
)


def insert_range(first: int, rows: int, table: str = TABLE) -> str:
    """One INSERT … SELECT of ``rows`` rows with ids first..first+rows-1 (mixed NULLs, fractions, signs)."""
    return (
        f"INSERT INTO {table} (id, qty, note, price, created, active) "
        f"SELECT {first - 1} + n, n % 100000, IF(n % 10 = 0, NULL, CONCAT('note ', n)), "
        "IF(n % 7 = 0, NULL, (n % 200000 - 100000) / 100), "
        "TIMESTAMP '2024-01-01 00:00:00' + INTERVAL n SECOND + INTERVAL (n % 1000) * 1000 MICROSECOND, "
        "IF(n % 3 = 0, NULL, n % 2 = 0) "
        f"FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 100000 * g.d AS n "
        f"FROM {DIGITS} a, {DIGITS} b, {DIGITS} c, {DIGITS} e, {DIGITS} f, {DIGITS} g) AS s WHERE n <= {rows}"
    )


def log(message: str) -> None:
    print(f"[bench-mysql] {message}", file=sys.stderr, flush=True)


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.1):
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> None:
        self._halt.set()
        self.join(2)


def baseline(server: MySQLFamilyServer, rows: int, first_id: int) -> tuple[float, float]:
    """Commit ``rows`` rows, then time a bare BinLogStreamReader reading them from the position before."""
    file, pos = server.binlog_position()
    server.execute(insert_range(first_id, rows, BASE_TABLE), database=DB)
    settings = {"host": server.host, "port": server.port, "user": server.user, "password": server.password}
    stream = BinLogStreamReader(
        connection_settings=settings,
        server_id=random.randint(10_000, 2**30),
        blocking=True,
        only_events=EVENTS,
        log_file=file,
        log_pos=pos,
        resume_stream=True,
        enable_logging=False,
        slave_heartbeat=1.0,
    )
    seen = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    try:
        while seen < rows:
            event = stream.fetchone()
            if type(event) is WriteRowsEvent:
                for row in event.rows:
                    _ = row["values"]
                    seen += 1
    finally:
        stream.close()
    # (rows per wall second, rows per CPU second of this process: the library's own cost)
    return rows / (time.perf_counter() - started), rows / (time.process_time() - cpu_started)


def topic_counter(bootstrap: str, topic: str) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "latest",
            "fetch.max.bytes": 64 * 1024 * 1024,
            # Return fetches at once (as bench/pg_throughput.py's latency consumer does): the default long poll
            # would add up to 500 ms to every latency sample.
            "fetch.wait.max.ms": 5,
            "fetch.min.bytes": 1,
        }
    )
    deadline = time.monotonic() + 30
    while True:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is not None and meta.error is None and meta.partitions:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic} did not appear")
        time.sleep(0.2)
    ends = []
    for p in meta.partitions:
        _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        ends.append(TopicPartition(topic, p, max(high, 0)))
    consumer.assign(ends)
    return consumer


def consume_count(consumer: Consumer, target: int, timeout: float) -> tuple[int, float]:
    """Consume until ``target`` records arrived (or timeout); (count, time the last one arrived)."""
    count = 0
    last = time.perf_counter()
    deadline = time.monotonic() + timeout
    while count < target and time.monotonic() < deadline:
        for msg in consumer.consume(10000, 0.2):
            err = msg.error()
            if err is None:
                count += 1
                last = time.perf_counter()
            elif err.code() != KafkaError._PARTITION_EOF:
                raise RuntimeError(err.str())
    return count, last


def engine_run(
    server: MySQLFamilyServer, bootstrap: str, topic: str, rows: int, first_id: int, pid: int
) -> tuple[float, float]:
    consumer = topic_counter(bootstrap, topic)
    proc = psutil.Process(pid)
    try:
        cpu = proc.cpu_times()
        cpu_before = cpu.user + cpu.system
        started = time.perf_counter()
        server.execute(insert_range(first_id, rows), database=DB)
        committed = time.perf_counter()
        count, last = consume_count(consumer, rows, 600)
        if count < rows:
            raise RuntimeError(f"only {count} of {rows} records arrived")
        cpu = proc.cpu_times()
        cpu_used = cpu.user + cpu.system - cpu_before
        log(f"engine: INSERT took {committed - started:.1f}s; records arrived {last - committed:.2f}s after COMMIT")
        # (rows per wall second, rows per CPU second of the engine process, librdkafka's threads included)
        return rows / (last - committed), rows / cpu_used
    finally:
        consumer.close()


def latency(server: MySQLFamilyServer, bootstrap: str, topic: str, rate: int, seconds: float, first: int) -> Any:
    import orjson

    consumer = topic_counter(bootstrap, topic)
    commits: dict[int, float] = {}
    arrivals: dict[int, float] = {}
    tx_rows = 10
    done = threading.Event()

    def writer() -> None:
        conn = server.connect(DB)
        try:
            next_id = first
            interval = tx_rows / rate
            start = time.perf_counter()
            n = 0
            while time.perf_counter() - start < seconds:
                values = ",".join(f"({i}, 1, 'x', 1.00, NOW(6), 1)" for i in range(next_id, next_id + tx_rows))
                with conn.cursor() as cur:
                    cur.execute(f"INSERT INTO {TABLE} VALUES {values}")
                now = time.perf_counter()
                for i in range(next_id, next_id + tx_rows):
                    commits[i] = now
                next_id += tx_rows
                n += 1
                sleep = start + n * interval - time.perf_counter()
                if sleep > 0:
                    time.sleep(sleep)
        finally:
            conn.close()
            done.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    deadline = time.monotonic() + seconds + 30
    while time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.1):
            if msg.error() is None and msg.key():
                ident = orjson.loads(msg.key() or b"{}")["payload"]["id"]
                if ident >= first:  # the start offset may re-read records of earlier runs (tansu's watermark)
                    arrivals.setdefault(ident, time.perf_counter())
        if done.is_set() and all(i in arrivals for i in commits):
            break
    thread.join(5)
    consumer.close()
    lat = sorted((arrivals[i] - commits[i]) * 1000 for i in commits if i in arrivals)
    if not lat:
        return {"count": 0}
    return {
        "count": len(lat),
        "missing": len(commits) - len(lat),
        "p50_ms": lat[len(lat) // 2],
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        "max_ms": lat[-1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--flavor", choices=["mariadb", "mysql"], default="mariadb")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs of each kind (median reported)")
    parser.add_argument("--latency-rate", type=int, default=1000)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the engine during one extra run")
    args = parser.parse_args()
    if args.rows > 1_000_000:
        parser.error("--rows is limited to 1000000 (the row generator)")

    workdir = Path(tempfile.mkdtemp(prefix="bench-mysql-"))
    server: MySQLFamilyServer = MariaDBServer() if args.flavor == "mariadb" else MySQLServer()
    server.start()
    broker = TansuBroker().start()
    engine: EngineProcess | None = None
    try:
        server.create_database(DB)
        server.execute(CREATE_TABLE, CREATE_TABLE.replace(TABLE, BASE_TABLE), database=DB)
        log(f"{server.version()} on port {server.port}; tansu {broker.bootstrap_servers}")
        next_id = 1
        name = "bench"
        doc = {
            "name": name,
            "config": {
                "connector.class": args.flavor,
                "database.hostname": server.host,
                "database.port": server.port,
                "database.user": server.user,
                "database.password": server.password,
                "database.server.id": 4242,
                "topic.prefix": name,
                "table.include.list": f"{DB}.{TABLE}",
                "snapshot.mode": "no_data",
                "include.schema.changes": "false",
            },
            "worker": {"bootstrap.servers": broker.bootstrap_servers, "offset.flush.interval.ms": 1000},
        }
        topic = f"{name}.{DB}.{TABLE}"
        engine = EngineProcess(doc, workdir).start()
        engine.wait_logged("streaming the binlog", 60)
        sampler = RssSampler(engine.pid)
        sampler.start()
        # Warm-up: the topic is created on first write.
        server.execute(insert_range(next_id, 10), database=DB)
        next_id += 10
        time.sleep(2)
        # Baseline and engine runs alternate, so that load from other processes on the machine hits both alike.
        base_rates, base_cpu, engine_rates, engine_cpu = [], [], [], []
        for _ in range(args.repeat):
            wall, cpu = baseline(server, args.rows, next_id)
            base_rates.append(wall)
            base_cpu.append(cpu)
            next_id += args.rows
            log(f"baseline: {wall:,.0f} rows/s ({cpu:,.0f} rows per CPU second)")
            time.sleep(1)
            wall, cpu = engine_run(server, broker.bootstrap_servers, topic, args.rows, next_id, engine.pid)
            engine_rates.append(wall)
            engine_cpu.append(cpu)
            next_id += args.rows
            log(f"engine: {wall:,.0f} rows/s ({cpu:,.0f} rows per CPU second)")
        lat = latency(server, broker.bootstrap_servers, topic, args.latency_rate, args.latency_seconds, next_id)
        next_id += args.latency_rate * int(args.latency_seconds + 1) + 100
        sampler.stop()
        profile = ""
        if args.profile is not None:
            profile = run_profile(server, broker.bootstrap_servers, topic, engine.pid, args.rows, next_id, args.profile)
            next_id += args.rows
        base = statistics.median(base_rates)
        eng = statistics.median(engine_rates)
        base_c = statistics.median(base_cpu)
        eng_c = statistics.median(engine_cpu)
        print(f"\nMySQL binlog → Kafka benchmark ({server.version()}, {args.rows} rows in one transaction)")
        print(f"  bare BinLogStreamReader : {base:>10,.0f} rows/s")
        print(f"  cdc-engine end to end   : {eng:>10,.0f} rows/s")
        print(f"  ratio engine / baseline : {eng / base:>10.2f}   (target >= 0.9; medians of {args.repeat} runs)")
        print(
            f"  per CPU second          : baseline {base_c:,.0f} rows, engine {eng_c:,.0f} rows "
            f"(ratio {eng_c / base_c:.2f}; the engine's figure includes librdkafka's threads)"
        )
        print(f"  engine peak RSS         : {sampler.peak / 1e6:>10.0f} MB")
        if lat.get("count"):
            print(
                f"  latency at {args.latency_rate} rows/s  : p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, "
                f"max {lat['max_ms']:.1f} ms ({lat['count']} rows, {lat['missing']} not received)"
            )
        if profile:
            print("\n" + profile)
    finally:
        if engine is not None:
            engine.kill_if_running()
        broker.stop()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def run_profile(
    server: MySQLFamilyServer, bootstrap: str, topic: str, pid: int, rows: int, first: int, out: Path
) -> str:
    """py-spy the engine during one more throughput run; the top functions by own and total time."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out.mkdir(parents=True, exist_ok=True)
    raw = out / "mysql-engine.txt"
    proc = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(raw), "--rate", "200", "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    engine_run(server, bootstrap, topic, rows, first, pid)
    proc.send_signal(2)
    proc.wait(30)
    return summarize_profile(raw)


def summarize_profile(raw: Path, limit: int = 20) -> str:
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        samples += count
        leaf = frames[-1]
        own[leaf] = own.get(leaf, 0) + count
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + count
    lines = [f"py-spy profile of the engine ({samples} samples): top functions by own time"]
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:limit]:
        lines.append(f"  {100 * count / max(samples, 1):5.1f}%  {frame}")
    lines.append("by total (inclusive) time:")
    for frame, count in sorted(total.items(), key=lambda kv: -kv[1])[:limit]:
        lines.append(f"  {100 * count / max(samples, 1):5.1f}%  {frame}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
