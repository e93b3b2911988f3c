#!/usr/bin/env python
"""PostgreSQL → Kafka throughput and latency benchmark (``make bench``).

Starts a throwaway PostgreSQL (``wal_level=logical``) and a memory-only tansu broker through the ``servers`` package,
creates a table with six mixed columns and measures, in one run:

1. **pg_recvlogical baseline.** PostgreSQL's own client streams the slot (pgoutput, ``proto_version=1``) into a
   file on tmpfs while N rows are committed in one transaction. Timed from the moment COMMIT returns to the
   moment the file received the transaction's last message (the file's mtime once the Commit message is there;
   the file is then parsed to check that exactly N Insert messages arrived).
2. **The engine, end to end.** ``cdc-engine start`` runs as a *subprocess* (the real CLI, ``snapshot.mode=never``,
   already streaming), so that its RSS can be sampled with psutil without the benchmark's own memory in it.
   The same N-row transaction is committed; timed from COMMIT returning until the topic's high watermark (records
   acknowledged by the broker, ``acks=all``) reaches N. The topic is then read back to check the count.
3. **Latency.** The engine keeps running; a writer commits small transactions at a steady rate (default 1000
   rows/s as 100 transactions of 10 rows) for ~10 s while a consumer reads the topic. Per record: the time the
   consumer received it minus ``source.ts_us`` (the transaction's commit time). This is commit → consumer
   visible, an upper bound of commit → producer ack (it adds the consumer's fetch round trip).

Each kind runs ``--repeat`` times (all pg_recvlogical runs first, before the engine's slot exists); the summary
shows the median of each.
``--profile DIR`` additionally attaches ``py-spy record`` to the engine during one extra (unmeasured) throughput
run and prints the top functions.

Run: ``.venv/bin/python bench/pg_throughput.py [--rows 200000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import orjson  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # noqa: E402

from cdc.kafka.reading import end_reading_consumer, messages_to_end  # noqa: E402
from servers import PostgresServer, TansuBroker, find_postgres_bindir  # noqa: E402
from servers.engine import EngineProcess  # noqa: E402

DBNAME = "bench"
TABLE = "bench_rows"
PUBLICATION = "bench_pub"

CREATE_TABLE = f"""
CREATE TABLE {TABLE} (
    id      bigint PRIMARY KEY,
    qty     integer NOT NULL,
    note    text,
    price   numeric(12,2),
    created timestamptz NOT NULL,
    active  boolean
)
"""

# Mixed values: NULLs in two columns, fractional seconds of varying length, negative and positive numerics.
INSERT_RANGE = f"""
INSERT INTO {TABLE} (id, qty, note, price, created, active)
SELECT g,
       (g %% 100000)::int,
       CASE WHEN g %% 10 = 0 THEN NULL ELSE 'note ' || g END,
       ((g %% 2000000) - 1000000) / 100.0,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' + (g %% 1000) * interval '1 microsecond',
       CASE WHEN g %% 7 = 0 THEN NULL ELSE g %% 2 = 0 END
FROM generate_series(%s::bigint, %s::bigint) AS g
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL helpers


