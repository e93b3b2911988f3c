"""The differential conformance run: the real Debezium 3.6.3 and cdc-engine on one database, side by side.

    python tests/conformance/runner.py [--out DIR] [--variant NAME ...]      (or: make conformance)

Starts a throwaway PostgreSQL (``wal_level=logical``) and a tansu broker, creates the schema and snapshot rows of
``scenario.SETUP``, starts one Debezium Connect worker (``servers.debezium``) with a connector per variant of
``scenario.VARIANTS`` and one cdc-engine runtime per variant (same properties; prefixes ``dbz_<v>`` and
``cdc_<v>``), waits until all of them stream, applies ``scenario.CHANGES``, waits for the sentinel row, reads
every topic of both sides and compares them (``compare``). Prints matched/total and every kind of difference;
writes ``report.txt`` and both sides' records (``records-<prefix>.jsonl``) to ``--out``.

Exit status: 0 when every record matches or differs only as ``accepted.ACCEPTED`` allows, 1 otherwise, 2 when
Debezium cannot run here (the reason is printed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))
_REPO = _HERE.parents[1]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

import psycopg  # noqa: E402
from accepted import unaccepted  # noqa: E402
from compare import Record, Report, compare  # noqa: E402
from scenario import CHANGES, SETUP, VARIANTS  # noqa: E402

from cdc.config import load_engine_config  # noqa: E402
from cdc.errors import ConfigError  # noqa: E402
from cdc.kafka.reading import end_reading_consumer, messages_to_end  # noqa: E402
from cdc.runtime import ConnectorRuntime  # noqa: E402
from servers import open_kafka, open_postgres  # noqa: E402
from servers.debezium import DebeziumWorker, render, unavailable_reason  # noqa: E402

DBNAME = "conformance"


def dump(bootstrap: str, prefix: str) -> list[Record]:
    """Every record of the topics ``prefix.*`` and ``__debezium-heartbeat.prefix``, per topic and partition."""
    consumer = end_reading_consumer(bootstrap, "conformance", **{"session.timeout.ms": 6000})
    try:
        metadata = consumer.list_topics(timeout=15)
        heartbeat = f"__debezium-heartbeat.{prefix}"
        topics = sorted(t for t in metadata.topics if t.startswith(prefix + ".") or t == heartbeat)
        records: list[Record] = []
        for topic in topics:
            starts = dict.fromkeys(metadata.topics[topic].partitions, 0)
            for msg in messages_to_end(consumer, topic, starts, 60):
                headers = msg.headers() or []
                records.append(
                    {
                        "topic": topic,
                        "key": render(msg.key()),
                        "value": render(msg.value()),
                        # Header values as text: their exact bytes are part of the comparison.
                        "headers": [[k, None if v is None else v.decode("utf-8", "replace")] for k, v in headers],
                    }
                )
        return records
    finally:
        consumer.close()


def _connection(pg: Any) -> dict[str, str]:
    return {
        "database.hostname": pg.host,
        "database.port": str(pg.port),
        "database.user": pg.user,
        "database.password": pg.password,
        "database.dbname": DBNAME,
    }


def _connector(pg: Any, prefix: str, props: dict[str, str]) -> dict[str, str]:
    config = {
        "name": prefix,
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        **_connection(pg),
        "topic.prefix": prefix,
        "slot.name": prefix,
        "publication.name": f"{prefix}_pub",
        "plugin.name": "pgoutput",
        **props,
    }
    # Connect applies a connector's converter settings only when the connector names the converter class too.
    for side in ("key", "value"):
        if any(k.startswith(f"{side}.converter.") for k in props):
            config.setdefault(f"{side}.converter", "org.apache.kafka.connect.json.JsonConverter")
    return config


class _Engine:
    """One cdc-engine runtime in a thread of this process."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.runtime = ConnectorRuntime(load_engine_config(None, document=document), progress=False)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.runtime.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the runner
            self.error = exc

    def stop(self) -> None:
        self.runtime.request_stop()
        self.thread.join(60)


def _wait(what: str, predicate: Callable[[], bool], timeout: float, check: Callable[[], None]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.3)


def _streaming_slots(dsn: str) -> set[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT s.slot_name FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid"
            " WHERE r.state = 'streaming'"
        ).fetchall()
    return {r[0] for r in rows}


