"""``make demo`` / ``cdc-engine demo``: the whole pipeline on one machine, in a few seconds.

Starts a throwaway PostgreSQL cluster (``wal_level=logical``) and a throwaway Kafka-compatible broker (tansu)
with the helpers in the ``servers`` package, creates a small ``inventory``-style schema (customers, products,
orders), runs the engine in a thread (the same :class:`~cdc.runtime.ConnectorRuntime` ``cdc-engine start``
runs), waits for the initial snapshot, makes a few inserts/updates/deletes, and prints every change event read
back from Kafka. Everything is stopped and deleted again at the end, also on errors and Ctrl-C.

It needs a source checkout (the ``servers`` package) and the PostgreSQL server binaries (``scripts/bootstrap.sh``
installs them), so it is not available in the Docker image.
"""

from __future__ import annotations

import base64
import contextlib
import decimal
import gc
import json
import logging
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.text import Text

REPO = Path(__file__).resolve().parents[1]

CONNECTOR_NAME = "inventory-connector"
TOPIC_PREFIX = "dbserver1"
DBNAME = "inventory"
TABLES = ("customers", "products", "orders")
TOPICS = tuple(f"{TOPIC_PREFIX}.public.{t}" for t in TABLES)

# The sample schema and rows, shared with docker-compose.yml (the postgres image runs it on first start).
SCHEMA_SQL_PATH = REPO / "docker" / "postgres-init.sql"
SNAPSHOT_ROWS = 8

# One entry per transaction.
CHANGES: tuple[tuple[str, ...], ...] = (
    ("INSERT INTO customers (first_name, last_name, email) VALUES ('Anne', 'Kretchmar', 'annek@noanswer.org')",),
    ("UPDATE customers SET email = 'sally@example.com' WHERE id = 1001",),
    (
        "UPDATE products SET price = 116.55 WHERE id = 102",
        "INSERT INTO orders (purchaser, product_id, quantity) VALUES (1004, 102, 3)",
    ),
    ("DELETE FROM orders WHERE id = 10001",),
)
CHANGE_RECORDS = 6  # c, u, u + c (one transaction), d + tombstone

OP_STYLE = {"r": "cyan", "c": "green", "u": "yellow", "d": "red", "t": "magenta"}
DECIMAL = "org.apache.kafka.connect.data.Decimal"


@dataclass
class Event:
    topic: str
    key: dict[str, Any] | None  # the key's payload
    value: dict[str, Any] | None  # the whole {"schema", "payload"} document; None for a tombstone
    order: tuple[Any, ...]
    raw_key: bytes | None = None
    raw_value: bytes | None = None


# Set by the SIGINT handler; checked between steps, so that Ctrl-C never lands inside a librdkafka call.
_INTERRUPTED = threading.Event()


class DemoError(Exception):
    """Something the demo cannot continue after; the message is printed, the exit code is 1."""


class EngineThread:
    """The runtime in a background thread; ``error`` holds what ``run`` raised, if anything."""

    def __init__(self, document: dict[str, Any]) -> None:
        from cdc.config import load_engine_config
        from cdc.runtime import ConnectorRuntime

        self.engine = load_engine_config(None, document=document)
        self.runtime = ConnectorRuntime(self.engine, progress=False)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cdc-engine", daemon=True)

    def _run(self) -> None:
        try:
            self.runtime.run()
        except BaseException as exc:  # noqa: BLE001 - reported by check() on the main thread
            self.error = exc

    def start(self) -> None:
        self._thread.start()

    def check(self) -> None:
        if _INTERRUPTED.is_set():
            raise KeyboardInterrupt
        if self.error is not None:
            raise DemoError(f"the engine stopped with an error: {self.error}")
        if not self._thread.is_alive():
            raise DemoError("the engine stopped unexpectedly")

    def stop(self, timeout: float = 30) -> None:
        self.runtime.request_stop()
        self._thread.join(timeout)
        # The runtime's producer sits in a reference cycle (its delivery callbacks are bound methods): collect it
        # now so its broker connections close before the broker is stopped (tansu waits for open connections).
        gc.collect()
        if self._thread.is_alive():
            raise DemoError(f"the engine did not stop within {timeout:.0f}s")
        if self.error is not None:
            raise DemoError(f"the engine stopped with an error: {self.error}")