class Database:
    def __init__(self, pg: PostgresServer) -> None:
        self.pg = pg
        self.dsn = pg.dsn(DBNAME)
        self.next_id = 1

    def setup(self) -> None:
        self.pg.create_database(DBNAME)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(CREATE_TABLE)
            conn.execute(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE {TABLE}")

    def load(self, rows: int) -> float:
        """Insert ``rows`` new rows in one transaction; returns time.time() right after COMMIT returned."""
        first = self.next_id
        self.next_id += rows
        with psycopg.connect(self.dsn) as conn:
            conn.execute(INSERT_RANGE, (first, first + rows - 1))
            conn.commit()
            return time.time()

    def slot_active(self, slot: str) -> bool:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
        return bool(row and row[0])

    def drop_slot(self, slot: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s", (slot,)
            )


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------------------------
# pg_recvlogical


def _cstring_end(buf: bytes, pos: int) -> int:
    return buf.index(0, pos) + 1


def count_pgoutput_file(path: Path) -> tuple[int, int]:
    """(Insert messages, Commit messages) in pg_recvlogical's output: each message followed by a newline."""
    data = path.read_bytes()
    pos, inserts, commits = 0, 0, 0
    size = len(data)
    while pos < size:
        tag = data[pos]
        if tag == 66:  # B
            pos += 21
        elif tag == 67:  # C
            pos += 26
            commits += 1
        elif tag == 73:  # I: relid, 'N', TupleData
            pos += 6
            ncols = int.from_bytes(data[pos : pos + 2], "big")
            pos += 2
            for _ in range(ncols):
                kind = data[pos]
                pos += 1
                if kind in (116, 98):  # t, b
                    pos += 4 + int.from_bytes(data[pos : pos + 4], "big")
            inserts += 1
        elif tag == 82:  # R
            pos = _cstring_end(data, _cstring_end(data, pos + 5))
            ncols = int.from_bytes(data[pos + 1 : pos + 3], "big")
            pos += 3
            for _ in range(ncols):
                pos = _cstring_end(data, pos + 1) + 8
        elif tag == 89:  # Y
            pos = _cstring_end(data, _cstring_end(data, pos + 5))
        else:
            raise ValueError(f"unexpected pgoutput message {chr(tag)!r} at {pos} in {path}")
        if data[pos : pos + 1] != b"\n":
            raise ValueError(f"pg_recvlogical output out of sync at {pos}")
        pos += 1
    return inserts, commits


@dataclass
class RunResult:
    rows: int
    seconds: float
    cpu_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def run_pg_recvlogical(db: Database, bindir: Path, rows: int, workdir: Path, meter: CpuMeter) -> RunResult:
    """Stream one N-row transaction with pg_recvlogical; returns the commit → last-byte time."""
    slot = f"recv_{uuid.uuid4().hex[:8]}"
    out = workdir / f"{slot}.out"
    pg = db.pg
    base = [str(bindir / "pg_recvlogical"), "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", DBNAME]
    subprocess.run([*base, "-S", slot, "--create-slot", "-P", "pgoutput"], check=True, capture_output=True)
    proc = subprocess.Popen(
        [
            *base,
            "-S",
            slot,
            "--start",
            "-o",
            "proto_version=1",
            "-o",
            f"publication_names={PUBLICATION}",
            "-F",
            "0",
            "-f",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: db.slot_active(slot), 30, "pg_recvlogical to connect")
        ps = psutil.Process(proc.pid)
        cpu0 = sum(ps.cpu_times()[:2])
        meter0 = meter.snapshot()
        committed = db.load(rows)
        min_size = rows * 40
        deadline = time.monotonic() + 300
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("pg_recvlogical did not receive all rows within 300 s")
            if proc.poll() is not None:
                raise RuntimeError(f"pg_recvlogical exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                st = out.stat()
            except FileNotFoundError:
                time.sleep(0.01)
                continue
            if st.st_size >= min_size:
                with out.open("rb") as fh:
                    fh.seek(st.st_size - 27)
                    tail = fh.read(27)
                if tail[:1] == b"C" and tail[-1:] == b"\n":
                    done_at = out.stat().st_mtime_ns / 1e9
                    inserts, _ = count_pgoutput_file(out)
                    if inserts >= rows:
                        break
            time.sleep(0.01)
        cpu = sum(ps.cpu_times()[:2]) - cpu0
        breakdown = {"pg_recvlogical": cpu, **CpuMeter.delta(meter0, meter.snapshot())}
        if inserts != rows:
            raise RuntimeError(f"pg_recvlogical received {inserts} inserts, expected {rows}")
        return RunResult(rows, done_at - committed, cpu, {"bytes": out.stat().st_size, "cpu": breakdown})
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        out.unlink(missing_ok=True)
        db.drop_slot(slot)


# ---------------------------------------------------------------------------------------------------------------
# Kafka helpers


class TopicWatch:
    """How many records the topic holds (acknowledged with acks=all), without transferring them all.

    Kafka answers ListOffsets(latest) with the high watermark. tansu's memory storage answers with the first
    offset of the *last batch* + 1 instead (checked: 1000 records in one batch report 1), so the bounded tail
    from there is read, and the end-of-partition event of that fetch (whose high watermark is right) gives the
    true end. The tail is only read when the reported value is within ``slack`` records of the target.
    """

    def __init__(self, bootstrap: str, topic: str, partitions: int, slack: int = 10_000) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "fetch.wait.max.ms": 5,
            }
        )
        self.topic = topic
        self.partitions = partitions
        self.slack = slack

    def reported(self) -> list[int]:
        tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        return [self.consumer.get_watermark_offsets(tp, timeout=5, cached=False)[1] for tp in tps]

    def ends(self) -> list[int]:
        """The true end offset of every partition."""
        return [self._true_end(p, w) for p, w in enumerate(self.reported())]

    def _true_end(self, partition: int, reported: int) -> int:
        self.consumer.assign([TopicPartition(self.topic, partition, max(reported - 1, 0))])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = self.consumer.poll(1.0)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    return int(msg.offset())
                raise RuntimeError(err.str())
        raise TimeoutError(f"no end-of-partition event for {self.topic}[{partition}]")

    def reached(self, target: int) -> tuple[bool, int]:
        """(whether the topic holds ``target`` records in total, a lower bound of how many it holds)."""
        reported = self.reported()
        if sum(reported) >= target:
            return True, sum(reported)
        if sum(reported) + self.slack * self.partitions < target:
            return False, sum(reported)
        total = sum(self._true_end(p, w) for p, w in enumerate(reported))
        return total >= target, total

    def close(self) -> None:
        self.consumer.close()


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, -1)], operation_timeout=15).values():
        future.result()


