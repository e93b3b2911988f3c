"""Helpers for sink tests: topics, producing raw records, a recording sink task, the sink runtime in a thread."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from cdc.config import load_engine_config
from schemas.record import ConnectRecord
from sinks.runtime import SinkRuntime
from sinks.task import SinkContext, SinkTask


def unique(prefix: str) -> str:
    """A unique topic / connector name."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    """Create ``topic`` with ``partitions`` partitions (an existing topic is fine)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)]).values():
        try:
            future.result(15)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def produce(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes | None, bytes | None]],
    partition: int | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Produce ``records`` (key, value) and wait until all are acknowledged."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "partitioner": "murmur2_random"})
    for key, value in records:
        kwargs: dict[str, Any] = {"headers": headers or []}
        if partition is not None:
            kwargs["partition"] = partition
        producer.produce(topic, value, key, **kwargs)
        producer.poll(0)
    assert producer.flush(30) == 0


def sink_document(bootstrap: str, name: str, **config: Any) -> dict[str, Any]:
    """A sink config document; ``config`` holds connector properties (dotted names via ``**{...}``)."""
    worker = {"bootstrap.servers": bootstrap, "offset.flush.interval.ms": 500}
    worker.update(config.pop("worker", {}))
    return {
        "name": name,
        "config": {"connector.class": "discard", "consumer.override.session.timeout.ms": "6000", **config},
        "worker": worker,
    }


class RecordingTask(SinkTask):
    """Keeps every record it is given; optional hooks make it reject or fail records."""

    def __init__(self, reject: Any = None, fail_times: int = 0) -> None:
        self.records: list[ConnectRecord] = []
        self.reject = reject  # callable(record) -> bool: report it as rejected
        self.fail_times = fail_times  # raise RetriableError this many times first
        self.context: SinkContext | None = None
        self.flushes = 0
        self.opened: list[tuple[str, int]] = []

    def start(self, context: SinkContext) -> None:
        self.context = context

    def open(self, partitions: Sequence[tuple[str, int]]) -> None:
        self.opened += list(partitions)

    def put(self, records: Sequence[ConnectRecord]) -> None:
        from cdc.errors import RetriableError

        if self.fail_times:
            self.fail_times -= 1
            raise RetriableError("target unavailable (test)")
        for record in records:
            if self.reject is not None and self.reject(record):
                assert self.context is not None
                self.context.report(record, ValueError(f"rejected {record.key!r}"))
            else:
                self.records.append(record)

    def flush(self) -> None:
        self.flushes += 1


class BackgroundRecordingTask(RecordingTask):
    """A RecordingTask whose put runs on the runtime's helper thread (``put_in_background``); it records hooks
    that overlap (there must be none), puts that ran off the worker thread, and sleeps ``put_delay_s`` per put so
    that the next batch is converted while one is being written."""

    put_in_background = True

    def __init__(self, reject: Any = None, fail_times: int = 0, put_delay_s: float = 0.0) -> None:
        super().__init__(reject, fail_times)
        self.put_delay_s = put_delay_s
        self.overlaps: list[str] = []
        self.background_puts = 0
        self._busy = threading.Lock()

    def _enter(self, hook: str) -> None:
        if not self._busy.acquire(blocking=False):
            self.overlaps.append(hook)
            self._busy.acquire()

    def open(self, partitions: Sequence[tuple[str, int]]) -> None:
        self._enter("open")
        try:
            super().open(partitions)
        finally:
            self._busy.release()

    def put(self, records: Sequence[ConnectRecord]) -> None:
        self._enter("put")
        try:
            if records:
                if threading.current_thread().name.startswith("sink-put"):
                    self.background_puts += 1
                time.sleep(self.put_delay_s)
            super().put(records)
        finally:
            self._busy.release()

    def flush(self) -> None:
        self._enter("flush")
        try:
            super().flush()
        finally:
            self._busy.release()

    def close(self, partitions: Sequence[tuple[str, int]]) -> None:
        self._enter("close")
        self._busy.release()


class SinkThread:
    """The sink runtime in a background thread."""

    def __init__(self, document: dict[str, Any], task: SinkTask | None = None) -> None:
        self.engine = load_engine_config(None, document=document)
        self.runtime = SinkRuntime(self.engine, task=task)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.runtime.run()
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test through .error
            self.error = exc

    def start(self) -> SinkThread:
        self._thread.start()
        return self

    def join(self, timeout: float) -> bool:
        """True when the runtime ended within ``timeout``."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 60) -> None:
        self.runtime.request_stop()
        assert self.join(timeout), "sink thread did not stop"
        if self.error is not None:
            raise self.error


def wait_until(predicate: Any, timeout: float = 60, what: str = "") -> None:
    """Poll ``predicate`` until truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.2)