# -- rendering ----------------------------------------------------------------------------------------------------


def _decimal(value: str, params: dict[str, str]) -> decimal.Decimal:
    """Connect Decimal (base64 of the big-endian two's-complement unscaled value) as a Python Decimal."""
    unscaled = int.from_bytes(base64.b64decode(value), "big", signed=True)
    return decimal.Decimal(unscaled).scaleb(-int(params.get("scale", "0")))


def _row_schema(value: dict[str, Any], field: str) -> dict[str, dict[str, Any]]:
    for f in value["schema"].get("fields", []):
        if f.get("field") == field:
            return {c["field"]: c for c in f.get("fields", [])}
    return {}


def _render_row(row: dict[str, Any] | None, columns: dict[str, dict[str, Any]]) -> Text:
    if row is None:
        return Text("null", style="dim")
    out = Text("{")
    for i, (name, val) in enumerate(row.items()):
        if i:
            out.append(", ")
        out.append(name, style="bold")
        out.append("=")
        schema = columns.get(name, {})
        if val is not None and schema.get("name") == DECIMAL:
            out.append(str(_decimal(val, schema.get("parameters", {}))), style="blue")
        else:
            out.append(json.dumps(val, ensure_ascii=False), style="dim" if val is None else "")
    out.append("}")
    return out


def _print_event(console: Console, event: Event) -> None:
    key = json.dumps(event.key, separators=(",", ":")) if event.key is not None else "null"
    if event.value is None:
        head = Text.assemble(("-", "dim"), "  ", (event.topic, "bold"), f"  key {key}  ")
        head.append("tombstone (null value: lets log compaction remove the key)", style="dim")
        console.print(head)
        return
    payload = event.value["payload"]
    op = payload["op"]
    source = payload["source"]
    head = Text.assemble((op, f"bold {OP_STYLE.get(op, '')}"), "  ", (event.topic, "bold"), f"  key {key}")
    head.append(f"  txId={source['txId']} lsn={source['lsn']}", style="dim")
    if op == "r":
        head.append(f" snapshot={source['snapshot']}", style="dim")
    console.print(head)
    before, after = payload["before"], payload["after"]
    columns = _row_schema(event.value, "after" if after is not None else "before")
    if op in ("r", "c"):
        console.print(Text("     after  ").append(_render_row(after, columns)))
        return
    line = Text("     before ").append(_render_row(before, columns))
    if op == "u" and before is None:
        line.append("  (REPLICA IDENTITY DEFAULT: no old row for updates)", style="dim")
    console.print(line)
    line = Text("     after  ").append(_render_row(after, columns))
    if op == "u" and before is not None:
        changed = [c for c in after if before.get(c) != after.get(c)]
        line.append(f"  (changed: {', '.join(changed)})", style="dim")
    console.print(line)


# -- Kafka --------------------------------------------------------------------------------------------------------


def _sort_key(
    topic: str, key: dict[str, Any] | None, value: dict[str, Any] | None, seq: int, previous: tuple[Any, ...]
) -> tuple[Any, ...]:
    """Commit order across topics and partitions: by LSN (snapshot rows share one LSN: then table, as the
    snapshot reads them, and key); a tombstone sorts right after the delete before it in its partition."""
    if value is None:
        return (*previous[:-1], seq)
    lsn = value["payload"]["source"].get("lsn") or 0
    return (lsn, sorted(TOPICS).index(topic), tuple((key or {}).values()), seq)