def count_topic_from(bootstrap: str, topic: str, partitions: int, start: list[int]) -> tuple[int, set[int]]:
    """Read the topic from the given offsets to its end: (records, distinct ids)."""
    consumer = end_reading_consumer(bootstrap, "bench")
    try:
        count, ids = 0, set()
        for msg in messages_to_end(consumer, topic, dict(enumerate(start[:partitions])), timeout_s=600):
            count += 1
            ids.add(orjson.loads(msg.key())["payload"]["id"])
        return count, ids
    finally:
        consumer.close()


# ---------------------------------------------------------------------------------------------------------------
# The engine


class CpuMeter:
    """CPU seconds (user+sys) of the processes involved, to show where a run's CPU went (2-CPU machines!)."""

    def __init__(self, pg: PostgresServer, broker: TansuBroker) -> None:
        postmaster = int((pg.datadir / "postmaster.pid").read_text().splitlines()[0])
        self.postmaster = psutil.Process(postmaster)
        proc = getattr(broker, "_proc", None)
        self.tansu = psutil.Process(proc.pid) if proc is not None else None
        self.engine_pid: int | None = None

    def snapshot(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.engine_pid is not None:
            try:
                engine = psutil.Process(self.engine_pid)
                threads = engine.threads()
                main = sum(t.user_time + t.system_time for t in threads if t.id == self.engine_pid)
                total = sum(engine.cpu_times()[:2])
                out["engine: main (Python) thread"] = main
                out["engine: other threads (librdkafka)"] = total - main
            except psutil.Error:
                pass
        walsenders = 0.0
        for child in self.postmaster.children():
            try:
                if "walsender" in " ".join(child.cmdline()):
                    walsenders += sum(child.cpu_times()[:2])
            except psutil.Error:
                continue
        out["postgres walsender"] = walsenders
        if self.tansu is not None:
            out["tansu broker"] = sum(self.tansu.cpu_times()[:2])
        return out

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {k: after[k] - before.get(k, 0.0) for k in after}


class RssSampler(threading.Thread):
    """Samples the engine process's RSS every 20 ms; ``peak`` over the whole run, ``phase_peak`` since reset."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.phase_peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                rss = self.proc.memory_info().rss
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            self.phase_peak = max(self.phase_peak, rss)
            time.sleep(0.02)

    def reset_phase(self) -> None:
        self.phase_peak = 0

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


class Engine:
    def __init__(
        self,
        db: Database,
        bootstrap: str,
        workdir: Path,
        partitions: int,
        worker_props: dict[str, str],
        meter: CpuMeter,
        connector_props: dict[str, str] | None = None,
    ):
        self.meter = meter
        self.name = f"bench_{uuid.uuid4().hex[:6]}"
        self.db = db
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.topic = f"{self.name}.public.{TABLE}"
        pg = db.pg
        document = {
            "name": self.name,
            "config": {
                "connector.class": "postgres",
                "database.hostname": pg.host,
                "database.port": pg.port,
                "database.user": pg.user,
                "database.password": pg.password,
                "database.dbname": DBNAME,
                "topic.prefix": self.name,
                "slot.name": self.name,
                "publication.name": PUBLICATION,
                "publication.autocreate.mode": "disabled",
                "table.include.list": f"public.{TABLE}",
                "snapshot.mode": "never",
                **(connector_props or {}),
            },
            "worker": {"bootstrap.servers": bootstrap, "offset.storage.partitions": 1, **worker_props},
        }
        self.process = EngineProcess(document, workdir)
        self.sampler: RssSampler | None = None
        self.watch: TopicWatch | None = None

    def start(self, code: Path | None = None) -> None:
        create_topic(self.bootstrap, self.topic, self.partitions)
        if code is None:
            self.process.start()
        else:  # another checkout's cdc/ (e.g. a git worktree of an older commit), for before/after figures
            log_file = self.process.log_path.open("ab")
            self.process.proc = subprocess.Popen(
                [sys.executable, "-m", "cdc.cli", "start", "--config", str(self.process.config_path), "--no-progress"],
                cwd=code,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(code)},
            )
        self.sampler = RssSampler(self.process.pid)
        self.sampler.start()
        self.meter.engine_pid = self.process.pid
        wait_until(lambda: self.db.slot_active(self.name), 60, "the engine to start streaming", 0.2)
        self.watch = TopicWatch(self.bootstrap, self.topic, self.partitions)

    def cpu_seconds(self) -> float:
        return float(sum(psutil.Process(self.process.pid).cpu_times()[:2]))

    def throughput(self, rows: int, check: bool = True) -> RunResult:
        assert self.watch is not None and self.sampler is not None
        starts = self.watch.ends()
        target = sum(starts) + rows
        self.sampler.reset_phase()
        cpu0 = self.cpu_seconds()
        meter0 = self.meter.snapshot()
        committed = self.db.load(rows)
        started = time.monotonic()
        deadline = started + 600
        while True:
            reached, progress = self.watch.reached(target)
            if reached:
                break
            if self.process.proc is not None and self.process.proc.poll() is not None:
                raise RuntimeError(f"engine exited:\n{self.process.log()[-3000:]}")
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"engine did not deliver {rows} rows within 600 s")
            # tansu answers ListOffsets by scanning the partition, so polling costs broker CPU that grows with the
            # stored data: poll rarely while far from the end, every 5 ms close to it.
            done_so_far = progress - sum(starts)
            eta = (rows - done_so_far) * (now - started) / done_so_far if done_so_far > 0 else 1.0
            time.sleep(min(0.1, max(0.005, eta / 3)))
        done = time.time()
        cpu = self.cpu_seconds() - cpu0
        extra: dict[str, Any] = {
            "rss_peak": self.sampler.phase_peak,
            "cpu": CpuMeter.delta(meter0, self.meter.snapshot()),
        }
        if check:
            count, ids = count_topic_from(self.bootstrap, self.topic, self.partitions, starts)
            if count != rows or len(ids) != rows:
                raise RuntimeError(f"topic holds {count} new records ({len(ids)} distinct ids), expected {rows}")
        return RunResult(rows, done - committed, cpu, extra)

    def stop(self) -> None:
        if self.watch is not None:
            self.watch.close()
        try:
            if self.process.proc is not None:
                self.process.terminate(60)
        finally:
            if self.sampler is not None:
                self.sampler.stop()


# ---------------------------------------------------------------------------------------------------------------
# Latency


def latency_consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 5,
            "fetch.min.bytes": 1,
        }
    )


def percentiles(latencies_us: list[int]) -> dict[str, float]:
    ordered = sorted(latencies_us)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] / 1000

    return {"p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": ordered[-1] / 1000}


def measure_broker_floor(bootstrap: str, rate: int, seconds: float, batch: int) -> dict[str, Any]:
    """The broker's own produce → consumer-visible latency (same consumer settings, same message pattern).

    tansu answers fetches on its own schedule (p50 ~50 ms even for a producer with linger.ms=0 whose acks take
    ~1 ms), so this floor is what the engine's commit → consumer figure must be compared with.
    """
    topic = f"floor_{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, 1)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "enable.idempotence": True, "acks": "all"})
    producer.produce(topic, b"0")
    producer.flush(10)
    consumer = latency_consumer(bootstrap)
    consumer.assign([TopicPartition(topic, 0, 1)])
    consumer.consume(1, 1.0)
    total = int(rate * seconds / batch) * batch

    def produce() -> None:
        interval = batch / rate
        start = time.monotonic()
        for i in range(total // batch):
            delay = start + i * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = str(time.time_ns() // 1000).encode()
            for _ in range(batch):
                producer.produce(topic, now)
            producer.poll(0)
        producer.flush(10)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    latencies: list[int] = []
    deadline = time.monotonic() + seconds + 30
    while len(latencies) < total and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.05):
            received_us = time.time_ns() // 1000
            if msg.error() is None:
                latencies.append(received_us - int(msg.value()))
    thread.join(10)
    consumer.close()
    return {"records": len(latencies), **percentiles(latencies)}


def measure_latency(db: Database, engine: Engine, rate: int, seconds: float, tx_rows: int) -> dict[str, Any]:
    """Commit → consumer-visible latency at a steady ``rate`` rows/s in transactions of ``tx_rows`` rows."""
    consumer = latency_consumer(engine.bootstrap)
    assert engine.watch is not None
    ends = engine.watch.ends()
    consumer.assign([TopicPartition(engine.topic, p, ends[p]) for p in range(engine.partitions)])
    consumer.consume(1, 1.0)  # connect and fetch metadata before the writer starts
    transactions = int(rate * seconds / tx_rows)
    expected = transactions * tx_rows
    writer_error: list[BaseException] = []
    lag: list[float] = []

    def writer() -> None:
        try:
            with psycopg.connect(db.dsn) as conn:
                interval = tx_rows / rate
                start = time.monotonic()
                for i in range(transactions):
                    delay = start + i * interval - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    else:
                        lag.append(-delay)
                    first = db.next_id
                    db.next_id += tx_rows
                    conn.execute(INSERT_RANGE, (first, first + tx_rows - 1))
                    conn.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            writer_error.append(exc)

    latencies: list[int] = []
    thread = threading.Thread(target=writer, daemon=True)
    started = time.monotonic()
    thread.start()
    deadline = started + seconds + 60
    while len(latencies) < expected and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.05):
            received_us = time.time_ns() // 1000
            if msg.error() is not None:
                raise RuntimeError(msg.error().str())
            value = msg.value()
            if value is None:
                continue
            latencies.append(received_us - orjson.loads(value)["payload"]["source"]["ts_us"])
        if writer_error:
            raise writer_error[0]
    elapsed = time.monotonic() - started
    thread.join(10)
    consumer.close()
    if len(latencies) < expected:
        raise RuntimeError(f"latency run: received {len(latencies)} of {expected} records")
    return {
        "records": len(latencies),
        "rate": rate,
        "tx_rows": tx_rows,
        "elapsed": elapsed,
        **percentiles(latencies),
        "writer_late_ticks": len(lag),
    }


# ---------------------------------------------------------------------------------------------------------------
# Profiling


def top_functions(raw: Path, limit: int = 15, within: str = "") -> str:
    """Summarize py-spy's collapsed stacks: self and inclusive share per function (of stacks containing ``within``)."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        if within and within not in stack:
            continue
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")" if " (" in f else f
            for f in stack.split(";")
        ]
        samples += count
        self_counts[frames[-1]] += count
        for frame in set(frames):
            total_counts[frame] += count
    lines = [f"{'self %':>7} {'total %':>8}  function"]
    for name, count in self_counts.most_common(limit):
        lines.append(f"{100 * count / samples:7.1f} {100 * total_counts[name] / samples:8.1f}  {name}")
    return "\n".join(lines)


