"""Helpers for integration tests: run the engine (subprocess or thread), read topics, wait for conditions.

The engine runs as the real CLI (``python -m cdc start``) in a subprocess when a test needs to kill it
(SIGKILL) or measure its memory; in a thread when a test only needs events.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any

import psutil
import psycopg
from topic_tally import TopicTally

import servers.engine
from cdc.config import load_engine_config
from cdc.kafka.reading import end_reading_consumer, messages_to_end
from cdc.runtime import ConnectorRuntime

REPO = servers.engine.REPO


def execute(dsn: str, *statements: str) -> None:
    """Run ``statements`` one after the other on an autocommit connection to ``dsn``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def connection_properties(postgres_server: Any, dbname: str, name: str) -> dict[str, Any]:
    """The database connection, topic prefix, slot and publication of a connector called ``name``."""
    return {
        "database.hostname": postgres_server.host,
        "database.port": postgres_server.port,
        "database.user": postgres_server.user,
        "database.password": postgres_server.password,
        "database.dbname": dbname,
        "topic.prefix": name,
        "slot.name": name,
        "publication.name": f"pub_{name}",
    }


def connector_document(
    postgres_server: Any, kafka_bootstrap: str, dbname: str, name: str | None = None, **props: Any
) -> dict[str, Any]:
    """A full engine config document for ``dbname``; ``props`` override connector properties (use dotted names
    via a dict: ``**{"snapshot.mode": "never"}``). Worker properties go in ``props["worker"]``."""
    name = name or f"conn_{uuid.uuid4().hex[:8]}"
    worker = {"bootstrap.servers": kafka_bootstrap, "offset.flush.interval.ms": 200, "offset.storage.partitions": 1}
    worker.update(props.pop("worker", {}))
    config = {"connector.class": "postgres", **connection_properties(postgres_server, dbname, name)}
    config.update(props)
    return {"name": name, "config": config, "worker": worker}


def streaming_only_connector(
    postgres_server: Any, kafka_broker: Any, dbname: str, ddl: str, **props: Any
) -> tuple[str, dict[str, Any]]:
    """Run ``ddl`` in ``dbname``; (its DSN, a connector document with ``snapshot.mode=never`` and ``props``)."""
    dsn = postgres_server.dsn(dbname)
    execute(dsn, ddl)
    doc = connector_document(
        postgres_server, kafka_broker.bootstrap_servers, dbname, **{"snapshot.mode": "never"}, **props
    )
    return dsn, doc


def wait_streaming(postgres_server: Any, doc: dict[str, Any]) -> None:
    """Wait until the connector streams from its slot: changes committed from now on arrive as stream events.

    A slot is also "active" while it is being created (so pg_replication_slots alone is not enough); only a
    walsender past START_REPLICATION that has caught up reports state ``streaming``.
    """
    slot = doc["config"]["slot.name"]

    def streaming() -> bool:
        with psycopg.connect(postgres_server.dsn("postgres"), autocommit=True) as conn:
            row = conn.execute(
                "SELECT r.state FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid"
                " WHERE s.slot_name = %s",
                (slot,),
            ).fetchone()
        return bool(row and row[0] == "streaming")

    wait_for(streaming, timeout=30, interval=0.1, what=f"slot {slot} to be streaming")


class EngineThread:
    """The runtime in a background thread of the test process."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.engine = load_engine_config(None, document=document)
        self.runtime = ConnectorRuntime(self.engine, progress=False)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.runtime.run()
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test through .error
            self.error = exc

    def start(self) -> EngineThread:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        """True while the runtime runs (it returns on its own when the source finishes or fails)."""
        return self._thread.is_alive()

    def wait_finished(self, timeout: float = 60) -> bool:
        """Wait up to ``timeout`` for the runtime to return on its own; True when it did (see ``error``)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 60) -> None:
        self.runtime.request_stop()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "engine thread did not stop"
        if self.error is not None:
            raise self.error

    def __enter__(self) -> EngineThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EngineProcess(servers.engine.EngineProcess):
    """``cdc-engine start`` as a real subprocess (see :mod:`servers.engine`), plus draining a tally after a stop."""

    def stop_and_drain(self, tally: TopicTally) -> Counter[Hashable]:
        """SIGTERM the engine (it must exit 0), then drain ``tally`` until idle; its final counts."""
        assert self.terminate() == 0
        tally.drain(idle_s=1.0)
        return tally.counts


def read_topic(bootstrap: str, topic: str, timeout: float = 5.0) -> list[tuple[bytes | None, bytes | None]]:
    """Every record currently in ``topic`` (all partitions, each in offset order); [] if it does not exist."""
    consumer = end_reading_consumer(bootstrap, "test", **{"session.timeout.ms": 6000})
    try:
        metadata = consumer.list_topics(timeout=timeout)
        if topic not in metadata.topics:
            return []
        starts = dict.fromkeys(metadata.topics[topic].partitions, 0)
        return [(msg.key(), msg.value()) for msg in messages_to_end(consumer, topic, starts, max(timeout, 30))]
    finally:
        consumer.close()


def payloads(records: list[tuple[bytes | None, bytes | None]]) -> list[dict[str, Any] | None]:
    """The ``payload`` of each value (None for tombstones)."""
    return [None if v is None else json.loads(v)["payload"] for _, v in records]


def wait_for(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.3, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def wait_for_records(bootstrap: str, topic: str, count: int, timeout: float = 30) -> list[tuple[Any, Any]]:
    """Wait until ``topic`` holds at least ``count`` records and return them."""
    holder: list[list[tuple[Any, Any]]] = []

    def enough() -> bool:
        records = read_topic(bootstrap, topic)
        holder[:] = [records]
        return len(records) >= count

    wait_for(enough, timeout, interval=0.5, what=f"{count} records in {topic}")
    return holder[0]


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds in a thread; ``peak_mb`` is the maximum seen."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._proc: psutil.Process | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def watch(self, pid: int) -> None:
        self._proc = psutil.Process(pid)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            proc = self._proc
            if proc is None:
                continue
            try:
                rss = proc.memory_info().rss
            except psutil.Error:  # the process just exited (killed or stopped)
                continue
            self.peak = max(self.peak, rss)
            self.samples += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def peak_mb(self) -> float:
        return self.peak / 1e6