class TopicReader:
    """Reads the demo's topics from the beginning, in arrival order per partition."""

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Consumer

        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"cdc-demo-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        self._assigned = False
        self._seq = 0
        self._last: dict[tuple[str, int], tuple[Any, ...]] = {}

    def _assign(self, engine: EngineThread, deadline: float) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        while True:
            engine.check()
            topics = self.consumer.list_topics(timeout=5).topics
            if all(t in topics and topics[t].partitions for t in TOPICS):
                break
            if time.monotonic() > deadline:
                missing = [t for t in TOPICS if t not in topics]
                raise DemoError(f"topics {missing} did not appear in Kafka")
            time.sleep(0.2)
        self.consumer.assign(
            [TopicPartition(t, p, OFFSET_BEGINNING) for t in TOPICS for p in sorted(topics[t].partitions)]
        )
        self._assigned = True

    def read(self, count: int, engine: EngineThread, timeout: float = 30) -> list[Event]:
        """Exactly ``count`` more records (sorted into commit order); DemoError if they do not arrive in time."""
        deadline = time.monotonic() + timeout
        if not self._assigned:
            self._assign(engine, deadline)
        events: list[Event] = []
        while len(events) < count:
            engine.check()
            if time.monotonic() > deadline:
                raise DemoError(f"expected {count} change records within {timeout:.0f}s, got {len(events)}")
            for msg in self.consumer.consume(count - len(events), 0.25):
                if msg.error() is not None:
                    raise DemoError(f"consumer error: {msg.error()}")
                topic, partition = str(msg.topic()), int(msg.partition() or 0)
                key_doc, value_doc = msg.key(), msg.value()
                key = None if key_doc is None else json.loads(key_doc)["payload"]
                value = None if value_doc is None else json.loads(value_doc)
                self._seq += 1
                order = _sort_key(topic, key, value, self._seq, self._last.get((topic, partition), (0, 0, (), 0)))
                self._last[(topic, partition)] = order
                events.append(Event(topic, key, value, order, key_doc, value_doc))
        events.sort(key=lambda e: e.order)
        return events

    def close(self) -> None:
        self.consumer.close()


# -- the demo -----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_engine_logs() -> Iterator[None]:
    """Engine INFO logs would drown the demo's output; keep warnings (and everything at --log-level DEBUG)."""
    from cdc import logs

    root = logging.getLogger()
    if not root.handlers:
        logs.configure("text", "WARNING")
    engine_logger = logging.getLogger("cdc")
    saved = engine_logger.level
    if root.level > logging.DEBUG:
        engine_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        engine_logger.setLevel(saved)


def connector_document(pg_host: str, pg_port: int, pg_user: str, bootstrap: str) -> dict[str, Any]:
    """The demo's configuration, in the same {name, config, worker} shape as config/postgres.yaml."""
    return {
        "name": CONNECTOR_NAME,
        "config": {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": pg_host,
            "database.port": pg_port,
            "database.user": pg_user,
            "database.dbname": DBNAME,
            "topic.prefix": TOPIC_PREFIX,
            "slot.name": "demo",
            "publication.name": "demo_publication",
        },
        "worker": {
            "bootstrap.servers": bootstrap,
            "offset.storage.topic": "connect-offsets",
            "offset.storage.partitions": 1,
            "offset.flush.interval.ms": 500,
        },
    }