def _has_records(bootstrap: str, topic: str) -> bool:
    consumer = end_reading_consumer(bootstrap, "conformance-wait", **{"session.timeout.ms": 6000})
    try:
        metadata = consumer.list_topics(timeout=10)
        if topic not in metadata.topics:
            return False
        starts = dict.fromkeys(metadata.topics[topic].partitions, 0)
        return any(True for _ in messages_to_end(consumer, topic, starts, 30))
    finally:
        consumer.close()


def run(out: Path, variants: list[str] | None = None, log: Callable[[str], None] = print) -> Report:
    """The whole differential run; the comparison report (records and report.txt written to ``out``)."""
    chosen = {v: VARIANTS[v] for v in (variants or list(VARIANTS))}
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open_postgres(wal_level="logical") as pg, open_kafka() as kafka:
        bootstrap = kafka.bootstrap_servers
        pg.create_database(DBNAME)
        dsn = pg.dsn(DBNAME)
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in SETUP:
                conn.execute(statement)
        debezium = DebeziumWorker(bootstrap, [_connector(pg, f"dbz_{v}", props) for v, props in chosen.items()])
        engines: list[_Engine] = []
        rejected: set[str] = set()
        try:
            debezium.start()
            for v, props in chosen.items():
                prefix = f"cdc_{v}"
                document = {
                    "name": prefix,
                    "config": {**_connector(pg, prefix, props), "connector.class": "postgres"},
                    "worker": {
                        "bootstrap.servers": bootstrap,
                        "offset.flush.interval.ms": 500,
                        "offset.storage.partitions": 1,
                    },
                }
                document["config"].pop("name")
                try:
                    engine = _Engine(document)
                except ConfigError as exc:
                    # Our engine refuses a property Debezium has: every record of the variant counts as missing.
                    log(f"conformance: cdc-engine rejects variant {v}: {exc}")
                    rejected.add(v)
                    continue
                engines.append(engine)
                engine.thread.start()

            def check() -> None:
                debezium.check()
                for engine in engines:
                    if engine.error is not None:
                        raise RuntimeError(f"cdc-engine failed: {engine.error!r}")

            slots = {f"dbz_{v}" for v in chosen} | {f"cdc_{v}" for v in chosen if v not in rejected}
            _wait("every connector to stream", lambda: slots <= _streaming_slots(pg.dsn()), 180, check)
            log(f"conformance: {len(slots)} connectors streaming after {time.monotonic() - started:.1f}s")
            with psycopg.connect(dsn, autocommit=True) as conn:
                for statement in CHANGES:
                    conn.execute(statement)
            for v in chosen:
                for side in ("dbz", "cdc"):
                    if side == "cdc" and v in rejected:
                        continue
                    topic = f"{side}_{v}.public.zz_done"
                    _wait(f"{topic}", lambda t=topic: _has_records(bootstrap, t), 120, check)  # type: ignore[misc]
            time.sleep(2.5)  # records of other partitions produced before the sentinel become readable
            report = Report()
            for v in chosen:
                sides = {}
                for side in ("dbz", "cdc"):
                    prefix = f"{side}_{v}"
                    sides[side] = dump(bootstrap, prefix)
                    with (out / f"records-{prefix}.jsonl").open("w") as f:
                        for record in sides[side]:
                            f.write(json.dumps(record) + "\n")
                report.pairs.extend(compare(v, sides["dbz"], f"dbz_{v}", sides["cdc"], f"cdc_{v}"))
        finally:
            for engine in engines:
                engine.stop()
            debezium.stop()
    text = report.text()
    left = unaccepted(report)
    text += f"\nnot accepted: {len(left)} of {report.total - report.matched} differing records"
    (out / "report.txt").write_text(text + "\n")
    log(text)
    log(f"conformance: done in {time.monotonic() - started:.1f}s; records and report in {out}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="directory for records and report (default: temp)")
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="run only these variants")
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason is not None:
        print(f"conformance: the real Debezium cannot run here: {reason}", file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="cdc-conformance-"))
    report = run(out, args.variant)
    return 0 if not unaccepted(report) else 1


if __name__ == "__main__":
    sys.exit(main())