def profile_run(engine: Engine, rows: int, out_dir: Path, idle: bool) -> str:
    """One extra (unmeasured) throughput run with ``py-spy record`` attached to the engine process."""
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        return "py-spy not installed (.venv/bin/pip install py-spy); profile skipped"
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / "engine.collapsed"
    proc = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(engine.process.pid),
            "--rate",
            "250",
            "--nonblocking",
            "--format",
            "raw",
            "-o",
            str(raw),
            *(["--idle"] if idle else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    result = engine.throughput(rows, check=False)
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    if not raw.exists():
        return "py-spy produced no output (it needs ptrace permission)"
    return f"profiled run: {result.rate:,.0f} rows/s (under py-spy)\n{top_functions(raw)}\nraw stacks: {raw}"


# ---------------------------------------------------------------------------------------------------------------


def fmt_mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per throughput run (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs of each kind (median reported)")
    parser.add_argument("--partitions", type=int, default=1, help="partitions of the engine's topic")
    parser.add_argument("--latency-rate", type=int, default=1000, help="rows/s during the latency run")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--latency-tx-rows", type=int, default=10, help="rows per transaction in the latency run")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run pg_recvlogical")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--worker-property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra engine worker property, e.g. producer.compression.type=lz4",
    )
    parser.add_argument(
        "--connector-property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra engine connector property, e.g. extended.headers.enabled=false",
    )
    parser.add_argument("--profile", type=Path, metavar="DIR", help="also run py-spy on one extra engine run")
    parser.add_argument("--profile-idle", action="store_true", help="include idle (waiting) samples in the profile")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON")
    parser.add_argument(
        "--engine-code", type=Path, metavar="DIR", help="run the engine from another checkout (before/after figures)"
    )
    args = parser.parse_args()
    worker_props = dict(item.split("=", 1) for item in args.worker_property)
    connector_props = dict(item.split("=", 1) for item in args.connector_property)

    bindir = find_postgres_bindir()
    workdir = Path(tempfile.mkdtemp(prefix="cdc-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    recv: list[RunResult] = []
    ours: list[RunResult] = []
    latency: dict[str, Any] | None = None
    profile_text = ""
    log(f"rows per run: {args.rows:,}; repeats: {args.repeat}; PostgreSQL bindir {bindir}; {psutil.cpu_count()} CPUs")
    with PostgresServer().start() as pg, TansuBroker().start() as broker:
        db = Database(pg)
        db.setup()
        meter = CpuMeter(pg, broker)
        engine = Engine(db, broker.bootstrap_servers, workdir, args.partitions, worker_props, meter, connector_props)
        try:
            # pg_recvlogical first: the engine's slot does not exist yet, so the engine neither competes for CPU
            # nor sees these rows. Each kind starts with an unmeasured 1000-row warm-up transaction (Relation
            # message, catalog lookups, topic metadata).
            if not args.skip_baseline:
                run_pg_recvlogical(db, bindir, 1000, workdir, meter)
                for i in range(args.repeat):
                    r = run_pg_recvlogical(db, bindir, args.rows, workdir, meter)
                    recv.append(r)
                    log(
                        f"pg_recvlogical run {i + 1}: {r.rate:,.0f} rows/s ({r.seconds:.2f} s, "
                        f"{r.extra['bytes'] / 2**20:.0f} MB written, client CPU {r.cpu_s:.2f} s)"
                    )
            engine.start(args.engine_code)
            engine.throughput(1000)
            for i in range(args.repeat):
                r = engine.throughput(args.rows)
                ours.append(r)
                log(
                    f"engine run {i + 1}: {r.rate:,.0f} rows/s ({r.seconds:.2f} s, engine CPU {r.cpu_s:.2f} s, "
                    f"peak RSS {fmt_mb(r.extra['rss_peak'])})"
                )
            if not args.skip_latency:
                latency = measure_latency(db, engine, args.latency_rate, args.latency_seconds, args.latency_tx_rows)
                log(
                    f"latency: p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms "
                    f"over {latency['records']} records"
                )
                floor = measure_broker_floor(
                    broker.bootstrap_servers, args.latency_rate, args.latency_seconds, args.latency_tx_rows
                )
                latency["broker_floor"] = floor
                log(f"broker floor: p50 {floor['p50_ms']:.1f} ms, p99 {floor['p99_ms']:.1f} ms")
            if args.profile:
                profile_text = profile_run(engine, args.rows, args.profile, args.profile_idle)
            assert engine.sampler is not None
            peak_rss = engine.sampler.peak
        finally:
            engine.stop()
            shutil.rmtree(workdir, ignore_errors=True)

    ours_rate = statistics.median(r.rate for r in ours)
    recv_rate = statistics.median(r.rate for r in recv) if recv else None
    ratio = ours_rate / recv_rate if recv_rate else None
    ours_cpu = statistics.median(r.cpu_s or 0 for r in ours)
    rows = [
        ("rows per throughput run", f"{args.rows:,}"),
        ("pg_recvlogical (median)", f"{recv_rate:,.0f} rows/s" if recv_rate else "skipped"),
        ("engine end-to-end (median)", f"{ours_rate:,.0f} rows/s"),
        ("  runs", ", ".join(f"{r.rate:,.0f}" for r in ours)),
        ("ratio engine / pg_recvlogical", f"{ratio:.2f} (target >= 0.50)" if ratio else "n/a"),
        ("engine CPU per row", f"{1e6 * ours_cpu / args.rows:.1f} us (process user+sys)"),
        ("engine peak RSS (subprocess)", f"{fmt_mb(peak_rss)} (target < 256 MB)"),
    ]
    if latency:
        rows += [
            (
                f"latency @ {latency['rate']} rows/s, {latency['tx_rows']} rows/tx",
                f"p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms, max {latency['max_ms']:.1f} ms",
            ),
            ("  measured", "commit (source.ts_us) -> consumer received; upper bound of commit -> ack"),
            (
                "  broker floor (same consumer)",
                f"p50 {latency['broker_floor']['p50_ms']:.1f} ms, p99 {latency['broker_floor']['p99_ms']:.1f} ms "
                "(direct produce, linger.ms=0 -> consumer received)",
            ),
        ]
    width = max(len(k) for k, _ in rows)
    print("\n" + "=" * (width + 40))
    print("cdc-engine PostgreSQL -> Kafka benchmark")
    print("=" * (width + 40))
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print("=" * (width + 40))
    print("\nCPU seconds per run (median), and the share of the run's wall time")
    for title, runs in (("pg_recvlogical", recv), ("engine", ours)):
        if not runs:
            continue
        wall = statistics.median(r.seconds for r in runs)
        print(f"  {title} runs (wall {wall:.2f} s):")
        for key in runs[0].extra["cpu"]:
            value = statistics.median(r.extra["cpu"].get(key, 0.0) for r in runs)
            print(f"    {key:<36} {value:6.2f} s  {100 * value / wall:5.0f} %")
    if profile_text:
        print("\n" + profile_text)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": args.rows,
                    "pg_recvlogical": [r.rate for r in recv],
                    "engine": [r.rate for r in ours],
                    "engine_cpu_s": [r.cpu_s for r in ours],
                    "cpu_breakdown": {
                        "pg_recvlogical": [r.extra["cpu"] for r in recv],
                        "engine": [r.extra["cpu"] for r in ours],
                    },
                    "ratio": ratio,
                    "peak_rss": peak_rss,
                    "latency": latency,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