def run(console: Console, dump: Path | None = None) -> None:
    """The demo; raises DemoError (or a server start-up error) when something fails. ``dump``: write every
    record read back as one JSON line (key and value documents), for documentation."""
    import psycopg

    if not SCHEMA_SQL_PATH.is_file():
        raise DemoError(f"{SCHEMA_SQL_PATH} not found: the demo runs from a source checkout of cdc-engine")
    from servers import PostgresServer, TansuBroker  # throwaway PostgreSQL and tansu

    started = time.monotonic()
    rule_style = "bold"
    with contextlib.ExitStack() as stack:
        console.print("[bold]cdc-engine demo[/]: PostgreSQL → cdc-engine → Kafka, all throwaway and local")
        pg = stack.enter_context(PostgresServer().start(wal_level="logical"))
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DBNAME}")
            version = conn.execute("SHOW server_version").fetchone()
        console.print(
            f"  • PostgreSQL {version[0] if version else '?'} on {pg.host}:{pg.port} (wal_level=logical, "
            f"temporary data directory)"
        )
        # TansuBroker starts tansu in its own session, so Ctrl-C does not kill it before the engine has stopped.
        broker = stack.enter_context(TansuBroker().start())
        console.print(f"  • Kafka-compatible broker (tansu, in memory) on {broker.bootstrap_servers}")
        with psycopg.connect(pg.dsn(DBNAME), autocommit=True) as conn:
            conn.execute(SCHEMA_SQL_PATH.read_text())
        console.print(
            f"  • database {DBNAME!r}: tables public.customers, public.products, public.orders ({SNAPSHOT_ROWS} rows)"
        )

        document = connector_document(pg.host, pg.port, pg.user, broker.bootstrap_servers)
        engine = EngineThread(document)
        engine.start()
        stack.callback(_stop_quietly, engine)
        console.print(
            f"  • engine started: connector {CONNECTOR_NAME!r}, topics {TOPIC_PREFIX}.public.<table>, "
            "offsets in topic connect-offsets"
        )
        reader = TopicReader(broker.bootstrap_servers)
        stack.callback(reader.close)
        records: list[Event] = []

        console.print()
        _checkpoint()
        console.rule("initial snapshot: one op=r event per existing row", style=rule_style)
        snapshot = reader.read(SNAPSHOT_ROWS, engine)
        records += snapshot
        for event in snapshot:
            _print_event(console, event)

        console.print()
        _checkpoint()
        console.rule("changes made after the snapshot", style=rule_style)
        with psycopg.connect(pg.dsn(DBNAME)) as conn:
            for transaction in CHANGES:
                for statement in transaction:
                    console.print(Text("SQL> ", style="bold magenta").append(statement))
                    conn.execute(statement)
                conn.commit()
                if len(transaction) > 1:
                    console.print(Text("SQL> COMMIT  (both statements in one transaction)", style="bold magenta"))
        console.print()
        changes = reader.read(CHANGE_RECORDS, engine)
        records += changes
        for event in changes:
            _print_event(console, event)

        console.print()
        _checkpoint()
        console.rule("stopping", style=rule_style)
        engine.stop()
        console.print("  • engine stopped cleanly (final offset commit done)")
        offset, slot = _stored_position(broker.bootstrap_servers, pg.dsn(DBNAME))
        console.print(Text("  • stored offset: ").append(json.dumps(offset, separators=(",", ":"))))
        if offset and slot:
            from cdc.postgres.replication import lsn_to_str

            console.print(
                f"    = LSN {lsn_to_str(int(offset['lsn']))}; the replication slot's confirmed_flush_lsn is {slot} "
                "(WAL is released only up to what is stored)"
            )
        if dump is not None:
            _dump(dump, records)
    console.print(
        f"  • PostgreSQL and the broker stopped, temporary directories deleted "
        f"({time.monotonic() - started:.1f}s in total)"
    )
    console.print()
    console.print(
        "Legend: r = snapshot read, c = create, u = update, d = delete, - = tombstone. Values as on the wire "
        "except numeric columns (Connect Decimal, base64 bytes on the wire) shown as numbers."
    )
    console.print('Run it on your own database: README.md, section "Running on your own database".')


def _checkpoint() -> None:
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


def _on_sigint(_signum: int, _frame: FrameType | None) -> None:
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt  # second Ctrl-C: at once
    _INTERRUPTED.set()


def _stop_quietly(engine: EngineThread) -> None:
    with contextlib.suppress(DemoError):
        engine.stop()


def _stored_position(bootstrap: str, dsn: str) -> tuple[dict[str, Any] | None, str | None]:
    import psycopg

    from cdc.kafka.offset_store import OffsetStore

    store = OffsetStore(bootstrap, "connect-offsets")
    try:
        offset = store.read(CONNECTOR_NAME, TOPIC_PREFIX)
    finally:
        store.close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'demo'")
        found = row.fetchone()
    return offset, None if found is None else str(found[0])


def _dump(path: Path, records: list[Event]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for event in records:
            raw = {"key": event.raw_key, "value": event.raw_value}
            line = {"topic": event.topic, **{k: None if v is None else v.decode() for k, v in raw.items()}}
            out.write(json.dumps(line) + "\n")


def main() -> int:
    """Run the demo; 0 on success, 1 on failure, 130 on Ctrl-C. Nothing is left running in any case."""
    console = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    _INTERRUPTED.clear()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _on_sigint) if in_main_thread else None
    try:
        with _quiet_engine_logs():
            run(console)
    except KeyboardInterrupt:
        err.print("interrupted; the engine, PostgreSQL and the broker were stopped")
        return 130
    except DemoError as exc:
        err.print(f"[bold red]demo failed:[/] {exc}")
        return 1
    except Exception as exc:  # noqa: BLE001 - server start-up failures etc.: one message, no traceback
        if _INTERRUPTED.is_set():  # Ctrl-C also reaches initdb/pg_ctl, which then fail
            err.print("interrupted; the engine, PostgreSQL and the broker were stopped")
            return 130
        err.print(f"[bold red]demo failed:[/] {type(exc).__name__}: {exc}")
        return 1
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
